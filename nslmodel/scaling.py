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
    # A_alpha, the integral of 1 / (1 + x**(1 + alpha)) over x > 0, is finite only for alpha > 0.
    return _validate.positive_scalar("alpha", alpha)


def _out(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


def amplitude(alpha) -> float:
    r""":math:`A_\alpha = \pi / ((1+\alpha) \sin(\pi/(1+\alpha)))` (paper Eq. 130).

    It is :math:`\int_0^\infty dx / (1 + x^{1+\alpha})`, the integral behind the D1 trace.
    """
    a = _alpha(alpha)
    return float(np.pi / ((1 + a) * np.sin(np.pi / (1 + a))))


def _prefactor(M, lam_plus, sigma_w, C):
    r""":math:`C \sigma_w^2 \lambda_+ / (2M)`, the scale of every approximate loss."""
    M = _validate.positive("M", M)
    lam_plus = _validate.positive_scalar("lam_plus", lam_plus)
    sigma_w = _validate.nonnegative("sigma_w", sigma_w)
    return _validate.label_dim(C) * sigma_w**2 * lam_plus / (2 * M)


def _rho0(M, lam_plus, sigma_u):
    r""":math:`\rho_0 = \sigma_u^2 \lambda_+ / M`."""
    M = _validate.positive("M", M)
    lam_plus = _validate.positive_scalar("lam_plus", lam_plus)
    return _validate.positive_scalar("sigma_u", sigma_u) ** 2 * lam_plus / M


def approx_D1(rho, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`D_1 \approx A_\alpha (\rho/\rho_0)^{-1/(1+\alpha)}` (paper Eqs. 129-130)."""
    a = _alpha(alpha)
    rho = _validate.positive("rho", rho)
    return _out(amplitude(a) * (rho / _rho0(M, lam_plus, sigma_u)) ** (-1.0 / (1 + a)))


def approx_rho(d, M, alpha, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\rho \approx \rho_0 (A_\alpha / D_1)^{1+\alpha}`, the inverse of :func:`approx_D1` (paper Eq. 131)."""
    a = _alpha(alpha)
    d = _validate.positive("d", d)
    return _out(_rho0(M, lam_plus, sigma_u) * (amplitude(a) / d) ** (1 + a))


def approx_loss(d, N, T, M, alpha, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r"""Approximate loss as a function of :math:`d = D_1` (paper Eq. 138).

    .. math::
        \langle L \rangle \approx \frac{C \sigma_w^2 \lambda_+}{2M} A_\alpha^{1+\alpha}
        \frac{d^{-\alpha} N T}{(1+\alpha) N T - \alpha (N+T) d - (1-\alpha) d^2}.

    ``d`` must lie in :math:`0 < d \le \min(N, T)`, where the denominator is positive (it equals
    :math:`n(m - n)` at :math:`d = n = \min(N, T)`, :math:`m = \max(N, T)`, so the loss is ``inf``
    only at :math:`d = N = T`). Returns a float for scalar input, otherwise an array broadcast
    from d, N, T and M.
    """
    a = _alpha(alpha)
    d, N, T = (_validate.positive(k, v) for k, v in (("d", d), ("N", N), ("T", T)))
    d_b, n_b = np.broadcast_arrays(d, np.minimum(N, T))
    over = d_b > n_b
    if np.any(over):
        raise ValueError(
            f"d must lie in 0 < d <= min(N, T); got d = {float(d_b[over][0])!r} with "
            f"min(N, T) = {float(n_b[over][0])!r}"
        )
    den = (1 + a) * N * T - a * (N + T) * d - (1 - a) * d * d
    pref = _prefactor(M, lam_plus, sigma_w, C) * amplitude(a) ** (1 + a)
    with np.errstate(divide="ignore"):
        return _out(pref * d ** (-a) * N * T / den)


def optimal_d(N, T, alpha):
    r"""Optimal :math:`d^*`: positive root of :math:`(2+\alpha)(1-\alpha)d^2 + \alpha(1+\alpha)(N+T)d - \alpha(1+\alpha)NT = 0`.

    At :math:`\alpha = 1` the quadratic term vanishes and :math:`d^* = NT/(N+T)` (paper Eq. 141).
    The root is taken in the cancellation-free form :math:`2c / (-b - \sqrt{b^2 - 4ac})`. It lies
    in :math:`(0, \min(N, T))` (the quadratic is :math:`2\min(N, T)^2 > 0` there); when
    :math:`\min(N, T)/\max(N, T)` is near float64 resolution, rounding can put it a few ulps
    above, so it is capped at :math:`\min(N, T)`.
    """
    a = _alpha(alpha)
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    qa = (2 + a) * (1 - a)
    qb = a * (1 + a) * (N + T)
    qc = -a * (1 + a) * N * T
    root = 2 * qc / (-qb - np.sqrt(qb * qb - 4 * qa * qc))
    return _out(np.minimum(root, np.minimum(N, T)))


def approx_optimal(N, T, M, alpha, *, lam_plus=1.0, sigma_u=1.0, sigma_w=1.0, C=1) -> ScalingOptimum:
    r"""Approximate optimum (paper Eqs. 140-144): :math:`d^*`, :math:`L^*` and
    :math:`\gamma^* \approx \rho_0 (A_\alpha/d^*)^{1+\alpha}(N-d^*)(T-d^*)`.
    """
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

    the :math:`N^{-\alpha}` (and, by duality, :math:`T^{-\alpha}`) law of the ridgeless limit
    (paper Eqs. 105-126 with Eq. 131). Like :func:`nslmodel.ridgeless_loss` it is ``inf`` at
    N = T.
    """
    a = _alpha(alpha)
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    pref = _prefactor(M, lam_plus, sigma_w, C) * amplitude(a) ** (1 + a)
    with np.errstate(divide="ignore"):
        return _out(pref * np.minimum(N, T) ** (-(1 + a)) * N * T / np.abs(T - N))


def optimal_loss_alpha1(N, T, M, *, lam_plus=1.0, sigma_w=1.0, C=1):
    r""":math:`L^* \approx \frac{\pi^2 C \sigma_w^2 \lambda_+}{8M}\left(\frac1N + \frac1T\right)`, paper Eq. 142 at :math:`\alpha = 1`."""
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    return _out(np.pi**2 / 4 * _prefactor(M, lam_plus, sigma_w, C) * (1 / N + 1 / T))


def optimal_ridge_alpha1(M, *, lam_plus=1.0, sigma_u=1.0):
    r""":math:`\gamma^* \approx \pi^2 \sigma_u^2 \lambda_+ / (4M)` at :math:`\alpha = 1` (paper Eq. 145).

    A constant set by the inverse latent dimension, independent of N and T.
    """
    return _out(np.pi**2 / 4 * _rho0(M, lam_plus, sigma_u))
