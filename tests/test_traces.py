"""Tier 1-2: the interpolated spectral sums against direct summation (nslmodel._traces)."""

import numpy as np
import pytest

from nslmodel._traces import direct_log_sums
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
