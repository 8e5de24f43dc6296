r"""Monte Carlo simulation of the model: the test loss of paper Eq. 19, with error bars.

Two estimators of the expected test loss :math:`\langle L\rangle` (book/model.md):

``method="exact"``
    Draw the training data :math:`x` (M x T, columns :math:`\mathcal N(0, \Lambda)`) and the
    feature map :math:`U` (N x M, entries :math:`\mathcal N(0, \sigma_u^2/M)`) and average the
    teacher, the test set and the label noise (paper App. A) analytically:

    .. math::
        L(x, U) = \frac{C\sigma_w^2}{2M}\operatorname{tr}\big[(1 - P)\Lambda(1 - P)^\top\big]
            + \frac{C\sigma_\varepsilon^2}{2}\operatorname{tr}\big[A\Lambda A^\top\big],
        \qquad A = (\phi^\top\phi + \gamma)^{-1}\phi^\top U,\quad P = xA,

    with the trained weights of paper Eq. 16. Each trial costs :math:`O(M\,T(N + T))` and never
    forms an M x M matrix (details in :mod:`nslmodel._simkernel`).
``method="sampled"``
    Also draw the teacher :math:`W`, ``T_test`` test samples :math:`\hat x` and the label noise
    :math:`\varepsilon`, train by Eq. 16 and evaluate Eq. 19 literally. Both methods use the same
    draws of :math:`x` and :math:`U` for a given seed, and the exact loss is the conditional
    mean of the sampled one given those draws, so the two agree within error bars.

``gamma = 0`` is the minimum-norm (ridgeless) solution :math:`\theta^* = y\,\phi^+`, whose
expectation is infinite at ``N == T`` (double descent, book/solution.md).

Reproducibility
---------------
Trial ``i`` draws from ``numpy.random.SeedSequence(seed).spawn(trials)[i]``, split into the
independent streams :data:`nslmodel._simkernel.STREAMS`. Its linear algebra runs on one BLAS
thread, so a trial gives the same bits serially, on a thread pool or on dask workers.

Sweeps
------
:func:`simulate_sweep` draws once per trial for the largest N and T of the grid and uses the
first N rows of U and the first T samples of x for every smaller point (nested draws). Points
of one trial are therefore correlated, which makes curves smooth, and each point on its own has
exactly the distribution of :func:`simulate_loss` with the same seed. All ridges at one (N, T)
share one eigendecomposition.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from . import _simkernel, _validate
from .spectra import as_spectrum

__all__ = ["SimulationResult", "SweepResult", "MemoryLimitError", "simulate_loss", "simulate_sweep"]

METHODS = ("exact", "sampled")
# Used when the physical memory cannot be read.
FALLBACK_MEMORY_LIMIT = 4 * 2**30
# Default limit: half the physical memory leaves room for everything else running and never
# lets a simulation push the machine into swap.
DEFAULT_MEMORY_FRACTION = 0.5
# Progress bar shown automatically only for runs expected to last longer than this (seconds).
PROGRESS_AUTO_SECONDS = 3.0
# Trials are submitted to an executor in at most this many groups: few enough that dask's
# per-task overhead (~1 ms) is negligible, enough for the progress bar and load balance.
MAX_TASKS = 64


class MemoryLimitError(MemoryError, ValueError):
    """The estimated memory of a simulation exceeds ``memory_limit``."""


@dataclass(frozen=True, eq=False)
class SimulationResult:
    r"""Monte Carlo estimate of :math:`\langle L\rangle` at one (N, T, gamma).

    Attributes
    ----------
    mean : float
        Sample mean of the per-trial losses.
    sem : float
        Standard error of the mean, ``std(samples, ddof=1) / sqrt(trials)``; ``inf`` for a
        single trial (no spread to estimate).
    samples : ndarray, shape (trials,)
        One loss per trial, in trial order.
    trials : int
        Number of trials.
    seed : int
        Entropy of the root :class:`numpy.random.SeedSequence`. It reproduces the run when the
        seed was an int or None; a SeedSequence seed also needs its ``spawn_key``.
    method : str
        ``"exact"`` or ``"sampled"``.
    N, T, M : int
        Features, training samples, latent dimension.
    gamma : float
        Ridge parameter (0 is ridgeless).
    sigma_u, sigma_w, sigma_eps : float
        Standard deviations of the feature weights, teacher weights and label noise.
    C : int
        Label dimension.
    T_test : int or None
        Test samples per trial (sampled method), else None.
    seconds : float
        Wall time of the run.
    """

    mean: float
    sem: float
    samples: np.ndarray
    trials: int
    seed: int
    method: str
    N: int
    T: int
    M: int
    gamma: float
    sigma_u: float
    sigma_w: float
    sigma_eps: float
    C: int
    T_test: int | None
    seconds: float

    def to_dict(self, samples: bool = False) -> dict:
        """Plain-Python fields for JSON; the per-trial samples only if ``samples``."""
        d = asdict(self)
        if samples:
            d["samples"] = [float(v) for v in self.samples]
        else:
            del d["samples"]
        d["sem"] = None if math.isinf(self.sem) else self.sem
        return d


@dataclass(frozen=True, eq=False)
class SweepResult:
    r"""Monte Carlo estimates on a grid of (N, T, gamma).

    Attributes
    ----------
    mean, sem : ndarray
        Shape of the grid (N, T and gamma broadcast together).
    samples : ndarray, shape (trials, *grid)
        Per-trial losses. Points of one trial share nested draws (module notes).
    N, T : ndarray of int
        The grid, broadcast to its full shape.
    gamma : ndarray of float
        The grid, broadcast to its full shape.
    trials, seed, method, M, sigma_u, sigma_w, sigma_eps, C, seconds
        As in :class:`SimulationResult`.
    T_test : int or None
        The ``T_test`` argument for the sampled method (None there means T at each grid
        point), else None.
    """

    mean: np.ndarray
    sem: np.ndarray
    samples: np.ndarray
    N: np.ndarray
    T: np.ndarray
    gamma: np.ndarray
    trials: int
    seed: int
    method: str
    M: int
    sigma_u: float
    sigma_w: float
    sigma_eps: float
    C: int
    T_test: int | None
    seconds: float


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------
#: Range of sigma_u, sigma_w and sigma_eps in the simulator (sigma_w and sigma_eps may also be
#: 0). The sampled path forms Gram matrices of the features, which scale as sigma_u**4, and
#: squared errors, which scale as sigma_w**2 and sigma_eps**2; within these bounds they stay
#: far inside float64 (1e+-200 before the data scales). The theory functions have no such limit.
SIM_SCALE_MIN = 1e-50
SIM_SCALE_MAX = 1e50


def _nonempty_ridges(name, value):
    arr = _validate.Real(0.0, closed_low=True)(name, value)
    if arr.size == 0:
        raise ValueError(f"{name} must be a non-negative number or a non-empty array of them; got an empty array")
    return arr


def _one_point(check):
    """``check`` for simulate_loss, which takes one point: a sequence is pointed to simulate_sweep."""

    def single(name, value):
        if np.ndim(value) != 0:
            raise TypeError(
                f"{name} must be a single number for simulate_loss; got {value!r} (use simulate_sweep for grids)"
            )
        return check(name, value)

    return single


_SIM_SCALE = dict(low=SIM_SCALE_MIN, high=SIM_SCALE_MAX, closed_low=True, closed_high=True, scalar=True)
_PARAMS = dict(
    spectrum=_validate.SPECTRUM, trials=_validate.Integer(1), seed=_validate.SEED,
    sigma_u=_validate.Real(**_SIM_SCALE), sigma_w=_validate.Real(**_SIM_SCALE, or_zero=True),
    sigma_eps=_validate.Real(**_SIM_SCALE, or_zero=True), C=_validate.LABEL_DIM,
    method=_validate.OneOf(METHODS), T_test=_validate.Optional(_validate.Integer(1)),
    executor=_validate.EXECUTOR, progress=_validate.FLAG,
    memory_limit=_validate.Optional(_validate.Real(0.0, scalar=True)),
    teacher=_validate.Optional(_validate.Array(ndim=(1, 2), what="array of teacher weights W (C x M, or M)")),
    inputs=_validate.Optional(_validate.Array(ndim=(2,), what="data matrix (n samples x M)")),
    targets=_validate.Optional(_validate.Array(ndim=(1, 2), what="array of targets, (n,) or (n, C)")),
)


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        # A fresh copy: spawning from the caller's object would advance its child counter, so
        # passing the same SeedSequence twice would give different trials.
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
    return np.random.SeedSequence(seed)


@contextlib.contextmanager
def _open_executor(executor):
    """An Executor object as given, or the one a name stands for (shut down afterwards)."""
    if executor is None or executor == "serial":
        yield None
    elif isinstance(executor, str):
        pool = ThreadPoolExecutor if executor == "threads" else ProcessPoolExecutor
        with pool(max_workers=os.cpu_count() or 1) as ex:
            yield ex
    else:
        yield executor


# ---------------------------------------------------------------------------------------------
# Planning: memory, time, concurrency
# ---------------------------------------------------------------------------------------------
def default_memory_limit() -> float:
    """Half the physical memory, or 4 GiB where it cannot be read."""
    try:
        return DEFAULT_MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return float(FALLBACK_MEMORY_LIMIT)


def _concurrency(executor) -> int:
    """How many trials may run at once (each holds its own arrays)."""
    if executor is None:
        return 1
    n = getattr(executor, "_max_workers", None)
    client = getattr(executor, "_client", None)  # dask.distributed ClientExecutor
    if n is None and client is not None:
        try:
            n = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - an unreachable scheduler just means "unknown"
            n = None
    return max(1, int(n or 1))


def _check_memory(M, pairs, gammas, trials, executor, memory_limit, **kw):
    limit = default_memory_limit() if memory_limit is None else memory_limit
    per_trial = _simkernel.estimate_trial_bytes(M, pairs, max(g.size for g in gammas), **kw)
    workers = _concurrency(executor)
    need = per_trial * workers + 8 * trials * sum(g.size for g in gammas)
    if need > limit:
        Nm, Tm = _simkernel.largest(pairs)
        raise MemoryLimitError(
            f"simulation needs about {need / 2**30:.2f} GiB ({need:,} bytes: {per_trial:,} bytes per "
            f"trial x {workers} concurrent trial(s)) for N={Nm}, T={Tm}, M={M}"
            + (f", T_test={max(kw['T_test'])}" if kw["method"] == "sampled" else "")
            + f", which exceeds memory_limit={int(limit):,} bytes; reduce N, T or M, use fewer "
            "concurrent workers, or raise memory_limit"
        )


# ---------------------------------------------------------------------------------------------
# Running trials
# ---------------------------------------------------------------------------------------------
def _run(plan, trials, seq, executor, progress) -> np.ndarray:
    """Per-trial losses, shape (trials, plan.n_points), independent of how trials are run."""
    children = seq.spawn(trials)
    expected = _simkernel.estimate_seconds(plan) * trials / _concurrency(executor)
    show = progress if progress is not None else (expected > PROGRESS_AUTO_SECONDS and sys.stderr.isatty())
    out = np.empty((trials, plan.n_points))
    # Holding the BLAS limit here too keeps in-process workers from toggling it per task.
    with _simkernel.single_threaded_blas(), tqdm(
        total=trials, disable=not show, desc="simulate", unit="trial", leave=False
    ) as bar:
        if executor is None:
            for i, child in enumerate(children):
                out[i] = _simkernel.run_trials(plan, [child])[0]
                bar.update(1)
            return out
        size = max(1, math.ceil(trials / MAX_TASKS))
        futures = {}
        for start in range(0, trials, size):
            stop = min(trials, start + size)
            futures[executor.submit(_simkernel.run_trials, plan, children[start:stop])] = (start, stop)
        try:
            for fut in as_completed(futures):
                start, stop = futures[fut]
                out[start:stop] = fut.result()
                bar.update(stop - start)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return out


def _summarize(samples: np.ndarray):
    trials = samples.shape[0]
    mean = samples.mean(axis=0)
    if trials == 1:
        return mean, np.full_like(mean, np.inf)
    return mean, samples.std(axis=0, ddof=1) / np.sqrt(trials)


def _warn_ridgeless_n_equals_t(N, T, gamma):
    if np.any((gamma == 0) & (N == T)):
        warnings.warn(
            "gamma = 0 with N == T: the expected ridgeless loss is infinite there (double descent), "
            "so the sample mean does not converge as trials grow",
            RuntimeWarning,
            stacklevel=3,
        )


# Data inputs must be in the eigenbasis of their own second-moment matrix: each column's mean
# square equals its eigenvalue to this relative accuracy (an eigendecomposition in float64 gives
# ~1e-13 of the largest eigenvalue; 1e-8 catches a wrong basis or scale, not rounding).
INPUTS_RTOL = 1e-8


def _data_fields(teacher, inputs, targets, lam, C, sigma_w) -> dict:
    """Plan fields for a fixed teacher and data inputs; ``trace`` is tr[W Λ Wᵀ] + mean r²."""
    out = {}
    M = lam.size
    if inputs is not None:
        X = inputs
        if X.shape[1] != M:
            raise ValueError(f"inputs must be a finite (n, M = {M}) data matrix; got shape {X.shape}")
        ms = np.mean(X * X, axis=0)
        if np.max(np.abs(ms - lam)) > INPUTS_RTOL * float(np.max(lam)):
            raise ValueError(
                "inputs must be in the eigenbasis of their second-moment matrix with the "
                "spectrum's eigenvalues (column mean squares = eigenvalues); use "
                "nslmodel.data.empirical(X) to obtain both"
            )
        out["inputs"] = np.ascontiguousarray(X)
    if targets is not None:
        if inputs is None or teacher is not None:
            raise ValueError("targets needs inputs (the rows they label) and excludes teacher")
        n = out["inputs"].shape[0]
        if targets.shape[0] != n or targets.reshape(n, -1).shape[1] != C:
            raise ValueError(f"targets must be finite, of shape (n = {n},) or (n, C = {C}); got {targets.shape}")
        Y = targets.reshape(n, -1)
        X = out["inputs"]
        pos = lam > 0
        W = np.zeros((C, M))
        W[:, pos] = (Y.T @ X[:, pos]) / X.shape[0] / lam[pos]
        out["targets"] = np.ascontiguousarray(Y)
        out["residual"] = max(0.0, float(np.mean(np.sum(Y * Y, axis=1))) - float(np.sum(W * W * lam)))
        teacher = W
    if teacher is not None:
        W = np.atleast_2d(teacher)
        if W.shape != (C, M):
            raise ValueError(f"teacher must be a finite (C = {C}, M = {M}) array of weights; got shape {W.shape}")
        if sigma_w != 1.0:
            raise ValueError(f"sigma_w is not used with a fixed teacher (W sets the scale); got sigma_w={sigma_w!r}")
        out["teacher"] = np.ascontiguousarray(W)
        out["trace"] = float(math.fsum(np.sum(W * W, axis=0) * lam)) + out.get("residual", 0.0)
    return out


@_validate.validated(
    N=_validate.Integer(1, array=True), T=_validate.Integer(1, array=True), gamma=_nonempty_ridges,
    broadcast=("N", "T", "gamma"), **_PARAMS,
)
def simulate_sweep(
    N, T, gamma, spectrum, *, trials, seed, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1,
    method="exact", T_test=None, executor=None, progress=None, memory_limit=None,
    teacher=None, inputs=None, targets=None,
) -> SweepResult:
    r"""Simulate :math:`\langle L\rangle` on a grid of (N, T, gamma) with shared draws.

    Parameters
    ----------
    N, T : int or array_like of int
        Features and training samples, broadcast against each other and ``gamma``
        (e.g. ``N[:, None]`` with ``gamma[None, :]``).
    gamma : float or array_like
        Ridge parameters, ``>= 0``; 0 is the ridgeless minimum-norm solution.
    spectrum : PowerLaw, Spectrum or array_like
        Latent spectrum :math:`\lambda_I` (anything :func:`nslmodel.spectra.as_spectrum` accepts).
    trials : int
        Number of independent draws, ``>= 1``.
    seed : int, numpy.random.SeedSequence or None
        Root of the per-trial seed sequences; None draws fresh entropy (kept in the result).
        A SeedSequence is not advanced, so passing the same one again repeats the run.
    sigma_u, sigma_w, sigma_eps : float
        Feature-weight, teacher-weight and label-noise standard deviations, each within
        ``SIM_SCALE_MIN`` to ``SIM_SCALE_MAX`` (1e-50 to 1e50; sigma_w and sigma_eps may be 0).
    C : int
        Label dimension.
    method : {"exact", "sampled"}
        See the module notes.
    T_test : int, optional
        Test samples per trial for ``method="sampled"``; default T at each grid point.
    executor : concurrent.futures.Executor, {"serial", "threads", "processes"} or None
        Runs groups of trials, e.g. a ``ThreadPoolExecutor`` or dask's
        ``Client.get_executor()``; ``"threads"`` and ``"processes"`` run them on a pool of
        ``os.cpu_count()`` workers made for this call, ``"serial"`` (like None) in this thread.
        The result is bit-identical to the serial run.
    progress : bool or None
        Show a tqdm bar; None shows it when the run is expected to take more than a few
        seconds and standard error is a terminal.
    memory_limit : float, optional
        Bytes the run may use; default half the physical memory.
    teacher : array_like, shape (C, M) or (M,), optional
        A fixed teacher W (not averaged; its scale is W itself, so ``sigma_w`` must stay at its
        default). Compare with :func:`nslmodel.teacher.teacher_loss` on
        :math:`\beta_I^2 = \sum_c W_{cI}^2\lambda_I`. Default: average over the isotropic teacher.
    inputs : array_like, shape (n, M), optional
        A data matrix whose rows are drawn, uniformly with replacement, as the training (and,
        sampled method, test) inputs instead of Gaussian ones. Its columns must be coordinates in
        the eigenbasis of its second-moment matrix with the eigenvalues of ``spectrum``:
        :func:`nslmodel.data.empirical` returns such a pair.
    targets : array_like, shape (n,) or (n, C), optional
        Labels of the rows of ``inputs`` (needs ``inputs``; excludes ``teacher``). The teacher is
        then their least-squares linear part :math:`W^*_{cI} = \overline{y_c x_I}/\lambda_I` and
        the rest, orthogonal to x, adds its mean square to the test loss (:mod:`nslmodel._simkernel`).

    Returns
    -------
    SweepResult
        ``mean`` and ``sem`` shaped like the broadcast grid, ``samples`` with a leading trials
        axis.

    Raises
    ------
    ValueError
        On bad input (naming the parameter and its allowed range).
    MemoryLimitError
        If the estimated memory exceeds ``memory_limit`` (nothing is allocated).

    Notes
    -----
    Cost per trial: the draws of the largest N and T, then either one set of latent
    contractions :math:`O(M(N_{max}T_{max} + N_{max}^2 + T_{max}^2))` shared by all points or,
    when that is dearer, :math:`O(M\,T(N+T))` per (N, T); then :math:`O(\min(N,T)^3)` per (N, T)
    and :math:`O(\min(N,T)^2)` per extra ridge.
    """
    t0 = time.perf_counter()
    Ng, Tg, gg = np.broadcast_arrays(N, T, gamma)
    spec = spectrum
    seq = _seed_sequence(seed)
    _warn_ridgeless_n_equals_t(Ng, Tg, gg)

    # Group grid points by (N, T): one reduction each, all its ridges at once.
    flat_N, flat_T, flat_g = Ng.ravel(), Tg.ravel(), gg.ravel()
    pair_index = {}
    for k, key in enumerate(zip(flat_N.tolist(), flat_T.tolist())):
        pair_index.setdefault(key, []).append(k)
    pairs = list(pair_index)
    order = np.concatenate([np.asarray(pair_index[p]) for p in pairs])
    gammas = [flat_g[pair_index[p]].copy() for p in pairs]

    shared = _simkernel.share_moments(pairs, method)
    t_test = tuple(int(T_test or t) for _, t in pairs)
    with _open_executor(executor) as executor:
        _check_memory(
            spec.M, pairs, gammas, trials, executor, memory_limit, method=method, T_test=t_test, C=C, shared=shared
        )
        lam = np.asarray(spec.eigenvalues, dtype=float)
        data = _data_fields(teacher, inputs, targets, lam, C, sigma_w)
        plan = _simkernel.Plan(
            lam=lam, trace=data.pop("trace", float(math.fsum(lam))), pairs=tuple(pairs), gammas=tuple(gammas),
            sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps, C=C, method=method, T_test=t_test,
            shared=shared, **data,
        )
        raw = _run(plan, trials, seq, executor, progress)
    if not np.all(np.isfinite(raw)):
        t, k = np.argwhere(~np.isfinite(raw))[0]
        p = order[k]
        raise FloatingPointError(
            f"trial {t} gave a non-finite loss at N={flat_N[p]}, T={flat_T[p]}, gamma={flat_g[p]!r}; "
            "the problem is numerically singular there (try a larger gamma)"
        )

    samples = np.empty_like(raw)
    samples[:, order] = raw
    samples = samples.reshape((trials,) + Ng.shape)
    mean, sem = _summarize(samples)
    return SweepResult(
        mean=mean, sem=sem, samples=samples, N=Ng.copy(), T=Tg.copy(), gamma=gg.copy(), trials=trials,
        seed=seq.entropy, method=method, M=spec.M, sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps,
        C=C, T_test=T_test if method == "sampled" else None, seconds=time.perf_counter() - t0,
    )


@_validate.validated(
    N=_one_point(_validate.Integer(1)), T=_one_point(_validate.Integer(1)),
    gamma=_one_point(_validate.Real(0.0, closed_low=True, scalar=True)), **_PARAMS,
)
def simulate_loss(
    N, T, gamma, spectrum, *, trials, seed, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1,
    method="exact", T_test=None, executor=None, progress=None, memory_limit=None,
    teacher=None, inputs=None, targets=None,
) -> SimulationResult:
    r"""Simulate the expected test loss :math:`\langle L\rangle` at one (N, T, gamma).

    Monte Carlo estimate of the test loss per test sample (paper Eq. 19) of the ridge-trained
    student (paper Eq. 16), with label noise of variance :math:`\sigma_\varepsilon^2`
    (paper App. A). Compare with :func:`nslmodel.expected_loss`.

    Parameters
    ----------
    N, T : int
        Features and training samples, ``>= 1``.
    gamma : float
        Ridge parameter, ``>= 0``; 0 is the ridgeless (minimum-norm) solution.
    spectrum, trials, seed, sigma_u, sigma_w, sigma_eps, C, method, T_test, executor, progress, memory_limit
        As in :func:`simulate_sweep`.
    teacher, inputs, targets
        A fixed teacher and data inputs, as in :func:`simulate_sweep`.

    Returns
    -------
    SimulationResult
        ``mean``, ``sem`` and the per-trial ``samples``.

    Raises
    ------
    ValueError
        On bad input (naming the parameter and its allowed range).
    MemoryLimitError
        If the estimated memory exceeds ``memory_limit`` (nothing is allocated).

    Examples
    --------
    >>> from nslmodel import PowerLaw, simulate_loss
    >>> r = simulate_loss(50, 80, 1e-3, PowerLaw(400, 1.0), trials=20, seed=1, progress=False)
    >>> r.mean > 0 and r.sem < r.mean
    True
    """
    sw = simulate_sweep(
        N, T, gamma, spectrum, trials=trials, seed=seed, sigma_u=sigma_u, sigma_w=sigma_w,
        sigma_eps=sigma_eps, C=C, method=method, T_test=T_test, executor=executor,
        progress=progress, memory_limit=memory_limit, teacher=teacher, inputs=inputs, targets=targets,
    )
    return SimulationResult(
        mean=float(sw.mean), sem=float(sw.sem), samples=sw.samples.reshape(-1), trials=sw.trials,
        seed=sw.seed, method=sw.method, N=N, T=T, M=sw.M, gamma=float(sw.gamma), sigma_u=sw.sigma_u,
        sigma_w=sw.sigma_w, sigma_eps=sw.sigma_eps, C=sw.C, T_test=(T_test or T) if method == "sampled" else None,
        seconds=sw.seconds,
    )
