r"""The spectral sums of the solution as fast, accurate functions of :math:`u = \log\mu`.

With :math:`s_I = \sigma_u^2 \lambda_I / M` and :math:`\mu = \rho M / \sigma_u^2`, every trace
in book/solution.md is a sum of :math:`r_I = \lambda_I / (\lambda_I + \mu)` over the spectrum:

.. math::
    F_1 = \sum_I r_I = D_1, \qquad F_0 = \sum_I (1 - r_I) = \operatorname{rank} - D_1, \\
    F_{12} = \sum_I r_I (1 - r_I) = D_1 - D_2, \qquad F_2 = \sum_I r_I^2 = D_2, \\
    F_{23} = \sum_I r_I^2 (1 - r_I) = D_2 - D_3 .

They are closed under differentiation in u: with :math:`dr_I/du = -r_I (1 - r_I)`,

.. math::
    \frac{dF_1}{du} = -F_{12}, \quad \frac{dF_0}{du} = F_{12}, \quad
    \frac{dF_{12}}{du} = 2 F_{23} - F_{12}, \quad \frac{dF_2}{du} = -2 F_{23},

so the u-derivative of the loss (:mod:`nslmodel.optimal`) is a rational function of the same
five sums. They travel together as a :class:`Sums` named tuple.

Each is computed directly (never as a difference) so that it keeps its relative accuracy where
it is tiny. Evaluating a sum costs O(M); to make grids cheap, :class:`SpectralTable` tabulates
:math:`\log F` on panels of width ``PANEL_WIDTH`` in u. On each panel :math:`\log F` is fitted by
its Chebyshev interpolant of degree ``DEGREE`` (values at the first-kind Chebyshev points), the
Chebyshev coefficients are converted once to a power series in the distance from the panel's
left end, evaluated by Horner's rule.

Why these values: every summand of :math:`F_1, F_0, F_{12}` has positive real part in the strip
:math:`|\operatorname{Im} u| < \pi/2`, and every summand of :math:`F_2` and :math:`F_{23}` in
:math:`|\operatorname{Im} u| < \pi/4`, so each :math:`\log F` is analytic there. A panel of width
1/4 maps the narrower strip to a Bernstein ellipse with
:math:`\varrho = 2\pi + \sqrt{1 + 4\pi^2} \approx 12.6` (:math:`\approx 25` for the first three
sums), and the interpolation error falls like :math:`\varrho^{-\mathrm{DEGREE}}`; at degree 12 the
highest coefficients are at the level of float64 rounding (about 2e-15 measured on power laws
and wide log-normal spectra).

An arbitrary spectrum reaches the table already compressed (:func:`compress_nodes`): each
dense cluster of eigenvalues spanning at most two e-folds is replaced by the Gauss rule of its
own distribution in :math:`\log\lambda`, with a proven relative error bound of 1.2e-18 for every
sum and every u (:func:`compression_error_bound`); M = 1e4 log-normal eigenvalues become about
130 nodes, which makes building a panel about 75 times cheaper.

The root solves start from an estimate of the u where D1 (or rank - D1) takes a given value:
a cubic Hermite interpolant of u against log D1 on a fixed grid, summed directly once per
spectrum (:meth:`SpectralTable.inverse_d1`).

Panels are built lazily, only where they are queried, in fixed blocks of ``BLOCK`` panels:
a block is always evaluated on the same points, and every block a query lacks is built in one
direct summation whose rows are independent, followed by a fit that is elementwise per panel;
so every value the table returns is a function of u and the spectrum alone, whatever was
queried before and however the blocks were grouped (the direct sums avoid BLAS, whose
reductions may depend on the thread count). Beyond ``EDGE`` e-folds outside the
spectrum the sums are given by their convergent series (three terms; error below
:math:`e^{-3\,\mathrm{EDGE}}`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = ["Sums", "SpectralTable", "direct_log_sums", "log_mu_per_rho", "N_SUMS"]


class Sums(NamedTuple):
    r"""The five spectral sums at each point (arrays of one shape, or their logarithms)."""

    D1: np.ndarray
    r""":math:`F_1 = D_1 = \sum_I r_I`."""
    rank_minus_D1: np.ndarray
    r""":math:`F_0 = \operatorname{rank} - D_1 = \sum_I (1 - r_I)`."""
    D1_minus_D2: np.ndarray
    r""":math:`F_{12} = D_1 - D_2 = \sum_I r_I (1 - r_I)`."""
    D2: np.ndarray
    r""":math:`F_2 = D_2 = \sum_I r_I^2`."""
    D2_minus_D3: np.ndarray
    r""":math:`F_{23} = D_2 - D_3 = \sum_I r_I^2 (1 - r_I)`."""

    def take(self, idx) -> "Sums":
        """The sums at the points ``idx`` (any numpy index)."""
        return Sums(*(f[idx] for f in self))


N_SUMS = len(Sums._fields)
_F1, _F0, _F12, _F2, _F23 = range(N_SUMS)  # columns of the internal (points, sums) arrays
_ALL_COLS = tuple(range(N_SUMS))
_COLS = np.arange(N_SUMS)


def log_mu_per_rho(M: int, sigma_u: float) -> float:
    r""":math:`\log(\mu/\rho) = \log M - 2\log\sigma_u`: the table variable is
    :math:`u = \log\mu = \log\rho + ` this (with :math:`\mu = \rho M / \sigma_u^2`)."""
    return math.log(M) - 2.0 * math.log(sigma_u)


# Panel width in u and interpolation degree: together they put the interpolation error at
# float64 rounding (module docstring).
PANEL_WIDTH = 0.25
DEGREE = 12
# Panels are built in blocks of this many (one e-fold of u): one block is the unit of lazy
# construction, always evaluated on the same BLOCK * (DEGREE + 1) points, so its values never
# depend on which queries triggered it. Small, so that a query builds little beyond the panels
# it lands in (the benchmark's 2000 points land in about 45 panels); the blocks a query lacks
# are built together, so a small block costs no extra passes.
BLOCK = 4
# Beyond this many e-folds outside the spectrum the three-term series is accurate to
# e**(-3 EDGE) ~ 1e-26 relative, far below rounding.
EDGE = 20.0
# Grid of the interpolant of u against log D1 that gives the root solves their start values:
# spacing in u and reach beyond the spectrum (e-folds). The cubic Hermite error is about
# STEP**4 / 384 times a fourth derivative of order one, ~1e-5 in u (measured <= 7e-6).
INVERSE_STEP = 0.25
INVERSE_MARGIN = 4.0
# Bound on the elements of one (points x moments) work array of the Chebyshev moments: 512 KiB.
# It fixes their summation order, hence the compressed nodes to the last bit: do not change it.
_CHUNK_ELEMENTS = 1 << 16
# Bound on the elements of each of the four (points x nodes) work arrays of direct_log_sums:
# 128 KiB, so that all four stay in a core's L2 cache. The chunking does not change a bit.
_DIRECT_CHUNK_ELEMENTS = 1 << 14

_j = np.arange(DEGREE + 1)
_CHEB_X = np.cos(np.pi * (_j + 0.5) / (DEGREE + 1))  # first-kind Chebyshev points
_CHEB_FIT = (2.0 / (DEGREE + 1)) * np.cos(np.pi * np.outer(_j, _j + 0.5) / (DEGREE + 1))
_CHEB_FIT[0] *= 0.5


def _cheb_to_local_monomials() -> np.ndarray:
    """Matrix taking Chebyshev coefficients on a panel to powers of (u - panel start).

    With x = 2 t / h - 1, t = u - left: first Chebyshev -> powers of x, then the binomial
    shift to powers of t. The basis change and the shift grow terms by at most about
    (2 (1 + sqrt 2))**k ~ 4.8**k, while our coefficients decay at least like 12.6**-k (see the
    module docstring), so the conversion costs only a few ulps.
    """
    to_x = np.zeros((DEGREE + 1, DEGREE + 1))
    for k in range(DEGREE + 1):
        to_x[: k + 1, k] = np.polynomial.chebyshev.cheb2poly(np.eye(DEGREE + 1)[k])[: k + 1]
    to_t = np.zeros((DEGREE + 1, DEGREE + 1))
    for j in range(DEGREE + 1):  # x^j = sum_i C(j, i) (2 t / h)^i (-1)^(j - i)
        for i in range(j + 1):
            to_t[i, j] = math.comb(j, i) * (2.0 / PANEL_WIDTH) ** i * (-1.0) ** (j - i)
    return to_t @ to_x


_TO_LOCAL = _cheb_to_local_monomials()


def direct_log_sums(u: np.ndarray, lam: np.ndarray, w: np.ndarray, count: int = N_SUMS) -> np.ndarray:
    """``log`` of the sums (``Sums`` order) at ``u`` (1-D) by direct weighted summation.

    Shape (len(u), count): the first ``count`` sums, each with the bits it has in the full
    result. Each point's row is reduced on its own by numpy's pairwise summation (no BLAS),
    so a value does not depend on the other points, the chunking or the threads.
    """
    u = np.asarray(u, dtype=float)
    out = np.empty((u.size, count))
    step = max(1, _DIRECT_CHUNK_ELEMENTS // max(1, lam.size))
    # Four work arrays, reused across chunks and written in place: each chunk then stays in
    # cache, which makes the sums several times faster than fresh temporaries would.
    rows = min(step, u.size)
    den, r1, a, b = (np.empty((rows, lam.size)) for _ in range(4))
    for i in range(0, u.size, step):
        mu = np.exp(u[i : i + step])[:, None]
        n = mu.shape[0]
        d, R1, A, B = den[:n], r1[:n], a[:n], b[:n]
        np.add(lam, mu, out=d)
        np.divide(lam, d, out=R1)  # r_I
        np.divide(mu, d, out=d)  # 1 - r_I, computed directly
        np.multiply(R1, w, out=A)  # w r
        out[i : i + n, _F1] = A.sum(axis=1)
        np.multiply(d, w, out=B)
        out[i : i + n, _F0] = B.sum(axis=1)
        np.multiply(A, d, out=B)  # w r (1 - r)
        out[i : i + n, _F12] = B.sum(axis=1)
        if count > _F2:
            np.multiply(A, R1, out=A)  # w r^2
            out[i : i + n, _F2] = A.sum(axis=1)
            np.multiply(B, R1, out=B)  # w r (1 - r) r
            out[i : i + n, _F23] = B.sum(axis=1)
    return np.log(out)


class SpectralTable:
    """Lazily built piecewise-polynomial tables of ``log F`` (see the module docstring).

    Parameters
    ----------
    lam, w : ndarray
        Positive nodes and their weights (from ``Spectrum.nodes`` / ``PowerLaw.nodes``).
    rank : int
        The exact number of positive eigenvalues, the limit of F1 as mu -> 0.
    """

    def __init__(self, lam: np.ndarray, w: np.ndarray, rank: int):
        self.lam = np.asarray(lam, dtype=float)
        self.w = np.asarray(w, dtype=float)
        self.rank = rank
        log_lam = np.log(self.lam)
        self.log_lam_min = float(log_lam.min())
        self.log_lam_max = float(log_lam.max())
        self.u_lo = self.log_lam_min - EDGE
        self.u_hi = self.log_lam_max + EDGE
        n_blocks = int(np.ceil((self.u_hi - self.u_lo) / (PANEL_WIDTH * BLOCK)))
        self.n_panels = n_blocks * BLOCK
        # Local power-series coefficients, lowest power first, stored power-major as
        # (power, panel * N_SUMS + sum): a query gathers the columns it needs in one call, which
        # gives one contiguous row per power for Horner's rule. Unbuilt panels hold NaN.
        self.coef = np.full((DEGREE + 1, self.n_panels * N_SUMS), np.nan)
        self.breaks = self.u_lo + PANEL_WIDTH * np.arange(self.n_panels + 1)
        self.built = np.zeros(self.n_panels, dtype=bool)
        self._rows = {}  # panel -> coefficient lists for log_sums_point
        self._inverse = None  # the interpolant of u(log D1), built on first use
        # log sum w lam and log sum w / lam (the latter as in _Q, scaled to avoid overflow);
        # fsum of a list: the same exactly rounded sum as of the array, without numpy scalars.
        self.log_trace = math.log(math.fsum((self.w * self.lam).tolist()))
        lmin = np.exp(self.log_lam_min)
        self.log_inv_trace = -self.log_lam_min + math.log(math.fsum((self.w * (lmin / self.lam)).tolist()))

    @functools.cached_property
    def _P(self) -> np.ndarray:
        """Power sums for the series above the table: sum w lam^j = lmax^j P[j - 1], j = 1..4."""
        lmax = np.exp(self.log_lam_max)
        return np.array([math.fsum((self.w * (self.lam / lmax) ** j).tolist()) for j in range(1, 5)])

    @functools.cached_property
    def _Q(self) -> np.ndarray:
        """Power sums for the series below the table: sum w lam^-j = lmin^-j Q[j - 1], j = 1..3."""
        lmin = np.exp(self.log_lam_min)
        return np.array([math.fsum((self.w * (lmin / self.lam) ** j).tolist()) for j in range(1, 4)])

    # -- table -----------------------------------------------------------------------------
    def _build_blocks(self, blocks) -> None:
        """Build the blocks ``blocks`` (distinct indices), each on its fixed points.

        One direct summation serves all of them (its rows are independent), and the fit is
        elementwise products reduced along the last axis, one row per (panel, sum, power):
        a panel's coefficients are those of building it on its own.
        """
        blocks = np.asarray(blocks, dtype=np.intp)
        panels = (blocks[:, None] * BLOCK + np.arange(BLOCK)).ravel()
        left = self.u_lo + panels * PANEL_WIDTH
        u = (left[:, None] + 0.5 * PANEL_WIDTH * (_CHEB_X[None, :] + 1.0)).ravel()
        # (panel, sum, point): each panel's values of one sum contiguous
        vals = direct_log_sums(u, self.lam, self.w).reshape(panels.size, DEGREE + 1, N_SUMS)
        vals = vals.transpose(0, 2, 1).copy()
        # Fit the variation about the panel mean: log F can be large (|log F| ~ 40 far from the
        # spectrum) and its rounding would otherwise leak into every coefficient.
        mean = vals.sum(axis=2, keepdims=True) * (1.0 / (DEGREE + 1))
        vals -= mean
        cheb = (vals[:, :, None, :] * _CHEB_FIT).sum(axis=3)  # (panel, sum, Chebyshev degree)
        cheb[:, :, 0] += mean[:, :, 0]
        local = (cheb[:, :, None, :] * _TO_LOCAL).sum(axis=3)  # (panel, sum, power)
        cols = (panels[:, None] * N_SUMS + _COLS).ravel()
        self.coef[:, cols] = local.reshape(-1, DEGREE + 1).T
        self.built[panels] = True

    def _interp(self, u: np.ndarray, cols: np.ndarray = _COLS) -> np.ndarray:
        """The sums ``cols`` (one index array for every point, or a row per point) at ``u``."""
        # u_lo <= u < u_hi here, so truncation is the floor; the minimum guards the last panel
        # against rounding (np.clip costs more than the whole Horner loop for one point).
        k = np.minimum(((u - self.u_lo) * (1.0 / PANEL_WIDTH)).astype(np.intp), self.n_panels - 1)
        built = self.built[k]
        if not built.all():
            self._build_blocks(np.unique(k[~built] // BLOCK))
        # One flat index per (point, sum) and Horner's rule on 1-D arrays: the same IEEE
        # operations per value as log_sums_point, so the layout does not change a bit.
        ncol = cols.shape[-1]
        t = np.repeat(u - (self.u_lo + k * PANEL_WIDTH), ncol)
        idx = (k[:, None] * N_SUMS + cols).ravel()
        c = self.coef.take(idx, axis=1)
        acc = c[DEGREE].copy()
        for j in range(DEGREE - 1, -1, -1):
            acc *= t
            acc += c[j]
        return acc.reshape(u.size, ncol)

    def log_sums_point(self, u: float, cols=_ALL_COLS) -> list:
        """``log_sums`` at one float u as a list of floats, bit for bit the array result.

        Horner's rule in Python floats performs the same IEEE operations, in the same order, as
        the array evaluation; outside the table the array code itself is used. It saves the
        per-call overhead of numpy for a scalar query. ``cols`` selects sums (``Sums`` order);
        each is evaluated on its own, so a subset has the bits of the full result.
        """
        if not (self.u_lo <= u < self.u_hi):
            row = self._log_sums_flat(np.array([u]))[0].tolist()
            return [row[i] for i in cols]
        k = min(int((u - self.u_lo) * (1.0 / PANEL_WIDTH)), self.n_panels - 1)
        rows = self._rows.get(k)
        if rows is None:
            if not self.built[k]:
                self._build_blocks([k // BLOCK])
            # per sum, highest power first
            block = self.coef[:, k * N_SUMS : (k + 1) * N_SUMS]
            rows = self._rows[k] = block.T[:, ::-1].tolist()
        t = u - (self.u_lo + float(k) * PANEL_WIDTH)
        out = []
        for i in cols:
            c = rows[i]
            acc = c[0]
            for x in c[1:]:
                acc = acc * t + x
            out.append(acc)
        return out

    # -- inverse of D1: start values for the root solves --------------------------------------
    def _inverse_table(self):
        """Cubic Hermite pieces of u as a function of z, on a fixed grid (built once, in full).

        Column 0: z = -log D1, column 1: z = log(rank - D1); both increase with u, at the rates
        F12 / F1 and F12 / F0. The grid is u_k = log(lam_min) - INVERSE_MARGIN + k INVERSE_STEP
        up to log(lam_max) + INVERSE_MARGIN, summed directly, so the pieces depend on the
        spectrum alone. Returns ``(z, coef, slope_end)``: the breakpoints ``z`` (2, K), the
        power-series coefficients in ``s = (z - z_k) / (z_{k+1} - z_k)`` of each piece,
        flattened as (2 (K - 1), 4), and the grid's end values for linear extrapolation.
        """
        if self._inverse is None:
            lo = self.log_lam_min - INVERSE_MARGIN
            count = int(np.ceil((self.log_lam_max + INVERSE_MARGIN - lo) / INVERSE_STEP)) + 1
            u = lo + INVERSE_STEP * np.arange(count)
            ls = direct_log_sums(u, self.lam, self.w, count=_F12 + 1)  # F1, F0, F12
            z = np.stack([-ls[:, _F1], ls[:, _F0]])
            m = np.stack([np.exp(ls[:, _F1] - ls[:, _F12]), np.exp(ls[:, _F0] - ls[:, _F12])])  # du/dz
            dz = z[:, 1:] - z[:, :-1]
            du = u[1:] - u[:-1]
            a1 = dz * m[:, :-1]
            a3 = dz * (m[:, :-1] + m[:, 1:]) - 2.0 * du
            a2 = 3.0 * du - dz * (2.0 * m[:, :-1] + m[:, 1:])
            a0 = np.broadcast_to(u[:-1], a1.shape)
            coef = np.stack([a0, a1, a2, a3], axis=-1).reshape(-1, 4)
            ends = (u[0], u[-1], z[:, 0].copy(), z[:, -1].copy(), m[:, 0].copy(), m[:, -1].copy())
            self._inverse = (z, coef, ends)
        return self._inverse

    @functools.cached_property
    def _inverse_lists(self):
        """The breakpoints and coefficients of :meth:`_inverse_table` as lists, for one point."""
        z, coef, _ = self._inverse_table()
        return z.tolist(), coef.tolist()

    def inverse_d1(self, n: np.ndarray, use_f0: np.ndarray) -> np.ndarray:
        """An estimate of the u with D1(u) = n (0 < n < rank): a start value for Newton.

        Off by about 1e-5 in u where D1 = n lies on the grid (measured <= 7e-6 for power laws
        and log-normal spectra), by up to about 0.1 where the grid's linear extrapolation is
        used (n below D1 at its right end or within rank - D1 at its left end of rank).

        Interpolates u against log(rank - D1) where ``use_f0``, else against -log D1 (cubic
        Hermite on a fixed grid, linear beyond it). Elementwise after a per-point search, so
        each value depends on its own point only; :meth:`inverse_d1_point` gives the same bits.
        """
        z_grid, coef, (u0, u1, z0, z1, m0, m1) = self._inverse_table()
        col = use_f0.astype(np.intp)
        lz = np.log(np.where(use_f0, self.rank - n, n))  # one log per point
        z = np.where(use_f0, lz, -lz)
        count = z_grid.shape[1]
        i = np.empty(n.shape, dtype=np.intp)
        for c in (0, 1):
            sel = col == c
            if sel.any():
                i[sel] = np.searchsorted(z_grid[c], z[sel])
        k = np.clip(i - 1, 0, count - 2)
        zk = z_grid[col, k]
        s = (z - zk) / (z_grid[col, k + 1] - zk)
        a = coef[col * (count - 1) + k]
        est = a[:, 0] + s * (a[:, 1] + s * (a[:, 2] + s * a[:, 3]))
        left = u0 + (z - z0[col]) * m0[col]
        right = u1 + (z - z1[col]) * m1[col]
        return np.where(i == 0, left, np.where(i == count, right, est))

    def inverse_d1_point(self, n: float, use_f0: bool) -> float:
        """:meth:`inverse_d1` for one point in Python floats (same operations, same bits)."""
        import bisect

        _, _, (u0, u1, z0, z1, m0, m1) = self._inverse_table()
        z_grid, coef = self._inverse_lists
        col = 1 if use_f0 else 0
        z = float(np.log(self.rank - n)) if use_f0 else -float(np.log(n))
        zg = z_grid[col]
        count = len(zg)
        i = bisect.bisect_left(zg, z)
        if i == 0:
            return float(u0) + (z - float(z0[col])) * float(m0[col])
        if i == count:
            return float(u1) + (z - float(z1[col])) * float(m1[col])
        k = min(max(i - 1, 0), count - 2)
        zk = zg[k]
        s = (z - zk) / (zg[k + 1] - zk)
        a0, a1, a2, a3 = coef[col * (count - 1) + k]
        return a0 + s * (a1 + s * (a2 + s * a3))

    # -- series beyond the table -------------------------------------------------------------
    def _series_high(self, u: np.ndarray) -> np.ndarray:
        # mu >> every lambda: expand in x = lam / mu.
        P = self._P
        e = np.exp(self.log_lam_max - u)  # lmax / mu <= exp(-EDGE)
        out = np.empty((u.size, N_SUMS))
        log_p1 = np.log(P[0]) - (u - self.log_lam_max)
        log_p2 = np.log(P[1]) + 2 * (self.log_lam_max - u)
        out[:, _F1] = log_p1 + np.log1p(-e * P[1] / P[0] + e**2 * P[2] / P[0])
        out[:, _F12] = log_p1 + np.log1p(-2 * e * P[1] / P[0] + 3 * e**2 * P[2] / P[0])
        out[:, _F2] = log_p2 + np.log1p(-2 * e * P[2] / P[1] + 3 * e**2 * P[3] / P[1])
        out[:, _F23] = log_p2 + np.log1p(-3 * e * P[2] / P[1] + 6 * e**2 * P[3] / P[1])
        out[:, _F0] = np.log(self.rank - np.exp(out[:, _F1]))
        return out

    def _series_low(self, u: np.ndarray) -> np.ndarray:
        # mu << every lambda: expand in y = mu / lam.
        Q = self._Q
        e = np.exp(u - self.log_lam_min)  # mu / lmin <= exp(-EDGE)
        out = np.empty((u.size, N_SUMS))
        log_q1 = np.log(Q[0]) + (u - self.log_lam_min)
        out[:, _F0] = log_q1 + np.log1p(-e * Q[1] / Q[0] + e**2 * Q[2] / Q[0])
        out[:, _F12] = log_q1 + np.log1p(-2 * e * Q[1] / Q[0] + 3 * e**2 * Q[2] / Q[0])
        out[:, _F23] = log_q1 + np.log1p(-3 * e * Q[1] / Q[0] + 6 * e**2 * Q[2] / Q[0])
        f0, f12 = np.exp(out[:, _F0]), np.exp(out[:, _F12])
        out[:, _F1] = np.log(self.rank - f0)
        out[:, _F2] = np.log(self.rank - f0 - f12)
        return out

    def _log_sums_flat(self, flat: np.ndarray, cols: np.ndarray = _COLS) -> np.ndarray:
        if flat.size and self.u_lo <= flat.min() and flat.max() < self.u_hi:
            return self._interp(flat, cols)  # the usual case: every point inside the table
        lo, hi = flat < self.u_lo, flat >= self.u_hi
        out = np.empty((flat.size, cols.shape[-1]))
        mid = ~(lo | hi)
        for where, series in ((lo, self._series_low), (hi, self._series_high)):
            if np.any(where):
                full = series(flat[where])
                out[where] = full[:, cols] if cols.ndim == 1 else np.take_along_axis(full, cols[where], 1)
        if np.any(mid):
            out[mid] = self._interp(flat[mid], cols if cols.ndim == 1 else cols[mid])
        return out

    def log_root_sums(self, u: np.ndarray, use_f0: np.ndarray) -> np.ndarray:
        """``log`` of the two sums a root solve needs at the 1-D ``u``: shape (len(u), 2).

        Column 0 holds rank - D1 where ``use_f0`` (a boolean per point) and D1 elsewhere,
        column 1 holds D1 - D2. Each value has the bits of ``log_sums``: each sum is evaluated
        on its own.
        """
        cols = np.empty((u.size, 2), dtype=np.intp)
        cols[:, 0] = np.where(use_f0, _F0, _F1)
        cols[:, 1] = _F12
        return self._log_sums_flat(u, cols)

    def log_sums(self, u) -> Sums:
        """The logarithms of the five sums at ``u = log mu``, each of the shape of ``u``."""
        u = np.asarray(u, dtype=float)
        out = self._log_sums_flat(u.ravel())
        return Sums(*(out[:, i].reshape(u.shape) for i in range(N_SUMS)))

    def sums(self, u) -> Sums:
        """The five sums at ``u = log mu``, each of the shape of ``u``."""
        u = np.asarray(u, dtype=float)
        if u.size == 1:  # same bits, less overhead
            out = np.exp(np.array([self.log_sums_point(float(u.ravel()[0]))]))
        else:
            out = np.exp(self._log_sums_flat(u.ravel()))
        return Sums(*(out[:, i].reshape(u.shape) for i in range(N_SUMS)))


# -- compression of an arbitrary spectrum into weighted Gauss nodes -----------------------------
# Sorted log-eigenvalues are grouped greedily into clusters spanning at most
# 2 * CLUSTER_HALF_WIDTH in t = log(lambda); a cluster holding more than CLUSTER_MIN_POINTS
# eigenvalues is replaced by the CLUSTER_NODES-point Gauss rule of its own discrete measure
# (compress_nodes). With these values the error bound of compress_nodes is 1.2e-18 relative
# (15 nodes would give 4.0e-17; each node gains a factor of about 30).
CLUSTER_HALF_WIDTH = 1.0
CLUSTER_NODES = 16
CLUSTER_MIN_POINTS = 2 * CLUSTER_NODES
# A computed rule is used only if it integrates T_0..T_{2n-1} to this fraction of the mass.
MOMENT_TOL = 1e-14
# Points per batch of the Chebyshev recurrence (a 32 x 2^15 work array, 8 MiB).
_MOMENT_BATCH = 1 << 15
# Values of the ellipse's semi-axis B in (0, pi) over which compression_error_bound minimises.
_BOUND_GRID = 256


def compression_error_bound(h: float = CLUSTER_HALF_WIDTH, n: int = CLUSTER_NODES) -> float:
    r"""Bound on the relative error of every spectral sum after :func:`compress_nodes`.

    Each summand is :math:`f = r^a (1 - r)^b` with :math:`(a, b)` one of (1, 0), (0, 1),
    (1, 1), (2, 0), (2, 1) (the five :class:`Sums`), so :math:`a + b \le 3` and
    :math:`\max(a, b) \le 2`. As a function of :math:`t = \log\lambda` it is analytic in the
    strip :math:`|\operatorname{Im} t| < \pi` (the poles of :math:`r = 1 / (1 + e^{u - t})` sit
    at :math:`\operatorname{Im} t = \pm\pi`). For :math:`|\operatorname{Im} z| \le B < \pi`,
    :math:`|1 + e^{x + iy}|^2 - \cos^2(y/2) (1 + e^x)^2 = \sin^2(y/2) (1 - e^x)^2 \ge 0`, so
    :math:`|r(z)| \le r(\operatorname{Re} z) / \cos(B/2)` and likewise for :math:`1 - r`; and on the
    real line :math:`d \log f / dt = a (1 - r) - b r` lies in :math:`[-b, a]`, so
    :math:`f(s) / f(t) \le e^{2 |s - t|}`. On a cluster :math:`[c - h, c + h]` take the Bernstein
    ellipse of imaginary semi-axis :math:`B`: real semi-axis :math:`A = \sqrt{B^2 + h^2}`,
    :math:`\varrho = (B + A) / h`. In it :math:`|f| \le K \min_{\text{cluster}} f` with
    :math:`K = \cos(B/2)^{-3} e^{2 (A + h)}`. The n-point Gauss rule of a positive measure of
    mass :math:`\mu_0` is exact for polynomials of degree :math:`2n - 1`, so its error is at
    most :math:`2 \mu_0 E_{2n-1}(f)` with the best approximation error
    :math:`E_k \le 2 \max_{\text{ellipse}} |f|\, \varrho^{-k} / (\varrho - 1)` (Trefethen,
    Approximation Theory and Approximation Practice, Thm 8.2), while the cluster's exact sum
    is at least :math:`\mu_0 \min f`. The relative error of each cluster, and so of the whole
    (positive) sum, is therefore at most

    .. math::
        \min_{0 < B < \pi} 4 K \varrho^{-(2n - 1)} / (\varrho - 1),

    uniformly in :math:`u = \log\mu` (every B gives a bound; the minimum is taken over a grid
    of ``_BOUND_GRID`` values, near :math:`B = 0.9\pi` for the defaults). Rounding in the
    construction of the rule adds a few ulps.
    """

    def at(B: float) -> float:
        A = math.hypot(B, h)
        rho = (B + A) / h
        K = math.cos(0.5 * B) ** -3 * math.exp(2.0 * (A + h))
        return 4.0 * K * rho ** (-(2 * n - 1)) / (rho - 1.0)

    return min(at(math.pi * k / _BOUND_GRID) for k in range(1, _BOUND_GRID))


def _chebyshev_moments(x: np.ndarray, w: np.ndarray, count: int, segments) -> np.ndarray:
    """``sum_i w_i T_k(x_i)`` for k < count over each segment ``x[a:b]``: shape (segments, count).

    ``segments`` are consecutive ranges ``(a, b)`` of ``x``, in order.

    Numpy sums, no BLAS: thread independent. Each segment is summed in fixed chunks of
    ``step`` points counted from its own start, each chunk reduced by numpy's pairwise sum and
    the chunks accumulated in order, so a segment's moments do not depend on the others
    (nor on how many are computed together). The Chebyshev recurrence is elementwise; it runs
    on batches of whole chunks of at most ``_MOMENT_BATCH`` points, which bounds the work
    array (M may be 1e7) and saves numpy's per-call overhead on many small clusters.
    """
    step = max(1, _CHUNK_ELEMENTS // count)
    # equal unit weights (a Spectrum): the product is exact; a broadcast weight is one number
    unit = bool(w.flat[0] == 1.0) if w.strides == (0,) else bool(np.all(w == 1.0))
    chunks = [(s, a, min(a + step, b)) for s, (lo, b) in enumerate(segments) for a in range(lo, b, step)]
    total = np.zeros((len(segments), count))
    k0 = 0
    while k0 < len(chunks):
        k1, size = k0, 0
        while k1 < len(chunks) and (k1 == k0 or size + chunks[k1][2] - chunks[k1][1] <= _MOMENT_BATCH):
            size += chunks[k1][2] - chunks[k1][1]
            k1 += 1
        batch = chunks[k0:k1]
        # the chunks of a batch are consecutive in x
        idx = slice(batch[0][1], batch[-1][2])
        xc = x[idx]
        x2 = 2.0 * xc
        T = np.empty((count, xc.size))
        T[0] = 1.0
        T[1] = xc
        for k in range(2, count):
            np.multiply(x2, T[k - 1], out=T[k])
            T[k] -= T[k - 2]
        if not unit:  # in place: a second work array would cost more than the products
            T *= w[idx]
        pos = 0
        for seg, a, b in batch:
            total[seg] += T[:, pos : pos + b - a].sum(axis=1)
            pos += b - a
        k0 = k1
    return total


def _gauss_rules(moments: np.ndarray, n: int):
    """The n-point Gauss rule of each measure on [-1, 1] from its 2n Chebyshev moments (rows).

    Gautschi's modified Chebyshev algorithm (Gautschi, "On generating orthogonal polynomials",
    SIAM J. Sci. Stat. Comput. 3, 1982) with the monic Chebyshev polynomials
    :math:`p_k = T_k / 2^{k-1}` (recurrence coefficients :math:`a_k = 0`, :math:`b_1 = 1/2`,
    :math:`b_k = 1/4`) gives the Jacobi matrix; its eigenvalues are the nodes and the squared
    first components of its eigenvectors times the mass the weights (Golub and Welsch).
    The recurrence runs on all measures at once (elementwise, so each row's values are those
    of a computation on its own). Returns a list with ``(nodes, weights)`` per row, or None
    where the algorithm breaks down (a non-positive norm or a non-finite coefficient).
    """
    L = 2 * n
    rows = moments.shape[0]
    # Columns are the measures: every step below is one elementwise operation on all of them.
    # monic p_k = T_k / 2^(k-1): modified moments, and the recurrence b_l of the p_l
    m = moments[:, :L].T.copy()
    m[1:] *= (0.5 ** np.arange(L - 1))[:, None]  # exact: powers of two
    b = np.array([0.0, 0.5] + [0.25] * (L - 2))[:, None]
    alpha, beta = np.empty((n, rows)), np.empty((n, rows))
    beta[0] = m[0]
    # ratio[k] = sigma_{k, k+1} / sigma_{k, k}: alpha_k = ratio[k] - ratio[k-1] (a_k = 0)
    ratio = np.empty((n, rows))
    norm = np.empty((n, rows))  # sigma_{k, k}, positive for a measure with >= n points
    with np.errstate(all="ignore"):  # rows that break down are discarded below
        np.divide(m[1], m[0], out=ratio[0])
        alpha[0] = ratio[0]
        norm[0] = m[0]
        # sigma_{k, l} = sigma_{k-1, l+1} - alpha_{k-1} sigma_{k-1, l}
        #               - beta_{k-1} sigma_{k-2, l} + b_l sigma_{k-1, l-1},   l = k .. L-k-1,
        # evaluated in this order; row j of `cur` holds sigma_{k-1, k-1+j}, of `prev`
        # sigma_{k-2, k-2+j} (zero for k = 1), of `new` sigma_{k, k+j}.
        prev, cur = np.zeros((L + 2, rows)), m
        for k in range(1, n):
            new = cur[2:] - alpha[k - 1] * cur[1:-1]
            new -= beta[k - 1] * prev[2 : L - 2 * k + 2]
            new += b[k : L - k] * cur[:-2]
            norm[k] = new[0]
            np.divide(new[1], new[0], out=ratio[k])
            np.subtract(ratio[k], ratio[k - 1], out=alpha[k])
            np.divide(new[0], norm[k - 1], out=beta[k])
            prev, cur = cur, new
    ok = np.all(norm > 0.0, axis=0)
    ok &= np.all(np.isfinite(alpha), axis=0) & np.all(np.isfinite(beta), axis=0)
    out = [None] * rows
    stevd = _stevd()
    for r in np.flatnonzero(ok):
        nodes, vecs, info = stevd(alpha[:, r], np.sqrt(beta[1:, r]), compute_v=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"stevd failed (info = {info}) on a cluster's Jacobi matrix")
        out[r] = (nodes, beta[0, r] * vecs[0] ** 2)
    return out


@functools.cache
def _stevd():
    """LAPACK's stevd for float64, the driver scipy.linalg.eigh_tridiagonal chooses for all
    eigenpairs, called directly: the same routine (same bits) without the wrapper's checks,
    which cost more than the n x n problem."""
    from scipy.linalg import get_lapack_funcs

    return get_lapack_funcs(("stevd",), (np.zeros(1),))[0]


def _reproduce(moments: np.ndarray, rules: list) -> list:
    """Whether each rule integrates its measure's Chebyshev moments T_0..T_{2n-1} to rounding.

    A Gauss rule is exact for them; the check guards the construction (the modified Chebyshev
    algorithm loses accuracy for measures it cannot resolve). |T_k| <= 1 on [-1, 1], so each
    moment is at most the mass, and the recurrence and sums cost O(k) ulps of it. Every rule
    has n nodes: the recurrence runs on all of them at once (elementwise) and each rule's
    moments are reduced over its own n nodes, so a verdict does not depend on the other rules.
    """
    good = [r for r, rule in enumerate(rules) if rule is not None]
    verdict = [False] * len(rules)
    if not good:
        return verdict
    L = 2 * CLUSTER_NODES
    xg = np.array([rules[r][0] for r in good])  # (rules, n)
    wg = np.array([rules[r][1] for r in good])
    T = np.empty((L,) + xg.shape)
    T[0] = 1.0
    T[1] = xg
    x2 = 2.0 * xg
    for k in range(2, L):
        np.multiply(x2, T[k - 1], out=T[k])
        T[k] -= T[k - 2]
    T *= wg
    got = T.sum(axis=2).T  # (rules, L)
    ref = moments[good, :L]
    ok = np.all(np.abs(got - ref) <= MOMENT_TOL * ref[:, :1], axis=1)
    ok &= np.all(np.abs(xg) <= 1.0 + MOMENT_TOL, axis=1)
    for g, r in enumerate(good):
        verdict[r] = bool(ok[g])
    return verdict


def compress_nodes(lam: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fewer weighted nodes giving every spectral sum to :func:`compression_error_bound`.

    ``lam`` and ``w`` positive. Equal eigenvalues are merged (weights added) and the distinct
    ones sorted by log; starting from the smallest, each cluster takes every eigenvalue within
    ``2 * CLUSTER_HALF_WIDTH`` in log of its first one. A cluster of more than
    ``CLUSTER_MIN_POINTS`` distinct eigenvalues becomes the ``CLUSTER_NODES`` Gauss nodes of its
    own measure in ``t = log lambda`` (mapped to [-1, 1] over the cluster's extent), provided the
    computed rule reproduces the measure's first ``2 * CLUSTER_NODES`` Chebyshev moments to
    rounding (a check on the construction); other clusters are kept exactly. The result depends
    only on the multiset of (lambda, w) pairs.
    """
    # Few M-sized work arrays (M may be 1e7): equal weights (a Spectrum) need no permutation,
    # and a spectrum without ties no merging.
    t = np.log(lam)
    w = np.asarray(w, dtype=float)
    if w.strides == (0,) or np.all(w == w.flat[0]):  # a broadcast weight is one number
        t.sort()
        w = np.broadcast_to(w.flat[0], t.shape)
    else:
        order = np.argsort(t, kind="stable")
        t, w = t[order], w[order]
    tie = t[1:] == t[:-1]
    if tie.any():
        first = np.flatnonzero(np.concatenate([[True], ~tie]))
        t, w = t[first], np.add.reduceat(w, first)
    del tie
    clusters, i = [], 0
    while i < t.size:
        j = int(np.searchsorted(t, t[i] + 2.0 * CLUSTER_HALF_WIDTH, side="right"))
        clusters.append((i, j))
        i = j
    dense = [(i, j) for i, j in clusters if j - i > CLUSTER_MIN_POINTS]
    rules = {}
    if dense:
        # Every dense cluster mapped to [-1, 1] over its extent; moments and rules of all of
        # them at once (each computed as on its own, see _chebyshev_moments).
        centre = {i: 0.5 * (t[i] + t[j - 1]) for i, j in dense}
        half = {i: 0.5 * (t[j - 1] - t[i]) for i, j in dense}
        x = np.concatenate([(t[i:j] - centre[i]) / half[i] for i, j in dense])
        if w.strides == (0,):  # one weight: broadcast, not copied
            wx = np.broadcast_to(w.flat[0], x.shape)
        else:
            wx = np.concatenate([w[i:j] for i, j in dense])
        sizes = np.cumsum([0] + [j - i for i, j in dense])
        mom = _chebyshev_moments(x, wx, 2 * CLUSTER_NODES, list(zip(sizes[:-1], sizes[1:])))
        found = _gauss_rules(mom, CLUSTER_NODES)
        for (i, _), rule, good in zip(dense, found, _reproduce(mom, found)):
            if good:
                xg, wg = rule
                rules[i] = (centre[i] + half[i] * xg, wg)
    out_t, out_w = [], []
    for i, j in clusters:
        tc, wc = rules.get(i, (t[i:j], w[i:j]))
        out_t.append(tc)
        out_w.append(wc)
    return np.exp(np.concatenate(out_t)), np.concatenate(out_w)
