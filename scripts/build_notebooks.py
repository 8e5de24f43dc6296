#!/usr/bin/env python
"""Execute the book's notebooks with papermill into ``book/figures``, all or nothing.

Each notebook's ``parameters`` cell holds its publication values (``--set publication``, the
default); ``notebooks/params.yml`` holds the quick set (``--set quick``), overrides checked by
name and type against that cell before any kernel starts. A notebook is re-executed only when
its code, its parameters or the environment (the package code, the versions of the packages,
a lock file) changed since the build recorded in ``provenance.json``; an edit of its prose only
is merged into the notebook executed before. A failure names the notebook, the cell and its
first line; the output folder is replaced only when every notebook succeeded.
``--update-nbval-reference`` stores the quick-set outputs of the ``# NBVAL_CHECK_OUTPUT``
cells in the source notebooks (clearing all others): the reference the tests compare with.
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
import yaml
from buildkit import REPO_ROOT, BuildError, git, locked, main, source_date_epoch, staged
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"
KERNEL_NAME = "python3"
INJECTED = "injected-parameters"  # papermill's tag and id of the cell it inserts
PACKAGES = ("nslmodel", "numpy", "scipy", "matplotlib", "dask", "jupyter-book", "sphinx",
            "myst-nb", "papermill", "nbval")  # versions recorded, and part of the input hash
LOCK_FILES = ("requirements*.lock", "pylock*.toml")  # hashed into provenance when present
VOLATILE = ("start_time", "end_time", "duration", "exception", "output_path")


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb) -> list:
    """The code cells of a notebook, without papermill's injected cell."""
    return [c for c in nb.cells if c.cell_type == "code" and INJECTED not in tags(c)]


def load_overrides(path: Path, names: list[str]) -> dict[str, dict]:
    """Read params.yml: one mapping of parameter overrides per notebook (``{}`` for none)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"parameter file {path} does not exist") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        raise BuildError(f"{path}: YAML syntax error at line {mark.line + 1}, column "
                         f"{mark.column + 1}: {err.problem}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise BuildError(f"{path}: expected a mapping of notebook names, found {data!r}")
    missing, extra = sorted(set(names) - set(data)), sorted(set(data) - set(names))
    if missing or extra:
        raise BuildError(f"{path}: no entry for notebook(s) {missing}; entries without a "
                         f"notebook: {extra} (an entry may be {{}})")
    for name, entry in data.items():
        if not isinstance(entry or {}, dict):
            raise BuildError(f"{path}: {name} must be a mapping of parameters, got {entry!r}")
    return {name: entry or {} for name, entry in data.items()}


def kind(value) -> str:
    """Type name of a literal, element types included: 'int', 'list[float]', ..."""
    if isinstance(value, (list, tuple)):
        inner = sorted({kind(v) for v in value})
        return f"list[{' | '.join(inner)}]" if inner else "list"
    return type(value).__name__


def fits(value, default) -> bool:
    """Whether an override has the type of the parameters cell's literal (int passes as float)."""
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list) and (
            not default or all(any(fits(v, d) for d in default) for v in value))
    return type(value) is type(default)


def check_parameters(path: Path, params: dict) -> dict:
    """Check overrides against the parameters cell (papermill's inspection); return its defaults."""
    try:
        found = papermill.inspect_notebook(str(path))
    except Exception as err:  # noqa: BLE001 - papermill's message is the useful part
        raise BuildError(f"{path.name}: {err}") from None
    if not found:
        raise BuildError(f"{path.name}: no code cell tagged 'parameters' assigns a parameter")
    defaults = {}
    for name, info in found.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            raise BuildError(f"{path.name}: parameter {name!r} = {info['default']} is not a "
                             "plain literal") from None
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
    """What the notebooks' results depend on besides their code and parameters."""
    spec = importlib.util.find_spec("nslmodel")
    package = hashlib.sha256()
    if spec and spec.origin:
        root = Path(spec.origin).parent
        for f in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".mplstyle")):
            package.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())

    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    locks = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for pattern in LOCK_FILES for p in sorted(REPO_ROOT.glob(pattern))}
    return {"python": platform.python_version(), "packages": {n: version(n) for n in PACKAGES},
            "package_code_sha256": package.hexdigest(), "lock_files": locks}


