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


#: Extra digits carried by :func:`teacher_optimal_stationary` (the loss is evaluated at
#: DPS + STATIONARY_EXTRA digits; see there for the error budget).
STATIONARY_EXTRA = 10
#: Scan points of :func:`teacher_optimal_stationary` over its branch variable x.
STATIONARY_SCAN = 41
#: Steps of the central differences in x: for dL/dx, truncation ~ h^2 = 1e-30 and rounding
#: ~ 10^-(DPS + STATIONARY_EXTRA) / h = 1e-35 relative to L; for the second difference of
#: log L, truncation ~ h2^2 = 1e-20 and rounding ~ 1e-50 / h2^2 = 1e-30.
STATIONARY_STEP = mpf("1e-15")
CURVATURE_STEP = mpf("1e-10")
#: Stopping tolerance of the root in x, relative (the Anderson-Bjorck step): 1e-36, far below
#: the 1e-10 resolved by the tests and above the ~1e-27 to which the rounding of dL/dx (1e-35
#: relative) divided by the flattest curvature used (~1e-8) fixes the root.
STATIONARY_TOL = mpf("1e-36")


def teacher_optimal_stationary(N, T, eigenvalues, beta2, *, sigma_u=1.0, sigma_eps=0.0, C=1):
    r"""The interior minimum of the given-teacher loss over gamma, from :math:`dL/dx = 0`.

    Written from theory sections 5 and 8 alone: gamma increases along the physical branch, so
    the optimal ridge is the stationary point of the loss along it. The branch variable is
    :math:`x = \log(\rho - \rho_*)` (:math:`D_1(\rho_*) = \min(N, T)`), in which
    :math:`\gamma \propto e^x` near the start of the branch, so a minimum squeezed against it
    (N << T) is resolved. The loss is the literal formula of section 8 (:func:`_formula`); a
    scan of its values brackets the basin, and ``mpmath.findroot`` (Anderson-Bjorck, bracketed)
    solves the central difference of L for zero, independent of any closed form of the slope.
    Where the loss is flat the derivative still fixes the point: a relative error
    :math:`\epsilon` of dL/dx / L moves x by :math:`\epsilon` / curvature, 1e-30 / 1e-8 here.

    Returns ``dict(gamma, loss, rho, D1, curvature)`` as mpf, ``curvature`` being
    :math:`d^2\log L/d(\log\gamma)^2` at the minimum. Raises if the minimum of the scan is at
    either end (the infimum is then a limit, not an interior point).
    """
    with mp.workdps(DPS + STATIONARY_EXTRA):
        N, T = mpf(N), mpf(T)
        M = len(eigenvalues)
        s = [mpf(sigma_u) ** 2 * mpf(x) / M for x in eigenvalues if x > 0]
        b = [mpf(v) for x, v in zip(eigenvalues, beta2) if x > 0]
        n = min(N, T)
        rho_lo = _rho_star(n, s) if n < len(s) else mpf(0)

        def at(x):
            rho = rho_lo + mp.exp(x)
            D1 = _sums(rho, s)[0]
            sig, noi = _formula(N, T, rho, s, b, C, sigma_eps)
            return rho, D1, sig + noi

        def loss(x):
            return at(x)[2]

        start = mp.log(rho_lo) if rho_lo > 0 else mp.log(min(s))
        lo, hi = start - 25, mp.log(2 * mp.fsum(s) / n) + 15
        xs = [lo + (hi - lo) * k / (STATIONARY_SCAN - 1) for k in range(STATIONARY_SCAN)]
        vals = [loss(x) for x in xs]
        k = min(range(STATIONARY_SCAN), key=lambda i: vals[i])
        if k in (0, STATIONARY_SCAN - 1):
            raise RuntimeError(f"teacher_optimal_stationary: minimum at the scan boundary (index {k})")
        h, scale = STATIONARY_STEP, vals[k]
        x = mp.findroot(lambda y: (loss(y + h) - loss(y - h)) / (2 * h * scale), (xs[k - 1], xs[k + 1]),
                        solver="anderson", tol=STATIONARY_TOL, maxsteps=200)
        rho, D1, L = at(x)
        gamma = rho * (N - D1) * (T - D1)

        def log_gamma(y):
            r, d1, _ = at(y)
            return mp.log(r * (N - d1) * (T - d1))

        h2 = CURVATURE_STEP
        d2 = (mp.log(loss(x + h2)) - 2 * mp.log(L) + mp.log(loss(x - h2))) / h2**2
        dlg = (log_gamma(x + h2) - log_gamma(x - h2)) / (2 * h2)
        return dict(gamma=gamma, loss=L, rho=rho, D1=D1, curvature=d2 / dlg**2)
