r"""Tier 1: the ridgeless limit as the gamma -> 0 end of the loss (nslmodel.ridgeless; paper Eqs. 105-126).

Each property follows from the closed form (book/solution.md) without a reference value; the
tolerance next to each assertion says where it comes from. Split from the former
test_theory_properties.py, every assertion kept.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.optimize import brentq

import nslmodel
from _theory_strategies import FAST, alphas, eigenvalues, power_law
from _tolerance import RTOL_ROUNDING, assert_rel_close


# --------------------------------------------------------------------------------------------
# gamma -> 0: continuity into the ridgeless formula
# --------------------------------------------------------------------------------------------


def _rho_star_and_E(n, s):
    """Float64 root of D1(rho) = n and D1 - D2 there (independent of the package)."""

    def h(u):
        rho = math.exp(u)
        return math.log(np.sum(s / (s + rho))) - math.log(n)

    u = brentq(h, math.log(s.min()) - 10, math.log(2 * s.sum() / n), xtol=1e-14)
    rho = math.exp(u)
    E = float(np.sum(s * rho / (s + rho) ** 2))
    return rho, E


#: Ridge values relative to the natural scale gamma_s = rho* (D1 - D2) |T - N| of the small-gamma
#: expansion (see the test). At 1e-4 the relative shift of rho is 1e-4, so second-order terms are
#: ~1e-4 times a ratio of derivatives of order 10..100, i.e. at most a few percent of the slope.
_EPS1, _EPS2 = 1e-4, 1e-5


@FAST
@given(
    M=st.sampled_from([37, 300, 2000]),
    alpha=alphas,
    n_frac=st.floats(0.02, 0.7),
    ratio=st.one_of(st.floats(1.35, 50.0), st.floats(0.02, 0.74)),
    se=st.sampled_from([0.0, 0.5]),
)
def test_small_gamma_continuity_into_ridgeless(M, alpha, n_frac, ratio, se):
    r"""expected_loss(gamma) -> ridgeless_loss linearly in gamma, away from N = T.

    Near the branch start rho = rho* + delta with n - D1 ~ (D1 - D2) delta / rho*, so
    gamma ~ rho* (D1 - D2) |T - N| delta / rho*: the relative shift of rho is gamma / gamma_s with
    gamma_s = rho* (D1 - D2) |T - N|. The loss is smooth in rho, so L(gamma) - L(0) is linear in
    gamma for gamma << gamma_s. We check the difference shrinks by the ratio of the ridges:
    (L(g1) - L0) / (L(g2) - L0) = g1/g2 = 10 within 5% (the second-order term, see _EPS1).
    Rounding: each loss carries ~1e-13 relative error; we require |L(g2) - L0| > 1e-9 L0 so
    rounding moves the ratio by < 1e-3.
    """
    s = eigenvalues(M, alpha) / M
    n = max(n_frac * M, 0.6)
    # min(N, T) = n; ratio > 1 puts the larger size on T, ratio < 1 on N.
    N, T = (n, n * ratio) if ratio > 1 else (n / ratio, n)
    spec = power_law(M, alpha)
    rho_star, E = _rho_star_and_E(min(N, T), s)
    gamma_s = rho_star * E * abs(T - N)
    L0 = nslmodel.ridgeless_loss(N, T, spec, sigma_eps=se)
    L1 = nslmodel.expected_loss(N, T, _EPS1 * gamma_s, spec, sigma_eps=se)
    L2 = nslmodel.expected_loss(N, T, _EPS2 * gamma_s, spec, sigma_eps=se)
    d1, d2 = L1 - L0, L2 - L0
    assume(abs(d2) > 1e-9 * L0)
    assert abs(d1 / d2 - _EPS1 / _EPS2) <= 0.05 * _EPS1 / _EPS2, (d1, d2)


@pytest.mark.parametrize("N, T", [(3000.0, 5000.0), (5000.0, 3000.0), (2500.0, 2500.0)])
def test_small_gamma_loss_vanishes_when_min_NT_exceeds_M(N, T):
    """min(N, T) > M, no noise: the ridgeless loss is 0 and the small-gamma loss tends to it.

    There rho ~ gamma / ((N - M)(T - M)) and <L> ~ rho^2 N T sum(1/s) / ((N - M)(T - M)) (up to
    the prefactor): at gamma = 1e-30 it is below 1e-40, and it falls by 100x when gamma falls 10x.
    """
    spec = power_law(2000, 1.0)
    assert nslmodel.ridgeless_loss(N, T, spec) == 0.0
    a = nslmodel.expected_loss(N, T, 1e-30, spec)
    b = nslmodel.expected_loss(N, T, 1e-31, spec)
    assert 0 < a < 1e-40
    assert abs(a / b / 100 - 1) < 1e-6

@pytest.mark.parametrize("NT", [(10, 11), (12, 11), (5, 6), (6, 5)])
def test_smallest_representable_gamma_reaches_the_ridgeless_limit(NT):
    """At gamma = 1e-300 the solve converges (far from the spectrum Newton advances by a fixed
    step, so this needs hundreds of iterations) and lands on the ridgeless limit.

    The correction to the ridgeless loss is O(gamma / (rho* n)) for n < M, and with n >= M it
    is O(rho) ~ (gamma)^(1/2) or smaller; at gamma = 1e-300 both are far below rounding, so the
    two must agree to the rounding tolerance.
    """
    N, T = NT
    spec = nslmodel.PowerLaw(10, 3.0)
    got = nslmodel.expected_loss(N, T, 1e-300, spec, sigma_eps=0.1)
    want = nslmodel.ridgeless_loss(N, T, spec, sigma_eps=0.1)
    assert_rel_close(got, want, RTOL_ROUNDING, f"gamma = 1e-300 at N={N}, T={T}")


@pytest.mark.parametrize("sigma_eps", [0.0, 0.5])
def test_no_teacher_on_the_interpolation_threshold_raises_no_warning(sigma_eps):
    """sigma_w = 0 at N = T: the signal formula there is 0 / 0 and must not be evaluated.

    The loss is the noise part alone: 0 without label noise, and with it the closed form
    C sigma_eps^2 / 2 * N / (T - N) for N < T (a few roundings: RTOL_ROUNDING), infinite at
    N = T below the rank and at T = M = R for N >= M. Any RuntimeWarning is an error here.
    """
    spec = nslmodel.PowerLaw(400, 1.0)
    N = np.array([50.0, 40.0, 400.0, 500.0])
    T = np.array([50.0, 50.0, 400.0, 400.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = nslmodel.ridgeless_loss(N, T, spec, sigma_w=0.0, sigma_eps=sigma_eps)
        single = nslmodel.ridgeless_loss(50.0, 50.0, spec, sigma_w=0.0, sigma_eps=sigma_eps)
    if sigma_eps == 0:
        assert np.all(got == 0.0) and single == 0.0, got
    else:
        assert got[0] == math.inf and single == math.inf and got[2] == got[3] == math.inf, got
        assert_rel_close(got[1], 0.5 * sigma_eps**2 * 40 / (50 - 40), RTOL_ROUNDING, "noise at N < T")
