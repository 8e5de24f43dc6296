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
bisection of the bracket. When n is below the rank of the spectrum it starts one Newton step
right of the ridgeless root :math:`u_0` (:math:`D_1 = n`), a step that costs no table
evaluation: there :math:`h = \delta(u_0) > 0` and :math:`h' = -(D_1 - D_2) - q/(2\delta + \Delta)`,
with :math:`D_1 - D_2` as the ridgeless solve last evaluated it; at small :math:`\gamma` that
start is within one quadratically convergent step of the root. A point stops when its Newton
step falls below ``STEP_TOL`` (relative to :math:`\max(1, |u|)`); when the residual is at
rounding level; or, in the quadratic regime,
as soon as an accepted Newton step is below ``QUADRATIC_STEP``, since the error left after such
a step is below its square (the curvature bound at ``QUADRATIC_STEP``). This last test saves the
final one or two iterations.
A relative error :math:`\epsilon` in :math:`D_1` moves :math:`\rho` by only
:math:`\epsilon n / (D_1 - D_2)` relative, and :math:`\delta` follows from :math:`\rho` without
cancellation, so the loss keeps full precision even at :math:`\gamma = 10^{-30}` and
:math:`N = T`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate
from ._traces import Sums, log_mu_per_rho

__all__ = ["Solution", "ConvergenceError", "solve", "ridgeless_root"]

# Far from the spectrum h decays exponentially in u and Newton advances by a fixed step
# (2 in u for delta ~ e^(-u/2)); from the left bracket at gamma ~ 1e-300 to the root that is a
# few hundred steps, so this bound covers every representable gamma. Typical points need < 10.
MAX_ITER = 1000
# Newton has converged once the step in u = log(mu) is below this relative size (about 45
# ulps: u itself is only known to a few ulps because the spectral sums carry ~1e-14 error).
STEP_TOL = 1e-14
# In the quadratic regime the error after a Newton step s is about |h''/(2h')| s^2, and
# |h''| <= |h'| for both residuals here: h' = -(D1 - D2) + delta' and
# h'' = -(2(D2 - D3) - (D1 - D2)) + delta'' with |2(D2 - D3) - (D1 - D2)| <= D1 - D2 (termwise,
# |2r - 1| <= 1) and 0 < delta'' <= -delta' (from delta(delta + Delta) = q ~ e^-u); for
# log D1 - log n, |h''| <= |h'| (1 + |h'|) with |h'| = (D1 - D2) / D1 <= 1 (likewise for
# rank - D1). A step below this size therefore leaves an error below s^2 = 1e-18, far below
# STEP_TOL, and ends the iteration.
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


def _newton(residual, u, lo, hi, what: str, slope: bool = False):
    """Vectorised safeguarded Newton for decreasing residuals bracketed by ``lo < root < hi``.

    ``residual(u, idx)`` returns ``(h, dh/du, noise)`` for the points ``idx``. With ``slope``,
    returns ``(root, dh/du)``, the derivative as last evaluated (within a step of the root).
    """
    out = u.copy()
    last = np.empty(u.size) if slope else None
    # The iteration works on compacted copies of the active points (fewer gathers per step);
    # every operation is elementwise, so a point's iterates do not depend on the others.
    active = np.arange(u.size)
    ua, lo, hi = u.copy(), lo.copy(), hi.copy()
    for _ in range(MAX_ITER):
        h, dh, noise = residual(ua, active)
        pos = h > 0
        lo = np.where(pos, ua, lo)
        hi = np.where(pos, hi, ua)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = ua - h / dh
        inside = (new > lo) & (new < hi)  # False for a NaN step too: bisect
        new = np.where(inside, new, 0.5 * (lo + hi))
        scale = np.maximum(1.0, np.abs(ua))
        tol = STEP_TOL * scale
        step = np.abs(new - ua)
        quiet = np.abs(h) <= noise
        done = (step <= tol) | quiet
        done |= inside & (step <= QUADRATIC_STEP * scale)
        done |= (hi - lo) <= tol
        ua = np.where(quiet, ua, new)
        finished = np.count_nonzero(done)
        if finished == done.size:
            out[active] = ua
            if slope:
                last[active] = dh
            return (out, last) if slope else out
        if finished:
            fin, keep = np.flatnonzero(done), np.flatnonzero(~done)
            out[active[fin]] = ua[fin]
            if slope:
                last[active[fin]] = dh[fin]
            active, ua, lo, hi = active[keep], ua[keep], lo[keep], hi[keep]
    out[active] = ua
    u = out
    raise ConvergenceError(
        f"{what}: Newton iteration did not converge for {active.size} of {u.size} points "
        f"after {MAX_ITER} iterations; please report the inputs",
        count=int(active.size),
        u=u,
    )


