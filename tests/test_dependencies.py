"""pyproject.toml declares exactly the third-party modules chromtools imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
# Distributions whose import name is not their name, lower-cased with "-" as "_".
IMPORT_NAMES = {"scikit-learn": "sklearn", "pybigwig": "pyBigWig", "modisco-lite": "modiscolite"}
# Declared without being imported, each for a reason.
NOT_IMPORTED = {"xarray": "anndata.experimental.read_elem_lazy reads data frames with it"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        # "dask[array]>=2024.1" → "dask": the name ends at extras, a version or a marker
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group().lower()
        names.add(IMPORT_NAMES.get(name, name.replace("-", "_")))
    return names


def _imported() -> dict[str, str]:
    """Third-party top-level modules imported anywhere in the package, with one file each."""
    modules = {}
    for path in sorted((ROOT / "chromtools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "chromtools" and top not in sys.stdlib_module_names:
                    modules.setdefault(top, str(path.relative_to(ROOT)))
    return modules


def test_every_imported_module_is_declared():
    undeclared = {m: path for m, path in _imported().items() if m not in _declared()}
    assert not undeclared, f"imported but not in pyproject.toml dependencies: {undeclared}"


def test_every_declared_dependency_is_imported():
    unused = _declared() - set(_imported()) - set(NOT_IMPORTED)
    assert not unused, f"declared in pyproject.toml but imported nowhere: {sorted(unused)}"


def test_the_exceptions_are_still_declared():
    assert set(NOT_IMPORTED) <= _declared()
