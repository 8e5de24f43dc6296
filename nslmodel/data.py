r"""Real data for the model: empirical spectra, teacher powers and power-law fits.

The theory needs a latent spectrum :math:`\lambda_I` and, for a given target, its power
:math:`\beta_I^2` per latent direction (:mod:`nslmodel.teacher`). For a data matrix X (n samples
as rows) both come from the eigendecomposition of the centred second-moment matrix
:math:`\Sigma = X_c^\top X_c / n = V\,\mathrm{diag}(\lambda)\,V^\top`: the coordinates
:math:`Z = X_c V` have :math:`\overline{Z_I Z_J} = \lambda_I\delta_{IJ}` exactly (up to rounding),
so the rows of Z drawn with replacement are i.i.d. inputs with a diagonal covariance, as the
model assumes (apart from their non-Gaussian distribution). A target y has the least-squares
linear part :math:`W^*_{cI} = \overline{y_c Z_I}/\lambda_I`, hence

.. math::
    \beta_I^2 = \sum_c W^{*2}_{cI}\lambda_I = \sum_c \overline{y_c Z_I}^2/\lambda_I,
    \qquad \overline{r^2} = \overline{|y|^2} - \sum_I\beta_I^2,

where the residual r is orthogonal to every :math:`Z_I`. The data sets are those that ship with
scikit-learn (no download): patches of the two photographs of ``load_sample_images`` and the
8 x 8 digits of ``load_digits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as _v
from .spectra import Spectrum

__all__ = [
    "EmpiricalData",
    "TargetPower",
    "PowerLawFit",
    "empirical",
    "target_power",
    "target_loss",
    "patches",
    "sample_image_patches",
    "digits",
    "fit_power_law",
    "CurveComparison",
    "compare_learning_curve",
    "excess_exponent",
]

# Eigenvalues of a float64 second-moment matrix carry absolute errors of ~M eps lambda_max;
# below that they are rounding noise and are set to zero (the directions then carry no variance).
EIG_RANK_ULPS = 1.0


@dataclass(frozen=True, eq=False)
class EmpiricalData:
    """A data matrix in the eigenbasis of its centred second-moment matrix."""

    eigenvalues: np.ndarray
    r"""Eigenvalues :math:`\lambda_I`, descending (I = 1..M), zeros below rounding level."""
    inputs: np.ndarray
    """Centred rows in the eigenbasis, ``(X - mean) @ basis``, shape (n, M)."""
    basis: np.ndarray
    """Eigenvectors as columns, shape (M, M)."""
    mean: np.ndarray
    """The row mean that was removed, shape (M,)."""

    @property
    def spectrum(self) -> Spectrum:
        """The eigenvalues as a :class:`nslmodel.Spectrum`."""
        return Spectrum(self.eigenvalues)


@dataclass(frozen=True, eq=False)
class TargetPower:
    """A target's power per latent direction and its non-linear remainder."""

    beta2: np.ndarray
    r""":math:`\beta_I^2` of the least-squares linear part, shape (M,)."""
    residual: float
    r""":math:`\overline{r^2}`: mean square of the part orthogonal to the inputs (summed over c)."""
    W: np.ndarray
    """The linear teacher in the eigenbasis, shape (C, M)."""


@dataclass(frozen=True)
class PowerLawFit:
    r"""A fit :math:`\lambda_I \approx \lambda_+ I^{-(1+\alpha)}` over ``lo <= I <= hi``."""

    alpha: float
    """Exponent alpha (the slope on log-log is -(1 + alpha))."""
    alpha_spread: float
    """Largest change of alpha when fitted on the lower or the upper half (in log I) of the range."""
    lam_plus: float
    """Amplitude of the fitted line at I = 1."""
    lo: int
    """First index of the range of validity (1-based)."""
    hi: int
    """Last index of the range of validity (1-based)."""
    max_log_residual: float
    """Largest |log lambda_I - fit| over the range (natural log)."""


_DATA = _v.Instance(EmpiricalData, "an EmpiricalData (from nslmodel.data.empirical)")
_TARGET = _v.Array(ndim=(1, 2), what="array of targets, (n,) or (n, C)")


def _rows(name, Y, n) -> np.ndarray:
    """The targets ``Y`` as an (n, C) matrix, or a ValueError when they do not label n rows."""
    if Y.shape[0] != n:
        raise ValueError(f"{name} must have one row per data row, n = {n}; got shape {Y.shape}")
    return Y.reshape(n, -1)


