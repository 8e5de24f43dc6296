"""Command-line interface: a thin layer over the public API.

Examples
--------
``nslmodel loss --M 10000 --alpha 1 --N 100 --T 1000 --gamma 1e-4``
``nslmodel optimal --M 10000 --alpha 1 --N 10,100,1000 --T 1000 --json``

Comma-separated values span a grid (every combination). Integer options accept integral
values in scientific notation (``--M 1e7``). Bad input prints one line and exits with status 2;
a failure of the numerics exits with 1, Ctrl-C with 130, and a closed output pipe (``| head``)
ends the run quietly with 141 (128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

import numpy as np

from . import __version__

__all__ = ["main"]


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
    _common(sub.add_parser("optimal", help="optimal ridge gamma* and the loss there (paper Eq. 128)"), gamma=False)
    sim = sub.add_parser("simulate", help="Monte Carlo estimate of the loss (mean +/- sem)")
    _common(sim, gamma=True)
    sim.add_argument("--trials", type=_integer, required=True, help="number of independent draws")
    sim.add_argument("--seed", type=_integer, required=True, help="seed for numpy.random.SeedSequence")
    sim.add_argument("--method", choices=["exact", "sampled"], default="exact")
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _run(args) -> list[dict]:
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
            gs, ls = np.atleast_1d(o.gamma), np.atleast_1d(o.loss)
            rows = [dict(N=a, T=b, gamma=float(x), loss=float(y)) for (a, b), x, y in zip(pts, gs, ls)]
    return rows


def _plus_minus(stream) -> str:
    """'±' where ``stream`` can encode it (a UTF-8 terminal or pipe), else '+/-'."""
    try:
        "\u00b1".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "+/-"
    return "\u00b1"


def _text(rows: list[dict], command: str, pm: str = "\u00b1") -> str:
    if len(rows) == 1:
        r = rows[0]
        if command == "simulate":
            return f"{r['mean']!r} {pm} {r['sem']!r}"
        if command == "optimal":
            return f"gamma*={r['gamma']!r} loss={r['loss']!r}"
        return repr(r["loss"])
    lines = []
    for r in rows:
        if command == "simulate":
            r = dict(r)
            val = f"{r.pop('mean')!r} {pm} {r.pop('sem')!r}"
            r.pop("trials"), r.pop("seed")
            lines.append(" ".join(f"{k}={v!r}" for k, v in r.items()) + " loss=" + val)
        else:
            lines.append(" ".join(f"{k}={v!r}" for k, v in r.items()))
    return "\n".join(lines)


def _json_value(v):
    """Floats as JSON numbers; the documented infinities (ridgeless loss at N = T) as "inf"."""
    if not isinstance(v, float) or np.isfinite(v):
        return v
    if np.isnan(v):  # the API never returns NaN; refuse to print one
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
        # The reader went away (e.g. `| head -1`): point stdout at devnull so that the flush
        # at exit cannot fail again, and end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # failures of the numerics (e.g. no convergence): one line too
        _error(f"{type(exc).__name__}: {exc}")
        return 1
    return 0
