#!/usr/bin/env python
"""Execute the book's notebooks with papermill, at one parameter set, into the book's folder.

Every ``notebooks/*.ipynb`` is run with the parameters of its entry in ``notebooks/params.yml``
(section ``quick`` or ``publication``) and written to ``book/figures/<name>.ipynb``, together
with ``provenance.json`` (package versions, git commit, seeds, build time, wall time per
notebook) and ``provenance.md`` (the same as Markdown tables, included by the reproducing page).

Guarantees:

- progress is printed per notebook (name, parameters, wall time);
- the first failing notebook stops the run, and the message names the notebook, the cell
  (index in the source notebook and its first line) and the exception;
- outputs are all-or-nothing: notebooks are executed in a scratch directory and staged in a
  hidden directory next to the outputs; only when every notebook has succeeded are the staged
  files moved into place with ``os.replace``. A failed run leaves the output folder as it was;
  the failed, partly executed notebook is kept in the scratch directory for inspection;
- executed notebooks are deterministic: papermill's timestamps and durations, nbclient's
  timing metadata and absolute paths are removed, and the injected cell gets a fixed id.

``--update-nbval-reference`` runs the quick set and stores the outputs of the cells marked
``# NBVAL_CHECK_OUTPUT`` in the source notebooks (clearing all other outputs), which is the
reference nbval compares against in the tests.

Run ``python scripts/build_notebooks.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
import yaml
from papermill.exceptions import PapermillExecutionError

REPO_ROOT = Path(__file__).resolve().parents[1]
PARAMETER_SETS = ("quick", "publication")
NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"
KERNEL_NAME = "python3"
# Per-cell limit; generous because the publication set runs Monte Carlo cells of minutes.
DEFAULT_CELL_TIMEOUT_S = 3600
# Packages whose versions go into the provenance record.
PROVENANCE_PACKAGES = (
    "nslmodel",
    "numpy",
    "scipy",
    "matplotlib",
    "dask",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "papermill",
    "nbval",
)
PROVENANCE_JSON = "provenance.json"
PROVENANCE_MD = "provenance.md"
# Metadata that changes on every run and so must not reach the executed notebook.
_VOLATILE_NB_METADATA = ("start_time", "end_time", "duration", "exception", "output_path")
_VOLATILE_CELL_METADATA = ("papermill", "execution")
INJECTED_CELL_ID = "injected-parameters"


class BuildError(Exception):
    """A problem that stops the build; its message is printed without a traceback."""


# --------------------------------------------------------------------------- parameters


def discover_notebooks(notebooks_dir: Path) -> list[Path]:
    """Return the notebooks to execute, sorted by name."""
    found = sorted(p for p in notebooks_dir.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise BuildError(f"no notebooks found in {notebooks_dir}")
    return found


def load_parameter_sets(params_path: Path, names: list[str]) -> dict[str, dict[str, dict]]:
    """Read ``params.yml`` and check it has one entry per notebook in every section."""
    try:
        data = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"parameter file {params_path} does not exist") from None
    if not isinstance(data, dict):
        raise BuildError(f"{params_path}: expected sections {PARAMETER_SETS}, found {data!r}")
    problems = []
    sets: dict[str, dict[str, dict]] = {}
    for set_name in PARAMETER_SETS:
        section = data.get(set_name)
        if not isinstance(section, dict):
            problems.append(f"section {set_name!r} is missing or not a mapping")
            continue
        missing = [n for n in names if n not in section]
        extra = [n for n in section if n not in names]
        if missing:
            problems.append(f"section {set_name!r} has no entry for notebook(s) {missing}")
        if extra:
            problems.append(
                f"section {set_name!r} has entries for notebook(s) {extra} "
                "that are not in the notebooks folder"
            )
        entries = {}
        for name, entry in section.items():
            entry = {} if entry is None else entry
            if not isinstance(entry, dict):
                problems.append(f"{set_name}.{name} must be a mapping of parameters, got {entry!r}")
                continue
            entries[name] = entry
        sets[set_name] = entries
    unknown_sections = sorted(set(data) - set(PARAMETER_SETS))
    if unknown_sections:
        problems.append(f"unknown section(s) {unknown_sections}; allowed: {list(PARAMETER_SETS)}")
    if problems:
        raise BuildError(f"{params_path}:\n  - " + "\n  - ".join(problems))
    return sets


def parameters_cell_index(nb) -> int:
    """Index of the single cell tagged ``parameters``."""
    tagged = [
        i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(tagged) != 1:
        raise BuildError(f"expected exactly one cell tagged 'parameters', found {len(tagged)}")
    if nb.cells[tagged[0]].cell_type != "code":
        raise BuildError("the cell tagged 'parameters' must be a code cell")
    return tagged[0]


def check_parameters(path: Path, params: dict) -> dict:
    """Check `params` only names variables of the notebook's parameters cell.

    Returns the notebook's default parameters (name -> source text of the default).
    """
    nb = nbformat.read(path, as_version=4)
    try:
        parameters_cell_index(nb)
    except BuildError as err:
        raise BuildError(f"{path.name}: {err}") from None
    defaults = {
        name: info["default"] for name, info in papermill.inspect_notebook(str(path)).items()
    }
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise BuildError(
            f"{path.name}: params.yml sets {unknown}, which the parameters cell does not "
            f"define (it defines {sorted(defaults)})"
        )
    return defaults


def seeds_of(defaults: dict, params: dict) -> dict:
    """Parameters whose name contains 'seed', with the injected value where given."""
    seeds = {k: v for k, v in defaults.items() if "seed" in k.lower()}
    seeds.update({k: v for k, v in params.items() if "seed" in k.lower()})
    return seeds


# --------------------------------------------------------------------------- environment


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH from the environment, else the time of the last git commit."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        if not value.isdigit():
            raise BuildError(f"SOURCE_DATE_EPOCH={value!r} is not a non-negative integer")
        return int(value)
    out = _git("log", "-1", "--format=%ct")
    return int(out) if out and out.isdigit() else None


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def kernel_environment(epoch: int | None, scratch: Path, base=None) -> dict[str, str]:
    """The environment for the kernels: reproducible, isolated from user settings.

    Also used by the tests for nbval's kernels, so both runs see the same environment.
    """
    env = dict(os.environ if base is None else base)
    # A private IPython profile: no user startup files or settings reach the kernels, and
    # the kernel's own log is silenced (it warns about its TCP transport and logs the
    # interrupt papermill sends at shutdown; errors in cells still reach the notebook).
    profile = scratch / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text('c.IPKernelApp.log_level = "CRITICAL"\n')
    env["IPYTHONDIR"] = str(scratch / "ipython")
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    else:
        env.pop("SOURCE_DATE_EPOCH", None)
    env["PYTHONHASHSEED"] = "0"
    # Progress bars are run-dependent output (timings); keep them out of the notebooks.
    env["TQDM_DISABLE"] = "1"
    # A non-inline backend would stop figures from appearing in the notebooks.
    env.pop("MPLBACKEND", None)
    # Resolve the "python3" kernel to this interpreter, not one registered elsewhere.
    here = os.path.join(sys.prefix, "share", "jupyter")
    paths = [here] + [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def prepare_environment(epoch: int | None, scratch: Path) -> None:
    """Apply :func:`kernel_environment` to this process, whose children are the kernels."""
    env = kernel_environment(epoch, scratch)
    os.environ.clear()
    os.environ.update(env)


# --------------------------------------------------------------------------- execution


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""


def _running_cell(path: Path) -> int | None:
    """Index of the cell papermill marked as running in a partly executed notebook."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - the file may be missing or truncated
        return None
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return i
    return None