@_v.validated(X=_v.DATA_MATRIX)
def empirical(X) -> EmpiricalData:
    r"""Centre X (n x M), diagonalise :math:`X_c^\top X_c/n` and rotate the rows into its eigenbasis."""
    mean = X.mean(axis=0)
    Xc = X - mean
    lam, V = np.linalg.eigh(Xc.T @ Xc / X.shape[0])
    lam, V = lam[::-1], V[:, ::-1]
    floor = EIG_RANK_ULPS * X.shape[1] * np.finfo(float).eps * max(float(lam[0]), 0.0)
    lam = np.where(lam > floor, lam, 0.0)
    if not np.any(lam > 0):
        raise ValueError("X must have variance (a positive eigenvalue); got all rows equal")
    Z = Xc @ V
    # Rounding leaves column mean squares ~M eps lam_max away from lam; use the exact second
    # moments of Z as the spectrum so that the pair is consistent to the last bit.
    ms = np.mean(Z * Z, axis=0)
    lam = np.where(lam > 0, ms, 0.0)
    return EmpiricalData(eigenvalues=lam, inputs=Z, basis=V, mean=mean)


@_v.validated(data=_DATA, y=_TARGET)
def target_power(data: EmpiricalData, y) -> TargetPower:
    r""":math:`\beta_I^2` and :math:`\overline{r^2}` of a target y (n,) or (n, C), centred first."""
    Z = data.inputs
    Y = _rows("y", y, Z.shape[0])
    Y = Y - Y.mean(axis=0)
    lam = data.eigenvalues
    pos = lam > 0
    W = np.zeros((Y.shape[1], lam.size))
    W[:, pos] = (Y.T @ Z[:, pos]) / Z.shape[0] / lam[pos]
    beta2 = np.sum(W * W, axis=0) * lam
    residual = max(0.0, float(np.mean(np.sum(Y * Y, axis=1)) - np.sum(beta2)))
    return TargetPower(beta2=beta2, residual=residual, W=W)


@_v.validated(
    N=_v.SIZE, T=_v.SIZE, gamma=_v.Real(0.0, closed_low=True), data=_DATA,
    target=_v.Instance(TargetPower, "a TargetPower (from nslmodel.data.target_power)"), sigma_u=_v.SCALE_U,
    broadcast=("N", "T", "gamma"),
)
def target_loss(N, T, gamma, data: EmpiricalData, target: TargetPower, *, sigma_u=1.0):
    r"""Predicted test loss for a real target: given-teacher theory plus the remainder.

    The remainder r acts as label noise of variance :math:`\overline{r^2}/C` per component in
    training (the Gaussian-equivalence reading) and adds :math:`\overline{r^2}/2` at test:

    .. math::
        L = L_{\beta}(N, T, \gamma;\ \sigma_\varepsilon^2 = \overline{r^2}/C) + \overline{r^2}/2 .

    ``gamma = 0`` gives the ridgeless limit (for all points or none).
    """
    from .teacher import teacher_loss, teacher_ridgeless_loss

    if target.beta2.shape != data.eigenvalues.shape:
        raise ValueError(
            f"target must be the TargetPower of a target on these data (M = {data.eigenvalues.size}); "
            f"got beta2 of shape {target.beta2.shape}"
        )
    C = target.W.shape[0]
    eps = float(np.sqrt(target.residual / C))
    if np.all(gamma == 0):
        base = teacher_ridgeless_loss(N, T, data.spectrum, target.beta2, sigma_u=sigma_u, sigma_eps=eps, C=C)
    else:
        base = teacher_loss(N, T, gamma, data.spectrum, target.beta2, sigma_u=sigma_u, sigma_eps=eps, C=C)
    return base + 0.5 * target.residual


def _images(name, value):
    """A non-empty sequence of finite grey (H x W) or colour (H x W x 3) images, as float arrays."""
    expected = "a non-empty sequence of images, each H x W (grey) or H x W x 3 (colour)"
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be {expected}; got {_v._kind(value)}")
    if len(value) == 0:
        raise ValueError(f"{name} must be {expected}; got an empty sequence")
    out = []
    for i, img in enumerate(value):
        a = _v.Array(ndim=(2, 3), low=0.0, what="image")(f"{name}[{i}]", img)
        if a.ndim == 3 and a.shape[2] != 3:
            raise ValueError(f"{name}[{i}] must be {expected}; got shape {a.shape}")
        out.append(a)
    return out


@_v.validated(images=_images, k=_v.Integer(1), stride=_v.Optional(_v.Integer(1)))
def patches(images, k: int, *, stride: int | None = None) -> np.ndarray:
    """All k x k patches (rows of length k*k, grey levels in [0, 1]) of a list of images.

    Colour images (H x W x 3, uint8) are converted to grey by the mean of the channels.
    ``stride`` defaults to k (non-overlapping patches).
    """
    stride = k if stride is None else stride
    small = min(min(a.shape[:2]) for a in images)
    if k > small:
        raise ValueError(f"k must be an integer >= 1 and <= {small} (the smallest image side); got {k}")
    rows = []
    for a in images:
        if a.ndim == 3:
            a = a.mean(axis=2)
        a = a / 255.0
        win = np.lib.stride_tricks.sliding_window_view(a, (k, k))[::stride, ::stride]
        rows.append(win.reshape(-1, k * k))
    return np.concatenate(rows)