def ridgeless_root(n: np.ndarray, table) -> np.ndarray:
    r"""``u = log mu`` with :math:`D_1 = n` (:math:`0 < n <` rank), the ridgeless :math:`\rho_*`.

    Solves :math:`\log D_1(u) = \log n` (paper Eqs. 105-110) by Newton from the start value of
    :meth:`~nslmodel._traces.SpectralTable.inverse_d1` (u interpolated against log D1 on a fixed
    grid, about 1e-5 off), from which two steps usually suffice.
    """
    return _ridgeless(np.asarray(n, dtype=float), table)[0]


def _ridgeless(n: np.ndarray, table):
    """:func:`ridgeless_root` and :math:`D_1 - D_2` as last evaluated (within a step of it)."""
    rank = table.rank
    # D1 <= trace / mu, so mu_hi = trace / n gives D1 <= n; and rank - D1 <= mu * sum(1/lam),
    # so mu_lo = (rank - n) / sum(1/lam) gives D1 >= n.
    hi = table.log_trace - np.log(n)
    lo = np.log(rank - n) - table.log_inv_trace
    use_f0 = n > 0.5 * rank  # compare the smaller of D1 and rank - D1 with its target
    value = np.where(use_f0, rank - n, n)  # the target of log D1 or of log(rank - D1)
    target = np.log(value)
    sign = np.where(use_f0, -1.0, 1.0)
    noise = RESIDUAL_ULPS * _EPS

    def residual(u, idx):
        ls = table.log_root_sums(u, use_f0[idx])  # log D1 or log(rank - D1), log(D1 - D2)
        lf, l12 = ls[:, 0], ls[:, 1]
        # d log D1 / du = -(D1 - D2) / D1 and d log (rank - D1) / du = (D1 - D2) / (rank - D1).
        return sign[idx] * (lf - target[idx]), -np.exp(l12 - lf), np.full(u.shape, noise)

    start = np.minimum(np.maximum(table.inverse_d1(n, use_f0), lo - 0.5), hi + 0.5)
    u, d = _newton(residual, start, lo - 1.0, hi + 1.0, "ridgeless root D1 = min(N, T)", slope=True)
    # the slope is -(D1 - D2) / f with f (D1 or rank - D1) at its target value, to a step
    return u, -d * value


def _delta(logq: np.ndarray, Delta: np.ndarray, q: np.ndarray | None = None) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        if q is None:
            q = np.exp(logq)
        d = 2.0 * q / (Delta + np.sqrt(Delta * Delta + 4.0 * q))
    bad = ~np.isfinite(d)
    if np.count_nonzero(bad):
        # q overflows, or underflows with Delta = 0 (far iterates at extreme N, T): with
        # s = sqrt(q) the same root reads delta = 2 s / (r + sqrt(r^2 + 4)), r = Delta / s.
        s = np.exp(0.5 * logq[bad])
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.broadcast_to(Delta, d.shape)[bad] / s
            d[bad] = np.where(s > 0, 2.0 * s / (r + np.sqrt(r * r + 4.0)), 0.0)
    return d


