r"""The self-consistent equation for the latent-space ridge :math:`\rho` (book/solution.md).

The expected loss depends on :math:`\gamma` only through :math:`\rho`, the root of

.. math::
    \rho\,(N - D_1(\rho))\,(T - D_1(\rho)) = \gamma, \qquad D_1(\rho) < \min(N, T)

(paper Eqs. 93 and 99; the other branches are unphysical, cf. Eqs. 105-110). Near the ridgeless
limit :math:`N - D_1` and :math:`T - D_1` are tiny and cannot be obtained by subtracting
:math:`D_1` from :math:`N`. We therefore take :math:`\delta = n - D_1` with :math:`n = \min(N, T)`
as an unknown in its own right: with :math:`\Delta = |N - T|` and :math:`q = \gamma/\rho` it is
the positive root :math:`\delta = 2q / (\Delta + \sqrt{\Delta^2 + 4q})` of
:math:`\delta(\delta + \Delta) = q`, exact to rounding however small. The remaining scalar
equation

.. math::
    h(u) = D_1(u) - n + \delta(u) = 0, \qquad u = \log\mu,\ \mu = \rho M / \sigma_u^2,

is strictly decreasing in u, bracketed by :math:`\rho = \gamma/(NT)` (where :math:`\delta = n`,
:math:`h = D_1 > 0`) on the left, and solved by a vectorised Newton iteration safeguarded by
bisection of the bracket. It starts at the ridgeless root :math:`D_1 = n` (where
:math:`h = \delta > 0`) when n is below the rank of the spectrum, which puts it close to the root
at small :math:`\gamma`. A point stops when its Newton step falls below ``STEP_TOL`` (relative
to :math:`\max(1, |u|)`); when the residual is at rounding level; or, in the quadratic regime,
as soon as an accepted Newton step is below ``QUADRATIC_STEP``, since the error left after such
a step is of the order of its square. This last test saves the final one or two iterations.
A relative error :math:`\epsilon` in :math:`D_1` moves :math:`\rho` by only
:math:`\epsilon n / (D_1 - D_2)` relative, and :math:`\delta` follows from :math:`\rho` without
cancellation, so the loss keeps full precision even at :math:`\gamma = 10^{-30}` and
:math:`N = T`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate
from ._traces import log_mu_per_rho
from .spectra import as_spectrum

__all__ = ["Solution", "ConvergenceError", "solve", "ridgeless_root"]

# Far from the spectrum h decays exponentially in u and Newton advances by a fixed step
# (2 in u for delta ~ e^(-u/2)); from the left bracket at gamma ~ 1e-300 to the root that is a
# few hundred steps, so this bound covers every representable gamma. Typical points need < 10.
MAX_ITER = 1000
# Newton has converged once the step in u = log(mu) is below this relative size (about 45
# ulps: u itself is only known to a few ulps because the spectral sums carry ~1e-14 error).
STEP_TOL = 1e-14
# In the quadratic regime the error after a Newton step is ~ |h''/(2h')| step^2, and
# |h''/h'| = O(1) in u (every term of h varies on the scale of one e-fold), so a Newton step
# below this size leaves an error far below STEP_TOL and ends the iteration.
QUADRATIC_STEP = 1e-9
# The residual h is a difference of O(n) terms; below this many ulps of their size it is noise.
RESIDUAL_ULPS = 64
_EPS = np.finfo(float).eps


class ConvergenceError(RuntimeError):
    """The root solve did not converge; ``.count`` points failed, ``.u`` holds the last iterate."""

    def __init__(self, message: str, count: int, u: np.ndarray):
        super().__init__(message)
        self.count = count
        self.u = u


@dataclass(frozen=True)
class Solution:
    r"""The solution of the self-consistent equation at each (N, T, gamma).

    All fields are floats for scalar input, otherwise arrays broadcast from N, T and gamma.
    """

    rho: np.ndarray | float
    """Effective ridge in latent space :math:`\rho` (paper Eq. 99)."""
    D1: np.ndarray | float
    r""":math:`D_1 = \sum_I s_I / (s_I + \rho)`."""
    D2: np.ndarray | float
    r""":math:`D_2 = \sum_I s_I^2 / (s_I + \rho)^2`."""
    D1_minus_D2: np.ndarray | float
    r""":math:`D_1 - D_2 = \sum_I s_I \rho / (s_I + \rho)^2`, computed without cancellation."""
    N_minus_D1: np.ndarray | float
    r""":math:`N - D_1 > 0`, computed without cancellation."""
    T_minus_D1: np.ndarray | float
    r""":math:`T - D_1 > 0`, computed without cancellation."""
    kappa: np.ndarray | float
    r"""Feature-space ridge :math:`\kappa = \rho (N - D_1)`, with :math:`\kappa (T - D_1) = \gamma`."""


def _newton(residual, u, lo, hi, what: str):
    """Vectorised safeguarded Newton for decreasing residuals bracketed by ``lo < root < hi``.

    ``residual(u, idx)`` returns ``(h, dh/du, noise)`` for the points ``idx``.
    """
    u, lo, hi = u.copy(), lo.copy(), hi.copy()
    active = np.arange(u.size)
    for _ in range(MAX_ITER):
        if active.size == 0:
            return u
        ua = u[active]
        h, dh, noise = residual(ua, active)
        pos = h > 0
        lo[active] = np.where(pos, ua, lo[active])
        hi[active] = np.where(pos, hi[active], ua)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = ua - h / dh
        outside = ~((new > lo[active]) & (new < hi[active]))
        new = np.where(outside, 0.5 * (lo[active] + hi[active]), new)
        scale = np.maximum(1.0, np.abs(ua))
        step = np.abs(new - ua)
        done = (step <= STEP_TOL * scale) | (np.abs(h) <= noise)
        done |= ~outside & (step <= QUADRATIC_STEP * scale)
        done |= (hi[active] - lo[active]) <= STEP_TOL * scale
        u[active] = np.where(np.abs(h) <= noise, ua, new)
        active = active[~done]
    raise ConvergenceError(
        f"{what}: Newton iteration did not converge for {active.size} of {u.size} points "
        f"after {MAX_ITER} iterations; please report the inputs",
        count=int(active.size),
        u=u,
    )


def ridgeless_root(n: np.ndarray, table) -> np.ndarray:
    r"""``u = log mu`` with :math:`D_1 = n` (:math:`0 < n <` rank), the ridgeless :math:`\rho_*`.

    Solves :math:`\log D_1(u) = \log n` (paper Eqs. 105-110): :math:`\log D_1` is close to linear
    in u for power laws, so Newton from the right converges in a few steps.
    """
    n = np.asarray(n, dtype=float)
    rank = table.rank
    # D1 <= trace / mu, so mu_hi = trace / n gives D1 <= n; and rank - D1 <= mu * sum(1/lam),
    # so mu_lo = (rank - n) / sum(1/lam) gives D1 >= n.
    hi = table.log_trace - np.log(n)
    lo = np.log(rank - n) - table.log_inv_trace
    use_f0 = n > 0.5 * rank  # compare the smaller of D1 and rank - D1 with its target

    def residual(u, idx):
        ls = table.log_sums(u)
        f1 = np.where(use_f0[idx], -(ls.rank_minus_D1 - np.log(rank - n[idx])), ls.D1 - np.log(n[idx]))
        # d log D1 / du = -(D1 - D2) / D1 and d log (rank - D1) / du = (D1 - D2) / (rank - D1).
        d = -np.exp(ls.D1_minus_D2 - np.where(use_f0[idx], ls.rank_minus_D1, ls.D1))
        return f1, d, np.full(u.shape, RESIDUAL_ULPS * _EPS)

    return _newton(residual, hi.copy(), lo - 1.0, hi + 1.0, "ridgeless root D1 = min(N, T)")


def _delta(logq: np.ndarray, Delta: np.ndarray) -> np.ndarray:
    q = np.exp(logq)
    return 2.0 * q / (Delta + np.sqrt(Delta * Delta + 4.0 * q))


def solve_flat(N, T, gamma, table, M: int, sigma_u: float):
    """Core of :func:`solve` on validated 1-D arrays; returns ``(u, log_rho, dN, dT, sums)``."""
    n = np.minimum(N, T)
    Delta = np.abs(N - T)
    rank = table.rank
    # log q = log(gamma / rho) = log_gamma_scaled - u with rho = mu sigma_u^2 / M.
    log_gs = np.log(gamma) + log_mu_per_rho(M, sigma_u)
    # rho = gamma / (N T): delta = n, h = D1 > 0. (N * T keeps the N <-> T symmetry exact.)
    lo = log_gs - np.log(N * T)
    start = lo.copy()
    below = n < rank
    if np.any(below):
        # The root lies right of the ridgeless root, where h = delta > 0: start there.
        start[below] = np.maximum(start[below], ridgeless_root(n[below], table))
    log_trace = table.log_trace
    # mu >= 2 trace / n gives D1 <= n / 2; q <= n^2 / 16 gives delta <= n / 4: h < 0.
    hi = np.maximum(log_trace + np.log(2.0 / n), log_gs - np.log(n * n / 16.0)) + 1.0
    use_f0 = n > 0.5 * rank

    def residual(u, idx):
        s = table.sums(u)
        logq = log_gs[idx] - u
        d = _delta(logq, Delta[idx])
        base = np.where(use_f0[idx], (rank - n[idx]) - s.rank_minus_D1, s.D1 - n[idx])
        h = base + d
        dh = -s.D1_minus_D2 - np.exp(logq) / (2.0 * d + Delta[idx])
        terms = np.where(use_f0[idx], np.abs(rank - n[idx]) + s.rank_minus_D1, s.D1 + n[idx])
        noise = RESIDUAL_ULPS * _EPS * (terms + d)
        return h, dh, noise

    u = _newton(residual, start, lo - 1.0, hi, "self-consistent equation for rho")
    sums = table.sums(u)
    dn = _delta(log_gs - u, Delta)
    dN = np.where(N <= T, dn, dn + Delta)
    dT = np.where(N <= T, dn + Delta, dn)
    log_rho = u - log_mu_per_rho(M, sigma_u)
    return u, log_rho, dN, dT, sums


def _shape_out(x, shape):
    x = np.asarray(x).reshape(shape)
    return float(x) if x.ndim == 0 else x


def check_common(N, T, spectrum, sigma_u):
    """Validate N, T, the spectrum and sigma_u; return arrays and the spectrum object."""
    N = _validate.positive("N", N)
    T = _validate.positive("T", T)
    spec = as_spectrum(spectrum)
    sigma_u = _validate.positive_scalar("sigma_u", sigma_u)
    return N, T, spec, sigma_u


def solve(N, T, gamma, spectrum, *, sigma_u: float = 1.0) -> Solution:
    r"""Solve for :math:`\rho` and the traces at each (N, T, gamma) (book/solution.md).

    Parameters
    ----------
    N, T : float or array_like
        Number of features and of training samples, any positive reals.
    gamma : float or array_like
        Ridge parameter, ``0 < gamma < inf`` (for gamma = 0 see :func:`nslmodel.ridgeless_loss`).
    spectrum : PowerLaw, Spectrum or array_like
        The latent spectrum.
    sigma_u : float
        Feature-weight scale; the theory sees the spectrum through
        :math:`s_I = \sigma_u^2 \lambda_I / M`.

    Returns
    -------
    Solution
        :math:`\rho, D_1, D_2, D_1 - D_2, N - D_1, T - D_1, \kappa`, broadcast from N, T, gamma.
    """
    N, T, spec, sigma_u = check_common(N, T, spectrum, sigma_u)
    gamma = _validate.ridge(gamma)
    N, T, gamma = np.broadcast_arrays(N, T, gamma)
    shape = N.shape
    u, log_rho, dN, dT, s = solve_flat(N.ravel(), T.ravel(), gamma.ravel(), spec.table, spec.M, sigma_u)
    rho = np.exp(log_rho)
    out = dict(
        rho=rho, D1=s.D1, D2=s.D2, D1_minus_D2=s.D1_minus_D2, N_minus_D1=dN, T_minus_D1=dT,
        kappa=rho * dN,
    )
    return Solution(**{k: _shape_out(v, shape) for k, v in out.items()})
