r"""The optimal ridge :math:`\gamma^* = \arg\min_\gamma \langle L \rangle` (book/solution.md; paper Eq. 128).

Because :math:`\gamma` increases monotonically with :math:`\rho`, the loss is minimised over
:math:`u = \log\mu` (:math:`\mu = \rho M/\sigma_u^2`) on the physical branch, where every
quantity is explicit, and :math:`\gamma^* = \rho (N - D_1)(T - D_1)` is read off at the end: no
root finding. A scan over ``SCAN_POINTS`` values of u locates the basin and a golden-section
search refines it until the bracket is ``GOLDEN_TOL`` wide; the loss, flat at its minimum, is
then exact to rounding and :math:`\gamma^*` to about ``GOLDEN_TOL``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._traces import EDGE, F1
from .loss import _terms_flat, check_scales, gaps
from .ridgeless import ridgeless_terms
from .solver import _shape_out, check_common, ridgeless_root

__all__ = ["OptimalRidge", "optimal_ridge"]

# Points of the coarse scan in u; the golden-section bracket is the two neighbours of the best
# one, which contains the minimum whenever the loss has a single basin on the scale of the
# scan step. Over the table's span (the spectrum's log-range plus 2 EDGE = 40) the step is
# about 0.5-1 in u.
SCAN_POINTS = 96
# Bracket width in u at which the golden-section search stops. The loss is quadratic at its
# minimum, so its error is ~ curvature * GOLDEN_TOL**2, far below float64 resolution.
GOLDEN_TOL = 1e-9
_INVPHI = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class OptimalRidge:
    """The optimal ridge and the loss there; floats or arrays broadcast from N and T."""

    gamma: np.ndarray | float
    """Optimal ridge gamma* (0 when the ridgeless limit is optimal, e.g. min(N, T) >= M
    without label noise)."""
    loss: np.ndarray | float
    """Expected test loss at gamma* (signal plus noise)."""
    rho: np.ndarray | float
    """Latent-space ridge at gamma*."""
    D1: np.ndarray | float
    """D1 at gamma*, the effective number of learned latent directions."""


def _loss_at(u, N, T, table, M, *, C, sigma_u, sigma_w, sigma_eps):
    s = table.sums(u)
    dN, dT = gaps(N, T, s, table.rank)
    ok = (dN > 0) & (dT > 0)
    dN, dT = np.where(ok, dN, 1.0), np.where(ok, dT, 1.0)
    log_rho = u + 2.0 * np.log(sigma_u) - np.log(M)
    sig, noi = _terms_flat(N, T, log_rho, dN, dT, s, C=C, sigma_u=sigma_u, sigma_w=sigma_w,
                           sigma_eps=sigma_eps)
    # Off the physical branch (only within rounding of rho_*) the loss is effectively infinite.
    return np.where(ok, sig + noi, np.inf), log_rho, dN, dT, s


def optimal_ridge(N, T, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1) -> OptimalRidge:
    r"""Optimal ridge :math:`\gamma^*` and the loss there (paper Eq. 128), with label noise if any.

    Parameters
    ----------
    N, T : float or array_like
        Positive reals, broadcast together.
    spectrum : PowerLaw, Spectrum or array_like
    sigma_u, sigma_w, sigma_eps, C
        As in :func:`nslmodel.expected_loss`.

    Returns
    -------
    OptimalRidge
        ``gamma``, ``loss``, ``rho``, ``D1``, each broadcast from N and T. Where the infimum
        is the ridgeless limit itself (``min(N, T) >= M`` without label noise, where the
        ridgeless loss vanishes), ``gamma = rho = 0``, ``D1 = M`` and ``loss`` is
        :func:`nslmodel.ridgeless_loss`.
    """
    N, T, spec, sigma_u = check_common(N, T, spectrum, sigma_u)
    sigma_w, sigma_eps, C = check_scales(sigma_w, sigma_eps, C)
    N, T = np.broadcast_arrays(N, T)
    shape = N.shape
    N, T = N.ravel(), T.ravel()
    table, M = spec.table, spec.M
    kw = dict(C=C, sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps)
    n = np.minimum(N, T)
    below = n < table.rank
    # Left end: the ridgeless root (or, at full rank, far enough left that the loss has
    # reached its ridgeless limit); right end: beyond the spectrum, where gamma -> infinity.
    left = np.full(N.shape, table.u_lo - EDGE)
    if np.any(below):
        left[below] = ridgeless_root(n[below], table)
    right = np.full(N.shape, table.u_hi)
    grid = left[:, None] + (right - left)[:, None] * (np.arange(1, SCAN_POINTS + 1) / SCAN_POINTS)
    Lg = _loss_at(grid, N[:, None], T[:, None], table, M, **kw)[0]
    k = np.argmin(Lg, axis=1)
    step = (right - left) / SCAN_POINTS
    a = left + step * k  # grid point k - 1 (index 0 is `left` itself)
    b = np.minimum(left + step * (k + 2), right)
    # Golden-section search on [a, b], vectorised.
    c = b - _INVPHI * (b - a)
    d = a + _INVPHI * (b - a)
    fc = _loss_at(c, N, T, table, M, **kw)[0]
    fd = _loss_at(d, N, T, table, M, **kw)[0]
    while np.any(b - a > GOLDEN_TOL * np.maximum(1.0, np.abs(a))):
        left_min = fc < fd
        b = np.where(left_min, d, b)
        a = np.where(left_min, a, c)
        # The kept interior point is reused; only the new one costs an evaluation.
        d_new = np.where(left_min, c, a + _INVPHI * (b - a))
        c_new = np.where(left_min, b - _INVPHI * (b - a), d)
        fnew = _loss_at(np.where(left_min, c_new, d_new), N, T, table, M, **kw)[0]
        fc, fd = np.where(left_min, fnew, fd), np.where(left_min, fc, fnew)
        c, d = c_new, d_new
    u = np.where(fc < fd, c, d)
    loss, log_rho, dN, dT, s = _loss_at(u, N, T, table, M, **kw)
    rho = np.exp(log_rho)
    gamma = rho * dN * dT
    d1 = s[:, F1]
    # At full rank the infimum may be the ridgeless limit itself (gamma* = 0).
    if np.any(~below):
        sig0, noi0 = ridgeless_terms(N[~below], T[~below], spec, **kw)
        zero = np.zeros(N.shape, dtype=bool)
        # The infimum is the gamma -> 0 limit when the scan's best point is its left end.
        zero[~below] = (sig0 + noi0 <= loss[~below]) | (k[~below] == 0)
        if np.any(zero):
            lim = np.empty(N.shape)
            lim[~below] = sig0 + noi0
            loss = np.where(zero, lim, loss)
            gamma = np.where(zero, 0.0, gamma)
            rho = np.where(zero, 0.0, rho)
            d1 = np.where(zero, float(table.rank), d1)
    if not np.all(np.isfinite(loss)):
        raise FloatingPointError("optimal_ridge produced a non-finite loss; please report the inputs")
    return OptimalRidge(*(_shape_out(x, shape) for x in (gamma, loss, rho, d1)))
