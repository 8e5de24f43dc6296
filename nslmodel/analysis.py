r"""Analysis shared by the book's chapters: theory against simulation, fitted minima, exponents.

Each function here does one job that a figure chapter needs and that is worth a test: compare a
Monte Carlo sweep with the theory (:func:`compare`), locate the minimum of a simulated
loss-versus-ridge sweep with a jackknife error (:func:`sweep_minimum`), read off local and
fitted power-law exponents (:func:`local_exponent`, :func:`fitted_exponent`), the correction
factors of the scaling laws (:func:`scaling_corrections`, paper Eqs. 142-144), the integral
approximation of the traces against the exact sums (:func:`trace_approximation`, paper
Eq. 129), and small formatters for the text of the book (numbers, counts).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from . import _validate, scaling
from .loss import expected_loss
from .ridgeless import ridgeless_loss

__all__ = [
    "Comparison",
    "FittedMinimum",
    "Corrections",
    "TraceApproximation",
    "theory_loss",
    "compare",
    "combine",
    "jackknife",
    "mean_ratio",
    "fitted_log_minimum",
    "sweep_minimum",
    "MinimaComparison",
    "compare_minima",
    "local_exponent",
    "fitted_exponent",
    "sigma_y",
    "mrs_ridgeless_loss",
    "loss_denominator",
    "scaling_corrections",
    "trace_approximation",
    "finite_or_nan",
    "latex_sci",
    "latex_factor",
    "latex_int",
    "text_sci",
    "count_of",
    "glue_values",
    "Stopwatch",
    "rerun_command",
    "rerun_note",
]

# A point counts as an outlier when the simulated mean is more than this many standard
# errors from the theory (the usual 3-sigma rule: 0.27% of Gaussian points).
OUTLIER_Z = 3.0
# Integer arguments (M, grid sizes) of at least 1.
_POSITIVE_INT = _validate.Integer(1)
_POSITIVE_REALS = _validate.Array(ndim=(1,), low=0.0, closed_low=False, what="array of positive numbers")
# Newton steps polishing the stationary points of a fitted polynomial: each squares the
# relative error, so 4 take a root good to 1e-2 to rounding.
NEWTON_POLISH_STEPS = 4


# ---------------------------------------------------------------------------------------------
# Theory against simulation
# ---------------------------------------------------------------------------------------------
@_validate.validated(
    N=_validate.SIZE, T=_validate.SIZE, gamma=_validate.Real(0.0, closed_low=True), spectrum=_validate.SPECTRUM,
    broadcast=("N", "T", "gamma"),
)
def theory_loss(N, T, gamma, spectrum, **scales):
    r"""Expected test loss for any ridge :math:`\gamma \ge 0`, ridgeless limit at :math:`\gamma = 0`.

    :func:`nslmodel.expected_loss` needs :math:`\gamma > 0`; the points of a simulation include
    :math:`\gamma = 0` (the minimum-norm solution), whose expectation is
    :func:`nslmodel.ridgeless_loss` (paper Eqs. 105-126). Arrays broadcast from N, T, gamma;
    ``scales`` are the keyword scales of :func:`nslmodel.expected_loss`.
    """
    N, T, gamma = np.broadcast_arrays(N, T, gamma)
    zero = gamma == 0
    out = np.empty(gamma.shape)
    if np.any(zero):
        out[zero] = ridgeless_loss(N[zero], T[zero], spectrum, **scales)
    if np.any(~zero):
        out[~zero] = expected_loss(N[~zero], T[~zero], gamma[~zero], spectrum, **scales)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class Comparison:
    r"""Simulated means against the theory at the same points (arrays of the grid's shape)."""

    N: np.ndarray
    """Features at each point."""
    T: np.ndarray
    """Training samples at each point."""
    gamma: np.ndarray
    """Ridge at each point (0 is ridgeless)."""
    mean: np.ndarray
    """Simulated mean loss."""
    sem: np.ndarray
    """Its standard error."""
    theory: np.ndarray
    """Expected loss from the theory (:func:`theory_loss`)."""
    z: np.ndarray
    """(mean - theory) / sem."""
    rel: np.ndarray
    """mean / theory - 1."""
    scaled_rel: np.ndarray
    r"""``rel * min(N, T)``: constant where the offset is a :math:`1/\min(N, T)` correction."""
    trials: int
    """Monte Carlo trials per point."""
    shared_draws: bool
    """True when points of one trial share (nested) draws, so their z values are correlated."""

    @property
    def n_points(self) -> int:
        """Number of compared points."""
        return int(self.z.size)

    @property
    def scaled_sem(self) -> np.ndarray:
        r"""The standard error of ``scaled_rel``: ``sem / theory * min(N, T)``."""
        return self.sem / self.theory * np.minimum(self.N, self.T)

    @property
    def frac_beyond(self) -> float:
        """Fraction of points more than OUTLIER_Z standard errors from the theory."""
        return self.n_beyond / self.n_points

    @property
    def n_beyond(self) -> int:
        """Number of points more than OUTLIER_Z standard errors from the theory."""
        return int(np.sum(np.abs(self.z) > OUTLIER_Z))

    @property
    def n_above(self) -> int:
        """Points whose simulated mean lies above the theory."""
        return int(np.sum(self.rel > 0))

    def summary(self) -> str:
        """One sentence for the text (without its full stop): counts, signs, outliers and
        whether draws are shared, e.g. 'Of the 15 simulated points (40 trials each), 15 lie
        above the theory and 0 below, and 4 (27%) beyond 3 standard errors; the points share
        nested draws within a trial, so their deviations are correlated'."""
        shared = "share nested draws within a trial, so their deviations are correlated" if self.shared_draws \
            else "use independent draws"
        return (
            f"Of the {self.n_points} simulated points ({self.trials} trials each), {self.n_above} lie "
            f"above the theory and {self.n_points - self.n_above} below, and {self.n_beyond} "
            f"({self.frac_beyond:.0%}) beyond {OUTLIER_Z:g} standard errors; the points {shared}"
        )


def compare(sim, spectrum, *, shared_draws=True, teacher=None) -> Comparison:
    """Compare a :class:`nslmodel.SweepResult` (or SimulationResult) with the theory at its points.

    The theory uses the scales stored in ``sim`` (sigma_u, sigma_w, sigma_eps, C) and, for a
    simulation with a fixed teacher, its power ``teacher`` (beta_I^2, as in
    :func:`nslmodel.expected_loss`). ``shared_draws`` records whether the points came from one
    sweep (nested draws, the default of :func:`nslmodel.simulate_sweep`) or from independent
    seeds.
    """
    N, T, g = (np.asarray(v, dtype=float) for v in (sim.N, sim.T, sim.gamma))
    mean, sem = np.asarray(sim.mean, float), np.asarray(sim.sem, float)
    given = {} if teacher is None else {"teacher": teacher}
    th = np.asarray(theory_loss(N, T, g, spectrum, sigma_u=sim.sigma_u, sigma_w=sim.sigma_w,
                                sigma_eps=sim.sigma_eps, C=sim.C, **given))
    rel = mean / th - 1
    return Comparison(N=N, T=T, gamma=g, mean=mean, sem=sem, theory=th, z=(mean - th) / sem, rel=rel,
                      scaled_rel=rel * np.minimum(N, T), trials=int(sim.trials),
                      shared_draws=bool(shared_draws and np.size(mean) > 1))


def combine(comparisons, *, shared_draws=False) -> Comparison:
    """Pool several comparisons (flattened) into one, e.g. runs with independent seeds.

    ``shared_draws`` of the result says whether points of different runs share draws (False for
    independent seeds); points within a run keep whatever they had, reported if any run shared.
    """
    cs = list(comparisons)
    if not cs:
        raise ValueError("comparisons must hold at least one Comparison")
    if len({c.trials for c in cs}) != 1:
        raise ValueError(f"comparisons must have equal trials; got {[c.trials for c in cs]}")
    cat = {f: np.concatenate([np.ravel(getattr(c, f)) for c in cs])
           for f in ("N", "T", "gamma", "mean", "sem", "theory", "z", "rel", "scaled_rel")}
    return Comparison(**cat, trials=cs[0].trials, shared_draws=shared_draws or any(c.shared_draws for c in cs))


# ---------------------------------------------------------------------------------------------
# The minimum of a simulated sweep
# ---------------------------------------------------------------------------------------------
def jackknife(samples, statistic):
    r"""Leave-one-out jackknife of ``statistic(samples)`` over the first axis.

    .. math::
        \hat\theta = \theta(x), \qquad
        \mathrm{se}^2 = \frac{n-1}{n}\sum_{i=1}^{n} (\theta_{(i)} - \bar\theta_{(\cdot)})^2,

    with :math:`\theta_{(i)}` the statistic without sample i. For the mean it reproduces
    ``std(ddof=1) / sqrt(n)`` exactly.

    Returns
    -------
    (float, float)
        The statistic on all samples and its jackknife standard error.
    """
    x = np.asarray(samples, dtype=float)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"samples must hold at least 2 rows for a jackknife; got {n}")
    loo = np.array([statistic(np.delete(x, i, axis=0)) for i in range(n)], dtype=float)
    se = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
    return float(statistic(x)), se


