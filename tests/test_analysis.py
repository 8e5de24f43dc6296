"""Tests of nslmodel.analysis: comparisons, jackknife, exponents, scaling corrections, formatters."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import nslmodel
from nslmodel import analysis, scaling

from _tolerance import FLOAT64_EPS, RTOL_ROUNDING, assert_rel_close

SPEC = nslmodel.PowerLaw(2000, 1.0)


# ------------------------------------------------------------------------------ theory_loss
def test_theory_loss_dispatches_ridgeless_at_zero_and_expected_loss_elsewhere():
    N = np.array([50.0, 50.0, 300.0])
    g = np.array([0.0, 1e-3, 0.0])
    out = analysis.theory_loss(N, 100.0, g, SPEC)
    # The same functions called directly: identical bits.
    assert out[0] == nslmodel.ridgeless_loss(50.0, 100.0, SPEC)
    assert out[1] == nslmodel.expected_loss(50.0, 100.0, 1e-3, SPEC)
    assert out[2] == nslmodel.ridgeless_loss(300.0, 100.0, SPEC)
    assert isinstance(analysis.theory_loss(50, 100, 1e-3, SPEC), float)


def test_theory_loss_passes_label_noise_to_both_branches():
    plain = analysis.theory_loss([50, 50], 100, [0.0, 1e-3], SPEC)
    noisy = analysis.theory_loss([50, 50], 100, [0.0, 1e-3], SPEC, sigma_eps=0.1)
    assert np.all(noisy > plain)


# ------------------------------------------------------------------------------ compare
def _fake_sweep(mean, sem, N, T, gamma, trials=10):
    return SimpleNamespace(mean=np.asarray(mean), sem=np.asarray(sem), N=np.asarray(N), T=np.asarray(T),
                           gamma=np.asarray(gamma), trials=trials, sigma_u=1.0, sigma_w=1.0, sigma_eps=0.0, C=1)


def test_compare_with_a_teacher_uses_its_theory():
    # The isotropic teacher power is the isotropic theory (tests/test_teacher.py, to rounding);
    # a non-isotropic one gives teacher_loss / teacher_ridgeless_loss at the same points.
    N, T, g = np.array([20.0, 40.0, 80.0]), 100.0, np.array([1e-3, 1e-3, 0.0])
    th = analysis.theory_loss(N, T, g, SPEC)
    sweep = _fake_sweep(th, 0.01 * th, N, T, g)
    iso = analysis.compare(sweep, SPEC, teacher=nslmodel.teacher.isotropic_power(SPEC))
    assert_rel_close(iso.theory, th, RTOL_ROUNDING, "isotropic teacher")
    beta2 = nslmodel.teacher.source_power(SPEC, 1.0)
    got = analysis.compare(sweep, SPEC, teacher=beta2).theory
    want = np.r_[nslmodel.teacher.teacher_loss(N[:2], T, g[:2], SPEC, beta2),
                 nslmodel.teacher.teacher_ridgeless_loss(N[2], T, SPEC, beta2)]
    np.testing.assert_array_equal(got, want)  # the same functions at the same points


def test_compare_z_rel_and_counts_from_known_offsets():
    N, T, g = np.array([20, 40, 80, 160]), 100, np.array([1e-3, 1e-3, 1e-3, 0.0])
    th = analysis.theory_loss(N, T, g, SPEC)
    sem = 0.01 * th
    z_wanted = np.array([0.5, -1.0, 4.0, -3.5])
    cmp = analysis.compare(_fake_sweep(th + z_wanted * sem, sem, N, T, g), SPEC)
    # z is reconstructed from (th + z sem - th) / sem: rounding of order eps * th / sem = 100 eps.
    np.testing.assert_allclose(cmp.z, z_wanted, rtol=0, atol=1e3 * FLOAT64_EPS)
    # rel and scaled_rel are the same offsets over th, in another order of operations.
    np.testing.assert_allclose(cmp.rel, 0.01 * z_wanted, rtol=RTOL_ROUNDING)
    np.testing.assert_allclose(cmp.scaled_rel, 0.01 * z_wanted * np.minimum(N, T), rtol=RTOL_ROUNDING)
    # sem = 0.01 th exactly as built; its scaled form is a product and a quotient of it (ulps).
    np.testing.assert_allclose(cmp.scaled_sem, 0.01 * np.minimum(N, T), rtol=RTOL_ROUNDING)
    assert cmp.n_points == 4 and cmp.n_above == 2
    assert cmp.frac_beyond == 0.5  # |4| and |-3.5| exceed 3
    assert cmp.shared_draws
    text = cmp.summary()
    assert text.startswith("Of the 4 simulated points (")
    assert "2 lie above the theory and 2 below, and 2 (50%) beyond 3" in text and "correlated" in text


def test_compare_on_a_real_sweep_is_within_statistics():
    sim = nslmodel.simulate_sweep([30, 60], 120, 2e-3, nslmodel.PowerLaw(1000, 1.0), trials=30, seed=5,
                                  progress=False)
    cmp = analysis.compare(sim, nslmodel.PowerLaw(1000, 1.0))
    assert cmp.theory.shape == (2,)
    # Finite-size offsets at these sizes are a few per cent of the loss (chapter on finite size):
    # well within 20%, a bound that still catches a wrong theory branch (factor-2 errors).
    assert np.all(np.abs(cmp.rel) < 0.2)


# ------------------------------------------------------------------------------ jackknife
def test_jackknife_of_the_mean_is_the_standard_error():
    x = np.random.default_rng(0).normal(size=(25, 3))
    est, se = analysis.jackknife(x[:, 0], np.mean)
    # Known identity: the jackknife standard error of the mean is std(ddof=1)/sqrt(n) exactly.
    assert est == pytest.approx(x[:, 0].mean(), rel=RTOL_ROUNDING)
    assert se == pytest.approx(x[:, 0].std(ddof=1) / np.sqrt(25), rel=RTOL_ROUNDING)


def test_jackknife_of_a_smooth_function_matches_the_delta_method():
    # theta = log(mean): delta-method se = se(mean) / mean; the jackknife agrees to O(1/n).
    x = np.random.default_rng(1).gamma(50.0, 1.0, size=400)
    _, se = analysis.jackknife(x, lambda s: np.log(np.mean(s)))
    delta = x.std(ddof=1) / np.sqrt(x.size) / x.mean()
    assert se == pytest.approx(delta, rel=0.01)  # O(1/n) = 0.25% here, 1% bound


def test_jackknife_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        analysis.jackknife(np.ones(1), np.mean)


# ------------------------------------------------------------------------------ fitted minimum
def test_fitted_log_minimum_of_an_exact_cubic_is_exact():
    x0 = np.log(3e-4)
    g = np.geomspace(1e-5, 1e-2, 13)
    u = np.log(g) - x0
    loss = np.exp(1.0 + 0.5 * u**2 + 0.05 * u**3)  # log loss a cubic with its minimum at x0
    # The fit is exact; its coefficients carry rounding ~1e-15 relative to |log g| ~ 10, and the
    # root of the derivative amplifies that by 1/curvature ~ 2: ~1e-13 absolute, 1e-9 ample.
    assert analysis.fitted_log_minimum(g, loss) == pytest.approx(x0, abs=1e-9)


def test_fitted_log_minimum_raises_without_interior_minimum():
    g = np.geomspace(1e-5, 1e-2, 9)
    with pytest.raises(RuntimeError, match="no minimum"):
        analysis.fitted_log_minimum(g, g)  # monotone


def test_sweep_minimum_error_covers_the_scatter_of_repeats():
    # Noisy parabolas in log gamma with minimum at x0: the jackknife se must match the spread of
    # the fitted minimum over independent repeats (within the 20% sampling error of 30 repeats).
    rng = np.random.default_rng(3)
    g = np.geomspace(1e-4, 1e-2, 11)
    u = np.log(g) - np.log(1e-3)
    fits, ses = [], []
    for _ in range(30):
        samples = np.exp(0.5 * u**2)[None, :] * (1 + 0.02 * rng.normal(size=(40, 1)) + 0.01 * rng.normal(size=(40, 11)))
        fm = analysis.sweep_minimum(g, samples, exact=(np.exp(0.5 * u**2), 1e-3))
        fits.append(np.log(fm.gamma))
        ses.append(fm.log_se)
        assert abs(fm.fit_bias) < 1e-9  # exact parabola: the fit recovers it to rounding (cf. above)
    ratio = np.std(fits, ddof=1) / np.mean(ses)
    assert 0.6 < ratio < 1.6  # chi distribution with 29 dof: 99% of ratios lie in 0.7..1.4 (and se noise)


# ------------------------------------------------------------------------------ exponents
@pytest.mark.parametrize("p", [-1.5, -0.5, 0.0, 1.0, 2.7])
def test_local_exponent_exact_for_power_laws_on_irregular_grids(p):
    x = np.sort(np.random.default_rng(4).uniform(1.0, 1e4, 40))
    y = 3.2 * x**p
    # log y is linear in log x: second-order differences are exact up to rounding of log y
    # (|log y| <~ 30, eps * 30 / min step in log x ~ 1e-12).
    np.testing.assert_allclose(analysis.local_exponent(x, y), p, rtol=0, atol=1e-9)
    assert analysis.fitted_exponent(x, y) == pytest.approx(p, abs=1e-10)


def test_local_exponent_of_a_sum_of_powers_tends_to_each_power():
    x = np.geomspace(1e-4, 1e4, 401)
    s = analysis.local_exponent(x, x**-1 + x**-2)  # -2 at small x, -1 at large x
    assert s[0] == pytest.approx(-2, abs=1e-3) and s[-1] == pytest.approx(-1, abs=1e-3)


def test_local_exponent_rejects_short_grids():
    with pytest.raises(ValueError, match="at least 3"):
        analysis.local_exponent([1.0, 2.0], [1.0, 2.0])


# ------------------------------------------------------------------------------ scales
def test_sigma_y_and_loss_denominator():
    assert analysis.sigma_y(SPEC, 2.0) == pytest.approx(2 * math.sqrt(SPEC.eigenvalues.sum() / 2000), rel=1e-14)
    s = nslmodel.solve(50.0, 120.0, 1e-3, SPEC)
    direct = (50 - s.D1) * (120 - s.D1) + (170 - 2 * s.D1) * (s.D1 - s.D2)
    # the package uses the solver's cancellation-free gaps N - D1, T - D1 and D1 - D2; the
    # direct form subtracts D1 (~20-50) from N, T and D2 from D1, which loses at most a factor
    # ~10 of the sums' ~1e-15 relative rounding: 1e-10 leaves ample room.
    assert_rel_close(analysis.loss_denominator(s), direct, 1e-10, "denominator")


# ------------------------------------------------------------------------------ scaling corrections
def test_corrections_are_exactly_one_at_alpha_one():
    N = np.geomspace(1, 1e6, 50)
    c = analysis.scaling_corrections(N, 1e3, 1.0)
    np.testing.assert_allclose(c.loss, 1.0, rtol=1e-13)  # exact identity up to rounding
    # gamma* uses the gaps N - d* and T - d*: the smaller one carries a relative rounding error
    # of about eps * max(N/T, T/N), 10 eps of that plus RTOL_ROUNDING.
    assert np.all(np.abs(c.gamma - 1) <= 10 * FLOAT64_EPS * np.maximum(N / 1e3, 1e3 / N) + RTOL_ROUNDING)


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_corrections_tend_to_one_far_from_N_eq_T_and_are_symmetric(alpha):
    # The leading deviation is of order (N/T)^min(alpha, 1) (the T^-alpha term and the shift
    # of d* by 2N^2/(alpha(1+alpha)T)), with an O(1) coefficient: bound 3 (N/T)^min(alpha, 1).
    for ratio in (1e-4, 1e-6):
        c = analysis.scaling_corrections(1.0, 1 / ratio, alpha)
        bound = 3 * ratio ** min(alpha, 1.0)
        assert abs(c.loss - 1) < bound and abs(c.gamma - 1) < bound
    N = np.geomspace(1, 1e4, 9)
    a, b = analysis.scaling_corrections(N, 100.0, alpha), analysis.scaling_corrections(100.0, N, alpha)
    # the N <-> T swap: the same closed form in another order of operations
    np.testing.assert_allclose(a.loss, b.loss, rtol=RTOL_ROUNDING)
    np.testing.assert_allclose(a.gamma, b.gamma, rtol=RTOL_ROUNDING)


def test_corrections_at_N_eq_T_from_the_quadratic_written_out():
    # At N = T = n: d*/n = r solves (2+a)(1-a) r^2 + 2a(1+a) r - a(1+a) = 0 and
    # F_L = r^-a / [(1+a) - 2a r - (1-a) r^2] / 2.
    for a in (0.5, 2.0):
        qa, qb, qc = (2 + a) * (1 - a), 2 * a * (1 + a), -a * (1 + a)
        r = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
        F = r**-a / ((1 + a) - 2 * a * r - (1 - a) * r * r) / 2
        # the same closed form evaluated through the package's general path: rounding only
        assert analysis.scaling_corrections(300.0, 300.0, a).loss == pytest.approx(F, rel=RTOL_ROUNDING)
        # At N = T the factor depends on alpha alone (r = d*/N does not depend on N): the same
        # closed form at another size, to rounding.
        assert analysis.scaling_corrections(10.0, 10.0, a).loss == pytest.approx(F, rel=RTOL_ROUNDING)


# ------------------------------------------------------------------------------ trace approximation
def test_trace_approximation_fails_at_both_edges_and_holds_in_between():
    ta = analysis.trace_approximation(20_000, 1.0, n=60)
    mid = (ta.D1 > 30) & (ta.D1 < 200)
    # Head: the integral from 0 misses an O(1) piece of D1 (about 1/2): |err| ~ 0.5 / D1 < 2%.
    assert np.all(np.abs(ta.err_D1[mid]) < 0.6 / ta.D1[mid] + 4 * ta.D1[mid] / (np.pi**2 * 20_000))
    assert abs(ta.err_D1[0]) > 0.2  # D1 ~ 1: order-one error
    assert ta.err_D1[-1] > 0.2  # D1 -> M/2: the spurious tail beyond I = M
    assert np.all(np.diff(ta.D1) > 0)


def test_trace_approximation_agrees_with_the_solver_sums():
    ta = analysis.trace_approximation(3000, 0.5, n=5)
    # D1 at the solution of the self-consistent equation matches the direct sum.
    sol = nslmodel.solve(2000.0, 2500.0, 1e-3, nslmodel.PowerLaw(3000, 0.5))
    rho_units = sol.rho * 3000  # rho / rho0 with rho0 = 1 / M
    s = np.arange(1, 3001, dtype=float) ** -1.5
    # the solver's D1 is accurate to ~1e-13 (its 40-digit references); a direct float64 sum of
    # 3000 terms adds ~1e-14: 1e-10 leaves a factor of ~1000.
    assert_rel_close(np.sum(s / (s + rho_units)), sol.D1, 1e-10, "D1")
    assert ta.D1.shape == (5,)


# ------------------------------------------------------------------------------ formatting
@pytest.mark.parametrize(
    "x, digits, text",
    [(1.35e-4, 2, r"1.4 \times 10^{-4}"), (1e-7, 2, "10^{-7}"), (0.5, 2, "0.5"), (4000.0, 2, r"4.0 \times 10^{3}"),
     (-1e5, 3, "-10^{5}"), (0.0, 2, "0"),
     # one to four integer digits: plain below 1000, scientific from 1000 on
     (7, 2, "7"), (42, 2, "42"), (400, 2, "400"), (400.0, 1, "400"), (123, 3, "123"), (-987, 2, "-990"),
     (1234, 2, r"1.2 \times 10^{3}"), (5000, 1, r"5 \times 10^{3}"),
     # negative exponents: plain down to 0.01, scientific below
     (0.0123, 2, "0.012"), (0.25, 3, "0.25"), (0.0099, 2, r"9.9 \times 10^{-3}"), (-3.5e-6, 2, r"-3.5 \times 10^{-6}"),
     # rounding to `digits` carries into the next decade, and the plain/scientific choice follows it
     (9.99, 2, "10"), (99.96, 3, "100"), (999.7, 2, "10^{3}"), (0.009996, 3, "0.01"), (9.99e-5, 2, "10^{-4}"),
     (9.96e4, 2, "10^{5}")],
)
def test_latex_sci(x, digits, text):
    assert analysis.latex_sci(x, digits) == text


@pytest.mark.parametrize("x, digits", [(1.35e-4, 2), (4e-15, 1), (1e-7, 2), (400, 2), (-2.5e-6, 2), (-1e-9, 1), (0.0, 2),
                                       (999.7, 2), (2.47e-6, 3), (1e5, 1), (9.99, 2), (-0.5, 2)])
def test_text_sci_is_latex_sci_in_unicode(x, digits):
    """The prose form is the LaTeX one written in Unicode: same digits, a times sign, superscripts."""
    import re

    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    text = analysis.text_sci(x, digits)
    assert "e" not in text and "-" not in text and "^" not in text
    back = re.sub("10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", lambda m: "10^{" + m.group(1).translate(sup) + "}",
                  text.replace("−", "-").replace(" × ", r" \times "))
    assert back == analysis.latex_sci(x, digits)


def test_text_sci_examples():
    assert [analysis.text_sci(x, d) for x, d in ((1.35e-4, 2), (4e-15, 1), (-1e-9, 1), (1234.5, 3))] == [
        "1.4 × 10⁻⁴", "4 × 10⁻¹⁵", "−10⁻⁹", "1.23 × 10³"]


def test_latex_factor_writes_a_multiplier_for_a_symbol():
    assert [analysis.latex_factor(f) for f in (1.0, 10.0, 1e-4, 0.1, 0.3, 2.5e-7)] == [
        "", "10", "10^{-4}", "10^{-1}", "0.3", r"2.5 \times 10^{-7}"]
    with pytest.raises(ValueError, match="f"):
        analysis.latex_factor(0.0)


def test_latex_int_groups_thousands_for_math_mode():
    assert [analysis.latex_int(n) for n in (0, 999, 1000, 3000, 1_000_000, 3000.0)] == [
        "0", "999", "1{,}000", "3{,}000", "1{,}000{,}000", "3{,}000"]
    with pytest.raises(ValueError, match="n"):
        analysis.latex_int(2.5)


def test_count_of_words_a_count_with_its_verb():
    """Prose counts: 'none', 'all', 'k of the n', and a verb that agrees with k."""
    c = analysis.count_of
    assert [c(0, 9), c(2, 9), c(9, 9), c(np.int64(1), 8, "ratios")] == [
        "none of the 9", "2 of the 9", "all 9", "1 of the 8 ratios"]
    lie = ("lies", "lie")
    assert [c(0, 40, verbs=lie), c(1, 40, verbs=lie), c(3, 40, verbs=lie), c(40, 40, verbs=lie)] == [
        "none of the 40 lies", "1 of the 40 lies", "3 of the 40 lie", "all 40 lie"]
    assert c(0, 8, "ratios", verbs=lie, capital=True) == "None of the 8 ratios lies"
    with pytest.raises(ValueError, match=r"k must lie in \[0, n\] = \[0, 3\]; got k=5"):
        c(5, 3)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        c(0, 0)


def test_comparison_counts_points_beyond_three_standard_errors():
    z = np.array([0.5, -3.5, 3.0, 4.0])
    one = np.ones(4)
    cmp = analysis.Comparison(N=one, T=one, gamma=one, mean=one, sem=one, theory=one, z=z, rel=z,
                              scaled_rel=z, trials=10, shared_draws=False)
    assert (cmp.n_beyond, cmp.frac_beyond) == (2, 0.5)  # |z| = 3 is not beyond
    assert "and 2 (50%) beyond 3 standard errors; the points use independent draws" in cmp.summary()


def test_latex_sci_rejects_non_finite_and_finite_or_nan():
    with pytest.raises(ValueError, match="finite"):
        analysis.latex_sci(float("inf"))
    assert np.isnan(analysis.finite_or_nan([1.0, np.inf])[1])


def test_rerun_command_parses_back_with_papermill_conventions():
    import shlex

    import yaml

    cmd = analysis.rerun_command("01_x", M=3000, gamma=1e-7, name="a", N_values=[10, 20])
    args = shlex.split(cmd)
    assert args[:3] == ["papermill", "notebooks/01_x.ipynb", "01_x.out.ipynb"]
    pairs = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "-p"}
    assert pairs == {"M": "3000", "gamma": "1e-07", "name": "a"}
    assert yaml.safe_load(args[args.index("-y") + 1]) == {"N_values": [10, 20]}
    assert float(pairs["gamma"]) == 1e-7


def test_combine_pools_points_and_keeps_counts():
    N, g = np.array([20, 40]), np.array([1e-3, 1e-3])
    th = analysis.theory_loss(N, 100, g, SPEC)
    a = analysis.compare(_fake_sweep(th * 1.01, th * 0.001, N, 100, g), SPEC)
    b = analysis.compare(_fake_sweep(th * 0.999, th * 0.01, N, 100, g), SPEC)
    c = analysis.combine([a, b])
    assert c.n_points == 4 and c.n_above == 2 and c.frac_beyond == 0.5 and c.shared_draws
    np.testing.assert_array_equal(c.z, np.r_[a.z, b.z])
    with pytest.raises(ValueError, match="at least one"):
        analysis.combine([])


def test_rerun_note_holds_the_command_and_the_measured_run_time():
    clock = analysis.Stopwatch()
    wall, cpu = clock.elapsed()
    assert wall >= 0 and cpu >= 0
    # A clock started 1234.5 s ago (wall) and 60 s of CPU ago: two significant digits of each.
    old = analysis.Stopwatch(wall0=clock.wall0 - 1234.5, cpu0=clock.cpu0 - 60.0)
    note = analysis.rerun_note("02_y", clock=old, M=10)
    assert note.startswith("**Rerun this chapter:** `papermill ")
    assert analysis.rerun_command("02_y", M=10) in note
    assert "took 1200 s (wall clock; 60 s of CPU time)" in note


def test_glue_values_passes_plain_python_values():
    got = {}
    analysis.glue_values(lambda k, v, display: got.update({k: (v, display)}),
                         a=np.float64(0.5), n=np.int64(3), s="text", b=np.bool_(True), x=np.array(2.0))
    assert got == {"a": (0.5, False), "n": (3, False), "s": ("text", False), "b": (True, False),
                   "x": (2.0, False)}
    assert type(got["a"][0]) is float and type(got["n"][0]) is int and type(got["x"][0]) is float


def test_mean_ratio_is_the_jackknife_of_the_ratio_of_means():
    rng = np.random.default_rng(7)
    x = rng.normal(1.0, 0.1, size=(12, 2, 3)) + rng.normal(0, 0.2, size=(12, 1, 1))  # correlated
    flat = np.arange(6).reshape(2, 3)
    est, se = analysis.mean_ratio(x, flat, flat[:, [0]])
    for i in range(2):
        for j in range(3):
            ref = analysis.jackknife(x, lambda s: s[:, i, j].mean() / s[:, i, 0].mean())
            # Leave-one-out means by subtraction instead of re-summing: rounding only.
            assert_rel_close(est[i, j], ref[0], RTOL_ROUNDING, "ratio")
            if j:
                # The error is a spread of leave-one-out ratios that differ by ~1e-2 of the
                # ratio: their rounding (1e-15 each) is ~1e-13 of it; 1e-9 leaves ample room.
                assert_rel_close(se[i, j], ref[1], 1e-9, "jackknife error")
            else:
                assert se[i, j] == 0 and est[i, j] == 1
    with pytest.raises(ValueError, match="at least 2"):
        analysis.mean_ratio(x[:1], 0, 1)


@pytest.mark.parametrize("N, T, alpha", [(30, 300, 1.0), (300, 100, 0.5), (50, 20, 2.0)])
def test_mrs_ridgeless_loss_matches_the_ridgeless_formula(N, T, alpha):
    # Two independent routes to the same number; brentq's xtol 1e-14 on log(Delta) and float64
    # sums over M = 3000 terms leave ~1e-13: 1e-10 is what the chapter quotes.
    got = analysis.mrs_ridgeless_loss(N, T, 3000, alpha)
    assert_rel_close(got, nslmodel.ridgeless_loss(N, T, nslmodel.PowerLaw(3000, alpha)), 1e-10, "MRS")
    with pytest.raises(ValueError, match="N and T must differ"):
        analysis.mrs_ridgeless_loss(40, 40, 3000, alpha)


def test_compare_minima_applies_sweep_minimum_row_by_row():
    rng = np.random.default_rng(3)
    g = np.geomspace(0.1, 10, 9)[None, :] * np.array([[1.0], [2.0]])
    exact = 1 + np.log(g / np.array([[1.0], [2.0]])) ** 2  # minima at 1 and 2
    samples = exact[None] * (1 + 0.01 * rng.standard_normal((10, 2, 9)))
    got = analysis.compare_minima(g, samples, exact, [1.0, 2.0], fit_points=5, degree=3)
    for i in range(2):
        one = analysis.sweep_minimum(g[i], samples[:, i], exact=(exact[i], [1.0, 2.0][i]), fit_points=5, degree=3)
        assert (got.gamma[i], got.log_se[i], got.fit_bias[i]) == (one.gamma, one.log_se, one.fit_bias)
    np.testing.assert_array_equal(got.z, np.log(got.gamma / np.array([1.0, 2.0])) / got.log_se)
