"""Tests of nslmodel.finite_size: the decay fit, the threshold sizes and the family grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nslmodel
from nslmodel import finite_size as fs


def test_fit_recovers_an_exact_power_law():
    n = np.array([25.0, 50.0, 100.0, 200.0])
    fit = fs.fit_decay(n, 0.8 * n**-1.1, 1e-6 * np.ones(4))
    # Noise-free data: the least-squares optimum is the generating pair, to the solver's tolerance
    # (curve_fit stops at relative changes of ~1.5e-8).
    assert math.isclose(fit.c, 0.8, rel_tol=1e-6) and math.isclose(fit.p, 1.1, rel_tol=1e-6)
    assert fit.chi2 < 1e-6 and fit.dof == 2
    n1, _ = fs.threshold_size(fit, 1e-2)
    assert math.isclose(n1, (0.8 / 1e-2) ** (1 / 1.1), rel_tol=1e-5)


def test_fit_errors_match_the_scatter_of_replicas():
    # 400 replicas of Gaussian noise with known sd: the reported standard errors of p and c must
    # match the spread of the estimates. The spread of 400 estimates is known to ~1/sqrt(800)
    # = 3.5% relative; the fit is linear enough here that 15% covers its non-linearity too.
    rng = np.random.default_rng(0)
    n = np.array([25.0, 50.0, 100.0, 200.0, 400.0])
    truth = 0.5 * n**-1.0
    err = 0.05 * truth[0] * np.ones(n.size) / np.sqrt(n / n[0])
    fits = [fs.fit_decay(n, truth + err * rng.standard_normal(n.size), err) for _ in range(400)]
    p = np.array([f.p for f in fits])
    c = np.array([f.c for f in fits])
    assert abs(np.std(p) / np.median([f.p_err for f in fits]) - 1) < 0.15
    assert abs(np.std(c) / np.median([f.c_err for f in fits]) - 1) < 0.15
    # Unbiased to within 4 standard errors of the mean of 400 replicas.
    assert abs(p.mean() - 1.0) < 4 * p.std() / 20


def test_prediction_error_at_the_reference_size_is_the_amplitude_error():
    n = np.array([25.0, 50.0, 100.0, 200.0])
    fit = fs.fit_decay(n, 0.5 / n, 0.01 * 0.5 / n)
    value, err = fit.predict(50.0)
    assert math.isclose(value, 0.01, rel_tol=1e-6)
    assert 0 < err < 0.01 * value * 2  # the data are 1% accurate; the fit cannot be worse than 2x


def test_family_grid_scales_together_and_uses_the_optimal_ridge():
    fams = [fs.Family(0.5, 1.0), fs.Family(2.0, 0.0), fs.Family(1.0, 0.1)]
    N, T, M, gamma = fs.family_grid(fams, [20, 40], 0.1, 1.0)
    np.testing.assert_array_equal(N, [[10, 20], [40, 80], [20, 40]])
    np.testing.assert_array_equal(M, [[200, 400]] * 3)
    g = nslmodel.optimal_ridge(20, 40, nslmodel.PowerLaw(400, 1.0)).gamma
    assert gamma[0, 1] == g and gamma[1, 1] == 0.0
    assert gamma[2, 1] == 0.1 * nslmodel.optimal_ridge(40, 40, nslmodel.PowerLaw(400, 1.0)).gamma
    assert fams[1].label == "N/T = 2, ridgeless"


def test_scan_deviation_is_the_simulation_against_theory():
    fams = [fs.Family(0.5, 1.0), fs.Family(2.0, 0.0)]
    s = fs.scan(fams, [20, 40, 80], T_over_M=0.1, alpha=1.0, trials=5, seed=1)
    j = 1
    spec = nslmodel.PowerLaw(400, 1.0)
    sim = nslmodel.simulate_sweep(s.N[:, j], s.T[:, j], s.gamma[:, j], spec, trials=5,
                                  seed=np.random.SeedSequence(1, spawn_key=(j,)), progress=False)
    np.testing.assert_array_equal(s.mean[:, j], sim.mean)
    assert s.theory[1, j] == nslmodel.ridgeless_loss(80, 40, spec)
    np.testing.assert_array_equal(s.deviation, s.mean / s.theory - 1)
    assert np.all(s.trials_needed() > 0)


def test_common_exponent_fit_of_exact_families():
    n = np.tile([25.0, 50.0, 100.0, 200.0], (3, 1))
    c_true = np.array([0.3, 0.6, 1.0])
    dev = c_true[:, None] * n**-0.9
    p, p_err, c, c_err = fs.fit_common_exponent(n, dev, 1e-3 * dev)
    # Noise-free data: the generating values, to the solver's tolerance.
    assert math.isclose(p, 0.9, rel_tol=1e-6)
    np.testing.assert_allclose(c, c_true, rtol=1e-5)
    # One exponent from 12 points of 0.1% error: far better determined than from any one family.
    single = fs.fit_decay(n[0], dev[0], 1e-3 * dev[0])
    assert 0 < p_err < single.p_err and np.all(c_err > 0)
