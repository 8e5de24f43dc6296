r"""Tier 1: identities, limits and invariants of the closed-form theory (hypothesis).

Each property follows from the closed form (book/solution.md; paper Eqs. 93-128) without needing a reference value; the tolerance next to each assertion
says where it comes from. Small latent dimensions keep the run short; M = 10^7 appears only in
a few explicit examples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import nslmodel
from nslmodel.spectra import as_spectrum
from _tolerance import FLOAT64_EPS, RTOL_REFERENCE, RTOL_ROUNDING, assert_rel_close, rel_err

#: Hypothesis budget per property: enough to hit the corners of the ranges (the strategies put
#: weight on them) while keeping this file well under a minute.
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log_uniform(lo, hi):
    """Floats spread evenly in log10 between lo and hi (endpoints included)."""
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda x: float(10.0**x))


#: Latent dimensions for the property tests. 37 is deliberately not round.
small_M = st.sampled_from([10, 37, 300, 2000])
alphas = st.floats(0.1, 3.0)
gammas = log_uniform(1e-30, 1e30)
sizes = log_uniform(0.5, 2e4)
sigmas = st.sampled_from([1.0, 0.3, 2.5])
label_dims = st.sampled_from([1, 3])


@st.composite
def sizes_NT(draw, allow_equal=True):
    """(N, T) pairs; a quarter of them with N = T exactly."""
    N = draw(sizes)
    if allow_equal and draw(st.integers(0, 3)) == 0:
        return N, N
    return N, draw(sizes)


def power_law(M, alpha, lam_plus=1.0):
    return nslmodel.PowerLaw(M, alpha, lam_plus=lam_plus)


def eigenvalues(M, alpha, lam_plus=1.0):
    return lam_plus * np.arange(1, M + 1, dtype=float) ** (-(1.0 + alpha))


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


# --------------------------------------------------------------------------------------------
# rho increases with gamma; the solution satisfies its equation
# --------------------------------------------------------------------------------------------


@FAST
@given(M=small_M, alpha=alphas, NT=sizes_NT(), su=sigmas)
@example(M=2000, alpha=1.0, NT=(100.0, 101.0), su=1.0)
def test_rho_increases_with_gamma(M, alpha, NT, su):
    """rho is non-decreasing on a grid of gamma from 1e-30 to 1e30 and spans many decades.

    d log rho / d log gamma = 1 / (1 + (D1 - D2)(1/(N - D1) + 1/(T - D1))) lies in (0, 1]; near
    N = T at tiny gamma it can be ~1e-20, so a grid step of one decade need not change rho in
    float64. We require strict growth wherever the predicted step (the smaller slope at the two
    ends times log 10) exceeds 1e-12, and non-decrease everywhere.
    The solution also reproduces gamma: rho (N - D1)(T - D1) = gamma to 1e-9.
    """
    N, T = NT
    gamma = np.logspace(-30, 30, 61)
    sol = nslmodel.solve(N, T, gamma, power_law(M, alpha), sigma_u=su)
    rho = np.asarray(sol.rho)
    assert rho.shape == gamma.shape
    assert np.all(np.diff(rho) >= 0)
    slope = 1 / (1 + sol.D1_minus_D2 * (1 / sol.N_minus_D1 + 1 / sol.T_minus_D1))
    step = np.minimum(slope[1:], slope[:-1]) * math.log(10)
    big = step > 1e-12
    assert np.all(np.diff(rho)[big] > 0)
    assert rho[-1] > 1e20 * rho[0]
    assert_rel_close(rho * sol.N_minus_D1 * sol.T_minus_D1, gamma, RTOL_REFERENCE, "rho (N-D1)(T-D1)")
    assert_rel_close(sol.kappa, rho * sol.N_minus_D1, RTOL_ROUNDING, "kappa = rho (N - D1)")


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
