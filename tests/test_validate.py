"""Bad input at the public API (nslmodel._validate): every entry point refuses it clearly.

A message must name the parameter, show the offending value and state the allowed range, so
that a user can fix the call without reading the source. A value of the wrong kind raises
TypeError, a value of the right kind outside its range ValueError. The CLI has its own tests
(test_cli.py).
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

import nslmodel
from _tolerance import FLOAT64_EPS, RTOL_ROUNDING, assert_rel_close

SPEC = nslmodel.PowerLaw(100, 1.0)

#: Phrases that state an allowed range, by kind of parameter.
RANGE_POSITIVE = r"(0 < \w+|> ?0\b|positive)"
RANGE_NONNEGATIVE = r"(0 <= \w+|>= ?0\b|non-?negative)"
RANGE_INT = r"(>= ?1\b|at least 1|integer)"
RANGE_ALPHA = r"(-1 < alpha|> ?-1\b)"


def _value_pattern(value):
    """Regex for how a bad value may be shown: -1, -1.0, nan, inf, np.float64(-1.0), ..."""
    if isinstance(value, str):
        return re.escape(value)
    v = float(value)
    if math.isnan(v):
        return r"\bnan\b"
    # The value must not be confused with the bounds of a stated range ("0 < N < inf"), so an
    # occurrence followed by "<" or preceded by "< " does not count.
    if math.isinf(v):
        return r"-inf\b" if v < 0 else r"(?<!< )(?<!-)\binf\b"
    if v == int(v):
        return rf"(?<![\d.]){re.escape(str(int(v)))}(\.0+)?(?![\d.])(?!\s*<)"
    return re.escape(repr(v)) + r"(?!\s*<)"


def assert_clear_error(fn, name, value, range_regex):
    """fn() raises ValueError whose message names `name`, shows `value` and a range."""
    with pytest.raises(ValueError, match=rf"\b{re.escape(name)}\b") as info:
        fn()
    msg = str(info.value)
    assert re.search(_value_pattern(value), msg), f"value {value!r} not shown in: {msg}"
    assert re.search(range_regex, msg), f"allowed range not stated in: {msg}"
    assert "\n" not in msg, f"message should be one line: {msg!r}"


# --------------------------------------------------------------------------------------------
# Ridge
# --------------------------------------------------------------------------------------------

_RIDGE_FUNCS = {
    "expected_loss": lambda g: nslmodel.expected_loss(10, 20, g, SPEC),
    "expected_loss_terms": lambda g: nslmodel.expected_loss_terms(10, 20, g, SPEC),
    "solve": lambda g: nslmodel.solve(10, 20, g, SPEC),
}


@pytest.mark.parametrize("func", list(_RIDGE_FUNCS))
@pytest.mark.parametrize("gamma", [-1.0, -1e-300, math.nan, math.inf, -math.inf])
def test_bad_gamma(func, gamma):
    assert_clear_error(lambda: _RIDGE_FUNCS[func](gamma), "gamma", gamma, RANGE_POSITIVE)


@pytest.mark.parametrize("func", list(_RIDGE_FUNCS))
def test_zero_gamma_points_to_ridgeless_loss(func):
    assert_clear_error(lambda: _RIDGE_FUNCS[func](0.0), "gamma", 0.0, RANGE_POSITIVE)
    with pytest.raises(ValueError, match="ridgeless_loss"):
        _RIDGE_FUNCS[func](0.0)


def test_bad_gamma_inside_an_array_is_found():
    g = np.array([1e-3, 1e-2, -5.0, 1.0])
    assert_clear_error(lambda: nslmodel.expected_loss(10, 20, g, SPEC), "gamma", -5.0, RANGE_POSITIVE)


# --------------------------------------------------------------------------------------------
# N and T
# --------------------------------------------------------------------------------------------

_SIZE_FUNCS = {
    "expected_loss": lambda N, T: nslmodel.expected_loss(N, T, 1e-3, SPEC),
    "solve": lambda N, T: nslmodel.solve(N, T, 1e-3, SPEC),
    "ridgeless_loss": lambda N, T: nslmodel.ridgeless_loss(N, T, SPEC),
    "optimal_ridge": lambda N, T: nslmodel.optimal_ridge(N, T, SPEC),
}


@pytest.mark.parametrize("func", list(_SIZE_FUNCS))
@pytest.mark.parametrize("bad", [0.0, -3.0, math.nan, math.inf])
def test_bad_N_and_T(func, bad):
    assert_clear_error(lambda: _SIZE_FUNCS[func](bad, 20.0), "N", bad, RANGE_POSITIVE)
    assert_clear_error(lambda: _SIZE_FUNCS[func](20.0, bad), "T", bad, RANGE_POSITIVE)


def test_bad_N_inside_an_array_is_found():
    N = np.array([[10.0, 20.0], [-7.0, 30.0]])
    assert_clear_error(lambda: nslmodel.expected_loss(N, 20, 1e-3, SPEC), "N", -7.0, RANGE_POSITIVE)


# --------------------------------------------------------------------------------------------
# sigma_u, sigma_w, sigma_eps and C
# --------------------------------------------------------------------------------------------

_KW_FUNCS = {
    "expected_loss": lambda **kw: nslmodel.expected_loss(10, 20, 1e-3, SPEC, **kw),
    "ridgeless_loss": lambda **kw: nslmodel.ridgeless_loss(10, 20, SPEC, **kw),
    "optimal_ridge": lambda **kw: nslmodel.optimal_ridge(10, 20, SPEC, **kw),
}


@pytest.mark.parametrize("func", list(_KW_FUNCS))
@pytest.mark.parametrize("name", ["sigma_u", "sigma_w", "sigma_eps"])
@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf])
def test_bad_sigma(func, name, bad):
    assert_clear_error(lambda: _KW_FUNCS[func](**{name: bad}), name, bad, RANGE_NONNEGATIVE + "|" + RANGE_POSITIVE)


def test_bad_sigma_u_in_solve():
    assert_clear_error(lambda: nslmodel.solve(10, 20, 1e-3, SPEC, sigma_u=-2.0), "sigma_u", -2.0, RANGE_NONNEGATIVE + "|" + RANGE_POSITIVE)


@pytest.mark.parametrize("func", list(_KW_FUNCS))
def test_sigma_u_zero_is_refused_with_a_range_that_excludes_it(func):
    """sigma_u = 0 would make every feature zero; the stated range must exclude 0 itself.

    The message is the user's only guide: "0 <= sigma_u" followed by a refusal of 0 would send
    them in a circle.
    """
    assert_clear_error(lambda: _KW_FUNCS[func](sigma_u=0.0), "sigma_u", 0.0, RANGE_POSITIVE)
    with pytest.raises(ValueError) as info:
        _KW_FUNCS[func](sigma_u=-1.0)
    assert not re.search(r"0 <= sigma_u|non-?negative", str(info.value)), str(info.value)


@pytest.mark.parametrize("func", list(_KW_FUNCS))
@pytest.mark.parametrize("bad", [0, -1, 2.5, math.nan])
def test_bad_label_dimension(func, bad):
    assert_clear_error(lambda: _KW_FUNCS[func](C=bad), "C", bad, RANGE_INT)


# --------------------------------------------------------------------------------------------
# Scaling approximations
# --------------------------------------------------------------------------------------------

_SCALING_FUNCS = {
    "approx_optimal": lambda **kw: nslmodel.scaling.approx_optimal(10, 100, 1e5, 1.0, **kw),
    "approx_ridgeless": lambda **kw: nslmodel.scaling.approx_ridgeless(10, 100, 1e5, 1.0, **kw),
    "optimal_loss_alpha1": lambda **kw: nslmodel.scaling.optimal_loss_alpha1(10, 100, 1e5, **kw),
}


@pytest.mark.parametrize("func", list(_SCALING_FUNCS))
@pytest.mark.parametrize(
    "name, bad, range_regex",
    [("sigma_w", -0.5, RANGE_NONNEGATIVE), ("C", 0, RANGE_INT), ("lam_plus", -1.0, RANGE_POSITIVE)],
)
def test_scaling_bad_scales(func, name, bad, range_regex):
    assert_clear_error(lambda: _SCALING_FUNCS[func](**{name: bad}), name, bad, range_regex)


@pytest.mark.parametrize("bad", [0.0, -0.5, math.nan])
def test_scaling_bad_alpha_and_sigma_u(bad):
    """The scaling laws need alpha > 0 (A_alpha diverges at alpha = 0) and sigma_u > 0."""
    assert_clear_error(lambda: nslmodel.scaling.amplitude(bad), "alpha", bad, RANGE_POSITIVE)
    assert_clear_error(lambda: nslmodel.scaling.optimal_ridge_alpha1(1e4, sigma_u=bad), "sigma_u", bad, RANGE_POSITIVE)


def test_scaling_loss_refuses_d_beyond_min_NT():
    """approx_loss is defined for 0 < d <= min(N, T); beyond, its denominator can change sign."""
    assert_clear_error(lambda: nslmodel.scaling.approx_loss([5.0, 20.0], 10.0, 100.0, 1e5, 1.0), "d", 20.0, r"d <= min\(N, T\)")


# --------------------------------------------------------------------------------------------
# Spectra
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("M", [0, -3])
def test_power_law_M_below_one(M):
    assert_clear_error(lambda: nslmodel.PowerLaw(M, 1.0), "M", M, RANGE_INT)


def test_power_law_non_integer_M():
    assert_clear_error(lambda: nslmodel.PowerLaw(2.5, 1.0), "M", 2.5, RANGE_INT)


@pytest.mark.parametrize("alpha", [math.nan, math.inf, -1.0, -2.5])
def test_power_law_bad_alpha(alpha):
    assert_clear_error(lambda: nslmodel.PowerLaw(10, alpha), "alpha", alpha, RANGE_ALPHA)


@pytest.mark.parametrize("lam_plus", [-1.0, math.nan, math.inf])
def test_power_law_bad_lam_plus(lam_plus):
    assert_clear_error(lambda: nslmodel.PowerLaw(10, 1.0, lam_plus=lam_plus), "lam_plus", lam_plus, RANGE_POSITIVE)


_EMPTY = [lambda: nslmodel.Spectrum([]), lambda: nslmodel.expected_loss(10, 20, 1e-3, np.array([]))]


@pytest.mark.parametrize("make", _EMPTY, ids=["Spectrum", "plain-array"])
def test_empty_spectrum(make):
    with pytest.raises(ValueError, match=r"(?i)(spectrum|eigenvalue)") as info:
        make()
    assert re.search(r"(?i)(empty|at least one|shape \(0,\)|length 0)", str(info.value)), str(info.value)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
@pytest.mark.parametrize("how", ["Spectrum", "plain-array", "as_spectrum"])
def test_bad_eigenvalue(bad, how):
    lam = np.array([1.0, 0.5, bad, 0.1])
    make = {
        "Spectrum": lambda: nslmodel.Spectrum(lam),
        "plain-array": lambda: nslmodel.expected_loss(10, 20, 1e-3, lam),
        "as_spectrum": lambda: nslmodel.spectra.as_spectrum(lam),
    }[how]
    with pytest.raises(ValueError, match=r"(?i)eigenvalue") as info:
        make()
    msg = str(info.value)
    assert re.search(_value_pattern(bad), msg), msg
    assert re.search(r"(>= ?0|non-?negative|finite)", msg), msg


def test_nothing_returns_nan_silently_on_a_grid():
    """A grid containing one bad point is refused as a whole (no NaN hidden in an array)."""
    N = np.array([10.0, np.nan, 30.0])
    with pytest.raises(ValueError):
        nslmodel.expected_loss(N, 50.0, 1e-3, SPEC)
    with pytest.raises(ValueError):
        nslmodel.optimal_ridge(N, 50.0, SPEC)
    with pytest.raises(ValueError):
        nslmodel.ridgeless_loss(N, 50.0, SPEC)


# --------------------------------------------------------------------------------------------
# The bad-input matrix: every public function, every parameter, wrong kinds and wrong values
# --------------------------------------------------------------------------------------------

P = nslmodel.PowerLaw(400, 1.0)

#: Values of the wrong kind (TypeError) and of the right kind but out of range (ValueError),
#: by the role a parameter plays. Python ints beyond float64 (10**400) or int64 (10**30) are
#: wrong values, a fractional value for an integer parameter too.
_WRONG_KIND = {
    "real": [True, "50", 50 + 1j, np.array([50 + 1j]), None, [True, 2], ["50"], np.array([True, False])],
    "scalar": [True, "1", 1j, None, [1.0, 2.0], np.array([0.5, 0.5])],
    "int": [True, "10", None, 10 + 0j, [10, 20]],
    "opt_int": [True, "10", 10 + 0j, [10, 20]],  # None is allowed (optional)
    "opt_scalar": [True, "1", 1j, [1.0, 2.0]],
    "int_grid": [True, "10", None, [True, 2], np.array([10 + 0j]), ["10"]],
    "spectrum": [5.0, 3, "abc", None, True, np.array([1 + 1j, 0.5]), ["a", "b"]],
    "choice": [1, None, b"exact"],
    "executor": [5, 1.5, ["threads"]],
    "seed": ["1", 1.5, True, [1, 2]],
    "flag": ["yes", 1, 0.0],
}
_WRONG_VALUE = {
    "positive": [0.0, -1.0, math.nan, math.inf, 10**400],
    "size": [0.0, -1.0, math.nan, math.inf, 1e200, 1e-300, 10**400],
    "ridge": [0.0, -1e-3, math.nan, math.inf],
    "ridge0": [-1e-3, math.nan, math.inf],
    "pos_scalar": [0.0, -1.0, math.nan, math.inf],
    "nonneg_scalar": [-1.0, math.nan, math.inf],
    "alpha_pl": [-1.0, -2.0, math.nan, math.inf],
    "int": [0, -1, 2.5, math.nan, 10**30],
    "int_grid": [0, 2.5, [10, -1], math.inf, [10, 10**30]],
    "spectrum": [[], [-1.0, 1.0], [0.0, 0.0], [[1.0, 0.5], [0.2, 0.1]], [1.0, math.nan]],
    "method": ["mc"],
    "executor": ["gpu", "thread"],
    "seed": [-1],
    "sim_scale_u": [0.0, -1.0, 1e-170, 1e60, math.nan],
    "sim_scale": [-1.0, 1e-170, 1e200, math.inf],
    "memory": [-5.0, 0.0],
}

_MODEL = dict(N=("real", "size"), T=("real", "size"), spectrum=("spectrum", "spectrum"),
              sigma_u=("scalar", "pos_scalar"), sigma_w=("scalar", "nonneg_scalar"),
              sigma_eps=("scalar", "nonneg_scalar"), C=("int", "int"))
_SIM = dict(N=("int_grid", "int_grid"), T=("int_grid", "int_grid"), gamma=("real", "ridge0"),
            spectrum=("spectrum", "spectrum"), trials=("int", "int"), seed=("seed", "seed"),
            sigma_u=("scalar", "sim_scale_u"), sigma_w=("scalar", "sim_scale"),
            sigma_eps=("scalar", "sim_scale"), C=("int", "int"), method=("choice", "method"),
            T_test=("opt_int", "int"), executor=("executor", "executor"), progress=("flag", None),
            memory_limit=("opt_scalar", "memory"))
_SIM_ONE = {**_SIM, "N": ("int", "int"), "T": ("int", "int"), "gamma": ("scalar", "ridge0")}
_SCALING = dict(rho=("real", "positive"), d=("real", "positive"), N=("real", "positive"),
                T=("real", "positive"), M=("real", "positive"), alpha=("scalar", "pos_scalar"),
                lam_plus=("scalar", "pos_scalar"), sigma_u=("scalar", "pos_scalar"),
                sigma_w=("scalar", "nonneg_scalar"), C=("int", "int"))

_SIM_GOOD = dict(spectrum=P, trials=2, seed=1, progress=False)
#: function -> (callable, a good call's arguments, {parameter: (kind role, value role)}).
_FUNCTIONS = {
    "expected_loss": (nslmodel.expected_loss, dict(N=50, T=80, gamma=1e-3, spectrum=P),
                      {**_MODEL, "gamma": ("real", "ridge")}),
    "expected_loss_terms": (nslmodel.expected_loss_terms, dict(N=50, T=80, gamma=1e-3, spectrum=P),
                            {**_MODEL, "gamma": ("real", "ridge")}),
    "loss_curve": (nslmodel.loss_curve, dict(N=50, T=80, rho=[1e-3, 1e-2], spectrum=P),
                   {**_MODEL, "rho": ("real", "positive")}),
    "ridgeless_loss": (nslmodel.ridgeless_loss, dict(N=50, T=80, spectrum=P), _MODEL),
    "optimal_ridge": (nslmodel.optimal_ridge, dict(N=50, T=80, spectrum=P), _MODEL),
    "solve": (nslmodel.solve, dict(N=50, T=80, gamma=1e-3, spectrum=P),
              {k: _MODEL[k] for k in ("N", "T", "spectrum", "sigma_u")} | {"gamma": ("real", "ridge")}),
    "simulate_loss": (nslmodel.simulate_loss, dict(N=10, T=20, gamma=1e-2, **_SIM_GOOD), _SIM_ONE),
    "simulate_sweep": (nslmodel.simulate_sweep, dict(N=[10, 20], T=20, gamma=1e-2, **_SIM_GOOD), _SIM),
    "PowerLaw": (nslmodel.PowerLaw, dict(M=10, alpha=1.0),
                 dict(M=("int", "int"), alpha=("scalar", "alpha_pl"), lam_plus=("scalar", "pos_scalar"))),
    "Spectrum": (nslmodel.Spectrum, dict(eigenvalues=[1.0, 0.5]), dict(eigenvalues=("spectrum", "spectrum"))),
    "as_spectrum": (nslmodel.spectra.as_spectrum, dict(spectrum=[1.0, 0.5]), dict(spectrum=("spectrum", "spectrum"))),
}
_S = nslmodel.scaling
for _name, _good in {
    "amplitude": dict(alpha=1.0),
    "approx_D1": dict(rho=1e-5, M=1e4, alpha=1.0),
    "approx_rho": dict(d=10.0, M=1e4, alpha=1.0),
    "approx_loss": dict(d=5.0, N=10.0, T=100.0, M=1e4, alpha=1.0),
    "optimal_d": dict(N=10.0, T=100.0, alpha=0.5),
    "approx_optimal": dict(N=10.0, T=100.0, M=1e4, alpha=1.0),
    "approx_ridgeless": dict(N=10.0, T=100.0, M=1e4, alpha=1.0),
    "optimal_loss_alpha1": dict(N=10.0, T=100.0, M=1e4),
    "optimal_ridge_alpha1": dict(M=1e4),
}.items():
    _fn = getattr(_S, _name)
    _params = [p for p in inspect.signature(_fn).parameters]
    _FUNCTIONS[f"scaling.{_name}"] = (_fn, _good, {p: _SCALING[p] for p in _params})
_SCALING_ALPHA = {"alpha": ("scalar", "pos_scalar")}


# The modules of given teachers, real data and finite-size fits.
_T, _D, _FS = nslmodel.teacher, nslmodel.data, nslmodel.finite_size
_BETA2 = _T.isotropic_power(P)
_RNG = np.random.default_rng(0)
_DATA = _D.empirical(_RNG.standard_normal((40, 6)) * np.arange(1, 7) ** -1.0)
_Y = _DATA.inputs @ np.ones(6) + 0.1 * _RNG.standard_normal(40)
_TP = _D.target_power(_DATA, _Y)
_FIT_N = np.array([10.0, 20.0, 40.0, 80.0])
_FIT = _FS.fit_decay(_FIT_N, 0.8 * _FIT_N**-1.1, 1e-3 * np.ones(4))
_SIM_DATA = _D.empirical(_RNG.standard_normal((30, 400)) * np.sqrt(P.eigenvalues))
_SIM_Z = _SIM_DATA.inputs
_OTHER_TP = _D.target_power(_D.empirical(_RNG.standard_normal((20, 3))), _RNG.standard_normal(20))

_WRONG_KIND |= {
    "array": [True, "abc", 5.0, None, np.array([1 + 1j, 2.0]), [True, 1.0], ["a", "b"]],
    "opt_array": [True, "abc", 5.0, np.array([1 + 1j, 2.0]), [True, 1.0]],
    "instance": [None, 5.0, "x", [1.0, 2.0]],
    "families": [None, "abc", 5, _FS.Family(1.0, 1.0), [1.0]],
    "images": [None, "abc", 5, [np.array([["a"]])], [np.array([[1 + 1j]])]],
    "opt_seed0": ["1", True, [1, 2], 1j],
}
_WRONG_VALUE |= {
    "power_M": [np.ones(399), np.full(400, -1.0), np.r_[math.nan, np.ones(399)], np.full(400, math.inf),
                np.ones((400, 1)), []],
    "W_3": [np.ones(4), np.ones((2, 4)), [[math.nan, 1.0, 1.0]], np.ones((2, 2, 3)), [math.inf, 1.0, 1.0]],
    "data_matrix": [np.ones((1, 3)), np.zeros((5, 3)), [[math.nan, 1.0], [1.0, 2.0]], np.ones(5),
                    [[math.inf, 1.0], [0.0, 1.0]]],
    "y_40": [np.ones(41), np.full(40, math.nan), np.ones((40, 2, 2)), []],
    "target": [_OTHER_TP],
    "delta": [math.nan, math.inf, -math.inf, -1e6],
    "nonneg_scalar_big": [-1.0, math.nan, math.inf, 1e200],
    "finite": [math.nan, math.inf, -math.inf],
    "eigs": [[], [-1.0, 1.0, 1.0, 1.0, 1.0], [1.0, math.nan, 0.5, 0.2], [[1.0, 0.5]], [1.0, 0.5, 0.0]],
    "sizes": [[0.0, 2.0, 4.0], [-1.0, 2.0, 4.0], [math.nan, 2.0, 4.0], [math.inf, 2.0, 4.0], [],
              [1.0, 2.0, 3.0, 4.0, 5.0]],
    "losses": [[1.0, math.nan, 0.2], [1.0, 0.5]],
    "floor": [math.nan, math.inf, 10.0],
    "grid": [1, 0, 2.5, math.nan, 10**30],
    "k_patch": [0, -1, 2.5, math.nan, 10**30, 100],
    "opt_seed0": [-1, 2.5],
    "T_over_M": [0.0, -1.0, math.nan, math.inf, 1e6],
    "fit_size": [0.0, -1.0, math.nan, math.inf, [10.0, 20.0]],
    "fit_err": [0.0, -1.0, math.nan, math.inf],
    "common_size": [0.0, math.nan, [[10.0, 20.0, 40.0, 80.0]] * 2 + [[10.0, -1.0, 40.0, 80.0]]],
    "sim_W": [np.ones(3), np.full((1, 400), math.nan), np.ones((2, 400)), np.ones((1, 1, 400)), []],
    "sim_inputs": [np.ones((5, 3)), np.full((2, 400), math.nan), np.ones(400), np.ones((0, 400)),
                   2.0 * _SIM_Z],
    "sim_targets": [np.ones(31), np.full(30, math.nan), np.ones((30, 2)), np.ones((30, 1, 1))],
}
_TEACHER = dict(N=("real", "size"), T=("real", "size"), spectrum=("spectrum", "spectrum"),
                teacher=("array", "power_M"), sigma_u=("scalar", "pos_scalar"),
                sigma_eps=("scalar", "nonneg_scalar"), C=("int", "int"))
for _name in ("expected_loss", "expected_loss_terms", "ridgeless_loss", "optimal_ridge"):
    _FUNCTIONS[_name][2]["teacher"] = ("opt_array", "power_M")
for _name in ("simulate_loss", "simulate_sweep"):
    _FUNCTIONS[_name][2].update(teacher=("opt_array", "sim_W"), inputs=("opt_array", "sim_inputs"),
                                targets=("opt_array", "sim_targets"))
_TGOOD = dict(N=50, T=80, spectrum=P, teacher=_BETA2)
_FUNCTIONS |= {
    "teacher.isotropic_power": (_T.isotropic_power, dict(spectrum=P),
                                dict(spectrum=("spectrum", "spectrum"), sigma_w=("scalar", "nonneg_scalar_big"),
                                     C=("int", "int"))),
    "teacher.source_power": (_T.source_power, dict(spectrum=P, delta=0.5),
                             dict(spectrum=("spectrum", "spectrum"), delta=("scalar", "delta"),
                                  total=("opt_scalar", "pos_scalar"))),
    "teacher.teacher_power": (_T.teacher_power, dict(W=np.ones((2, 3)), eigenvalues=[1.0, 0.5, 0.25]),
                              dict(W=("array", "W_3"), eigenvalues=("spectrum", "spectrum"))),
    "teacher.teacher_loss": (_T.teacher_loss, dict(_TGOOD, gamma=1e-3), {**_TEACHER, "gamma": ("real", "ridge")}),
    "teacher.teacher_loss_terms": (_T.teacher_loss_terms, dict(_TGOOD, gamma=1e-3),
                                   {**_TEACHER, "gamma": ("real", "ridge")}),
    "teacher.teacher_ridgeless_loss": (_T.teacher_ridgeless_loss, _TGOOD, _TEACHER),
    "teacher.teacher_optimal_ridge": (_T.teacher_optimal_ridge, _TGOOD, _TEACHER),
    "data.empirical": (_D.empirical, dict(X=np.ones((3, 2)) * [[1.0], [2.0], [4.0]]), dict(X=("array", "data_matrix"))),
    "data.target_power": (_D.target_power, dict(data=_DATA, y=_Y), dict(data=("instance", None), y=("array", "y_40"))),
    "data.target_loss": (_D.target_loss, dict(N=4, T=8, gamma=1e-2, data=_DATA, target=_TP),
                         dict(N=("real", "size"), T=("real", "size"), gamma=("real", "ridge0"),
                              data=("instance", None), target=("instance", "target"),
                              sigma_u=("scalar", "pos_scalar"))),
    "data.patches": (_D.patches, dict(images=[np.ones((8, 8)), np.ones((9, 9, 3))], k=4),
                     dict(images=("images", None), k=("int", "k_patch"), stride=("opt_int", "int"))),
    "data.sample_image_patches": (_D.sample_image_patches, dict(k=64, stride=64),
                                  dict(k=("int", "int"), stride=("opt_int", "int"))),
    "data.fit_power_law": (_D.fit_power_law, dict(eigenvalues=np.arange(1.0, 51.0) ** -1.5),
                           dict(eigenvalues=("array", "eigs"), tol=("scalar", "pos_scalar"),
                                min_decades=("scalar", "nonneg_scalar"), grid=("int", "grid"))),
    "data.compare_learning_curve": (
        _D.compare_learning_curve, dict(N=4, T=[8, 12], ridge_factor=1.0, data=_DATA, trials=2, seed=1),
        dict(N=("int_grid", "int_grid"), T=("int_grid", "int_grid"), ridge_factor=("real", "pos_scalar"),
             data=("instance", None), y=("opt_array", "y_40"), trials=("int", "int"), seed=("seed", "seed"),
             executor=("executor", "executor"))),
    "data.excess_exponent": (_D.excess_exponent, dict(x=[1.0, 2.0, 4.0], loss=[1.0, 0.5, 0.25]),
                             dict(x=("array", "sizes"), loss=("array", "losses"), floor=("scalar", "floor"))),
    "finite_size.Family": (_FS.Family, dict(N_over_T=1.0, ridge=1.0),
                           dict(N_over_T=("scalar", "pos_scalar"), ridge=("scalar", "nonneg_scalar"))),
    "finite_size.family_grid": (_FS.family_grid, dict(families=[_FS.Family(1.0, 1.0)], T_values=[20, 40],
                                                      T_over_M=0.1, alpha=1.0),
                                dict(families=("families", None), T_values=("int_grid", "int_grid"),
                                     T_over_M=("scalar", "T_over_M"), alpha=("scalar", "pos_scalar"))),
    "finite_size.theory_loss": (_FS.theory_loss, dict(N=[50, 60], T=80, gamma=[0.0, 1e-3], spectrum=P),
                                dict(N=("real", "size"), T=("real", "size"), gamma=("real", "ridge0"),
                                     spectrum=("spectrum", "spectrum"))),
    "finite_size.scan": (_FS.scan, dict(families=[_FS.Family(1.0, 1.0)], T_values=[10], T_over_M=0.5, alpha=1.0,
                                        trials=2, seed=1),
                         dict(families=("families", None), T_values=("int_grid", "int_grid"),
                              T_over_M=("scalar", "T_over_M"), alpha=("scalar", "pos_scalar"),
                              trials=("int", "int"), seed=("opt_seed0", "opt_seed0"),
                              executor=("executor", "executor"))),
    "finite_size.fit_decay": (_FS.fit_decay, dict(size=_FIT_N, dev=0.8 * _FIT_N**-1.1, err=1e-3 * np.ones(4)),
                              dict(size=("real", "fit_size"), dev=("real", "finite"), err=("real", "fit_err"),
                                   n_ref=("opt_scalar", "pos_scalar"))),
    "finite_size.fit_common_exponent": (
        _FS.fit_common_exponent,
        dict(size=np.tile(_FIT_N, (2, 1)), dev=np.outer([1.0, 2.0], _FIT_N**-1.1), err=1e-3 * np.ones((2, 4))),
        dict(size=("real", "common_size"), dev=("real", "finite"), err=("real", "fit_err"))),
    "finite_size.threshold_size": (_FS.threshold_size, dict(fit=_FIT, eps=1e-2),
                                   dict(fit=("instance", None), eps=("scalar", "pos_scalar"))),
}

def _cases():
    for fname, (fn, good, params) in _FUNCTIONS.items():
        for pname, (kind, value) in params.items():
            for v in _WRONG_KIND[kind]:
                yield pytest.param(fname, pname, v, TypeError, id=f"{fname}-{pname}-kind-{v!r}"[:80])
            for v in _WRONG_VALUE.get(value, []) if value else []:
                yield pytest.param(fname, pname, v, ValueError, id=f"{fname}-{pname}-value-{v!r}"[:80])


_CASES = list(_cases())


def _call(fname, pname, value):
    fn, good, _ = _FUNCTIONS[fname]
    kw = {**good, pname: value}
    if fname.startswith("simulate") and pname == "T_test":
        kw["method"] = "sampled"
    if fname.startswith("simulate") and pname in ("inputs", "targets"):
        kw["spectrum"] = _SIM_DATA.spectrum
        if pname == "targets":
            kw["inputs"] = _SIM_Z
    return fn(**kw)


@pytest.mark.parametrize("fname, pname, value, kind", _CASES)
def test_bad_input_matrix(fname, pname, value, kind):
    """The exception type is exactly the kind's (TypeError xor ValueError) and the one-line
    message names the parameter."""
    with pytest.raises((TypeError, ValueError)) as info:
        _call(fname, pname, value)
    other = ValueError if kind is TypeError else TypeError
    assert isinstance(info.value, kind) and not isinstance(info.value, other), repr(info.value)
    msg = str(info.value)
    assert re.search(rf"\b{re.escape(pname)}\b", msg) or (pname == "eigenvalues" and "spectrum" in msg), msg
    assert "\n" not in msg, msg


@pytest.mark.parametrize("fname", list(_FUNCTIONS))
def test_the_good_call_of_the_matrix_works(fname):
    """Each row of the matrix differs from a call that succeeds in one argument only."""
    fn, good, _ = _FUNCTIONS[fname]
    fn(**good)


def test_matrix_covers_every_public_function():
    """Every function of nslmodel.__all__ and nslmodel.scaling.__all__ that takes input is in
    the matrix, and every parameter the validation layer declares for it is exercised."""
    public = {n for n in nslmodel.__all__ if callable(getattr(nslmodel, n)) and n[0].islower()}
    public |= {"PowerLaw", "Spectrum", "as_spectrum"}
    public |= {f"scaling.{n}" for n in nslmodel.scaling.__all__ if n[0].islower()}
    assert public <= set(_FUNCTIONS), public - set(_FUNCTIONS)
    for fname, (fn, _, params) in _FUNCTIONS.items():
        declared = getattr(fn, "constraints", None)
        if declared is not None:
            assert set(declared) <= set(params), (fname, set(declared) - set(params))


def count_cases_per_function() -> dict:
    """Bad-input cases per function (reported in the closing note)."""
    out = {}
    for p in _CASES:
        out[p.values[0]] = out.get(p.values[0], 0) + 1
    return out


_BROADCAST = {
    "expected_loss": lambda: nslmodel.expected_loss([10, 20, 30], [40, 50], 1e-3, P),
    "expected_loss_terms": lambda: nslmodel.expected_loss_terms(10, [40, 50], [1e-3, 1e-2, 1e-1], P),
    "solve": lambda: nslmodel.solve([10, 20, 30], 80, [1e-3, 1e-2], P),
    "ridgeless_loss": lambda: nslmodel.ridgeless_loss([10, 20, 30], [40, 50], P),
    "optimal_ridge": lambda: nslmodel.optimal_ridge([10, 20, 30], [40, 50], P),
    "simulate_sweep": lambda: nslmodel.simulate_sweep([10, 20, 30], [40, 50], 1e-3, P, trials=2, seed=1),
    "scaling.optimal_d": lambda: nslmodel.scaling.optimal_d([10, 20, 30], [40, 50], 0.5),
    "scaling.approx_loss": lambda: nslmodel.scaling.approx_loss([1, 2, 3], [10, 20], 100.0, 1e4, 1.0),
    "scaling.approx_D1": lambda: nslmodel.scaling.approx_D1([1e-3, 1e-2, 1e-1], [1e3, 1e4], 1.0),
}


@pytest.mark.parametrize("fname", list(_BROADCAST))
def test_mismatched_shapes_name_the_parameters(fname):
    with pytest.raises(ValueError, match=r"must have shapes that broadcast together") as info:
        _BROADCAST[fname]()
    assert re.search(r"\bN\b|\brho\b|\bd\b", str(info.value)), str(info.value)
    assert "(3,)" in str(info.value), str(info.value)


def test_loss_curve_takes_scalar_N_and_T():
    with pytest.raises(TypeError, match="scalar N and T"):
        nslmodel.loss_curve([10, 20], 80, [1e-3], P)


def test_integral_floats_are_integers_and_nothing_else_is_coerced():
    """1e3 is the integer 1000 (the CLI's --M 1e7 relies on it); ints are exact beyond 2**53."""
    assert nslmodel.PowerLaw(1e3, 1.0).M == 1000 and isinstance(nslmodel.PowerLaw(1e3, 1.0).M, int)
    assert nslmodel.PowerLaw(np.int64(7), 1.0).M == 7
    assert nslmodel.PowerLaw(2**62 + 1, 0.01).M == 2**62 + 1


@pytest.mark.parametrize("executor", ["serial", "threads", "processes", None])
def test_executor_strings_give_the_serial_bits(executor):
    """'threads' and 'processes' run the trials on a pool made for the call, bit-identically."""
    base = nslmodel.simulate_loss(10, 20, 1e-2, P, trials=4, seed=3, progress=False)
    r = nslmodel.simulate_loss(10, 20, 1e-2, P, trials=4, seed=3, progress=False, executor=executor)
    assert np.array_equal(r.samples, base.samples)


# --------------------------------------------------------------------------------------------
# Extreme scales: the invariant combinations gamma / sigma_u**2, sigma_w**2, sigma_eps**2
# --------------------------------------------------------------------------------------------


def _log_rounding(*logs):
    """Relative rounding of a result computed as exp(sum of logs): eps per unit of |log|.

    Each log carries a relative rounding error of about one ulp, i.e. an absolute error of
    eps * |log x|, and exp turns an absolute error in its argument into a relative one. Summed
    over the logs involved (plus the O(1) logs of the traces, bounded by 100 here), times 8 for
    the handful of operations per term.
    """
    return 8 * FLOAT64_EPS * (100 + sum(abs(math.log(x)) for x in logs))


#: (gamma, sigma_u) pairs whose ratio gamma / sigma_u**2 is moderate while each is extreme.
_SCALE_PAIRS = [(1e-203, 1e-100), (1e197, 1e100), (1e-300, 1e-150), (1e300, 1e150), (1e-290, 1e-152)]


@pytest.mark.parametrize("gamma, sigma_u", _SCALE_PAIRS)
@pytest.mark.parametrize("sigma_w, sigma_eps", [(1.0, 0.0), (1e150, 0.0), (1e-150, 3e-151), (1.0, 1e150)])
def test_loss_depends_on_gamma_over_sigma_u_squared_and_scales_with_sigma_w_squared(gamma, sigma_u, sigma_w, sigma_eps):
    """loss(gamma, sigma_u, sigma_w, sigma_eps) = sigma_w^2 loss(gamma / sigma_u^2, 1, 1, sigma_eps / sigma_w)
    (book/solution.md: s_I = sigma_u^2 lambda_I / M, rho' = rho / sigma_u^2)."""
    g1 = gamma / sigma_u**2
    got = nslmodel.expected_loss(50, 80, gamma, P, sigma_u=sigma_u, sigma_w=sigma_w, sigma_eps=sigma_eps)
    unit = nslmodel.expected_loss(50, 80, g1, P, sigma_eps=sigma_eps / sigma_w)
    assert_rel_close(got, sigma_w**2 * unit, _log_rounding(gamma, sigma_u, sigma_w, g1), "scaled loss")


@pytest.mark.parametrize("sigma_u", [1e-160, 1e-100, 1e100, 1e170])
def test_ridgeless_and_optimal_at_extreme_sigma_u(sigma_u):
    """The ridgeless loss does not depend on sigma_u; gamma* and rho* scale as sigma_u^2."""
    base = nslmodel.ridgeless_loss(50, 80, P, sigma_eps=0.3)
    got = nslmodel.ridgeless_loss(50, 80, P, sigma_u=sigma_u, sigma_eps=0.3)
    assert_rel_close(got, base, RTOL_ROUNDING, "ridgeless loss at extreme sigma_u")
    o1 = nslmodel.optimal_ridge(50, 80, P)
    if abs(math.log10(sigma_u)) < 150:  # gamma* ~ 1e-3 sigma_u^2 must be representable
        o = nslmodel.optimal_ridge(50, 80, P, sigma_u=sigma_u)
        assert_rel_close(o.loss, o1.loss, RTOL_ROUNDING, "optimal loss")
        assert_rel_close(o.gamma, sigma_u**2 * o1.gamma, _log_rounding(sigma_u, o1.gamma), "gamma*")
    else:
        with pytest.raises(ValueError, match=r"gamma\*.*(over|under)flows.*sigma_u"):
            nslmodel.optimal_ridge(50, 80, P, sigma_u=sigma_u)


def test_the_issue_repros_at_extreme_scales():
    """expected_loss at sigma_u = 1e170 is the ridgeless loss (gamma / sigma_u^2 = 1e-343), at
    sigma_u = 1e-160 and 1e-170 the gamma -> infinity limit C sigma_w^2 tr(Lambda) / (2M); the
    corrections are O(gamma / sigma_u^2) and O(sigma_u^2 / gamma), far below rounding."""
    ridgeless = nslmodel.ridgeless_loss(50, 80, P)
    assert_rel_close(nslmodel.expected_loss(50, 80, 1e-3, P, sigma_u=1e170), ridgeless, RTOL_ROUNDING, "1e170")
    null = P.trace / (2 * P.M)
    for su in (1e-160, 1e-170):
        assert_rel_close(nslmodel.expected_loss(50, 80, 1e-3, P, sigma_u=su), null, RTOL_ROUNDING, f"sigma_u={su}")
    assert_rel_close(nslmodel.ridgeless_loss(50, 80, P, sigma_u=1e-160), ridgeless, RTOL_ROUNDING, "ridgeless")


@pytest.mark.parametrize(
    "kw, name",
    [(dict(sigma_w=1e200), "sigma_w"), (dict(sigma_eps=1e200), "sigma_eps"), (dict(sigma_w=1e-200), "sigma_w")],
)
@pytest.mark.parametrize("func", ["expected_loss", "ridgeless_loss", "optimal_ridge"])
def test_unrepresentable_losses_are_range_errors(kw, name, func):
    """A loss beyond float64 (1e400 at sigma_w = 1e200, 1e-400 at 1e-200) is a one-line range
    error that names the scale, not an OverflowError, inf or 0."""
    call = {
        "expected_loss": lambda: nslmodel.expected_loss(50, 80, 1e-3, P, **kw),
        "ridgeless_loss": lambda: nslmodel.ridgeless_loss(50, 80, P, **kw),
        "optimal_ridge": lambda: nslmodel.optimal_ridge(50, 80, P, **kw),
    }[func]
    with pytest.raises(ValueError, match=r"(over|under)flows float64") as info:
        call()
    assert name in str(info.value) and "\n" not in str(info.value)


def test_sizes_beyond_the_documented_range_are_refused_up_front():
    """N, T in [1e-150, 1e150] (N T and (N - T)^2 stay normal floats): the issue's 1e200 and
    1e-300 are ValueErrors naming N, not ConvergenceErrors after 1000 iterations."""
    for bad in (1e200, 1e-300):
        with pytest.raises(ValueError, match=r"\bN\b.*1e-150 <= N <= 1e\+150"):
            nslmodel.expected_loss(bad, bad, 1e-3, P)


def test_sizes_at_the_ends_of_the_range_match_their_limits():
    """At N = T = 1e150 >> M the noise loss is the full-rank ridgeless C sigma_eps^2 R / (2 (T - R))
    and the signal vanishes; at N = T = 1e-150 the loss is the null loss C sigma_w^2 tr / (2M).
    The corrections are O(R / T) = 4e-148 and O(N) = 1e-150, below rounding."""
    big = nslmodel.expected_loss(1e150, 1e150, 1e-3, P, sigma_eps=0.5)
    assert_rel_close(big, 0.5 * 0.25 * 400 / (1e150 - 400), RTOL_ROUNDING, "N = T = 1e150")
    small = nslmodel.expected_loss(1e-150, 1e-150, 1e-3, P)
    assert_rel_close(small, P.trace / (2 * P.M), RTOL_ROUNDING, "N = T = 1e-150")


def test_optimal_d_stays_in_its_range():
    """d* lies in (0, min(N, T)] and scales with N and T (the quadratic is homogeneous):
    optimal_d(1e-300, 1e300) is min(N, T) to rounding (d*/n = 1 - O(n/m)), not 0."""
    d = nslmodel.scaling.optimal_d(1e-300, 1e300, 0.5)
    assert_rel_close(d, 1e-300, RTOL_ROUNDING, "d* at n/m = 1e-600")
    for c in (1e-200, 1e200):
        assert_rel_close(nslmodel.scaling.optimal_d(10 * c, 100 * c, 0.5), c * nslmodel.scaling.optimal_d(10, 100, 0.5),
                         RTOL_ROUNDING, f"homogeneity at c = {c}")


def test_approximate_losses_at_extreme_sizes():
    """approx_loss and approx_optimal no longer form N T: at N = 1e-300, T = 1e300 the loss is
    the ridgeless n^-alpha law (d* = n, bracket (1 + a) - a - 0 = 1)."""
    o = nslmodel.scaling.approx_optimal(1e-300, 1e300, 1e4, 0.5)
    pref = 1 / (2 * 1e4) * nslmodel.scaling.amplitude(0.5) ** 1.5
    assert_rel_close(o.loss, pref * (1e-300) ** -0.5, _log_rounding(1e300, 1e4), "approx loss")


# --------------------------------------------------------------------------------------------
# Given teachers, real data and finite-size fits: no NaN or inf returned silently
# --------------------------------------------------------------------------------------------
_RANGE_ERRORS = {
    "teacher_loss, label noise beyond float64": (
        lambda: _T.teacher_loss(50, 80, 1e-3, P, _BETA2, sigma_eps=1e200), r"overflows.*sigma_eps"),
    "teacher_loss, loss below float64": (
        lambda: _T.teacher_loss(1e100, 1e100, 1e-3, P, _BETA2), r"underflows"),
    "teacher_loss, s_I below float64": (
        lambda: _T.teacher_loss(50, 80, 1e-3, P, _BETA2, sigma_u=1e-160), r"sigma_u"),
    "teacher_optimal_ridge, s_I below float64": (
        lambda: _T.teacher_optimal_ridge(50, 80, P, _BETA2, sigma_u=1e-160), r"sigma_u"),
    "isotropic_power beyond float64": (lambda: _T.isotropic_power(P, sigma_w=1e200), r"sigma_w.*overflows"),
    "source_power beyond float64": (lambda: _T.source_power(P, -1e6), r"delta"),
    "excess_exponent, one distinct x": (
        lambda: _D.excess_exponent([1.0, 1.0, 1.0], [1.0, 0.5, 0.25]), r"\bx\b.*distinct"),
    "fit_decay, one distinct size": (
        lambda: _FS.fit_decay([10.0, 10.0, 10.0], [0.1, 0.1, 0.1], [1e-3] * 3), r"\bsize\b.*distinct"),
}


@pytest.mark.parametrize("case", list(_RANGE_ERRORS))
def test_range_errors_instead_of_nan_or_inf(case):
    fn, pattern = _RANGE_ERRORS[case]
    with pytest.raises(ValueError, match=pattern) as info:
        fn()
    assert "\n" not in str(info.value)


def test_teacher_ridgeless_loss_does_not_depend_on_sigma_u_even_beyond_float64():
    """The ridgeless limit depends on the s_I only through their ratios: at sigma_u = 1e-160
    (s_I below float64) it equals the value at sigma_u = 1, like the isotropic ridgeless_loss."""
    ref = _T.teacher_ridgeless_loss(50, 80, P, _BETA2)
    tiny = _T.teacher_ridgeless_loss(50, 80, P, _BETA2, sigma_u=1e-160)
    iso = nslmodel.ridgeless_loss(50, 80, P, sigma_u=1e-160)
    assert tiny == ref  # the same computation, at sigma_u = 1
    # Isotropic teacher and isotropic closed form: two independent evaluations of one quantity,
    # agreeing to rounding (RTOL_ROUNDING, derived in _tolerance).
    assert_rel_close(tiny, iso, RTOL_ROUNDING, "teacher vs isotropic ridgeless loss")


def test_teacher_ridgeless_loss_keeps_its_documented_pole():
    assert _T.teacher_ridgeless_loss(50, 50, P, _BETA2) == math.inf


@pytest.mark.parametrize("module", ["teacher", "data", "finite_size"])
def test_matrix_covers_the_teacher_data_and_finite_size_functions(module):
    """Every function of these modules' __all__ is in the matrix (digits takes no input), with
    every parameter its declared constraints name."""
    mod = getattr(nslmodel, module)
    public = {f"{module}.{n}" for n in mod.__all__ if n[0].islower()} - {"data.digits"}
    assert public <= set(_FUNCTIONS), public - set(_FUNCTIONS)
    for fname in public:
        fn, _, params = _FUNCTIONS[fname]
        assert set(fn.constraints) <= set(params), (fname, set(fn.constraints) - set(params))


# --------------------------------------------------------------------------------------------
# nslmodel.analysis: the functions with declared constraints
# --------------------------------------------------------------------------------------------
_A = nslmodel.analysis
_WRONG_VALUE |= {
    "pos_array": [[0.0, 1.0, 2.0], [-1.0, 1.0, 2.0], [math.nan, 1.0, 2.0], [math.inf, 1.0, 2.0], []],
    "loss_5": [[1.0, 0.5, 0.4, 0.5, math.nan], [1.0, 0.5, 0.4, 0.5, 0.0], [1.0, 0.5]],
    "fit_points": [0, 2, 9, 2.5],
    "x_grid": [[1.0, 2.0], [0.0, 1.0, 2.0], [1.0, math.nan, 2.0]],
    "y_grid": [[1.0, 2.0], [0.0, 1.0, 2.0], [1.0, math.inf, 2.0], np.ones((2, 4))],
}
_A_GRID = np.geomspace(1e-3, 1e1, 5)
_ANALYSIS = {
    "analysis.theory_loss": (_A.theory_loss, dict(N=[50, 60], T=80, gamma=[0.0, 1e-3], spectrum=P),
                             dict(N=("real", "size"), T=("real", "size"), gamma=("real", "ridge0"),
                                  spectrum=("spectrum", "spectrum"))),
    "analysis.fitted_log_minimum": (
        _A.fitted_log_minimum, dict(gammas=_A_GRID, loss=1.0 + np.log(_A_GRID / 0.1) ** 2),
        dict(gammas=("array", "pos_array"), loss=("array", "loss_5"), fit_points=("int", "fit_points"),
             degree=("int", "int"))),
    "analysis.local_exponent": (_A.local_exponent, dict(x=[1.0, 2.0, 4.0], y=[1.0, 0.5, 0.25]),
                                dict(x=("array", "x_grid"), y=("array", "y_grid"))),
    "analysis.fitted_exponent": (_A.fitted_exponent, dict(x=[1.0, 2.0, 4.0], y=[1.0, 0.5, 0.25]),
                                 dict(x=("array", "pos_array"), y=("array", "pos_array"))),
    "analysis.sigma_y": (_A.sigma_y, dict(spectrum=P),
                         dict(spectrum=("spectrum", "spectrum"), sigma_w=("scalar", "nonneg_scalar"))),
    "analysis.latex_sci": (_A.latex_sci, dict(x=1.35e-4), dict(x=("scalar", "finite"), digits=("int", "int"))),
}
_FUNCTIONS |= _ANALYSIS
_ANALYSIS_CASES = [p for p in _cases() if p.values[0] in _ANALYSIS]


@pytest.mark.parametrize("fname, pname, value, kind", _ANALYSIS_CASES)
def test_bad_input_matrix_analysis(fname, pname, value, kind):
    test_bad_input_matrix(fname, pname, value, kind)


@pytest.mark.parametrize("fname", list(_ANALYSIS))
def test_the_good_call_of_the_analysis_matrix_works(fname):
    fn, good, _ = _FUNCTIONS[fname]
    fn(**good)


@pytest.mark.parametrize("args, word", [((1e10, 1000, 1e300), "underflows"), ((1e-10, 1000, 1e300), "overflows"),
                                        ((1e10, 1000, 1e3), "underflows")])
def test_range_error_far_beyond_float64_has_a_readable_size(args, word):
    """approx_rho = (lam_plus / M) (A / d)^(1 + alpha) at alpha = 1e300 is about 10^(-+1e301):
    the message states that size in a few characters, not as a 300-digit exponent; moderate
    exponents stay plain (1e-10013 at alpha = 1e3)."""
    d, M, alpha = args
    with pytest.raises(ValueError, match=word) as info:
        nslmodel.scaling.approx_rho(d, M, alpha)
    size = re.search(r"\(about (\S+)\)", str(info.value)).group(1)
    assert len(size) <= 16, size  # "10^(-1.00e+301)"
    shown = float(size[4:-1]) if size.startswith("10^(") else float(size[2:])
    # log10 rho = log10(1 / M) + (1 + alpha) (log10 A - log10 d), with log10 A < 1e-6 for
    # alpha >= 1e3 (A = (pi / (1 + alpha)) / sin(pi / (1 + alpha))); three digits are shown.
    exponent = -math.log10(M) - (1 + alpha) * math.log10(d)
    assert shown == pytest.approx(exponent, rel=5e-3), (size, exponent)
