r"""Tier 1: the optimal ridge (nslmodel.optimal; paper Eq. 128).

Each property follows from the closed form (book/solution.md) without a reference value (the
curvature is compared with a second difference of the 40-digit reference loss, which float64
cannot resolve at a flat optimum); the tolerance next to each assertion says where it comes
from. Split from the former
test_theory_properties.py, every assertion kept.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import nslmodel
from _theory_strategies import FAST, alphas, power_law
from _tolerance import RTOL_REFERENCE, RTOL_ROUNDING, assert_rel_close


# --------------------------------------------------------------------------------------------
# Optimal ridge (paper Eq. 128)
# --------------------------------------------------------------------------------------------


@FAST
@given(
    M=st.sampled_from([37, 300, 2000]),
    alpha=alphas,
    fN=st.floats(0.02, 0.8),
    fT=st.floats(0.02, 0.8),
    se=st.sampled_from([0.0, 0.3]),
)
@example(M=300, alpha=1.0, fN=0.3, fT=0.3, se=0.0)
def test_loss_at_optimal_ridge_is_a_local_minimum(M, alpha, fN, fT, se):
    r"""<L>(gamma*) <= <L>(gamma* (1 +- 1e-3)).

    Near the minimum the loss rises by (kappa/2)(1e-3)^2 ~ 3e-8 relative (kappa ~ 0.06..0.3
    in log gamma, measured with the reference); the slack 1e-12 covers rounding of the two loss
    evaluations. The test fails if the reported gamma* is off by more than ~5e-4 in log.
    Also: .loss equals expected_loss at .gamma to 1e-9.
    """
    N, T = max(fN * M, 0.6), max(fT * M, 0.6)
    spec = power_law(M, alpha)
    opt = nslmodel.optimal_ridge(N, T, spec, sigma_eps=se)
    g = float(opt.gamma)
    L = nslmodel.expected_loss(N, T, g, spec, sigma_eps=se)
    assert_rel_close(opt.loss, L, RTOL_REFERENCE, "optimal_ridge.loss vs expected_loss(gamma*)")
    for f in (1 - 1e-3, 1 + 1e-3):
        assert L <= nslmodel.expected_loss(N, T, g * f, spec, sigma_eps=se) * (1 + RTOL_ROUNDING)


@pytest.mark.parametrize("N, T, se", [(50.0, 150.0, 0.0), (100.0, 100.0, 0.0), (10.0, 1e5, 0.0),
                                      (150.0, 50.0, 0.3), (2000.0, 30.0, 0.0)])
def test_flat_interval_ends_are_at_the_stated_loss_excess(N, T, se):
    """At gamma_lo and gamma_hi the loss is (1 + LOSS_EXCESS) L*, and in between it is lower.

    The ends are roots of log L = log((1 + LOSS_EXCESS) L*) in u, found to a few ulps where the
    slope is O(1): the loss there is exact to the rounding of a solve (RTOL_ROUNDING). Where
    gamma_lo = 0 the ridgeless limit itself is within the bound.
    """
    from nslmodel.optimal import LOSS_EXCESS

    spec = nslmodel.PowerLaw(400, 0.7)
    o = nslmodel.optimal_ridge(N, T, spec, sigma_eps=se)
    level = (1 + LOSS_EXCESS) * o.loss
    assert 0 <= o.gamma_lo < o.gamma < o.gamma_hi < np.inf
    if o.gamma_lo > 0:
        assert_rel_close(nslmodel.expected_loss(N, T, o.gamma_lo, spec, sigma_eps=se), level,
                         RTOL_ROUNDING, "loss at gamma_lo")
    else:
        assert nslmodel.ridgeless_loss(N, T, spec, sigma_eps=se) <= level
    assert_rel_close(nslmodel.expected_loss(N, T, o.gamma_hi, spec, sigma_eps=se), level,
                     RTOL_ROUNDING, "loss at gamma_hi")
    inside = np.geomspace(max(o.gamma_lo, 1e-3 * o.gamma), o.gamma_hi, 9)[1:-1]
    assert np.all(nslmodel.expected_loss(N, T, inside, spec, sigma_eps=se) < level)


@pytest.mark.parametrize("N, T", [(50.0, 150.0), (100.0, 100.0), (10.0, 1e5)])
def test_curvature_matches_a_second_difference_of_the_loss(N, T):
    """kappa = d2 log L / d(log gamma)^2 at gamma*, against a central second difference with
    step h = 1e-2 in log gamma of the 40-digit reference loss (mp_reference.loss): truncation
    ~h^2 / 12 * (4th derivative / kappa), measured <= 4e-6 in these cases; 1e-3 leaves a
    margin for the asymmetry of the minimum. The difference is taken of the reference, not of
    expected_loss: float64 rounding of the loss (a few 1e-15 relative) enters it as
    ~4e-15 / (h^2 kappa), about 1e-3 at the flat optimum (10, 1e5) where kappa = 3e-8."""
    import mpmath

    import mp_reference as ref

    spec = nslmodel.PowerLaw(400, 0.7)
    o = nslmodel.optimal_ridge(N, T, spec)
    h = 1e-2
    ev = ref.power_law_eigenvalues(400, 0.7)
    g = np.exp(np.log(o.gamma) + np.array([-h, 0.0, h]))
    L = [mpmath.log(ref.loss(N, T, float(x), ev)) for x in g]
    assert_rel_close(o.curvature, float((L[0] - 2 * L[1] + L[2]) / mpmath.mpf(h) ** 2), 1e-3, "curvature")


def test_ridgeless_optimum_reports_no_curvature():
    """With min(N, T) >= M and no noise the infimum is the ridgeless limit: gamma* = 0 and
    the curvature is undefined (NaN, as documented)."""
    o = nslmodel.optimal_ridge(500.0, 800.0, nslmodel.PowerLaw(400, 0.7))
    assert o.gamma == 0 and np.isnan(o.curvature) and o.gamma_lo == 0
