r"""The expected test loss at any ridge (book/solution.md; paper Eqs. 93, 99, 104 and App. A, Eq. 184).

.. math::
    \langle L \rangle = \frac{C \sigma_w^2}{2 \sigma_u^2}\,
        \frac{\rho N T (D_1 - D_2)}{\mathcal{D}}, \qquad
    \langle L_\epsilon \rangle = \frac{C \sigma_\epsilon^2}{2}\,
        \frac{D_2 (N - D_1) + D_1 (D_1 - D_2)}{\mathcal{D}},

.. math::
    \mathcal{D} = (N - D_1)(T - D_1) + (N + T - 2 D_1)(D_1 - D_2),

every term positive, so each loss keeps its relative precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate
from ._traces import log_mu_per_rho
from ._validate import LOG_HUGE
from .solver import _log, solve_flat, solve_point  # _log: numpy's log of a float, as the array path

__all__ = ["LossTerms", "LossCurve", "expected_loss", "expected_loss_terms", "loss_curve", "log_slope"]


@dataclass(frozen=True)
class LossTerms:
    """The two parts of the expected test loss; floats or arrays broadcast from N, T, gamma."""

    signal: np.ndarray | float
    """Loss from the teacher alone (paper Eq. 104)."""
    noise: np.ndarray | float
    """Extra loss from label noise (paper Eq. 184); 0 when sigma_eps = 0."""
    total: np.ndarray | float
    """``signal + noise``."""


@dataclass(frozen=True)
class LossCurve:
    r"""A loss-versus-ridge curve drawn parametrically in :math:`\rho` (book/solution.md)."""

    rho: np.ndarray
    """Latent-space ridge, the curve parameter."""
    gamma: np.ndarray
    r""":math:`\gamma(\rho) = \rho (N - D_1)(T - D_1)`."""
    loss: np.ndarray
    """Expected test loss (signal plus noise) at each gamma."""


def gaps(N, T, s, rank):
    r""":math:`N - D_1` and :math:`T - D_1` from the spectral sums ``s`` (a ``Sums``).

    Subtracts from the smaller of :math:`D_1` and :math:`\operatorname{rank} - D_1 = F_0`, so the
    result keeps the accuracy of that sum (``(N - rank)`` is exact near N = rank).
    """
    big = s.D1 > 0.5 * rank
    dN = np.where(big, (N - rank) + s.rank_minus_D1, N - s.D1)
    dT = np.where(big, (T - rank) + s.rank_minus_D1, T - s.D1)
    return dN, dT


def log_prefactor(C, sigma_w, sigma_u) -> float:
    r""":math:`\log[C\sigma_w^2/(2\sigma_u^2)]`, as a sum of logs where the product leaves float64.

    Where the product is a normal float it is formed first (the bits of the plain formula);
    otherwise, e.g. at ``sigma_u = 1e-170``, the logs are added, so that any representable loss
    comes out (the loss depends on gamma / sigma_u**2 and scales with sigma_w**2).
    """
    with np.errstate(all="ignore"):
        p = np.float64(C) * np.float64(sigma_w) ** 2 / (2.0 * np.float64(sigma_u) ** 2)
    if np.isfinite(p) and p >= TINY:
        return float(np.log(p))
    return math.log(C / 2.0) + 2.0 * math.log(sigma_w) - 2.0 * math.log(sigma_u)


TINY = float(np.finfo(float).tiny)


def signal_loss(N, T, log_rho, den, f12, *, C, sigma_u, sigma_w):
    r""":math:`\frac{C\sigma_w^2}{2\sigma_u^2}\rho N T (D_1 - D_2)/\mathcal{D}` (paper Eq. 104)."""
    if sigma_w == 0:
        return np.zeros(np.shape(den))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # caught by the caller
        log_l = (
            log_prefactor(C, sigma_w, sigma_u) + log_rho + np.log(N * T) + np.log(f12)
            - np.log(den)
        )
        # D1 - D2 and the denominator both underflowed (deep in the ridgeless limit at full
        # rank): the loss is below float64 as well, an underflow for the caller to report.
        log_l = np.where((f12 == 0) & (den == 0), -np.inf, log_l)
        return np.exp(log_l)


def noise_loss(dN, den, f1, f12, f2, *, C, sigma_eps):
    r""":math:`\frac{C\sigma_\epsilon^2}{2}[D_2 (N - D_1) + D_1 (D_1 - D_2)]/\mathcal{D}` (Eq. 184)."""
    if sigma_eps == 0:
        return np.zeros(np.shape(den))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # caught by the caller
        noise = noise_prefactor(C, sigma_eps) * (f2 * dN + f1 * f12) / den
    # Every term underflowed with the denominator: below float64, an underflow for the caller.
    return np.where(den > 0, noise, 0.0)


def noise_prefactor(C, sigma_eps) -> np.float64:
    r""":math:`C \sigma_\epsilon^2 / 2`, formed in one fixed order (scalar and array paths alike)."""
    with np.errstate(over="ignore"):  # an overflow is caught by the caller
        return 0.5 * np.float64(C) * np.float64(sigma_eps) ** 2


def terms_flat(N, T, log_rho, dN, dT, s, *, C, sigma_u, sigma_w, sigma_eps):
    f12 = s.D1_minus_D2
    den = dN * dT + (dN + dT) * f12  # the second, all-positive form of D
    sig = signal_loss(N, T, log_rho, den, f12, C=C, sigma_u=sigma_u, sigma_w=sigma_w)
    noi = noise_loss(dN, den, s.D1, f12, s.D2, C=C, sigma_eps=sigma_eps)
    return sig, noi


def log_slope(dN, dT, s, sig, noi):
    r""":math:`d\log\langle L\rangle/du` (:math:`u = \log\rho` + const) from the sums and the two loss terms.

    With :math:`p = N - D_1`, :math:`q = T - D_1`, :math:`e = D_1 - D_2`, :math:`g = D_2 - D_3`,
    :math:`P = p D_2 + D_1 e` and the derivatives of nslmodel._traces
    (:math:`p' = q' = e`, :math:`e' = 2g - e`, :math:`D_2' = -2g`),

    .. math::
        \frac{d\log L}{du} = \frac{2 (p q g - e^3)}{\mathcal{D} e}, \qquad
        \frac{d\log L_\epsilon}{du} = \frac{2 [g (D_1 - p) - e^2]}{P}
            - \frac{2 [e^2 + (p + q) g]}{\mathcal{D}},

    the first free of cancellation except in :math:`p q g - e^3` itself, whose zero is the
    stationarity condition. The slope of the total is their average weighted by ``sig``, ``noi``.
    """
    e, g = s.D1_minus_D2, s.D2_minus_D3
    den = dN * dT + (dN + dT) * e
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = 2.0 * (dN * dT * g - e * e * e) / (den * e)
        if np.any(noi > 0):
            P = dN * s.D2 + s.D1 * e
            noise = 2.0 * (g * (s.D1 - dN) - e * e) / P - 2.0 * (e * e + (dN + dT) * g) / den
            total = sig + noi
            slope = np.where(total > 0, (sig * slope + noi * noise) / total, 0.0)
    return slope


def scales(C, sigma_u, sigma_w, sigma_eps) -> str:
    """How the losses scale with the parameters received, for range errors."""
    return (
        f"scales as C sigma_w**2 (signal) and C sigma_eps**2 (noise) and depends on gamma / "
        f"sigma_u**2; got C={C}, sigma_w={sigma_w:g}, sigma_eps={sigma_eps:g}, sigma_u={sigma_u:g}"
    )


def check_range(total, text, where, *, divergent=False, exact_zero=False):
    """``total`` unless a value is NaN or left the normal float64 range (then a ValueError).

    0 is accepted only where ``exact_zero`` (a bool or mask: the loss vanishes exactly, e.g.
    sigma_w = sigma_eps = 0), +inf only if ``divergent``; ``text`` says how the loss scales and
    ``where`` names the input at a flat index.
    """
    total = np.asarray(total, dtype=float)
    with np.errstate(divide="ignore"):
        log_total = np.where((total == 0) & ~np.asarray(exact_zero), -1e308, np.log(total))
    _validate.from_log(log_total, "the expected loss", text, where, divergent=divergent)
    return total


# A total loss within these bounds is a normal float64 whose log lies inside
# [LOG_TINY, LOG_HUGE] with room to spare: check_range would accept it unchanged.
_PLAIN_LOW = 2.0 * TINY
_PLAIN_HIGH = 0.5 * float(np.finfo(float).max)


def _terms_point(N: float, T: float, gamma: float, spec, *, C, sigma_u, sigma_w, sigma_eps):
    """:func:`expected_loss_terms` at one point in Python floats, or None outside the plain case.

    The same IEEE operations in the same order as :func:`terms_flat` and the array path (numpy's
    exp and log on scalars), hence the same bits; it only saves numpy's per-call overhead. Where
    anything is out of the ordinary (D1 - D2 or the denominator at the edge of float64, a loss
    check_range would refuse, an exact zero), it returns None and the array path decides.
    """
    _, log_rho, dN, dT, s = solve_point(N, T, gamma, spec.table, spec.M, sigma_u)
    f1, _, f12, f2, _ = s
    den = dN * dT + (dN + dT) * f12  # the second, all-positive form of D
    if not (f12 >= TINY and TINY <= den < math.inf):
        return None
    sig = noi = 0.0
    if sigma_w != 0:
        log_l = log_prefactor(C, sigma_w, sigma_u) + log_rho + _log(N * T) + _log(f12) - _log(den)
        if not log_l < LOG_HUGE:
            return None
        sig = float(np.exp(log_l))
    if sigma_eps != 0:
        noi = float(noise_prefactor(C, sigma_eps) * (f2 * dN + f1 * f12) / den)
    total = sig + noi
    if not (_PLAIN_LOW <= total <= _PLAIN_HIGH):
        return None
    return LossTerms(signal=sig, noise=noi, total=total)


@_validate.validated(
    gamma=_validate.RIDGE, broadcast=("N", "T", "gamma"),
    teacher=_validate.Optional(_validate.TEACHER_POWER), **_validate.MODEL,
)
def expected_loss_terms(
    N, T, gamma, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1, teacher=None
) -> LossTerms:
    """Signal and noise parts of the expected test loss; see :func:`expected_loss`."""
    if teacher is not None:
        from .teacher import no_sigma_w, teacher_loss_terms

        no_sigma_w(sigma_w)
        return teacher_loss_terms(N, T, gamma, spectrum, teacher, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C)
    spec = spectrum
    if N.ndim == 0 and T.ndim == 0 and gamma.ndim == 0:
        point = _terms_point(float(N), float(T), float(gamma), spec, C=C, sigma_u=sigma_u,
                             sigma_w=sigma_w, sigma_eps=sigma_eps)
        if point is not None:
            return point
    N, T, gamma = np.broadcast_arrays(N, T, gamma)
    shape = N.shape
    Nf, Tf, gf = N.ravel(), T.ravel(), gamma.ravel()
    u, log_rho, dN, dT, s = solve_flat(Nf, Tf, gf, spec.table, spec.M, sigma_u)
    sig, noi = terms_flat(Nf, Tf, log_rho, dN, dT, s, C=C, sigma_u=sigma_u, sigma_w=sigma_w,
                          sigma_eps=sigma_eps)
    # Where D1 - D2 underflows, mu > tr / 2.2e-308 (gamma / sigma_u**2 beyond float64): the loss
    # is its gamma -> infinity limit C sigma_w^2 tr(Lambda) / (2M) to rounding, the noise 0.
    far = s.D1_minus_D2 < TINY
    if np.any(far) and sigma_w > 0:
        with np.errstate(over="ignore"):
            null = np.exp(math.log(C / 2.0) + 2.0 * math.log(sigma_w) + spec.table.log_trace - math.log(spec.M))
        sig = np.where(far, null, sig)
    total = check_range(sig + noi, scales(C, sigma_u, sigma_w, sigma_eps),
                        lambda i: f"N={Nf[i]:g}, T={Tf[i]:g}, gamma={gf[i]:g}",
                        exact_zero=(sigma_w == 0 and sigma_eps == 0))
    return LossTerms(*(_validate.shape_out(x, shape) for x in (sig, noi, total)))


@_validate.validated(
    gamma=_validate.RIDGE, broadcast=("N", "T", "gamma"),
    teacher=_validate.Optional(_validate.TEACHER_POWER), **_validate.MODEL,
)
def expected_loss(N, T, gamma, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1, teacher=None):
    r"""Expected test loss :math:`\langle L \rangle + \langle L_\epsilon \rangle` at ridge gamma.

    Implements book/solution.md: paper Eqs. 93, 99 and 104 for the teacher and App. A, Eq. 184 for
    label noise.

    .. math::
        \langle L \rangle = \frac{C \sigma_w^2}{2 \sigma_u^2}\,
            \frac{\rho N T (D_1 - D_2)}{\mathcal{D}}, \qquad
        \rho\,(N - D_1)(T - D_1) = \gamma .

    Parameters
    ----------
    N, T : float or array_like
        Number of features and of training samples; any positive reals.
    gamma : float or array_like
        Ridge, ``0 < gamma < inf``; for gamma = 0 use :func:`nslmodel.ridgeless_loss`.
    spectrum : PowerLaw, Spectrum or array_like
        Latent spectrum :math:`\lambda_I`.
    sigma_u, sigma_w, sigma_eps : float
        Scales of the feature weights (> 0), teacher weights and label noise (>= 0).
    C : int
        Label dimension, ``C >= 1``.
    teacher : array_like, shape (M,), optional
        A given teacher power :math:`\beta_I^2 = \sum_c W_{cI}^2\lambda_I` per latent direction
        instead of the isotropic average (then ``sigma_w`` is not used): the deterministic
        equivalent of :func:`nslmodel.teacher.teacher_loss_terms`. Default None: isotropic.

    Returns
    -------
    float or ndarray
        A float for scalar input, otherwise an array broadcast from N, T and gamma.
    """
    # The arguments are checked already: call the undecorated function, not the checks twice.
    return expected_loss_terms.__wrapped__(
        N, T, gamma, spectrum, sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps, C=C, teacher=teacher
    ).total


@_validate.validated(rho=_validate.Real(0.0), **_validate.MODEL)
def loss_curve(N, T, rho, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1) -> LossCurve:
    r"""Loss against ridge drawn parametrically: :math:`\gamma(\rho)` and :math:`\langle L\rangle(\rho)`.

    No root finding (book/solution.md): for each :math:`\rho` on the physical branch
    :math:`D_1(\rho) < \min(N, T)`, :math:`\gamma = \rho (N - D_1)(T - D_1)`.

    Parameters
    ----------
    N, T : float
        Scalars.
    rho : array_like
        Latent-space ridges, each above the ridgeless root :math:`\rho_*` (where
        :math:`D_1 = \min(N, T)`); :func:`nslmodel.ridgeless_loss` covers :math:`\rho = \rho_*`.
    spectrum, sigma_u, sigma_w, sigma_eps, C
        As in :func:`expected_loss`.

    Returns
    -------
    LossCurve
        ``rho``, ``gamma`` and ``loss`` (signal plus noise), arrays of the shape of ``rho``.
    """
    spec = spectrum
    if N.ndim or T.ndim:
        raise TypeError(
            f"loss_curve takes scalar N and T; got shapes {N.shape} and {T.shape}; loop over "
            "them for several curves"
        )
    table = spec.table
    u = np.log(rho) + log_mu_per_rho(spec.M, sigma_u)
    s = table.sums(u)
    dN, dT = gaps(N, T, s, table.rank)
    if np.any((dN <= 0) | (dT <= 0)):
        raise ValueError(
            "rho must lie on the physical branch D1(rho) < min(N, T), i.e. above the ridgeless "
            f"root; got rho = {float(np.min(rho))!r} with D1 = {float(np.max(s.D1))!r} >= "
            f"min(N, T) = {float(min(N, T))!r}"
        )
    sig, noi = terms_flat(N, T, np.log(rho), dN, dT, s, C=C, sigma_u=sigma_u, sigma_w=sigma_w,
                           sigma_eps=sigma_eps)
    loss = check_range(sig + noi, scales(C, sigma_u, sigma_w, sigma_eps), None,
                       exact_zero=(sigma_w == 0 and sigma_eps == 0))
    with np.errstate(over="ignore"):
        gamma = rho * dN * dT
    _validate.from_log(np.log(gamma), "gamma", f"scales as rho; got rho up to {float(np.max(rho)):g}")
    return LossCurve(rho=rho, gamma=gamma, loss=loss)
