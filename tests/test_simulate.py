"""Tests of the Monte Carlo simulator (nslmodel.simulate, nslmodel._simkernel).

Tiers: (1) the per-draw algebra against an independent 40-digit evaluation of the literal
M x M formula of book/model.md, and internal identities; (2) reproducibility across executors;
(3) seeded Monte Carlo against the closed form of nslmodel.expected_loss / ridgeless_loss, and
the exact estimator against the literal one (paper Eq. 19); plus the memory guard and input checks.
"""

from __future__ import annotations

import json
import math
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import mpmath as mp
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import nslmodel
from _tolerance import FLOAT64_EPS, MC_K_SEM, assert_rel_close, mc_tolerance
from nslmodel import PowerLaw, Spectrum, _simkernel
from nslmodel._simkernel import estimate_trial_bytes
from nslmodel.simulate import MemoryLimitError, simulate_loss, simulate_sweep

# --------------------------------------------------------------------------------------------
# Tier 1: one draw against a 40-digit evaluation of the literal formula
# --------------------------------------------------------------------------------------------
MP_DIGITS = 40


def _literal_loss_mp(U, xt, lam, gamma, sigma_w, sigma_eps, C):
    """book/model.md verbatim in 40-digit arithmetic, with the M x M matrix P = x A.

    A = (φᵀφ + γ)⁻¹ φᵀ U for gamma > 0; at gamma = 0 the minimum-norm form, through the
    invertible Gram of the smaller side. U is taken as drawn (no 1/sqrt(M) scaling here; the
    caller passes sigma_u = sqrt(M) to the package so that both mean the same U).
    """
    with mp.workdps(MP_DIGITS):
        M = len(lam)
        Um = mp.matrix(U.tolist())
        x = mp.matrix(xt.T.tolist())
        phi = Um * x
        N, T = phi.rows, phi.cols
        if gamma > 0:
            A = mp.inverse(phi.T * phi + mp.mpf(gamma) * mp.eye(T)) * phi.T * Um
        elif T <= N:
            A = mp.inverse(phi.T * phi) * phi.T * Um
        else:
            A = phi.T * mp.inverse(phi * phi.T) * Um
        E = mp.eye(M) - x * A
        lam_mp = [mp.mpf(float(v)) for v in lam]
        signal = mp.fsum(E[i, j] ** 2 * lam_mp[j] for i in range(M) for j in range(M))
        noise = mp.fsum(A[t, j] ** 2 * lam_mp[j] for t in range(T) for j in range(M))
        return float(C * sigma_w**2 / (2 * M) * signal + C * sigma_eps**2 / 2 * noise)


# (N, T, M): both spaces, N = T, the two elimination variants (max > sqrt(3) min),
# and a rank-deficient Gram (M < min(N, T)).
SHAPES = [(8, 12, 20), (12, 8, 20), (10, 10, 20), (4, 16, 20), (16, 4, 20), (14, 16, 10)]


def _draw(N, T, M, alpha, seed):
    lam = np.arange(1, M + 1, dtype=float) ** -(1 + alpha)
    rng = np.random.default_rng(seed)
    return lam, rng.standard_normal((N, M)), rng.standard_normal((T, M)) * np.sqrt(lam)


def _plan(lam, pairs, gammas, *, sigma_w=1.0, sigma_eps=0.0, C=1):
    # sigma_u = sqrt(M) makes the package use gamma as given on a unit-variance U.
    return _simkernel.Plan(
        lam=lam, trace=math.fsum(lam), pairs=tuple(pairs), gammas=tuple(gammas), sigma_u=math.sqrt(lam.size),
        sigma_w=sigma_w, sigma_eps=sigma_eps, C=C, method="exact", T_test=tuple(t for _, t in pairs), shared=False,
    )


def _reductions(U, xt, lam):
    # Every reduction the kernel may choose, each in the space where it is used (the smaller).
    s = np.sqrt(lam)
    N, T = U.shape[0], xt.shape[0]
    out = {
        "cheapest": _simkernel.reduce_direct(U, xt, lam, s),
        "moments": _simkernel.reduce_from_moments(*_simkernel.moments(U, xt, lam, s)),
    }
    if T <= N:
        out["t_space"] = _simkernel._reduce_t_space(U, xt, s)
    if N <= T:
        out["n_space"] = _simkernel._reduce_n_space(U, xt, s)
    return out


