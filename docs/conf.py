"""Sphinx configuration: ``make docs`` (warnings are errors); nothing is downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

import chromtools  # noqa: E402

project = "chromtools"
author = "chromtools developers"
copyright = "chromtools developers"  # noqa: A001
version = release = chromtools.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.viewcode",
    "chromtools_docs",  # docs/_ext: API pages from __all__, tutorials copied in
]

exclude_patterns = [
    "_build",
    "_ext",
    "*.py",  # conf.py, readme_figure.py; tutorials/*.py are notebooks (a deeper folder)
    "**/.ipynb_checkpoints",
    "jupyter_execute",
]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["chromtools.css"]  # docs/_static: long code and output lines wrap

# Sources: MyST markdown, reStructuredText (the generated API pages) and the
# tutorials, jupytext percent-format scripts read as notebooks.
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
# chromtools_docs.read_tutorial is jupytext.reads(text, fmt="py:percent") plus the kernel.
nb_custom_formats = {".py": ["chromtools_docs.read_tutorial", {}]}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The tutorials run at every build whose cache does not hold their current code
# (docs/_build/.jupyter_cache); CHROMTOOLS_NB_EXECUTION=force runs them anyway.
nb_execution_mode = os.environ.get("CHROMTOOLS_NB_EXECUTION", "cache")
# Seconds one cell may run before the build fails; CHROMTOOLS_NB_TIMEOUT changes it
# (a slow or busy machine). Every tutorial runs in about a minute on two cores.
nb_execution_timeout = int(os.environ.get("CHROMTOOLS_NB_TIMEOUT", "1800"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# API reference: numpydoc docstrings (Parameters / Returns / Raises).
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Theme: everything it needs is in the package; no remote inventories.
html_theme = "sphinx_book_theme"
html_title = f"chromtools {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