def mean_ratio(samples, num, den):
    r"""Ratio of trial means of two points of a sweep, with its jackknife error over trials.

    .. math::
        r = \frac{\bar x_{\rm num}}{\bar x_{\rm den}}, \qquad
        \mathrm{se}^2 = \frac{n-1}{n}\sum_{i=1}^{n}(r_{(i)} - \bar r_{(\cdot)})^2,

    with :math:`r_{(i)}` the ratio without trial i (the leave-one-out means are exact, not
    re-summed). Points of one sweep share draws, so their losses are correlated and the error
    of their ratio is much smaller than the errors of the two means would suggest; the
    jackknife includes that correlation.

    Parameters
    ----------
    samples : ndarray, shape (trials, ...)
        Per-trial losses (``SweepResult.samples``); the trailing axes are flattened.
    num, den : array_like of int
        Flat indices of the numerator and denominator points; they broadcast together.

    Returns
    -------
    (ndarray, ndarray)
        The ratio on all trials and its jackknife standard error, of the broadcast shape.
    """
    x = np.asarray(samples, dtype=float)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"samples must hold at least 2 trials for a jackknife; got {n}")
    x = x.reshape(n, -1)
    loo = (x.sum(axis=0) - x) / (n - 1)  # row i: the means without trial i
    num, den = np.asarray(num), np.asarray(den)
    r_loo = loo[:, num] / loo[:, den]
    se = np.sqrt((n - 1) / n * np.sum((r_loo - r_loo.mean(axis=0)) ** 2, axis=0))
    m = x.mean(axis=0)
    return m[num] / m[den], se


