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

from ._traces import log_mu_per_rho
from .loss import check_scales
from .solver import _shape_out, check_common, ridgeless_root

__all__ = ["ridgeless_loss", "ridgeless_terms"]


def ridgeless_terms(N, T, spec, *, sigma_u, sigma_w, sigma_eps, C):
    """Signal and noise parts of the ridgeless loss on validated flat arrays."""
    table, M = spec.table, spec.M
    R = table.rank
    n = np.minimum(N, T)
    signal = np.zeros(N.shape)
    noise = np.zeros(N.shape)
    pref_w = C * sigma_w**2 / (2.0 * sigma_u**2)
    pref_e = 0.5 * C * sigma_eps**2
    below = n < R
    if np.any(below):
        Nb, Tb = N[below], T[below]
        u = ridgeless_root(n[below], table)
        s = table.sums(u)
        rho = np.exp(u - log_mu_per_rho(M, sigma_u))
        gap = np.abs(Tb - Nb)
        with np.errstate(divide="ignore"):
            signal[below] = np.where(gap > 0, pref_w * rho * Nb * Tb / gap, np.inf)
            # T - D2 = (T - D1) + (D1 - D2) = D1 - D2 at rho_* when T = n.
            e = np.where(Nb < Tb, Nb / (Tb - Nb), Tb / (Nb - Tb) + s.D2 / s.D1_minus_D2)
        noise[below] = np.where(gap > 0, pref_e * e, np.inf) if sigma_eps > 0 else 0.0
    full = ~below
    if np.any(full):
        Nf, Tf = N[full], T[full]
        a = np.exp(log_mu_per_rho(M, sigma_u) + table.log_inv_trace)
        signal[full] = np.where((Nf == R) & (Tf == R), pref_w * R * R / (3.0 * a), 0.0)
        if sigma_eps > 0:
            with np.errstate(divide="ignore"):
                noise[full] = np.where(Tf > R, pref_e * R / (Tf - R), np.inf)
    if sigma_w == 0:
        signal[:] = 0.0
    return signal, noise


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
    N, T, spec, sigma_u = check_common(N, T, spectrum, sigma_u)
    sigma_w, sigma_eps, C = check_scales(sigma_w, sigma_eps, C)
    N, T = np.broadcast_arrays(N, T)
    shape = N.shape
    signal, noise = ridgeless_terms(N.ravel(), T.ravel(), spec, sigma_u=sigma_u, sigma_w=sigma_w,
                                    sigma_eps=sigma_eps, C=C)
    return _shape_out(signal + noise, shape)
