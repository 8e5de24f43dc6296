r"""Scaling approximations for a power-law spectrum (book/solution.md; paper Eqs. 129-145).

For :math:`\lambda_I = \lambda_+ I^{-(1+\alpha)}` and :math:`1 \ll D_1 \ll M` the traces become
integrals over I. With :math:`\rho_0 = \sigma_u^2 \lambda_+ / M` and
:math:`A_\alpha = \pi / ((1+\alpha)\sin(\pi/(1+\alpha)))`:

.. math::
    D_1 \approx A_\alpha (\rho/\rho_0)^{-1/(1+\alpha)}, \qquad
    D_2 \approx \tfrac{\alpha}{1+\alpha} D_1, \qquad
    \rho \approx \rho_0 (A_\alpha / D_1)^{1+\alpha}.

These are approximations: the book compares them with the exact theory (at alpha = 1 they are
within a few per cent of the exact optimum; at alpha = 0.5 the error grows with N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = [
    "ScalingOptimum",
    "amplitude",
    "approx_D1",
    "approx_rho",
    "approx_loss",
    "optimal_d",
    "approx_optimal",
    "approx_ridgeless",
    "optimal_loss_alpha1",
    "optimal_ridge_alpha1",
]


@dataclass(frozen=True)
class ScalingOptimum:
    """The approximate optimum (paper Eqs. 140-145); floats or arrays broadcast from N, T."""

    d: np.ndarray | float
    """Optimal D1, the positive root of the quadratic in :func:`optimal_d`."""
    loss: np.ndarray | float
    """Approximate optimal loss L*."""
    gamma: np.ndarray | float
    """Approximate optimal ridge gamma*."""


# The constraints on the parameters of this module. A_alpha, the integral of
# 1 / (1 + x**(1 + alpha)) over x > 0, is finite only for alpha > 0.
_POSITIVE = _validate.Real(0.0)
_PARAMS = dict(
    rho=_POSITIVE, d=_POSITIVE, N=_POSITIVE, T=_POSITIVE, M=_POSITIVE,
    alpha=_validate.Real(0.0, scalar=True), lam_plus=_validate.SCALE_U, sigma_u=_validate.SCALE_U,
    sigma_w=_validate.SCALE, C=_validate.LABEL_DIM,
)
_SCALES = "scales as C sigma_w**2 lam_plus / M (losses) and sigma_u**2 lam_plus / M (ridges)"


def _checked(*names):
    """Validate the named parameters of the decorated function with the module's constraints."""
    return _validate.validated(
        broadcast=tuple(n for n in names if n in ("rho", "d", "N", "T", "M")),
        **{n: _PARAMS[n] for n in names},
    )


def _out(log_x, what, divergent=False):
    """A result computed as a logarithm: a float or an array, or a clear range error."""
    return _validate.shape_out(_validate.from_log(log_x, what, _SCALES, divergent=divergent), np.shape(log_x))


def _log_amplitude(a: float) -> float:
    return float(np.log(np.pi / ((1 + a) * np.sin(np.pi / (1 + a)))))


@_checked("alpha")
def amplitude(alpha) -> float:
    r""":math:`A_\alpha = \pi / ((1+\alpha) \sin(\pi/(1+\alpha)))` (paper Eq. 130).

    It is :math:`\int_0^\infty dx / (1 + x^{1+\alpha})`, the integral behind the D1 trace.
    """
    return float(np.exp(_log_amplitude(alpha)))


def _log_prefactor(M, lam_plus, sigma_w, C):
    r""":math:`\log[C \sigma_w^2 \lambda_+ / (2M)]`, the scale of every approximate loss."""
    log_w = 2.0 * np.log(sigma_w) if sigma_w > 0 else -np.inf
    return np.log(C / 2.0) + log_w + np.log(lam_plus) - np.log(M)


def _log_rho0(M, lam_plus, sigma_u):
    r""":math:`\log\rho_0 = \log[\sigma_u^2 \lambda_+ / M]`."""
    return 2.0 * np.log(sigma_u) + np.log(lam_plus) - np.log(M)


