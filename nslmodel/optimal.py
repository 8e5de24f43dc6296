r"""The optimal ridge :math:`\gamma^* = \arg\min_\gamma \langle L \rangle` (book/solution.md; paper Eq. 128).

Because :math:`\gamma` increases monotonically with :math:`\rho`, the loss is minimised over
:math:`u = \log\mu` (:math:`\mu = \rho M/\sigma_u^2`) on the physical branch, where every
quantity is explicit, and :math:`\gamma^* = \rho (N - D_1)(T - D_1)` is read off at the end.

The minimum is located from the stationarity condition :math:`d\log L/du = 0`, not by comparing
loss values: where :math:`N \ll T` the loss changes by ~1e-8 when :math:`\gamma` doubles, so
value comparisons are decided by rounding, while the slope (:func:`nslmodel.loss.log_slope`,
a rational function of the spectral sums without catastrophic cancellation) keeps its sign
until within a few ulps of the root. Noise-free, the condition reads
:math:`(N - D_1)(T - D_1)(D_2 - D_3) = (D_1 - D_2)^3`. A scan of the slope over ``SCAN_POINTS``
values of u finds the bracket where it turns from negative to positive, and a vectorised
Illinois (safeguarded regula falsi) iteration refines it to a few ulps of u.

With the optimum come two measures of how sharply it is defined (see :class:`OptimalRidge`):
the curvature :math:`d^2 \log L / d(\log\gamma)^2` at :math:`\gamma^*` and the interval of
:math:`\gamma` within which the loss exceeds :math:`L^*` by at most ``LOSS_EXCESS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate
from ._roots import flat_interval, lowest_stationary_point, polish_gaps
from ._traces import EDGE, log_mu_per_rho
from .loss import check_range, gaps, log_slope, scales, terms_flat
from .ridgeless import ridgeless_terms
from .solver import ridgeless_root

__all__ = ["OptimalRidge", "optimal_ridge", "LOSS_EXCESS"]

# Points of the coarse scan of the slope in u, evenly spaced from the start of the branch to
# beyond the spectrum (a span of the spectrum's log-range plus 40, so a step of ~0.5-1 in u),
# preceded by NEAR_POINTS points at step * 2**-k (k = NEAR_POINTS..1) that resolve a minimum
# squeezed against the start of the branch.
SCAN_POINTS = 96
NEAR_POINTS = 30
# Step in log(gamma) of the central difference for the curvature: truncation error
# ~ STEP**2 ~ 1e-8 relative, rounding error ~ 1e-16 / STEP of the slope's scale.
CURVATURE_STEP = 1e-4
#: Relative loss excess that defines the flat interval: ``gamma_lo .. gamma_hi`` is where
#: ``loss <= (1 + LOSS_EXCESS) * L*``.
LOSS_EXCESS = 0.01
# Newton refinement of the gap N - D1 (or T - D1) at the minimum (_Branch.stationary_gaps):
# the table's value is within ~1e-16 min(N, T) / p relative of the root, so two quadratically
# convergent steps reach rounding; the third is a safety margin. The central difference in
# log p with step GAP_STEP has truncation error ~1e-14 relative in the derivative, which
# only slows the (already converged) iteration. Corrections above GAP_MAX_CHANGE in log p
# are not refinements and are rejected.
GAP_NEWTON = 3
GAP_STEP = 1e-7
GAP_MAX_CHANGE = 1e-3


@dataclass(frozen=True)
class OptimalRidge:
    """The optimal ridge, the loss there and how flat the minimum is.

    Floats for scalar input, otherwise arrays broadcast from N and T.
    """

    gamma: np.ndarray | float
    """Optimal ridge gamma* (0 when the ridgeless limit is optimal, e.g. min(N, T) >= M
    without label noise; inf when the loss decreases all the way to gamma -> infinity, e.g.
    sigma_w = 0 with label noise, with ``loss`` its value beyond the spectrum)."""
    loss: np.ndarray | float
    """Expected test loss at gamma* (signal plus noise)."""
    rho: np.ndarray | float
    """Latent-space ridge at gamma*."""
    D1: np.ndarray | float
    """D1 at gamma*, the effective number of learned latent directions."""
    curvature: np.ndarray | float
    r"""Curvature of the loss in log gamma at the optimum,
    :math:`\kappa = d^2 \log\langle L\rangle / d(\log\gamma)^2` at :math:`\gamma^*`, so that
    :math:`L(\gamma) \approx L^* [1 + \tfrac{\kappa}{2} \log^2(\gamma/\gamma^*)]` nearby.
    Small :math:`\kappa` means gamma* is ill-determined: a loss within a relative
    :math:`\epsilon` of the minimum only fixes :math:`\log\gamma^*` to
    :math:`\pm\sqrt{2\epsilon/\kappa}`. A central difference: accurate to better than 1e-5
    relative (measured <= 1.1e-6 against 60-digit references).
    NaN where gamma* = 0 (the minimum is not interior)."""
    gamma_lo: np.ndarray | float
    """Smallest ridge with loss <= (1 + LOSS_EXCESS) * loss, LOSS_EXCESS = 0.01; 0 when the
    ridgeless limit itself is within that bound."""
    gamma_hi: np.ndarray | float
    """Largest ridge with loss <= (1 + LOSS_EXCESS) * loss; inf when the gamma -> infinity
    limit is within that bound."""


class _Branch:
    """Loss, slope and ridge along the physical branch, as functions of u, on flat arrays."""

    def __init__(self, N, T, spec, kw):
        self.N, self.T, self.table, self.kw = N, T, spec.table, kw
        self.c = log_mu_per_rho(spec.M, kw["sigma_u"])

    def eval(self, u, idx):
        N, T, table = self.N[idx], self.T[idx], self.table
        s = table.sums(u)
        dN, dT = gaps(N, T, s, table.rank)
        ok = (dN > 0) & (dT > 0)
        dN, dT = np.where(ok, dN, 1.0), np.where(ok, dT, 1.0)
        log_rho = u - self.c
        sig, noi = terms_flat(N, T, log_rho, dN, dT, s, **self.kw)
        slope = log_slope(dN, dT, s, sig, noi)
        # Within rounding of the start of the branch the loss decreases (book/solution.md).
        return np.where(ok, sig + noi, np.inf), np.where(ok, slope, -1.0), log_rho, dN, dT, s

    def slope(self, u, idx):
        return self.eval(u, idx)[1]

    def gamma(self, u, idx):
        _, _, log_rho, dN, dT, _ = self.eval(u, idx)
        return np.exp(log_rho) * dN * dT

    def stationary_gaps(self, idx, log_rho, dN, dT, s):
        r"""``N - D1, T - D1`` at the minimum, from the stationarity condition itself.

        Near the start of the branch :math:`p = \min(N, T) - D_1` is tiny and varies fast
        (:math:`dp/du = D_1 - D_2 \gg p`): one ulp of u moves it by ~1e-15 (D1 - D2) / p
        relative, and its value from the table carries the absolute error ~1e-16 min(N, T)
        of D1. The other sums vary slowly, so we solve the slope = 0 for p alone with them
        held fixed (noise-free this is :math:`p (p + |N - T|) = (D_1 - D_2)^3 / (D_2 - D_3)`),
        by GAP_NEWTON Newton steps in log p from the table's value.
        """
        N, T = self.N[idx], self.T[idx]

        def slope(a, b):
            sig, noi = terms_flat(N, T, log_rho, a, b, s, **self.kw)
            return log_slope(a, b, s, sig, noi)

        # The table's value is kept where the correction is not a small one (it is a
        # refinement of the last digits, never a jump): GAP_MAX_CHANGE.
        return polish_gaps(slope, N, T, dN, dT, steps=GAP_NEWTON, step=GAP_STEP, max_change=GAP_MAX_CHANGE)


@_validate.validated(
    broadcast=("N", "T"),
    teacher=_validate.Optional(_validate.TEACHER_POWER), **_validate.MODEL,
)
def optimal_ridge(N, T, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1, teacher=None) -> OptimalRidge:
    r"""Optimal ridge :math:`\gamma^*` and the loss there (paper Eq. 128), with label noise if any.

    Parameters
    ----------
    N, T : float or array_like
        Positive reals, broadcast together.
    spectrum : PowerLaw, Spectrum or array_like
    sigma_u, sigma_w, sigma_eps, C, teacher
        As in :func:`nslmodel.expected_loss`; with a ``teacher`` the minimum is found by
        :func:`nslmodel.teacher.teacher_optimal_ridge`.

    Returns
    -------
    OptimalRidge
        ``gamma``, ``loss``, ``rho``, ``D1``, ``curvature``, ``gamma_lo``, ``gamma_hi``, each
        broadcast from N and T. Where the infimum is the ridgeless limit itself
        (``min(N, T) >= M`` without label noise, where the ridgeless loss vanishes),
        ``gamma = rho = 0``, ``D1 = M``, ``curvature`` is NaN and ``loss`` is
        :func:`nslmodel.ridgeless_loss`.
    """
    if teacher is not None:
        from .teacher import no_sigma_w, teacher_optimal_ridge

        no_sigma_w(sigma_w)
        return teacher_optimal_ridge(N, T, spectrum, teacher, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C)
    spec = spectrum
    N, T = np.broadcast_arrays(N, T)
    shape = N.shape
    N, T = N.ravel().astype(float), T.ravel().astype(float)
    kw = dict(C=C, sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps)
    fields = _optimal_flat(N, T, spec, kw)
    return OptimalRidge(*(_validate.shape_out(x, shape) for x in fields))


def _optimal_flat(N, T, spec, kw):
    table = spec.table
    br = _Branch(N, T, spec, kw)
    every = np.arange(N.size)
    n = np.minimum(N, T)
    below = n < table.rank
    # Left end: the ridgeless root (or, at full rank, far enough left that the loss has
    # reached its ridgeless limit); right end: beyond the spectrum, where gamma -> infinity.
    left = np.full(N.shape, table.u_lo - EDGE)
    if np.any(below):
        left[below] = ridgeless_root(n[below], table)
    right = np.full(N.shape, table.u_hi)
    # The start of the branch itself: decreasing loss below the rank (the slope there is
    # -2 (D1 - D2) / max(N - D1, T - D1) without noise); at full rank the first grid point.
    u_star, found, S_left = lowest_stationary_point(
        left, right, lambda g: br.eval(g, np.broadcast_to(every[:, None], g.shape))[:2],
        lambda first: np.where(below, -1.0, first), br.slope,
        scan_points=SCAN_POINTS, near_points=NEAR_POINTS)[:3]
    loss, _, log_rho, dN, dT, s = br.eval(u_star, every)
    if np.any(found):
        f = np.flatnonzero(found)
        dN[f], dT[f] = br.stationary_gaps(f, log_rho[f], dN[f], dT[f], s.take(f))
    with np.errstate(over="ignore", under="ignore"):  # out of range: refused below
        rho = np.exp(log_rho)
        gamma = rho * dN * dT
    d1 = s.D1
    # Curvature in log gamma: d2 log L / du2 / (d log gamma / du)^2 at the stationary point.
    dlg = 1.0 + s.D1_minus_D2 * (1.0 / dN + 1.0 / dT)
    h = CURVATURE_STEP / dlg
    curvature = (br.slope(u_star + h, every) - br.slope(u_star - h, every)) / (2.0 * h) / dlg**2

    sig0, noi0 = ridgeless_terms(N, T, spec, **kw)
    L0 = sig0 + noi0
    # The infimum is the gamma -> 0 limit when the slope is positive from the start (full rank
    # only), or when that limit is no larger than the interior minimum.
    zero = (~found & (S_left >= 0)) | (~below & (L0 <= loss))
    loss = np.where(zero, L0, loss)
    gamma = np.where(zero, 0.0, gamma)
    rho = np.where(zero, 0.0, rho)
    d1 = np.where(zero, float(table.rank), d1)
    curvature = np.where(zero, np.nan, curvature)
    # The slope negative all the way: the loss decreases towards gamma -> infinity.
    infinite = ~found & ~zero
    gamma = np.where(infinite, np.inf, gamma)
    rho = np.where(infinite, np.inf, rho)
    curvature = np.where(infinite, np.nan, curvature)
    # Range errors rather than inf or 0: the loss scales as C sigma_w^2, gamma* and rho* as sigma_u^2.
    where = lambda i: f"N={N[i]:g}, T={T[i]:g}"  # noqa: E731
    exact_zero = zero & (kw["sigma_eps"] == 0) | (kw["sigma_w"] == 0) & (kw["sigma_eps"] == 0)
    check_range(loss, scales(kw["C"], kw["sigma_u"], kw["sigma_w"], kw["sigma_eps"]), where,
                exact_zero=exact_zero)
    interior = ~zero & ~infinite
    with np.errstate(divide="ignore"):
        log_gamma = np.where(interior, log_rho + np.log(dN) + np.log(dT), 0.0)
    _validate.from_log(log_gamma, "gamma*", f"scales as sigma_u**2; got sigma_u={kw['sigma_u']:g}", where)
    _validate.from_log(np.where(interior, log_rho, 0.0), "rho at gamma*", f"scales as sigma_u**2; got sigma_u={kw['sigma_u']:g}", where)
    if not np.all(np.isfinite(loss)):
        raise FloatingPointError("optimal_ridge produced a non-finite loss; please report the inputs")
    gamma_lo, gamma_hi = flat_interval(br, left, right, np.where(zero, left, u_star), loss, L0, zero, infinite,
                                       LOSS_EXCESS)
    return gamma, loss, rho, d1, curvature, gamma_lo, gamma_hi