@_v.validated(k=_v.Integer(1), stride=_v.Optional(_v.Integer(1)))
def sample_image_patches(k: int, *, stride: int | None = None) -> np.ndarray:
    """k x k grey patches of the two photographs of ``sklearn.datasets.load_sample_images``."""
    from sklearn.datasets import load_sample_images

    return patches(load_sample_images().images, k, stride=stride)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8 x 8 digits of ``sklearn.datasets.load_digits``: (X of shape (1797, 64), labels)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.data, dtype=float), np.asarray(d.target)


def _line(logI, logl):
    A = np.stack([np.ones_like(logI), logI], axis=1)
    coef = np.linalg.lstsq(A, logl, rcond=None)[0]
    return coef, logl - A @ coef


@_v.validated(
    eigenvalues=_v.Array(low=0.0, what="array of eigenvalues"), tol=_v.Real(0.0, scalar=True),
    min_decades=_v.Real(0.0, closed_low=True, scalar=True), grid=_v.Integer(2),
)
def fit_power_law(eigenvalues, *, tol=0.1, min_decades=0.5, grid=40) -> PowerLawFit:
    r"""Fit :math:`\log\lambda_I = \log\lambda_+ - (1+\alpha)\log I` over its widest valid range.

    The range of validity is the widest window :math:`[lo, hi]` (in :math:`\log I`, endpoints on
    a geometric grid of ``grid`` indices) over which the least-squares line stays within ``tol``
    of every :math:`\log\lambda_I` (natural log: 0.1 is 10%). Only positive eigenvalues are used.

    Parameters
    ----------
    eigenvalues : array_like
        Descending eigenvalues (index I = 1..M).
    tol : float
        Largest allowed |residual| in natural log.
    min_decades : float
        Smallest window, in decades of I.
    grid : int
        Number of candidate endpoints.
    """
    lam = eigenvalues[eigenvalues > 0]
    if lam.size < 4:
        raise ValueError(f"eigenvalues must hold at least 4 positive values to fit a power law; got {lam.size}")
    logI = np.log(np.arange(1, lam.size + 1, dtype=float))
    logl = np.log(lam)
    ends = np.unique(np.round(np.geomspace(1, lam.size, grid)).astype(int))
    best = None
    for i in ends:
        for j in ends[ends >= i * 10**min_decades]:
            sl = slice(i - 1, j)
            coef, res = _line(logI[sl], logl[sl])
            width = logI[j - 1] - logI[i - 1]
            if np.max(np.abs(res)) <= tol and (best is None or width > best[0]):
                best = (width, i, j, coef, float(np.max(np.abs(res))))
    if best is None:
        raise ValueError(
            f"no window of at least {min_decades} decades fits a power law within tol={tol}; "
            "raise tol or lower min_decades"
        )
    _, i, j, coef, mres = best
    alpha = -coef[1] - 1.0
    mid = 0.5 * (logI[i - 1] + logI[j - 1])
    halves = []
    for mask in (logI[i - 1:j] <= mid, logI[i - 1:j] >= mid):
        if mask.sum() >= 2:
            halves.append(-_line(logI[i - 1:j][mask], logl[i - 1:j][mask])[0][1] - 1.0)
    spread = max(abs(h - alpha) for h in halves) if halves else 0.0
    return PowerLawFit(alpha=float(alpha), alpha_spread=float(spread), lam_plus=float(np.exp(coef[0])),
                       lo=int(i), hi=int(j), max_log_residual=mres)


@dataclass(frozen=True, eq=False)
class CurveComparison:
    """Theory, simulation on the data and simulation on Gaussian inputs at the same points."""

    N: np.ndarray
    T: np.ndarray
    gamma: np.ndarray
    """The ridge at each point (a multiple of the theory's optimal ridge)."""
    theory: np.ndarray
    """The Gaussian theory on the empirical spectrum (and teacher power, for a target)."""
    data_mean: np.ndarray
    """Simulated mean with inputs (and targets) drawn from the data."""
    data_sem: np.ndarray
    gauss_mean: np.ndarray
    """Simulated mean of the Gaussian model with the same spectrum (and teacher and noise)."""
    gauss_sem: np.ndarray

    @property
    def varied(self) -> np.ndarray:
        """The size that varies along the curve: N if it does, else T."""
        return self.N if np.ptp(self.N) > 0 else self.T

    def z(self, which: str = "data") -> np.ndarray:
        """(mean - theory) / sem of the ``"data"`` or the ``"gauss"`` simulation."""
        return (self._mean(which) - self.theory) / getattr(self, f"{which}_sem")

    def scaled_rel(self, which: str = "data") -> np.ndarray:
        r"""(mean / theory - 1) :math:`\times \min(N, T)`: of order 1 for a finite-size offset."""
        return (self._mean(which) / self.theory - 1) * np.minimum(self.N, self.T)

    def exponents(self, floor=0.0, upto=None) -> tuple[float, float, float]:
        """:func:`excess_exponent` of the data and of the theory over the points with the varied
        size at most ``upto`` (all by default), and the largest ``|data / theory - 1|`` of the curve."""
        x = self.varied
        w = np.ones(x.shape, bool) if upto is None else x <= upto
        return (excess_exponent(x[w], self.data_mean[w], floor), excess_exponent(x[w], self.theory[w], floor),
                float(np.max(np.abs(self.data_mean / self.theory - 1))))

    def _mean(self, which):
        if which not in ("data", "gauss"):
            raise ValueError(f"which must be 'data' or 'gauss'; got {which!r}")
        return getattr(self, f"{which}_mean")