@pytest.mark.parametrize("N,T,M", SHAPES)
def test_exact_loss_of_one_draw_matches_40_digit_literal_formula(N, T, M):
    lam, U, xt = _draw(N, T, M, alpha=0.5, seed=N * 100 + T)
    rank_deficient = M < min(N, T)  # the 40-digit reference has no pseudo-inverse for this case
    gammas = np.array([1e-3, 1.0] + ([] if rank_deficient or N == T else [0.0]))
    kw = dict(sigma_w=1.3, sigma_eps=0.7, C=2)
    expected = np.array([_literal_loss_mp(U, xt, lam, g, **kw) for g in gammas])
    plan = _plan(lam, [(N, T)], [gammas], **kw)
    for name, red in _reductions(U, xt, lam).items():
        # Backward-stable steps on the r x r Gram S: error ~ r * eps * cond(S + gamma) (plus
        # the O(r) rounding of the traces). The factor 100 covers the constants of eigh and
        # of the products; a wrong formula is off by O(1).
        # With M < r only the top M eigenvalues of S are modes; the rest are exact zeros.
        mu = np.linalg.eigvalsh(red.S)[-min(M, N, T):]
        cond = (mu[-1] + gammas) / (mu[0] + gammas)
        rtol = 100 * min(N, T) * FLOAT64_EPS * float(np.max(cond))
        assert_rel_close(_simkernel.losses_exact(plan, red, gammas), expected, rtol, f"eigen path, {name}")
        for g, e in zip(gammas, expected):  # one ridge at a time: the Cholesky path where it applies
            assert_rel_close(_simkernel.losses_exact(plan, red, np.array([g])), e, rtol, f"single gamma={g}, {name}")


def test_ridgeless_interpolates_when_min_n_t_reaches_m():
    # book/solution.md: with min(N, T) >= M the noiseless ridgeless student reproduces the teacher
    # exactly, so each draw has loss 0. Rounding leaves ~ r * eps * cond(S) of tr Λ C σ_w² / 2M,
    # with cond(S) over its M nonzero modes <~ 2e4 here (λ_1 / λ_M = 30^1.5 ~ 160 times the
    # Wishart spread; measured 2e3-1.3e4), i.e. ~ 1e-10; 1e-8 leaves a factor 100.
    spec = PowerLaw(30, 0.5)
    r = simulate_sweep([40, 60], [50, 45], 0.0, spec, trials=3, seed=2, progress=False)
    scale = spec.trace / (2 * spec.M)
    assert np.all(np.abs(r.samples) <= 1e-8 * scale), r.samples


def test_many_ridges_from_one_eigendecomposition_match_single_ridge_solves():
    # The gamma sweep (eigen path, O(r^2) per ridge) against one Cholesky solve per ridge.
    lam, U, xt = _draw(30, 45, 200, alpha=1.0, seed=5)
    gammas = np.logspace(-3, 2, 11)
    plan = _plan(lam, [(30, 45)], [gammas], sigma_eps=0.4)
    red = _simkernel.reduce_direct(U, xt, lam, np.sqrt(lam))
    swept = _simkernel.losses_exact(plan, red, gammas)
    single = np.array([_simkernel.losses_exact(plan, red, np.array([g]))[0] for g in gammas])
    mu = np.linalg.eigvalsh(red.S)
    # Two backward-stable evaluations: each within r eps cond(S + gamma) (x100 for constants).
    rtol = 100 * 30 * FLOAT64_EPS * float(np.max((mu[-1] + gammas) / (mu[0] + gammas)))
    assert_rel_close(swept, single, rtol, "gamma sweep vs per-gamma solve")


def test_feature_scale_enters_only_through_gamma_over_sigma_u_squared():
    # A is unchanged under U -> c U, gamma -> c^2 gamma (module notes of _simkernel), so the
    # same draws give L(sigma_u, gamma) = L(1, gamma / sigma_u^2) up to rounding (~1e-13 here,
    # cond(S + gamma) <~ 1e2 at these sizes; 1e-10 leaves room).
    spec = PowerLaw(300, 1.0)
    a = simulate_loss(40, 60, 0.3, spec, trials=3, seed=4, sigma_u=2.0, progress=False)
    b = simulate_loss(40, 60, 0.3 / 4.0, spec, trials=3, seed=4, sigma_u=1.0, progress=False)
    assert_rel_close(a.samples, b.samples, 1e-10, "sigma_u scaling")


