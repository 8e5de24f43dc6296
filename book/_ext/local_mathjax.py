"""Serve MathJax from the built site instead of a CDN, so the book reads offline.

The MathJax 2.7 distribution shipped by the ``jupyter-server-mathjax`` package (the copy the
Jupyter notebook server itself uses) is copied to ``_static/mathjax`` of the HTML output, and
``mathjax_path`` points there. That distribution carries the TeX input, the HTML-CSS output
and the STIX-Web web fonts, so the configuration below selects exactly those.

MyST marks the body of each page to be ignored by MathJax and wraps every formula in an
element of class ``math`` (notebook outputs: ``output_area``). myst-parser writes that rule in
MathJax 3 syntax (``mathjax3_config``), which MathJax 2 does not read; this extension drops it
and states the same rule in MathJax 2 syntax (``tex2jax.processClass``/``ignoreClass``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

# Relative to the HTML output's _static folder.
MATHJAX_DIR = "mathjax"
# The combined configuration shipped with that distribution (TeX + MathML input, HTML-CSS
# output, AMS extensions); "-full" preloads the jax so pages need fewer requests.
MATHJAX_CONFIG_FILE = "TeX-AMS-MML_HTMLorMML-full"
# The classes MyST uses (myst-parser's default `myst_mathjax_classes`).
DEFAULT_PROCESS_CLASSES = "tex2jax_process|mathjax_process|math|output_area"
IGNORE_CLASSES = "tex2jax_ignore|mathjax_ignore|document"


# Selectors to which MathJax 2.7's NativeMML jax assigns TeX web fonts.
_TEX_FONT_SELECTORS = (
    '[class="MJX-tex-oldstyle"]',
    '[class="MJX-tex-oldstyle-bold"]',
    '[class="MJX-tex-caligraphic"]',
    '[class="MJX-tex-caligraphic-bold"]',
    '[mathvariant="double-struck"]',
    '[mathvariant="script"]',
    '[mathvariant="fraktur"]',
    '[mathvariant="bold-script"]',
    '[mathvariant="bold-fraktur"]',
)


def mathjax_source() -> Path:
    """The MathJax 2 tree inside the installed ``jupyter-server-mathjax`` package."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ExtensionError(
            "local_mathjax needs the 'jupyter-server-mathjax' package (book extra); "
            "install it with: pip install -e '.[book]'"
        ) from err
    root = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (root / "MathJax.js").is_file():
        raise ExtensionError(f"no MathJax.js under {root}; is jupyter-server-mathjax complete?")
    return root


def mathjax2_config(process_classes: str) -> dict:
    """MathJax 2 configuration: TeX in ``\\(..\\)``, ``\\[..\\]`` and ``$``-delimiters,
    only inside MyST's math elements; web fonts from the local STIX-Web copy."""
    return {
        # The combined configuration file also defines the NativeMML and PreviewHTML output
        # jax; left active, their styles make the browser request TeX fonts that this
        # distribution does not ship. HTML-CSS alone renders everything.
        "jax": ["input/TeX", "output/HTML-CSS"],
        "tex2jax": {
            "inlineMath": [["\\(", "\\)"], ["$", "$"]],
            "displayMath": [["\\[", "\\]"], ["$$", "$$"]],
            "processEscapes": True,
            "processEnvironments": True,
            "processClass": process_classes,
            "ignoreClass": IGNORE_CLASSES,
        },
        "TeX": {"equationNumbers": {"autoNumber": "none"}},
        # The assistive (visually hidden) MathML for screen readers is styled by the NativeMML
        # jax with TeX web fonts that this distribution lacks; use the reader's serif font.
        "NativeMML": {"styles": {sel: {"font-family": "serif"} for sel in _TEX_FONT_SELECTORS}},
        "HTML-CSS": {
            "availableFonts": [],
            "preferredFont": None,
            "webFont": "STIX-Web",
            "imageFont": None,
        },
        # Nothing is fetched on demand from outside: no third-party ([Contrib]) extensions.
        "menuSettings": {"zoom": "None"},
        "showMathMenu": False,
        "messageStyle": "none",
    }


def configure(app: Sphinx) -> None:
    """builder-inited, after myst-parser: point Sphinx's mathjax extension at the local copy."""
    if app.builder.format != "html":
        return
    myst_config = getattr(app.env, "myst_config", None)
    classes = getattr(myst_config, "mathjax_classes", None) or DEFAULT_PROCESS_CLASSES
    app.config.mathjax_path = f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG_FILE}"
    app.config.mathjax3_config = None
    app.config.mathjax2_config = mathjax2_config(classes)
    app.config.mathjax_options = {"async": "async"}


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """build-finished: copy the MathJax tree into ``_static/mathjax``."""
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / MATHJAX_DIR
    shutil.copytree(mathjax_source(), dest, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    # myst-parser's override runs at the default priority (500); ours must come after it.
    app.connect("builder-inited", configure, priority=900)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