def execute_notebook(src: Path, params: dict, scratch: Path, cell_timeout: float):
    """Run `src` with `params` in `scratch`; return the executed notebook node."""
    nb_src = nbformat.read(src, as_version=4)
    pidx = parameters_cell_index(nb_src)
    injected = bool(params)
    out = scratch / src.name
    workdir = scratch / "cwd"
    workdir.mkdir(exist_ok=True)

    def source_index(executed_index: int) -> int:
        # papermill inserts its cell right after the parameters cell
        return executed_index - 1 if injected and executed_index > pidx else executed_index

    def where(executed_index: int | None) -> str:
        if executed_index is None:
            return "an unknown cell"
        if injected and executed_index == pidx + 1:
            return "the injected parameters cell"
        i = source_index(executed_index)
        return f"cell {i} (0-based, in {src.name}) starting {_first_line(nb_src.cells[i].source)!r}"

    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            cwd=str(workdir),
            request_save_on_cell_execute=True,
            execution_timeout=cell_timeout,
        )
    except PapermillExecutionError as err:
        raise BuildError(
            f"notebook {src.name} failed in {where(err.cell_index)}, In [{err.exec_count}]:\n"
            f"    {err.ename}: {err.evalue}\n"
            f"  the partly executed notebook is kept at {out}"
        ) from None
    except Exception as err:  # kernel death, cell timeout, ...
        raise BuildError(
            f"notebook {src.name} failed in {where(_running_cell(out))}:\n"
            f"    {type(err).__name__}: {err}\n"
            f"  the partly executed notebook is kept at {out}"
        ) from None
    executed = nbformat.read(out, as_version=4)
    out.unlink()
    return executed