@_v.validated(
    N=_v.Integer(1, array=True), T=_v.Integer(1, array=True), ridge_factor=_v.Real(0.0), data=_DATA,
    y=_v.Optional(_TARGET), trials=_v.Integer(1), seed=_v.SEED, executor=_v.EXECUTOR, broadcast=("N", "T"),
)
def compare_learning_curve(N, T, ridge_factor, data: EmpiricalData, *, y=None, trials, seed, executor=None):
    r"""Random-feature regression on real inputs against the theory and against Gaussian inputs.

    Without ``y`` the teacher is random and isotropic (averaged exactly by the simulator), and
    the theory is :func:`nslmodel.expected_loss` on the empirical spectrum. With a target ``y``
    (one label per row of the data) the theory is :func:`target_loss`, and the Gaussian model
    has the linear teacher of ``y`` and label noise of the remainder's variance. The ridge is
    ``ridge_factor`` (> 0) times the theory's optimal ridge at each (N, T); both simulations use the
    seed ``seed`` (same U, different inputs). ``N`` and ``T`` broadcast together.
    """
    from .optimal import optimal_ridge
    from .loss import expected_loss
    from .simulate import simulate_sweep
    from .teacher import teacher_optimal_ridge

    N, T = (np.asarray(v) for v in np.broadcast_arrays(np.asarray(N), np.asarray(T)))
    spec = data.spectrum
    kw = dict(trials=trials, seed=seed, executor=executor, progress=False)
    if y is None:
        gamma = ridge_factor * np.asarray(optimal_ridge(N, T, spec).gamma)
        theory = expected_loss(N, T, gamma, spec)
        sim = simulate_sweep(N, T, gamma, spec, inputs=data.inputs, **kw)
        gauss = simulate_sweep(N, T, gamma, spec, **kw)
        shift = 0.0
    else:
        _rows("y", y, len(data.inputs))
        tp = target_power(data, y)
        C = tp.W.shape[0]
        eps = float(np.sqrt(tp.residual / C))
        gamma = ridge_factor * np.asarray(teacher_optimal_ridge(N, T, spec, tp.beta2, sigma_eps=eps, C=C).gamma)
        theory = target_loss(N, T, gamma, data, tp)
        yc = _rows("y", y, len(data.inputs))
        sim = simulate_sweep(N, T, gamma, spec, inputs=data.inputs, targets=yc - yc.mean(axis=0), C=C, **kw)
        gauss = simulate_sweep(N, T, gamma, spec, teacher=tp.W, sigma_eps=eps, C=C, **kw)
        shift = 0.5 * tp.residual  # the remainder's test error, not part of the Gaussian model's loss
    return CurveComparison(N=N, T=T, gamma=gamma, theory=np.asarray(theory), data_mean=sim.mean,
                           data_sem=sim.sem, gauss_mean=gauss.mean + shift, gauss_sem=gauss.sem)


@_v.validated(
    x=_v.Array(low=0.0, closed_low=False, what="array of sizes"), loss=_v.Array(what="array of losses"),
    floor=_v.Real(scalar=True),
)
def excess_exponent(x, loss, floor=0.0) -> float:
    r"""Least-squares slope p of :math:`\log(L - L_\infty) = a - p\log x` over the points above the floor."""
    if x.shape != loss.shape:
        raise ValueError(f"x and loss must have the same shape; got x {x.shape}, loss {loss.shape}")
    excess = loss - floor
    keep = excess > 0
    if keep.sum() < 2:
        raise ValueError(f"loss must have at least 2 points above floor = {floor!r}; got {int(keep.sum())}")
    if np.ptp(x[keep]) == 0:
        raise ValueError(f"x must take at least 2 distinct values above the floor; got x = {x[keep][0].item()!r} at every point")
    return float(-np.polyfit(np.log(x[keep]), np.log(excess[keep]), 1)[0])
