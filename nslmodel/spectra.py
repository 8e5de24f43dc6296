r"""Latent spectra: the eigenvalues :math:`\lambda_I` of the data covariance :math:`\Lambda`.

Everything the theory needs from a spectrum is a handful of sums over its eigenvalues
(:mod:`nslmodel._traces`). A spectrum therefore exposes its eigenvalues as weighted nodes
``(lam, weights)`` with :math:`\sum_I f(\lambda_I) \approx \sum_k w_k f(\lambda_k)` for the smooth
summands that occur. Dense clusters of eigenvalues are replaced by Gauss nodes of their own
distribution, within a stated error bound far below rounding
(:func:`nslmodel._traces.compress_nodes`), for a :class:`Spectrum` and for the eigenvalues a
:class:`PowerLaw` sums exactly. For a large :class:`PowerLaw` only the head of the sum is
summed (so compressed) and its tail is replaced by an Euler-Maclaurin integral (see
:meth:`PowerLaw.nodes`), so that no array of size M is ever allocated by the theory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import _validate
from ._traces import SpectralTable, compress_nodes

__all__ = ["Spectrum", "PowerLaw", "as_spectrum"]


@dataclass(frozen=True, eq=False)
class Spectrum:
    r"""An arbitrary latent spectrum :math:`\lambda_1, \dots, \lambda_M \ge 0`.

    Parameters
    ----------
    eigenvalues : array_like, shape (M,)
        Non-negative, finite, at least one positive. Zero eigenvalues are latent directions
        without variance: they count towards M (which sets the scale of the teacher and
        feature weights) but not towards any trace.
    """

    eigenvalues: np.ndarray

    def __post_init__(self):
        lam = _validate.eigenvalues("eigenvalues", self.eigenvalues)
        lam.setflags(write=False)
        object.__setattr__(self, "eigenvalues", lam)

    @property
    def M(self) -> int:
        """Latent dimension: the number of eigenvalues, zeros included."""
        return int(self.eigenvalues.size)

    @functools.cached_property
    def trace(self) -> float:
        r""":math:`\sum_I \lambda_I`."""
        return float(math.fsum(self.eigenvalues))

    @functools.cached_property
    def rank(self) -> int:
        """Number of positive eigenvalues (the largest value D1 approaches)."""
        return int(np.count_nonzero(self.eigenvalues))

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted nodes for the sums: the positive eigenvalues, dense clusters compressed.

        Clusters of many eigenvalues within two e-folds are replaced by Gauss nodes of their
        own distribution (:func:`nslmodel._traces.compress_nodes`), which changes every
        spectral sum by less than :func:`nslmodel._traces.compression_error_bound` (1.2e-18)
        relative plus rounding.
        """
        return self._nodes

    @functools.cached_property
    def _nodes(self) -> tuple[np.ndarray, np.ndarray]:
        lam = self.eigenvalues
        if self.rank < lam.size:  # a copy without the zeros only where there are zeros
            lam = lam[lam > 0]
        lam_c, w_c = compress_nodes(lam, np.broadcast_to(1.0, lam.shape))
        lam_c.setflags(write=False)
        w_c.setflags(write=False)
        return lam_c, w_c

    @functools.cached_property
    def table(self) -> SpectralTable:
        """Interpolation table of the spectral sums (built lazily, cached on the instance)."""
        lam, w = self.nodes()
        return SpectralTable(lam, w, self.rank)


# Power laws up to this many eigenvalues per unit of (1 + alpha) are summed exactly; beyond,
# the head below HEAD_PER_EXPONENT * (1 + alpha) is exact and the tail is an integral. The
# neglected Euler-Maclaurin term is about 3e-3 |g'''(K0)| <= 3e-3 ((1 + alpha) / K0)**3 per
# summand scale, i.e. below 4e-13 for K0 = 2000 (1 + alpha).
HEAD_PER_EXPONENT = 2000
# Gauss-Legendre points per panel of the tail integral in t = log x. The summands are analytic
# in a strip |Im t| < pi / (1 + alpha); panels of width 1 / (1 + alpha) then converge like
# (2 pi + sqrt(1 + 4 pi^2))**(-2 n), i.e. below 1e-17 for n = 8.
TAIL_GAUSS_POINTS = 8