def test_sweep_points_are_the_single_point_draws():
    # Nested draws: every grid point of a sweep sees exactly the draws simulate_loss makes
    # with the same seed, so results agree up to the rounding of different reductions.
    spec = PowerLaw(300, 1.0)
    Ns, Ts, gammas = np.array([20, 45]), np.array([30, 70]), np.array([0.0, 1e-2])
    sw = simulate_sweep(Ns[:, None, None], Ts[None, :, None], gammas[None, None, :], spec,
                        trials=4, seed=9, sigma_eps=0.2, progress=False)
    assert sw.mean.shape == (2, 2, 2) and sw.samples.shape == (4, 2, 2, 2)
    for i, N in enumerate(Ns):
        for j, T in enumerate(Ts):
            for k, g in enumerate(gammas):
                one = simulate_loss(int(N), int(T), float(g), spec, trials=4, seed=9, sigma_eps=0.2, progress=False)
                # Same draws, different (well-conditioned, N/T far from 1) reductions: 1e-9.
                assert_rel_close(sw.samples[:, i, j, k], one.samples, 1e-9, f"N={N} T={T} gamma={g}")


# --------------------------------------------------------------------------------------------
# Tier 2: reproducibility
# --------------------------------------------------------------------------------------------
def _repro_sweep(method="exact", **kw):
    return simulate_sweep(np.array([[15], [30]]), np.array([[25, 50]]), np.array([0.0, 1e-3, 1.0])[:, None, None],
                          PowerLaw(200, 1.0), trials=9, seed=123, sigma_eps=0.3, C=2, method=method,
                          progress=False, **kw)


@pytest.mark.parametrize("method", ["exact", "sampled"])
def test_same_seed_bit_identical_serial_and_threads(method):
    serial = _repro_sweep(method)
    assert np.array_equal(serial.samples, _repro_sweep(method).samples)
    # Even with BLAS allowed two threads outside, trials run on one and give the same bits.
    with threadpool_limits(limits=2, user_api="blas"), ThreadPoolExecutor(max_workers=2) as ex:
        threaded = _repro_sweep(method, executor=ex)
    assert np.array_equal(serial.samples, threaded.samples)
    other = simulate_sweep(15, 25, 1e-3, PowerLaw(200, 1.0), trials=9, seed=124, progress=False)
    assert not np.array_equal(other.samples, serial.samples[:, 1, 0, 0])


def test_trial_i_does_not_depend_on_the_number_of_trials():
    # SeedSequence(seed).spawn(n)[:k] == spawn(k): a longer run extends a shorter one.
    spec = PowerLaw(200, 1.0)
    short = simulate_loss(20, 30, 1e-2, spec, trials=3, seed=5, progress=False)
    long = simulate_loss(20, 30, 1e-2, spec, trials=8, seed=5, progress=False)
    assert np.array_equal(short.samples, long.samples[:3])


def test_seed_sequence_seed_is_not_advanced():
    # A SeedSequence seed means the same as its int entropy and can be passed again.
    spec = PowerLaw(200, 1.0)
    root = np.random.SeedSequence(5)
    first = simulate_loss(20, 30, 1e-2, spec, trials=3, seed=root, progress=False)
    again = simulate_loss(20, 30, 1e-2, spec, trials=3, seed=root, progress=False)
    by_int = simulate_loss(20, 30, 1e-2, spec, trials=3, seed=5, progress=False)
    assert np.array_equal(first.samples, again.samples) and np.array_equal(first.samples, by_int.samples)
    assert root.n_children_spawned == 0


@pytest.mark.parametrize("processes", [False, True])
def test_dask_local_cluster_bit_identical_to_serial(processes):
    distributed = pytest.importorskip("distributed")
    serial = {m: _repro_sweep(m) for m in ("exact", "sampled")}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        ex = client.get_executor()
        for method, ref in serial.items():
            assert np.array_equal(ref.samples, _repro_sweep(method, executor=ex).samples), method


