r"""The expected test loss for a given teacher (book/teacher chapter; theory section 8).

The closed forms of :mod:`nslmodel.loss` average over an isotropic teacher,
:math:`\langle W_{cI}^2\rangle = \sigma_w^2/M`. A given target carries its own label variance
:math:`\beta_I^2 = \sum_c W_{cI}^2 \lambda_I` in each latent direction. With :math:`\rho`,
:math:`D_1`, :math:`D_2` of the self-consistent equation (paper Eqs. 93, 99; they do not depend
on the teacher) the deterministic equivalent of random-feature ridge regression (Bach,
arXiv:2303.01372; Defilippis, Loureiro and Misiakiewicz) reads

.. math::
    \langle L\rangle = \frac{\rho^2}{2(1 - \Upsilon)}\Big[\sum_I \frac{\beta_I^2}{(s_I+\rho)^2}
        + \chi \sum_I \frac{s_I\beta_I^2}{(s_I+\rho)^2}\Big],\qquad
    \chi = \frac{1}{N - D_2}\sum_I \frac{s_I}{(s_I+\rho)^2},

.. math::
    \Upsilon = \frac{N}{T}\Big[\Big(\frac{D_1}{N}\Big)^2
        + \Big(\frac{N - D_1}{N}\Big)^2\frac{D_2}{N - D_2}\Big],

with :math:`s_I = \sigma_u^2\lambda_I/M`, and label noise adds
:math:`\tfrac12 C\sigma_\varepsilon^2\,\Upsilon/(1-\Upsilon)`.

Cancellation-free form
----------------------
Near :math:`N = T` at tiny :math:`\rho` both :math:`\Upsilon` and 1 tend to 1, so
:math:`1 - \Upsilon` cannot be formed by subtraction. Expanding
:math:`T(N - D_2)(1 - \Upsilon)` gives exactly the denominator of paper Eq. 104,

.. math::
    1 - \Upsilon = \frac{\mathcal D}{T\,(N - D_2)},\qquad
    \mathcal D = (N - D_1)(T - D_1) + (N + T - 2D_1)(D_1 - D_2),\qquad
    N - D_2 = (N - D_1) + (D_1 - D_2),

a sum of positive terms given the gaps :math:`N - D_1`, :math:`T - D_1` and :math:`D_1 - D_2`
that :func:`nslmodel.solve` returns without cancellation. With
:math:`a_I = \rho/(s_I+\rho)`, :math:`b_I = s_I/(s_I+\rho)` and
:math:`\sum_I s_I/(s_I+\rho)^2 = (D_1 - D_2)/\rho`, the loss becomes

.. math::
    \langle L\rangle = \frac{T}{2\mathcal D}\Big[(N - D_1 + D_1 - D_2)\sum_I\beta_I^2 a_I^2
        + (D_1 - D_2)\sum_I \beta_I^2 a_I b_I\Big],

every factor positive and bounded (:math:`a_I, b_I \in [0, 1]`), so the loss keeps its
relative precision at any ridge; the noise term is :math:`\Upsilon/(1-\Upsilon) =
[D_2(N - D_1) + D_1(D_1 - D_2)]/\mathcal D`, the isotropic one (paper Eq. 184). For
:math:`\beta_I^2 = C\sigma_w^2\lambda_I/M` it reduces to paper Eq. 104 exactly.

Ridgeless limit
---------------
As :math:`\gamma\to0`, :math:`\rho\to\rho_*` with :math:`D_1(\rho_*) = n = \min(N,T)`. For
:math:`N < T` (then :math:`N - D_1\to0`, :math:`\mathcal D\to(T-N)(D_1-D_2)`) and for
:math:`N > T` (:math:`T - D_1\to 0`):

.. math::
    \langle L\rangle_0 = \frac{T}{2(T-N)}\sum_I\beta_I^2 a_I, \qquad
    \langle L\rangle_0 = \frac{T}{2(N-T)}\Big[\sum_I\beta_I^2 a_I
        + (N-T)\frac{\sum_I\beta_I^2 a_I^2}{D_1 - D_2}\Big],

at :math:`\rho_*`; both diverge at :math:`N = T` (double descent), and reduce to the
Maloney-Roberts-Sully form of paper Eqs. 105-126 for the isotropic teacher. When
:math:`n\ge R` (the rank of the spectrum) :math:`\rho_*=0` and the signal loss vanishes except at
:math:`N = T = R`, where it tends to :math:`\tfrac{R}{6}\sum_I\beta_I^2/s_I \big/ \sum_I 1/s_I`.

Optimal ridge
-------------
:math:`\gamma` increases along the physical branch, so :math:`\gamma^*` is the stationary point
of the loss in :math:`u = \log\rho` (cf. paper Eq. 128), found from the condition rather than
from loss values (where :math:`N \ll T` the loss is too flat for value comparisons). With
:math:`a_I' = a_I b_I = -b_I'`, the sums :math:`p = N - D_1`, :math:`q = T - D_1`,
:math:`e = D_1 - D_2`, :math:`g = D_2 - D_3 = \sum_I a_I b_I^2` obey :math:`p' = q' = e`,
:math:`e' = 2g - e` (as in :mod:`nslmodel._traces`), and the teacher sums
:math:`W_0 = \sum_I\beta_I^2 a_I`, :math:`W_1 = \sum_I\beta_I^2 a_I^2`,
:math:`W_2 = \sum_I\beta_I^2 a_I b_I`, :math:`W_3 = \sum_I\beta_I^2 a_I^2 b_I` obey
:math:`W_1' = 2W_3`, :math:`W_2' = W_2 - 2W_3` (:math:`W_0 = W_1 + W_2`). So
:math:`S = (p + e)W_1 + eW_2` and :math:`\mathcal D` have the positive derivatives
:math:`S' = 2(gW_0 + pW_3)` and :math:`\mathcal D' = 2[e^2 + (p + q)g]`, and

.. math::
    \frac{d\log\langle L\rangle}{du} = \frac{2F}{S\,\mathcal D},\qquad
    F = pq\,[gW_2 + (p + e)W_3] + p^2\,(eW_3 - gW_1) - e^2 S,

once the terms common to :math:`S'\mathcal D` and :math:`S\mathcal D'` are cancelled
analytically (checked against 50-digit central differences of the literal section-8 formula). For the isotropic teacher (:math:`\beta_I^2\propto s_I`:
:math:`eW_3 = gW_1`) :math:`F\propto pqg - e^3`, the condition of :mod:`nslmodel.optimal`. At the
start of the branch :math:`F\to -e^3 W_0 < 0` for :math:`N\le T`, while for N > T,
:math:`F\to(N - T)^2(eW_3 - gW_1) - e^2 S` can be positive: for a teacher whose power sits in
the leading directions the ridgeless limit can be the optimum (:math:`\gamma^* = 0`) when
:math:`N \gg T`. The noise term is the isotropic one, with its slope from
:func:`nslmodel.loss.log_slope`.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from . import _validate as _v
from ._validate import shape_out as _shape_out
from ._roots import flat_interval, lowest_stationary_point, polish_gaps
from ._traces import Sums
from .loss import LossTerms, gaps, log_slope, noise_loss
from .optimal import (
    CURVATURE_STEP, GAP_MAX_CHANGE, GAP_NEWTON, GAP_STEP, LOSS_EXCESS, NEAR_POINTS, SCAN_POINTS, OptimalRidge,
)
from .solver import solve

__all__ = [
    "isotropic_power",
    "source_power",
    "teacher_power",
    "teacher_loss",
    "teacher_loss_terms",
    "teacher_ridgeless_loss",
    "teacher_optimal_ridge",
]

# Points times latent directions summed in one block: bounds the temporaries to ~32 MB.
BLOCK_ELEMENTS = 4_000_000
# Scan of the slope of the loss in u = log(rho) (as in nslmodel.optimal): SCAN_POINTS evenly
# spaced points from the start of the branch to SPAN_BEYOND e-folds beyond the largest s_I
# (a step of ~0.5-1 in u), preceded by NEAR_POINTS points at step * 2**-k (k = NEAR_POINTS..1)
# that resolve a minimum squeezed against the start of the branch. At full rank the branch is
# started 2 * SPAN_BEYOND e-folds below the smallest s_I. Beyond SPAN_BEYOND e-folds the loss
# is within e**-SPAN_BEYOND ~ 2e-9 of its gamma -> infinity limit.
SPAN_BEYOND = 20.0
# The scan sizes, the Newton refinement of the small gap and the curvature step are those of
# nslmodel.optimal (SCAN_POINTS, NEAR_POINTS, GAP_NEWTON, GAP_STEP, GAP_MAX_CHANGE,
# CURVATURE_STEP), where their error budgets are stated: the same analysis holds here.


# ---------------------------------------------------------------------------------------------
# Teacher powers
# ---------------------------------------------------------------------------------------------
def no_sigma_w(sigma_w) -> None:
    """A given teacher carries its own scale: ``sigma_w`` must stay at its default of 1."""
    if sigma_w != 1.0:
        raise ValueError(
            f"sigma_w is not used with a given teacher (beta_I^2 sets the scale); got sigma_w={sigma_w!r}"
        )


def check_power(beta2, spectrum) -> np.ndarray:
    """A teacher power ``beta2`` checked against the spectrum: length M, >= 0, 0 where lam = 0."""
    M = spectrum.M
    b = _v.TEACHER_POWER("teacher", beta2)
    if b.shape != (M,):
        raise ValueError(
            f"teacher must be a 1-D array of the spectrum's length M = {M} (beta_I^2 per latent "
            f"direction); got shape {b.shape}"
        )
    lam = np.asarray(spectrum.eigenvalues, dtype=float)
    null = (lam == 0) & (b > 0)
    if np.any(null):
        i = int(np.flatnonzero(null)[0])
        raise ValueError(
            f"teacher[{i}] = {b[i]!r} > 0 on a direction with eigenvalue 0: beta_I^2 = W_I^2 "
            "lambda_I vanishes there"
        )
    return b


@_v.validated(spectrum=_v.SPECTRUM, sigma_w=_v.SCALE, C=_v.LABEL_DIM)
def isotropic_power(spectrum, *, sigma_w=1.0, C=1) -> np.ndarray:
    r"""The isotropic average :math:`\beta_I^2 = C\sigma_w^2\lambda_I/M` (theory section 8)."""
    lam = np.asarray(spectrum.eigenvalues, dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        b = C * np.float64(sigma_w) ** 2 * lam / spectrum.M
    return _finite_power(b, lam > 0 if sigma_w > 0 else False, "C * sigma_w**2 * eigenvalues / M")


def _finite_power(b, positive, what):
    """``b`` if every element is finite and positive where ``positive``, else a range error."""
    if not np.all(np.isfinite(b)):
        raise ValueError(f"the teacher power {what} overflows float64 (> 1.8e308); rescale the inputs")
    if np.any(positive & (b == 0)):
        raise ValueError(f"the teacher power {what} underflows float64 (< 4.9e-324); rescale the inputs")
    return b


@_v.validated(spectrum=_v.SPECTRUM, delta=_v.Real(scalar=True), total=_v.Optional(_v.SCALE_U))
def source_power(spectrum, delta, *, total=None) -> np.ndarray:
    r"""The source-condition family :math:`\beta_I^2 \propto \lambda_I\,I^{-\delta}`.

    For a power law :math:`\lambda_I\propto I^{-(1+\alpha)}` this is
    :math:`\beta_I^2\propto I^{-(1+\alpha)-\delta}`; ``delta = 0`` is the isotropic teacher.

    Parameters
    ----------
    spectrum : PowerLaw, Spectrum or array_like
        Eigenvalues in the order of the latent index I = 1..M.
    delta : float
        Extra decay of the teacher's power, any real (negative: more power in the tail).
    total : float, optional
        :math:`\sum_I\beta_I^2`, the label variance; default that of the isotropic teacher with
        unit scales, :math:`\sum_I\lambda_I/M`.
    """
    lam = np.asarray(spectrum.eigenvalues, dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        b = lam * np.arange(1, spectrum.M + 1, dtype=float) ** (-delta)
    target = float(np.sum(lam)) / spectrum.M if total is None else total
    norm = float(np.sum(b))
    if not (np.isfinite(norm) and norm > 0):
        raise ValueError(
            f"delta = {delta!r} makes lambda_I I^-delta {'overflow' if norm > 0 else 'underflow'} "
            f"float64 over I = 1..{spectrum.M}; use a delta of smaller magnitude"
        )
    with np.errstate(over="ignore", under="ignore"):
        out = b * (target / norm)
    return _finite_power(out, b > 0, "total * lambda_I I^-delta / sum")


@_v.validated(W=_v.Array(ndim=(1, 2), what="array of teacher weights (C x M, or M)"), eigenvalues=_v.eigenvalues)
def teacher_power(W, eigenvalues) -> np.ndarray:
    r""":math:`\beta_I^2 = \sum_c W_{cI}^2\lambda_I` for teacher weights ``W`` (C x M or M)."""
    W = np.atleast_2d(W)
    if W.shape[1] != eigenvalues.size:
        raise ValueError(f"W must have M = {eigenvalues.size} columns (one per eigenvalue); got shape {W.shape}")
    with np.errstate(over="ignore"):
        b = np.sum(W * W, axis=0) * eigenvalues
    return _finite_power(b, False, "sum_c W_cI^2 lambda_I")


# ---------------------------------------------------------------------------------------------
# Spectral sums weighted by the teacher
# ---------------------------------------------------------------------------------------------
def _weighted_sums(rho, s, beta2, *, slope=False):
    r""":math:`W_0 = \sum\beta^2 a`, :math:`W_1 = \sum\beta^2 a^2`, :math:`W_2 = \sum\beta^2 ab`
    (and with ``slope`` :math:`W_3 = \sum\beta^2 a^2 b`) at each rho (1-D), as columns.

    Only directions with :math:`\beta_I^2 > 0` enter (they have :math:`s_I > 0`), so no 0/0.
    """
    keep = beta2 > 0
    s, b = s[keep], beta2[keep]
    out = np.empty((rho.size, 4 if slope else 3))
    step = max(1, BLOCK_ELEMENTS // max(1, s.size))
    for i in range(0, rho.size, step):
        r = rho[i:i + step, None]
        a = r / (s + r)
        bb = s / (s + r)
        # numpy's own pairwise sums, not BLAS: the same bits for a row whatever the block, the
        # array's shape or the number of BLAS threads
        out[i:i + step, 0] = (a * b).sum(axis=1)
        out[i:i + step, 1] = (a * a * b).sum(axis=1)
        out[i:i + step, 2] = (a * bb * b).sum(axis=1)
        if slope:
            out[i:i + step, 3] = (a * a * bb * b).sum(axis=1)
    return out


def _signal(T, rho, dN, dT, f12, s, beta2):
    return _signal_of(T, dN, dT, f12, _weighted_sums(rho, s, beta2))


def _signal_of(T, dN, dT, f12, w):
    """Signal loss and the denominator D from the gaps, D1 - D2 and the teacher sums ``w``."""
    den = dN * dT + (dN + dT) * f12  # the all-positive form of the denominator D
    return 0.5 * T * ((dN + f12) * w[:, 1] + f12 * w[:, 2]) / den, den


def _rescaled(spec, sigma_u, *, strict=True):
    r""":math:`s_I = \sigma_u^2\lambda_I/M`; with ``strict``, a range error where a positive
    :math:`s_I` is not a normal float64 (the sums would lose it)."""
    lam = np.asarray(spec.eigenvalues, dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        s = np.float64(sigma_u) ** 2 * lam / spec.M
    bad = (lam > 0) & ~((s >= np.finfo(float).tiny) & np.isfinite(s))
    if strict and np.any(bad):
        raise ValueError(
            f"sigma_u**2 * eigenvalues / M leaves the normal float64 range (2.2e-308 to 1.8e+308) for "
            f"sigma_u={sigma_u!r}; the loss depends on gamma / sigma_u**2: rescale gamma and sigma_u together"
        )
    return s if strict or not np.any(bad) else None


def _checked_total(total, beta2, sigma_eps, what):
    """``total`` if finite and, where the loss must be positive, positive; else a range error."""
    positive = float(np.sum(beta2)) > 0 or sigma_eps > 0
    bad = ~np.isfinite(total) | (positive & (total == 0))
    if np.any(bad):
        word = "overflows" if np.any(~np.isfinite(total)) else "underflows"
        raise ValueError(
            f"{what} {word} float64 (normal range 2.2e-308 to 1.8e+308); it scales as the teacher "
            "power (signal) and C sigma_eps**2 (noise): rescale the inputs"
        )
    return total


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------
_TEACHER = dict(
    N=_v.SIZE, T=_v.SIZE, spectrum=_v.SPECTRUM, teacher=_v.TEACHER_POWER, sigma_u=_v.SCALE_U,
    sigma_eps=_v.SCALE, C=_v.LABEL_DIM,
)


@_v.validated(gamma=_v.RIDGE, broadcast=("N", "T", "gamma"), **_TEACHER)
def teacher_loss_terms(N, T, gamma, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1) -> LossTerms:
    r"""Signal and noise parts of the expected test loss for a given teacher power.

    See the module notes for the formula (theory section 8, in the cancellation-free form).

    Parameters
    ----------
    N, T : float or array_like
        Features and training samples, positive, broadcast with gamma.
    gamma : float or array_like
        Ridge, ``0 < gamma < inf``; for the limit gamma -> 0 use :func:`teacher_ridgeless_loss`.
    spectrum : PowerLaw, Spectrum or array_like
        Latent spectrum :math:`\lambda_I`, I = 1..M.
    teacher : array_like, shape (M,)
        :math:`\beta_I^2 = \sum_c W_{cI}^2\lambda_I`, the label variance in each direction.
    sigma_u : float
        Feature-weight scale.
    sigma_eps : float
        Label-noise standard deviation (per label component).
    C : int
        Label dimension (enters only the noise term; the teacher's power is summed over c).
    """
    spec = spectrum
    beta2 = check_power(teacher, spec)
    sol = solve(N, T, gamma, spec, sigma_u=sigma_u)
    shape = np.shape(sol.rho)
    Nf, Tf = (np.broadcast_to(x, shape).ravel() for x in (N, T))
    flat = {k: np.ravel(getattr(sol, k)) for k in ("rho", "D1", "D2", "D1_minus_D2", "N_minus_D1", "T_minus_D1")}
    sig, den = _signal(Tf, flat["rho"], flat["N_minus_D1"], flat["T_minus_D1"], flat["D1_minus_D2"],
                       _rescaled(spec, sigma_u), beta2)
    noi = noise_loss(flat["N_minus_D1"], den, flat["D1"], flat["D1_minus_D2"], flat["D2"], C=C,
                     sigma_eps=sigma_eps)
    total = _checked_total(sig + noi, beta2, sigma_eps, "the expected loss")
    return LossTerms(_shape_out(sig, shape), _shape_out(noi, shape), _shape_out(total, shape))


@_v.validated(gamma=_v.RIDGE, broadcast=("N", "T", "gamma"), **_TEACHER)
def teacher_loss(N, T, gamma, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1):
    r"""Expected test loss (signal plus noise) for a given teacher power; see :func:`teacher_loss_terms`."""
    return teacher_loss_terms(N, T, gamma, spectrum, teacher, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C).total


def _sums_at(rho, s):
    """The five sums of :class:`nslmodel._traces.Sums` by direct summation over the positive s (1-D rho)."""
    s = s[s > 0]
    out = np.empty((rho.size, 5))
    step = max(1, BLOCK_ELEMENTS // max(1, s.size))
    for i in range(0, rho.size, step):
        r = rho[i:i + step, None]
        a = r / (s + r)
        b = s / (s + r)
        out[i:i + step, 0] = b.sum(axis=1)
        out[i:i + step, 1] = a.sum(axis=1)
        out[i:i + step, 2] = (a * b).sum(axis=1)
        out[i:i + step, 3] = (b * b).sum(axis=1)
        out[i:i + step, 4] = (a * b * b).sum(axis=1)
    return Sums(*out.T)


def _ridgeless_rho(n, s):
    """rho_* with D1(rho_*) = n < rank, by Brent's method in log rho on direct sums."""
    sp = s[s > 0]
    # D1 <= sum(s) / rho, so rho = sum(s) / n gives D1 <= n; rank - D1 <= rho sum(1/s), so
    # rho = (rank - n) / sum(1/s) gives D1 >= n.
    hi = np.log(sp.sum() / n) + 1e-12
    lo = np.log((sp.size - n) / np.sum(1.0 / sp)) - 1e-12

    def f(u):
        r = np.exp(u)
        # Compare the smaller of D1 and rank - D1 with its target.
        if n > 0.5 * sp.size:
            return (sp.size - n) - float(np.sum(r / (sp + r)))
        return float(np.sum(sp / (sp + r))) - n

    return float(np.exp(scipy.optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)))


