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

Panels are built lazily, only where they are queried, in fixed blocks of ``BLOCK`` panels:
a block is always evaluated on the same points with the same arithmetic, so every value the
table returns is a function of u and the spectrum alone, whatever was queried before (the
direct sums avoid BLAS, whose reductions may depend on the thread count). Beyond ``EDGE`` e-folds outside the
spectrum the sums are given by their convergent series (three terms; error below
:math:`e^{-3\,\mathrm{EDGE}}`).
"""

from __future__ import annotations

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


def log_mu_per_rho(M: int, sigma_u: float) -> float:
    r""":math:`\log(\mu/\rho) = \log M - 2\log\sigma_u`: the table variable is
    :math:`u = \log\mu = \log\rho + ` this (with :math:`\mu = \rho M / \sigma_u^2`)."""
    return math.log(M) - 2.0 * math.log(sigma_u)


# Panel width in u and interpolation degree: together they put the interpolation error at
# float64 rounding (module docstring).
PANEL_WIDTH = 0.25
DEGREE = 12
# Panels are built in blocks of this many (4 e-folds of u): one block is the unit of lazy
# construction, always evaluated on the same BLOCK * (DEGREE + 1) points, so its values never
# depend on which queries triggered it.
BLOCK = 16
# Beyond this many e-folds outside the spectrum the three-term series is accurate to
# e**(-3 EDGE) ~ 1e-26 relative, far below rounding.
EDGE = 20.0
# Bound on the elements of one (points x nodes) work array when summing directly: 512 KiB,
# about cache-sized.
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
    """``log`` of the five sums (``Sums`` order) at ``u`` (1-D) by direct weighted summation.

    Shape (len(u), 5). Each point's row is reduced on its own by numpy's pairwise summation
    (no BLAS), so a value does not depend on the other points, the chunking or the threads.
    """
    u = np.asarray(u, dtype=float)
    out = np.empty((u.size, N_SUMS))
    step = max(1, _CHUNK_ELEMENTS // max(1, lam.size))
    for i in range(0, u.size, step):
        mu = np.exp(u[i : i + step])[:, None]
        den = lam[None, :] + mu
        r1 = lam[None, :] / den
        r0 = mu / den
        r1w = r1 * w
        r12w = r1w * r0
        out[i : i + step, _F1] = r1w.sum(axis=1)
        out[i : i + step, _F0] = (r0 * w).sum(axis=1)
        out[i : i + step, _F12] = r12w.sum(axis=1)
        out[i : i + step, _F2] = (r1w * r1).sum(axis=1)
        out[i : i + step, _F23] = (r12w * r1).sum(axis=1)
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
        # Local power-series coefficients, lowest power first: (panel, power, sum); unbuilt
        # panels hold NaN until queried.
        self.coef = np.full((self.n_panels, DEGREE + 1, N_SUMS), np.nan)
        self.breaks = self.u_lo + PANEL_WIDTH * np.arange(self.n_panels + 1)
        self.built = np.zeros(self.n_panels, dtype=bool)
        self._rows = {}  # panel -> coefficient lists for log_sums_point
        # Power sums for the series beyond the table, scaled to avoid overflow:
        # hi: sum w lam^j = lmax^j P[j - 1]; lo: sum w lam^-j = lmin^-j Q[j - 1].
        lmax, lmin = np.exp(self.log_lam_max), np.exp(self.log_lam_min)
        self._P = np.array([math.fsum(self.w * (self.lam / lmax) ** j) for j in range(1, 5)])
        self._Q = np.array([math.fsum(self.w * (lmin / self.lam) ** j) for j in range(1, 4)])
        self.log_trace = math.log(math.fsum(self.w * self.lam))
        self.log_inv_trace = -self.log_lam_min + math.log(self._Q[0])  # log sum w / lam

    # -- table -----------------------------------------------------------------------------
    def _build_block(self, b: int) -> None:
        panels = np.arange(b * BLOCK, (b + 1) * BLOCK)
        left = self.u_lo + panels * PANEL_WIDTH
        u = (left[:, None] + 0.5 * PANEL_WIDTH * (_CHEB_X[None, :] + 1.0)).ravel()
        vals = direct_log_sums(u, self.lam, self.w).reshape(BLOCK, DEGREE + 1, N_SUMS)
        # Fit the variation about the panel mean: log F can be large (|log F| ~ 40 far from the
        # spectrum) and its rounding would otherwise leak into every coefficient.
        mean = vals.mean(axis=1, keepdims=True)
        coef = np.einsum("kj,pjf->pkf", _CHEB_FIT, vals - mean)
        coef[:, 0] += mean[:, 0]
        self.coef[panels] = np.einsum("ik,pkf->pif", _TO_LOCAL, coef)
        self.built[panels] = True

    def _interp(self, u: np.ndarray) -> np.ndarray:
        # u_lo <= u < u_hi here, so truncation is the floor; the minimum guards the last panel
        # against rounding (np.clip costs more than the whole Horner loop for one point).
        k = np.minimum(((u - self.u_lo) * (1.0 / PANEL_WIDTH)).astype(np.intp), self.n_panels - 1)
        missing = ~self.built[k]
        if missing.any():
            for b in np.unique(k[missing] // BLOCK):
                self._build_block(int(b))
        t = (u - (self.u_lo + k * PANEL_WIDTH))[:, None]
        c = self.coef[k]
        acc = c[:, DEGREE].copy()
        for j in range(DEGREE - 1, -1, -1):
            acc *= t
            acc += c[:, j]
        return acc

    def log_sums_point(self, u: float) -> list:
        """``log_sums`` at one float u as a list of floats, bit for bit the array result.

        Horner's rule in Python floats performs the same IEEE operations, in the same order, as
        the array evaluation; outside the table the array code itself is used. It saves the
        per-call overhead of numpy for a scalar query.
        """
        if not (self.u_lo <= u < self.u_hi):
            return self._log_sums_flat(np.array([u]))[0].tolist()
        k = min(int((u - self.u_lo) * (1.0 / PANEL_WIDTH)), self.n_panels - 1)
        rows = self._rows.get(k)
        if rows is None:
            if not self.built[k]:
                self._build_block(k // BLOCK)
            # per sum, highest power first
            rows = self._rows[k] = self.coef[k].T[:, ::-1].tolist()
        t = u - (self.u_lo + float(k) * PANEL_WIDTH)
        out = []
        for c in rows:
            acc = c[0]
            for x in c[1:]:
                acc = acc * t + x
            out.append(acc)
        return out

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

    def _log_sums_flat(self, flat: np.ndarray) -> np.ndarray:
        lo, hi = flat < self.u_lo, flat >= self.u_hi
        if not (lo.any() or hi.any()):  # the usual case: every point inside the table
            return self._interp(flat)
        out = np.empty((flat.size, N_SUMS))
        mid = ~(lo | hi)
        if np.any(lo):
            out[lo] = self._series_low(flat[lo])
        if np.any(hi):
            out[hi] = self._series_high(flat[hi])
        if np.any(mid):
            out[mid] = self._interp(flat[mid])
        return out

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
