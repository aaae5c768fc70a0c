"""The layout of docs/design.md §6–7 holds: who may import whom, and how large a piece may be.

Each rule is checked on the source, so a change that breaks it fails here with the
offending file and line named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "chromtools"
# folders of tl and io: each one job, imported from outside only through its __init__
FOLDERS = ("tl.engine", "tl.modeling", "tl.transfer", "tl.interpret", "tl.motifs",
           "io.store", "io.sequence")  # fmt: skip
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80  # without the docstring
MAX_PUBLIC_PARAMETERS = 12


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every ``from … import`` in ``path``; names imported from a
    package count as modules of it (``from chromtools.io import _zarr``)."""
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        found.append((node.lineno, target))
        found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def private_of_folder(target: str) -> str | None:
    """The folder whose private module ``target`` is (``chromtools.tl.engine._train``)."""
    for folder in FOLDERS:
        prefix = f"chromtools.{folder}."
        if target.startswith(prefix) and target[len(prefix) :].startswith("_"):
            return f"chromtools.{folder}"
    return None


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def test_a_folders_private_modules_are_imported_only_inside_it():
    offending = []
    for path in python_files(PACKAGE, ROOT / "benchmarks"):
        here = module_name(path)
        for line, target in imports(path):
            folder = private_of_folder(target)
            if folder and here != folder and not here.startswith(folder + "."):
                offending.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not offending, "\n".join(offending)


def test_pl_and_benchmarks_import_no_private_module_of_tl():
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in python_files(PACKAGE / "pl", ROOT / "benchmarks")
        for line, target in imports(path)
        if target.startswith("chromtools.tl.") and "._" in target[len("chromtools.tl") :]
    ]
    assert not offending, "\n".join(offending)


def test_io_pp_get_and_models_import_nothing_of_tl():
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for sub in ("io", "pp", "get", "models")
        for path in python_files(PACKAGE / sub)
        for line, target in imports(path)
        if target == "chromtools.tl" or target.startswith("chromtools.tl.")
    ]
    assert not offending, "\n".join(offending)


def test_the_folders_of_the_design_exist_each_with_a_docstring():
    for folder in FOLDERS:
        init = PACKAGE / folder.replace(".", "/") / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"
    loose = [p.name for p in (PACKAGE / "tl").glob("_*.py")]
    assert sorted(loose) == ["__init__.py", "_differential.py"], loose


def function_sizes(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if ast.get_docstring(node) is not None:
                doc = node.body[0]
                lines -= doc.end_lineno - doc.lineno + 1
            arguments = node.args
            n = len(arguments.posonlyargs) + len(arguments.args) + len(arguments.kwonlyargs)
            yield node, lines, n


@pytest.mark.parametrize("limit", ["module", "function", "parameters"])
def test_no_piece_is_larger_than_the_design_allows(limit):
    too_large = []
    for path in python_files(PACKAGE):
        where = path.relative_to(ROOT)
        if limit == "module":
            n = len(path.read_text().splitlines())
            if n > MAX_MODULE_LINES:
                too_large.append(f"{where}: {n} lines")
            continue
        for node, lines, n in function_sizes(path):
            if limit == "function" and lines > MAX_FUNCTION_LINES:
                too_large.append(f"{where}:{node.lineno} {node.name}: {lines} lines")
            public = not node.name.startswith("_")
            if limit == "parameters" and public and n > MAX_PUBLIC_PARAMETERS:
                too_large.append(f"{where}:{node.lineno} {node.name}: {n} parameters")
    assert not too_large, "\n".join(too_large)


ORDER = {"engine": set(), "modeling": {"engine"}, "transfer": {"engine", "modeling"},
         "interpret": {"engine", "motifs"}, "motifs": set()}  # fmt: skip


def test_the_folders_of_tl_import_each_other_one_way():
    offending = []
    for folder, allowed in ORDER.items():
        for path in python_files(PACKAGE / "tl" / folder):
            for line, target in imports(path):
                parts = target.split(".")
                if parts[:2] == ["chromtools", "tl"] and len(parts) > 2:
                    other = parts[2]
                    if other in ORDER and other != folder and other not in allowed:
                        offending.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not offending, "\n".join(offending)