# --------------------------------------------------------------------------------------------
# Tier 3: Monte Carlo against the closed form, and the two estimators against each other
# --------------------------------------------------------------------------------------------
# Points chosen away from the calibration grid of FINITE_SIZE_COEF (see _tolerance.py).
THEORY_POINTS = [
    # N, T, gamma, sigma_eps, spectrum, extra keyword arguments
    (60, 110, 3e-3, 0.0, PowerLaw(800, 1.0), {}),
    (110, 60, 3e-2, 0.5, PowerLaw(800, 1.0), {}),
    (70, 70, 1e-3, 0.2, PowerLaw(800, 0.7, lam_plus=2.0), dict(sigma_u=1.5, sigma_w=0.8, C=2)),
    (45, 140, 0.0, 0.0, PowerLaw(800, 1.0), {}),  # ridgeless, N / T ~ 1/3
    (130, 40, 0.0, 0.3, PowerLaw(800, 0.7), {}),  # ridgeless with noise, N > T
]


def _theory(N, T, gamma, spec, sigma_eps, kw):
    if gamma == 0:
        return float(nslmodel.ridgeless_loss(N, T, spec, sigma_eps=sigma_eps, **{"sigma_u": 1.0, "sigma_w": 1.0,
                                                                                 "C": 1, **kw}))
    return float(nslmodel.expected_loss(N, T, gamma, spec, sigma_eps=sigma_eps, **kw))


@pytest.mark.parametrize("N,T,gamma,sigma_eps,spec,kw", THEORY_POINTS)
def test_simulation_agrees_with_theory(N, T, gamma, sigma_eps, spec, kw):
    r = simulate_loss(N, T, gamma, spec, trials=300, seed=2024, sigma_eps=sigma_eps, progress=False, **kw)
    expected = _theory(N, T, gamma, spec, sigma_eps, kw)
    # k = 4 standard errors plus the O(1/min(N, T)) finite-size allowance (_tolerance.py).
    tol = mc_tolerance(r.sem, N, T, expected)
    assert abs(r.mean - expected) <= tol, (r.mean, r.sem, expected, tol)


@pytest.mark.slow
@pytest.mark.parametrize("N,T,gamma,sigma_eps", [(250, 300, 1e-3, 0.0), (300, 150, 0.0, 0.0), (200, 400, 1e-2, 0.5)])
def test_simulation_agrees_with_theory_large(N, T, gamma, sigma_eps):
    spec = PowerLaw(2000, 1.0)
    r = simulate_loss(N, T, gamma, spec, trials=400, seed=7, sigma_eps=sigma_eps, progress=False)
    expected = _theory(N, T, gamma, spec, sigma_eps, {})
    tol = mc_tolerance(r.sem, N, T, expected)
    assert abs(r.mean - expected) <= tol, (r.mean, r.sem, expected, tol)


@pytest.mark.parametrize(
    "N,T,gamma,sigma_eps,C,T_test",
    [(30, 50, 1e-2, 0.0, 1, None), (50, 30, 1e-3, 0.5, 2, 120), (25, 60, 0.0, 0.3, 1, 80)],
)
def test_exact_and_sampled_estimators_agree(N, T, gamma, sigma_eps, C, T_test):
    spec = PowerLaw(300, 1.0)
    kw = dict(trials=300, seed=31, sigma_eps=sigma_eps, C=C, progress=False)
    exact = simulate_loss(N, T, gamma, spec, **kw)
    sampled = simulate_loss(N, T, gamma, spec, method="sampled", T_test=T_test, **kw)
    # Same seed -> same x and U, and the exact loss E is the conditional mean of the sampled loss
    # S given them, so the per-trial differences have mean exactly 0 (no finite-size allowance).
    # Cov(S, E) = Var(E) > 0, so Var(S - E) = Var(S) - Var(E): the paired standard error is below
    # the unpaired hypot(sem_exact, sem_sampled) unless the sample covariance comes out negative.
    # Its relative error is ~ (sem_sampled / sem_exact) / sqrt(trials) <~ 0.5 at these points, so
    # a negative one is a > 2-sigma event; the factor 1.05 allows a covariance down to -5% of
    # Var(S) + Var(E), many sigma further out.
    d = sampled.samples - exact.samples
    sem_d = d.std(ddof=1) / math.sqrt(d.size)
    assert sem_d <= math.hypot(exact.sem, sampled.sem) * 1.05
    assert abs(d.mean()) <= MC_K_SEM * sem_d, (exact.mean, sampled.mean, sem_d)