@_validate.validated(gammas=_POSITIVE_REALS, loss=_POSITIVE_REALS, fit_points=_POSITIVE_INT, degree=_POSITIVE_INT)
def fitted_log_minimum(gammas, loss, *, fit_points=5, degree=3) -> float:
    r"""log of the ridge minimizing a polynomial in :math:`\log\gamma` fitted to :math:`\log L`.

    The fit uses the ``fit_points`` sweep points around the smallest ``loss``; the minimum is
    the real stationary point with positive curvature inside the sweep. Raises if there is none.
    """
    if gammas.shape != loss.shape:
        raise ValueError(f"gammas and loss must have the same shape; got gammas {gammas.shape}, loss {loss.shape}")
    if fit_points > gammas.size or fit_points < degree + 1:
        raise ValueError(f"fit_points must lie in [degree + 1, len(gammas)] = [{degree + 1}, {gammas.size}]; "
                         f"got {fit_points}")
    k = int(np.argmin(loss))
    lo = int(np.clip(k - fit_points // 2, 0, loss.size - fit_points))
    window = slice(lo, lo + fit_points)
    poly = np.polynomial.Polynomial.fit(np.log(gammas[window]), np.log(loss[window]), degree)
    slope, curvature = poly.deriv(), poly.deriv(2)
    roots = slope.roots()
    x = roots[np.isreal(roots)].real
    # The companion-matrix roots lose digits when the leading coefficient is tiny (a nearly
    # quadratic log loss): polish each with Newton steps on the derivative.
    for _ in range(NEWTON_POLISH_STEPS):
        x = x - slope(x) / curvature(x)
    x = x[(curvature(x) > 0) & (x >= np.log(gammas[0])) & (x <= np.log(gammas[-1]))]
    if x.size == 0:
        raise RuntimeError(f"the fitted curve has no minimum inside the sweep {gammas[0]:.3g}..{gammas[-1]:.3g}")
    return float(x[np.argmin(poly(x))])


@dataclass(frozen=True)
class FittedMinimum:
    """Location of the minimum of a simulated loss-versus-ridge sweep."""

    gamma: float
    """Fitted minimizing ridge of the trial-averaged loss."""
    log_se: float
    """Jackknife standard error of log(gamma), i.e. its relative error."""
    fit_bias: float
    """Relative error of the same fit applied to the exact loss at the same ridges (0 if not given)."""


def sweep_minimum(gammas, samples, *, exact=None, fit_points=5, degree=3) -> FittedMinimum:
    """Fitted minimum of ``samples.mean(0)`` over ``gammas`` with its jackknife error over trials.

    ``samples`` has shape (trials, len(gammas)). ``exact``, the theory loss at the same ridges,
    measures the bias of the fit itself against the exact minimizer ``gamma_exact`` (pass
    ``(loss, gamma_exact)``).
    """
    fit = lambda s: fitted_log_minimum(gammas, np.mean(s, axis=0), fit_points=fit_points, degree=degree)
    log_g, se = jackknife(samples, fit)
    bias = 0.0
    if exact is not None:
        loss, g_exact = exact
        bias = float(np.expm1(fitted_log_minimum(gammas, loss, fit_points=fit_points, degree=degree)
                              - np.log(g_exact)))
    return FittedMinimum(gamma=float(np.exp(log_g)), log_se=se, fit_bias=bias)


@dataclass(frozen=True)
class MinimaComparison:
    """Fitted minima of several simulated sweeps against the exact minimizers (arrays, one per sweep)."""

    gamma: np.ndarray
    """Fitted minimizing ridge of each sweep (:func:`sweep_minimum`)."""
    log_se: np.ndarray
    """Jackknife standard error of log(gamma)."""
    fit_bias: np.ndarray
    """Relative error of the same fit applied to the exact loss at the sweep's ridges."""
    gamma_exact: np.ndarray
    """The exact minimizer of each sweep."""

    @property
    def z(self) -> np.ndarray:
        """log(gamma / gamma_exact) / log_se: the distance in standard errors."""
        return np.log(self.gamma / self.gamma_exact) / self.log_se


def compare_minima(gammas, samples, exact_loss, gamma_exact, *, fit_points=5, degree=3) -> MinimaComparison:
    """:func:`sweep_minimum` of each row of a sweep grid against its exact minimizer.

    ``gammas`` and ``exact_loss`` have shape (sweeps, ridges), ``samples`` (trials, sweeps,
    ridges) (``SweepResult.samples``), ``gamma_exact`` (sweeps,).
    """
    gammas, exact_loss = np.asarray(gammas, float), np.asarray(exact_loss, float)
    g_exact = np.asarray(gamma_exact, float)
    fits = [sweep_minimum(gammas[i], samples[:, i], exact=(exact_loss[i], g_exact[i]), fit_points=fit_points,
                          degree=degree) for i in range(gammas.shape[0])]
    return MinimaComparison(gamma=np.array([f.gamma for f in fits]), log_se=np.array([f.log_se for f in fits]),
                            fit_bias=np.array([f.fit_bias for f in fits]), gamma_exact=g_exact)


# ---------------------------------------------------------------------------------------------
# Exponents
# ---------------------------------------------------------------------------------------------
@_validate.validated(
    x=_POSITIVE_REALS,
    y=_validate.Array(ndim=(1, 2, 3), low=0.0, closed_low=False, what="array of positive numbers"),
)
def local_exponent(x, y):
    r"""Local exponent :math:`\mathrm{d}\log y / \mathrm{d}\log x` on a grid.

    Second-order finite differences in :math:`\log x` (``numpy.gradient``, one-sided at the
    ends), exact for a power law :math:`y = c x^p` on any grid. A loss falling as
    :math:`N^{-a}` has local exponent :math:`-a`.
    """
    if x.ndim != 1 or x.size < 3:
        raise ValueError(f"x must be a 1-d grid of at least 3 points; got shape {x.shape}")
    if y.shape[-1] != x.size:
        raise ValueError(f"y must have len(x) = {x.size} points along its last axis; got shape {y.shape}")
    return np.gradient(np.log(y), np.log(x), axis=-1, edge_order=2)


@_validate.validated(x=_POSITIVE_REALS, y=_POSITIVE_REALS)
def fitted_exponent(x, y) -> float:
    r"""Least-squares slope of :math:`\log y` against :math:`\log x` (the exponent of a power-law fit)."""
    if x.shape != y.shape or np.ptp(x) == 0:
        raise ValueError(f"x and y must have the same shape and x at least 2 distinct values; got x {x.shape}, y {y.shape}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# ---------------------------------------------------------------------------------------------
# Scales
# ---------------------------------------------------------------------------------------------
@_validate.validated(spectrum=_validate.SPECTRUM, sigma_w=_validate.SCALE)
def sigma_y(spectrum, sigma_w=1.0) -> float:
    r"""Standard deviation of a clean label :math:`y = Wx`: :math:`\sigma_y^2 = \sigma_w^2\sum_I\lambda_I/M`."""
    return float(sigma_w * np.sqrt(spectrum.trace / spectrum.M))


# Bracket of log(Delta) for the Maloney-Roberts-Sully condition sum_I lam_I/(lam_I + Delta) = n:
# at Delta = e^-80 every term is ~1 (the sum ~ M > n) while lam_M = M^-(1+alpha) > e^-80, e.g. up to
# M = 1e6 at alpha = 4; at Delta = e^10 the sum is below e^-10 zeta(1 + alpha) < 1 <= n. brentq
# raises if the root lies outside.
_MRS_LOG_BRACKET = (-80.0, 10.0)


def mrs_ridgeless_loss(N, T, M, alpha) -> float:
    r"""Ridgeless loss in the form of Maloney, Roberts and Sully, an independent check of Eqs. 105-126.

    With :math:`n = \min(N, T)`, :math:`m = \max(N, T)`, :math:`\lambda_I = I^{-(1+\alpha)}`
    (:math:`\lambda_+ = \sigma_w = \sigma_u = C = 1`) and :math:`\Delta` the root of
    :math:`\sum_I \lambda_I/(\lambda_I + \Delta) = n`,

    .. math::
        \langle L\rangle_{\gamma\to 0} = \frac{n\,\Delta}{2M\,(1 - n/m)} .

    Scalars only (one root per call); ``N != T``.
    """
    from scipy.optimize import brentq

    lam, (n, m) = np.arange(1, int(M) + 1.0) ** -(1 + alpha), sorted((float(N), float(T)))
    if n == m:
        raise ValueError(f"N and T must differ (the ridgeless loss is infinite at N = T); got N = T = {n:g}")
    logd = brentq(lambda x: np.sum(lam / (lam + np.exp(x))) - n, *_MRS_LOG_BRACKET, xtol=1e-14, rtol=1e-15)
    return float(n * np.exp(logd) / (2 * M * (1 - n / m)))


def loss_denominator(solution):
    r""":math:`\mathcal D = (N - D_1)(T - D_1) + (N + T - 2D_1)(D_1 - D_2)` of a :class:`nslmodel.Solution`.

    The denominator of paper Eq. 104 (and Eq. 184), written with the cancellation-free gaps.
    """
    dN, dT = solution.N_minus_D1, solution.T_minus_D1
    return dN * dT + (dN + dT) * solution.D1_minus_D2


# ---------------------------------------------------------------------------------------------
# The scaling laws (paper Eqs. 129-145)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corrections:
    r"""Correction factors of the approximate optimum relative to the simple power-law forms."""

    loss: np.ndarray | float
    r""":math:`L^\star_{\rm approx} / [K (N^{-\alpha} + T^{-\alpha})]`, :math:`K = C\sigma_w^2\lambda_+ A_\alpha^{1+\alpha}/(2M)`."""
    gamma: np.ndarray | float
    r""":math:`\gamma^\star_{\rm approx} / [\rho_0 A_\alpha^{1+\alpha} \tfrac{2}{\alpha(1+\alpha)}
    (N^{-\alpha} + T^{-\alpha}) / (N^{-1} + T^{-1})]`."""


def scaling_corrections(N, T, alpha) -> Corrections:
    r"""Correction factors of paper Eqs. 142-144 relative to the :math:`N^{-\alpha} + T^{-\alpha}` form.

    The approximate optimum (:func:`nslmodel.scaling.approx_optimal`) is divided by the simple
    forms

    .. math::
        L^\star \approx K\,(N^{-\alpha} + T^{-\alpha}), \qquad
        \gamma^\star \approx \rho_0 A_\alpha^{1+\alpha}\,\frac{2}{\alpha(1+\alpha)}\,
            \frac{N^{-\alpha} + T^{-\alpha}}{N^{-1} + T^{-1}},

    with :math:`K = C\sigma_w^2\lambda_+ A_\alpha^{1+\alpha}/(2M)` and
    :math:`\rho_0 = \sigma_u^2\lambda_+/M`. Both factors are exactly 1 at :math:`\alpha = 1`
    (where :math:`d^\star = NT/(N+T)`) and tend to 1 for :math:`N \ll T` (and, by symmetry,
    :math:`T \ll N`), where :math:`d^\star \to N - 2N^2/(\alpha(1+\alpha)T)`. They depend on
    N and T only through N/T, and on no scale (M, lambda_+, sigma_u, sigma_w, C cancel).
    """
    a = _validate.positive_scalar("alpha", alpha)
    N = _validate.SIZE("N", N)
    T = _validate.SIZE("T", T)
    # The scales cancel: evaluate at M = lambda_+ = sigma_u = sigma_w = C = 1.
    opt = scaling.approx_optimal(N, T, 1.0, a)
    amp = scaling.amplitude(a) ** (1 + a)
    simple = N ** (-a) + T ** (-a)
    loss = np.asarray(opt.loss) / (0.5 * amp * simple)
    gamma = np.asarray(opt.gamma) / (amp * 2 / (a * (1 + a)) * simple / (1 / N + 1 / T))
    out = lambda v: float(v) if v.ndim == 0 else v
    return Corrections(loss=out(loss), gamma=out(gamma))


@dataclass(frozen=True)
class TraceApproximation:
    r"""Exact traces against their integral approximation (paper Eq. 129) on a grid of rho."""

    rho: np.ndarray
    """Latent-space ridges."""
    D1: np.ndarray
    r"""Exact :math:`D_1 = \sum_I s_I/(s_I + \rho)`."""
    D2: np.ndarray
    r"""Exact :math:`D_2 = \sum_I s_I^2/(s_I + \rho)^2`."""
    D1_approx: np.ndarray
    r""":math:`A_\alpha (\rho/\rho_0)^{-1/(1+\alpha)}`."""
    D2_approx: np.ndarray
    r""":math:`\tfrac{\alpha}{1+\alpha}` times ``D1_approx``."""

    @property
    def err_D1(self) -> np.ndarray:
        """D1_approx / D1 - 1."""
        return self.D1_approx / self.D1 - 1

    @property
    def err_D2(self) -> np.ndarray:
        """D2_approx / D2 - 1."""
        return self.D2_approx / self.D2 - 1


def trace_approximation(M, alpha, D1_min=1.0, D1_max=None, n=200) -> TraceApproximation:
    r"""The traces of a power law :math:`s_I = \rho_0 I^{-(1+\alpha)}` summed exactly and by Eq. 129.

    The grid of rho is chosen so that the exact :math:`D_1` runs from about ``D1_min`` to
    ``D1_max`` (default M / 2); the exact sums run over all M terms in float64 (cost M x n).
    rho is in units of :math:`\rho_0 = \sigma_u^2\lambda_+/M`, on which nothing else depends.
    """
    M = _POSITIVE_INT("M", M)
    a = _validate.positive_scalar("alpha", alpha)
    n = _POSITIVE_INT("n", n)
    D1_max = M / 2 if D1_max is None else D1_max
    # Invert the approximation for the grid's ends; the exact D1 lands near the requested range.
    A = scaling.amplitude(a)
    rho = np.geomspace((A / D1_min) ** (1 + a), (A / D1_max) ** (1 + a), n)
    s = np.arange(1, M + 1, dtype=float) ** -(1 + a)
    D1 = np.empty(n)
    D2 = np.empty(n)
    for k, r in enumerate(rho):  # row by row keeps memory at O(M)
        f = s / (s + r)
        D1[k], D2[k] = f.sum(), (f * f).sum()
    D1a = A * rho ** (-1 / (1 + a))
    return TraceApproximation(rho=rho, D1=D1, D2=D2, D1_approx=D1a, D2_approx=a / (1 + a) * D1a)


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------
def finite_or_nan(x):
    """``x`` with infinities replaced by NaN, so a plotted curve leaves a gap (e.g. at N = T)."""
    x = np.asarray(x, dtype=float)
    return np.where(np.isfinite(x), x, np.nan)


def _sci(x: float, digits: int):
    """``(plain, mantissa, exponent)`` of ``x`` rounded to ``digits`` significant digits: the
    fixed-point text (plain) for 0 and for numbers that round to 0.01 up to 1000, else None and
    the mantissa text ('' or '-' for a mantissa of exactly 1 or -1) and the exponent."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    rounded, e = float(f"{mantissa}e{exponent}"), int(exponent)
    if rounded == 0:
        return "0", None, 0
    if -2 <= e < 3:
        text = f"{rounded:.{max(digits - 1 - e, 0)}f}"
        return (text.rstrip("0").rstrip(".") if "." in text else text), None, 0
    m = float(mantissa)
    return None, ("-" if m == -1 else "" if m == 1 else mantissa), e


@_validate.validated(x=_validate.Real(scalar=True), digits=_POSITIVE_INT)
def latex_sci(x, digits=2) -> str:
    r"""``x`` in LaTeX scientific notation with ``digits`` significant digits.

    ``latex_sci(1.35e-4)`` is ``'1.4 \times 10^{-4}'``; a mantissa of exactly 1 is dropped
    (``'10^{-7}'``). Numbers that round to 0.01 up to (not including) 1000 print plainly, in
    fixed point without trailing zeros (``latex_sci(400)`` is ``'400'``, ``latex_sci(9.99)`` is
    ``'10'``); the choice is made after rounding, so ``latex_sci(999.7)`` is ``'10^{3}'``.
    """
    plain, mantissa, e = _sci(x, digits)
    if plain is not None:
        return plain
    power = f"10^{{{e}}}"
    return mantissa + power if mantissa in ("", "-") else rf"{mantissa} \times {power}"


@_validate.validated(f=_validate.Real(0.0, scalar=True))
def latex_factor(f) -> str:
    r"""A positive multiplying factor in LaTeX, to stand before a symbol: ``''`` for exactly 1,
    ``'10'`` and ``'10^{-4}'`` for powers of ten (to rounding), :func:`latex_sci` with 2 digits
    otherwise (``latex_factor(0.3)`` is ``'0.3'``)."""
    if f == 1:
        return ""
    k = round(math.log10(f))
    if math.isclose(f, 10.0**k, rel_tol=1e-12):
        return "10" if k == 1 else f"10^{{{k}}}"
    return latex_sci(f)


@_validate.validated(n=_validate.Integer(0))
def latex_int(n) -> str:
    """An integer with thousands separators for LaTeX and matplotlib's mathtext: ``latex_int(3000)``
    is ``'3{,}000'`` (the braces keep math mode from spacing the comma as punctuation)."""
    return f"{n:,}".replace(",", "{,}")


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@_validate.validated(x=_validate.Real(scalar=True), digits=_POSITIVE_INT)
def text_sci(x, digits=2) -> str:
    """``x`` as plain text for prose, by the rules of :func:`latex_sci`, with Unicode signs.

    ``text_sci(1.35e-4)`` is ``'1.4 × 10⁻⁴'``, ``text_sci(4e-15, 1)`` is
    ``'4 × 10⁻¹⁵'``, ``text_sci(1e-7)`` is ``'10⁻⁷'`` and ``text_sci(400)`` is
    ``'400'``; a negative sign is the minus sign U+2212.
    """
    plain, mantissa, e = _sci(x, digits)
    if plain is None:
        power = "10" + str(e).translate(_SUPERSCRIPTS)
        plain = mantissa + power if mantissa in ("", "-") else f"{mantissa} × {power}"
    return plain.replace("-", "−", 1) if plain.startswith("-") else plain


@_validate.validated(k=_validate.Integer(0), n=_validate.Integer(1))
def count_of(k, n, noun="", *, verbs=("", ""), capital=False) -> str:
    """``k`` of ``n`` in words for prose, where a percentage of a few points would mislead.

    ``count_of(0, 9)`` is ``'none of the 9'``, ``count_of(2, 9)`` is ``'2 of the 9'`` and
    ``count_of(9, 9)`` is ``'all 9'``; ``noun`` follows the number (``count_of(1, 8, "ratios")``
    is ``'1 of the 8 ratios'``), ``verbs`` = (singular, plural) appends the verb that agrees with
    k (``verbs=("lies", "lie")``; 'none' takes the singular), and ``capital`` starts the phrase
    with a capital letter. ``0 <= k <= n`` and ``n >= 1``.
    """
    if k > n:
        raise ValueError(f"k must lie in [0, n] = [0, {n}]; got k={k}")
    what = f"{n} {noun}".rstrip()
    text = "none of the " + what if k == 0 else "all " + what if k == n else f"{k} of the {what}"
    verb = verbs[0] if k in (0, 1) else verbs[1]
    text = f"{text} {verb}".rstrip()
    return text[0].upper() + text[1:] if capital else text


def glue_values(glue, **values) -> None:
    """Call ``glue(name, value, display=False)`` for each keyword (myst-nb's ``glue``).

    NumPy scalars become Python floats (ints stay ints, strings stay strings), so the book
    formats them with ``{glue:text}`` format specs like any number.
    """
    for name, value in values.items():
        if isinstance(value, np.generic):
            value = value.item()
        glue(name, value if isinstance(value, (str, int, float)) else float(value), display=False)


def rerun_command(notebook: str, **parameters) -> str:
    """The papermill command that reruns ``notebooks/<notebook>.ipynb`` with these parameters.

    Values are written the way papermill's ``-p`` parses them (numbers and strings) or, for
    lists, as YAML through ``-y``.
    """
    plain = [f"-p {k} {v!r}" if isinstance(v, str) else f"-p {k} {v:g}" if isinstance(v, float)
             else f"-p {k} {v}" for k, v in parameters.items() if not isinstance(v, (list, tuple))]
    lists = {k: list(v) for k, v in parameters.items() if isinstance(v, (list, tuple))}
    yaml = ["-y '" + ", ".join(f"{k}: {v}" for k, v in lists.items()).join("{}") + "'"] if lists else []
    return " ".join([f"papermill notebooks/{notebook}.ipynb {notebook}.out.ipynb", *plain, *yaml])


@dataclass(frozen=True)
class Stopwatch:
    """Wall-clock and CPU time since it was made: the measured run time of a notebook's execution.

    Made in the first code cell after the parameters; :func:`rerun_note` reads it in the last.
    CPU time is that of the whole process (every thread), so it exceeds the wall time when the
    trials run on several threads.
    """

    wall0: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when it was made."""
    cpu0: float = field(default_factory=time.process_time)
    """``time.process_time()`` when it was made."""

    def elapsed(self) -> tuple[float, float]:
        """(wall, CPU) seconds since it was made."""
        return time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def _seconds(t: float) -> str:
    # Two significant digits: a run time varies by more than 1% between runs and machines.
    return f"{float(f'{t:.2g}'):g} s"


def rerun_note(notebook: str, *, clock: Stopwatch, **parameters) -> str:
    """A "Rerun this chapter" note (CommonMark, as notebook Markdown output is rendered): the
    :func:`rerun_command` and the run time of this execution, measured by ``clock``."""
    wall, cpu = clock.elapsed()
    return (f"**Rerun this chapter:** `{rerun_command(notebook, **parameters)}`\n\n"
            f"This execution took {_seconds(wall)} (wall clock; {_seconds(cpu)} of CPU time), "
            "from the cell after the parameters to this note.")
