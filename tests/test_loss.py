r"""Tier 1: identities, limits and invariants of the expected loss (nslmodel.loss; paper Eqs. 93-104, 184).

Each property follows from the closed form (book/solution.md) without a reference value; the
tolerance next to each assertion says where it comes from. Split from the former
test_theory_properties.py, every assertion kept.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import nslmodel
from _theory_strategies import FAST, alphas, eigenvalues, gammas, label_dims, log_uniform, power_law, sigmas, sizes_NT, small_M
from _tolerance import FLOAT64_EPS, RTOL_REFERENCE, RTOL_ROUNDING, assert_rel_close


# --------------------------------------------------------------------------------------------
# N <-> T duality (paper Sec. V)
# --------------------------------------------------------------------------------------------


@FAST
@given(M=small_M, alpha=alphas, NT=sizes_NT(), gamma=gammas, su=sigmas, sw=sigmas, C=label_dims)
@example(M=2000, alpha=1.0, NT=(100.0, 101.0), gamma=1e-28, su=1.0, sw=1.0, C=1)
@example(M=2000, alpha=1.0, NT=(100.0, 100.5), gamma=1e-30, su=1.0, sw=1.0, C=1)
@example(M=10, alpha=3.0, NT=(5.0, 2e4), gamma=1e-30, su=1.0, sw=1.0, C=1)
def test_duality_without_noise(M, alpha, NT, gamma, su, sw, C):
    """<L>(N, T) = <L>(T, N) at sigma_eps = 0, to 1e-12 relative.

    The root equation rho (N - D1)(T - D1) = gamma and the loss (N T and the symmetric form of
    the denominator) are invariant under N <-> T, so the two calls perform the same arithmetic
    on swapped operands. Differences come only from rounding in steps that are not written
    symmetrically: a few ulps times a condition number of the loss with respect to rho and the
    root variable that stays O(1..100) when the small differences N - D1, T - D1 are obtained
    without cancellation -> ~1e-13, within RTOL_ROUNDING = 1e-12.
    """
    N, T = NT
    spec = power_law(M, alpha)
    kw = dict(sigma_u=su, sigma_w=sw, C=C)
    a = nslmodel.expected_loss(N, T, gamma, spec, **kw)
    b = nslmodel.expected_loss(T, N, gamma, spec, **kw)
    assert_rel_close(a, b, RTOL_ROUNDING, f"duality at N={N}, T={T}, gamma={gamma}")


@FAST
@given(
    M=small_M,
    alpha=alphas,
    NT=sizes_NT(allow_equal=False),
    gamma=log_uniform(1e-30, 1e2),
    se=st.sampled_from([0.1, 1.0, 3.0]),
    C=label_dims,
)
def test_label_noise_breaks_duality_by_the_predicted_amount(M, alpha, NT, gamma, se, C):
    r"""With label noise, <L>(N,T) - <L>(T,N) = C sigma_eps^2 / 2 * (N - T) D2 / D exactly.

    rho, D1, D2 and D are symmetric in N, T and the signal term is dual, so the difference of
    the two noise numerators (N - D1) D2 + D1 (D1 - D2) minus the swapped one is (N - T) D2.
    The difference is therefore non-zero whenever N != T: the noise term measurably breaks the
    duality. Tolerance: the two losses each carry ~1e-12 relative rounding, so the observed
    difference can deviate from the prediction by 1e-12 (L1 + L2); the prediction itself is
    built from the solver's components (verified against the reference to 1e-9 elsewhere).
    """
    N, T = NT
    assume(abs(math.log(N / T)) > 0.05)
    spec = power_law(M, alpha)
    a = nslmodel.expected_loss(N, T, gamma, spec, sigma_eps=se, C=C)
    b = nslmodel.expected_loss(T, N, gamma, spec, sigma_eps=se, C=C)
    s = nslmodel.solve(N, T, gamma, spec)
    denom = s.N_minus_D1 * s.T_minus_D1 + (s.N_minus_D1 + s.T_minus_D1) * s.D1_minus_D2
    predicted = C * se**2 / 2 * (N - T) * s.D2 / denom
    # Keep to points where the asymmetry is well above rounding (it decays like 1/gamma^2).
    assume(abs(predicted) > 1e-8 * (a + b))
    slack = RTOL_ROUNDING * (a + b) + RTOL_REFERENCE * abs(predicted)
    assert abs((a - b) - predicted) <= slack, (a - b, predicted)
    assert (a - b) * (N - T) > 0  # the side with more features carries more noise


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_noise_asymmetry_is_large_near_the_ridgeless_limit(alpha):
    r"""At small gamma, swapping N < T into N > T adds :math:`C\sigma_\varepsilon^2/2\, D_2/(n - D_2)`.

    For a power law D2 ~ alpha/(1 + alpha) D1 (the scaling approximation of book/solution.md), so D2/(n - D2) ~ alpha. With N = 100,
    T = 1000 and sigma_eps = 1 the noise loss is ~N/(T - N)/2 = 0.056 one way and
    ~(0.11 + alpha)/2 the other, so the relative difference is ~alpha/(0.11 + alpha) >= 0.8
    for alpha >= 0.5 (the signal, ~1e-5, is negligible). We assert more than 10%.
    """
    spec = power_law(2000, alpha)
    a = nslmodel.expected_loss(100, 1000, 1e-20, spec, sigma_eps=1.0)
    b = nslmodel.expected_loss(1000, 100, 1e-20, spec, sigma_eps=1.0)
    assert (b - a) / b > 0.1


# --------------------------------------------------------------------------------------------
# gamma -> infinity: the student predicts zero
# --------------------------------------------------------------------------------------------


@FAST
@given(
    M=small_M,
    alpha=alphas,
    N=log_uniform(0.5, 1e4),
    T=log_uniform(0.5, 1e4),
    gamma=log_uniform(1e6, 1e30),
    lp=st.sampled_from([1.0, 0.3, 4.0]),
    su=sigmas,
    sw=sigmas,
    C=label_dims,
)
@example(M=2000, alpha=1.0, N=100.0, T=100.0, gamma=1e30, lp=1.0, su=1.0, sw=1.0, C=1)
@example(M=10, alpha=0.1, N=1e4, T=1e4, gamma=1e30, lp=1.0, su=1.0, sw=1.0, C=1)
def test_large_gamma_limit(M, alpha, N, T, gamma, lp, su, sw, C):
    r"""<L> -> C sigma_w^2 sum(lambda) / (2M) and <L_eps> -> 0 as gamma -> inf.

    Write x = 1/rho, t1 = sum s, t2 = sum s^2 with s = sigma_u^2 lambda / M. Expanding the closed
    form (rho (D1 - D2) in [t1 - 2 t2 x, t1], D1 <= t1 x, D2 <= t2 x^2) gives

        |<L>/L_inf - 1| <= 2 (t2/t1) x + ((N+T) t2 + t1^2) x^2 / (N T) + 2 t1 t2 x^3 / (N T),

    and rho (N - D1)(T - D1) <= rho N T gives x <= N T / gamma. The leading term is negative:
    when it dominates rounding, <L> < L_inf. Rounding adds RTOL_ROUNDING (sums over M modes in
    a different order). The noise term is bounded by
    C sigma_eps^2 / 2 * (N t2 x^2 + t1^2 x^2) / (N T - (N+T) t2 x^2 - t1^2 x^2) where that
    denominator is positive.
    """
    spec = power_law(M, alpha, lp)
    lam = eigenvalues(M, alpha, lp)
    s = su**2 * lam / M
    t1, t2 = float(np.sum(s)), float(np.sum(s * s))
    x = N * T / gamma
    assume(t1 * x < 0.1 * min(N, T))  # inside the asymptotic regime D1 << min(N, T)
    L_inf = C * sw**2 * float(np.sum(lam)) / (2 * M)
    bound = 2 * (t2 / t1) * x + ((N + T) * t2 + t1**2) * x**2 / (N * T) + 2 * t1 * t2 * x**3 / (N * T)
    terms = nslmodel.expected_loss_terms(N, T, gamma, spec, sigma_u=su, sigma_w=sw, sigma_eps=1.0, C=C)
    dev = terms.signal / L_inf - 1
    assert abs(dev) <= bound + RTOL_ROUNDING, (dev, bound)
    if 2 * (t2 / t1) * x > 100 * RTOL_ROUNDING and (((N + T) * t2 + t1**2) * x**2 / (N * T)) < 0.1 * (t2 / t1) * x:
        assert dev < 0
    assert terms.noise >= 0
    den_lower = N * T - ((N + T) * t2 + t1**2) * x**2  # lower bound on the denominator D
    if den_lower > 0:  # otherwise the bound says nothing
        noise_bound = C / 2 * (N * t2 + t1**2) * x**2 / den_lower
        # An inequality between exact values; both sides carry ~1e-13 rounding, and 1e-300
        # absorbs underflow of a noise term below the smallest normal double.
        assert terms.noise <= noise_bound * (1 + RTOL_ROUNDING) + 1e-300

# --------------------------------------------------------------------------------------------
# Positivity and finiteness over the whole parameter range
# --------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    M=small_M,
    alpha=alphas,
    NT=sizes_NT(),
    gamma=gammas,
    su=sigmas,
    sw=sigmas,
    se=st.sampled_from([0.0, 0.5]),
    C=label_dims,
)
@example(M=10, alpha=3.0, NT=(10.0, 10.0), gamma=1e-30, su=1.0, sw=1.0, se=0.5, C=1)
@example(M=2000, alpha=0.1, NT=(2000.0, 2000.0), gamma=1e-30, su=1.0, sw=1.0, se=0.5, C=1)
@example(M=2000, alpha=3.0, NT=(1e4, 1e4), gamma=1e30, su=1.0, sw=1.0, se=0.5, C=3)
def test_loss_positive_and_finite(M, alpha, NT, gamma, su, sw, se, C):
    """Over gamma in [1e-30, 1e30], N = T, N or T >= M, alpha in [0.1, 3]: finite, > 0."""
    N, T = NT
    t = nslmodel.expected_loss_terms(N, T, gamma, power_law(M, alpha), sigma_u=su, sigma_w=sw, sigma_eps=se, C=C)
    assert math.isfinite(t.signal) and t.signal > 0
    assert math.isfinite(t.noise) and (t.noise > 0 if se > 0 else t.noise == 0)
    assert_rel_close(t.total, t.signal + t.noise, 4 * FLOAT64_EPS, "total = signal + noise")


@pytest.mark.parametrize("alpha", [0.1, 1.0, 3.0])
def test_loss_positive_and_finite_at_ten_million_modes(alpha):
    """M = 10^7 at the corners of the range, with noise, in one broadcast call."""
    spec = power_law(10**7, alpha)
    N = np.array([1.0, 1000.0, 1000.0, 1e7, 2e7, 5e6])[:, None]
    T = np.array([1.0, 1000.0, 1e5, 1e7, 2e7, 3e7])[:, None]
    gamma = np.array([1e-30, 1e-12, 1e-3, 1e30])
    t = nslmodel.expected_loss_terms(N, T, gamma, spec, sigma_eps=0.5)
    assert t.total.shape == (6, 4)
    assert np.all(np.isfinite(t.total)) and np.all(t.signal > 0) and np.all(t.noise > 0)


# --------------------------------------------------------------------------------------------
# Types and broadcasting
# --------------------------------------------------------------------------------------------


def test_scalar_in_float_out():
    spec = power_law(300, 1.0)
    out = nslmodel.expected_loss(100, 1000, 1e-4, spec)
    assert isinstance(out, float) and np.ndim(out) == 0
    assert isinstance(nslmodel.ridgeless_loss(100, 1000, spec), float)
    t = nslmodel.expected_loss_terms(100, 1000, 1e-4, spec, sigma_eps=0.1)
    assert all(isinstance(v, float) for v in (t.signal, t.noise, t.total))


def test_array_in_broadcast_out_matches_scalar_calls():
    """Shapes broadcast like numpy; every element equals the scalar call to rounding."""
    spec = power_law(300, 0.7)
    N = np.array([3.0, 100.0, 299.0])[:, None]
    T = np.array([5.0, 100.0, 1000.0, 5000.0])
    gamma = np.array([1e-25, 1e-3])[:, None, None]
    out = nslmodel.expected_loss(N, T, gamma, spec, sigma_eps=0.2)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 4)
    for k, i, j in np.ndindex(out.shape):
        one = nslmodel.expected_loss(N[i, 0], T[j], gamma[k, 0, 0], spec, sigma_eps=0.2)
        assert_rel_close(out[k, i, j], one, RTOL_ROUNDING, f"element {(k, i, j)}")
    assert nslmodel.expected_loss([10, 20], 100, 1e-3, spec).shape == (2,)
    sol = nslmodel.solve(N, T, gamma, spec)
    for field in ("rho", "D1", "D2", "D1_minus_D2", "N_minus_D1", "T_minus_D1", "kappa"):
        assert np.shape(getattr(sol, field)) == (2, 3, 4), field
    assert np.shape(nslmodel.ridgeless_loss(N, T, spec)) == (3, 4)
    opt = nslmodel.optimal_ridge(np.array([20.0, 50.0])[:, None], np.array([40.0, 200.0, 250.0]), spec)
    assert np.shape(opt.gamma) == (2, 3) and np.shape(opt.loss) == (2, 3)
    one = nslmodel.optimal_ridge(50.0, 200.0, spec)
    assert_rel_close(opt.loss[1, 1], one.loss, RTOL_REFERENCE, "optimal_ridge grid vs scalar")
