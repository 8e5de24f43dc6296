#!/usr/bin/env python
"""Execute the book's notebooks with papermill into ``book/figures``, all or nothing.

Publication values are the notebooks' ``parameters`` cells; the quick set, ``params.yml``, is
checked against them by name and type, and injected together with them, so that the page shows
one listing of the values used (the parameters cell is tagged ``remove-cell`` in the copy).
Only notebooks whose code, parameters or environment changed since the build recorded in
``provenance.json`` are executed (prose edits are merged), up to ``--jobs`` at a time.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import multiprocessing
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from importlib import metadata, util
from pathlib import Path

import nbformat
import papermill
import yaml
from buildkit import REPO_ROOT, BuildError, git, locked, main, source_date_epoch, staged
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"
INJECTED = "injected-parameters"  # papermill's tag of the cell it inserts (and our id for it)
PACKAGES = ("nslmodel", "numpy", "scipy", "matplotlib", "dask", "jupyter-book", "sphinx",
            "myst-nb", "papermill", "nbval")  # versions recorded, and part of the input hash
LOCK_FILES = ("requirements*.lock", "pylock*.toml")  # hashed into the provenance when present


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb) -> list:
    """The code cells of a notebook, without papermill's injected cell."""
    return [c for c in nb.cells if c.cell_type == "code" and INJECTED not in tags(c)]


def load_overrides(path: Path, names: list[str]) -> dict[str, dict]:
    """Read params.yml: a mapping of parameter overrides per notebook (``{}`` for none)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise BuildError(f"parameter file {path} does not exist") from None
    except yaml.MarkedYAMLError as err:
        line, col = err.problem_mark.line + 1, err.problem_mark.column + 1
        raise BuildError(f"{path}: YAML syntax error at line {line}, column {col}: "
                         f"{err.problem}") from None
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a mapping of notebook names, found {data!r}")
    missing, extra = sorted(set(names) - set(data)), sorted(set(data) - set(names))
    if missing or extra:
        raise BuildError(f"{path}: no entry for notebook(s) {missing}; entries without a "
                         f"notebook: {extra} (an entry may be {{}})")
    bad = next((n for n, entry in data.items() if not isinstance(entry or {}, dict)), None)
    if bad:
        raise BuildError(f"{path}: {bad} must be a mapping of parameters, got {data[bad]!r}")
    return {name: entry or {} for name, entry in data.items()}


def kind(value) -> str:
    """Type name of a literal, element types included: 'int', 'list[float]', ..."""
    if isinstance(value, (list, tuple)):
        return f"list[{' | '.join(sorted({kind(v) for v in value}))}]" if value else "list"
    return type(value).__name__


def fits(value, default) -> bool:
    """Whether `value` has the type of the literal `default` (an int passes as a float)."""
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list) and (
            not default or all(any(fits(v, d) for d in default) for v in value))
    return type(value) is type(default)


def check_parameters(path: Path, params: dict) -> dict:
    """Check overrides against the parameters cell, read by papermill; return its values."""
    try:
        found = papermill.inspect_notebook(str(path))
        defaults = {name: ast.literal_eval(info["default"]) for name, info in found.items()}
    except Exception as err:  # noqa: BLE001 - the message is what matters
        raise BuildError(f"{path.name}: parameters cell: {type(err).__name__}: {err}") from None
    if not defaults:
        raise BuildError(f"{path.name}: no code cell tagged 'parameters' assigns a parameter")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise BuildError(f"{path.name}: params.yml sets {unknown}, which the parameters cell "
                         f"does not define (it defines {sorted(defaults)})")
    for name, value in params.items():
        if not fits(value, defaults[name]):
            hint = " (YAML reads 1e-7 as a string: write 1.0e-7)" if isinstance(value, str) else ""
            raise BuildError(f"{path.name}: parameter {name!r} expects {kind(defaults[name])}, "
                             f"params.yml gives {kind(value)} {value!r}{hint}")
    return defaults


def environment() -> dict:
    """What the notebooks' outputs depend on besides their code and parameters."""
    spec, code = util.find_spec("nslmodel"), hashlib.sha256()
    root = Path(spec.origin).parent if spec and spec.origin else Path("/nonexistent")
    for f in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".mplstyle")):
        code.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version
                 for d in metadata.distributions()}
    locks = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for pattern in LOCK_FILES for p in sorted(REPO_ROOT.glob(pattern))}
    return {"python": platform.python_version(),
            "packages": {n: installed.get(n, "not installed") for n in PACKAGES},
            "package_code_sha256": code.hexdigest(), "lock_files": locks}


