r"""Finite-size corrections: how far the simulated mean lies from the large-N theory.

The closed form of book/solution.md is the leading order of an expansion in 1/N, 1/T, 1/M. At
finite sizes the mean loss of the model differs from it by a relative amount that shrinks with
the size. This module measures that deviation along families that scale N, T and M together at
fixed ratios N/T and T/M and a fixed ridge relative to the optimal one, and fits

.. math::
    \frac{\langle L\rangle_{\rm sim}}{\langle L\rangle_{\rm theory}} - 1 \simeq c\, n^{-p},
    \qquad n = \min(N, T),

by weighted least squares with the Monte Carlo standard errors as weights, giving standard
errors on c and p and the size :math:`n_\epsilon = (c/\epsilon)^{1/p}` above which the theory is
accurate to a relative :math:`\epsilon`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize

from . import _validate as _v
from .analysis import theory_loss  # re-exported: the theory a scan compares with
from .optimal import optimal_ridge
from .simulate import simulate_sweep
from .spectra import PowerLaw

__all__ = [
    "Family", "Scan", "DecayFit", "family_grid", "theory_loss", "scan", "fit_decay", "fit_common_exponent",
    "threshold_size",
]


@dataclass(frozen=True)
class Family:
    """A line through (N, T, M, gamma) space: N = N_over_T T and gamma = ridge x gamma*(N, T)."""

    N_over_T: float
    """Ratio N / T, held fixed."""
    ridge: float
    """gamma / gamma*: 1 is the optimal ridge, 0 the ridgeless limit."""

    def __post_init__(self):
        _v.check_fields(self, N_over_T=_v.Real(0.0, scalar=True), ridge=_v.Real(0.0, closed_low=True, scalar=True))

    @property
    def label(self) -> str:
        r = "ridgeless" if self.ridge == 0 else ("γ*" if self.ridge == 1 else f"{self.ridge:g} γ*")
        return f"N/T = {self.N_over_T:g}, {r}"


@dataclass(frozen=True, eq=False)
class Scan:
    """Simulated and theoretical losses of each family at each size (arrays: family x size)."""

    families: tuple
    """The :class:`Family` of each row."""
    T: np.ndarray
    """Training samples of each column."""
    N: np.ndarray
    M: np.ndarray
    gamma: np.ndarray
    mean: np.ndarray
    """Simulated mean loss."""
    sem: np.ndarray
    """Its standard error."""
    theory: np.ndarray
    """Closed-form expected loss at the same (N, T, M, gamma)."""
    trials: int
    """Trials per point; the points of one size share their draws (nested, see simulate_sweep)."""

    @property
    def size(self) -> np.ndarray:
        """n = min(N, T) of each point."""
        return np.minimum(self.N, self.T)

    @property
    def deviation(self) -> np.ndarray:
        """Relative deviation mean / theory - 1."""
        return self.mean / self.theory - 1.0

    @property
    def deviation_err(self) -> np.ndarray:
        """Standard error of the relative deviation, sem / theory."""
        return self.sem / self.theory

    def trials_needed(self, k: float = 3.0) -> np.ndarray:
        """Trials for the measured deviation to stand ``k`` standard errors from zero.

        The per-trial spread is ``sem * sqrt(trials)``, so ``(k * spread / |mean - theory|)**2``.
        """
        spread = self.sem * np.sqrt(self.trials)
        return (k * spread / np.abs(self.mean - self.theory)) ** 2


def _families(name, value):
    """A non-empty sequence of :class:`Family`, as a tuple."""
    expected = "a non-empty sequence of nslmodel.finite_size.Family"
    if isinstance(value, (str, bytes, Family)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be {expected}; got {_v._kind(value)}")
    if len(value) == 0:
        raise ValueError(f"{name} must be {expected}; got an empty sequence")
    for i, f in enumerate(value):
        if not isinstance(f, Family):
            raise TypeError(f"{name} must be {expected}; got {name}[{i}] = {_v._kind(f)}")
    return tuple(value)


_GRID = dict(
    families=_families, T_values=_v.Integer(1, array=True), T_over_M=_v.Real(0.0, scalar=True),
    alpha=_v.Real(0.0, scalar=True),
)
#: Sizes and deviations of a fit: sizes > 0, deviations any finite, standard errors > 0.
_FIT = dict(size=_v.Real(0.0), dev=_v.Real(), err=_v.Real(0.0))


@_v.validated(**_GRID)
def family_grid(families, T_values, T_over_M, alpha):
    """N, M and gamma of every family at every T (arrays family x size); gamma* from theory."""
    T = np.atleast_1d(T_values).astype(int)
    if T.ndim != 1:
        raise ValueError(f"T_values must be a 1-D array of integers >= 1; got shape {T.shape}")
    M = np.rint(T / T_over_M).astype(int)
    if np.any(M < 1):
        raise ValueError(f"T_over_M must make M = T / T_over_M >= 1 at every T; got T_over_M = {T_over_M!r}")
    N = np.array([[max(1, int(round(f.N_over_T * t))) for t in T] for f in families])
    gamma = np.zeros(N.shape)
    for j, (t, m) in enumerate(zip(T, M)):
        opt = optimal_ridge(N[:, j], t, PowerLaw(int(m), alpha)).gamma
        gamma[:, j] = [f.ridge * g for f, g in zip(families, np.atleast_1d(opt))]
    return N, np.broadcast_to(T, N.shape).copy(), np.broadcast_to(M, N.shape).copy(), gamma


@_v.validated(trials=_v.Integer(1), seed=_v.Optional(_v.Integer(0)), executor=_v.EXECUTOR, **_GRID)
def scan(families, T_values, *, T_over_M, alpha, trials, seed, executor=None) -> Scan:
    """Simulate every family at every size: one sweep (shared draws) per size, independent sizes.

    Size j draws from ``SeedSequence(seed, spawn_key=(j,))``.
    """
    N, T, M, gamma = family_grid(families, T_values, T_over_M, alpha)
    mean, sem, theory = (np.empty(N.shape) for _ in range(3))
    for j in range(N.shape[1]):
        spec = PowerLaw(int(M[0, j]), alpha)
        r = simulate_sweep(N[:, j], T[:, j], gamma[:, j], spec, trials=trials,
                           seed=np.random.SeedSequence(seed, spawn_key=(j,)), executor=executor, progress=False)
        mean[:, j], sem[:, j] = r.mean, r.sem
        theory[:, j] = theory_loss(N[:, j], T[:, j], gamma[:, j], spec)
    return Scan(families=families, T=T, N=N, M=M, gamma=gamma, mean=mean, sem=sem, theory=theory, trials=trials)


@dataclass(frozen=True)
class DecayFit:
    r"""Weighted least-squares fit of :math:`c\,n^{-p}` to deviations with standard errors."""

    c: float
    p: float
    c_err: float
    """Standard error of c (from the covariance of the fit, errors taken as absolute)."""
    p_err: float
    corr: float
    """Correlation of the estimates of c and p."""
    chi2: float
    """Sum of squared normalised residuals."""
    dof: int
    """Points minus 2."""

    def predict(self, n):
        """The fitted deviation at sizes n and its standard error (propagated from c and p)."""
        n = np.asarray(n, dtype=float)
        value = self.c * n ** (-self.p)
        dc, dp = n ** (-self.p), -self.c * np.log(n) * n ** (-self.p)
        var = (dc * self.c_err) ** 2 + (dp * self.p_err) ** 2 + 2 * dc * dp * self.corr * self.c_err * self.p_err
        return value, np.sqrt(var)


def _fit_result(name, values):
    """``values`` if all finite, else a ValueError: the data do not determine the fit."""
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name}: the deviations do not determine c and p (the fit's covariance is not finite); "
            "give more sizes spanning a wider range, or smaller errors"
        )


@_v.validated(n_ref=_v.Optional(_v.Real(0.0, scalar=True)), broadcast=("size", "dev", "err"), **_FIT)
def fit_decay(size, dev, err, *, n_ref=None) -> DecayFit:
    r"""Fit ``dev ~ c size^-p`` weighted by ``err`` (absolute standard errors).

    The fit is done as :math:`c_0 (n/n_{ref})^{-p}` with :math:`n_{ref}` the geometric mean of
    the sizes (which decorrelates the two parameters), then reported at n = 1:
    :math:`c = c_0 n_{ref}^{p}`.
    """
    n, d, e = (np.ravel(v) for v in np.broadcast_arrays(size, dev, err))
    if n.size < 3:
        raise ValueError(f"size must hold at least 3 sizes for fit_decay; got {n.size}")
    if np.unique(n).size < 2:
        raise ValueError(f"size must take at least 2 distinct values for fit_decay; got {n[0].item()!r} at every point")
    ref = float(np.exp(np.mean(np.log(n)))) if n_ref is None else float(n_ref)
    model = lambda x, c0, p: c0 * (x / ref) ** (-p)  # noqa: E731
    c0_start = float(np.sum(d / e**2) / np.sum(1 / e**2))
    (c0, p), cov = scipy.optimize.curve_fit(model, n, d, p0=(c0_start or 1e-3, 1.0), sigma=e,
                                            absolute_sigma=True, maxfev=10000)
    # Propagate to c = c0 ref^p: dc = ref^p (dc0 + c0 log(ref) dp).
    J = np.array([ref**p, c0 * ref**p * np.log(ref)])
    cov_cp = np.array([[J @ cov @ J, J @ cov[:, 1]], [J @ cov[:, 1], cov[1, 1]]])
    chi2 = float(np.sum(((d - model(n, c0, p)) / e) ** 2))
    _fit_result("fit_decay", [c0, p, chi2, *cov_cp.ravel()])
    if cov_cp[0, 0] == 0 or cov_cp[1, 1] == 0:
        raise ValueError("fit_decay: the deviations do not determine c and p (zero variance of the fit)")
    return DecayFit(c=float(c0 * ref**p), p=float(p), c_err=float(np.sqrt(cov_cp[0, 0])),
                    p_err=float(np.sqrt(cov_cp[1, 1])),
                    corr=float(cov_cp[0, 1] / np.sqrt(cov_cp[0, 0] * cov_cp[1, 1])), chi2=chi2, dof=n.size - 2)


@_v.validated(broadcast=("size", "dev", "err"), **_FIT)
def fit_common_exponent(size, dev, err) -> tuple[float, float, np.ndarray, np.ndarray]:
    r"""Fit :math:`c_k n^{-p}` to several families (rows) at once: one exponent, one amplitude each.

    Returns ``(p, p_err, c, c_err)`` with standard errors from the covariance of the weighted
    fit (errors taken as absolute; correlations between points of one size are not modelled).
    """
    n, d, e = (np.atleast_2d(v) for v in np.broadcast_arrays(size, dev, err))
    if n.ndim != 2 or n.shape[1] < 2 or n.size < n.shape[0] + 2:
        raise ValueError(
            f"size must be (families x sizes) with at least 2 sizes and families + 1 < points; got shape {n.shape}"
        )
    k = n.shape[0]
    ref = float(np.exp(np.mean(np.log(n))))
    fam = np.repeat(np.arange(k), n.shape[1])

    def model(x, p, *c0):
        return np.asarray(c0)[fam] * (x / ref) ** (-p)

    start = [1.0] + [float(np.sum(d[i] / e[i] ** 2) / np.sum(1 / e[i] ** 2)) or 1e-3 for i in range(k)]
    par, cov = scipy.optimize.curve_fit(model, n.ravel(), d.ravel(), p0=start, sigma=e.ravel(),
                                        absolute_sigma=True, maxfev=20000)
    p, c0 = par[0], par[1:]
    c = c0 * ref**p
    # c_k = c0_k ref^p: var = ref^2p (var c0_k + c0_k^2 log(ref)^2 var p + 2 c0_k log(ref) cov).
    L = np.log(ref)
    var_c = ref ** (2 * p) * (np.diag(cov)[1:] + (c0 * L) ** 2 * cov[0, 0] + 2 * c0 * L * cov[0, 1:])
    _fit_result("fit_common_exponent", [p, *c, cov[0, 0], *var_c])
    return float(p), float(np.sqrt(cov[0, 0])), c, np.sqrt(var_c)


@_v.validated(fit=_v.Instance(DecayFit, "a DecayFit (from fit_decay)"), eps=_v.Real(0.0, scalar=True))
def threshold_size(fit: DecayFit, eps: float) -> tuple[float, float]:
    r"""Size :math:`n_\epsilon = (|c|/\epsilon)^{1/p}` where the fitted deviation reaches eps, and its error.

    The error is propagated linearly from the covariance of (c, p):
    :math:`\partial\log n/\partial c = 1/(pc)`, :math:`\partial\log n/\partial p = -\log n/p`.
    """
    c, p = abs(fit.c), fit.p
    if p <= 0:
        return float("inf"), float("inf")
    if c == 0:
        raise ValueError("fit must have a non-zero amplitude c (the deviation never reaches eps); got c = 0.0")
    log_n = (np.log(c) - np.log(eps)) / p
    if log_n > _v.LOG_HUGE:  # beyond float64: the fitted deviation does not reach eps at any representable size
        return float("inf"), float("inf")
    n = float(np.exp(log_n))
    g = np.array([1.0 / (p * c), -np.log(n) / p])
    cov = np.array([[fit.c_err**2, fit.corr * fit.c_err * fit.p_err],
                    [fit.corr * fit.c_err * fit.p_err, fit.p_err**2]])
    return float(n), float(n * np.sqrt(g @ cov @ g))
