"""The command-line interface (nslmodel.cli): results equal the API's, bad input exits 2.

Every bad invocation must exit with status 2 and print one line on standard error that names
the parameter, with no traceback; Ctrl-C exits 130 with one line, a closed output pipe ends the
run quietly, and the text output survives a terminal that cannot encode '\u00b1'.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

import nslmodel
from _tolerance import RTOL_ROUNDING, assert_rel_close

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
    _check_main_in_process(args, name, capsys)


def _check_main_in_process(args, name, capsys):
    """Run main(argv) in process and check its exit status and single stderr line."""
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


# --------------------------------------------------------------------------------------------
# Bad invocations per subcommand
# --------------------------------------------------------------------------------------------

_REQUIRED = {
    "loss": ["--M", "400", "--alpha", "1", "--N", "50", "--T", "80", "--gamma", "1e-3"],
    "ridgeless": ["--M", "400", "--alpha", "1", "--N", "50", "--T", "80"],
    "optimal": ["--M", "400", "--alpha", "1", "--N", "50", "--T", "80"],
    "simulate": ["--M", "400", "--alpha", "1", "--N", "50", "--T", "80", "--gamma", "1e-3",
                 "--trials", "2", "--seed", "1", "--no-progress"],
}
#: Bad values of the options every subcommand has, with the parameter the message must name.
_COMMON_BAD = [
    ("--M", v, "M") for v in ("0", "-3", "2.5", "abc", "99999999999999999999", "1e30")
] + [
    ("--alpha", v, "alpha") for v in ("nan", "-1", "abc", "inf")
] + [
    ("--lam-plus", v, "lam_plus") for v in ("-2", "0", "inf")
] + [
    ("--N", v, "N") for v in ("0", "-1", "abc", "nan", "1e200", "10,-1", "")
] + [
    ("--T", v, "T") for v in ("0", "1e200", "inf", "1e-300")
] + [
    ("--sigma-u", v, "sigma_u") for v in ("-1", "0", "nan")
] + [
    ("--sigma-w", v, "sigma_w") for v in ("-1", "nan", "1e200")
] + [
    ("--sigma-eps", v, "sigma_eps") for v in ("-1", "inf", "1e200")
] + [
    ("--C", v, "C") for v in ("0", "-2", "1.5", "99999999999999999999")
]
_EXTRA_BAD = {
    "loss": [("--gamma", v, "gamma") for v in ("-1", "0", "nan", "abc", "inf")],
    "ridgeless": [],
    "optimal": [("--sigma-u", "1e-170", "sigma_u"), ("--sigma-u", "1e170", "sigma_u")],
    "simulate": [("--gamma", v, "gamma") for v in ("-1", "nan", "abc")]
    + [("--trials", v, "trials") for v in ("0", "2.5", "abc", "1e30")]
    + [("--seed", v, "seed") for v in ("-1", "abc", "1.5")]
    + [("--method", "mc", "method"), ("--N", "2.5", "N"), ("--T", "80,2.5", "T"),
       ("--sigma-u", "1e-170", "sigma_u"), ("--sigma-w", "1e-170", "sigma_w")],
}


def _with(args, option, value):
    """``args`` with ``option`` set to ``value`` (replacing it, or appended)."""
    args = list(args)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def _cli_cases():
    for cmd, base in _REQUIRED.items():
        for option, value, name in _COMMON_BAD + _EXTRA_BAD[cmd]:
            yield pytest.param([cmd, *_with(base, option, value)], name, id=f"{cmd} {option} {value!r}")
        # every required option left out
        for i in range(0, len(base), 2):
            option = base[i]
            if option == "--no-progress":
                continue
            name = option[2:].replace("-", "_")
            yield pytest.param([cmd, *base[:i], *base[i + 2:]], name, id=f"{cmd} without {option}")


_CLI_CASES = list(_cli_cases())


def count_cli_cases_per_subcommand() -> dict:
    """Bad invocations per subcommand (reported in the closing note)."""
    out = {}
    for p in _CLI_CASES:
        out[p.values[0][0]] = out.get(p.values[0][0], 0) + 1
    return out


@pytest.mark.parametrize("args, name", _CLI_CASES)
def test_every_bad_invocation_exits_2_with_one_line(args, name, capsys):
    _check_main_in_process(args, name, capsys)


#: Two of the issue's repros through the whole process (python -m nslmodel); the others, and
#: these, are in the in-process matrix above (each subprocess costs a few seconds of imports).
_ISSUE_REPROS = [
    (["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--sigma-w", "1e200"], "sigma_w"),
    (["loss", "--M", "99999999999999999999", "--alpha", "1", "--N", "100", "--T", "1000", "--gamma", "1e-4"], "M"),
]


@pytest.mark.parametrize("args, name", _ISSUE_REPROS, ids=_ids)
def test_issue_repros_exit_2_in_a_process(args, name):
    r = run_cli(*args)
    _check_bad_cli_result(r.returncode, r.stdout, r.stderr, name)


def test_tiny_sigma_u_gives_the_answer(capsys):
    """--sigma-u 1e-160 is a representable problem for `loss` and `ridgeless`: gamma / sigma_u^2
    is huge (the null loss) and the ridgeless loss does not depend on sigma_u."""
    from nslmodel.cli import main

    spec = nslmodel.PowerLaw(10000, 1.0)
    assert main(["ridgeless", *BASE, "--N", "50", "--T", "80", "--sigma-u", "1e-160", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert isinstance(rec["loss"], float), rec  # a number: never "-inf" or NaN
    assert_rel_close(rec["loss"], nslmodel.ridgeless_loss(50, 80, spec), RTOL_ROUNDING, "ridgeless")
    assert main(["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4", "--sigma-u", "1e-170"]) == 0
    # gamma / sigma_u^2 = 1e336: the gamma -> infinity limit C sigma_w^2 tr(Lambda) / (2M), with
    # corrections O(sigma_u^2 / gamma) far below rounding.
    null = spec.trace / (2 * spec.M)
    assert_rel_close(float(capsys.readouterr().out), null, RTOL_ROUNDING, "loss at sigma_u = 1e-170")


def test_version(capsys):
    from nslmodel.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"nslmodel {nslmodel.__version__}"


def test_integer_options_accept_integral_scientific_notation(capsys):
    from nslmodel.cli import main

    assert main(["loss", "--M", "1e4", "--alpha", "1", "--N", "100", "--T", "1000", "--gamma", "1e-4"]) == 0
    sci = capsys.readouterr().out
    assert main(["loss", "--M", "10000", "--alpha", "1", "--N", "100", "--T", "1000", "--gamma", "1e-4"]) == 0
    assert sci == capsys.readouterr().out


def test_json_never_holds_nan_and_marks_true_divergences(capsys):
    """The ridgeless loss at N = T is infinite (double descent): JSON shows the string "inf";
    no value is ever NaN (json.dumps(..., allow_nan=False) would refuse it)."""
    from nslmodel.cli import _json_value, main

    assert main(["ridgeless", *BASE, "--N", "100,200", "--T", "100", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert recs[0]["loss"] == "inf" and isinstance(recs[1]["loss"], float)
    with pytest.raises(FloatingPointError):
        _json_value(math.nan)


def _interrupt(code, args, ready, wait=0.0):
    """Run ``python -c code *args``, send SIGINT ``wait`` s after it prints ``ready`` on stderr,
    and check the end: status 130, the one line on stderr, nothing on stdout."""
    import signal
    import time

    p = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored when run in background
    )
    try:
        assert p.stderr.readline() == ready + "\n"
        time.sleep(wait)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130, (p.returncode, err)
    assert err.strip() == "nslmodel: interrupted" and out == ""


def test_ctrl_c_during_simulate_exits_130_with_one_line():
    """SIGINT in the middle of a long simulation: one line on stderr, status 130."""
    code = "import sys, nslmodel.cli as c; print('ready', file=sys.stderr, flush=True); sys.exit(c.main(sys.argv[1:]))"
    args = ["simulate", "--M", "4000", "--alpha", "1", "--N", "500", "--T", "800", "--gamma", "1e-3",
            "--trials", "1000", "--seed", "1"]
    _interrupt(code, args, "ready", wait=0.5)  # into the trials: 1000 of them at M = 4000 take minutes


#: The entry points as they start: the console script's wrapper (`from nslmodel.cli import
#: main; sys.exit(main())`) and `python -m nslmodel`.
_ENTRY_POINTS = {
    "console-script": "from nslmodel.cli import main; sys.exit(main())",
    "python -m": "import runpy; runpy.run_module('nslmodel', run_name='__main__', alter_sys=True)",
}
# A finder that stalls the import of numpy (as a cold disk cache does for a second or more)
# and says so, so that SIGINT lands inside that import, not before or after it.
_SLOW_NUMPY = """
import sys, time
class SlowNumpy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            print("importing numpy", file=sys.stderr, flush=True)
            time.sleep(60)
