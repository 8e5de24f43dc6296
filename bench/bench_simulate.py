"""Benchmark of the Monte Carlo simulator (nslmodel.simulate), run side by side in one process.

Prints, at M = 4000, N = T = 400 (override with --M --N --T):

1. per-trial time of ``simulate_loss`` against a naive implementation that forms the M x M
   matrices P = x A and Λ of book/model.md (goal: at least 10x faster);
2. per-trial time against the time of the dominant products φ = U x and xᵀx alone (goal: at
   most 1.5x), with a breakdown of where a trial spends its time;
3. a 50-point gamma sweep (one draw) against 50 separate single-gamma trials.

Timings are medians of ``--repeats`` interleaved runs, except the slow naive trial (median of
``repeats // 2`` runs) and the 50 single-gamma trials (one run). All runs use one BLAS thread,
as a trial does (see nslmodel._simkernel), so the ratios compare like with like.

Usage: ``python bench/bench_simulate.py [--M 4000 --N 400 --T 400 --repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from nslmodel import PowerLaw, _simkernel, simulate_loss, simulate_sweep

GAMMA = 1e-3
SWEEP_POINTS = 50


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def naive_trial(U, xt, lam, gamma, M):
    """book/model.md with every matrix formed: P = x A (M x M), Λ as a dense M x M matrix."""
    x = xt.T
    phi = U @ x
    A = np.linalg.solve(phi.T @ phi + gamma * np.eye(phi.shape[1]), phi.T @ U)
    one_minus_P = np.eye(M) - x @ A
    Lam = np.diag(lam)
    return np.trace(one_minus_P @ Lam @ one_minus_P.T) / (2 * M)


def seminaive_trial(U, xt, lam, gamma, M):
    """Forms P = x A (M x M) but applies the diagonal Λ by broadcasting (no M³ products)."""
    x = xt.T
    phi = U @ x
    A = np.linalg.solve(phi.T @ phi + gamma * np.eye(phi.shape[1]), phi.T @ U)
    one_minus_P = np.eye(M) - x @ A
    return np.sum(one_minus_P * one_minus_P * lam) / (2 * M)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--M", type=int, default=4000)
    p.add_argument("--N", type=int, default=400)
    p.add_argument("--T", type=int, default=400)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    M, N, T, R = a.M, a.N, a.T, a.repeats
    spec = PowerLaw(M, 1.0)
    lam = spec.eigenvalues
    gamma_unit = GAMMA * M  # the same ridge for a unit-variance U (sigma_u = 1)

    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
    env = {k: os.environ[k] for k in names if k in os.environ}
    blas = [(i.get("internal_api"), i.get("version"), i.get("architecture"))
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, BLAS {blas}")
    print(f"OpenBLAS environment: {env or 'none of ' + ' / '.join(names) + ' set'}")
    print(f"M={M} N={N} T={T} gamma={GAMMA} repeats={R} (median), one BLAS thread throughout\n")

    rng = np.random.default_rng(0)
    U = rng.standard_normal((N, M))
    xt = rng.standard_normal((T, M)) * np.sqrt(lam)
    sl = np.sqrt(lam)

    def draws():
        g = _simkernel.trial_generators(np.random.SeedSequence(1))
        g[0].standard_normal((N, M))
        g[1].standard_normal((T, M)) * sl

    gammas = np.logspace(-6, 1, SWEEP_POINTS)
    jobs = {
        "trial": lambda: simulate_loss(N, T, GAMMA, spec, trials=1, seed=1, progress=False),
        "phi": lambda: U @ xt.T,
        "xtx": lambda: xt @ xt.T,
        "moments": lambda: _simkernel.moments(U, xt, lam, sl),
        "draws": draws,
        "sweep": lambda: simulate_sweep(N, T, gammas, spec, trials=1, seed=2, progress=False),
        "seminaive": lambda: seminaive_trial(U, xt, lam, gamma_unit, M),
    }
    with _simkernel.single_threaded_blas():
        simulate_loss(N, T, GAMMA, spec, trials=1, seed=0, progress=False)  # warm-up
        # Interleaved repeats: a load from other processes hits every job alike.
        times = {k: [] for k in jobs}
        for _ in range(R):
            for k, fn in jobs.items():
                times[k].append(median_time(fn, 1))
        med = {k: statistics.median(v) for k, v in times.items()}
        t_naive = median_time(lambda: naive_trial(U, xt, lam, gamma_unit, M), max(1, R // 2))
        t_trial, t_semi, t_phi, t_xtx = med["trial"], med["seminaive"], med["phi"], med["xtx"]
        t_moments, t_draws, t_sweep = med["moments"], med["draws"], med["sweep"]
        t_50 = median_time(lambda: [simulate_loss(N, T, g, spec, trials=1, seed=3, progress=False) for g in gammas], 1)

        # The naive and the fast per-draw losses must agree (same U, x).
        plan = _simkernel.Plan(lam=lam, trace=spec.trace, pairs=((N, T),), gammas=(np.array([GAMMA]),),
                               sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1, method="exact",
                               T_test=(T,), shared=False)
        fast = _simkernel.losses_exact(plan, _simkernel.reduce_direct(U, xt, lam, sl), plan.gammas[0])[0]
        slow = naive_trial(U, xt, lam, gamma_unit, M)

    print("(1) against a naive implementation that forms M x M matrices")
    print(f"    simulate_loss, one trial                     {t_trial * 1e3:9.1f} ms")
    print(f"    naive: P = x A and dense Λ, M x M products   {t_naive * 1e3:9.1f} ms   "
          f"speed-up {t_naive / t_trial:6.1f}x  (goal >= 10x)")
    print(f"    semi-naive: P = x A formed, Λ broadcast      {t_semi * 1e3:9.1f} ms   "
          f"speed-up {t_semi / t_trial:6.1f}x")
    print(f"    same draw, fast vs naive loss: {fast:.12g} vs {slow:.12g} "
          f"(relative difference {abs(fast / slow - 1):.1e})")
    print("(2) against its own dominant products")
    print(f"    φ = U x                                      {t_phi * 1e3:9.1f} ms")
    print(f"    xᵀx                                          {t_xtx * 1e3:9.1f} ms")
    print(f"    trial / (φ + xᵀx)                            {t_trial / (t_phi + t_xtx):9.2f}x   (goal <= 1.5x)")
    print(f"    breakdown: draws of U and x {t_draws * 1e3:.1f} ms; four latent contractions "
          f"(U x, U Λ x, U Λ Uᵀ, xᵀx) {t_moments * 1e3:.1f} ms; rest (r x r algebra, overhead) "
          f"{(t_trial - t_draws - t_moments) * 1e3:.1f} ms")
    print(f"    trial / (draws + four contractions)          {t_trial / (t_draws + t_moments):9.2f}x")
    print(f"(3) {SWEEP_POINTS}-point gamma sweep (one draw) against {SWEEP_POINTS} single-gamma trials")
    print(f"    sweep {t_sweep * 1e3:.1f} ms, {SWEEP_POINTS} trials {t_50 * 1e3:.1f} ms, "
          f"speed-up {t_50 / t_sweep:.1f}x; the sweep costs {t_sweep / t_trial:.2f} single-gamma trials")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
