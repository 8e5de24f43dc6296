"""Command-line interface: a thin layer over the public API.

Examples
--------
``nslmodel loss --M 10000 --alpha 1 --N 100 --T 1000 --gamma 1e-4``
``nslmodel optimal --M 10000 --alpha 1 --N 10,100,1000 --T 1000 --json``

Comma-separated values span a grid (every combination). Bad input prints one line and exits
with status 2.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import numpy as np

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


def _common(p: argparse.ArgumentParser, *, gamma: bool) -> None:
    p.add_argument("--M", type=int, required=True, help="latent dimension (power-law spectrum)")
    p.add_argument("--alpha", type=float, required=True, help="power-law exponent: lambda_I = lam_plus I^-(1+alpha)")
    p.add_argument("--lam-plus", type=float, default=1.0, help="largest eigenvalue (default 1)")
    p.add_argument("--N", type=_floats, required=True, help="number of features; comma-separated for a grid")
    p.add_argument("--T", type=_floats, required=True, help="number of training samples; comma-separated for a grid")
    if gamma:
        p.add_argument("--gamma", type=_floats, required=True, help="ridge parameter(s)")
    p.add_argument("--sigma-u", type=float, default=1.0, help="feature weight scale (default 1)")
    p.add_argument("--sigma-w", type=float, default=1.0, help="teacher weight scale (default 1)")
    p.add_argument("--sigma-eps", type=float, default=0.0, help="label noise scale (default 0)")
    p.add_argument("--C", type=int, default=1, help="label dimension (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _parser() -> _Parser:
    p = _Parser(prog="nslmodel", description="Expected test loss of the solvable scaling-law model (arXiv:2405.19398).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _common(sub.add_parser("loss", help="expected test loss at ridge gamma (paper Eqs. 93-104)"), gamma=True)
    _common(sub.add_parser("ridgeless", help="ridgeless limit gamma -> 0 (paper Eqs. 105-126)"), gamma=False)
    _common(sub.add_parser("optimal", help="optimal ridge gamma* and the loss there (paper Eq. 128)"), gamma=False)
    sim = sub.add_parser("simulate", help="Monte Carlo estimate of the loss (mean ± sem)")
    _common(sim, gamma=True)
    sim.add_argument("--trials", type=int, required=True, help="number of independent draws")
    sim.add_argument("--seed", type=int, required=True, help="seed for numpy.random.SeedSequence")
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


def _text(rows: list[dict], command: str) -> str:
    if len(rows) == 1:
        r = rows[0]
        if command == "simulate":
            return f"{r['mean']!r} ± {r['sem']!r}"
        if command == "optimal":
            return f"gamma*={r['gamma']!r} loss={r['loss']!r}"
        return repr(r["loss"])
    lines = []
    for r in rows:
        if command == "simulate":
            r = dict(r)
            val = f"{r.pop('mean')!r} ± {r.pop('sem')!r}"
            r.pop("trials"), r.pop("seed")
            lines.append(" ".join(f"{k}={v!r}" for k, v in r.items()) + " loss=" + val)
        else:
            lines.append(" ".join(f"{k}={v!r}" for k, v in r.items()))
    return "\n".join(lines)


def _json_value(v):
    return v if not isinstance(v, float) or np.isfinite(v) else ("inf" if v > 0 else "-inf")


def main(argv=None) -> int:
    """Entry point of the ``nslmodel`` console script; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        rows = _run(args)
    except (_UsageError, ValueError) as exc:  # bad input: one line, status 2
        print(f"nslmodel: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # failures of the numerics (e.g. no convergence): one line too
        print(f"nslmodel: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        rows = [{k: _json_value(v) for k, v in r.items()} for r in rows]
        print(json.dumps(rows[0] if len(rows) == 1 else rows))
    else:
        print(_text(rows, args.command))
    return 0
