r"""Independent 40-digit reference for the given-teacher loss (theory section 8).

Written from the specification alone, without importing ``nslmodel``: the self-consistent
:math:`\rho` is found by bisection in :math:`\log\rho` of :math:`\rho(N - D_1)(T - D_1) = \gamma`
on the branch :math:`D_1 < \min(N, T)`, and the loss is evaluated in the form the specification
states it, with :math:`\chi` and :math:`\Upsilon` and the subtraction :math:`1 - \Upsilon` done
literally. At :data:`DPS` digits that subtraction loses at most ~15 digits at the points tested,
which leaves more than 20 correct digits for comparisons at 1e-12.

The ridgeless limit is evaluated as the same formula at :math:`\rho = \rho_*(1 + \epsilon)` with
:math:`D_1(\rho_*) = n` and :math:`\epsilon =` :data:`RIDGELESS_EPS`: the loss is smooth in
:math:`\rho` there, so the result differs from the limit by :math:`O(\epsilon)`.
"""

from __future__ import annotations

from mpmath import mp, mpf

#: Working precision (decimal digits).
DPS = 40
#: Bisection steps: the brackets span at most 1000 e-folds; 170 halvings reach 7e-49 in log rho,
#: beyond the 40 digits carried.
BISECT_STEPS = 170
#: Relative offset from rho_* that stands in for the limit gamma -> 0.
RIDGELESS_EPS = mpf("1e-30")


def _sums(rho, s):
    D1 = mp.fsum(si / (si + rho) for si in s)
    D2 = mp.fsum(si**2 / (si + rho) ** 2 for si in s)
    return D1, D2


def _bisect(f, lo, hi):
    """Root of f on [lo, hi] with f(lo) < 0 < f(hi) (f increasing)."""
    for _ in range(BISECT_STEPS):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _rho_star(n, s):
    # D1 decreases in rho from len(s) to 0: D1(rho) - n changes sign on a wide bracket.
    return mp.exp(_bisect(lambda u: n - _sums(mp.exp(u), s)[0], mp.mpf(-300), mp.mpf(300)))


def _formula(N, T, rho, s, beta2, C, sigma_eps):
    D1, D2 = _sums(rho, s)
    chi = mp.fsum(si / (si + rho) ** 2 for si in s) / (N - D2)
    ups = (N / T) * ((D1 / N) ** 2 + ((N - D1) / N) ** 2 * D2 / (N - D2))
    b0 = mp.fsum(b / (si + rho) ** 2 for si, b in zip(s, beta2))
    b1 = mp.fsum(si * b / (si + rho) ** 2 for si, b in zip(s, beta2))
    signal = rho**2 / (2 * (1 - ups)) * (b0 + chi * b1)
    noise = mpf(C) * mpf(sigma_eps) ** 2 / 2 * ups / (1 - ups)
    return signal, noise


def teacher_loss(N, T, gamma, eigenvalues, beta2, *, sigma_u=1.0, sigma_eps=0.0, C=1):
    """``(signal, noise)`` of theory section 8 at 40 digits (inputs taken as exact binary floats)."""
    with mp.workdps(DPS):
        N, T, gamma = mpf(N), mpf(T), mpf(gamma)
        M = len(eigenvalues)
        s = [mpf(sigma_u) ** 2 * mpf(x) / M for x in eigenvalues if x > 0]
        b = [mpf(v) for x, v in zip(eigenvalues, beta2) if x > 0]
        n = min(N, T)
        lo = mp.log(_rho_star(n, s)) if n < len(s) else mp.mpf(-700)

        def g(u):
            rho = mp.exp(u)
            D1 = _sums(rho, s)[0]
            return mp.log(rho) + mp.log(N - D1) + mp.log(T - D1) - mp.log(gamma)

        rho = mp.exp(_bisect(lambda u: g(u) if u > lo else mpf(-1), lo, mp.mpf(300)))
        return _formula(N, T, rho, s, b, C, sigma_eps)


def teacher_ridgeless(N, T, eigenvalues, beta2, *, sigma_u=1.0):
    """Signal loss as gamma -> 0 (n = min(N, T) below the rank, N != T), at 40 digits."""
    with mp.workdps(DPS):
        N, T = mpf(N), mpf(T)
        M = len(eigenvalues)
        s = [mpf(sigma_u) ** 2 * mpf(x) / M for x in eigenvalues if x > 0]
        b = [mpf(v) for x, v in zip(eigenvalues, beta2) if x > 0]
        rho = _rho_star(min(N, T), s) * (1 + RIDGELESS_EPS)
        return _formula(N, T, rho, s, b, 1, 0)[0]
