"""Bad input: every public entry point and the CLI refuse it with a clear one-line message.

A message must name the parameter, show the offending value and state the allowed range, so
that a user can fix the call without reading the source.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import nslmodel
from _tolerance import RTOL_ROUNDING, assert_rel_close

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
# CLI
# --------------------------------------------------------------------------------------------

BASE = ["--M", "10000", "--alpha", "1"]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "nslmodel", *args], capture_output=True, text=True, timeout=120
    )


_CLI_BAD = [
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "-1"], "gamma"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "0"], "gamma"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "nan"], "gamma"),
    (["loss", *BASE, "--N", "0", "--T", "1000", "--gamma", "1e-4"], "N"),
    (["loss", *BASE, "--N", "100", "--T", "-5", "--gamma", "1e-4"], "T"),
    (["loss", *BASE, "--N", "100,-1,30", "--T", "1000", "--gamma", "1e-4"], "N"),
    (["loss", *BASE, "--N", "abc", "--T", "1000", "--gamma", "1e-4"], "N"),
    (["loss", "--M", "0", "--alpha", "1", "--N", "100", "--T", "1000", "--gamma", "1e-4"], "M"),
    (["loss", "--M", "100", "--alpha", "nan", "--N", "10", "--T", "10", "--gamma", "1"], "alpha"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--C", "0"], "C"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--sigma-u", "-1"], "sigma_u"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--sigma-w", "-1"], "sigma_w"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--sigma-eps", "-1"], "sigma_eps"),
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--lam-plus", "-2"], "lam_plus"),
    (["ridgeless", *BASE, "--N", "-100", "--T", "1000"], "N"),
    (["optimal", *BASE, "--N", "100", "--T", "0"], "T"),
    (["optimal", *BASE, "--N", "100", "--T", "1000", "--C", "-2"], "C"),
]


def _check_bad_cli_result(returncode, stdout, stderr, name):
    assert returncode == 2, (returncode, stdout, stderr)
    assert "Traceback" not in stderr and "Traceback" not in stdout
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    # argparse spells options with dashes (--sigma-u); either spelling names the parameter.
    assert re.search(rf"({re.escape(name)}|{re.escape(name.replace('_', '-'))})", lines[0]), lines[0]
    assert stdout == ""


def _ids(x):
    return " ".join(x) if isinstance(x, list) else x


#: The whole process path (python -m nslmodel) is exercised on a representative subset; each
#: subprocess costs about a second of interpreter start-up and imports.
_CLI_BAD_SUBPROCESS = [_CLI_BAD[i] for i in (0, 1, 6, 10, 14)]


@pytest.mark.parametrize("args, name", _CLI_BAD_SUBPROCESS, ids=_ids)
def test_cli_bad_input_exits_2_with_one_line(args, name):
    r = run_cli(*args)
    _check_bad_cli_result(r.returncode, r.stdout, r.stderr, name)


@pytest.mark.parametrize("args, name", _CLI_BAD, ids=_ids)
def test_cli_main_bad_input_exits_2_with_one_line(args, name, capsys):
    """Every bad-input case through the CLI entry point main(argv), in process."""
    from nslmodel.cli import main

    try:
        rc = main(args)
    except SystemExit as exc:
        rc = exc.code
    out = capsys.readouterr()
    _check_bad_cli_result(rc, out.out, out.err, name)


def _parse_text_losses(stdout):
    """Loss values from text output: a bare number per line, or 'loss=<value>' fields."""
    vals = []
    for line in stdout.strip().splitlines():
        m = re.search(r"loss=(\S+)", line)
        vals.append(float(m.group(1) if m else line.split()[-1]))
    return vals


def _parse_json(stdout):
    data = json.loads(stdout)
    return data if isinstance(data, list) else [data]


def test_cli_loss_prints_the_api_value():
    r = run_cli("loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    (val,) = _parse_text_losses(r.stdout)
    want = nslmodel.expected_loss(100, 1000, 1e-4, nslmodel.PowerLaw(10000, 1.0))
    # The CLI prints enough digits to round-trip; it may go through the grid path, which
    # differs from the scalar call only by rounding.
    assert_rel_close(val, want, RTOL_ROUNDING, "CLI loss")


def test_cli_all_model_options_reach_the_api():
    opts = ["--sigma-u", "0.7", "--sigma-w", "1.9", "--sigma-eps", "0.4", "--C", "3", "--lam-plus", "2.5"]
    r = run_cli("loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", *opts, "--json")
    assert r.returncode == 0, r.stderr
    (rec,) = _parse_json(r.stdout)
    want = nslmodel.expected_loss(
        100, 1000, 1e-4, nslmodel.PowerLaw(10000, 1.0, lam_plus=2.5), sigma_u=0.7, sigma_w=1.9, sigma_eps=0.4, C=3
    )
    assert_rel_close(rec["loss"], want, RTOL_ROUNDING, "CLI loss with all options")


def test_cli_grid_text_and_json():
    """Comma-separated lists give one value per grid point, in text and in JSON."""
    args = ["loss", *BASE, "--N", "10,100,1000", "--T", "1000", "--gamma", "1e-4,1e-3"]
    text = run_cli(*args)
    js = run_cli(*args, "--json")
    assert text.returncode == 0 and js.returncode == 0, (text.stderr, js.stderr)
    vals = _parse_text_losses(text.stdout)
    recs = _parse_json(js.stdout)
    assert len(vals) == 6 and len(recs) == 6
    spec = nslmodel.PowerLaw(10000, 1.0)
    for rec in recs:
        want = nslmodel.expected_loss(rec["N"], rec["T"], rec["gamma"], spec)
        assert_rel_close(rec["loss"], want, RTOL_ROUNDING, f"CLI grid point {rec}")
    assert sorted(vals) == pytest.approx(sorted(r["loss"] for r in recs), rel=RTOL_ROUNDING)
    assert {(r["N"], r["gamma"]) for r in recs} == {(n, g) for n in (10.0, 100.0, 1000.0) for g in (1e-4, 1e-3)}


def test_cli_ridgeless_and_optimal_match_api():
    spec = nslmodel.PowerLaw(10000, 1.0)
    r = run_cli("ridgeless", *BASE, "--N", "100", "--T", "1000", "--sigma-eps", "0.3", "--json")
    assert r.returncode == 0, r.stderr
    (rec,) = _parse_json(r.stdout)
    assert_rel_close(rec["loss"], nslmodel.ridgeless_loss(100, 1000, spec, sigma_eps=0.3), RTOL_ROUNDING, "CLI ridgeless")
    r = run_cli("optimal", *BASE, "--N", "100,200", "--T", "1000", "--json")
    assert r.returncode == 0, r.stderr
    recs = _parse_json(r.stdout)
    assert len(recs) == 2
    for rec in recs:
        o = nslmodel.optimal_ridge(rec["N"], rec["T"], spec)
        assert_rel_close(rec["loss"], o.loss, RTOL_ROUNDING, "CLI optimal loss")
        assert_rel_close(rec["gamma"], o.gamma, 1e-6, "CLI optimal gamma")  # flat minimum
    text = run_cli("ridgeless", *BASE, "--N", "100", "--T", "100")
    assert text.returncode == 0 and _parse_text_losses(text.stdout) == [math.inf]