def _ridgeless_signal(N, T, s, beta2):
    R = int(np.count_nonzero(s))
    n = min(N, T)
    if n >= R:
        if N == T == R:
            sp, bp = s[s > 0], beta2[s > 0]
            return R * float(np.sum(bp / sp)) / (6.0 * float(np.sum(1.0 / sp)))
        return 0.0
    if N == T:
        return np.inf
    rho = _ridgeless_rho(n, s)
    w = _weighted_sums(np.array([rho]), s, beta2)[0]
    if N < T:
        return 0.5 * T / (T - N) * w[0]
    f12 = _sums_at(np.array([rho]), s).D1_minus_D2[0]
    return 0.5 * T / (N - T) * (w[0] + (N - T) * w[1] / f12)


@_v.validated(broadcast=("N", "T"), **_TEACHER)
def teacher_ridgeless_loss(N, T, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1):
    r"""The limit gamma -> 0+ of :func:`teacher_loss` (module notes; cf. paper Eqs. 105-126).

    Parameters as in :func:`teacher_loss_terms`, without gamma. The noise part is the isotropic
    one of :func:`nslmodel.ridgeless_loss` (it does not depend on the teacher). Returns ``inf``
    at N = T below the rank R of the spectrum and, with label noise, at T = R when N >= R.
    """
    from .ridgeless import ridgeless_loss

    spec = spectrum
    beta2 = check_power(teacher, spec)
    N, T = np.broadcast_arrays(N, T)
    # The limit depends on the s_I only through ratios (rho_* scales with them), so it does not
    # depend on sigma_u: where sigma_u**2 lambda_I / M leaves float64, compute it at sigma_u = 1.
    s = _rescaled(spec, sigma_u, strict=False)
    if s is None:
        s = _rescaled(spec, 1.0)
    sig = np.array([_ridgeless_signal(n, t, s, beta2) for n, t in zip(N.ravel(), T.ravel())])
    noi = 0.0
    if sigma_eps > 0:
        noi = np.ravel(ridgeless_loss(N, T, spec, sigma_u=sigma_u, sigma_w=0.0, sigma_eps=sigma_eps, C=C))
    total = sig + noi
    # the documented poles: double descent at N = T; with label noise also T = R <= N, where
    # the isotropic noise part (which has checked its own range) is inf
    divergent = (np.ravel(N == T) & np.isinf(sig)) | np.isinf(noi)
    if np.any(~np.isfinite(total) & ~divergent):
        raise ValueError(
            "the ridgeless loss overflows float64 (> 1.8e+308); it scales as the teacher power "
            "(signal) and C sigma_eps**2 (noise): rescale the inputs"
        )
    return _shape_out(total, N.shape)


