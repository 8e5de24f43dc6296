"""Command-line interface: a thin layer over the public API.

Examples
--------
``nslmodel loss --M 10000 --alpha 1 --N 100 --T 1000 --gamma 1e-4``
``nslmodel optimal --M 10000 --alpha 1 --N 10,100,1000 --T 1000 --json``

Comma-separated values span a grid (every combination). Integer options accept integral
values in scientific notation (``--M 1e7``). Bad input prints one line and exits with status 2;
a failure of the numerics exits with 1, Ctrl-C with 130 (also while numpy and scipy load: they
are imported inside :func:`main`), and a closed output pipe (``| head``) ends the run quietly
with 1, as in the recipe of Python's :mod:`signal` documentation ("Note on SIGPIPE").

Text output shows only the digits each number supports (``--json`` gives every number in full,
as ``repr`` round-trips it):

- ``optimal``: gamma* to ``GAMMA_DIGITS`` significant digits and L* to ``LOSS_DIGITS``, the
  digits the solver determines (its tested accuracy against 40-digit references, 1e-10 and
  1e-13 relative, is below one unit of the last digit). They say what the minimiser *is*, not
  how much it matters: where the loss is flat (N << T or N >> T) a ridge far from gamma* does
  almost as well. ``gamma_1%=lo..hi`` shows that: every ridge in it has a loss within 1%
  (``nslmodel.optimal.LOSS_EXCESS``) of L*, to ``BAND_DIGITS`` significant digits.
- ``simulate``: ``mean +- sem``, the standard error to ``SEM_DIGITS`` significant digits and the
  mean rounded at the same decimal place.
- ``loss`` and ``ridgeless``: the loss to ``LOSS_DIGITS`` significant digits, as L* (accurate
  to about 1e-14 relative against 40-digit references, below one unit of the last digit); the
  digits beyond would depend on the machine's exp and log in their last bits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys

from . import __version__

__all__ = ["main"]

# Significant digits of the text output (see the module docstring). gamma* and L* (and any
# loss) are accurate to 1e-10 and 1e-13 relative (tests/test_theory_reference.py, GAMMA_STAR_RTOL and
# LOSS_STAR_RTOL; measured <= 6e-14 and 6e-15): with d digits one unit of the last digit is at
# least 10**-d of the value, so the error stays below one unit.
GAMMA_DIGITS = 10
LOSS_DIGITS = 13
#: The 1% band is a measure of flatness, not a precise quantity: two digits say where it lies.
BAND_DIGITS = 2
#: The standard error is itself uncertain by ~1 / sqrt(2 (trials - 1)) relative (10% at 50
#: trials, 1% at 5000): two significant digits, the usual convention, are all it supports for
#: any practical number of trials.
SEM_DIGITS = 2

# Epilogs of `optimal --help` and `simulate --help` (argparse rewraps them). The 1% is
# nslmodel.optimal.LOSS_EXCESS, not imported here so that --help needs no numpy (tested).
_OPTIMAL_HELP = (
    f"Text output: gamma* to {GAMMA_DIGITS} and L* to {LOSS_DIGITS} significant digits, the "
    "digits the solver determines (accurate to 1e-10 and 1e-13 relative: the error is below one "
    "unit of the last digit). They say what the minimiser is, not how much it matters: where the "
    "loss is flat (N << T or N >> T) ridges far from gamma* do almost as well. gamma_1%=lo..hi is "
    f"the range of ridges whose loss is within 1% of L* ({BAND_DIGITS} significant digits). --json "
    "prints every number in full, with the band as gamma_lo and gamma_hi."
)
_SIMULATE_HELP = (
    f"Text output: mean +/- sem, the standard error of the mean to {SEM_DIGITS} significant digits "
    "and the mean rounded at the same decimal place (one trial: the sem is inf and the mean is "
    f"shown to {SEM_DIGITS} digits). --json prints both in full."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers, got {text!r}"
        ) from None


def _integer(text: str) -> int:
    """An integer option: ``10000``, or an integral value in scientific notation (``1e4``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected an integer (e.g. 10000 or 1e4), got {text!r}")
    return int(value)


def _common(p: argparse.ArgumentParser, *, gamma: bool) -> None:
    p.add_argument("--M", type=_integer, required=True, help="latent dimension (power-law spectrum)")
    p.add_argument("--alpha", type=float, required=True, help="power-law exponent: lambda_I = lam_plus I^-(1+alpha)")
    p.add_argument("--lam-plus", type=float, default=1.0, help="largest eigenvalue (default 1)")
    p.add_argument("--N", type=_floats, required=True, help="number of features; comma-separated for a grid")
    p.add_argument("--T", type=_floats, required=True, help="number of training samples; comma-separated for a grid")
    if gamma:
        p.add_argument("--gamma", type=_floats, required=True, help="ridge parameter(s)")
    p.add_argument("--sigma-u", type=float, default=1.0, help="feature weight scale (default 1)")
    p.add_argument("--sigma-w", type=float, default=1.0, help="teacher weight scale (default 1)")
    p.add_argument("--sigma-eps", type=float, default=0.0, help="label noise scale (default 0)")
    p.add_argument("--C", type=_integer, default=1, help="label dimension (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _parser() -> _Parser:
    p = _Parser(prog="nslmodel", description="Expected test loss of the solvable scaling-law model (arXiv:2405.19398).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _common(sub.add_parser("loss", help="expected test loss at ridge gamma (paper Eqs. 93-104)"), gamma=True)
    _common(sub.add_parser("ridgeless", help="ridgeless limit gamma -> 0 (paper Eqs. 105-126)"), gamma=False)
    _common(sub.add_parser("optimal", help="optimal ridge gamma* and the loss there (paper Eq. 128)",
                           epilog=_OPTIMAL_HELP), gamma=False)
    sim = sub.add_parser("simulate", help="Monte Carlo estimate of the loss (mean +/- sem)", epilog=_SIMULATE_HELP)
    _common(sim, gamma=True)
    sim.add_argument("--trials", type=_integer, required=True, help="number of independent draws")
    sim.add_argument("--seed", type=_integer, required=True, help="seed for numpy.random.SeedSequence")
    sim.add_argument("--method", choices=["exact", "sampled"], default="exact")
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _run(args) -> list[dict]:
    # numpy, scipy and the theory load here, inside main()'s handlers, not when this module is
    # imported: a Ctrl-C while they load ends like any other (one line, status 130).
    import numpy as np

    import nslmodel

    spec = nslmodel.PowerLaw(args.M, args.alpha, args.lam_plus)
    kw = dict(sigma_u=args.sigma_u, sigma_w=args.sigma_w, sigma_eps=args.sigma_eps, C=args.C)
    rows = []
    if args.command == "loss" and 0.0 in args.gamma:
        raise ValueError(
            "gamma must be positive and finite (0 < gamma < inf); got 0.0; for the ridgeless "
            "limit gamma = 0 use the `nslmodel ridgeless` subcommand"
        )
    if args.command in ("loss", "simulate"):
        pts = list(itertools.product(args.N, args.T, args.gamma))
        N, T, g = (np.array(c) for c in zip(*pts))
        if args.command == "loss":
            vals = np.atleast_1d(nslmodel.expected_loss(N, T, g, spec, **kw))
            rows = [dict(N=a, T=b, gamma=c, loss=float(v)) for (a, b, c), v in zip(pts, vals)]
        else:
            for a, b, c in pts:
                r = nslmodel.simulate_loss(
                    a, b, c, spec, trials=args.trials, seed=args.seed, method=args.method,
                    progress=False if args.no_progress else None, **kw,
                )
                rows.append(dict(N=a, T=b, gamma=c, mean=float(r.mean), sem=float(r.sem), trials=args.trials, seed=args.seed))
    else:
        pts = list(itertools.product(args.N, args.T))
        N, T = (np.array(c) for c in zip(*pts))
        if args.command == "ridgeless":
            vals = np.atleast_1d(nslmodel.ridgeless_loss(N, T, spec, **kw))
            rows = [dict(N=a, T=b, loss=float(v)) for (a, b), v in zip(pts, vals)]
        else:
            o = nslmodel.optimal_ridge(N, T, spec, **kw)
            cols = [np.atleast_1d(x) for x in (o.gamma, o.loss, o.gamma_lo, o.gamma_hi)]
            rows = [dict(N=a, T=b, gamma=float(g), loss=float(y), gamma_lo=float(lo), gamma_hi=float(hi))
                    for (a, b), g, y, lo, hi in zip(pts, *cols)]
    return rows


def _plus_minus(stream) -> str:
    """'±' where ``stream`` can encode it (a UTF-8 terminal or pipe), else '+/-'."""
    try:
        "\u00b1".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "+/-"
    return "\u00b1"


def _significant(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits in scientific notation; 0 and inf as such."""
    if x == 0 or math.isinf(x):
        return repr(x)
    return f"{x:.{digits - 1}e}"


def _mean_sem(mean: float, sem: float, pm: str) -> str:
    """``mean pm sem``: sem to SEM_DIGITS significant digits, mean rounded at its last digit."""
    if sem == 0:  # every trial gave the same loss (e.g. sigma_w = sigma_eps = 0): exact
        return f"{mean!r} {pm} 0.0"
    if math.isinf(sem):  # one trial: no spread to set the digits
        return f"{_significant(mean, SEM_DIGITS)} {pm} inf"
    sem_text = f"{sem:.{SEM_DIGITS - 1}e}"  # rounds first: 0.0996 becomes 1.0e-01
    last = int(sem_text.split("e")[1]) - (SEM_DIGITS - 1)  # decimal exponent of the last digit
    if -6 <= last <= 0:  # fixed point reads best here: 2.410 +- 0.012
        return f"{mean:.{-last}f} {pm} {float(sem_text):.{-last}f}"
    from decimal import Decimal

    mean_text = Decimal(mean).quantize(Decimal(1).scaleb(last))  # exact rounding at 10**last
    return f"{mean_text:e} {pm} {Decimal(sem_text):e}"


def _result_text(r: dict, command: str, pm: str) -> str:
    """The result fields of one row, popped from ``r`` (which keeps the inputs), as text."""
    if command == "simulate":
        r.pop("trials"), r.pop("seed")
        return _mean_sem(r.pop("mean"), r.pop("sem"), pm)
    if command == "optimal":
        from .optimal import LOSS_EXCESS

        band = f"{_significant(r.pop('gamma_lo'), BAND_DIGITS)}..{_significant(r.pop('gamma_hi'), BAND_DIGITS)}"
        return (f"gamma*={_significant(r.pop('gamma'), GAMMA_DIGITS)} "
                f"loss={_significant(r.pop('loss'), LOSS_DIGITS)} gamma_{LOSS_EXCESS:.0%}={band}")
    return _significant(r.pop("loss"), LOSS_DIGITS)


def _input(v) -> str:
    """An input of a grid line as given: whole sizes without ``.0``, other numbers as repr."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def _text(rows: list[dict], command: str, pm: str = "\u00b1") -> str:
    """One result alone; on a grid one line per point, its inputs first."""
    if len(rows) == 1:
        return _result_text(dict(rows[0]), command, pm)
    lines = []
    for row in rows:
        r = dict(row)
        result = _result_text(r, command, pm)
        label = "" if command == "optimal" else "loss="
        lines.append(" ".join(f"{k}={_input(v)}" for k, v in r.items()) + f" {label}{result}")
    return "\n".join(lines)


def _json_value(v):
    """Floats as JSON numbers; the documented infinities (ridgeless loss at N = T) as "inf"."""
    if not isinstance(v, float) or math.isfinite(v):
        return v
    if math.isnan(v):  # the API never returns NaN; refuse to print one
        raise FloatingPointError("a result is NaN; please report the inputs")
    return "inf" if v > 0 else "-inf"


def _render(args, rows) -> str:
    if args.json:
        rows = [{k: _json_value(v) for k, v in r.items()} for r in rows]
        return json.dumps(rows[0] if len(rows) == 1 else rows, allow_nan=False)
    return _text(rows, args.command, _plus_minus(sys.stdout))


def _error(message: str) -> None:
    print(f"nslmodel: error: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv=None) -> int:
    """Entry point of the ``nslmodel`` console script; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        out = _render(args, _run(args))
        print(out, flush=True)
    except (_UsageError, ValueError, TypeError) as exc:  # bad input: one line, status 2
        _error(exc)
        return 2
    except KeyboardInterrupt:
        print("nslmodel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head -1`). Python's recipe (signal module, "Note on
        # SIGPIPE"): point stdout at devnull so that the flush at exit cannot fail again, and
        # exit with 1, quietly, as Python itself does on EPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # failures of the numerics (e.g. no convergence): one line too
        _error(f"{type(exc).__name__}: {exc}")
        return 1
    return 0