def normalize(nb, source_rel: str):
    """Drop run-dependent metadata so reruns give identical files."""
    pm = nb.metadata.get("papermill", {})
    for key in _VOLATILE_NB_METADATA:
        pm.pop(key, None)
    if pm:
        pm["input_path"] = source_rel
        if not pm.get("environment_variables"):
            pm.pop("environment_variables", None)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = INJECTED_CELL_ID
    nbformat.validate(nb)
    return nb


# --------------------------------------------------------------------------- provenance


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance_record(set_name, runs, epoch, total_s, *, epoch_from_user: bool) -> dict:
    """The provenance record; the build time is SOURCE_DATE_EPOCH if the user set it."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    status = _git("status", "--porcelain")
    built = (
        dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
        if epoch_from_user and epoch is not None
        else dt.datetime.now(dt.timezone.utc)
    )
    return {
        "parameter_set": set_name,
        "git_commit": commit,
        "git_dirty": None if status is None or commit == "unknown" else bool(status),
        "built_at": built.replace(microsecond=0).isoformat(),
        "source_date_epoch": epoch,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
        "notebooks": runs,
        "total_notebook_wall_time_s": round(total_s, 1),
    }


def _md_escape(text) -> str:
    return str(text).replace("|", "\\|")


def provenance_markdown(rec: dict) -> str:
    """Markdown tables for the reproducing page (included, so no headings)."""
    commit = rec["git_commit"]
    if rec["git_dirty"]:
        commit += " (with uncommitted changes)"
    lines = [
        "| Build | |",
        "| --- | --- |",
        f"| parameter set | `{rec['parameter_set']}` |",
        f"| git commit | `{commit}` |",
        f"| built at (UTC) | {rec['built_at']} |",
        f"| Python | {rec['python']} on {_md_escape(rec['platform'])}, {rec['cpu_count']} CPUs |",
        f"| notebook execution, total | {rec['total_notebook_wall_time_s']:.1f} s |",
        "",
        "| Package | Version |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {ver} |" for name, ver in rec["packages"].items()]
    lines += ["", "| Notebook | Wall time | Parameters | Seeds |", "| --- | --- | --- | --- |"]
    for name, run in rec["notebooks"].items():
        params = ", ".join(f"{k}={v!r}" for k, v in run["parameters"].items()) or "defaults"
        seeds = ", ".join(f"{k}={v}" for k, v in run["seeds"].items()) or "none"
        lines.append(
            f"| {name} | {run['wall_time_s']:.1f} s | `{_md_escape(params)}` | `{_md_escape(seeds)}` |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- driver


def _atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` by `text` in one rename, keeping its permissions."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # mkstemp creates it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_all(args) -> int:
    notebooks = discover_notebooks(args.notebooks_dir)
    names = [p.stem for p in notebooks]
    sets = load_parameter_sets(args.params, names)
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise BuildError(f"--only names unknown notebook(s) {unknown}; known: {names}")
        notebooks = [p for p in notebooks if p.stem in args.only]
    set_name = "quick" if args.update_nbval_reference else args.set
    chosen = sets[set_name]
    defaults = {p.stem: check_parameters(p, chosen[p.stem]) for p in notebooks}

    epoch_from_user = bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())
    epoch = source_date_epoch()
    scratch = Path(tempfile.mkdtemp(prefix="nslmodel-notebooks-"))
    prepare_environment(epoch, scratch)

    out_dir = args.output_dir
    executed = {}
    runs = {}
    t_start = time.perf_counter()
    n = len(notebooks)
    print(f"Executing {n} notebook(s) with the {set_name!r} parameter set", flush=True)
    for i, src in enumerate(notebooks, 1):
        params = chosen[src.stem]
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
        print(f"[{i}/{n}] {src.name} ({shown}) ...", flush=True)
        t0 = time.perf_counter()
        nb = execute_notebook(src, params, scratch, args.cell_timeout)
        seconds = time.perf_counter() - t0
        print(f"[{i}/{n}] {src.name} done in {seconds:.1f} s", flush=True)
        executed[src] = normalize(nb, src.relative_to(args.notebooks_dir.parent).as_posix())
        runs[src.stem] = {
            "parameters": params,
            "seeds": seeds_of(defaults[src.stem], params),
            "wall_time_s": round(seconds, 1),
        }
    total = time.perf_counter() - t_start
    shutil.rmtree(scratch, ignore_errors=True)

    if args.update_nbval_reference:
        for src, nb in executed.items():
            update_reference(src, nb, bool(chosen[src.stem]))
        print(f"Updated nbval reference outputs in {n} notebook(s) ({total:.1f} s)")
        return 0

    rec_args = {"epoch": epoch, "epoch_from_user": epoch_from_user}
    publish(out_dir, executed, runs, set_name, total, rec_args, partial=bool(args.only))
    print(f"All {n} notebook(s) executed in {total:.1f} s; written to {out_dir}", flush=True)
    return 0


def publish(out_dir: Path, executed, runs, set_name, total, rec_args, *, partial: bool) -> None:
    """Stage every output, then move them into `out_dir` in one go."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".staging-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        if partial and (out_dir / PROVENANCE_JSON).exists():
            old = json.loads((out_dir / PROVENANCE_JSON).read_text(encoding="utf-8"))
            merged = {**old.get("notebooks", {}), **runs}
            if old.get("parameter_set") != set_name:
                set_name = "mixed"
            total = sum(r["wall_time_s"] for r in merged.values())
            runs = dict(sorted(merged.items()))
        rec = provenance_record(set_name, runs, rec_args["epoch"], total,
                                epoch_from_user=rec_args["epoch_from_user"])
        for src, nb in executed.items():
            nbformat.write(nb, staging / src.name)
        (staging / PROVENANCE_JSON).write_text(json.dumps(rec, indent=2) + "\n", encoding="utf-8")
        (staging / PROVENANCE_MD).write_text(provenance_markdown(rec), encoding="utf-8")
        for f in sorted(staging.iterdir()):
            os.replace(f, out_dir / f.name)
        if not partial:
            keep = {src.name for src in executed}
            for old_nb in out_dir.glob("*.ipynb"):
                if old_nb.name not in keep:
                    old_nb.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def update_reference(src: Path, executed, injected: bool) -> None:
    """Store the outputs of the ``# NBVAL_CHECK_OUTPUT`` cells in the source notebook."""
    nb = nbformat.read(src, as_version=4)
    pidx = parameters_cell_index(nb)
    checked = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        j = i + 1 if injected and i > pidx else i
        ran = executed.cells[j]
        if ran.source != cell.source:
            raise BuildError(f"{src.name}: cell {i} changed while it was being executed")
        if cell.source.lstrip().startswith(NBVAL_MARKER):
            cell.outputs = ran.outputs
            cell.execution_count = ran.execution_count
            checked += 1
        else:
            cell.outputs = []
            cell.execution_count = None
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nbformat.validate(nb)
    _atomic_write_text(src, nbformat.writes(nb))
    print(f"  {src.name}: {checked} checked cell(s) stored")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=PARAMETER_SETS, default="publication", help="parameter set")
    p.add_argument("--notebooks-dir", type=Path, default=REPO_ROOT / "notebooks")
    p.add_argument("--params", type=Path, default=None, help="default: NOTEBOOKS_DIR/params.yml")
    p.add_argument("--output-dir", type=Path, default=REPO_ROOT / "book" / "figures")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks")
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT_S, metavar="S")
    p.add_argument(
        "--update-nbval-reference",
        action="store_true",
        help="run the quick set and store the outputs of the '# NBVAL_CHECK_OUTPUT' cells "
        "in the source notebooks (clearing all other outputs)",
    )
    args = p.parse_args(argv)
    args.notebooks_dir = args.notebooks_dir.resolve()
    args.output_dir = args.output_dir.resolve()
    args.params = (args.params or args.notebooks_dir / "params.yml").resolve()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run_all(args)
    except BuildError as err:
        print(f"build_notebooks: error: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("build_notebooks: interrupted; outputs left unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
