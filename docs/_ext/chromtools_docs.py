"""Sphinx extension: the parts of the docs that are made from the package at build time.

- ``docs/api/<module>.rst``: one page per public module of chromtools, with an
  autosummary table of everything in the module's ``__all__``; autosummary then
  writes a stub page per name into ``docs/api/generated/``. A new function is
  listed as soon as it is exported. A module that does not import (or has no
  ``__all__`` yet, as ``ct.pl`` while it is being written) is skipped with a
  message, never a warning.
- ``{chromtools-api-toctree}``: a toctree directive over the pages that were made.
- ``docs/api/_registry.inc``: the results registry, one block per kind
  (:func:`chromtools._results.registry_table`), included by ``design.md``.
- ``docs/api/_layout.inc``: every module of the package with what it holds (the
  first sentence of its docstring) and its length, included by ``design.md``.
- ``docs/tutorials/*.py``: copies of the repository's ``tutorials/*.py``
  (jupytext percent format), so Sphinx, which only reads sources under
  ``docs/``, renders and executes them.

Everything written here is git-ignored and rewritten only where it changed, so
an incremental build re-reads only what is new.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
from pathlib import Path

from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.directives.other import TocTree
from sphinx.util import logging

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
API = DOCS / "api"
GENERATED = API / "generated"
TUTORIALS = ROOT / "tutorials"
TUTORIAL_COPIES = DOCS / "tutorials"

#: The API pages in reading order: (page name, module, title).
MODULES = (
    ("io", "chromtools.io", "ct.io"),
    ("pp", "chromtools.pp", "ct.pp"),
    ("tl", "chromtools.tl", "ct.tl"),
    ("pl", "chromtools.pl", "ct.pl"),
    ("get", "chromtools.get", "ct.get"),
    ("datasets", "chromtools.datasets", "ct.datasets"),
    ("models", "chromtools.models", "ct.models"),
    ("functional", "chromtools.functional", "ct.functional"),
    ("chromtools", "chromtools", "ct (top level)"),
)

#: Page names made by the last :func:`write_api_pages`, for the toctree directive.
PAGES: list[str] = []


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it already holds it (keeps the mtime for Sphinx)."""
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def public_names(module: object) -> dict[str, list[str]]:
    """The names of ``module.__all__`` by kind: functions, classes, exceptions, warnings
    (what a call may warn, as :class:`~chromtools.tl.LeakageWarning`), data; submodules
    are left out (each has its own page)."""
    kinds: dict[str, list[str]] = {
        "Functions": [],
        "Classes": [],
        "Exceptions": [],
        "Warnings": [],
        "Data": [],
    }
    for name in sorted(module.__all__, key=str.lower):
        value = getattr(module, name)
        if inspect.ismodule(value):
            continue
        if inspect.isclass(value) and issubclass(value, Warning):
            kinds["Warnings"].append(name)
        elif inspect.isclass(value) and issubclass(value, BaseException):
            kinds["Exceptions"].append(name)
        elif inspect.isclass(value):
            kinds["Classes"].append(name)
        elif callable(value):
            kinds["Functions"].append(name)
        else:
            kinds["Data"].append(name)
    return {kind: names for kind, names in kinds.items() if names}


#: The text above a module's warnings: what they are for and how to act on one.
WARNINGS_INTRO = (
    "Issued when a call runs but its result may mislead; the call itself goes on. "
    'Make one an error with ``warnings.simplefilter("error", {example})``, or '
    'silence it with ``"ignore"``.'
)


def api_page(module_name: str, title: str, module: object) -> str:
    """The reStructuredText of one module's page."""
    lines = [title, "=" * len(title), "", f".. automodule:: {module_name}", ""]
    lines += [f".. currentmodule:: {module_name}", ""]
    for kind, names in public_names(module).items():
        lines += [kind, "-" * len(kind), ""]
        if kind == "Warnings":
            lines += [WARNINGS_INTRO.format(example=f"{title}.{names[0]}"), ""]
        lines += [".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {name}" for name in names]
        lines.append("")
    return "\n".join(lines)


