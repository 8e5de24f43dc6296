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
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from . import _validate as _v
from ._validate import shape_out as _shape_out
from .loss import LossTerms, noise_loss
from .optimal import LOSS_EXCESS, OptimalRidge
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
# Coarse scan of the optimum in u = log(rho): points per e-fold of rho, and the span above
# the ridgeless root (or above the smallest positive s_I) that the scan covers, in e-folds.
SCAN_PER_EFOLD = 2
SCAN_SPAN_ABOVE = 12.0
# Absolute tolerance in u of the bounded Brent refinement. The loss is quadratic at its minimum,
# so a value comparison resolves u only to ~sqrt(eps / curvature); 1e-9 is below that for any
# curvature of O(1) and costs a handful of extra evaluations.
BRENT_XATOL = 1e-9
# Step in log(gamma) of the central difference for the curvature at the optimum: truncation
# error ~ h^2 |d^4 log L| / 12 ~ 1e-7, rounding ~ eps / h^2 ~ 2e-10.
CURVATURE_STEP = 1e-3
# Bisection steps in log(gamma) for the ends of the flat interval, from a bracket of
# FLAT_SPAN e-folds: FLAT_SPAN / 2^60 ~ 2e-16 e-folds.
FLAT_BISECT = 60
FLAT_SPAN = 230.0


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
def _weighted_sums(rho, s, beta2):
    r""":math:`\sum\beta^2 a`, :math:`\sum\beta^2 a^2`, :math:`\sum\beta^2 ab` at each rho (1-D).

    Only directions with :math:`\beta_I^2 > 0` enter (they have :math:`s_I > 0`), so no 0/0.
    """
    keep = beta2 > 0
    s, b = s[keep], beta2[keep]
    out = np.empty((rho.size, 3))
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
    return out