def input_hash(nb, params: dict, env: dict) -> str:
    """Hash of everything a notebook's outputs depend on (not its prose)."""
    inputs = {"code": [c.source for c in code_cells(nb)], "parameters": params, "env": env}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def isolate_kernels(epoch: int | None, scratch: Path) -> None:
    """Give this process (whose children are the kernels) a reproducible environment."""
    profile = scratch / "ipython" / "profile_default"  # no user startup files; quiet kernel log
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text('c.IPKernelApp.log_level = "CRITICAL"\n')
    os.environ.update(IPYTHONDIR=str(scratch / "ipython"), PYTHONHASHSEED="0", TQDM_DISABLE="1")
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    os.environ.pop("MPLBACKEND", None)  # another backend would keep figures out of the notebook
    if epoch is not None:
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    # resolve the "python3" kernel to this interpreter, not one registered elsewhere
    paths = [os.path.join(sys.prefix, "share", "jupyter"), *os.environ.get("JUPYTER_PATH", "").split(os.pathsep)]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))


def execute(src: Path, params: dict, scratch: Path, timeout: float):
    """Run `src` with papermill; a failure names the cell (1-based, in `src`) and its first line."""
    nb = nbformat.read(src, as_version=4)
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # the error below says it all
    started = []  # nbclient reports each cell it starts (papermill marks every cell completed)
    out = scratch / src.name
    try:
        papermill.execute_notebook(
            str(src), str(out), parameters=params, kernel_name=KERNEL_NAME, progress_bar=False,
            cwd=str(scratch), request_save_on_cell_execute=True, execution_timeout=timeout,
            on_cell_start=lambda cell, cell_index: started.append(cell))
    except Exception as err:
        what = {PapermillExecutionError: lambda: f"{err.ename}: {err.evalue}",
                CellTimeoutError: lambda: f"timed out after {timeout:g} s (see --cell-timeout)",
                DeadKernelError: lambda: f"the kernel died ({err})"}.get(type(err))
        what = what() if what else f"{type(err).__name__}: {(str(err).strip() or '?').splitlines()[0]}"
        ids = [c.get("id") for c in nb.cells]
        if not started:
            where = "before its first cell"
        elif started[-1].get("id") in ids:
            first = next((ln.strip() for ln in started[-1].source.splitlines() if ln.strip()), "")
            where = f"in cell {ids.index(started[-1].get('id')) + 1} of {len(ids)} ({first[:80]!r})"
        else:
            where = "in papermill's injected parameters cell"
        raise BuildError(f"notebook {src.name} failed {where}: {what} "
                         f"(partly executed notebook: {out})") from None
    executed = nbformat.read(out, as_version=4)
    out.unlink()
    return executed


