"""Shared tolerances and comparison helpers for the test suite.

Every tolerance used in more than one test file lives here with the reason for its value.
"""

from __future__ import annotations

import numpy as np

#: Unit roundoff of float64 (2.2e-16).
FLOAT64_EPS = float(np.finfo(float).eps)

#: Accuracy the theory core must reach against the independent high-precision reference
#: (the project's stated target). A well-conditioned float64 evaluation of the closed form
#: lands near 1e-13: a root accurate to a few ulps in rho and O(M) summation error of
#: ~log2(M) ulps, amplified by condition numbers of O(1..100).
RTOL_REFERENCE = 1e-9

#: Agreement between two evaluations of the same closed form that differ only in the order
#: of floating-point operations (swapping N and T, a different summation order, a scalar vs a
#: broadcast call): a few ulps per step times a condition number of at most ~100 stays below
#: ~1e-13; 1e-12 leaves a factor of ten of headroom.
RTOL_ROUNDING = 1e-12


def rel_err(actual, expected):
    """Elementwise relative error |actual - expected| / |expected| (0 where both are 0)."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(a - e) / np.abs(e)
    return np.where((a == e), 0.0, r)


def assert_rel_close(actual, expected, rtol, what=""):
    """Assert ``|actual - expected| <= rtol * |expected|`` elementwise, with a useful message."""
    err = rel_err(actual, expected)
    worst = float(np.max(err)) if err.size else 0.0
    assert np.all(np.isfinite(np.asarray(actual, dtype=float))), f"{what}: non-finite value {actual!r}"
    assert worst <= rtol, (
        f"{what}: relative error {worst:.3e} exceeds {rtol:.1e} "
        f"(actual {actual!r}, expected {expected!r})"
    )


# --------------------------------------------------------------------------------------------
# Monte Carlo tolerances (simulation against theory, and two estimators against each other)
# --------------------------------------------------------------------------------------------

#: Standard errors allowed between a Monte Carlo mean and its target. For an approximately
#: normal sample mean, P(|Z| > 4) = 6.3e-5 per comparison, so a suite of a few dozen such
#: comparisons fails spuriously less than once in 500 runs (and seeds are fixed anyway).
MC_K_SEM = 4.0

#: Finite-size allowance, relative, in units of 1 / min(N, T). The closed form is the leading
#: order of a large-N expansion, so the mean over finite draws differs from it at relative
#: order 1/N, 1/T. Calibrated with 600-1000 trials per point (sem ~0.1%) on the grid
#: N, T in {25, 50, 100, 200} x gamma in {1e-4, 1e-2, 1e-1}, and ridgeless with
#: max(N, T) / min(N, T) between 2 and 16, for (M, alpha, sigma_eps) = (1000, 1, 0), (1000, 0.5, 0), (4000, 1, 0),
#: (1000, 1, 0.5), (1000, 1.5, 0), (800, 0.7, 0.3): the bias was positive in all but a few
#: points within 2 sem of zero, and min(N, T) * bias <= 1.34 with a ridge and <= 1.41 ridgeless.
#: 2.0 covers that with a ~40% margin. Valid for 0.5 <= alpha <= 1.5 and, at gamma = 0, for
#: max(N, T) >= 2 min(N, T): towards N = T the ridgeless bias grows like 1 / |N - T|.
FINITE_SIZE_COEF = 2.0


def mc_tolerance(sem, N, T, expected, k=MC_K_SEM, coef=FINITE_SIZE_COEF):
    """Allowed |simulated mean - theory|: ``k * sem`` plus ``coef * |expected| / min(N, T)``."""
    return k * np.asarray(sem) + coef * np.abs(expected) / np.minimum(N, T)