@_checked("rho", "M", "alpha", "lam_plus", "sigma_u")
def approx_D1(rho, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`D_1 \approx A_\alpha (\rho/\rho_0)^{-1/(1+\alpha)}` (paper Eqs. 129-130)."""
    a = alpha
    return _out(_log_amplitude(a) - (np.log(rho) - _log_rho0(M, lam_plus, sigma_u)) / (1 + a), "D1")


@_checked("d", "M", "alpha", "lam_plus", "sigma_u")
def approx_rho(d, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\rho \approx \rho_0 (A_\alpha / D_1)^{1+\alpha}`, the inverse of :func:`approx_D1` (paper Eq. 131)."""
    a = alpha
    return _out(_log_rho0(M, lam_plus, sigma_u) + (1 + a) * (_log_amplitude(a) - np.log(d)), "rho")


@_checked("d", "N", "T", "M", "alpha", "lam_plus", "sigma_w", "C")
def approx_loss(d, N, T, M, alpha, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r"""Approximate loss as a function of :math:`d = D_1` (paper Eq. 138).

    .. math::
        \langle L \rangle \approx \frac{C \sigma_w^2 \lambda_+}{2M} A_\alpha^{1+\alpha}
        \frac{d^{-\alpha} N T}{(1+\alpha) N T - \alpha (N+T) d - (1-\alpha) d^2}.

    ``d`` must lie in :math:`0 < d \le \min(N, T)`, where the denominator is positive (it equals
    :math:`n(m - n)` at :math:`d = n = \min(N, T)`, :math:`m = \max(N, T)`, so the loss is ``inf``
    only at :math:`d = N = T`). It is evaluated as
    :math:`d^{-\alpha} / [(1+\alpha) - \alpha (d/N + d/T) - (1-\alpha)(d/N)(d/T)]`, whose terms are
    all of order one, so that no product N T can overflow. Returns a float for scalar input,
    otherwise an array broadcast from d, N, T and M.
    """
    a = alpha
    d_b, n_b = np.broadcast_arrays(d, np.minimum(N, T))
    over = d_b > n_b
    if np.any(over):
        raise ValueError(
            f"d must lie in 0 < d <= min(N, T); got d = {float(d_b[over][0])!r} with "
            f"min(N, T) = {float(n_b[over][0])!r}"
        )
    x, y = d / N, d / T
    bracket = (1 + a) - a * (x + y) - (1 - a) * x * y
    log_pref = _log_prefactor(M, lam_plus, sigma_w, C) + (1 + a) * _log_amplitude(a)
    with np.errstate(divide="ignore"):
        log_l = log_pref - a * np.log(d) - np.log(bracket)
    # The only exact divergence is d = N = T, where the bracket is (1 + a) - 2a - (1 - a) = 0.
    return _out(np.where((x == 1) & (y == 1), np.inf, log_l), "approx_loss", divergent=True)


@_checked("N", "T", "alpha")
def optimal_d(N, T, alpha):
    r"""Optimal :math:`d^*`: positive root of :math:`(2+\alpha)(1-\alpha)d^2 + \alpha(1+\alpha)(N+T)d - \alpha(1+\alpha)NT = 0`.

    At :math:`\alpha = 1` the quadratic term vanishes and :math:`d^* = NT/(N+T)` (paper Eq. 141).
    With :math:`n = \min(N, T)`, :math:`r = n/\max(N, T)` and :math:`d = n x` the quadratic
    becomes :math:`(2+\alpha)(1-\alpha) r x^2 + k (1 + r) x - k = 0`, :math:`k = \alpha(1+\alpha)`,
    whose coefficients are of order one whatever N and T; its root is taken in the
    cancellation-free form :math:`x = 2k / (k(1+r) + \sqrt{k^2(1+r)^2 + 4(2+\alpha)(1-\alpha) r k})`.
    It lies in :math:`(0, 1)` (the quadratic is :math:`2r > 0` at x = 1); rounding can put it an
    ulp above when r is near float64 resolution, so it is capped at 1.
    """
    a = alpha
    n = np.minimum(N, T)
    r = n / np.maximum(N, T)
    k = a * (1 + a)
    qa = (2 + a) * (1 - a)
    x = 2 * k / (k * (1 + r) + np.sqrt(k * k * (1 + r) ** 2 + 4 * qa * r * k))
    return _validate.shape_out(n * np.minimum(x, 1.0), np.shape(n))


@_checked("N", "T", "M", "alpha", "lam_plus", "sigma_u", "sigma_w", "C")
def approx_optimal(N, T, M, alpha, *, lam_plus=1.0, sigma_u=1.0, sigma_w=1.0, C=1) -> ScalingOptimum:
    r"""Approximate optimum (paper Eqs. 140-144): :math:`d^*`, :math:`L^*` and
    :math:`\gamma^* \approx \rho_0 (A_\alpha/d^*)^{1+\alpha}(N-d^*)(T-d^*)`.
    """
    d = optimal_d(N, T, alpha)
    loss = approx_loss(d, N, T, M, alpha, lam_plus=lam_plus, sigma_w=sigma_w, C=C)
    log_rho = _log_rho0(M, lam_plus, sigma_u) + (1 + alpha) * (_log_amplitude(alpha) - np.log(d))
    with np.errstate(divide="ignore"):  # d* = min(N, T) to rounding: gamma* = 0
        gamma = _out(log_rho + np.log(N - d) + np.log(T - d), "gamma*")
    return ScalingOptimum(d=d, loss=loss, gamma=gamma)


@_checked("N", "T", "M", "alpha", "lam_plus", "sigma_w", "C")
def approx_ridgeless(N, T, M, alpha, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r"""Ridgeless loss with :math:`\rho_* \approx \rho_0 (A_\alpha / n)^{1+\alpha}`, :math:`n = \min(N, T)`.

    .. math::
        \langle L \rangle_0 \approx \frac{C\sigma_w^2\lambda_+}{2M} A_\alpha^{1+\alpha}
        n^{-(1+\alpha)} \frac{NT}{|T-N|} \;\to\; \frac{C\sigma_w^2\lambda_+}{2M}
        A_\alpha^{1+\alpha} N^{-\alpha} \quad (N \ll T),

    the :math:`N^{-\alpha}` (and, by duality, :math:`T^{-\alpha}`) law of the ridgeless limit
    (paper Eqs. 105-126 with Eq. 131), evaluated as :math:`n^{-\alpha} / (1 - n/m)`,
    :math:`m = \max(N, T)`. Like :func:`nslmodel.ridgeless_loss` it is ``inf`` at N = T.
    """
    a = alpha
    n = np.minimum(N, T)
    log_pref = _log_prefactor(M, lam_plus, sigma_w, C) + (1 + a) * _log_amplitude(a)
    with np.errstate(divide="ignore"):
        return _out(log_pref - a * np.log(n) - np.log1p(-n / np.maximum(N, T)), "approx_ridgeless", divergent=True)


@_checked("N", "T", "M", "lam_plus", "sigma_w", "C")
def optimal_loss_alpha1(N, T, M, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r""":math:`L^* \approx \frac{\pi^2 C \sigma_w^2 \lambda_+}{8M}\left(\frac1N + \frac1T\right)`, paper Eq. 142 at :math:`\alpha = 1`."""
    log_l = np.log(np.pi**2 / 4) + _log_prefactor(M, lam_plus, sigma_w, C) + np.logaddexp(-np.log(N), -np.log(T))
    return _out(log_l, "optimal_loss_alpha1")


@_checked("M", "lam_plus", "sigma_u")
def optimal_ridge_alpha1(M, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\gamma^* \approx \pi^2 \sigma_u^2 \lambda_+ / (4M)` at :math:`\alpha = 1` (paper Eq. 145).

    A constant set by the inverse latent dimension, independent of N and T.
    """
    return _out(np.log(np.pi**2 / 4) + _log_rho0(M, lam_plus, sigma_u), "optimal_ridge_alpha1")
