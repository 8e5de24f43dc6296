r"""Shared figure style and small plotting helpers for the book's notebooks.

Every figure of the book goes through one style file, ``nslmodel.mplstyle``, shipped with
the package. Call :func:`use_style` once at the top of a notebook; it applies the style and
makes inline figures byte-stable across reruns.

Byte stability needs more than the rcParams in the style file:

- PNG (the inline default): Agg output carries no timestamp; the only text chunk is
  ``Software``, which this module drops so the bytes do not depend on the matplotlib version
  string.
- SVG: element ids are random unless ``svg.hashsalt`` is set (the style file sets it), and
  the ``Date`` field defaults to the current time (dropped here; matplotlib would otherwise
  honour ``SOURCE_DATE_EPOCH``).
- PDF: ``CreationDate`` defaults to the current time (dropped here).

``savefig.metadata`` is not an rcParam, so the per-format metadata is passed explicitly:
by :func:`save_figure`, and for inline figures through the IPython inline backend's
``print_figure_kwargs``.

This module needs matplotlib (the ``plot`` extra); ``import nslmodel`` does not import it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.ticker import LogFormatterSciNotation

__all__ = [
    "STYLE_FILE",
    "SparseLogFormatter",
    "errorbar_points",
    "loglog_axes",
    "save_figure",
    "sparse_log_labels",
    "spread_ties",
    "stable_metadata",
    "style",
    "use_style",
]

#: Path of the shared style file inside the installed package.
STYLE_FILE = Path(str(resources.files("nslmodel") / "nslmodel.mplstyle"))

# Metadata keys whose default values change from run to run (dates) or from one installation
# to another (the matplotlib version string). ``None`` tells matplotlib to omit the key.
_VOLATILE_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}

# Figure format the inline backend renders; PNG keeps the notebooks small and myst-nb
# turns it into an ordinary <img>.
_INLINE_FORMAT = "png"
# Resolution of the inline figures: 200 dpi keeps lines and text sharp on high-density screens
# (the book scales the images down to its column width).
_INLINE_DPI = 200


def stable_metadata(fmt: str) -> dict:
    """Return the ``metadata`` argument of ``savefig`` that makes format `fmt` byte-stable.

    Parameters
    ----------
    fmt : str
        Output format, e.g. ``"png"``, ``"svg"`` or ``"pdf"``.

    Returns
    -------
    dict
        Metadata keys mapped to ``None`` (omit) for the volatile fields of that format; an
        empty dict for formats without volatile metadata.
    """
    return dict(_VOLATILE_METADATA.get(fmt.lower().lstrip("."), {}))


def _configure_inline_backend() -> None:
    """Make IPython's inline figures byte-stable, if running under IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    # bbox_inches="tight" is the inline backend's own default; repeated here because
    # set_matplotlib_formats replaces the keyword set it is given.
    set_matplotlib_formats(
        _INLINE_FORMAT, bbox_inches="tight", dpi=_INLINE_DPI, metadata=stable_metadata(_INLINE_FORMAT)
    )


def use_style() -> None:
    """Apply the shared style globally and make inline figures byte-stable.

    Call once near the top of a notebook, after the parameters cell.
    """
    mpl.style.use(STYLE_FILE)
    _configure_inline_backend()


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying the shared style only inside a ``with`` block."""
    with mpl.style.context(STYLE_FILE):
        yield


def save_figure(fig, path) -> Path:
    """Save `fig` to `path` without volatile metadata, so reruns give identical bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or os.PathLike
        Destination; the format is taken from the suffix (``.png``, ``.svg``, ``.pdf``).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if not fmt:
        raise ValueError(
            f"path={str(path)!r} has no suffix; expected one of .png, .svg or .pdf "
            "so the format is explicit"
        )
    fig.savefig(path, format=fmt, metadata=stable_metadata(fmt))
    return path