def normalize(nb, source_rel: str):
    """Drop run-dependent metadata so reruns give identical files."""
    pm = nb.metadata.get("papermill", {})
    for key in VOLATILE:
        pm.pop(key, None)
    pm["input_path"] = source_rel
    if not pm.get("environment_variables"):
        pm.pop("environment_variables", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:  # papermill adds them
            del cell.metadata["tags"]
        if INJECTED in tags(cell):
            cell["id"] = INJECTED
    nbformat.validate(nb)
    return nb


def with_prose(src_nb, executed):
    """The executed notebook with the prose and cell metadata of `src_nb` (same code)."""
    ran = iter(code_cells(executed))
    injected = [c for c in executed.cells if INJECTED in tags(c)]
    cells = []
    for cell in copy.deepcopy(src_nb.cells):
        if cell.cell_type == "code":
            old = next(ran)
            cell.outputs, cell.execution_count = old.outputs, old.execution_count
        cells += [cell, *injected] if "parameters" in tags(cell) else [cell]
    executed.cells = cells
    return executed


def provenance_markdown(rec: dict) -> str:
    """Markdown tables for the reproducing page (included there, so no headings)."""
    esc = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    commit = rec["git_commit"] + (" (with uncommitted changes)" if rec["git_dirty"] else "")
    env = rec["environment"]
    locks = ", ".join(f"`{n}` sha256 `{h}`" for n, h in env["lock_files"].items()) or "none"
    lines = ["| Build | |", "| --- | --- |", f"| parameter set | `{rec['parameter_set']}` |",
             f"| git commit | `{commit}` |", f"| built at (UTC) | {rec['built_at']} |",
             f"| Python | {env['python']} on {esc(rec['platform'])}, {rec['cpu_count']} CPUs |",
             f"| lock file | {locks} |",
             f"| notebook execution, total | {rec['total_notebook_wall_time_s']:.1f} s |",
             "", "| Package | Version |", "| --- | --- |"]
    lines += [f"| {name} | {ver} |" for name, ver in env["packages"].items()]
    lines += ["", "| Notebook | Wall time | Parameters | Seeds |", "| --- | --- | --- | --- |"]
    for name, run in rec["notebooks"].items():
        params = ", ".join(f"{k}={v!r}" for k, v in run["parameters"].items()) or "publication"
        seeds = ", ".join(f"{k}={v}" for k, v in run["seeds"].items()) or "none"
        lines.append(f"| {name} | {run['wall_time_s']:.1f} s | `{esc(params)}` | `{esc(seeds)}` |")
    return "\n".join(lines) + "\n"


def run(argv=None) -> int:
    args = parse_args(argv)
    notebooks = sorted(args.notebooks_dir.glob("[!.]*.ipynb"))
    if not notebooks:
        raise BuildError(f"no notebooks found in {args.notebooks_dir}")
    overrides = load_overrides(args.params, [p.stem for p in notebooks])
    unknown = sorted(set(args.only or ()) - {p.stem for p in notebooks})
    if unknown:
        raise BuildError(f"--only names unknown notebook(s) {unknown}")
    selected = [p for p in notebooks if not args.only or p.stem in args.only]
    chosen = {p.stem: overrides[p.stem] if args.set == "quick" else {} for p in selected}
    defaults = {p.stem: check_parameters(p, chosen[p.stem]) for p in selected}
    env, epoch_given, epoch = environment(), "SOURCE_DATE_EPOCH" in os.environ, source_date_epoch()
    isolate_kernels(epoch, Path(tempfile.mkdtemp(prefix="nslmodel-kernels-")))
    scratch = Path(tempfile.mkdtemp(prefix="nslmodel-notebooks-"))
    out_dir = args.output_dir
    if args.update_nbval_reference:
        for src in selected:
            update_reference(src, execute(src, chosen[src.stem], scratch, args.cell_timeout))
        return 0
    with locked(out_dir, "build_notebooks"), staged(out_dir) as staging:
        old_path = out_dir / "provenance.json"
        old = json.loads(old_path.read_text()).get("notebooks", {}) if old_path.exists() else {}
        runs = {k: v for k, v in old.items() if args.only and k not in args.only
                and (out_dir / f"{k}.ipynb").exists() and k in overrides}  # kept as they are
        print(f"{len(selected)} notebook(s), {args.set!r} parameter set", flush=True)
        for i, src in enumerate(selected, 1):
            nb, params = nbformat.read(src, as_version=4), chosen[src.stem]
            digest, tag = input_hash(nb, params, env), f"[{i}/{len(selected)}] {src.name}"
            if not args.force and old.get(src.stem, {}).get("input_hash") == digest \
                    and (out_dir / src.name).exists():
                executed = with_prose(nb, nbformat.read(out_dir / src.name, as_version=4))
                runs[src.stem] = old[src.stem]
                print(f"{tag}: code, parameters and environment unchanged, not re-executed")
            else:
                shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "publication values"
                print(f"{tag} ({shown}) ...", flush=True)
                t0 = time.perf_counter()
                executed = execute(src, params, scratch, args.cell_timeout)
                seconds = round(time.perf_counter() - t0, 1)
                print(f"{tag} done in {seconds:.1f} s", flush=True)
                seeds = {k: params.get(k, v) for k, v in defaults[src.stem].items() if "seed" in k}
                runs[src.stem] = {"parameter_set": args.set, "parameters": params, "seeds": seeds,
                                  "wall_time_s": seconds, "input_hash": digest}
            nbformat.write(normalize(executed, src.relative_to(args.notebooks_dir.parent).as_posix()),
                           staging / src.name)
        runs, sets = dict(sorted(runs.items())), {r["parameter_set"] for r in runs.values()}
        now = dt.datetime.fromtimestamp(epoch if epoch_given else time.time(), dt.timezone.utc)
        commit = git("rev-parse", "HEAD") or "unknown"
        rec = {"parameter_set": sets.pop() if len(sets) == 1 else "mixed", "git_commit": commit,
               "git_dirty": None if commit == "unknown" else bool(git("status", "--porcelain")),
               "built_at": now.replace(microsecond=0).isoformat(), "source_date_epoch": epoch,
               "platform": platform.platform(), "cpu_count": os.cpu_count(), "environment": env,
               "notebooks": runs,
               "total_notebook_wall_time_s": round(sum(r["wall_time_s"] for r in runs.values()), 1)}
        (staging / "provenance.json").write_text(json.dumps(rec, indent=2) + "\n")
        (staging / "provenance.md").write_text(provenance_markdown(rec))
        for stale in set(out_dir.glob("*.ipynb")) - {out_dir / f"{n}.ipynb" for n in runs}:
            stale.unlink()  # a notebook removed from notebooks/
    print(f"{len(runs)} executed notebook(s) in {out_dir}", flush=True)
    return 0


def update_reference(src: Path, executed) -> None:
    """Store the outputs of the ``# NBVAL_CHECK_OUTPUT`` cells in `src`; clear all others."""
    nb = nbformat.read(src, as_version=4)
    for cell, ran in zip(code_cells(nb), code_cells(executed), strict=True):
        if ran.source != cell.source:
            raise BuildError(f"{src.name}: a cell changed while the notebook was executed")
        keep = cell.source.lstrip().startswith(NBVAL_MARKER)
        cell.outputs, cell.execution_count = (ran.outputs, ran.execution_count) if keep else ([], None)
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.validate(nb)
    with tempfile.NamedTemporaryFile("w", dir=src.parent, suffix=".tmp", delete=False) as fh:
        fh.write(nbformat.writes(nb))
    os.chmod(fh.name, src.stat().st_mode & 0o777)
    os.replace(fh.name, src)  # in one rename
    print(f"  {src.name}: reference outputs of the checked cells stored")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=("quick", "publication"), default="publication")
    p.add_argument("--notebooks-dir", type=Path, default=REPO_ROOT / "notebooks")
    p.add_argument("--params", type=Path, help="quick-set overrides (default: NOTEBOOKS_DIR/params.yml)")
    p.add_argument("--output-dir", type=Path, default=REPO_ROOT / "book" / "figures")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks")
    p.add_argument("--force", action="store_true", help="re-execute even unchanged notebooks")
    # generous: the publication set runs Monte Carlo cells of minutes
    p.add_argument("--cell-timeout", type=float, default=3600, metavar="SECONDS")
    p.add_argument("--update-nbval-reference", action="store_true",
                   help="run the quick set; store the outputs of the checked cells in notebooks/")
    args = p.parse_args(argv)
    args.set = "quick" if args.update_nbval_reference else args.set
    args.notebooks_dir, args.output_dir = args.notebooks_dir.resolve(), args.output_dir.resolve()
    args.params = (args.params or args.notebooks_dir / "params.yml").resolve()
    return args


if __name__ == "__main__":
    sys.exit(main("build_notebooks", run))
