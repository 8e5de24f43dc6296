"""Serve MathJax from the built site instead of a CDN, so the book reads offline.

The MathJax 2.7 copy of ``jupyter-server-mathjax`` goes to ``_static/mathjax``, where
``mathjax_path`` and ``mathjax2_config`` in _config.yml point. myst-parser's MathJax 3 setting
(which MathJax 2 would read as its own) is dropped; ``mathjax2_config`` says the same for 2.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError


def drop_mathjax3_config(app) -> None:
    app.config.mathjax3_config = None


def copy_mathjax(app, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax  # in the book extra
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (source / "MathJax.js").is_file():
        raise ExtensionError(f"no MathJax.js under {source}; is jupyter-server-mathjax complete?")
    shutil.copytree(source, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    # after myst-parser sets mathjax3_config in builder-inited (at the default priority, 500)
    app.connect("builder-inited", drop_mathjax3_config, priority=900)
    app.connect("build-finished", copy_mathjax)  # into the site, once it is written
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
