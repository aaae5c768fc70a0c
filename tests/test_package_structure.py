"""Every public function follows the conventions of docs/design.md and scanpy's."""

from __future__ import annotations

import inspect

import pytest

import chromtools as ct

MODULES = {
    name: getattr(ct, name)
    for name in ("datasets", "functional", "get", "io", "models", "pl", "pp", "tl")
}
EXPORTED = [
    (f"ct.{module_name}.{name}", getattr(module, name))
    for module_name, module in MODULES.items()
    for name in getattr(module, "__all__", [])
]
PUBLIC = [(name, f) for name, f in EXPORTED if inspect.isfunction(f)]
CLASSES = [(name, c) for name, c in EXPORTED if inspect.isclass(c)]


def test_every_module_exports_what_it_lists():
    for module_name, module in MODULES.items():
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"ct.{module_name}.{name}"
    assert {name for name, _ in PUBLIC + CLASSES} | {"ct.models.MODELS"} == {
        name for name, _ in EXPORTED
    }


def _documented_parameters(doc: str) -> set[str]:
    """Names on unindented lines of a numpydoc docstring (several may share one line)."""
    return {
        name.strip().lstrip("*")
        for line in doc.splitlines()
        if line and not line.startswith(" ")
        for name in line.split(",")
    }


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_public_classes_document_their_arguments(name, cls):
    doc = inspect.getdoc(cls) or ""
    assert doc, f"{name} has no docstring"
    if issubclass(cls, Warning):
        return
    arguments = [p for p in inspect.signature(cls).parameters if p not in ("self", "kwargs")]
    if arguments:
        assert "Parameters\n----------" in doc, f"{name}: docstring has no Parameters section"
        missing = [p for p in arguments if p not in _documented_parameters(doc)]
        assert not missing, f"{name}: arguments not documented {missing}"


@pytest.mark.parametrize("model", sorted(ct.models.MODELS))
def test_every_registered_model_declares_what_the_engine_reads(model):
    cls = ct.models.MODELS[model]
    assert cls.name == model
    assert cls.input_kind in ("histone", "histone_pair", "sequence")
    assert (model, cls) in [(c.name, c) for _, c in CLASSES if c in ct.models.MODELS.values()]
    if not getattr(cls, "is_sklearn", False):
        defaults = cls.training_defaults
        assert set(defaults) == {"epochs", "batch_size", "lr", "weight_decay"}, model
        resolved = ct.tl.TrainingConfig().resolved(model)
        assert (resolved.epochs, resolved.batch_size, resolved.lr) == (
            defaults["epochs"],
            defaults["batch_size"],
            defaults["lr"],
        )


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
        missing = [p for p in documented if p not in _documented_parameters(doc)]
        assert not missing, f"{name}: parameters not documented {missing}"
    # ct.functional's cores take (model, tensor) or data first, never an AnnData
    if name.startswith("ct.functional."):
        assert not positional or positional[0].name != "adata", f"{name} takes an AnnData"
    if name.startswith(("ct.pp.", "ct.tl.", "ct.pl.")):
        assert positional and positional[0].name == "adata", f"{name} must take adata first"
    if name.startswith("ct.pl."):
        for option in ("show", "save"):
            assert signature.parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, name


PREPROCESSING = [(name, f) for name, f in PUBLIC if name.startswith("ct.pp.")]


@pytest.mark.parametrize(
    ("name", "function"), PREPROCESSING, ids=[name for name, _ in PREPROCESSING]
)
def test_preprocessing_works_in_place_unless_copy(name, function):
    parameters = inspect.signature(function).parameters
    assert "copy" in parameters and parameters["copy"].default is False, name