def isolate_kernels(epoch: int | None, scratch: Path) -> None:
    """Give this process, whose children are the kernels, a reproducible environment."""
    # IPYTHONDIR: a fresh profile, without the user's startup files
    os.environ.update(IPYTHONDIR=str(scratch / "ipython"), PYTHONHASHSEED="0", TQDM_DISABLE="1")
    for name in ("SOURCE_DATE_EPOCH", "MPLBACKEND"):  # another backend hides the figures
        os.environ.pop(name, None)
    if epoch is not None:
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    # resolve the "python3" kernel to this interpreter, not one registered elsewhere
    paths = [os.path.join(sys.prefix, "share", "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in paths if p)


def say(line: str) -> None:
    """Print one line in a single write: notebooks run side by side share stdout, and print()
    writes the text and its newline separately, so two workers' lines could merge."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def execute(task: tuple):
    """Run (src, params, scratch, timeout, tag, shown) with papermill: (executed, seconds).
    A failure names its cell (1-based, in `src`) and the cell's first line."""
    src, params, scratch, timeout, tag, shown = task
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # the error below says it all
    say(f"{tag} ({shown}) ...")
    # nbclient reports each cell as it starts (papermill marks every cell "completed")
    started, out, t0 = [], scratch / src.name, time.perf_counter()
    try:
        executed = papermill.execute_notebook(
            str(src), str(out), parameters=params, kernel_name="python3", progress_bar=False,
            cwd=str(scratch), request_save_on_cell_execute=True, execution_timeout=timeout,
            coalesce_streams=True,  # else a slow cell's output is split at random points
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # a quiet kernel log
            on_cell_start=lambda cell, cell_index: started.append((cell_index, cell)))
    except Exception as err:
        what = {PapermillExecutionError: lambda: f"{err.ename}: {err.evalue}",
                CellTimeoutError: lambda: f"timed out after {timeout:g} s (see --cell-timeout)",
                DeadKernelError: lambda: f"the kernel died ({err})"}.get(type(err))
        what = what() if what else f"{type(err).__name__}: {(str(err) or '?').splitlines()[0]}"
        index, cell = started[-1] if started else (0, {})
        index -= any(INJECTED in tags(c) for _, c in started)  # papermill's cell is not in src
        lines = [ln.strip()[:80] for ln in cell.get("source", "").splitlines() if ln.strip()]
        cells = len(nbformat.read(src, as_version=4).cells)
        where = f"in cell {index + 1} of {cells} ({(lines or [''])[0]!r})" if cell else "at start"
        where = "in papermill's parameters cell" if INJECTED in tags(cell) else where
        raise BuildError(f"notebook {src.name} failed {where}: {what} (partly executed "
                         f"notebook: {out})") from None
    out.unlink()
    say(f"{tag} done in {(seconds := round(time.perf_counter() - t0, 1)):.1f} s")
    return executed, seconds


def execute_all(tasks: list[tuple], jobs: int) -> list[tuple]:
    """`execute` the tasks, `jobs` at a time, each in a process (and kernel) of its own. The
    first failure in task order is raised once the tasks before it have finished, as a run of
    one at a time would report it; the running ones are then stopped."""
    if not tasks:
        return []
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, with os.environ as set
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: Ctrl-C is ours alone
    try:
        pool = ctx.Pool(min(jobs, len(tasks)))
    finally:
        signal.signal(signal.SIGINT, handler)
    with pool:  # leaving it terminates the workers; their kernels see their parent go and exit
        return list(pool.imap(execute, tasks))


def assemble(src_nb, executed, source_rel: str):
    """The cells of `src_nb` with the outputs of `executed` and papermill's cell, shown as the
    parameters cell was (which is removed from the page): the same bytes whichever run
    produced the outputs, and prose edited since then taken as it is."""
    ran, cells = iter(code_cells(executed)), []
    injected = [c for c in executed.cells if INJECTED in tags(c)]
    for cell in src_nb.cells:  # a copy read for this build
        if cell.cell_type == "code":
            old = next(ran)
            cell.outputs, cell.execution_count = old.outputs, old.execution_count
        if "parameters" in tags(cell) and injected:
            shown = [t for t in tags(cell) if t != "parameters"]  # e.g. hide-input
            for new in injected:
                new["id"], new.metadata = INJECTED, {"tags": [INJECTED, *shown]}
            cell.metadata.tags = [*tags(cell), "remove-cell"]
        cells += [cell, *injected] if "parameters" in tags(cell) else [cell]
    pm = executed.metadata.get("papermill", {})  # without timestamps and paths of the run
    pm = {k: pm[k] for k in ("default_parameters", "parameters", "version") if k in pm}
    executed.cells, executed.metadata["papermill"] = cells, {**pm, "input_path": source_rel}
    nbformat.validate(executed)
    return executed


def run(argv=None) -> int:
    args = parse_args(argv)
    notebooks = sorted(args.notebooks_dir.glob("[!.]*.ipynb"))
    overrides = load_overrides(args.notebooks_dir / "params.yml", [p.stem for p in notebooks])
    chosen = {p.stem: overrides[p.stem] if args.set == "quick" else {} for p in notebooks}
    used = {p.stem: {**check_parameters(p, chosen[p.stem]), **chosen[p.stem]} for p in notebooks}
    env, epoch_given, epoch = environment(), "SOURCE_DATE_EPOCH" in os.environ, source_date_epoch()
    scratch = Path(tempfile.mkdtemp(prefix="nslmodel-notebooks-"))
    isolate_kernels(epoch, scratch)

    def task(i: int, src: Path) -> tuple:  # overrides come with every other value used
        shown = ", ".join(f"{k}={v!r}" for k, v in chosen[src.stem].items())
        return (src, used[src.stem] if shown else {}, scratch, args.cell_timeout,
                f"[{i}/{len(notebooks)}] {src.name}", shown or "publication values")

    if args.update_nbval_reference:  # the reference the tests compare the quick set with
        results = execute_all([task(i, src) for i, src in enumerate(notebooks, 1)], args.jobs)
        for src, (executed, _) in zip(notebooks, results):
            nb = nbformat.read(src, as_version=4)
            for cell, out in zip(code_cells(nb), code_cells(executed), strict=True):
                checked = cell.source.lstrip().startswith(NBVAL_MARKER)
                cell.outputs = out.outputs if checked else []
                cell.execution_count = out.execution_count if checked else None
            nbformat.write(nb, src)  # validates first
            print(f"{src.name}: outputs of the '{NBVAL_MARKER}' cells stored")
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    out_dir, runs, executed, todo = args.output_dir, {}, {}, []
    with locked(out_dir, "build_notebooks"), staged(out_dir) as staging:
        old = out_dir / "provenance.json"
        old = json.loads(old.read_text()).get("notebooks", {}) if old.exists() else {}
        print(f"{len(notebooks)} notebook(s), {args.set!r} parameter set", flush=True)
        sources = {}  # each source read once: the hash and the page come from the same bytes
        for i, src in enumerate(notebooks, 1):
            sources[src.stem] = nbformat.read(src, as_version=4)
            code = [c.source for c in code_cells(sources[src.stem])]
            inputs = {"code": code, "parameters": task(i, src)[1], "env": env}  # as injected
            digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
            if (old.get(src.stem, {}).get("input_hash") == digest and not args.force
                    and (out_dir / src.name).exists()):
                executed[src.stem] = nbformat.read(out_dir / src.name, as_version=4)
                runs[src.stem] = old[src.stem]
                print(f"[{i}/{len(notebooks)}] {src.name}: code, parameters and environment "
                      "unchanged, not re-executed", flush=True)
            else:
                todo.append((task(i, src), digest))
        for (t, digest), (nb, seconds) in zip(todo, execute_all([t for t, _ in todo], args.jobs)):
            src = t[0]
            executed[src.stem] = nb
            runs[src.stem] = {"parameters": chosen[src.stem], "wall_time_s": seconds,
                              "seeds": {k: v for k, v in used[src.stem].items() if "seed" in k},
                              "input_hash": digest}
        for src in notebooks:
            rel = src.relative_to(args.notebooks_dir.parent).as_posix()
            nb = assemble(sources[src.stem], executed[src.stem], rel)
            nbformat.write(nb, staging / src.name)
        commit = git("rev-parse", "HEAD")
        rec = {"parameter_set": args.set, "git_commit": commit or "unknown",
               "git_dirty": None if commit is None else bool(git("status", "--porcelain")),
               "built_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                         time.gmtime(epoch if epoch_given else time.time())),
               "source_date_epoch": epoch, "platform": platform.platform(),
               "cpu_count": os.cpu_count(), "jobs": args.jobs, "environment": env,
               "notebooks": runs,
               "total_notebook_wall_time_s": round(sum(r["wall_time_s"] for r in runs.values()), 1)}
        (staging / "provenance.json").write_text(json.dumps(rec, indent=2) + "\n")
        listing = yaml.safe_dump(rec, sort_keys=False)  # included by the reproducing page
        (staging / "provenance.md").write_text(f"```yaml\n{listing}```\n")
        for stale in set(out_dir.glob("*.ipynb")) - {out_dir / p.name for p in notebooks}:
            stale.unlink()  # its source left notebooks/
    print(f"{len(runs)} executed notebook(s) in {out_dir}", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)  # a failed run keeps it: its error names it
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=("quick", "publication"), default="publication")
    p.add_argument("--notebooks-dir", type=Path, default=REPO_ROOT / "notebooks")
    p.add_argument("--output-dir", type=Path, default=REPO_ROOT / "book" / "figures")
    p.add_argument("--force", action="store_true", help="re-execute unchanged notebooks too")
    # generous: the publication set runs Monte Carlo cells of minutes
    p.add_argument("--cell-timeout", type=float, default=3600, metavar="SECONDS")
    # CPU-bound kernels: more than the usable cores only costs memory; beyond 4 the longest
    # notebook, not their number, sets the wall time of the quick set
    p.add_argument("--jobs", type=int, default=min(4, len(os.sched_getaffinity(0))), metavar="N",
                   help="notebooks executed at a time, each in its own process and kernel "
                        "(default: the usable CPU cores, at most 4)")
    p.add_argument("--update-nbval-reference", action="store_true",
                   help="run the quick set; store the outputs of the checked cells in notebooks/")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"argument --jobs: expected a positive integer, got {args.jobs}")
    args.set = "quick" if args.update_nbval_reference else args.set
    args.notebooks_dir, args.output_dir = args.notebooks_dir.resolve(), args.output_dir.resolve()
    return args


if __name__ == "__main__":
    sys.exit(main("build_notebooks", run))