def _log_slope(dN, dT, sums, w, sig, noi):
    r""":math:`d\log\langle L\rangle/du` at :math:`u = \log\rho` (module notes, 'Optimal ridge').

    ``w`` holds the teacher sums :math:`W_0..W_3` (:func:`_weighted_sums` with ``slope``); the
    noise term is the isotropic one, whose slope is :func:`nslmodel.loss.log_slope` without signal.
    The slope of the total is the average of the two weighted by ``sig``, ``noi``.
    """
    p, q, e, g = dN, dT, sums.D1_minus_D2, sums.D2_minus_D3
    W1, W2, W3 = w[:, 1], w[:, 2], w[:, 3]
    S = (p + e) * W1 + e * W2
    den = p * q + (p + q) * e
    F = p * q * (g * W2 + (p + e) * W3) + p * p * (e * W3 - g * W1) - e * e * S
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sig > 0, 2.0 * F / (S * den), 0.0)
        if np.any(noi > 0):
            noise = log_slope(dN, dT, sums, np.zeros_like(noi), noi)
            total = sig + noi
            slope = np.where(total > 0, (np.where(sig > 0, sig * slope, 0.0) + noi * noise) / total, 0.0)
    return slope


class _Branch:
    """Loss, slope and ridge along the physical branch, as functions of u = log(rho), on flat arrays."""

    def __init__(self, N, T, s, beta2, sigma_eps, C):
        self.N, self.T, self.s, self.beta2 = N, T, s, beta2
        self.rank = int(np.count_nonzero(s))
        self.kw = dict(C=C, sigma_eps=sigma_eps)

    def terms(self, T, dN, dT, sums, w):
        """Total loss and its slope in u from the gaps and the sums."""
        sig, den = _signal_of(T, dN, dT, sums.D1_minus_D2, w)
        noi = noise_loss(dN, den, sums.D1, sums.D1_minus_D2, sums.D2, **self.kw)
        return sig + noi, _log_slope(dN, dT, sums, w, sig, noi)

    def eval(self, u, idx):
        """Loss (inf off the branch), slope, rho, gaps and sums at ``u`` (any shape, flattened) for points ``idx``."""
        shape = np.shape(u)
        idx = np.broadcast_to(idx, shape).ravel()
        N, T = self.N[idx], self.T[idx]
        rho = np.exp(np.ravel(u))
        sums = _sums_at(rho, self.s)
        w = _weighted_sums(rho, self.s, self.beta2, slope=True)
        dN, dT = gaps(N, T, sums, self.rank)
        ok = (dN > 0) & (dT > 0)
        dN, dT = np.where(ok, dN, 1.0), np.where(ok, dT, 1.0)
        loss, slope = self.terms(T, dN, dT, sums, w)
        # Within rounding of the start of the branch the loss decreases (slope -2 (D1 - D2) / |N - T|).
        loss = np.where(ok, loss, np.inf).reshape(shape)
        return loss, np.where(ok, slope, -1.0).reshape(shape), rho, dN, dT, sums, w

    def slope(self, u, idx):
        return self.eval(u, idx)[1]

    def start_slope(self, u):
        r"""The slope at the start of the branch, :math:`D_1(e^u) = \min(N, T)`, for every point.

        There :math:`p = N - D_1` and :math:`q = T - D_1` take their limits ``max(N - T, 0)`` and
        ``max(T - N, 0)``. For :math:`N \le T` the signal's slope is :math:`-2(D_1 - D_2)/(T - N)`
        (:math:`-\infty` at N = T): the loss falls away from the ridgeless limit. For N > T it is
        :math:`2F/(S\,\mathcal D)` with :math:`F = (N - T)^2 (e W_3 - g W_1) - e^2 S`, of either
        sign for a given teacher (zero for the isotropic one): positive, the ridgeless limit can
        be the optimum.
        """
        rho = np.exp(u)
        sums = _sums_at(rho, self.s)
        w = _weighted_sums(rho, self.s, self.beta2, slope=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = self.terms(self.T, np.maximum(self.N - self.T, 0.0), np.maximum(self.T - self.N, 0.0), sums, w)[1]
        return np.where(np.isnan(slope), -np.inf, slope)  # N = T: den = 0, the slope is -inf

    def gamma(self, u, idx):
        _, _, rho, dN, dT, _, _ = self.eval(u, idx)
        return rho * dN * dT

    def stationary_gaps(self, idx, sums, w, dN, dT):
        r"""``N - D1, T - D1`` at the minimum, from the stationarity condition itself.

        Near the start of the branch :math:`p = \min(N, T) - D_1` is tiny and varies fast
        (:math:`dp/du = D_1 - D_2 \gg p`), while its direct sum carries the absolute error
        ~1e-16 min(N, T) of D1; the other sums vary slowly and are accurate. So the slope = 0
        is solved for p alone with them held fixed (as :mod:`nslmodel.optimal` does).
        """
        N, T = self.N[idx], self.T[idx]
        return polish_gaps(lambda a, b: self.terms(T, a, b, sums, w)[1], N, T, dN, dT,
                           steps=GAP_NEWTON, step=GAP_STEP, max_change=GAP_MAX_CHANGE)


def _optimum(N, T, s, beta2, sigma_eps, C, L0):
    """The fields of :class:`OptimalRidge` for flat arrays N, T (``L0``: the ridgeless loss)."""
    br = _Branch(N, T, s, beta2, sigma_eps, C)
    sp = s[s > 0]
    every = np.arange(N.size)
    n = np.minimum(N, T)
    below = n < br.rank
    # Left end: the ridgeless root (or, at full rank, far enough left that the loss has reached
    # its ridgeless limit); right end: beyond the spectrum, where gamma -> infinity.
    left = np.full(N.shape, np.log(sp.min()) - 2.0 * SPAN_BEYOND)
    for i in np.flatnonzero(below):
        left[i] = np.log(_ridgeless_rho(n[i], s))
    right = np.full(N.shape, np.log(sp.max()) + SPAN_BEYOND)
    u_star, found, S_left, L_end, S_end = lowest_stationary_point(
        left, right, lambda g: br.eval(g, every[:, None])[:2],
        lambda first: np.where(below, br.start_slope(left), first), br.slope,
        scan_points=SCAN_POINTS, near_points=NEAR_POINTS)
    f = np.flatnonzero(found)
    loss, _, rho, dN, dT, sums, w = br.eval(u_star, every)
    if f.size:
        sf, wf = sums.take(f), w[f]
        dN[f], dT[f] = br.stationary_gaps(f, sf, wf, dN[f], dT[f])
        loss[f] = br.terms(T[f], dN[f], dT[f], sf, wf)[0]
    gamma = rho * dN * dT
    # Curvature in log gamma: d2 log L / du2 / (d log gamma / du)^2 at the stationary point.
    dlg = 1.0 + sums.D1_minus_D2 * (1.0 / dN + 1.0 / dT)
    h = CURVATURE_STEP / dlg
    curvature = (br.slope(u_star + h, every) - br.slope(u_star - h, every)) / (2.0 * h) / dlg**2
    # The infimum is the gamma -> 0 limit when the slope is positive from the start (full rank,
    # or N > T for some teachers), or when that limit is no larger than the interior minimum
    # there (or than a loss that vanishes identically).
    zero = (~found & (S_left >= 0)) | ((~below | (S_left >= 0) | (loss == 0)) & (L0 <= loss))
    # The loss falls all the way to gamma -> infinity: no interior minimum, or one above the
    # loss beyond the spectrum while that still decreases. ``loss`` is then its value there.
    infinite = ~zero & (~found | ((S_end < 0) & (L_end < loss)))
    loss = np.where(zero, L0, np.where(infinite, L_end, loss))
    gamma = np.where(zero, 0.0, np.where(infinite, np.inf, gamma))
    rho = np.where(zero, 0.0, np.where(infinite, np.inf, rho))
    d1 = np.where(zero, np.minimum(n, br.rank), sums.D1)
    curvature = np.where(zero | infinite, np.nan, curvature)
    if not np.all(np.isfinite(loss)):
        raise FloatingPointError("teacher_optimal_ridge produced a non-finite loss; please report the inputs")
    lo, hi = flat_interval(br, left, right, np.where(zero, left, np.where(infinite, right, u_star)),
                           loss, L0, zero, infinite, LOSS_EXCESS)
    return gamma, loss, rho, d1, curvature, lo, hi


@_v.validated(broadcast=("N", "T"), **_TEACHER)
def teacher_optimal_ridge(N, T, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1) -> OptimalRidge:
    r"""The ridge minimising :func:`teacher_loss` (cf. paper Eq. 128 for the isotropic teacher).

    The minimum is located on the physical branch in :math:`u = \log\rho`, where everything is
    explicit (:math:`\gamma = \rho(N - D_1)(T - D_1)` is read off), from the stationarity
    condition :math:`F = 0` of the module notes rather than by comparing loss values (where
    :math:`N \ll T` the loss is too flat for comparisons to resolve its minimum): a scan of the
    slope's sign from the ridgeless root to beyond the spectrum brackets it, a vectorised
    Illinois iteration refines it to a few ulps of u, and the small gap
    :math:`\min(N, T) - D_1` is polished from the condition itself. ``curvature``,
    ``gamma_lo`` and ``gamma_hi`` say how flat the minimum is, as in
    :class:`nslmodel.OptimalRidge`; gamma* = 0 where the infimum is the ridgeless limit, inf
    where the loss decreases all the way to gamma -> infinity (e.g. a zero teacher with label
    noise; ``loss`` is then its value beyond the spectrum).

    Parameters as in :func:`teacher_loss_terms`, without gamma; N and T broadcast together.
    """
    spec = spectrum
    beta2 = check_power(teacher, spec)
    N, T = np.broadcast_arrays(N, T)
    s = _rescaled(spec, sigma_u)
    rl = np.ravel(teacher_ridgeless_loss(N, T, spec, beta2, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C))
    fields = _optimum(N.ravel().astype(float), T.ravel().astype(float), s, beta2, sigma_eps, C, rl)
    return OptimalRidge(*(_shape_out(v, N.shape) for v in fields))