def test_huge_ridge_gives_the_zero_predictor_loss():
    # gamma -> inf: θ* -> 0 and L -> C σ_w² tr Λ / (2M) for every draw (book/solution.md). The
    # first correction is O(|φ|² / γ) ~ 1e3 / 1e15 relative; 1e-9 is far above it.
    spec = PowerLaw(200, 1.0)
    r = simulate_loss(20, 30, 1e15, spec, trials=3, seed=1, C=3, sigma_w=0.5, progress=False)
    assert_rel_close(r.samples, np.full(3, 3 * 0.25 * spec.trace / (2 * spec.M)), 1e-9, "zero predictor")


# --------------------------------------------------------------------------------------------
# Memory guard
# --------------------------------------------------------------------------------------------
def test_memory_guard_refuses_before_allocating():
    spec = PowerLaw(10**8, 1.0)  # its eigenvalues alone would take 800 MB
    with pytest.raises(MemoryLimitError) as info:
        simulate_loss(10**5, 2 * 10**5, 1e-3, spec, trials=2, seed=0, progress=False)
    msg = str(info.value)
    for part in ("N=100000", "T=200000", "M=100000000", "bytes", "memory_limit"):
        assert part in msg, msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, MemoryError)
    assert "eigenvalues" not in spec.__dict__  # refused before the spectrum was materialized


def test_memory_limit_is_overridable_and_counts_concurrent_trials():
    spec = PowerLaw(500, 1.0)
    kw = dict(trials=2, seed=0, progress=False)
    with pytest.raises(MemoryLimitError, match="M=500"):
        simulate_loss(50, 60, 1e-2, spec, memory_limit=10_000, **kw)
    simulate_loss(50, 60, 1e-2, spec, memory_limit=10**9, **kw)
    need = estimate_trial_bytes(500, [(50, 60)], 1, method="exact", T_test=(60,), C=1, shared=False)
    simulate_loss(50, 60, 1e-2, spec, memory_limit=2 * need, **kw)
    # Enough for one trial at a time but not for four concurrent ones.
    with ThreadPoolExecutor(max_workers=4) as ex, pytest.raises(MemoryLimitError, match="4 concurrent"):
        simulate_loss(50, 60, 1e-2, spec, memory_limit=2 * need, executor=ex, **kw)


