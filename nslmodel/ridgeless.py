r"""The ridgeless limit :math:`\gamma \to 0` (book/solution.md; paper Eqs. 105-126).

For :math:`n = \min(N, T)` below the rank of the spectrum, :math:`\rho \to \rho_*` with
:math:`D_1(\rho_*) = n`, and for :math:`N \ne T`

.. math::
    \langle L \rangle_0 = \frac{C\sigma_w^2}{2\sigma_u^2}\,\frac{\rho_* N T}{|T - N|}, \qquad
    \langle L_\epsilon \rangle_0 = \frac{C\sigma_\epsilon^2}{2} \times
    \begin{cases} N / (T - N) & N < T \\
                  T / (N - T) + D_2 / (T - D_2) & N > T, \end{cases}

which with :math:`\rho_* = \sigma_u^2 \Delta / M` is the Maloney-Roberts-Sully result
:math:`C\sigma_w^2 N \Delta / (2M(1 - N/T))`, :math:`\sum_I \lambda_I/(\lambda_I + \Delta) = N`.
Both diverge at N = T (double descent).

When :math:`n \ge R` (R the number of positive eigenvalues, M for a power law) the features or
samples span the whole latent space and :math:`\rho \to 0`. Taking the limit of book/solution.md
with :math:`D_1 \to R`, :math:`D_1 - D_2 \simeq R - D_1 \simeq \rho a`,
:math:`a = \sum_I 1/s_I`, gives: the signal loss vanishes, except at :math:`N = T = R`, where it
tends to :math:`\frac{C\sigma_w^2}{2\sigma_u^2} R^2 / (3a)`; the noise loss tends to
:math:`\frac{C\sigma_\epsilon^2}{2} R / (T - R)` for :math:`T > R` and diverges at :math:`T = R`.
"""

from __future__ import annotations

import numpy as np

from . import _validate
from ._traces import log_mu_per_rho
from .loss import TINY, check_range, log_prefactor, scales
from .solver import ridgeless_root

__all__ = ["ridgeless_loss", "ridgeless_terms"]


def ridgeless_terms(N, T, spec, *, sigma_u, sigma_w, sigma_eps, C):
    """Signal and noise parts of the ridgeless loss on validated flat arrays."""
    table, M = spec.table, spec.M
    R = table.rank
    n = np.minimum(N, T)
    signal = np.zeros(N.shape)
    noise = np.zeros(N.shape)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        pref_w = np.float64(C) * np.float64(sigma_w) ** 2 / (2.0 * np.float64(sigma_u) ** 2)
        pref_e = 0.5 * np.float64(C) * np.float64(sigma_eps) ** 2
    # Beyond float64 (sigma_u = 1e-170, say) the prefactor times rho is formed from logs:
    # sigma_u cancels between C sigma_w^2 / (2 sigma_u^2) and rho = sigma_u^2 mu / M.
    plain = bool(np.isfinite(pref_w) and pref_w >= TINY)
    log_w = log_prefactor(C, sigma_w, sigma_u) if sigma_w > 0 else -np.inf
    below = n < R
    if np.any(below):
        Nb, Tb = N[below], T[below]
        u = ridgeless_root(n[below], table)
        s = table.sums(u)
        with np.errstate(over="ignore", under="ignore"):
            rho = np.exp(u - log_mu_per_rho(M, sigma_u))
            pref_rho = pref_w * rho if plain else np.exp(log_w + u - log_mu_per_rho(M, sigma_u))
        # Both parts diverge on the interpolation threshold N = T; each formula is evaluated
        # only off it (there it would be x / 0, or 0 / 0 when sigma_w = 0).
        lt, gt = Nb < Tb, Nb > Tb
        off = lt | gt
        sig = np.full(Nb.shape, np.inf)
        with np.errstate(over="ignore"):
            sig[off] = pref_rho[off] * Nb[off] * Tb[off] / np.abs(Tb[off] - Nb[off])
        signal[below] = sig
        if sigma_eps > 0:
            e = np.full(Nb.shape, np.inf)
            e[lt] = Nb[lt] / (Tb[lt] - Nb[lt])
            # T - D2 = (T - D1) + (D1 - D2) = D1 - D2 at rho_* when T = n.
            e[gt] = Tb[gt] / (Nb[gt] - Tb[gt]) + s.D2[gt] / s.D1_minus_D2[gt]
            noise[below] = pref_e * e
    full = ~below
    if np.any(full):
        Nf, Tf = N[full], T[full]
        log_a = log_mu_per_rho(M, sigma_u) + table.log_inv_trace
        with np.errstate(over="ignore", under="ignore"):
            a = np.exp(log_a)
            if plain and np.isfinite(a) and a >= TINY:
                corner = pref_w * R * R / (3.0 * a)
            else:
                corner = np.exp(log_w - log_a) * R * R / 3.0
        signal[full] = np.where((Nf == R) & (Tf == R), corner, 0.0)
        if sigma_eps > 0:
            e = np.full(Tf.shape, np.inf)  # diverges at T = R
            past = Tf > R
            e[past] = pref_e * R / (Tf[past] - R)
            noise[full] = e
    if sigma_w == 0:
        signal[:] = 0.0
    return signal, noise


@_validate.validated(
    broadcast=("N", "T"),
    teacher=_validate.Optional(_validate.TEACHER_POWER), **_validate.MODEL,
)
def ridgeless_loss(N, T, spectrum, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1, teacher=None):
    r"""Expected test loss in the ridgeless limit :math:`\gamma \to 0^+` (paper Eqs. 105-126).

    See the module docstring for the formulas, including :math:`\min(N, T) \ge R`.

    Parameters
    ----------
    N, T : float or array_like
        Positive reals, broadcast together.
    spectrum : PowerLaw, Spectrum or array_like
    sigma_u, sigma_w, sigma_eps, C, teacher
        As in :func:`nslmodel.expected_loss`; with a ``teacher`` see
        :func:`nslmodel.teacher.teacher_ridgeless_loss`.

    Returns
    -------
    float or ndarray
        Signal plus noise loss; ``inf`` on the interpolation threshold N = T (below the rank R
        of the spectrum, M for a power law), and with label noise also at T = R when N >= R.
    """
    if teacher is not None:
        from .teacher import no_sigma_w, teacher_ridgeless_loss

        no_sigma_w(sigma_w)
        return teacher_ridgeless_loss(N, T, spectrum, teacher, sigma_u=sigma_u, sigma_eps=sigma_eps, C=C)
    N, T = np.broadcast_arrays(N, T)
    shape = N.shape
    Nf, Tf = N.ravel(), T.ravel()
    signal, noise = ridgeless_terms(Nf, Tf, spectrum, sigma_u=sigma_u, sigma_w=sigma_w,
                                    sigma_eps=sigma_eps, C=C)
    R = spectrum.table.rank
    # Exact zeros: the signal at full rank (except N = T = R) or without a teacher, the noise
    # without label noise.
    signal_zero = (sigma_w == 0) | ((np.minimum(Nf, Tf) >= R) & ~((Nf == R) & (Tf == R)))
    total = check_range(signal + noise, scales(C, sigma_u, sigma_w, sigma_eps),
                        lambda i: f"N={Nf[i]:g}, T={Tf[i]:g}",
                        divergent=((Nf == Tf) & (Nf < R)) | ((Tf == R) & (Nf >= R) & (sigma_eps > 0)),
                        exact_zero=signal_zero & (sigma_eps == 0))
    return _validate.shape_out(total, shape)