# The constraints on the fields of a PowerLaw.
_M = _validate.Integer(1)
_ALPHA = _validate.Real(-1.0, scalar=True)
_LAM_PLUS = _validate.Real(0.0, scalar=True)


@dataclass(frozen=True, eq=False)
class PowerLaw:
    r"""Power-law spectrum :math:`\lambda_I = \lambda_+ I^{-(1+\alpha)}`, :math:`I = 1..M` (paper Eqs. 6, 127).

    Parameters
    ----------
    M : int
        Latent dimension, ``M >= 1``.
    alpha : float
        Power-law exponent, ``alpha > -1`` (the scaling laws of the paper need ``alpha > 0``).
    lam_plus : float
        Largest eigenvalue :math:`\lambda_+ > 0`.

    Notes
    -----
    For ``M <= 4 K0`` with ``K0 = 2000 (1 + alpha)`` every eigenvalue is summed, and for larger
    M the first K0; in both cases their dense end is compressed into Gauss nodes within
    1.2e-18 relative (:meth:`nodes`). For larger M the sums over ``I > K0`` are replaced by the
    Euler-Maclaurin (midpoint) form

    .. math::
        \sum_{I=K_0+1}^{M} g(I) = \int_{K_0+1/2}^{M+1/2} g(x)\,dx
            - \tfrac{1}{24}\left[g'(M+\tfrac12) - g'(K_0+\tfrac12)\right] + R,

    the integral by composite Gauss-Legendre quadrature in :math:`\log x` and the derivative
    by a centred difference over the neighbouring integers. The remainder is bounded by
    about :math:`3\times10^{-3}\,((1+\alpha)/K_0)^3` times the summand scale, below
    :math:`10^{-12}` relative; memory and time are independent of M.
    """

    M: int
    alpha: float
    lam_plus: float = 1.0

    def __post_init__(self):
        _validate.check_fields(self, M=_M, alpha=_ALPHA, lam_plus=_LAM_PLUS)
        M, alpha, lam_plus = self.M, self.alpha, self.lam_plus
        log_min = math.log(lam_plus) - (1 + alpha) * math.log(M)
        if log_min < math.log(np.finfo(float).tiny):
            raise ValueError(
                f"the smallest eigenvalue lam_plus * M**-(1 + alpha) = exp({log_min:.1f}) underflows "
                f"float64 for M={M}, alpha={alpha}; use a smaller alpha or M"
            )

    @functools.cached_property
    def eigenvalues(self) -> np.ndarray:
        """All M eigenvalues (allocates M floats; the theory never calls this)."""
        lam = self.lam_plus * np.arange(1, self.M + 1, dtype=float) ** (-(1 + self.alpha))
        lam.setflags(write=False)
        return lam

    @property
    def rank(self) -> int:
        """Number of positive eigenvalues: all M of them."""
        return self.M

    @functools.cached_property
    def trace(self) -> float:
        r""":math:`\lambda_+ \sum_{I \le M} I^{-(1+\alpha)}` (a Hurwitz zeta difference)."""
        from scipy.special import zeta

        s = 1 + self.alpha
        if self.M <= 4 * self._head or s == 1:
            head, _, rest, w_rest = self._exact_nodes()  # uncompressed: the exact sum
            return float(math.fsum(np.concatenate([head, rest * w_rest])))
        return float(self.lam_plus * (zeta(s, 1) - zeta(s, self.M + 1)))

    @property
    def _head(self) -> int:
        return int(HEAD_PER_EXPONENT * (1 + self.alpha))

    def _lam(self, x):
        return self.lam_plus * np.asarray(x, dtype=float) ** (-(1 + self.alpha))

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Weighted nodes reproducing the sums (see the class notes).

        The eigenvalues summed exactly (all of them, or the head) are compressed like those
        of a :class:`Spectrum` (:func:`nslmodel._traces.compress_nodes`: every spectral sum
        changes by less than :func:`nslmodel._traces.compression_error_bound`, 1.2e-18
        relative, plus rounding); the dense end of a power law then takes 16 nodes per
        two e-folds instead of thousands of eigenvalues, which makes its table that much
        cheaper to build.
        """
        return self._nodes

    @functools.cached_property
    def _nodes(self) -> tuple[np.ndarray, np.ndarray]:
        exact, w_exact, rest, w_rest = self._exact_nodes()
        lam, w = compress_nodes(exact, w_exact)
        lam, w = np.concatenate([lam, rest]), np.concatenate([w, w_rest])
        lam.setflags(write=False)
        w.setflags(write=False)
        return lam, w

    def _exact_nodes(self):
        """``(head, 1, tail, w_tail)``: eigenvalues summed exactly, then quadrature nodes."""
        K0 = self._head
        if self.M <= 4 * K0:
            lam = self._lam(np.arange(1, self.M + 1))
            return lam, np.ones_like(lam), np.empty(0), np.empty(0)
        head = np.arange(1, K0 + 1)
        t0, t1 = math.log(K0 + 0.5), math.log(self.M + 0.5)
        width = min(0.5, 1.0 / (1 + self.alpha))
        n_panels = max(1, math.ceil((t1 - t0) / width))
        edges = np.linspace(t0, t1, n_panels + 1)
        gx, gw = np.polynomial.legendre.leggauss(TAIL_GAUSS_POINTS)
        half = 0.5 * np.diff(edges)[:, None]
        t = (0.5 * (edges[:-1] + edges[1:]))[:, None] + half * gx[None, :]
        x_tail = np.exp(t).ravel()
        w_tail = (half * gw[None, :] * np.exp(t)).ravel()  # dx = e^t dt
        # -(1/24)[g'(M + 1/2) - g'(K0 + 1/2)] with g'(y + 1/2) ~ g(y + 1) - g(y).
        x_corr = np.array([self.M + 1.0, float(self.M), K0 + 1.0, float(K0)])
        w_corr = np.array([-1.0, 1.0, 1.0, -1.0]) / 24.0
        x = np.concatenate([x_tail, x_corr])
        w = np.concatenate([w_tail, w_corr])
        return self._lam(head), np.ones(K0), self._lam(x), w

    @functools.cached_property
    def table(self) -> SpectralTable:
        """Interpolation table of the spectral sums (built lazily, cached on the instance)."""
        lam, w = self.nodes()
        return SpectralTable(lam, w, self.M)


def as_spectrum(spectrum) -> Spectrum | PowerLaw:
    """Return ``spectrum`` as a spectrum object (a PowerLaw, a Spectrum, or a 1-D array)."""
    return _validate.SPECTRUM("spectrum", spectrum)


def from_eigenvalues(arr: np.ndarray) -> Spectrum:
    """A :class:`Spectrum` of the checked 1-D float array ``arr``, cached by content.

    The few most recent spectra are compared with ``arr`` bit for bit (O(M), and several times
    cheaper than a digest of the contents); a match is reused with its interpolation table.
    """
    arr = np.ascontiguousarray(arr, dtype=float)
    bits = arr.view(np.uint64)
    for k, spec in enumerate(_SPECTRUM_CACHE):
        old = spec.eigenvalues.view(np.uint64)
        # the end elements first: a different spectrum rarely passes them, and they cost O(1)
        if old.shape == bits.shape and old[0] == bits[0] and old[-1] == bits[-1] and np.array_equal(old, bits):
            break
    else:
        k, spec = None, Spectrum(arr)
    if k is not None:
        del _SPECTRUM_CACHE[k]
    _SPECTRUM_CACHE.insert(0, spec)  # most recently used first
    del _SPECTRUM_CACHE[_SPECTRUM_CACHE_SIZE:]
    return spec


# Plain arrays reuse the spectrum (and its table) of a recent call with the same eigenvalues;
# only the few most recent spectra are kept.
_SPECTRUM_CACHE_SIZE = 4
_SPECTRUM_CACHE: list = []
