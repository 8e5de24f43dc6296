r"""The spectral sums of the solution as fast, accurate functions of :math:`u = \log\mu`.

With :math:`s_I = \sigma_u^2 \lambda_I / M` and :math:`\mu = \rho M / \sigma_u^2`, every trace
in book/solution.md is a sum of :math:`r_I = \lambda_I / (\lambda_I + \mu)` over the spectrum:

.. math::
    F_1 = \sum_I r_I = D_1, \qquad F_0 = \sum_I (1 - r_I) = \operatorname{rank} - D_1, \\
    F_{12} = \sum_I r_I (1 - r_I) = D_1 - D_2, \qquad F_2 = \sum_I r_I^2 = D_2 .

Each is computed directly (never as a difference) so that it keeps its relative accuracy where
it is tiny. Evaluating a sum costs O(M); to make grids cheap, :class:`SpectralTable` tabulates
:math:`\log F` on panels of width ``PANEL_WIDTH`` in u. On each panel :math:`\log F` is fitted by
its Chebyshev interpolant of degree ``DEGREE`` (values at the first-kind Chebyshev points), the
Chebyshev coefficients are converted once to a power series in the distance from the panel's
left end, and all panels are evaluated together by :class:`scipy.interpolate.PPoly`.

Why these values: every summand of :math:`F_1, F_0, F_{12}` has positive real part in the strip
:math:`|\operatorname{Im} u| < \pi/2`, and every summand of :math:`F_2` in
:math:`|\operatorname{Im} u| < \pi/4`, so each :math:`\log F` is analytic there. A panel of width
1/4 maps the narrower strip to a Bernstein ellipse with
:math:`\varrho = 2\pi + \sqrt{1 + 4\pi^2} \approx 12.6` (:math:`\approx 25` for the first three
sums), and the interpolation error falls like :math:`\varrho^{-\mathrm{DEGREE}}`; at degree 12 the
highest coefficients are at the level of float64 rounding (about 2e-15 measured on power laws
and wide log-normal spectra).

Panels are built lazily, only where they are queried. Beyond ``EDGE`` e-folds outside the
spectrum the sums are given by their convergent series (three terms; error below
:math:`e^{-3\,\mathrm{EDGE}}`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.interpolate import PPoly

__all__ = ["SpectralTable", "F1", "F0", "F12", "F2"]

F1, F0, F12, F2 = range(4)
# Panel width in u and interpolation degree: together they put the interpolation error at
# float64 rounding (module docstring).
PANEL_WIDTH = 0.25
DEGREE = 12
# Beyond this many e-folds outside the spectrum the three-term series is accurate to
# e**(-3 EDGE) ~ 1e-26 relative, far below rounding.
EDGE = 20.0
# Bound on the elements of one (points x nodes) work array when summing directly: 512 KiB,
# about cache-sized (larger blocks were slower).
_CHUNK_ELEMENTS = 1 << 16

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


def direct_log_sums(u: np.ndarray, lam: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``log [F1, F0, F12, F2]`` at ``u`` (1-D) by direct weighted summation; shape (len(u), 4)."""
    u = np.asarray(u, dtype=float)
    out = np.empty((u.size, 4))
    step = max(1, _CHUNK_ELEMENTS // max(1, lam.size))
    for i in range(0, u.size, step):
        mu = np.exp(u[i : i + step])[:, None]
        den = lam[None, :] + mu
        r1 = lam[None, :] / den
        r0 = mu / den
        out[i : i + step, F1] = (r1 @ w)
        out[i : i + step, F0] = (r0 @ w)
        out[i : i + step, F12] = ((r1 * r0) @ w)
        out[i : i + step, F2] = ((r1 * r1) @ w)
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
        self.n_panels = int(np.ceil((self.u_hi - self.u_lo) / PANEL_WIDTH))
        # Local power-series coefficients, highest power first, in scipy's PPoly layout
        # (degree, panel, function); unbuilt panels hold NaN until queried.
        self.coef = np.full((DEGREE + 1, self.n_panels, 4), np.nan)
        self.breaks = self.u_lo + PANEL_WIDTH * np.arange(self.n_panels + 1)
        self._pp = PPoly.construct_fast(self.coef, self.breaks, extrapolate=True)
        self.built = np.zeros(self.n_panels, dtype=bool)
        # Power sums for the series beyond the table, scaled to avoid overflow:
        # hi: sum w lam^j = lmax^j P[j]; lo: sum w lam^-j = lmin^-j Q[j].
        lmax, lmin = np.exp(self.log_lam_max), np.exp(self.log_lam_min)
        self._P = np.array([np.dot(self.w, (self.lam / lmax) ** j) for j in range(1, 5)])
        self._Q = np.array([np.dot(self.w, (lmin / self.lam) ** j) for j in range(1, 4)])

    # -- table -----------------------------------------------------------------------------
    def _build(self, panels: np.ndarray) -> None:
        panels = panels[~self.built[panels]]
        if panels.size == 0:
            return
        left = self.u_lo + panels * PANEL_WIDTH
        u = (left[:, None] + 0.5 * PANEL_WIDTH * (_CHEB_X[None, :] + 1.0)).ravel()
        vals = direct_log_sums(u, self.lam, self.w).reshape(panels.size, DEGREE + 1, 4)
        # Fit the variation about the panel mean: log F can be large (|log F| ~ 40 far from the
        # spectrum) and its rounding would otherwise leak into every coefficient.
        mean = vals.mean(axis=1, keepdims=True)
        coef = np.einsum("kj,pjf->pkf", _CHEB_FIT, vals - mean)
        coef[:, 0] += mean[:, 0]
        local = np.einsum("ik,pkf->ipf", _TO_LOCAL, coef)
        self.coef[:, panels] = local[::-1]
        self.built[panels] = True

    def _interp(self, u: np.ndarray) -> np.ndarray:
        # Unbuilt panels hold NaN coefficients, so evaluating first and building only where
        # NaN comes out costs nothing once the queried panels exist.
        out = self._pp(u)
        missing = np.isnan(out[:, 0])
        if np.any(missing):
            k = np.floor((u[missing] - self.u_lo) / PANEL_WIDTH).astype(np.intp)
            # PPoly picks its panel by comparing u with the rounded breakpoints; within rounding
            # of a breakpoint that may be either neighbour of k, so build all three.
            near = np.clip(np.concatenate([k - 1, k, k + 1]), 0, self.n_panels - 1)
            self._build(np.unique(near))
            out[missing] = self._pp(u[missing])
        return out

    # -- series beyond the table -------------------------------------------------------------
    def _series_high(self, u: np.ndarray) -> np.ndarray:
        # mu >> every lambda: expand in x = lam / mu.
        P = self._P
        e = np.exp(self.log_lam_max - u)  # lmax / mu <= exp(-EDGE)
        out = np.empty((u.size, 4))
        log_p1 = np.log(P[0]) - (u - self.log_lam_max)
        out[:, F1] = log_p1 + np.log1p(-e * P[1] / P[0] + e**2 * P[2] / P[0])
        out[:, F12] = log_p1 + np.log1p(-2 * e * P[1] / P[0] + 3 * e**2 * P[2] / P[0])
        out[:, F2] = np.log(P[1]) + 2 * (self.log_lam_max - u) + np.log1p(
            -2 * e * P[2] / P[1] + 3 * e**2 * P[3] / P[1]
        )
        out[:, F0] = np.log(self.rank - np.exp(out[:, F1]))
        return out

    def _series_low(self, u: np.ndarray) -> np.ndarray:
        # mu << every lambda: expand in y = mu / lam.
        Q = self._Q
        e = np.exp(u - self.log_lam_min)  # mu / lmin <= exp(-EDGE)
        out = np.empty((u.size, 4))
        log_q1 = np.log(Q[0]) + (u - self.log_lam_min)
        out[:, F0] = log_q1 + np.log1p(-e * Q[1] / Q[0] + e**2 * Q[2] / Q[0])
        out[:, F12] = log_q1 + np.log1p(-2 * e * Q[1] / Q[0] + 3 * e**2 * Q[2] / Q[0])
        f0, f12 = np.exp(out[:, F0]), np.exp(out[:, F12])
        out[:, F1] = np.log(self.rank - f0)
        out[:, F2] = np.log(self.rank - f0 - f12)
        return out

    def log_sums(self, u) -> np.ndarray:
        """``log [F1, F0, F12, F2]`` at ``u = log mu``; shape ``u.shape + (4,)``."""
        u = np.asarray(u, dtype=float)
        flat = u.ravel()
        out = np.empty((flat.size, 4))
        lo, hi = flat < self.u_lo, flat >= self.u_hi
        if not (lo.any() or hi.any()):  # the usual case: every point inside the table
            return self._interp(flat).reshape(u.shape + (4,))
        mid = ~(lo | hi)
        if np.any(lo):
            out[lo] = self._series_low(flat[lo])
        if np.any(hi):
            out[hi] = self._series_high(flat[hi])
        if np.any(mid):
            out[mid] = self._interp(flat[mid])
        return out.reshape(u.shape + (4,))

    def sums(self, u) -> np.ndarray:
        """``[F1, F0, F12, F2]`` at ``u = log mu``; shape ``u.shape + (4,)``."""
        return np.exp(self.log_sums(u))
