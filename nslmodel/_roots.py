r"""Vectorised bracketed root refinement shared by the optimal-ridge solvers.

:func:`lowest_stationary_point` brackets the lowest minimum along ``u`` by a sign scan of
the slope and refines it; :func:`flat_interval` finds the ridges where the loss exceeds its
minimum by a given fraction; :func:`illinois` refines many brackets at once by the Illinois
(safeguarded regula falsi) iteration; :func:`newton_log` refines a positive root in the
logarithm of the unknown by a few Newton steps with central differences, and
:func:`polish_gaps` applies it to the small gap :math:`\min(N, T) - D_1` at a minimum. They
serve :mod:`nslmodel.optimal` and :mod:`nslmodel.teacher`, which locate the optimal ridge from
the stationarity condition.
"""

from __future__ import annotations

import numpy as np

# The Illinois iteration stops when the bracket is this many ulps of u wide: the slope is
# only known to rounding, so its sign is not meaningful on a finer scale.
BRACKET_ULPS = 8
MAX_ITER = 200
_EPS = np.finfo(float).eps


def illinois(f, a, b, fa, fb):
    """Vectorised Illinois iteration for ``f(u, idx) = 0`` with ``fa < 0 <= fb`` (either order of a, b)."""
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    side = np.zeros(a.size, dtype=np.int8)
    active = np.arange(a.size)
    for _ in range(MAX_ITER):
        if active.size == 0:
            return 0.5 * (a + b)
        aa, bb, ffa, ffb = a[active], b[active], fa[active], fb[active]
        c = bb - ffb * (bb - aa) / (ffb - ffa)
        lo, hi = np.minimum(aa, bb), np.maximum(aa, bb)
        c = np.where((c > lo) & (c < hi), c, 0.5 * (aa + bb))
        fc = f(c, active)
        neg = fc < 0
        # Illinois: when the same end is kept twice, halve its value to force progress.
        s_prev = side[active]
        fb_keep = np.where(~neg & (s_prev == 1), ffb, np.where(neg & (s_prev == -1), 0.5 * ffb, ffb))
        fa_keep = np.where(neg & (s_prev == -1), ffa, np.where(~neg & (s_prev == 1), 0.5 * ffa, ffa))
        a[active] = np.where(neg, c, aa)
        fa[active] = np.where(neg, fc, fa_keep)
        b[active] = np.where(neg, bb, c)
        fb[active] = np.where(neg, fb_keep, fc)
        side[active] = np.where(neg, -1, 1)
        width = np.abs(b[active] - a[active])
        done = (fc == 0) | (width <= BRACKET_ULPS * _EPS * np.maximum(1.0, np.abs(c)))
        a[active[fc == 0]] = c[fc == 0]
        b[active[fc == 0]] = c[fc == 0]
        active = active[~done]
    raise RuntimeError(f"optimal_ridge: bracketed iteration did not converge for {active.size} points")


def newton_log(f, p, *, steps, step, max_change):
    """Refine ``p > 0`` towards a root of ``f(log p)`` by ``steps`` Newton steps in ``log p``.

    The derivative is the central difference with ``step``; a correction of ``max_change`` or
    more in ``log p`` (or a non-finite one) is not a refinement and leaves that element as it was.
    """
    lp = np.log(p)
    for _ in range(steps):
        d = (f(lp + step) - f(lp - step)) / (2.0 * step)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = lp - f(lp) / d
        lp = np.where(np.isfinite(new) & (np.abs(new - lp) < max_change), new, lp)
    return np.exp(lp)


def polish_gaps(slope_of, N, T, dN, dT, *, steps, step, max_change):
    r"""``N - D1, T - D1`` at a stationary point, refined from the stationarity condition itself.

    Of the two gaps only :math:`p = \min(N, T) - D_1` is solved for; the other is
    :math:`p + |N - T|`. ``slope_of(N - D1, T - D1)`` is the slope of the loss with every other
    sum held fixed; :func:`newton_log` refines p in ``log p`` from the given gaps.
    """
    Delta = np.abs(N - T)
    n_le_t = N <= T

    def split(p):
        return np.where(n_le_t, p, p + Delta), np.where(n_le_t, p + Delta, p)

    p = newton_log(lambda lp: slope_of(*split(np.exp(lp))), np.where(n_le_t, dN, dT),
                   steps=steps, step=step, max_change=max_change)
    return split(p)