sys.meta_path.insert(0, SlowNumpy())
"""


@pytest.mark.parametrize("entry", list(_ENTRY_POINTS))
def test_ctrl_c_while_numpy_loads_exits_130_with_one_line(entry):
    """SIGINT while the package's dependencies import: one line, status 130, no traceback."""
    args = ["loss", *BASE, "--N", "100", "--T", "1000", "--gamma", "1e-4"]
    _interrupt(_SLOW_NUMPY + _ENTRY_POINTS[entry], args, "importing numpy")


def test_importing_the_cli_loads_no_numpy():
    """`nslmodel --help` and `--version` need neither numpy nor scipy (and so start at once)."""
    code = ("import sys; from nslmodel.cli import main\n"
            "try:\n    main(['optimal', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("[]"), (r.stdout, r.stderr)


def test_closed_pipe_ends_quietly():
    """`nslmodel loss ... | head -1` on a grid whose output exceeds the pipe buffer (64 KiB):
    nothing on stderr and status 1, as in the recipe of Python's signal module documentation
    ("Note on SIGPIPE"; Python itself exits with 1 on EPIPE)."""
    grid = ",".join(str(n) for n in range(1, 1201))
    cmd = (f"{sys.executable} -m nslmodel loss --M 1000 --alpha 1 --N {grid} --T 1000 "
           "--gamma 1e-4,1e-3 | head -1; exit ${PIPESTATUS[0]}")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert r.stderr == "", r.stderr
    assert len(r.stdout.splitlines()) == 1 and r.stdout.startswith("N=1 ")
    assert r.returncode == 1, r.returncode


def test_plus_minus_falls_back_to_ascii_under_the_c_locale():
    """LC_ALL=C PYTHONUTF8=0: stdout may be ASCII; the output must not raise."""
    import os

    drop = ("PYTHONIOENCODING", "PYTHONUTF8", "LC_ALL", "LANG", "LC_CTYPE")
    env = {k: v for k, v in os.environ.items() if k not in drop} | dict(LC_ALL="C", PYTHONUTF8="0")
    r = subprocess.run(
        [sys.executable, "-m", "nslmodel", "simulate", "--M", "100", "--alpha", "1", "--N", "10", "--T", "20",
         "--gamma", "1e-2", "--trials", "3", "--seed", "1"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    mean, sep, sem = r.stdout.split()
    assert sep in ("+/-", "\u00b1") and float(mean) > 0 and float(sem) > 0


@pytest.mark.parametrize("encoding, sign", [("ascii", "+/-"), ("latin-1", "\u00b1"), ("utf-8", "\u00b1"), (None, "+/-")])
def test_plus_minus_follows_what_stdout_can_encode(encoding, sign):
    from nslmodel.cli import _plus_minus

    class Stream:
        pass

    stream = Stream()
    stream.encoding = encoding
    assert _plus_minus(stream) == sign


# --------------------------------------------------------------------------------------------
# Text output: only the digits each number supports
# --------------------------------------------------------------------------------------------

def _significant_digits(text):
    """Significant digits written in a number's mantissa ('2.410e-4' -> 4, '0.0120' -> 3)."""
    mantissa = text.lower().split("e")[0].lstrip("+-").replace(".", "")
    return len(mantissa.lstrip("0"))


def _last_unit(text):
    """The value of one unit in the last written digit ('2.410e-4' -> 1e-7, '0.012' -> 1e-3)."""
    mantissa, _, exp = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exp or 0) - decimals)


def _fields(line):
    return dict(f.split("=", 1) for f in line.split())


#: (M, alpha, N, T): the flat regime (T / N = 1e6, the loss changes ~1e-12 when gamma doubles)
#: and a sharp minimum (N = T), on spectra the 40-digit reference rebuilds exactly.
_OPTIMAL_DIGIT_CASES = [(300, 0.5, 10, 1e7), (300, 1.0, 100, 100)]


@pytest.mark.parametrize("M, alpha, N, T", _OPTIMAL_DIGIT_CASES)
def test_optimal_text_shows_the_digits_the_solver_determines(M, alpha, N, T, capsys):
    """gamma* and L* carry GAMMA_DIGITS and LOSS_DIGITS significant digits, each within 1.5
    units of its last digit of the 40-digit optimum (half a unit of rounding plus the solver's
    tested accuracy, 1e-10 and 1e-13 relative, which is below one unit with that many digits);
    the 1% band is the API's gamma_lo..gamma_hi rounded to BAND_DIGITS, around gamma*; --json
    keeps the API's bits."""
    import mp_reference as ref
    from nslmodel.cli import BAND_DIGITS, GAMMA_DIGITS, LOSS_DIGITS, main

    base = ["--M", str(M), "--alpha", str(alpha), "--N", str(N), "--T", str(T)]
    assert main(["optimal", *base]) == 0
    f = _fields(capsys.readouterr().out)
    exact = ref.optimal_stationary(N, T, ref.power_law_eigenvalues(M, alpha))
    for key, digits, want in (("gamma*", GAMMA_DIGITS, exact.gamma), ("loss", LOSS_DIGITS, exact.loss)):
        assert _significant_digits(f[key]) == digits, f
        assert abs(float(f[key]) - float(want)) <= 1.5 * _last_unit(f[key]), (key, f[key], want)
    o = nslmodel.optimal_ridge(N, T, nslmodel.PowerLaw(M, alpha))
    lo, hi = f["gamma_1%"].split("..")
    for text, value in ((lo, o.gamma_lo), (hi, o.gamma_hi)):
        if value == 0 or math.isinf(value):  # the band reaches gamma -> 0 or -> infinity: exact
            assert float(text) == value, (text, value)
            continue
        assert _significant_digits(text) == BAND_DIGITS, text
        assert abs(float(text) - value) <= 0.5 * _last_unit(text) * (1 + 1e-12), (text, value)  # rounding only
    assert float(lo) <= float(f["gamma*"]) <= float(hi)
    assert main(["optimal", *base, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert (rec["gamma"], rec["loss"], rec["gamma_lo"], rec["gamma_hi"]) == (o.gamma, o.loss, o.gamma_lo, o.gamma_hi)


def test_optimal_text_at_the_ridgeless_optimum(capsys):
    """min(N, T) >= M without noise: gamma* = 0 and L* = 0 exactly, printed as such."""
    from nslmodel.cli import main

    assert main(["optimal", "--M", "100", "--alpha", "1", "--N", "200,300", "--T", "400"]) == 0
    for line in capsys.readouterr().out.splitlines():
        f = _fields(line)
        assert (float(f["gamma*"]), float(f["loss"])) == (0.0, 0.0), line


def test_help_states_what_the_printed_digits_mean(capsys):
    from nslmodel.cli import BAND_DIGITS, GAMMA_DIGITS, LOSS_DIGITS, SEM_DIGITS, main
    from nslmodel.optimal import LOSS_EXCESS

    for cmd, phrases in (("optimal", [f"gamma* to {GAMMA_DIGITS}", f"L* to {LOSS_DIGITS}",
                                      f"within {LOSS_EXCESS:.0%} of L* ({BAND_DIGITS} significant"]),
                         ("simulate", [f"mean to {SEM_DIGITS} significant", "same decimal place"])):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(p in text for p in phrases), (cmd, text)


def _check_mean_sem(text, mean, sem, sem_digits):
    """mean +- sem text: sem to sem_digits significant digits, mean rounded at its last digit."""
    mean_text, sign, sem_text = text.split()
    assert sign in ("+/-", "\u00b1"), text
    unit = _last_unit(sem_text)
    assert _significant_digits(sem_text) == sem_digits, text
    assert abs(float(sem_text) - sem) <= 0.5 * unit * (1 + 1e-12), text  # rounding only
    assert _last_unit(mean_text) == pytest.approx(unit, rel=1e-12), text  # the same last place
    assert abs(float(mean_text) - mean) <= 0.5 * unit * (1 + 1e-12), text


@pytest.mark.parametrize("mean, sem", [
    (2.40953, 0.0123), (2.40953, 0.0996), (2410.3, 12.3), (2410.3, 123.0), (5.538e-4, 1.234e-6),
    (9.99996e-4, 1.2e-8), (0.003, 0.05), (1.0e-12, 3.3e-15), (0.5, 0.00049999),
])
def test_mean_sem_rounds_the_mean_at_the_last_digit_of_the_sem(mean, sem):
    """Roll-overs included: a sem of 0.0996 shows as 0.10 and the mean to two decimals."""
    from nslmodel.cli import SEM_DIGITS, _mean_sem

    _check_mean_sem(_mean_sem(mean, sem, "+/-"), mean, sem, SEM_DIGITS)


def test_mean_sem_without_a_spread():
    """One trial (sem = inf): the mean to SEM_DIGITS digits; identical trials (sem = 0): exact."""
    from nslmodel.cli import SEM_DIGITS, _mean_sem

    mean_text, _, sem_text = _mean_sem(1.2345e-4, math.inf, "+/-").split()
    assert sem_text == "inf" and _significant_digits(mean_text) == SEM_DIGITS
    assert abs(float(mean_text) - 1.2345e-4) <= 0.5 * _last_unit(mean_text)
    assert _mean_sem(0.0, 0.0, "+/-") == "0.0 +/- 0.0"


def test_simulate_text_shows_mean_and_sem_to_the_digits_of_the_sem(capsys):
    """Single point and grid, against the API's result for the same seed (the same bits)."""
    from nslmodel.cli import SEM_DIGITS, main

    spec = nslmodel.PowerLaw(400, 1.0)
    common = ["--M", "400", "--alpha", "1", "--T", "80", "--gamma", "1e-3", "--trials", "20", "--seed", "1",
              "--no-progress"]
    assert main(["simulate", *common, "--N", "50"]) == 0
    r = nslmodel.simulate_loss(50.0, 80.0, 1e-3, spec, trials=20, seed=1, progress=False)
    _check_mean_sem(capsys.readouterr().out.strip(), r.mean, r.sem, SEM_DIGITS)
    assert main(["simulate", *common, "--N", "50,60"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for n, line in zip((50.0, 60.0), lines):
        r = nslmodel.simulate_loss(n, 80.0, 1e-3, spec, trials=20, seed=1, progress=False)
        assert line.startswith(f"N={n:g} T=80 gamma=0.001 loss="), line
        _check_mean_sem(line.split("loss=", 1)[1], r.mean, r.sem, SEM_DIGITS)
    assert main(["simulate", *common, "--N", "50", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    r = nslmodel.simulate_loss(50.0, 80.0, 1e-3, spec, trials=20, seed=1, progress=False)
    assert (rec["mean"], rec["sem"]) == (r.mean, r.sem)  # full precision, the API's bits


def test_readme_cli_example_is_what_the_cli_prints(capsys):
    """The README's `nslmodel optimal` example, rerun: its digits are the determined ones, so the
    text is the same on every machine."""
    import shlex
    from pathlib import Path

    from nslmodel.cli import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ nslmodel (.*)\n(.*)\n```", readme)
    assert block, "README: no console example of the CLI"
    assert main(shlex.split(block.group(1))) == 0
    assert capsys.readouterr().out.strip() == block.group(2)


def test_grid_lines_echo_whole_sizes_without_a_decimal_point(capsys):
    """Inputs on a grid line read as given: 50, not 50.0; a fractional size keeps every digit."""
    from nslmodel.cli import main

    assert main(["ridgeless", "--M", "1000", "--alpha", "1", "--N", "50,100.5", "--T", "1e3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" loss=")[0] for line in lines] == ["N=50 T=1000", "N=100.5 T=1000"]