@pytest.mark.parametrize(
    "method,Ns,Ts,shared",
    [
        ("exact", [150], [90], False),  # moments
        ("exact", [20], [300], False),  # N-space elimination
        ("exact", [300], [20], False),  # T-space elimination
        ("exact", [50, 150], [90], True),  # a sweep sharing the moments of the largest draw
        ("sampled", [120], [80], False),
    ],
)
def test_memory_estimate_bounds_the_measured_peak(method, Ns, Ts, shared):
    # numpy reports its buffers to tracemalloc, so the traced peak of one trial is what the
    # arrays of a trial really take; the estimate must cover it without being wildly loose.
    spec = PowerLaw(1500, 1.0)
    spec.eigenvalues  # materialized outside the measurement, like the cached spectrum
    gammas = [1e-2, 1e-1]
    pairs = [(n, t) for n in Ns for t in Ts]
    est = estimate_trial_bytes(spec.M, pairs, len(gammas), method=method, T_test=tuple(t for _, t in pairs),
                               C=1, shared=shared)
    tracemalloc.start()
    try:
        simulate_sweep(np.array(Ns)[:, None, None], np.array(Ts)[None, :, None], gammas, spec,
                       trials=1, seed=0, method=method, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= est <= 4 * peak, (peak, est)


# --------------------------------------------------------------------------------------------
# Results, warnings, progress
# --------------------------------------------------------------------------------------------
def test_result_fields_and_json():
    spec = Spectrum(np.linspace(1.0, 0.01, 100))
    r = simulate_loss(10, 20, 1e-2, spec, trials=5, seed=3, progress=False)
    assert r.samples.shape == (5,) and r.trials == 5 and r.seed == 3 and r.M == 100
    assert r.mean == pytest.approx(r.samples.mean(), rel=1e-15)
    # sem = sample std (ddof=1) / sqrt(trials), computed independently here.
    s = math.sqrt(sum((v - r.mean) ** 2 for v in r.samples) / 4) / math.sqrt(5)
    assert r.sem == pytest.approx(s, rel=1e-12)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["mean"] == r.mean and d["trials"] == 5 and "samples" not in d
    assert len(r.to_dict(samples=True)["samples"]) == 5
    with pytest.raises(AttributeError):
        r.mean = 0.0
    single = simulate_loss(10, 20, 1e-2, spec, trials=1, seed=3, progress=False)
    assert math.isinf(single.sem) and single.to_dict()["sem"] is None


def test_ridgeless_at_n_equals_t_warns():
    with pytest.warns(RuntimeWarning, match="infinite"):
        simulate_loss(20, 20, 0.0, PowerLaw(100, 1.0), trials=2, seed=0, progress=False)


def test_progress_bar_can_be_switched(capsys):
    spec = PowerLaw(100, 1.0)
    simulate_loss(10, 20, 1e-2, spec, trials=3, seed=0, progress=True)
    assert "simulate:" in capsys.readouterr().err  # the tqdm bar, on standard error
    simulate_loss(10, 20, 1e-2, spec, trials=3, seed=0, progress=False)
    simulate_loss(10, 20, 1e-2, spec, trials=3, seed=0)  # automatic: short run, not a terminal
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
GOOD = dict(N=10, T=20, gamma=1e-2, spectrum=PowerLaw(100, 1.0), trials=2, seed=0, progress=False)


@pytest.mark.parametrize(
    "change,pattern",
    [
        (dict(trials=0), r"trials must be an integer >= 1; got 0"),
        (dict(trials=2.5), r"trials must be an integer >= 1; got 2.5"),
        (dict(N=10.5), r"N must be an integer >= 1; got 10.5"),
        (dict(T=0), r"T must be an integer >= 1; got 0"),
        (dict(gamma=-1.0), r"gamma must be non-negative and finite \(0 <= gamma < inf.*got -1.0"),
        (dict(gamma=float("nan")), r"gamma must be non-negative.*got nan"),
        (dict(T_test=0, method="sampled"), r"T_test must be an integer >= 1; got 0"),
        (dict(method="mc"), r"method must be one of \('exact', 'sampled'\); got 'mc'"),
        (dict(sigma_u=0.0), r"sigma_u must be positive.*got 0.0"),
        (dict(sigma_w=-1.0), r"sigma_w must be non-negative.*got -1.0"),
        (dict(sigma_eps=-0.1), r"sigma_eps must be non-negative.*got -0.1"),
        (dict(C=0), r"C must be an integer >= 1; got 0"),
        (dict(seed=-1), r"seed must be a non-negative integer.*got -1"),
        (dict(memory_limit=-5), r"memory_limit must be positive.*got -5"),
        (dict(spectrum=[1.0, -1.0]), r"eigenvalues must be finite and >= 0"),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(change, pattern):
    with pytest.raises(ValueError, match=pattern):
        simulate_loss(**{**GOOD, **change})


@pytest.mark.parametrize(
    "change,pattern",
    [
        (dict(N=[10, 20]), r"N must be a single number for simulate_loss.*simulate_sweep"),
        (dict(progress="yes"), r"progress must be True, False or None.*'yes'"),
    ],
)
def test_input_of_the_wrong_kind_raises_type_error_naming_the_parameter(change, pattern):
    with pytest.raises(TypeError, match=pattern):
        simulate_loss(**{**GOOD, **change})


def test_bad_grid_input_in_sweeps():
    with pytest.raises(ValueError, match=r"T must be an integer >= 1.*got 2.5"):
        simulate_sweep([10, 20], [30, 2.5], 1e-2, PowerLaw(100, 1.0), trials=2, seed=0)
    with pytest.raises(ValueError, match=r"gamma must be non-negative.*got -0.001"):
        simulate_sweep(10, 20, [1e-2, -1e-3], PowerLaw(100, 1.0), trials=2, seed=0)
    with pytest.raises(ValueError, match=r"M must be an integer >= 1; got 10.5"):
        PowerLaw(10.5, 1.0)
