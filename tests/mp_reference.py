r"""Independent high-precision reference for the closed-form theory.

This module re-derives the expected test loss of the solvable random-feature model in
multiple-precision arithmetic (mpmath), without importing anything from ``nslmodel``. The
tests compare the float64 package against it.

What is implemented (sections of book/solution.md; equation numbers of arXiv:2405.19398):

* The expected test loss (Eqs. 93, 99, 104 and the label-noise term of App. A, Eq. 184). With the rescaled
  spectrum :math:`s_I = \sigma_u^2 \lambda_I / M`,

  .. math::

      D_1(\rho) = \sum_I \frac{s_I}{s_I + \rho}, \qquad
      D_2(\rho) = \sum_I \frac{s_I^2}{(s_I + \rho)^2},

  :math:`\rho` is the root of :math:`\rho (N - D_1)(T - D_1) = \gamma` with
  :math:`D_1 < \min(N, T)`, and

  .. math::

      \langle L \rangle = \frac{C \sigma_w^2}{2 \sigma_u^2}
          \frac{\rho N T (D_1 - D_2)}{\mathcal D}, \qquad
      \langle L_\varepsilon \rangle = \frac{C \sigma_\varepsilon^2}{2}
          \frac{(N - D_1) D_2 + D_1 (D_1 - D_2)}{\mathcal D},

  with :math:`\mathcal D = (N - D_1)(T - D_1) + (N + T - 2 D_1)(D_1 - D_2)`.

* The ridgeless limit (Eqs. 105-126), both label-noise branches.
* The optimal ridge (Eq. 128), by a scan plus golden-section search over the
  parametrisation of the loss by :math:`\rho` (no root finding needed).

Numerical strategy
------------------
All arithmetic runs at :data:`DPS` decimal digits. Cancellation is avoided analytically
rather than by brute precision alone:

* :math:`D_1 - D_2 = \sum_I s_I \rho / (s_I + \rho)^2` is summed directly.
* When :math:`n = \min(N, T)` is below the number of non-zero eigenvalues, the branch starts at
  :math:`\rho_{lo}` with :math:`D_1(\rho_{lo}) = n` (the ridgeless :math:`\rho^*`). We write
  :math:`\rho = \rho_{lo} + \delta` and use the exact identity

  .. math::

      n - D_1(\rho) = [n - D_1(\rho_{lo})]
          + \delta \sum_I \frac{s_I}{(s_I + \rho_{lo})(s_I + \rho)},

  whose first bracket is the (tiny) residual of the :math:`\rho_{lo}` solve. The root is then
  found in :math:`v = \log \delta`, in which the equation is close to linear at both ends
  (the left side behaves like :math:`\delta` for small :math:`\delta` and like
  :math:`\delta N T` for large :math:`\delta`). This keeps :math:`\gamma = 10^{-30}` at
  :math:`N \approx T` well conditioned.
* Otherwise (:math:`n \ge` the number of non-zero eigenvalues) the branch is all
  :math:`\rho > 0`, :math:`n - D_1 = (n - M_+) + \sum_{s_I > 0} \rho / (s_I + \rho)` has no
  cancellation, and the root is found in :math:`u = \log\rho`.

Roots are found by a Newton iteration safeguarded by bisection on a bracket whose end points are
proved valid (see :func:`_Problem._bracket`) and then checked numerically.

Cost is O(M) multiple-precision operations per evaluation; keep M at a few thousand or less.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
from mpmath import mp, mpf

__all__ = [
    "DPS",
    "power_law_eigenvalues",
    "RefState",
    "solve",
    "loss_terms",
    "solve_with_terms",
    "loss",
    "ridgeless_terms",
    "ridgeless",
    "optimal",
    "RefOptimum",
    "curve_points",
    "branch_start",
]

#: Working precision in decimal digits. Near N = T at gamma = 1e-30 the quantity N - D1 is about
#: 1e-12 of N, and for N = 100, T = 101 about 1e-23; 60 digits leave more than 30 digits of
#: margin after those cancellations, far beyond the 1e-9 comparisons made with this module.
DPS = 60

#: Newton/bisection stopping tolerance on the solve variable (log rho or log delta). The
#: quantities of interest have condition number O(1) with respect to that variable, so this
#: gives roughly DPS - 10 correct digits.
_ROOT_TOL_DIGITS = DPS - 10

#: Newton iterations before falling back to plain bisection. The solve variables make the
#: equations nearly linear (see the module docstring), so Newton converges in well under 20.
_NEWTON_ITER = 60

#: Iteration cap for the safeguarded Newton iteration. Pure bisection from a bracket of width
#: 400 (in log units) to 1e-50 takes about 180 halvings, so 600 is never reached unless broken.
_MAX_ITER = 600


def power_law_eigenvalues(M: int, alpha, lam_plus=1.0) -> list:
    r"""Return :math:`\lambda_I = \lambda_+ I^{-(1+\alpha)}`, I = 1..M, as mpf (paper Eq. 6).

    ``alpha`` and ``lam_plus`` are taken as the exact binary values of the floats given.
    """
    with mp.workdps(DPS):
        a = mpf(alpha)
        lp = mpf(lam_plus)
        return [lp * mpf(i) ** (-(1 + a)) for i in range(1, int(M) + 1)]


@dataclass(frozen=True)
class RefState:
    """Quantities at one point of the solution branch (all mpf)."""

    rho: object
    """Effective latent-space ridge rho."""
    gamma: object
    """gamma = rho (N - D1)(T - D1)."""
    D1: object
    D2: object
    D1_minus_D2: object
    N_minus_D1: object
    T_minus_D1: object
    dlog_gamma_dx: object
    """Derivative of log gamma with respect to the internal solve variable x."""


def _safeguarded_newton(fun, a, b, tol):
    """Root of an increasing ``fun`` on [a, b] with fun(a) < 0 < fun(b).

    ``fun(x)`` returns ``(value, derivative)``. A Newton step is taken when it lands inside the
    current bracket, otherwise the bracket is bisected; after ``_NEWTON_ITER`` iterations
    without convergence only bisection is used, which cannot fail. Converged when a step is
    below ``tol * (1 + |x|)``.
    """
    x = (a + b) / 2
    for it in range(_MAX_ITER):
        g, dg = fun(x)
        if g == 0:
            return x
        if g < 0:
            a = x
        else:
            b = x
        x_new = None
        if it < _NEWTON_ITER and dg > 0:
            step = g / dg
            if abs(step) <= tol * (1 + abs(x)):
                return x - step  # converged (the step may be below the working precision)
            x_new = x - step
            if not (a < x_new < b):
                x_new = None
        if x_new is None:
            x_new = (a + b) / 2
        if abs(x_new - x) <= tol * (1 + abs(x)):
            return x_new
        x = x_new
    raise RuntimeError("mp_reference: safeguarded Newton did not converge")


class _Problem:
    """One (N, T, spectrum, sigma_u) problem; parametrises the solution branch."""

    def __init__(self, N, T, eigenvalues, sigma_u):
        self.N = mpf(N)
        self.T = mpf(T)
        su2 = mpf(sigma_u) ** 2
        self.su2 = su2
        lam = [mpf(x) for x in eigenvalues]
        if not lam:
            raise ValueError("empty spectrum")
        if any(x < 0 for x in lam):
            raise ValueError("negative eigenvalue")
        self.M = len(lam)
        self.s = [su2 * x / self.M for x in lam if x > 0]
        self.M_plus = len(self.s)
        self.trace = mpmath.fsum(self.s)
        self.n = min(self.N, self.T)
        self.m = max(self.N, self.T)
        self.tol = mpf(10) ** (-_ROOT_TOL_DIGITS)
        self.on_interior_branch = self.n < self.M_plus
        if self.on_interior_branch:
            self._solve_rho_lo()

    # -- the start of the branch: D1(rho_lo) = n ------------------------------------------
    def _solve_rho_lo(self):
        n, s = self.n, self.s

        def H(u):  # log n - log D1(e^u), increasing in u; H' = (D1 - D2) / D1
            rho = mpmath.exp(u)
            d1 = e = mpf(0)
            for si in s:
                q = si + rho
                t = si / q
                d1 += t
                e += t * rho / q
            return mpmath.log(n) - mpmath.log(d1), e / d1

        # D1 >= M_+ / (1 + rho / s_min) > n for rho = s_min (M_+ - n) / (2 n);
        # D1 <= trace / rho = n / 2 < n for rho = 2 trace / n.
        ua = mpmath.log(min(s) * (self.M_plus - n) / (2 * n))
        ub = mpmath.log(2 * self.trace / n)
        assert H(ua)[0] < 0 < H(ub)[0]
        u = _safeguarded_newton(H, ua, ub, self.tol)
        self.rho_lo = mpmath.exp(u)
        self.w = [si / (si + self.rho_lo) for si in s]
        self.r_lo = n - mpmath.fsum(self.w)  # residual, ~1e-50 relative, either sign

    # -- state along the branch as a function of the internal variable x --------------------
    def state(self, x) -> RefState:
        N, T, n, m, s = self.N, self.T, self.n, self.m, self.s
        if self.on_interior_branch:
            delta = mpmath.exp(x)
            rho = self.rho_lo + delta
            d1 = e = acc = mpf(0)
            for si, wi in zip(s, self.w):
                q = si + rho
                t = si / q
                d1 += t
                e += t * rho / q
                acc += wi / q
            n_minus = self.r_lo + delta * acc
            drho_dx = delta
        else:
            rho = mpmath.exp(x)
            d1 = e = acc = mpf(0)
            for si in s:
                q = si + rho
                t = si / q
                d1 += t
                e += t * rho / q
                acc += rho / q
            n_minus = (n - self.M_plus) + acc
            drho_dx = rho
        m_minus = (m - n) + n_minus
        if N <= T:
            nm, tm = n_minus, m_minus
        else:
            nm, tm = m_minus, n_minus
        gamma = rho * nm * tm
        if n_minus > 0:
            dlog = drho_dx / rho * (1 + e * (1 / n_minus + 1 / m_minus))
        else:
            dlog = mpmath.inf
        return RefState(
            rho=rho,
            gamma=gamma,
            D1=d1,
            D2=d1 - e,
            D1_minus_D2=e,
            N_minus_D1=nm,
            T_minus_D1=tm,
            dlog_gamma_dx=dlog,
        )

    def _g(self, x, log_gamma):
        st = self.state(x)
        if st.N_minus_D1 <= 0 or st.T_minus_D1 <= 0:
            return -mpmath.inf, mpf(1)
        return mpmath.log(st.gamma) - log_gamma, st.dlog_gamma_dx

    def _bracket(self, gamma):
        """Interval [xa, xb] of the solve variable with g(xa) < 0 < g(xb).

        Upper end: rho_b = max(2 trace / n, 4 gamma / (N T)) has D1 <= trace / rho_b <= n / 2,
        so (N - D1)(T - D1) >= N T / 4 and rho_b (N - D1)(T - D1) >= gamma; since
        rho_lo + rho_b > rho_b lies further along the increasing branch, x = log rho_b works
        in either parametrisation.
        Lower end: on the interior branch, convexity of D1 gives
        n - D1(rho_lo + delta) <= r_lo + a delta with a = sum s / (s + rho_lo)^2, so
        delta = min(rho_lo, gamma / (4 rho_lo a m)) is below the root up to the tiny residual
        r_lo; otherwise rho (N - D1)(T - D1) < rho N T, so rho = gamma / (e N T) is below.
        Both ends are verified and widened if needed.
        """
        N, T, n = self.N, self.T, self.n
        rho_b = max(2 * self.trace / n, 4 * gamma / (N * T)) if self.M_plus else 4 * gamma / (N * T)
        xb = mpmath.log(rho_b)
        if self.on_interior_branch:
            a = mpmath.fsum(si / (si + self.rho_lo) ** 2 for si in self.s)
            delta_a = min(self.rho_lo, gamma / (4 * self.rho_lo * a * self.m))
            xa = mpmath.log(delta_a)
        else:
            xa = mpmath.log(gamma / (N * T)) - 1
        log_gamma = mpmath.log(gamma)
        for _ in range(50):
            if self._g(xa, log_gamma)[0] < 0:
                break
            xa -= 10
        else:  # pragma: no cover - would mean the bracket proof is wrong
            raise RuntimeError("mp_reference: could not bracket the root from below")
        for _ in range(50):
            if self._g(xb, log_gamma)[0] > 0:
                break
            xb += 10
        else:  # pragma: no cover
            raise RuntimeError("mp_reference: could not bracket the root from above")
        return xa, xb

    def solve(self, gamma) -> RefState:
        gamma = mpf(gamma)
        xa, xb = self._bracket(gamma)
        log_gamma = mpmath.log(gamma)
        x = _safeguarded_newton(lambda y: self._g(y, log_gamma), xa, xb, self.tol)
        return self.state(x)

    # -- losses -------------------------------------------------------------------------------
    def terms(self, st: RefState, sigma_w, sigma_eps, C):
        N, T = self.N, self.T
        nm, tm, e, d1, d2 = st.N_minus_D1, st.T_minus_D1, st.D1_minus_D2, st.D1, st.D2
        denom = nm * tm + (nm + tm) * e
        signal = mpf(C) * mpf(sigma_w) ** 2 / (2 * self.su2) * st.rho * N * T * e / denom
        noise = mpf(C) * mpf(sigma_eps) ** 2 / 2 * (nm * d2 + d1 * e) / denom
        return signal, noise


def _run(fn):
    with mp.workdps(DPS):
        return fn()


def solve(N, T, gamma, eigenvalues, *, sigma_u=1.0) -> RefState:
    """The solution branch point with rho (N - D1)(T - D1) = gamma (paper Eq. 99)."""
    return _run(lambda: _Problem(N, T, eigenvalues, sigma_u).solve(gamma))


def loss_terms(N, T, gamma, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1):
    """``(signal, noise)`` expected losses as mpf (paper Eqs. 93, 99, 104 and 184)."""

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)
        return p.terms(p.solve(gamma), sigma_w, sigma_eps, C)

    return _run(fn)


def solve_with_terms(N, T, gamma, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1):
    """``(RefState, signal, noise)`` from one solve: :func:`solve` and :func:`loss_terms` together."""

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)
        st = p.solve(gamma)
        return (st, *p.terms(st, sigma_w, sigma_eps, C))

    return _run(fn)


def loss(N, T, gamma, eigenvalues, **kw):
    """Total expected loss <L> + <L_eps> as mpf."""
    sig, noi = loss_terms(N, T, gamma, eigenvalues, **kw)
    with mp.workdps(DPS):
        return sig + noi


def ridgeless_terms(N, T, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1):
    r"""``(signal, noise)`` in the ridgeless limit (paper Eqs. 105-126).

    For min(N, T) below the number M_+ of non-zero eigenvalues, with :math:`D_1(\rho^*) = n`:
    signal :math:`= C\sigma_w^2/(2\sigma_u^2)\,\rho^* N T / |T - N|`; noise
    :math:`= C\sigma_\varepsilon^2/2 \cdot N/(T - N)` for N < T and
    :math:`C\sigma_\varepsilon^2/2\,[T/(N - T) + D_2/(T - D_2)]` for N > T. Both are inf at N = T.

    For min(N, T) >= M_+ the signal is 0, except at N = T = M_+ where neither "0" nor "inf"
    applies: there N - D1, T - D1 and D1 - D2 all vanish like :math:`\rho S_1` with
    :math:`S_1 = \sum_I 1/s_I`, and the limit of the gamma > 0 formula is the finite
    :math:`C\sigma_w^2/(2\sigma_u^2) \cdot M_+^2/(3 S_1)` (noise: inf). For the noise at
    min(N, T) >= M_+ this function returns the rho -> 0 limit of the gamma > 0 formula that
    follows from D1, D2 -> M_+ and D1 - D2 -> 0, namely
    :math:`C\sigma_\varepsilon^2/2 \cdot M_+/(T - M_+)` (inf at T = M_+); the tests confirm it
    against :func:`loss` at gamma = 1e-30.
    """

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)
        N_, T_ = p.N, p.T
        cw = mpf(C) * mpf(sigma_w) ** 2 / (2 * p.su2)
        ce = mpf(C) * mpf(sigma_eps) ** 2 / 2
        if not p.on_interior_branch:
            if N_ == T_ == p.M_plus:
                # N - D1 = T - D1 ~ rho S1 and D1 - D2 ~ rho S1 with S1 = sum 1/s, so
                # D ~ 3 rho^2 S1^2: the signal tends to M_+^2 / (3 S1) (times the prefactor)
                # while the noise diverges like 1/rho.
                s1 = mpmath.fsum(1 / si for si in p.s)
                signal = cw * N_ * T_ / (3 * s1)
                return signal, (mpmath.inf if sigma_eps > 0 else mpf(0))
            noise = ce * p.M_plus / (T_ - p.M_plus) if T_ > p.M_plus else mpmath.inf
            if sigma_eps == 0:
                noise = mpf(0)
            return mpf(0), noise
        if N_ == T_:
            return mpmath.inf, (mpmath.inf if sigma_eps > 0 else mpf(0))
        rho = p.rho_lo
        signal = cw * rho * N_ * T_ / abs(T_ - N_)
        if N_ < T_:
            noise = ce * N_ / (T_ - N_)
        else:
            d2 = mpmath.fsum((si / (si + rho)) ** 2 for si in p.s)
            noise = ce * (T_ / (N_ - T_) + d2 / (T_ - d2))
        return signal, noise

    return _run(fn)


def ridgeless(N, T, eigenvalues, **kw):
    """Total ridgeless loss as mpf."""
    sig, noi = ridgeless_terms(N, T, eigenvalues, **kw)
    with mp.workdps(DPS):
        return sig + noi


def curve_points(N, T, rhos, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1):
    """At given rho values on the branch (curves drawn parametrically): a list of ``(gamma, total loss, state)``.

    Each rho is taken as the exact value of the float given; it must lie above the branch start.
    """

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)
        out = []
        for rho in rhos:
            r = mpf(rho)
            if p.on_interior_branch:
                if not r > p.rho_lo:
                    raise ValueError("rho is not on the branch D1 < min(N, T)")
                x = mpmath.log(r - p.rho_lo)
            else:
                x = mpmath.log(r)
            st = p.state(x)
            sig, noi = p.terms(st, sigma_w, sigma_eps, C)
            out.append((st.gamma, sig + noi, st))
        return out

    return _run(fn)


def branch_start(N, T, eigenvalues, *, sigma_u=1.0):
    """rho* with D1(rho*) = min(N, T), or 0 when min(N, T) >= the number of non-zero modes."""
    return _run(lambda: (lambda p: p.rho_lo if p.on_interior_branch else mpf(0))(_Problem(N, T, eigenvalues, sigma_u)))


@dataclass(frozen=True)
class RefOptimum:
    """Minimum of the total expected loss over gamma > 0 (all mpf)."""

    gamma: object
    loss: object
    rho: object
    D1: object
    curvature: object
    r"""Second derivative of :math:`\log\langle L\rangle` with respect to :math:`\log\gamma` at the
    minimum; a loss within a relative :math:`\epsilon` of the minimum pins
    :math:`|\log\gamma - \log\gamma^*| \lesssim \sqrt{2\epsilon/\text{curvature}}`."""


#: Points of the coarse scan of log(loss) before golden-section refinement. The scan spans
#: about 40 units of the solve variable, so neighbouring points are ~0.4 apart, much finer than
#: the width of the loss minimum in every case exercised (curvature O(1) in log gamma).
_SCAN_POINTS = 101
#: Golden-section iterations: the bracket of width 0.8 shrinks by 0.618^60 ~ 3e-13, which puts
#: the loss within ~1e-25 (relative) of its minimum, since the loss is quadratic there.
_GOLDEN_ITER = 60
#: Step for the finite-difference curvature; the O(h^2) truncation error is ~1e-10 relative,
#: and at DPS digits the rounding error DPS - 2*6 digits is negligible.
_CURV_STEP = mpf("1e-5")


def _scan_basin(p, f, points: int, who: str):
    """Evenly spaced scan of f over the branch variable: (xs, values, index of the smallest).

    The scan runs from 25 e-folds below the branch's lower end (rho_lo, or the smallest s) to
    15 above 2 tr / n; a minimum at either end means the infimum is a limit, not a point.
    """
    if p.on_interior_branch:
        lo = mpmath.log(p.rho_lo) - 25
    else:
        lo = mpmath.log(min(p.s)) - 25
    hi = mpmath.log(2 * p.trace / p.n) + 15
    xs = [lo + (hi - lo) * k / (points - 1) for k in range(points)]
    vals = [f(x) for x in xs]
    k = min(range(points), key=lambda i: vals[i])
    if k == 0 or k == points - 1:
        raise RuntimeError(f"mp_reference.{who}: minimum at the scan boundary (index {k})")
    return xs, vals, k


def optimal(N, T, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1) -> RefOptimum:
    r"""Minimise the total loss over gamma (paper Eq. 128).

    The loss is a function of the branch variable x (log rho or log(rho - rho_lo)); gamma is
    increasing in x, so minimising over x is minimising over gamma. A scan locates the basin
    and golden-section search refines it. Raises if the minimum is at an end of the scan
    (i.e. the infimum is approached as gamma -> 0 or gamma -> inf).
    """

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)

        def f(x):
            sig, noi = p.terms(p.state(x), sigma_w, sigma_eps, C)
            return sig + noi

        xs, vals, k = _scan_basin(p, f, _SCAN_POINTS, "optimal")
        a, b = xs[k - 1], xs[k + 1]
        invphi = (mpmath.sqrt(5) - 1) / 2
        c = b - invphi * (b - a)
        d = a + invphi * (b - a)
        fc, fd = f(c), f(d)
        for _ in range(_GOLDEN_ITER):
            if fc < fd:
                b, d, fd = d, c, fc
                c = b - invphi * (b - a)
                fc = f(c)
            else:
                a, c, fc = c, d, fd
                d = a + invphi * (b - a)
                fd = f(d)
        x = (a + b) / 2
        st = p.state(x)
        h = _CURV_STEP
        l0, lp, lm = mpmath.log(f(x)), mpmath.log(f(x + h)), mpmath.log(f(x - h))
        d2 = (lp - 2 * l0 + lm) / h**2
        curvature = d2 / st.dlog_gamma_dx**2
        sig, noi = p.terms(st, sigma_w, sigma_eps, C)
        return RefOptimum(gamma=st.gamma, loss=sig + noi, rho=st.rho, D1=st.D1, curvature=curvature)

    return _run(fn)


#: Scan points of :func:`optimal_stationary`; the bracket is the two neighbours of the best one.
#: Over ~40 units of the solve variable the step is ~1, within the basin of every case used
#: (where the loss is flat the basin is wide; where it is sharp, N ~ T, it is O(1) wide).
_STATIONARY_SCAN = 41
#: Step of the central differences for L'(x) and L''(x): truncation ~ h^2 = 1e-40 and
#: rounding ~ 10^-DPS / h = 1e-40 relative to L, so the sign of L' is right until x is within
#: ~1e-40 / L''/L of the root, far below the 1e-10 the tests resolve even where L''/L ~ 1e-12.
_DIFF_STEP = mpf("1e-20")
#: Accepted |f(x)| relative to L for the root of the derivative (its rounding level).
_STATIONARY_TOL = mpf("1e-80")


def optimal_stationary(N, T, eigenvalues, *, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1) -> RefOptimum:
    r"""The interior minimum of the total loss from :math:`dL/dx = 0` (paper Eq. 128), to ~40 digits.

    book/solution.md, 'The optimal ridge': the loss is a smooth function of the branch variable
    x, and gamma increases with x, so the optimal ridge is the stationary point of L(x). A coarse
    scan of L brackets it; the root of the derivative is then found by the Anderson-Bjorck
    bracketing iteration. Derivatives are central differences at
    60 digits (``_DIFF_STEP``), independent of any closed form of the slope. Where the loss is extremely flat
    (N << T) comparing values at 60 digits still locates the basin, and the derivative fixes
    the point itself.
    """

    def fn():
        p = _Problem(N, T, eigenvalues, sigma_u)

        def f(x):
            st = p.state(x)
            if st.N_minus_D1 <= 0 or st.T_minus_D1 <= 0:
                return mpmath.inf
            sig, noi = p.terms(st, sigma_w, sigma_eps, C)
            return sig + noi

        xs, vals, k = _scan_basin(p, f, _STATIONARY_SCAN, "optimal_stationary")
        h = _DIFF_STEP
        scale = vals[k]
        fp = lambda x: (f(x + h) - f(x - h)) / (2 * h * scale)
        x = mpmath.findroot(fp, (xs[k - 1], xs[k + 1]), solver="anderson", tol=_STATIONARY_TOL,
                            maxsteps=400)
        st = p.state(x)
        L0 = f(x)
        # d2 log L / dx2 = L'' / L at the stationary point; the second difference with step
        # 1e-15 has truncation ~1e-30 and rounding ~10^-DPS / 1e-30 = 1e-30 relative to L.
        h2 = mpf("1e-15")
        d2 = (f(x + h2) - 2 * L0 + f(x - h2)) / h2**2 / L0
        sig, noi = p.terms(st, sigma_w, sigma_eps, C)
        return RefOptimum(gamma=st.gamma, loss=sig + noi, rho=st.rho, D1=st.D1,
                          curvature=d2 / st.dlog_gamma_dx**2)

    return _run(fn)