def _ridgeless_step(logq, Delta, f12):
    """The Newton step of h from the ridgeless root u0, where D1 = n, so h = delta(u0) and
    dh/du = -(D1 - D2) - q / (2 delta + Delta) (``f12`` = D1 - D2 there); 0 if not finite.

    Positive: h(u0) > 0 and h decreases. It saves the first evaluation of the table.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        q = np.exp(logq)
        d = _delta(logq, Delta, q)
        step = d / (f12 + q / (2.0 * d + Delta))
    return np.where(np.isfinite(step), step, 0.0)


def solve_flat(N, T, gamma, table, M: int, sigma_u: float):
    """Core of :func:`solve` on validated 1-D arrays; returns ``(u, log_rho, dN, dT, sums)``."""
    if N.size == 1:  # one point: the same iteration in Python floats, without numpy overhead
        return _finish_point(N, T, gamma, table, M, sigma_u)
    n = np.minimum(N, T)
    Delta = np.abs(N - T)
    rank = table.rank
    # log q = log(gamma / rho) = log_gamma_scaled - u with rho = mu sigma_u^2 / M.
    log_gs = np.log(gamma) + log_mu_per_rho(M, sigma_u)
    # rho = gamma / (N T): delta = n, h = D1 > 0. (N * T keeps the N <-> T symmetry exact.)
    lo = log_gs - np.log(N * T)
    start = lo.copy()
    below = n < rank
    log_trace = table.log_trace
    # mu >= 2 trace / n gives D1 <= n / 2; q <= n^2 / 16 gives delta <= n / 4: h < 0.
    hi = np.maximum(log_trace + np.log(2.0 / n), log_gs - np.log(n * n / 16.0)) + 1.0
    use_f0 = n > 0.5 * rank
    if np.any(below):
        # The root lies right of the ridgeless root u0, where h = delta > 0: start there, with
        # the Newton step that D1(u0) = n and the slope of the ridgeless solve give for free.
        u0, f12 = _ridgeless(n[below], table)
        step = _ridgeless_step(log_gs[below] - u0, Delta[below], f12)
        start[below] = np.where(u0 > start[below], np.minimum(u0 + step, hi[below]), start[below])

    # Per point, D1 - n = sign (f - target) with f = D1, target n, sign 1, or f = rank - D1,
    # target rank - n, sign -1 (exact: negation commutes with rounding); |target| + f is the
    # size of the terms of h.
    target = np.where(use_f0, rank - n, n)
    sign = np.where(use_f0, -1.0, 1.0)
    size = np.abs(target)

    def residual(u, idx):
        s = np.exp(table.log_root_sums(u, use_f0[idx]))
        f, f12 = s[:, 0], s[:, 1]  # rank - D1 where use_f0, else D1; D1 - D2
        logq = log_gs[idx] - u
        Di = Delta[idx]
        with np.errstate(over="ignore"):  # far iterates: q = inf is a bound
            q = np.exp(logq)
        d = _delta(logq, Di, q)
        h = sign[idx] * (f - target[idx]) + d
        den = 2.0 * d + Di
        with np.errstate(over="ignore", invalid="ignore"):
            # d(delta)/du = -q / (2 delta + Delta); both underflow together only where it is 0.
            dh = -f12 - np.divide(q, den, out=np.zeros_like(den), where=den > 0)
        noise = RESIDUAL_ULPS * _EPS * ((size[idx] + f) + d)
        return h, dh, noise

    u = _newton(residual, start, lo - 1.0, hi, "self-consistent equation for rho")
    return _finish(N, T, gamma, u, table, M, sigma_u)


def _finish(N, T, gamma, u, table, M, sigma_u):
    """``(u, log_rho, dN, dT, sums)`` at the root u (flat arrays)."""
    Delta = np.abs(N - T)
    log_gs = np.log(gamma) + log_mu_per_rho(M, sigma_u)
    sums = table.sums(u)
    dn = _delta(log_gs - u, Delta)
    dN = np.where(N <= T, dn, dn + Delta)
    dT = np.where(N <= T, dn + Delta, dn)
    log_rho = u - log_mu_per_rho(M, sigma_u)
    return u, log_rho, dN, dT, sums


def _finish_point(N, T, gamma, table, M, sigma_u):
    """:func:`_finish` of the root of one point, in Python floats (same bits, less overhead)."""
    u, log_rho, dN, dT, sums = solve_point(float(N[0]), float(T[0]), float(gamma[0]), table, M, sigma_u)
    s = Sums(*(np.array([f]) for f in sums))
    return np.array([u]), np.array([log_rho]), np.array([dN]), np.array([dT]), s


def solve_point(N: float, T: float, gamma: float, table, M: int, sigma_u: float):
    """``(u, log_rho, dN, dT, sums)`` of :func:`solve_flat` for one point, as Python floats.

    Bit for bit the element of an array call (the same IEEE operations in the same order);
    ``sums`` is a list of the five sums in ``Sums`` order.
    """
    u = _solve_point(N, T, gamma, table, M, sigma_u)
    Delta = abs(N - T)
    log_gs = _log(gamma) + log_mu_per_rho(M, sigma_u)
    sums = _np_exp_list(table.log_sums_point(u))
    dn = _delta_point(log_gs - u, Delta)
    dN, dT = (dn, dn + Delta) if N <= T else (dn + Delta, dn)
    log_rho = u - log_mu_per_rho(M, sigma_u)
    return u, log_rho, dN, dT, sums


def _exp(x: float) -> float:
    # numpy's exp, not math.exp: the scalar path must give the bits of the array path, and
    # numpy may use its own (SIMD) implementation of exp and log.
    return float(np.exp(x))


def _log(x: float) -> float:
    return float(np.log(x))


def _newton_point(residual, u: float, lo: float, hi: float, what: str, slope: bool = False):
    """:func:`_newton` for one point in Python floats, with the same operations in the same order."""
    for _ in range(MAX_ITER):
        h, dh, noise = residual(u)
        if h > 0:
            lo = u
        else:
            hi = u
        new = u - h / dh if dh != 0 else math.nan
        outside = not (lo < new < hi)
        if outside:
            new = 0.5 * (lo + hi)
        scale = max(1.0, abs(u))
        step = abs(new - u)
        quiet = abs(h) <= noise
        done = (step <= STEP_TOL * scale) or quiet
        done = done or ((not outside) and step <= QUADRATIC_STEP * scale)
        done = done or (hi - lo) <= STEP_TOL * scale
        if not quiet:
            u = new
        if done:
            return (u, dh) if slope else u
    raise ConvergenceError(f"{what}: Newton iteration did not converge for 1 of 1 points "
                           f"after {MAX_ITER} iterations; please report the inputs",
                           count=1, u=np.array([u]))


def _ridgeless_point(n: float, table):
    """:func:`_ridgeless` for one point (same bits)."""
    rank = table.rank
    hi = table.log_trace - _log(n)
    lo = _log(rank - n) - table.log_inv_trace
    use_f0 = n > 0.5 * rank
    value = rank - n if use_f0 else n
    target = _log(value)
    noise = RESIDUAL_ULPS * _EPS

    cols = (1, 2) if use_f0 else (0, 2)  # rank - D1 or D1, and D1 - D2

    def residual(u):
        f, f12 = table.log_sums_point(u, cols)
        if use_f0:
            return -(f - target), -_exp(f12 - f), noise
        return f - target, -_exp(f12 - f), noise

    start = min(max(table.inverse_d1_point(n, use_f0), lo - 0.5), hi + 0.5)
    u, d = _newton_point(residual, start, lo - 1.0, hi + 1.0, "ridgeless root D1 = min(N, T)",
                         slope=True)
    return u, -d * value


def _ridgeless_step_point(logq: float, Delta: float, f12: float) -> float:
    """:func:`_ridgeless_step` for one point (same bits; a zero divisor gives inf or nan there)."""
    q = _exp_quiet(logq)
    d = _delta_point(logq, Delta, q)
    den = 2.0 * d + Delta
    dd = q / den if den != 0 else (math.inf if q > 0 else math.nan)
    den = f12 + dd
    step = d / den if den != 0 else (math.inf if d > 0 else math.nan)
    return step if math.isfinite(step) else 0.0


# Below this log, numpy's exp cannot overflow (log of the largest float64 is 709.78), so the
# scalar code may skip the cost of an errstate context.
_LOG_EXP_SAFE = 709.0


def _exp_quiet(x: float) -> float:
    """``_exp(x)``, returning inf without a warning where it overflows."""
    if x <= _LOG_EXP_SAFE:
        return _exp(x)
    with np.errstate(over="ignore"):
        return _exp(x)


def _delta_point(logq: float, Delta: float, q: float | None = None) -> float:
    if q is None:
        q = _exp_quiet(logq)
    den = Delta + math.sqrt(Delta * Delta + 4.0 * q)
    if den > 0 and math.isfinite(den):
        return 2.0 * q / den
    # q overflows, or underflows with Delta = 0: the same root with s = sqrt(q) (see _delta).
    return float(_delta(np.array([logq]), np.array([Delta]))[0])


def _solve_point(N: float, T: float, gamma: float, table, M: int, sigma_u: float) -> float:
    """The root u of :func:`solve_flat` for one point, bit for bit (Python floats)."""
    n = min(N, T)
    Delta = abs(N - T)
    rank = table.rank
    log_gs = _log(gamma) + log_mu_per_rho(M, sigma_u)
    lo = log_gs - _log(N * T)
    start = lo
    hi = max(table.log_trace + _log(2.0 / n), log_gs - _log(n * n / 16.0)) + 1.0
    use_f0 = n > 0.5 * rank
    if n < rank:
        u0, f12 = _ridgeless_point(n, table)
        if u0 > start:
            start = min(u0 + _ridgeless_step_point(log_gs - u0, Delta, f12), hi)
    ulps = RESIDUAL_ULPS * _EPS

    cols = (1, 2) if use_f0 else (0, 2)  # rank - D1 or D1, and D1 - D2

    def residual(u):
        f, f12 = _np_exp_list(table.log_sums_point(u, cols))
        logq = log_gs - u
        q = _exp_quiet(logq)  # far iterates: q = inf is a bound (see solve_flat)
        d = _delta_point(logq, Delta, q)
        if use_f0:
            base, terms = (rank - n) - f, abs(rank - n) + f
        else:
            base, terms = f - n, f + n
        den = 2.0 * d + Delta
        dd = q / den if den > 0 else 0.0
        return base + d, -f12 - dd, ulps * (terms + d)

    return _newton_point(residual, start, lo - 1.0, hi, "self-consistent equation for rho")


def _np_exp_list(values: list) -> list:
    return np.exp(np.array(values)).tolist()


@_validate.validated(
    N=_validate.SIZE, T=_validate.SIZE, gamma=_validate.RIDGE, spectrum=_validate.SPECTRUM,
    sigma_u=_validate.SCALE_U, broadcast=("N", "T", "gamma"),
)
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
    spec = spectrum
    N, T, gamma = np.broadcast_arrays(N, T, gamma)
    shape = N.shape
    u, log_rho, dN, dT, s = solve_flat(N.ravel(), T.ravel(), gamma.ravel(), spec.table, spec.M, sigma_u)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # out of range: refused below
        rho = np.exp(log_rho)
        kappa = rho * dN
    # rho = sigma_u^2 mu / M carries the scale of sigma_u^2; the traces do not.
    text = f"scales as sigma_u**2; got sigma_u={sigma_u:g}"
    _validate.from_log(log_rho, "rho", text)
    with np.errstate(divide="ignore"):
        _validate.from_log(np.log(kappa), "kappa", text)
    out = dict(
        rho=rho, D1=s.D1, D2=s.D2, D1_minus_D2=s.D1_minus_D2, N_minus_D1=dN, T_minus_D1=dT,
        kappa=kappa,
    )
    return Solution(**{k: _validate.shape_out(v, shape) for k, v in out.items()})
