"""Tier 1-2: the interpolated spectral sums against direct summation (nslmodel._traces)."""

import math

import numpy as np
import pytest

from nslmodel._traces import compress_nodes, compression_error_bound, direct_log_sums
from nslmodel.spectra import PowerLaw, Spectrum

# Each sum is tabulated as log F; with |log F| up to ~40 over the table, float64 rounding of
# the logarithm alone is 40 * 2.2e-16 ~ 1e-14 relative in F. Allow 4x that.
TABLE_RTOL = 4e-14
# The Euler-Maclaurin tail of a large PowerLaw (spectra.PowerLaw notes): remainder below
# ~3e-3 ((1 + alpha) / K0)^3 = 3e-3 / 2000^3 ~ 4e-13 of the summand scale; allow 1e-12.
TAIL_RTOL = 1e-12


@pytest.mark.parametrize(
    "spec",
    [
        PowerLaw(10, 1.0),
        PowerLaw(2000, 0.1),
        PowerLaw(3000, 3.0, lam_plus=7.5),
        Spectrum(np.random.default_rng(1).lognormal(0.0, 3.0, 500)),
        Spectrum(np.array([0.0, 1.0, 1.0, 1e-8, 0.0, 3.0])),
    ],
    ids=["M10", "alpha0.1", "alpha3", "lognormal", "zeros-and-gaps"],
)
def test_table_matches_direct_sums(spec):
    table = spec.table
    # inside the table, across its ends, and far into both series regions
    u = np.linspace(table.u_lo - 30.0, table.u_hi + 30.0, 4001)
    lam, w = spec.nodes()
    ref = np.exp(direct_log_sums(u, lam, w))
    got = np.stack(table.sums(u), axis=-1)
    np.testing.assert_allclose(got, ref, rtol=TABLE_RTOL, atol=0)


@pytest.mark.parametrize("alpha", [0.1, 1.0, 3.0])
def test_powerlaw_tail_quadrature_matches_exact_sum(alpha):
    # M just above the exact-summation threshold 4 K0, K0 = 2000 (1 + alpha).
    M = int(8000 * (1 + alpha)) + 1234
    spec = PowerLaw(M, alpha)
    lam_q, w_q = spec.nodes()
    assert lam_q.size < M / 2  # the tail really is compressed
    exact = spec.eigenvalues
    u = np.linspace(np.log(exact.min()) - 5, np.log(exact.max()) + 5, 301)
    ref = np.exp(direct_log_sums(u, exact, np.ones(M)))
    got = np.exp(direct_log_sums(u, lam_q, w_q))
    np.testing.assert_allclose(got, ref, rtol=TAIL_RTOL, atol=0)


def test_powerlaw_trace_is_exact():
    spec = PowerLaw(50_000, 0.5, lam_plus=2.0)
    assert spec.trace == pytest.approx(np.sum(spec.eigenvalues[::-1]), rel=1e-13)


