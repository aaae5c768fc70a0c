"""The results registry (docs/design.md): every result declared once, one guard, slot names
made only by the registry."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import chromtools as ct
from chromtools import _results
from chromtools._results import RESULTS, check_writable, kind_of, registry_table

PACKAGE = Path(ct.__file__).parent
# ct.tl functions that add results to an object, and those that only read one or add to it
WRITERS = {
    "fit", "pretrain", "load_model", "finetune", "transfer_matrix", "subsample_curve",
    "differential", "attention", "attribute", "in_silico_deletion", "scan_motifs",
    "motif_enrichment", "variant_effects", "denovo_motifs",
}  # fmt: skip
# predict fills the model's layer, evaluate its metrics, attention_agreement the attention
# record, save_model writes a folder: each goes into a result declared by its writer
READERS = {"predict", "evaluate", "attention_agreement", "save_model"}


def test_every_writer_of_ct_tl_is_declared_and_every_name_exists():
    declared = {f for result in RESULTS.values() for f in result.functions}
    assert declared == WRITERS
    assert (
        set(ct.tl.__all__)
        - {"TrainingConfig", "NormalizationWarning", "LeakageWarning", "DistributionWarning"}
        == WRITERS | READERS
    )
    for result in RESULTS.values():
        assert all(hasattr(ct.pl, plot) for plot in result.plots), result.kind
        if result.reader.startswith("ct.get."):
            assert hasattr(ct.get, result.reader.removeprefix("ct.get.")), result.kind


def test_the_docs_table_has_a_row_per_result():
    blocks = [line for line in registry_table().splitlines() if line.startswith("**")]
    assert blocks == [f"**{kind}**: {RESULTS[kind].description}" for kind in RESULTS]


def _slot_suffixes() -> set[str]:
    """The literal tails of every slot template: ``_attr``, ``_alpha``, ``_motifs_params``…"""
    tails = set()
    for result in RESULTS.values():
        for slot in _results.SLOTS:
            for template in getattr(result, slot):
                tails |= {part for part in template.split("}") if part.startswith("_")}
    return tails


def _code_fstrings(path: Path) -> list[tuple[int, str]]:
    """(line, literal text) of every f-string in ``path`` that is not a docstring or message."""
    tree = ast.parse(path.read_text())
    messages = set()
    for node in ast.walk(tree):
        # text raised or logged names slots to the user; it does not make them
        called = isinstance(node, ast.Call) and getattr(
            node.func, "attr", getattr(node.func, "id", "")
        ) in ("warning", "info", "debug", "warn", "stored")
        if isinstance(node, ast.Raise) or called:
            messages |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and id(node) not in messages:
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            found.append((node.lineno, text))
    return found


def test_slot_names_are_made_only_by_the_registry():
    tails = _slot_suffixes()
    assert {"_attr", "_alpha", "_beta", "_attention", "_motifs", "_params"} <= tails
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_results.py":
            continue
        for line, text in _code_fstrings(path):
            if any(text == tail or text.startswith(tail + "_") for tail in tails):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line} {text!r}")
    assert offenders == []


def test_one_guard_and_one_view_helper():
    guards, views = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        tree = ast.parse(text)
        guards += [
            f"{path.name}:{node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            and node.name in ("check_key_added", "_check_free", "check_outputs", "_check_key_added")
        ]
        if "_init_as_actual" in text:
            views.append(path.name)
    assert guards == [] and views == ["_results.py"]


@pytest.fixture
def fitted():
    adata = ct.datasets.synthetic_histone(2, 60, n_bins=20, seed=0)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, seed=0)
    return adata


def test_a_rerun_replaces_its_own_result_and_another_functions_is_refused(fitted):
    assert kind_of(fitted.uns["deepchrome"]) == "model"
    assert fitted.uns["deepchrome"]["params"]["function"] == "fit"
    assert fitted.uns["deepchrome"]["params"]["version"] == ct.__version__
    check_writable(fitted, "model", "deepchrome")  # a refit may replace it
    with pytest.raises(ValueError, match=r"uns\['deepchrome'\] \(a model result\)"):
        check_writable(fitted, "finetune", "deepchrome")
    with pytest.raises(ValueError, match=r"would overwrite layers\['deepchrome'\]"):
        check_writable(fitted, "deletion", "x", extra={"layers": ["deepchrome"]})
    fitted.obsm["mine_alpha"] = np.zeros((2, 60))
    with pytest.raises(ValueError, match=r"obsm\['mine_alpha'\], which is not an? attention"):
        ct.tl.attention(fitted, "deepchrome", key_added="mine")


@pytest.mark.parametrize("key", _results.RESERVED_KEYS)
def test_no_result_is_written_over_the_data_layout(fitted, key):
    with pytest.raises(ValueError, match="reserved"):
        check_writable(fitted, "attribution", key)


def test_attribute_with_two_methods_records_each_under_its_own_key(fitted):
    for method in ("grad_x_input", "integrated_gradients"):
        ct.tl.attribute(fitted, "deepchrome", method=method, genes=list(fitted.var_names[:4]))
    names = _results.results_of(fitted, "attribution", model="deepchrome")
    assert sorted(names) == ["deepchrome", "deepchrome_integrated_gradients"]
    for name in names:
        record = fitted.uns[RESULTS["attribution"].record_name(name)]
        assert record["params"]["key_added"] == name
