"""Vectorised bracketed root refinement shared by the optimal-ridge solvers.

:func:`lowest_stationary_point` brackets the lowest minimum along ``u`` by a sign scan of
the slope and refines it; :func:`illinois` refines many brackets at once by the Illinois
(safeguarded regula falsi) iteration; :func:`newton_log` refines a positive root in the logarithm of the unknown by a few
Newton steps with central differences. Both serve :mod:`nslmodel.optimal` and
:mod:`nslmodel.teacher`, which locate the optimal ridge from the stationarity condition.
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
