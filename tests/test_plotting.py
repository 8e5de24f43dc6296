"""The shared figure style and the plotting helpers (nslmodel.plotting)."""

import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nslmodel import plotting  # noqa: E402


@pytest.fixture
def figure():
    with plotting.style():
        fig, ax = plt.subplots()
        ax.plot([1, 10, 100], [1.0, 0.1, 0.01], label="theory")
        plotting.errorbar_points(ax, [1, 10, 100], [1.1, 0.09, 0.011], [0.1, 0.01, 0.001])
        plotting.loglog_axes(ax, xlabel="$N$", ylabel=r"$\langle L\rangle$")
        ax.legend()
    yield fig
    plt.close(fig)


def _render(fig, fmt) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata=plotting.stable_metadata(fmt))
    return buf.getvalue()


def test_style_file_is_installed_and_applies():
    assert plotting.STYLE_FILE.is_file()
    with plotting.style():
        assert matplotlib.rcParams["svg.hashsalt"] == "nslmodel"
        assert matplotlib.rcParams["figure.constrained_layout.use"] is True


def test_use_style_outside_ipython_sets_rcparams():
    with matplotlib.rc_context():
        plotting.use_style()
        assert matplotlib.rcParams["svg.hashsalt"] == "nslmodel"


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_repeated_saves_are_byte_identical(figure, fmt):
    with plotting.style():  # svg.hashsalt must be in force when saving
        assert _render(figure, fmt) == _render(figure, fmt)


def test_no_volatile_metadata_is_written(figure):
    with plotting.style():
        png, svg, pdf = (_render(figure, f) for f in ("png", "svg", "pdf"))
    assert b"Software" not in png  # the tEXt chunk carrying matplotlib's version
    assert b"<dc:date>" not in svg
    assert b"/CreationDate" not in pdf


def test_save_figure_uses_the_suffix(figure, tmp_path):
    with plotting.style():
        path = plotting.save_figure(figure, tmp_path / "f.svg")
    assert path.read_bytes().lstrip().startswith(b"<?xml")
    with pytest.raises(ValueError, match="no suffix"):
        plotting.save_figure(figure, tmp_path / "f")


def test_errorbar_points_rejects_bad_input():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one shape"):
        plotting.errorbar_points(ax, [1, 2], [1, 2], [0.1])
    with pytest.raises(ValueError, match="sem=-0.1"):
        plotting.errorbar_points(ax, [1, 2], [1, 2], [0.1, -0.1])
    with pytest.raises(ValueError, match="sem=nan"):
        plotting.errorbar_points(ax, [1, 2], [1, 2], [np.nan, 0.1])
    plt.close(fig)


def test_residual_axes_labels_and_band():
    fig, ax = plt.subplots()
    plotting.residual_axes(ax, [1, 10], [0.5, -4.0], xlabel="$N$", title="(c) residuals", ylabel="z")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_xscale()) == ("$N$", "z", "(c) residuals", "log")
    np.testing.assert_array_equal(ax.lines[-1].get_ydata(), [0.5, -4.0])
    plt.close(fig)


def test_glue_figure_glues_undisplayed_and_closes():
    fig = plt.figure()
    calls = []
    plotting.glue_figure(lambda *a, **k: calls.append((a, k)), "fig_x", fig)
    assert calls == [(("fig_x", fig), {"display": False})]
    assert not plt.fignum_exists(fig.number)


def _labelled_minor_ticks(axis):
    """Positions of the minor ticks inside the view that get a non-empty label."""
    lo, hi = sorted(axis.get_view_interval())
    locs = [x for x in axis.get_minorticklocs() if lo <= x <= hi]
    labels = axis.get_minor_formatter().format_ticks(locs)
    return [x for x, s in zip(locs, labels) if s]


# View ranges from two decades down to a seventh of one, with and without a decade inside,
# including the ranges that crowded the labels of the book's figures.
_RANGES = [(1.0, 1000.0), (4.5, 110.0), (5.0, 80.0), (4.0, 33.0), (0.25, 0.7), (2.1, 4.9), (7.5, 18.7),
           (1.2, 1.9), (1.4e-4, 2.1e-4), (5.05e-3, 5.9e-3)]


@pytest.mark.parametrize("lo, hi", _RANGES)
def test_log_axes_label_minor_ticks_sparsely(lo, hi):
    with plotting.style():
        fig, ax = plt.subplots()
        plotting.loglog_axes(ax)
        ax.set_xlim(lo, hi)
        fig.canvas.draw()
        minor = _labelled_minor_ticks(ax.xaxis)
    plt.close(fig)
    span = np.log10(hi / lo)
    decades = [10.0**k for k in range(int(np.ceil(np.log10(lo))), int(np.floor(np.log10(hi))) + 1)]
    if len(decades) >= 2:  # the decades say it all
        assert minor == []
        return
    labels = np.log10(sorted(decades + minor))
    # No two labels closer than a fifth of the axis (the formatter's rule), so they cannot collide.
    assert np.all(np.diff(labels) >= 0.2 * span - 1e-12)
    # Every one of these ranges can hold two labels at that spacing, and the formatter finds them.
    assert len(labels) >= 2


def test_sparse_labels_survive_shared_axes_in_either_order():
    with plotting.style():
        for residual_first in (True, False):
            fig, (ax, axr) = plt.subplots(2, 1, sharex=True)
            calls = [lambda: plotting.loglog_axes(ax), lambda: plotting.residual_axes(axr, [5, 80], [0.1, -1.0], xlabel="N")]
            for call in calls[::-1] if residual_first else calls:
                call()
            for a in (ax, axr):
                assert isinstance(a.xaxis.get_minor_formatter(), plotting.SparseLogFormatter)
            assert isinstance(ax.yaxis.get_minor_formatter(), plotting.SparseLogFormatter)
            plt.close(fig)


def test_sparse_log_labels_rejects_bad_axis_and_skips_linear_axes():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="axis='z'"):
        plotting.sparse_log_labels(ax, "z")
    before = ax.yaxis.get_minor_formatter()
    ax.set_xscale("log")
    plotting.sparse_log_labels(ax)
    assert isinstance(ax.xaxis.get_minor_formatter(), plotting.SparseLogFormatter)
    assert ax.yaxis.get_minor_formatter() is before  # linear: left alone
    plt.close(fig)


def test_spread_ties_moves_only_equal_values_symmetrically():
    x = np.array([[10.0, 20.0, 40.0], [10.0, 25.0, 40.0], [10.0, 20.0, 50.0]])
    got = plotting.spread_ties(x, 2.0)
    # column 0: three equal values at x / 2, x, 2 x; column 1: the two 20s at 20 / sqrt(2) and
    # 20 sqrt(2), 25 alone; column 2 likewise for 40 (exact: powers of two and their roots)
    want = np.array([[5.0, 20 / 2**0.5, 40 / 2**0.5], [10.0, 25.0, 40 * 2**0.5], [20.0, 20 * 2**0.5, 50.0]])
    np.testing.assert_allclose(got, want, rtol=4e-16)  # one rounding of a power of 2**0.5
    assert np.array_equal(plotting.spread_ties(np.array([[1.0, 2.0], [3.0, 4.0]])), [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="2-D"):
        plotting.spread_ties(np.ones(3))
    with pytest.raises(ValueError, match="factor"):
        plotting.spread_ties(np.ones((2, 2)), 0.0)
