"""Execute the quick set of every notebook a second time, in a different environment.

The book's runner (scripts/build_notebooks.py) executes each notebook in a fresh kernel, in file
order, with the BLAS thread count the machine gives. This script executes the same notebooks,
parameterized by papermill with the same quick set, under other conditions:

- all in ONE kernel, in reverse file order, the user namespace cleared (``%reset -f``) between
  two notebooks: every notebook runs after the queries of the others, with the module-level
  state they leave behind (imported modules, caches, BLAS buffers);
- with ``--blas-threads`` threads for OpenBLAS / OpenMP / MKL (set before the kernel starts).

It writes one executed notebook per source notebook (its cells and their outputs) into the
output directory, and ``threadpools.json``: the thread pools the kernel reported at the end.
Usage: ``python tests/_second_environment.py NOTEBOOKS_DIR OUTPUT_DIR --blas-threads N``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import build_notebooks as runner  # noqa: E402

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
RESET = "%reset -f"  # user variables go; modules, their caches and the BLAS state stay
PROBE = ("import json\nfrom threadpoolctl import threadpool_info\n"
         "print(json.dumps([{k: p[k] for k in ('internal_api', 'prefix', 'num_threads')}\n"
         "                  for p in threadpool_info()]))")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks_dir", type=Path)
    p.add_argument("output_dir", type=Path)
    p.add_argument("--blas-threads", type=int, required=True)
    p.add_argument("--cell-timeout", type=float, default=600)
    args = p.parse_args(argv)
    notebooks = sorted(args.notebooks_dir.glob("[!.]*.ipynb"))
    overrides = runner.load_overrides(args.notebooks_dir / "params.yml", [n.stem for n in notebooks])
    scratch = Path(tempfile.mkdtemp(prefix="nslmodel-second-environment-"))
    runner.isolate_kernels(runner.source_date_epoch(), scratch)  # the runner's kernel settings
    os.environ.update({name: str(args.blas_threads) for name in THREAD_VARIABLES})
    cells, spans = [], {}
    for src in reversed(notebooks):
        runner.check_parameters(src, overrides[src.stem])
        prepared = papermill.execute_notebook(  # papermill's parameters cell, not executed
            str(src), None, parameters=overrides[src.stem], kernel_name="python3",
            prepare_only=True, progress_bar=False)
        cells.append(nbformat.v4.new_code_cell(RESET))
        spans[src.name] = (len(cells), len(cells) + len(prepared.cells))
        cells += prepared.cells
    cells.append(nbformat.v4.new_code_cell(PROBE))
    for k, cell in enumerate(cells):
        cell.id = f"cell-{k}"  # the notebooks' own ids need not be unique across notebooks
    combined = nbformat.v4.new_notebook(cells=cells, metadata=prepared.metadata)
    try:
        executed = papermill.execute_notebook(
            combined, str(scratch / "combined.ipynb"), kernel_name="python3", cwd=str(scratch),
            progress_bar=False, execution_timeout=args.cell_timeout,
            coalesce_streams=True,  # as the runner: a slow cell's output in one piece
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except PapermillExecutionError as err:
        name, (start, _) = next((n, s) for n, s in spans.items()
                                if s[0] <= err.cell_index < s[1])
        print(f"{name} failed in the second environment, in cell {err.cell_index - start + 1} "
              f"(papermill's parameters cell counted): {err.ename}: {err.evalue}", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, (start, stop) in spans.items():
        nb = nbformat.v4.new_notebook(cells=executed.cells[start:stop], metadata=executed.metadata)
        nbformat.write(nb, args.output_dir / name)
    probe = executed.cells[-1].outputs[0]["text"]
    (args.output_dir / "threadpools.json").write_text(probe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