def _signal(T, rho, dN, dT, f12, s, beta2):
    w = _weighted_sums(rho, s, beta2)
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
    """D1, rank - D1, D1 - D2, D2 by direct summation over the positive s (1-D rho)."""
    s = s[s > 0]
    out = np.empty((rho.size, 4))
    step = max(1, BLOCK_ELEMENTS // max(1, s.size))
    for i in range(0, rho.size, step):
        r = rho[i:i + step, None]
        a = r / (s + r)
        b = s / (s + r)
        out[i:i + step, 0] = b.sum(axis=1)
        out[i:i + step, 1] = a.sum(axis=1)
        out[i:i + step, 2] = (a * b).sum(axis=1)
        out[i:i + step, 3] = (b * b).sum(axis=1)
    return out


def _gaps(N, T, sums, rank):
    # Subtract from the smaller of D1 and rank - D1 (as nslmodel.loss.gaps does).
    big = sums[:, 0] > 0.5 * rank
    dN = np.where(big, (N - rank) + sums[:, 1], N - sums[:, 0])
    dT = np.where(big, (T - rank) + sums[:, 1], T - sums[:, 0])
    return dN, dT


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
    f12 = _sums_at(np.array([rho]), s)[0, 2]
    return 0.5 * T / (N - T) * (w[0] + (N - T) * w[1] / f12)


@_v.validated(broadcast=("N", "T"), **_TEACHER)
def teacher_ridgeless_loss(N, T, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1):
    r"""The limit gamma -> 0+ of :func:`teacher_loss` (module notes; cf. paper Eqs. 105-126).

    Parameters as in :func:`teacher_loss_terms`, without gamma. The noise part is the isotropic
    one of :func:`nslmodel.ridgeless_loss` (it does not depend on the teacher). Returns ``inf``
    at N = T below the rank of the spectrum.
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
    divergent = np.ravel(N == T) & np.isinf(sig)  # the documented double-descent pole
    if np.any(~np.isfinite(total) & ~divergent):
        raise ValueError(
            "the ridgeless loss overflows float64 (> 1.8e+308); it scales as the teacher power "
            "(signal) and C sigma_eps**2 (noise): rescale the inputs"
        )
    return _shape_out(total, N.shape)


def _loss_of_u(u, N, T, s, beta2, rank, sigma_eps, C):
    """Loss, gamma and D1 at rho = exp(u) on the physical branch (inf off it)."""
    rho = np.exp(np.atleast_1d(u).astype(float))
    sums = _sums_at(rho, s)
    dN, dT = _gaps(N, T, sums, rank)
    ok = (dN > 0) & (dT > 0)
    dN, dT = np.where(ok, dN, 1.0), np.where(ok, dT, 1.0)
    sig, den = _signal(T, rho, dN, dT, sums[:, 2], s, beta2)
    noi = noise_loss(dN, den, sums[:, 0], sums[:, 2], sums[:, 3], C=C, sigma_eps=sigma_eps)
    return np.where(ok, sig + noi, np.inf), rho * dN * dT, sums[:, 0]


def _optimum_one(N, T, s, beta2, rank, sigma_eps, C, ridgeless):
    sp = s[s > 0]
    n = min(N, T)
    u_lo = np.log(_ridgeless_rho(n, s)) if n < rank else np.log(sp.min()) - SCAN_SPAN_ABOVE
    u_hi = np.log(sp.max()) + SCAN_SPAN_ABOVE
    grid = np.linspace(u_lo, u_hi, int(SCAN_PER_EFOLD * (u_hi - u_lo)) + 3)[1:]
    vals = _loss_of_u(grid, N, T, s, beta2, rank, sigma_eps, C)[0]
    k = int(np.argmin(vals))
    if k == 0 and ridgeless <= vals[0]:
        return 0.0, ridgeless, np.exp(u_lo), float(n if n < rank else rank)
    a, b = grid[max(k - 1, 0)] if k > 0 else u_lo, grid[min(k + 1, grid.size - 1)]
    res = scipy.optimize.minimize_scalar(
        lambda u: float(_loss_of_u(u, N, T, s, beta2, rank, sigma_eps, C)[0][0]),
        bounds=(a, b), method="bounded", options={"xatol": BRENT_XATOL},
    )
    loss, gamma, D1 = (float(v[0]) for v in _loss_of_u(res.x, N, T, s, beta2, rank, sigma_eps, C))
    if ridgeless <= loss:  # the infimum is the ridgeless limit
        return 0.0, ridgeless, np.exp(u_lo), float(n if n < rank else rank)
    return gamma, loss, float(np.exp(res.x)), D1


@_v.validated(broadcast=("N", "T"), **_TEACHER)
def teacher_optimal_ridge(N, T, spectrum, teacher, *, sigma_u=1.0, sigma_eps=0.0, C=1) -> OptimalRidge:
    r"""The ridge minimising :func:`teacher_loss` (cf. paper Eq. 128 for the isotropic teacher).

    The loss is minimised over :math:`u = \log\rho` on the physical branch, where it is explicit
    (:math:`\gamma = \rho(N - D_1)(T - D_1)` is read off): a scan of ``SCAN_PER_EFOLD`` points per
    e-fold from the ridgeless root to ``SCAN_SPAN_ABOVE`` e-folds above the largest :math:`s_I`,
    then a bounded Brent search between the neighbours of the best point. The loss at the optimum
    is accurate to rounding; :math:`\gamma^*` to about :math:`\sqrt{\epsilon}` relative where the
    loss is flat (value comparisons cannot resolve the minimum better).

    Parameters as in :func:`teacher_loss_terms`, without gamma; N and T broadcast together.
    """
    spec = spectrum
    beta2 = check_power(teacher, spec)
    N, T = np.broadcast_arrays(N, T)
    s = _rescaled(spec, sigma_u)
    rank = int(np.count_nonzero(s))
    rl = np.ravel(teacher_ridgeless_loss(N, T, spec, beta2, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C))
    res = [_optimum_one(float(n), float(t), s, beta2, rank, sigma_eps, C, r)
           for n, t, r in zip(N.ravel(), T.ravel(), rl)]
    cols = np.array(res, dtype=float).reshape(-1, 4)
    curvature, lo, hi = _flatness(N.ravel(), T.ravel(), cols[:, 0], cols[:, 1], rl, spec, beta2,
                                  sigma_u=sigma_u, sigma_eps=sigma_eps, C=C)
    out = [cols[:, j] for j in range(4)] + [curvature, lo, hi]
    return OptimalRidge(*(_shape_out(v, N.shape) for v in out))


def _flatness(N, T, gamma, loss, ridgeless, spec, beta2, **kw):
    r"""Curvature :math:`d^2\log L/d(\log\gamma)^2` at gamma* and the interval where
    :math:`L \le (1 + \epsilon) L^*`, :math:`\epsilon` = ``LOSS_EXCESS`` (as in
    :class:`nslmodel.OptimalRidge`)."""
    interior = gamma > 0
    curvature = np.full(N.shape, np.nan)
    lo, hi = np.zeros(N.shape), np.full(N.shape, np.inf)
    if not np.any(interior):
        return curvature, lo, hi
    Ni, Ti, gi, Li = N[interior], T[interior], gamma[interior], loss[interior]
    h = CURVATURE_STEP
    up, down = (teacher_loss(Ni, Ti, gi * np.exp(v), spec, beta2, **kw) for v in (h, -h))
    curvature[interior] = (np.log(up) + np.log(down) - 2 * np.log(Li)) / h**2
    target = np.log1p(LOSS_EXCESS) + np.log(Li)
    # gamma -> infinity: the student predicts 0 and L -> sum(beta2) / 2 (the noise term -> 0).
    ends = {"lo": ridgeless[interior], "hi": np.full(Ni.shape, 0.5 * float(np.sum(beta2)))}
    for side, sign in (("lo", -1.0), ("hi", 1.0)):
        inside = np.log(ends[side]) <= target  # the limit itself is within the bound
        a = np.log(gi)  # inside the interval
        b = a + sign * FLAT_SPAN  # outside it (the loss grows monotonically away from gamma*)
        for _ in range(FLAT_BISECT):
            m = 0.5 * (a + b)
            ok = np.log(teacher_loss(Ni, Ti, np.exp(m), spec, beta2, **kw)) <= target
            a, b = np.where(ok, m, a), np.where(ok, b, m)
        edge = np.exp(a)
        if side == "lo":
            lo[interior] = np.where(inside, 0.0, edge)
        else:
            hi[interior] = np.where(inside, np.inf, edge)
    return curvature, lo, hi
