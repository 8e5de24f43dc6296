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


def _alpha(alpha) -> float:
    a = float(np.asarray(alpha))
    if not (np.isfinite(a) and a > 0):
        raise ValueError(f"alpha must be positive and finite for the scaling laws (0 < alpha < inf); got {alpha!r}")
    return a


def _out(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def amplitude(alpha) -> float:
    r""":math:`A_\alpha = \pi / ((1+\alpha) \sin(\pi/(1+\alpha)))`, the integral of the D1 trace."""
    a = _alpha(alpha)
    return float(np.pi / ((1 + a) * np.sin(np.pi / (1 + a))))


def _rho0(M, lam_plus, sigma_u):
    M = _validate.positive("M", M)
    return sigma_u**2 * float(_validate.positive("lam_plus", lam_plus)) / M


def approx_D1(rho, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`D_1 \approx A_\alpha (\rho/\rho_0)^{-1/(1+\alpha)}` (paper Eq. 133)."""
    a = _alpha(alpha)
    rho = _validate.positive("rho", rho)
    return _out(amplitude(a) * (rho / _rho0(M, lam_plus, sigma_u)) ** (-1.0 / (1 + a)))


def approx_rho(d, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\rho \approx \rho_0 (A_\alpha / D_1)^{1+\alpha}`, the inverse of :func:`approx_D1`."""
    a = _alpha(alpha)
    d = _validate.positive("d", d)
    return _out(_rho0(M, lam_plus, sigma_u) * (amplitude(a) / d) ** (1 + a))


def approx_loss(d, N, T, M, alpha, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r"""Approximate loss as a function of :math:`d = D_1` (paper Eqs. 137-139).

    .. math::
        \langle L \rangle \approx \frac{C \sigma_w^2 \lambda_+}{2M} A_\alpha^{1+\alpha}
        \frac{d^{-\alpha} N T}{(1+\alpha) N T - \alpha (N+T) d - (1-\alpha) d^2}.
    """
    a = _alpha(alpha)
    d, N, T = (_validate.positive(k, v) for k, v in (("d", d), ("N", N), ("T", T)))
    M = _validate.positive("M", M)
    lam_plus = _validate.positive("lam_plus", lam_plus)
    den = (1 + a) * N * T - a * (N + T) * d - (1 - a) * d * d
    pref = C * sigma_w**2 * lam_plus / (2 * M) * amplitude(a) ** (1 + a)
    return _out(pref * d ** (-a) * N * T / den)


def optimal_d(N, T, alpha):
    r"""Optimal :math:`d^*`: positive root of :math:`(2+\alpha)(1-\alpha)d^2 + \alpha(1+\alpha)(N+T)d - \alpha(1+\alpha)NT = 0`.

    At :math:`\alpha = 1` the quadratic term vanishes and :math:`d^* = NT/(N+T)` (paper Eq. 141).
    The root is taken in the cancellation-free form :math:`2c / (-b - \sqrt{b^2 - 4ac})`.
    """
    a = _alpha(alpha)
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    qa = (2 + a) * (1 - a)
    qb = a * (1 + a) * (N + T)
    qc = -a * (1 + a) * N * T
    return _out(2 * qc / (-qb - np.sqrt(qb * qb - 4 * qa * qc)))


def approx_optimal(N, T, M, alpha, *, lam_plus=1.0, sigma_u=1.0, sigma_w=1.0, C=1) -> ScalingOptimum:
    r"""Approximate optimum: :math:`d^*`, :math:`L^*` and :math:`\gamma^* \approx \rho_0 (A_\alpha/d^*)^{1+\alpha}(N-d^*)(T-d^*)`."""
    d = optimal_d(N, T, alpha)
    loss = approx_loss(d, N, T, M, alpha, lam_plus=lam_plus, sigma_w=sigma_w, C=C)
    rho = approx_rho(d, M, alpha, lam_plus=lam_plus, sigma_u=sigma_u)
    gamma = _out(rho * (np.asarray(N) - d) * (np.asarray(T) - d))
    return ScalingOptimum(d=d, loss=loss, gamma=gamma)


def approx_ridgeless(N, T, M, alpha, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r"""Ridgeless loss with :math:`\rho_* \approx \rho_0 (A_\alpha / n)^{1+\alpha}`, :math:`n = \min(N, T)`.

    .. math::
        \langle L \rangle_0 \approx \frac{C\sigma_w^2\lambda_+}{2M} A_\alpha^{1+\alpha}
        n^{-(1+\alpha)} \frac{NT}{|T-N|} \;\to\; \frac{C\sigma_w^2\lambda_+}{2M}
        A_\alpha^{1+\alpha} N^{-\alpha} \quad (N \ll T),

    the :math:`N^{-\alpha}` (and, by duality, :math:`T^{-\alpha}`) law of paper Eq. 126.
    """
    a = _alpha(alpha)
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    M = _validate.positive("M", M)
    lam_plus = _validate.positive("lam_plus", lam_plus)
    n = np.minimum(N, T)
    pref = C * sigma_w**2 * lam_plus / (2 * M) * amplitude(a) ** (1 + a)
    with np.errstate(divide="ignore"):
        return _out(pref * n ** (-(1 + a)) * N * T / np.abs(T - N))


def optimal_loss_alpha1(N, T, M, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r""":math:`L^* \approx \frac{\pi^2 C \sigma_w^2 \lambda_+}{8M}\left(\frac1N + \frac1T\right)` at :math:`\alpha = 1` (paper Eq. 144)."""
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    M = _validate.positive("M", M)
    lam_plus = _validate.positive("lam_plus", lam_plus)
    return _out(np.pi**2 * C * sigma_w**2 * lam_plus / (8 * M) * (1 / N + 1 / T))


def optimal_ridge_alpha1(M, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\gamma^* \approx \pi^2 \sigma_u^2 \lambda_+ / (4M)` at :math:`\alpha = 1` (paper Eq. 145).

    A constant set by the inverse latent dimension, independent of N and T.
    """
    M = _validate.positive("M", M)
    lam_plus = _validate.positive("lam_plus", lam_plus)
    return _out(np.pi**2 * sigma_u**2 * lam_plus / (4 * M))
