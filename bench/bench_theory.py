"""Benchmark: vectorised ``expected_loss`` against a per-point ``scipy.optimize.brentq`` loop.

Side by side in one process:

1. Scalar latency: the median time of one ``expected_loss`` call at a single point, for power
   laws of M = 10^3, 10^6 and 10^12 and for a cached plain-array spectrum (M = 10^4); goal
   <= 250 us (stretch 100 us).
2. First call on a new arbitrary spectrum (a plain array of M = 10^4 log-normal eigenvalues,
   never seen before, so its nodes and table are built inside the timed call) on FIRST_POINTS
   random points, against the brentq loop on the same points; goal >= 300 x, same accuracy.
   FIRST_SPECTRA rounds, each timing a first call and, right after it, the loop on that round's
   share of the points, so that each round's ratio compares times taken seconds apart; the
   median ratio is reported.
3. The repeated (cached) call on POINTS points at M = 10^4 against the brentq loop.
4. Time and peak traced memory at M = 10^7.

The BLAS library and its kernel (threadpoolctl) and the load average are printed first:
numbers depend on them. Items 1 and 2 report wall-clock and CPU time (this process) side by
side; on a shared machine the CPU figures are the steadier ones, since the wall clock also
counts the time spent waiting for a core.

Run: ``python bench/bench_theory.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc

import numpy as np
from scipy.optimize import brentq

import nslmodel

M = 10_000
ALPHA = 1.0
POINTS = 10_000
FIRST_POINTS = 2000
FIRST_SPECTRA = 7
SCALAR_REPEATS = 300
SEED = 20240529


def grid(rng):
    # N, T log-uniform in [10, 5000], gamma log-uniform in [1e-8, 1e2]; points within 1% of
    # N = T are moved away, where the naive baseline loses accuracy to cancellation.
    N = np.exp(rng.uniform(np.log(10), np.log(5000), POINTS))
    T = np.exp(rng.uniform(np.log(10), np.log(5000), POINTS))
    near = np.abs(N - T) < 0.01 * np.minimum(N, T)
    T[near] *= 1.5
    gamma = np.exp(rng.uniform(np.log(1e-8), np.log(1e2), POINTS))
    return N, T, gamma


def baseline_point(N, T, gamma, s):
    """The textbook approach: brentq in log rho on rho (N - D1)(T - D1) = gamma, O(M) per call."""
    n = min(N, T)
    d1 = lambda lr: np.sum(s / (s + math.exp(lr)))
    # lower end: the ridgeless root D1 = n (if n < M), itself found by brentq
    if n < s.size:
        lo = brentq(lambda lr: d1(lr) - n, math.log(s.min()) - 60, math.log(s.sum() / n) + 1,
                    xtol=1e-14, rtol=4 * np.finfo(float).eps)
    else:
        lo = math.log(gamma / (N * T)) - 1
    f = lambda lr: lr + math.log(N - d1(lr)) + math.log(T - d1(lr)) - math.log(gamma)
    hi = max(math.log(2 * s.sum() / n), math.log(16 * gamma / n**2)) + 1
    lo += 1e-12 * max(1.0, abs(lo))  # strictly inside the physical branch
    lr = brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    rho = math.exp(lr)
    r = s / (s + rho)
    D1, D2 = r.sum(), (r * r).sum()
    D12 = np.sum(s * rho / (s + rho) ** 2)
    den = (N - D1) * (T - D1) + (N + T - 2 * D1) * D12
    return 0.5 * rho * N * T * D12 / den


def timed(f):
    """``(wall, cpu)`` seconds of one call of ``f``.

    CPU time (this process, all threads) is reported beside wall time: on a shared machine
    the wall clock also counts the time the process waited for a core.
    """
    w0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def median_time(f, repeats=SCALAR_REPEATS):
    wall, cpu = zip(*(timed(f) for _ in range(repeats)))
    return float(np.median(wall)), float(np.median(cpu))


def scalar_latency():
    arr = np.random.default_rng(SEED).lognormal(-3.0, 2.0, 10_000)
    cases = [(f"PowerLaw M = 1e{int(round(math.log10(m)))}", nslmodel.PowerLaw(m, ALPHA))
             for m in (10**3, 10**6, 10**12)] + [("cached array, M = 1e4", arr)]
    for name, spec in cases:
        nslmodel.expected_loss(100.0, 300.0, 1e-3, spec)  # build what the point needs
        t, c = median_time(lambda: nslmodel.expected_loss(100.0, 300.0, 1e-3, spec))
        print(f"scalar expected_loss, {name:22s} median {t * 1e6:6.0f} us wall, {c * 1e6:6.0f} us CPU"
              f"   (goal <= 250 us, stretch 100 us)")


def first_call(rng):
    N, T, gamma = (x[:FIRST_POINTS] for x in grid(rng))
    # FIRST_SPECTRA rounds, each on a new spectrum (never seen before): the first call on all
    # points, then the brentq loop on the round's share of them (same spectrum), back to back,
    # so that a change of the machine's speed between rounds cancels in the round's ratio.
    wall, cpu, ratio_wall, ratio_cpu, base_wall, base_cpu, worst = [], [], [], [], 0.0, 0.0, 0.0
    for k, part in enumerate(np.array_split(np.arange(FIRST_POINTS), FIRST_SPECTRA)):
        arr = np.random.default_rng(SEED + 1 + k).lognormal(-3.0, 2.0, M)
        out, base = [], []
        w, c = timed(lambda: out.append(nslmodel.expected_loss(N, T, gamma, arr)))
        s = np.sort(arr) / M
        wb, cb = timed(lambda: base.extend(baseline_point(N[i], T[i], gamma[i], s) for i in part))
        scale = FIRST_POINTS / part.size  # the loop's time for all points
        wall.append(w), cpu.append(c), ratio_wall.append(wb * scale / w), ratio_cpu.append(cb * scale / c)
        base_wall, base_cpu = base_wall + wb, base_cpu + cb
        worst = max(worst, float(np.max(np.abs(out[0][part] / np.array(base) - 1))))
    print(f"first call on a new array spectrum (M = {M}, {FIRST_POINTS} points), median of "
          f"{FIRST_SPECTRA} spectra: {np.median(wall) * 1e3:.1f} ms wall (min {min(wall) * 1e3:.1f}, "
          f"max {max(wall) * 1e3:.1f}), {np.median(cpu) * 1e3:.1f} ms CPU; brentq loop on all points "
          f"{base_wall:.3f} s wall, {base_cpu:.3f} s CPU")
    print(f"first-call ratio (goal >= 300 x), median of the rounds' ratios: {np.median(ratio_wall):.0f} x "
          f"wall, {np.median(ratio_cpu):.0f} x CPU (rounds {min(ratio_cpu):.0f}-{max(ratio_cpu):.0f} x CPU); "
          f"max relative difference {worst:.2e}")


def main():
    from threadpoolctl import threadpool_info

    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '<unset>')}, load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores")
    for lib in threadpool_info():
        print(f"BLAS: {lib.get('internal_api')} {lib.get('version')}, kernel "
              f"{lib.get('architecture')}, {lib.get('num_threads')} threads")
    scalar_latency()
    rng = np.random.default_rng(SEED)
    first_call(np.random.default_rng(SEED + 2))
    N, T, gamma = grid(rng)
    spec = nslmodel.PowerLaw(M, ALPHA)
    s = spec.eigenvalues / M  # sigma_u = 1

    t0 = time.perf_counter()
    cold = nslmodel.expected_loss(N, T, gamma, spec)
    t_cold = time.perf_counter() - t0
    warm_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        warm = nslmodel.expected_loss(N, T, gamma, spec)
        warm_times.append(time.perf_counter() - t0)
    t_warm = float(np.median(warm_times))

    t0 = time.perf_counter()
    base = np.array([baseline_point(*p, s) for p in zip(N, T, gamma)])
    t_base = time.perf_counter() - t0

    rel = np.max(np.abs(warm / base - 1))
    print(f"grid: {POINTS} points, M = {M}, alpha = {ALPHA}")
    print(f"brentq loop (baseline):        {t_base:8.3f} s")
    print(f"expected_loss, first call:     {t_cold:8.3f} s  (includes building the spectral table)")
    print(f"expected_loss, repeated call:  {t_warm:8.3f} s  (median of 5)")
    print(f"speed-up, first call:          {t_base / t_cold:8.1f} x")
    print(f"speed-up, repeated call:       {t_base / t_warm:8.1f} x")
    print(f"max relative difference vs baseline: {rel:.2e}")
    assert np.array_equal(cold, warm)

    big = 10_000_000
    tracemalloc.start()
    t0 = time.perf_counter()
    spec7 = nslmodel.PowerLaw(big, ALPHA)
    L7 = nslmodel.expected_loss(N, T, gamma, spec7)
    t7 = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t0 = time.perf_counter()
    nslmodel.expected_loss(N, T, gamma, spec7)
    t7w = time.perf_counter() - t0
    print(f"M = {big:.0e}: first call {t7:.3f} s, repeated {t7w:.3f} s, peak traced memory "
          f"{peak / 2**20:.1f} MiB (an M-sized float array alone is {big * 8 / 2**20:.0f} MiB); "
          f"all finite: {bool(np.all(np.isfinite(L7)))}")


if __name__ == "__main__":
    main()
