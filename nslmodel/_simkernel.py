r"""One Monte Carlo trial of the model: draws, reductions and the loss at many ridges.

This module holds the per-trial numerics behind :mod:`nslmodel.simulate` (book/model.md).
Everything here is a pure function of a :class:`Plan` and one trial's
:class:`numpy.random.SeedSequence`, so that a trial gives the same bits wherever it runs.

Exact average over teacher, test set and label noise
----------------------------------------------------
With :math:`A = (\phi^\top\phi + \gamma)^{-1}\phi^\top U` (the second form of paper Eq. 16),
averaging Eq. 19 over :math:`W`, :math:`\hat x` and the label noise of App. A gives

.. math::
    L(x, U) = \frac{C\sigma_w^2}{2M}\Big(\operatorname{tr}\Lambda
        - 2\operatorname{tr}[x A \Lambda] + \operatorname{tr}[A\Lambda A^\top\, x^\top x]\Big)
        + \frac{C\sigma_\varepsilon^2}{2}\operatorname{tr}[A\Lambda A^\top].

All traces reduce to ``r x r`` matrices with :math:`r = \min(N, T)`. In the T-space
(:math:`G = (\phi^\top\phi + \gamma)^{-1}`) they read
:math:`\operatorname{tr}[GD]`, :math:`\operatorname{tr}[GBGX]`, :math:`\operatorname{tr}[GBG]` with
:math:`D = \phi^\top U\Lambda x`, :math:`B = \phi^\top U\Lambda U^\top\phi`, :math:`X = x^\top x`;
in the N-space (first form of Eq. 16, :math:`H = (\phi\phi^\top + \gamma)^{-1}`) they read
:math:`\operatorname{tr}[HE]`, :math:`\operatorname{tr}[HKHY]`, :math:`\operatorname{tr}[HKH\phi\phi^\top]`
with :math:`E = U\Lambda x\phi^\top`, :math:`K = U\Lambda U^\top`, :math:`Y = \phi x^\top x\phi^\top`.
Generically: Gram :math:`S`, linear partner :math:`P`, sandwich :math:`B`, :math:`X`, and a noise
partner :math:`Z` (the identity in T-space, :math:`S` in N-space).

Ridge sweeps
------------
With :math:`S = R\,\mathrm{diag}(\mu)\,R^\top` and :math:`g_k = 1/(\mu_k + \gamma)`,

.. math::
    \operatorname{tr}[GP] = \sum_k g_k \tilde P_{kk},\quad
    \operatorname{tr}[GBGX] = \sum_{kl} g_k (\tilde B\circ\tilde X)_{kl}\, g_l,\quad
    \operatorname{tr}[GBGZ] = \sum_k g_k^2 \tilde B_{kk} z_k,

with :math:`\tilde P = R^\top P R` etc. One eigendecomposition per draw, then :math:`O(r^2)`
per ridge. At :math:`\gamma = 0` the modes with :math:`\mu_k` below the pseudo-inverse cutoff
are dropped, which gives the minimum-norm (ridgeless) solution.

Scale of U
----------
The exact path draws U with unit variance and uses :math:`\gamma' = \gamma M/\sigma_u^2`: A is
unchanged under :math:`U \to cU`, :math:`\gamma \to c^2\gamma`. The sampled path scales U and
uses :math:`\gamma` as given, so the two paths also check this identity against each other.

A fixed teacher and inputs from a data matrix
---------------------------------------------
With a fixed teacher :math:`W` (not averaged) and noiseless training labels :math:`y_0`
(:math:`y_0 = Wx`, or given targets), the test average of Eq. 19 is

.. math::
    L = \tfrac12\Big(\operatorname{tr}[W\Lambda W^\top] + \overline{r^2}
        - 2\operatorname{tr}[y_0 A \Lambda W^\top] + \operatorname{tr}[A\Lambda A^\top y_0^\top y_0]\Big)
        + \frac{C\sigma_\varepsilon^2}{2}\operatorname{tr}[A\Lambda A^\top],

the isotropic form with :math:`U\Lambda x` replaced by :math:`(U\Lambda W^\top)\,y_0`,
:math:`x^\top x` by :math:`y_0^\top y_0` (both of rank C) and
:math:`\frac{\sigma_w^2}{M}\operatorname{tr}\Lambda` by :math:`\operatorname{tr}[W\Lambda W^\top]`.
:math:`\overline{r^2}` is the mean square of the part of given targets that is not linear in
x (orthogonal to x under the data distribution, so it only adds to the test loss). Inputs from a
data matrix are its rows drawn uniformly with replacement, i.e. i.i.d. from the empirical
distribution; its columns must be the coordinates in the eigenbasis of its second-moment matrix
(``lam`` the eigenvalues), so that the test average above holds with a diagonal
:math:`\Lambda`. A Gaussian U is rotation invariant, so this loses no generality.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

__all__ = [
    "Plan", "run_trials", "single_threaded_blas", "estimate_trial_bytes", "estimate_seconds",
    "share_moments", "STREAMS",
]

# SFC64 draws normals about 1.25x faster than numpy's default PCG64 (7.7 vs 9.7 ns each on one
# SkylakeX core) and passes the same statistical test batteries; the draws are a sizeable part
# of a trial (M (N + T) normals).
BIT_GENERATOR = np.random.SFC64
# Independent streams of one trial. Each array is drawn row by row with N or T (or T_test)
# as its leading axis, so that the first n rows are the draw of a smaller problem.
STREAMS = ("U", "x", "W", "x_test", "eps")
_EPS = np.finfo(float).eps


# ---------------------------------------------------------------------------------------------
# Deterministic BLAS
# ---------------------------------------------------------------------------------------------
# Multithreaded OpenBLAS splits products differently with the thread count, so the same trial
# gives different last bits in a dask worker (one BLAS thread) than in the main process. Trials
# therefore run their BLAS single-threaded; parallelism comes from running trials at once.
# The limit is process-wide, so concurrent trials in one process share one reference count.
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread for as long as any trial in this process is running."""
    global _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_depth == 0:
            _blas_limiter = threadpool_limits(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


# ---------------------------------------------------------------------------------------------
# The plan of one call
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Plan:
    """Everything a trial needs, picklable for process-based executors.

    ``pairs[j]`` is a distinct (N, T) of the grid and ``gammas[j]`` the ridges wanted there;
    a trial returns the losses concatenated over j in that order.
    """

    lam: np.ndarray
    trace: float
    pairs: tuple
    gammas: tuple
    sigma_u: float
    sigma_w: float
    sigma_eps: float
    C: int
    method: str
    T_test: tuple  # test-set size per pair (sampled method only)
    shared: bool  # exact method: one set of moments from the largest draw for all pairs
    teacher: np.ndarray | None = None  # fixed teacher W (C x M), or None to average over W
    inputs: np.ndarray | None = None  # data rows (n x M) in the eigenbasis, or None for Gaussian x
    targets: np.ndarray | None = None  # labels of the data rows (n x C), or None for y = W x
    residual: float = 0.0  # mean square of targets beyond their linear part

    @property
    def fixed_teacher(self) -> bool:
        return self.teacher is not None

    @property
    def M(self) -> int:
        return self.lam.size

    @property
    def N_max(self) -> int:
        return largest(self.pairs)[0]

    @property
    def T_max(self) -> int:
        return largest(self.pairs)[1]

    @property
    def n_points(self) -> int:
        return sum(g.size for g in self.gammas)


def largest(pairs) -> tuple[int, int]:
    """The largest N and the largest T among ``pairs`` of (N, T): the size of one trial's draw."""
    return max(n for n, _ in pairs), max(t for _, t in pairs)


def cost_moments(N: int, T: int) -> float:
    """Multiply-adds per latent index of U x, U Λ x, U Λ Uᵀ and xᵀx (the last two by syrk)."""
    return 2.0 * N * T + 0.5 * (N * N + T * T)


def cost_best(N: int, T: int) -> float:
    """Per-index multiply-adds of the cheapest reduction for one (N, T), see :func:`_reduce`."""
    return min(cost_moments(N, T), 2.0 * N * T + 2.0 * min(N, T) ** 2)


# Typical single-thread speeds for estimate_seconds, which only decides whether a progress bar
# is worth showing: dense products on one SkylakeX core (measured 2.3e10 multiply-adds / s for
# U x at M = 4000, N = T = 400) and normals from SFC64 (8-12 ns each, taken as 10).
EST_MULADDS_PER_SECOND = 2.5e10
EST_SECONDS_PER_NORMAL = 1.0e-8


def estimate_trial_bytes(M, pairs, n_gamma, *, method, T_test, C, shared) -> int:
    """Peak bytes of one trial: draws, the largest temporaries and the r x r work arrays.

    ``pairs`` are the distinct (N, T) of the grid, ``T_test`` the test-set size per pair and
    ``n_gamma`` the largest number of ridges at one pair.
    """
    Nm, Tm = largest(pairs)
    words = M * (Nm + Tm + 1)  # U, x and the eigenvalues
    if method == "exact":
        if shared:  # one temporary at a time (M x 2T, then M x N), then the four moments
            words += M * max(Nm, 2 * Tm) + 2 * Nm * Tm + Nm * Nm + Tm * Tm
        else:  # one pair at a time: two M x max(N, T) temporaries and the moments
            words += max(2 * M * max(n, t) + 2 * n * t + n * n + t * t for n, t in pairs)
    else:
        Tt = max(T_test)
        words += M * (Tt + C) + Nm * (Tm + Tt) + (Tm + Tt) * C + Nm * Nm + Tm * Tm
    r = max(min(n, t) for n, t in pairs)
    words += 10 * r * r + 2 * n_gamma * r
    return 8 * int(words)


def estimate_seconds(plan: Plan) -> float:
    """Rough single-thread duration of one trial (decides whether to show a progress bar)."""
    if plan.method == "exact" and plan.shared:
        muladds = plan.M * cost_moments(plan.N_max, plan.T_max)
    elif plan.method == "exact":
        muladds = plan.M * sum(cost_best(n, t) for n, t in plan.pairs)
    else:
        muladds = plan.M * sum(n * (t + tt) * 2 for (n, t), tt in zip(plan.pairs, plan.T_test))
    normals = plan.M * (plan.N_max + plan.T_max)
    return muladds / EST_MULADDS_PER_SECOND + normals * EST_SECONDS_PER_NORMAL


def share_moments(pairs, method) -> bool:
    """Whether one set of moments of the largest draw is cheaper than one reduction per pair."""
    if method != "exact" or len(pairs) < 2:
        return False
    Nm, Tm = largest(pairs)
    return cost_moments(Nm, Tm) <= sum(cost_best(n, t) for n, t in pairs)


# ---------------------------------------------------------------------------------------------
# Reductions to r x r matrices
# ---------------------------------------------------------------------------------------------
@dataclass
class Reduced:
    """The ``r x r`` matrices of one draw at one (N, T) (module notes: S, P, B, X, Z)."""

    S: np.ndarray
    P: np.ndarray
    B: np.ndarray
    X: np.ndarray
    noise_partner_is_S: bool  # True in N-space (Z = S), False in T-space (Z = 1)


def moments(U, xt, lam, sqrt_lam):
    """The four latent contractions φ = U x, U Λ x, U Λ Uᵀ and xᵀx (``xt`` is xᵀ)."""
    T = xt.shape[0]
    # One product U [x, Λx] runs faster than two of half the width.
    Y = np.empty((2 * T, xt.shape[1]))
    Y[:T] = xt
    np.multiply(xt, lam, out=Y[T:])
    both = U @ Y.T
    del Y
    Ul = U * sqrt_lam
    K = Ul @ Ul.T
    del Ul
    return both[:, :T], both[:, T:], K, xt @ xt.T


def reduce_from_moments(phi, ULx, K, X) -> Reduced:
    """Reduce in the smaller of the T-space and N-space (O(r · N · T) work, no M)."""
    N, T = phi.shape
    if T <= N:
        return Reduced(phi.T @ phi, phi.T @ ULx, phi.T @ (K @ phi), X, False)
    return Reduced(phi @ phi.T, ULx @ phi.T, K, phi @ (X @ phi.T), True)


def _reduce_t_space(U, xt, sqrt_lam) -> Reduced:
    # For N > sqrt(3) T: never form the N x N matrix U Λ Uᵀ. With Wᵀ = φᵀ U (T x M),
    # B = Wᵀ Λ W and D = Wᵀ Λ x cost O(M T²) instead of O(M N²).
    phi = U @ xt.T
    Wl = phi.T @ U
    Wl *= sqrt_lam
    B = Wl @ Wl.T
    D = Wl @ (xt * sqrt_lam).T
    return Reduced(phi.T @ phi, D, B, xt @ xt.T, False)


def _reduce_n_space(U, xt, sqrt_lam) -> Reduced:
    # The dual for T > sqrt(3) N: never form xᵀx (T x T). With V = φ xᵀ (N x M),
    # Y = V Vᵀ and E = U Λ Vᵀ cost O(M N²).
    phi = U @ xt.T
    V = phi @ xt
    Y = V @ V.T
    V *= sqrt_lam
    Ul = U * sqrt_lam
    return Reduced(phi @ phi.T, Ul @ V.T, Ul @ Ul.T, Y, True)


def reduce_direct(U, xt, lam, sqrt_lam) -> Reduced:
    """The cheapest reduction for one (N, T) from the draws themselves."""
    N, T = U.shape[0], xt.shape[0]
    if cost_moments(N, T) <= cost_best(N, T):
        return reduce_from_moments(*moments(U, xt, lam, sqrt_lam))
    return _reduce_t_space(U, xt, sqrt_lam) if T < N else _reduce_n_space(U, xt, sqrt_lam)


# ---------------------------------------------------------------------------------------------
# Traces at given ridges
# ---------------------------------------------------------------------------------------------
def pinv_cutoff(S: np.ndarray) -> float:
    """Eigenvalues of the Gram S at or below this are zero (numpy.linalg.pinv's default rtol)."""
    # tr S bounds the largest eigenvalue without computing it; the Cholesky path uses the
    # same bound to hand near-singular problems to the eigen path.
    return S.shape[0] * _EPS * float(np.trace(S))


def traces_cholesky(red: Reduced, gamma: float, noise: bool):
    """``(tr[GP], tr[GBGX], tr[GBGZ])`` at one ridge ``gamma > 0`` by a Cholesky solve."""
    r = red.S.shape[0]
    A = red.S + gamma * np.eye(r)
    cho = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
    t1 = np.trace(scipy.linalg.cho_solve(cho, red.P, check_finite=False))
    GB = scipy.linalg.cho_solve(cho, red.B, check_finite=False)
    GX = scipy.linalg.cho_solve(cho, red.X, check_finite=False)
    t2 = np.sum(GB * GX.T)
    tn = 0.0
    if noise:
        Z = red.S if red.noise_partner_is_S else np.eye(r)
        tn = np.sum(GB * scipy.linalg.cho_solve(cho, Z, check_finite=False).T)
    return t1, t2, tn


def traces_eigen(red: Reduced, gammas: np.ndarray, noise: bool):
    """The same three traces at every ridge in ``gammas`` from one eigendecomposition.

    Ridges equal to zero give the pseudo-inverse (minimum-norm) values.
    """
    mu, R = np.linalg.eigh(red.S)
    keep = mu > pinv_cutoff(red.S)
    mu, R = mu[keep], R[:, keep]
    p = np.einsum("ik,ik->k", R, red.P @ R)
    Bt = R.T @ red.B @ R
    H = Bt * (R.T @ red.X @ R)
    g = 1.0 / (mu[None, :] + gammas[:, None])
    t1 = g @ p
    t2 = np.einsum("gk,gk->g", g @ H, g)
    tn = np.zeros_like(t1)
    if noise:
        z = mu if red.noise_partner_is_S else 1.0
        tn = (g * g) @ (np.diag(Bt) * z)
    return t1, t2, tn


def teacher_moments(U, xt, yt, W, lam, sqrt_lam):
    """The moments of a fixed teacher: φ, (UΛWᵀ) y0, UΛUᵀ and y0ᵀy0 (``yt`` is y0ᵀ, T x C)."""
    phi = U @ xt.T
    v = (U * lam) @ W.T
    Ul = U * sqrt_lam
    return phi, v @ yt.T, Ul @ Ul.T, yt @ yt.T


def losses_exact(plan: Plan, red: Reduced, gammas: np.ndarray) -> np.ndarray:
    """Eq. 19 averaged over W, x̂ and ε at the ridges ``gammas`` (book/model.md)."""
    g = gammas * (plan.M / plan.sigma_u**2)  # U was drawn with unit variance
    noise = plan.sigma_eps > 0
    t1 = t2 = tn = None
    # The Cholesky path is for a Gram of full rank only: with rank(Λ) < r the exact null modes
    # of S pick up rounding errors that a tiny ridge amplifies (seen: 26% off at gamma = 1e-6),
    # while the eigen path drops them exactly as the minimum-norm solution does.
    full_rank = red.S.shape[0] <= np.count_nonzero(plan.lam)
    if g.size == 1 and full_rank and g[0] > pinv_cutoff(red.S):
        try:
            t1, t2, tn = traces_cholesky(red, float(g[0]), noise)
        except np.linalg.LinAlgError:
            pass  # numerically singular: the eigen path below handles it
    if t1 is None:
        t1, t2, tn = traces_eigen(red, g, noise)
    if plan.fixed_teacher:  # plan.trace is tr[W Λ Wᵀ] + mean r² there
        signal = 0.5 * (plan.trace - 2 * t1 + t2)
    else:
        signal = plan.C * plan.sigma_w**2 / (2 * plan.M) * (plan.trace - 2 * t1 + t2)
    return np.atleast_1d(signal + plan.C * plan.sigma_eps**2 / 2 * tn)


# ---------------------------------------------------------------------------------------------
# Trials
# ---------------------------------------------------------------------------------------------
def trial_generators(seq: np.random.SeedSequence) -> list[np.random.Generator]:
    """One generator per entry of :data:`STREAMS`, the children of the trial's seed sequence.

    Identical to ``seq.spawn(len(STREAMS))`` on a fresh ``seq``, without mutating ``seq``.
    """
    return [
        np.random.Generator(
            BIT_GENERATOR(
                np.random.SeedSequence(seq.entropy, spawn_key=seq.spawn_key + (j,), pool_size=seq.pool_size)
            )
        )
        for j in range(len(STREAMS))
    ]


def _exact_trial(plan: Plan, U, xt, yt, sqrt_lam) -> np.ndarray:
    out = []
    if plan.fixed_teacher:
        # Rank-C partners: one set of moments from the largest draw serves every pair.
        phi, ULx, K, X = teacher_moments(U, xt, yt, plan.teacher, plan.lam, sqrt_lam)
        for (N, T), g in zip(plan.pairs, plan.gammas):
            red = reduce_from_moments(phi[:N, :T], ULx[:N, :T], K[:N, :N], X[:T, :T])
            out.append(losses_exact(plan, red, g))
    elif plan.shared:
        phi, ULx, K, X = moments(U, xt, plan.lam, sqrt_lam)
        for (N, T), g in zip(plan.pairs, plan.gammas):
            red = reduce_from_moments(phi[:N, :T], ULx[:N, :T], K[:N, :N], X[:T, :T])
            out.append(losses_exact(plan, red, g))
    else:
        for (N, T), g in zip(plan.pairs, plan.gammas):
            out.append(losses_exact(plan, reduce_direct(U[:N], xt[:T], plan.lam, sqrt_lam), g))
    return np.concatenate(out)


def _sampled_trial(plan: Plan, U, xt, yt, gens, sqrt_lam) -> np.ndarray:
    # Eq. 19 literally: draw the teacher, the test set and the label noise too.
    M = plan.M
    U *= plan.sigma_u / np.sqrt(M)
    if plan.fixed_teacher:
        W = plan.teacher
    else:
        W = gens[2].standard_normal((plan.C, M))
        W *= plan.sigma_w / np.sqrt(M)
    xht, yht_all = draw_inputs(plan, gens[3], max(plan.T_test), sqrt_lam)
    eps_t = gens[4].standard_normal((plan.T_max, plan.C))
    eps_t *= plan.sigma_eps
    yt_all = (xt @ W.T if yt is None else yt) + eps_t  # training labels, transposed (T x C)
    if yht_all is None:
        yht_all = xht @ W.T  # test labels, transposed
    out = []
    for (N, T), gammas, Tt in zip(plan.pairs, plan.gammas, plan.T_test):
        phi = U[:N] @ xt[:T].T
        phih = U[:N] @ xht[:Tt].T
        yt = yt_all[:T]
        # The Gram of the smaller side (paper Eq. 16) is shared by all ridges at this (N, T).
        gram = phi @ phi.T if N <= T else phi.T @ phi
        eye = np.eye(gram.shape[0])
        for gamma in gammas:
            if gamma == 0:  # minimum-norm least squares
                theta_t = np.linalg.lstsq(phi.T, yt, rcond=None)[0]
            elif N <= T:  # θ = y φᵀ (φ φᵀ + γ)^-1
                theta_t = scipy.linalg.solve(gram + gamma * eye, phi @ yt, assume_a="pos")
            else:  # θ = y (φᵀ φ + γ)^-1 φᵀ
                theta_t = phi @ scipy.linalg.solve(gram + gamma * eye, yt, assume_a="pos")
            resid = phih.T @ theta_t - yht_all[:Tt]
            out.append(np.sum(resid * resid) / (2 * Tt))
    return np.asarray(out)


def draw_inputs(plan: Plan, gen: np.random.Generator, T: int, sqrt_lam):
    """T inputs as rows (T x M) and their given targets (T x C, or None for y = W x).

    Gaussian with covariance Λ, or rows of the data matrix drawn uniformly with replacement.
    """
    if plan.inputs is None:
        xt = gen.standard_normal((T, plan.M))
        xt *= sqrt_lam
        return xt, None
    idx = gen.integers(plan.inputs.shape[0], size=T)
    return plan.inputs[idx], (None if plan.targets is None else plan.targets[idx])


def one_trial(plan: Plan, seq: np.random.SeedSequence) -> np.ndarray:
    """The losses of one trial at every grid point of the plan (length ``plan.n_points``)."""
    gens = trial_generators(seq)
    sqrt_lam = np.sqrt(plan.lam)
    U = gens[0].standard_normal((plan.N_max, plan.M))
    xt, yt = draw_inputs(plan, gens[1], plan.T_max, sqrt_lam)  # rows are the samples: xt = xᵀ
    if plan.method == "exact":
        if plan.fixed_teacher and yt is None:
            yt = xt @ plan.teacher.T
        return _exact_trial(plan, U, xt, yt, sqrt_lam)
    return _sampled_trial(plan, U, xt, yt, gens, sqrt_lam)


def run_trials(plan: Plan, seqs) -> np.ndarray:
    """Run the trials of ``seqs`` in order; shape ``(len(seqs), plan.n_points)``."""
    with single_threaded_blas():
        return np.stack([one_trial(plan, s) for s in seqs])