def write_api_pages() -> list[str]:
    """Write ``docs/api/<page>.rst`` for every module that imports; remove stale pages and
    stubs. Returns the page names written."""
    pages, stubs = [], set()
    for page, module_name, title in MODULES:
        try:
            module = importlib.import_module(module_name)
            names = module.__all__
        except Exception as error:  # noqa: BLE001 - any failure skips the page
            logger.info(f"[chromtools_docs] no API page for {module_name}: {error!r}")
            continue
        write_if_changed(API / f"{page}.rst", api_page(module_name, title, module))
        pages.append(page)
        stubs.update(f"{module_name}.{name}.rst" for name in names)
    for path in API.glob("*.rst"):
        if path.stem not in pages:
            path.unlink()
    if GENERATED.is_dir():
        for path in GENERATED.iterdir():
            if path.name not in stubs:
                path.unlink()
    return pages


def copy_tutorials() -> None:
    """Copy ``tutorials/*.py`` to ``docs/tutorials/``; remove copies whose source is gone."""
    TUTORIAL_COPIES.mkdir(exist_ok=True)
    sources = {path.name: path for path in TUTORIALS.glob("[0-9]*.py")}
    for name, source in sources.items():
        copy = TUTORIAL_COPIES / name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copy2(source, copy)
    for copy in TUTORIAL_COPIES.glob("*.py"):
        if copy.name not in sources:
            copy.unlink()


#: A first cell, run but not shown: tqdm warns once, at import, that Jupyter's
#: widgets are missing; chromtools shows no progress bars in the tutorials anyway.
SETUP = """import warnings

warnings.filterwarnings("ignore", message="IProgress not found")"""


def read_tutorial(text: str) -> object:
    """A tutorial script as a notebook: jupytext's percent format, run by the ``python3``
    kernel (the script names none, and without one its cells get no lexer). A cell's title
    (``# %% Title``) stays its first line, as a comment, as it reads in the script."""
    import jupytext
    import nbformat

    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    for cell in notebook.cells:
        title = cell.metadata.pop("title", None)
        if title and cell.cell_type == "code":
            cell.source = f"# {title}\n{cell.source}"
    setup = nbformat.v4.new_code_cell(SETUP, metadata={"tags": ["remove-cell"]})
    notebook.cells.insert(0, setup)
    return notebook


def layout_table() -> str:
    """A Markdown table of every module of chromtools: path, lines, what it holds."""
    rows = ["| module | lines | holds |", "|---|---:|---|"]
    package = ROOT / "chromtools"
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        doc = ast.get_docstring(ast.parse(text)) or ""
        first = " ".join(doc.split("\n\n")[0].split()).split(". ")[0].rstrip(".")
        first = first.replace("|", "\\|")
        where = path.relative_to(package).as_posix()
        rows.append(f"| `{where}` | {len(text.splitlines())} | {first} |")
    return "\n".join(rows) + "\n"


def skip_foreign_member(app, what, name, obj, skip, options):
    """Document a class's own members only: not those that other libraries add to it, such
    as scikit-learn's ``set_fit_request`` on the baselines."""
    defined_in = getattr(getattr(obj, "fget", obj), "__module__", None)
    if what == "class" and isinstance(defined_in, str) and not defined_in.startswith("chromtools"):
        return True
    return None


def on_config_inited(app: Sphinx, config: Config) -> None:
    """Make the generated sources before Sphinx looks for source files."""
    copy_tutorials()
    PAGES[:] = write_api_pages()
    from chromtools._results import registry_table

    (DOCS / "api").mkdir(exist_ok=True)
    write_if_changed(DOCS / "api" / "_registry.inc", registry_table())
    write_if_changed(DOCS / "api" / "_layout.inc", layout_table())


class ApiToctree(TocTree):
    """A toctree of the API pages made in this build, in :data:`MODULES` order."""

    def run(self):
        self.content = StringList([f"api/{page}" for page in PAGES], source="chromtools_docs")
        return super().run()


def always_outdated(app, env, added, changed, removed) -> list[str]:
    """Re-read the pages holding the generated toctree, whose entries may have changed."""
    return [docname for docname in env.found_docs if docname in ("api",) and docname not in changed]


def setup(app: Sphinx) -> dict[str, object]:
    """Register the generation step and the toctree directive."""
    app.connect("config-inited", on_config_inited)
    app.connect("env-get-outdated", always_outdated)
    app.connect("autodoc-skip-member", skip_foreign_member)
    app.add_directive("chromtools-api-toctree", ApiToctree)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