def test_lazy_panels_are_built_at_and_beside_breakpoints():
    """Points on a panel boundary, and one ulp either side, on a fresh table.

    The table builds a panel only when a query lands in it, and the panel a point belongs to
    is decided by rounding when the point sits on a boundary; every such point must still get
    a built panel (a missing one would give NaN) and the interpolated value (TABLE_RTOL).
    """
    spec = Spectrum(np.random.default_rng(2).lognormal(0.0, 2.0, 200))
    table = spec.table
    inner = table.breaks[1:-1][(table.breaks[1:-1] > table.u_lo) & (table.breaks[1:-1] < table.u_hi)]
    # boundaries in the lower half of the table only, so that laziness can be checked
    inner = inner[: inner.size // 2]
    b = inner[:: max(1, inner.size // 40)]
    u = np.concatenate([b, np.nextafter(b, -np.inf), np.nextafter(b, np.inf)])
    got = np.stack(table.sums(u), axis=-1)
    assert not table.built.all()  # the table really is lazy: only queried panels exist
    lam, w = spec.nodes()
    np.testing.assert_allclose(got, np.exp(direct_log_sums(u, lam, w)), rtol=TABLE_RTOL, atol=0)


def test_panels_do_not_depend_on_which_blocks_were_built_together():
    """Every block built in one query, or each on its own in a shuffled order: the same bits.

    A query builds all the blocks it lacks with one direct summation (independent rows) and
    an elementwise fit, so a panel's coefficients are those of building it alone.
    """
    lam = np.random.default_rng(8).lognormal(-3.0, 2.0, 3000)
    together, alone = Spectrum(lam).table, Spectrum(lam).table
    together.sums(0.5 * (together.breaks[:-1] + together.breaks[1:]))  # every panel, one call
    assert together.built.all()
    for k in np.random.default_rng(9).permutation(alone.n_panels):
        alone.log_sums_point(float(alone.breaks[k]))
    assert alone.built.all()
    assert np.array_equal(together.coef.view(np.uint64), alone.coef.view(np.uint64))


def _exact_sums(u, lam, w):
    """The five weighted sums by direct summation, not in logs (no log rounding enters)."""
    mu = np.exp(u)[:, None]
    r1, r0 = lam / (lam + mu), mu / (lam + mu)
    return np.stack([(w * r1).sum(1), (w * r0).sum(1), (w * r1 * r0).sum(1),
                     (w * r1 * r1).sum(1), (w * r1 * r1 * r0).sum(1)], 1)


@pytest.mark.parametrize(
    "lam",
    [
        np.random.default_rng(3).lognormal(-3.0, 2.0, 10_000),  # the benchmark's kind of spectrum
        np.random.default_rng(4).uniform(1.0, 2.0, 3000),  # one dense cluster
        1.0 + 1e-15 * np.arange(200),  # near-duplicates: a measure close to one point
        np.repeat([1e-3, 1.0, 7.0], 100),  # exact duplicates, merged
        np.concatenate([np.ones(3000), np.random.default_rng(5).uniform(1.0, 2.0, 50)]),  # lopsided
        1.0 / np.arange(1.0, 5001.0) ** 1.5,  # a power law: dense tail, sparse head
    ],
    ids=["lognormal", "uniform", "near-duplicates", "duplicates", "lopsided", "power-law"],
)
def test_compressed_nodes_give_the_exact_sums(lam):
    lam_c, w_c = compress_nodes(lam, np.ones_like(lam))
    assert lam_c.size < lam.size / 5  # it really compresses
    u = np.linspace(np.log(lam.min()) - 25.0, np.log(lam.max()) + 25.0, 1201)
    exact = _exact_sums(u, lam, np.ones_like(lam))
    got = _exact_sums(u, lam_c, w_c)
    # The compression error bound (compression_error_bound, 1.2e-18), plus rounding of both
    # sides: numpy's pairwise summation of M positive terms errs by at most ~log2(M) ulps
    # relative, and each summand by a few (say 4) ulps; twice that for the two sides.
    rtol = compression_error_bound() + 2 * (np.log2(lam.size) + 4) * np.finfo(float).eps
    np.testing.assert_allclose(got, exact, rtol=rtol, atol=0)


def test_compression_error_bound_is_far_below_rounding():
    # The bound of the chosen cluster width and node count (see compression_error_bound).
    assert compression_error_bound() < 0.25 * np.finfo(float).eps


def test_spectrum_nodes_are_compressed_and_keep_the_mass():
    lam = np.random.default_rng(6).lognormal(-3.0, 2.0, 10_000)
    lam[::97] = 0.0  # zero eigenvalues carry no weight
    lam_c, w_c = Spectrum(lam).nodes()
    assert lam_c.size < 300 and np.all(w_c > 0)
    # sum of weights = number of positive eigenvalues, to the rounding of a sum of ~300 terms
    assert abs(np.sum(w_c) / np.count_nonzero(lam) - 1) < 300 * np.finfo(float).eps


@pytest.mark.parametrize("M, alpha", [(2000, 1.0), (5000, 0.1), (300, 3.0)])
def test_powerlaw_nodes_are_compressed_and_give_the_exact_sums(M, alpha):
    # M <= 4 K0: every eigenvalue is summed, its dense end through compress_nodes.
    spec = PowerLaw(M, alpha)
    lam_c, w_c = spec.nodes()
    assert lam_c.size < M / 2  # it really compresses
    exact = spec.eigenvalues
    u = np.linspace(np.log(exact.min()) - 25.0, np.log(exact.max()) + 25.0, 801)
    # Same allowance as test_compressed_nodes_give_the_exact_sums: the bound plus rounding.
    rtol = compression_error_bound() + 2 * (np.log2(M) + 4) * np.finfo(float).eps
    np.testing.assert_allclose(_exact_sums(u, lam_c, w_c), _exact_sums(u, exact, np.ones(M)),
                               rtol=rtol, atol=0)
    # The trace stays the exact sum of the eigenvalues, not of the compressed nodes.
    assert spec.trace == math.fsum(exact)


@pytest.mark.parametrize(
    "spec",
    [PowerLaw(1000, 1.0), PowerLaw(10**6, 0.5), Spectrum(np.random.default_rng(3).lognormal(-3.0, 2.0, 10_000))],
    ids=["M1e3", "M1e6", "lognormal"],
)
def test_inverse_d1_starts_near_the_ridgeless_root(spec):
    """The start value of the root solves lies close to the root, with the bits of the point path."""
    from nslmodel.solver import ridgeless_root

    table = spec.table
    n = np.geomspace(1.0, 0.99 * table.rank, 300)
    use_f0 = n > 0.5 * table.rank
    est = table.inverse_d1(n, use_f0)
    # Cubic Hermite interpolation on a grid of step h = 0.25 errs by h^4 / 384 ~ 1e-5 times the
    # fourth derivative of u against log D1, which is of order one (measured: <= 7e-6 here);
    # allow 1e-4. Newton from there needs two steps.
    np.testing.assert_allclose(est, ridgeless_root(n, table), rtol=0, atol=1e-4)
    point = np.array([table.inverse_d1_point(float(a), bool(b)) for a, b in zip(n, use_f0)])
    assert np.array_equal(point.view(np.uint64), est.view(np.uint64))  # bit for bit