def lowest_stationary_point(left, right, evaluate, start_slope, slope, *, scan_points, near_points):
    """The lowest minimum of a loss along ``u`` on ``[left, right]``, one interval per point.

    The slope is scanned at ``scan_points`` evenly spaced points after ``left``, preceded by
    ``near_points`` points at ``step * 2**-k`` (k = near_points..1) that resolve a minimum
    squeezed against ``left``; each upward sign change brackets a minimum, the lowest (by the
    loss at the bracket's right end) is refined by :func:`illinois`.

    ``evaluate(grid)`` returns the loss and the slope on the (n, k) grid of ``u``;
    ``start_slope(first)`` the slope at ``left`` given the slope at the first grid point;
    ``slope(u, idx)`` the slope at ``u`` for the points ``idx``. Returns ``(u_star, found,
    S_left, L_end, S_end)``: ``u_star`` is ``right`` where no sign change was found, ``S_left``
    the slope at ``left``, ``L_end`` and ``S_end`` the loss and slope at the last grid point.
    """
    step = (right - left) / scan_points
    offsets = np.concatenate([2.0 ** -np.arange(near_points, 0, -1), np.arange(1, scan_points + 1)])
    grid = left[:, None] + step[:, None] * offsets[None, :]
    L_grid, S_grid = evaluate(grid)
    S_left = start_slope(S_grid[:, 0])
    S_prev = np.concatenate([S_left[:, None], S_grid[:, :-1]], axis=1)
    up = (S_prev < 0) & (S_grid >= 0)
    found = up.any(axis=1)
    rows = np.arange(left.size)
    k = np.argmin(np.where(up, L_grid, np.inf), axis=1)
    u_prev = np.where(k == 0, left, grid[rows, np.maximum(k - 1, 0)])
    u_star = np.where(found, 0.5 * (u_prev + grid[rows, k]), right)
    f = np.flatnonzero(found)
    if f.size:
        kf = k[f]
        sa = np.where(kf == 0, S_left[f], S_grid[f, np.maximum(kf - 1, 0)])
        u_star[f] = illinois(lambda u, idx: slope(u, f[idx]), u_prev[f], grid[f, kf], sa, S_grid[f, kf])
    return u_star, found, S_left, L_grid[:, -1], S_grid[:, -1]


def flat_interval(br, left, right, u_star, loss, L0, zero, infinite, loss_excess):
    """``gamma_lo, gamma_hi`` with ``L(gamma) = (1 + loss_excess) L*`` on each side of ``u_star``.

    ``br.eval(u, idx)[0]`` is the loss and ``br.gamma(u, idx)`` the ridge at ``u`` for the points
    ``idx``; ``left``, ``right`` bound the branch; ``L0`` is the ridgeless loss; ``zero`` and
    ``infinite`` mark the points whose optimum is gamma = 0 or gamma -> infinity (no interval
    on that side: 0 and inf). A vanishing loss gives the interval 0 .. 0.
    """
    with np.errstate(divide="ignore"):
        level = np.log1p(loss_excess) + np.log(loss)

    def excess(u, idx):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(br.eval(u, idx)[0]) - level[idx]

    lo, hi = np.zeros(u_star.size), np.full(u_star.size, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # L0 = L* = 0: NaN, never > 0
        need_lo = np.flatnonzero((np.log(L0) - level > 0) & ~zero)  # L0 = inf at N = T below the rank
    if need_lo.size:
        at = np.minimum(excess(u_star[need_lo], need_lo), -0.0)
        u = illinois(lambda x, i: -excess(x, need_lo[i]), left[need_lo], u_star[need_lo],
                     np.full(need_lo.size, -np.inf), -at)
        lo[need_lo] = br.gamma(u, need_lo)
    beyond = excess(right, np.arange(u_star.size))
    need_hi = np.flatnonzero((beyond > 0) & ~infinite & (loss > 0))
    if need_hi.size:
        at = np.minimum(excess(u_star[need_hi], need_hi), -0.0)
        u = illinois(lambda x, i: excess(x, need_hi[i]), u_star[need_hi], right[need_hi], at, beyond[need_hi])
        hi[need_hi] = br.gamma(u, need_hi)
    return lo, np.where(loss > 0, hi, 0.0)
