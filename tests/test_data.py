"""Tests of nslmodel.data and of the simulator drawing its inputs from a data matrix.

The data are synthetic with a spectrum known exactly: X = Q diag(sqrt(n lam)) R^T with Q (n x M)
orthonormal columns orthogonal to the constant vector, so that the centred second-moment
matrix of X is R diag(lam) R^T to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import nslmodel
from _tolerance import MC_K_SEM, assert_rel_close, mc_tolerance
from nslmodel import PowerLaw
from nslmodel.data import (
    compare_learning_curve, digits, empirical, excess_exponent, fit_power_law, patches, sample_image_patches, target_loss, target_power,
)
from nslmodel.simulate import simulate_loss, simulate_sweep
from nslmodel.teacher import teacher_loss

#: An eigendecomposition of an M x M float64 matrix is accurate to ~M eps ||Sigma|| in each
#: eigenvalue; relative to the smallest one used below (lam_min / lam_max = 1e-3, M = 40) that is
#: ~1e-11; 1e-9 leaves two orders of headroom.
RTOL_EIG = 1e-9


def _known(n=500, M=40, seed=0, lam=None):
    rng = np.random.default_rng(seed)
    lam = np.geomspace(1.0, 1e-3, M) if lam is None else lam
    A = rng.standard_normal((n, M))
    A -= A.mean(axis=0)
    Q = np.linalg.qr(A)[0]  # orthonormal, and orthogonal to the ones vector (A was centred)
    R = np.linalg.qr(rng.standard_normal((M, M)))[0]
    X = (Q * np.sqrt(n * lam)) @ R.T + rng.standard_normal(M)  # plus an arbitrary mean
    return X, lam, R


def test_empirical_spectrum_of_known_data():
    X, lam, R = _known()
    e = empirical(X)
    assert_rel_close(e.eigenvalues, lam, RTOL_EIG, "eigenvalues")
    # The rotated rows have a diagonal second moment equal to the spectrum (to rounding) ...
    S = e.inputs.T @ e.inputs / X.shape[0]
    off = np.abs(S - np.diag(np.diag(S))).max()
    assert off <= 1e-12 * lam.max(), off  # rounding of an n-term sum of products of size lam_max
    np.testing.assert_array_equal(np.mean(e.inputs**2, axis=0), e.eigenvalues)
    # ... and the rotation is invertible.
    np.testing.assert_allclose(e.inputs @ e.basis.T + e.mean, X, rtol=0, atol=1e-12 * np.abs(X).max())


def test_target_power_of_a_linear_target_plus_orthogonal_rest():
    X, lam, R = _known(seed=1)
    e = empirical(X)
    rng = np.random.default_rng(2)
    w = rng.standard_normal(X.shape[1])
    r = rng.standard_normal(X.shape[0])
    r -= r.mean()
    Xc = X - X.mean(axis=0)
    r -= Xc @ np.linalg.lstsq(Xc, r, rcond=None)[0]  # orthogonal to every centred input
    tp = target_power(e, X @ w + 3.0 + r)  # the constant is removed by centring
    # beta_I^2 = (w . v_I)^2 lam_I in the eigenbasis v_I (sign-free).
    want = (e.basis.T @ w) ** 2 * e.eigenvalues
    assert_rel_close(tp.beta2, want, 1e-9, "beta2")  # conditioned by lam_max / lam_min = 1e3
    assert math.isclose(tp.residual, float(np.mean(r * r)), rel_tol=1e-9)


def test_power_law_fit_recovers_exponent_and_range():
    I = np.arange(1, 401, dtype=float)
    f = fit_power_law(2.0 * I**-1.5)
    assert (f.lo, f.hi) == (1, 400)
    assert math.isclose(f.alpha, 0.5, abs_tol=1e-12) and f.alpha_spread < 1e-12
    assert math.isclose(f.lam_plus, 2.0, rel_tol=1e-12)
    # A broken power law: slope -1.5 up to I = 100, then -3.5. The fitted range must stop near
    # the break: the first grid endpoint past it where the residual exceeds tol (0.1 in log).
    lam = np.where(I <= 100, I**-1.5, 100.0**2 * I**-3.5)
    f = fit_power_law(lam)
    assert f.lo == 1 and 100 <= f.hi <= 120, f
    assert abs(f.alpha - 0.5) < 0.05, f
    with pytest.raises(ValueError, match="at least 4 positive"):
        fit_power_law([1.0, 0.5, 0.0])


def test_patches_of_a_small_image():
    img = np.arange(36, dtype=float).reshape(6, 6)
    P = patches([img], 3)  # non-overlapping: 4 patches
    assert P.shape == (4, 9)
    np.testing.assert_array_equal(P[1], img[0:3, 3:6].ravel() / 255.0)
    rgb = np.repeat(img[:, :, None], 3, axis=2)
    np.testing.assert_array_equal(patches([rgb], 2, stride=1), patches([img], 2, stride=1))
    assert patches([img], 2, stride=1).shape == (25, 4)


# --------------------------------------------------------------------------------------------
# The simulator with data inputs
# --------------------------------------------------------------------------------------------
def test_inputs_not_in_their_eigenbasis_are_rejected():
    X, lam, _ = _known(n=200, M=20)
    with pytest.raises(ValueError, match="eigenbasis"):
        simulate_loss(5, 10, 1e-3, nslmodel.Spectrum(lam), trials=2, seed=1, inputs=X)


def test_linear_targets_are_the_fixed_teacher():
    X, lam, _ = _known(n=300, M=30, seed=3)
    e = empirical(X)
    w = np.random.default_rng(4).standard_normal(30)
    y = e.inputs @ w
    kw = dict(trials=3, seed=9, progress=False, inputs=e.inputs)
    a = simulate_loss(12, 20, 1e-3, e.spectrum, teacher=w, **kw)
    b = simulate_loss(12, 20, 1e-3, e.spectrum, targets=y, **kw)
    # Same rows drawn; the least-squares teacher of an exactly linear target is w to ~cond * eps
    # (cond = lam_max / lam_min = 1e3) and the residual is rounding: 1e-10 relative.
    assert_rel_close(b.samples, a.samples, 1e-10, "targets vs teacher")


def test_exact_and_sampled_agree_with_data_inputs_and_targets():
    X, lam, _ = _known(n=400, M=30, seed=5)
    e = empirical(X)
    y = np.tanh(e.inputs[:, 0] / math.sqrt(lam[0])) + 0.3 * e.inputs[:, 3]  # non-linear target
    kw = dict(trials=200, seed=8, progress=False, inputs=e.inputs, targets=y)
    exact = simulate_loss(15, 25, 1e-3, e.spectrum, **kw)
    sampled = simulate_loss(15, 25, 1e-3, e.spectrum, method="sampled", T_test=100, **kw)
    # The same training rows; the exact loss is the average of the sampled one over test rows
    # drawn from the empirical distribution: paired differences of mean 0 (no allowance).
    d = sampled.samples - exact.samples
    assert abs(d.mean()) <= MC_K_SEM * d.std(ddof=1) / math.sqrt(d.size)


def test_gaussian_data_matrix_reproduces_the_gaussian_theory():
    # A large Gaussian sample as the data matrix: drawing rows from it is drawing Gaussian inputs
    # with its empirical spectrum, so the theory on that spectrum applies (same tolerance as the
    # Gaussian simulator: MC_K_SEM sem plus FINITE_SIZE_COEF / min(N, T), see _tolerance.py).
    lam = PowerLaw(200, 1.0).eigenvalues
    X = np.random.default_rng(6).standard_normal((20000, 200)) * np.sqrt(lam)
    e = empirical(X)
    N, T, gamma = 40, 60, 1e-3
    r = simulate_loss(N, T, gamma, e.spectrum, trials=200, seed=4, progress=False, inputs=e.inputs)
    expected = nslmodel.expected_loss(N, T, gamma, e.spectrum)
    assert abs(r.mean - expected) <= mc_tolerance(r.sem, N, T, expected)


def test_target_loss_of_a_linear_target_is_the_teacher_loss():
    X, lam, _ = _known(n=300, M=30, seed=7)
    e = empirical(X)
    w = np.random.default_rng(8).standard_normal(30)
    tp = target_power(e, e.inputs @ w)
    got = target_loss(10, 20, 1e-3, e, tp)
    want = teacher_loss(10, 20, 1e-3, e.spectrum, w**2 * e.eigenvalues)
    # residual ~ rounding (1e-16 of |y|^2): the extra noise and constant move the loss by less.
    assert_rel_close(got, want, 1e-9, "linear target")


def test_compare_learning_curve_uses_the_optimal_ridge_and_both_simulations():
    X, lam, _ = _known(n=300, M=30, seed=9)
    e = empirical(X)
    N = np.array([5, 10, 20])
    c = compare_learning_curve(N, 15, 0.5, e, trials=3, seed=2)
    g = 0.5 * nslmodel.optimal_ridge(N, 15, e.spectrum).gamma
    np.testing.assert_array_equal(c.gamma, g)
    np.testing.assert_array_equal(c.theory, nslmodel.expected_loss(N, 15, g, e.spectrum))
    np.testing.assert_array_equal(
        c.data_mean, simulate_sweep(N, 15, g, e.spectrum, trials=3, seed=2, inputs=e.inputs, progress=False).mean)
    np.testing.assert_array_equal(c.gauss_mean, simulate_sweep(N, 15, g, e.spectrum, trials=3, seed=2, progress=False).mean)
    y = e.inputs[:, 0] ** 2  # a non-linear target: its remainder adds a floor to the theory
    t = compare_learning_curve(N, 15, 1.0, e, y=y, trials=3, seed=2)
    assert np.all(t.theory > 0.5 * target_power(e, y).residual)


def test_shipped_data_sets_load():
    pytest.importorskip("sklearn")
    X, labels = digits()
    assert X.shape == (1797, 64) and labels.shape == (1797,)
    P = sample_image_patches(16, stride=16)  # two 427 x 640 photographs
    assert P.shape == (2 * (427 // 16) * (640 // 16), 256)
    assert 0.0 <= P.min() and P.max() <= 1.0


def test_excess_exponent_of_a_power_law_above_a_floor():
    x = np.array([4.0, 8.0, 16.0, 32.0])
    assert math.isclose(excess_exponent(x, 0.3 + 2.0 * x**-0.7, floor=0.3), 0.7, rel_tol=1e-9)
    with pytest.raises(ValueError, match="at least 2 points"):
        excess_exponent(x, np.zeros(4), floor=1.0)


def test_curve_comparison_residuals_and_exponents():
    from nslmodel.data import CurveComparison

    x = np.array([4.0, 8.0, 16.0, 32.0])
    th = 0.3 + 2.0 * x**-0.7
    c = CurveComparison(N=np.full(4, 20.0), T=x, gamma=np.ones(4), theory=th, data_mean=th * 1.1,
                        data_sem=np.full(4, 0.01), gauss_mean=th, gauss_sem=np.full(4, 0.02))
    np.testing.assert_array_equal(c.varied, x)
    np.testing.assert_allclose(c.z("data"), 0.1 * th / 0.01, rtol=1e-12)
    np.testing.assert_array_equal(c.z("gauss"), np.zeros(4))
    np.testing.assert_allclose(c.scaled_rel(), 0.1 * np.minimum(20.0, x), rtol=1e-12)
    meas, pred, dev = c.exponents(floor=0.3, upto=16)
    assert math.isclose(pred, 0.7, rel_tol=1e-9) and math.isclose(dev, 0.1, rel_tol=1e-12)
    assert meas == excess_exponent(x[:3], 1.1 * th[:3], floor=0.3)
    with pytest.raises(ValueError, match="which must be"):
        c.z("other")
