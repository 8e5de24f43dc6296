r"""Tier 1: the self-consistent solve for rho (nslmodel.solver; paper Eqs. 93, 99).

Each property follows from the closed form (book/solution.md) without a reference value; the
tolerance next to each assertion says where it comes from. Split from the former
test_theory_properties.py, every assertion kept.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given

import nslmodel
from _theory_strategies import FAST, alphas, power_law, sigmas, sizes_NT, small_M
from _tolerance import RTOL_REFERENCE, RTOL_ROUNDING, assert_rel_close


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
