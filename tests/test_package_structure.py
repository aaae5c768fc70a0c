"""Every public function follows the conventions of DESIGN.md §3 (scanpy's)."""

from __future__ import annotations

import inspect

import pytest

import chromtools as ct

MODULES = {name: getattr(ct, name) for name in ("datasets", "get", "io", "pp", "tl")}
PUBLIC = [
    (f"ct.{module_name}.{name}", getattr(module, name))
    for module_name, module in MODULES.items()
    for name in getattr(module, "__all__", [])
]


def test_every_module_exports_what_it_lists():
    for module_name, module in MODULES.items():
        for name in getattr(module, "__all__", []):
            assert callable(getattr(module, name)), f"ct.{module_name}.{name}"


@pytest.mark.parametrize(("name", "function"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_function_conventions(name, function):
    signature = inspect.signature(function)
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert len(positional) <= 3, f"{name} takes {len(positional)} positional parameters"
    unhinted = [p.name for p in signature.parameters.values() if p.annotation is p.empty]
    assert not unhinted, f"{name}: parameters without type hints {unhinted}"
    doc = inspect.getdoc(function) or ""
    assert "Returns\n-------" in doc, f"{name}: docstring has no Returns section"
    documented = [p.name for p in signature.parameters.values() if p.name != "self"]
    if len(documented) > 1:
        assert "Parameters\n----------" in doc, f"{name}: docstring has no Parameters section"
        # numpydoc names parameters on unindented lines, several may share one
        named = {
            name.strip().lstrip("*")
            for line in doc.splitlines()
            if line and not line.startswith(" ")
            for name in line.split(",")
        }
        missing = [p for p in documented if p not in named]
        assert not missing, f"{name}: parameters not documented {missing}"
    if name.startswith(("ct.pp.", "ct.tl.")):
        assert positional and positional[0].name == "adata", f"{name} must take adata first"


PREPROCESSING = [(name, f) for name, f in PUBLIC if name.startswith("ct.pp.")]


@pytest.mark.parametrize(
    ("name", "function"), PREPROCESSING, ids=[name for name, _ in PREPROCESSING]
)
def test_preprocessing_works_in_place_unless_copy(name, function):
    parameters = inspect.signature(function).parameters
    assert "copy" in parameters and parameters["copy"].default is False, name
