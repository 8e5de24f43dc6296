r"""Tier 1: spectrum representations give the same theory (nslmodel.spectra).

Each property follows from the closed form (book/solution.md) without a reference value; the
tolerance next to each assertion says where it comes from. Split from the former
test_theory_properties.py, every assertion kept.
"""

from __future__ import annotations


import numpy as np
import pytest

import nslmodel
from nslmodel.spectra import as_spectrum
from _theory_strategies import eigenvalues, power_law
from _tolerance import FLOAT64_EPS, RTOL_ROUNDING, assert_rel_close, rel_err


# --------------------------------------------------------------------------------------------
# Spectrum representations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("M", [10, 300, 3000])
@pytest.mark.parametrize("alpha", [0.1, 1.0, 3.0])
def test_spectrum_representations_agree(M, alpha):
    """PowerLaw, Spectrum(its eigenvalues) and the plain array give the same results.

    The eigenvalues are the same float64 numbers; an implementation may still sum a PowerLaw
    differently (e.g. an Euler-Maclaurin tail for large M), so "identical" means equal to
    rounding, RTOL_ROUNDING = 1e-12, for M up to a few thousand.
    """
    pl = power_law(M, alpha, 1.7)
    lam = eigenvalues(M, alpha, 1.7)
    assert pl.M == M
    assert_rel_close(pl.eigenvalues, lam, 4 * FLOAT64_EPS, "PowerLaw.eigenvalues")
    assert_rel_close(pl.trace, float(np.sum(lam)), RTOL_ROUNDING, "PowerLaw.trace")
    forms = [pl, nslmodel.Spectrum(lam), lam, as_spectrum(lam), as_spectrum(pl)]
    assert as_spectrum(lam).M == M and nslmodel.Spectrum(lam).M == M
    N = np.array([1.0, 0.5 * M, M, 2.0 * M])[:, None]
    T = np.array([0.5 * M + 1, 3.0 * M])
    gamma = 1e-20
    kw = dict(sigma_u=0.8, sigma_w=1.3, sigma_eps=0.4, C=2)
    base = nslmodel.expected_loss(N, T, gamma, pl, **kw)
    base_rl = nslmodel.ridgeless_loss(0.5 * M, 3.0 * M, pl, **kw)
    base_opt = nslmodel.optimal_ridge(0.3 * M, 0.6 * M, pl, **kw)
    for f in forms[1:]:
        assert_rel_close(nslmodel.expected_loss(N, T, gamma, f, **kw), base, RTOL_ROUNDING, f"{type(f)}")
        assert_rel_close(nslmodel.ridgeless_loss(0.5 * M, 3.0 * M, f, **kw), base_rl, RTOL_ROUNDING, "ridgeless")
        o = nslmodel.optimal_ridge(0.3 * M, 0.6 * M, f, **kw)
        assert_rel_close(o.loss, base_opt.loss, RTOL_ROUNDING, "optimal loss")
        # gamma* is determined only to sqrt(rounding / curvature) ~ 1e-6 (flat minimum).
        assert float(rel_err(o.gamma, base_opt.gamma)) < 1e-5


def test_a_repeated_array_reuses_its_spectrum_but_never_a_stale_one():
    lam = np.random.default_rng(11).lognormal(0.0, 1.0, 500)
    first = as_spectrum(lam)
    assert as_spectrum(lam) is first  # same object, same contents: the cached spectrum
    lam[7] *= 2.0  # changed in place: same address, new contents
    changed = as_spectrum(lam)
    assert changed is not first and np.array_equal(changed.eigenvalues, lam)
    assert nslmodel.expected_loss(50.0, 80.0, 1e-2, lam) == nslmodel.expected_loss(
        50.0, 80.0, 1e-2, nslmodel.Spectrum(lam.copy()))  # bit for bit the fresh spectrum