def errorbar_points(ax, x, mean, sem, **kwargs):
    """Plot Monte Carlo estimates as markers with one-standard-error bars.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to draw on.
    x, mean, sem : array_like
        Positions, sample means and standard errors of the mean; all of one shape.
        `sem` must be non-negative and finite.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar`; by default markers only (no
        connecting line), drawn above theory curves.

    Returns
    -------
    matplotlib.container.ErrorbarContainer
    """
    x = np.asarray(x, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sem = np.asarray(sem, dtype=float)
    if not (x.shape == mean.shape == sem.shape):
        raise ValueError(
            f"x, mean and sem must have one shape; got {x.shape}, {mean.shape} and {sem.shape}"
        )
    bad = ~np.isfinite(sem) | (sem < 0)
    if bad.any():
        raise ValueError(
            f"sem={float(sem[bad][0])!r} is not allowed: standard errors must be finite and >= 0"
        )
    opts = {"linestyle": "none", "markersize": 4, "zorder": 3}
    if "marker" not in kwargs:  # a format string would clash with an explicit marker
        opts["fmt"] = "o"
    opts.update(kwargs)
    return ax.errorbar(x, mean, yerr=sem, **opts)


def spread_ties(x, factor: float = 1.04) -> np.ndarray:
    """Positions at which points of equal ``x`` are drawn apart, so that none hides another.

    ``x`` has shape (series, points); in each column, the k-th of the m series sharing one value
    (in series order) is drawn at ``x * factor**(k - (m - 1) / 2)``, a shift symmetric about the
    true position (on a log axis, the same distance everywhere); values seen once stay put.
    Captions should say so.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (series, points); got shape {x.shape}")
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor={factor!r} is not allowed: must be finite and > 0")
    same = x[:, None, :] == x[None, :, :]  # (series, series, points)
    rank = np.sum(np.tril(np.ones(same.shape[:2], dtype=bool), -1)[:, :, None] & same, axis=1)
    count = np.sum(same, axis=1)
    return x * factor ** (rank - 0.5 * (count - 1))


# Minor-tick labels of a log axis are chosen rung by rung, sparsest coefficients first; the
# choice stops after the first rung that brings the axis to _MIN_LABELS labels, decades included.
_MINOR_LABEL_LADDER = ((3,), (2, 5), (7,), (4, 6, 8, 9))
_MIN_LABELS = 2
# Two labels on one axis are at least this fraction of the axis (in log) apart ...
_MIN_SPACING = 0.2
# ... and this fraction for the linear ticks matplotlib places on an axis too short for whole
# coefficients (5.1e-3, 5.2e-3, ...), whose labels are longer.
_MIN_SPACING_LINEAR = 1 / 3


class SparseLogFormatter(LogFormatterSciNotation):
    """Minor-tick labels of a base-10 log axis, only as many as the axis needs.

    matplotlib labels the minor ticks of a log axis that spans about one decade or less
    (coefficients 2, 3, 4 and 6, or every tick below 0.4 decades), and on a narrow panel the
    labels collide (``2x10^1 3x10^1 4x10^1``). This formatter labels no minor tick on an axis
    with two decades in view; otherwise it adds labels at the coefficients 3, then 2 and 5,
    then 7, then 4, 6, 8 and 9, rung by rung until the axis has two labels, skipping any tick
    closer than a fifth of the axis (in log) to a label already placed. On an axis too short
    for two such labels it then labels the remaining minor ticks with the same rule at a third
    of the axis. The text of a label is that of matplotlib's
    :class:`~matplotlib.ticker.LogFormatterSciNotation`.
    """

    def __init__(self):
        # (inf, inf) makes the parent label every tick it is handed; the selection is ours.
        super().__init__(base=10.0, labelOnlyBase=False, minor_thresholds=(np.inf, np.inf))
        self._labelled = ()

    def set_locs(self, locs=None):
        super().set_locs(locs)
        self._labelled = ()
        vmin, vmax = sorted(self.axis.get_view_interval())
        if locs is None or not (0 < vmin < vmax):
            return
        lo, hi = math.log10(vmin), math.log10(vmax)
        placed = [float(k) for k in range(math.ceil(lo), math.floor(hi) + 1)]  # decades
        inside = [math.log10(x) for x in np.asarray(locs, dtype=float) if vmin <= x <= vmax]
        chosen = []

        def place(candidates, spacing):
            for t in candidates:
                if all(abs(t - u) >= spacing * (hi - lo) for u in placed):
                    placed.append(t)
                    chosen.append(t)

        for rung in _MINOR_LABEL_LADDER:
            if len(placed) >= _MIN_LABELS:
                break
            place([t for t in inside if _coefficient(10.0**t) in rung], _MIN_SPACING)
        if len(placed) < _MIN_LABELS:
            place([t for t in inside if _coefficient(10.0**t) is None], _MIN_SPACING_LINEAR)
        self._labelled = tuple(10.0**t for t in chosen)

    def __call__(self, x, pos=None):
        if not any(math.isclose(x, y, rel_tol=1e-9) for y in self._labelled):
            return ""
        return super().__call__(x, pos)


def _coefficient(x: float) -> int | None:
    """The whole number c with x = c 10^k, or None when x is not of that form."""
    mantissa = x / 10.0 ** math.floor(math.log10(x) + 1e-12)
    c = round(mantissa)
    return c if math.isclose(mantissa, c, rel_tol=1e-9) else None


def sparse_log_labels(ax, axis: str = "both"):
    """Give the log-scaled axes of `ax` sparse minor-tick labels (:class:`SparseLogFormatter`).

    Applies to `ax` and to every axes sharing the axis with it, since ``set_xscale`` on one
    shared axes resets the formatters of all of them. Call it after the last scale change;
    :func:`loglog_axes` and :func:`residual_axes` do.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes whose axes to format.
    axis : {"x", "y", "both"}
        Which axis.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, for chaining.
    """
    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis={axis!r} is not allowed: expected 'x', 'y' or 'both'")
    for name in ("x", "y") if axis == "both" else (axis,):
        shared = getattr(ax, f"get_shared_{name}_axes")().get_siblings(ax)
        for other in shared:
            target = getattr(other, f"{name}axis")
            if target.get_scale() == "log":
                target.set_minor_formatter(SparseLogFormatter())
    return ax


def loglog_axes(ax, *, xlabel: str | None = None, ylabel: str | None = None, title=None):
    """Put `ax` on logarithmic x and y scales, with optional labels and title.

    Minor ticks are labelled sparsely (:func:`sparse_log_labels`).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes to modify.
    xlabel, ylabel, title : str, optional
        Set when given.

    Returns
    -------
    matplotlib.axes.Axes
        The same axes, for chaining.
    """
    ax.set_xscale("log")
    ax.set_yscale("log")
    sparse_log_labels(ax)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


def residual_axes(ax, x, z, *, xlabel, band=3.0, ylabel="(sim. \u2212 theory) / s.e.", title=None, xscale="log",
                  **kwargs):
    """Residual panel: ``z`` (deviation in standard errors) against ``x``, with a +-band shaded.

    Points beyond the band are the ones the text counts as outliers
    (:data:`nslmodel.analysis.OUTLIER_Z`).
    """
    ax.axhspan(-band, band, color="0.92", zorder=0)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    kwargs.setdefault("marker", "o")
    kwargs.setdefault("linestyle", "none")
    kwargs.setdefault("markersize", 4)
    ax.plot(x, z, **kwargs)
    ax.set_xscale(xscale)
    sparse_log_labels(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


def glue_figure(glue, name: str, fig) -> None:
    """Hand ``fig`` to myst-nb's ``glue`` under ``name`` (not displayed here) and close it.

    The figure is shown once, where a ``{glue:figure}`` directive places it; closing it keeps
    the inline backend from drawing it a second time at the end of the cell.
    """
    import matplotlib.pyplot as plt

    glue(name, fig, display=False)
    plt.close(fig)
