"""Stored models in ``uns``: what kind a result is, finding a model, checking it fits the data.

A fitted model is a record ``uns[key]`` with ``params``, ``config`` (``model``:
the architecture; ``data``: what it was trained on) and its weights (see
:mod:`chromtools.tl.engine._adapters`). Every function that reads a model finds it
with :func:`record_of` (:func:`record_in` in an object read already) and checks it
with :func:`check_model` (both, on a :class:`DataView`: :func:`checked_record`);
:func:`normalization` is how the signal it reads was
normalised, recorded with the model and compared with the object's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from anndata import AnnData

from ... import get
from ..._matching import shift, signal_quantiles
from ..._results import kind_of
from ..._utils import user_stacklevel
from ...get._lazy import concrete
from ...models import HISTONE, SEQUENCE
from ._adapters import TorchAdapter, non_finite_weights

if TYPE_CHECKING:
    from ._model_data import DataView


class NormalizationWarning(UserWarning):
    """A model's training signal and this object's were normalised differently (or not at all)."""


class DistributionWarning(NormalizationWarning):
    """The signal of cell types a model is moved to is distributed unlike its training
    signal, as another pipeline's would be: ``ct.pp.match_signal`` or ``match_input=True``."""


def normalization(meta: Mapping) -> dict:
    """How the histone signal was normalised, from an object's metadata (``uns['chromtools']``):
    ``ct.pp.normalize``'s method and scalar options."""
    params = meta.get("pp", {}).get("normalize", {})
    kept = {k: v for k, v in params.items() if v is None or isinstance(v, (str, int, float))}
    return kept if kept.get("method") else {"method": "none"}


def record_of(adata: AnnData, key: str) -> dict:
    """``uns[key]`` of a fitted model, with an error that lists the models there are.

    ``"finetune/E003"`` names the model that ``ct.tl.finetune(key_added="finetune")``
    fine-tuned to E003 (``uns['finetune']['models']['E003']``).
    """
    return record_in(concrete(adata), key)


def record_in(adata: AnnData, key: str) -> dict:
    """:func:`record_of` in an object whose ``uns`` is in memory (a :class:`DataView`'s)."""
    if not isinstance(key, str):
        raise KeyError(f"a model key is a string naming an uns entry, got {key!r}")
    record = adata.uns.get(key)
    if record is None and "/" in key:
        outer, inner = key.split("/", 1)
        container = adata.uns.get(outer)
        if kind_of(container) == "finetune":
            record = container["models"].get(inner)
            if record is None:
                raise KeyError(_no_finetuned_model(adata, outer, inner))
    if kind_of(record) in ("model", "differential"):
        return record
    found = kind_of(record)
    what = f"no fitted model under adata.uns[{key!r}]"
    if found:
        what = f"uns[{key!r}] is a {found} result, not a model"
    raise KeyError(f"{what}; {_available_models(adata)}")


def _available_models(adata: AnnData) -> str:
    """What a user can pass as a model key here, and the prediction layers there are."""
    keys = []
    for name, value in adata.uns.items():
        if kind_of(value) in ("model", "differential"):
            keys.append(str(name))
        elif kind_of(value) == "finetune":
            keys += [f"{name}/{target}" for target in value["models"]]
    return f"fitted models: {keys}; layers: {list(adata.layers)}"


def _no_finetuned_model(adata: AnnData, outer: str, inner: str) -> str:
    result = adata.uns[outer]
    source = result.get("params", {}).get("source_key")
    why = result.get("not_evaluated", {}).get(inner)
    if why is not None:
        return (
            f"no model was fine-tuned to {inner!r} by ct.tl.finetune(key_added={outer!r}): "
            f"{why}. Its zero-shot predictions are in layers[{outer!r}], made by the source "
            f"model; predict with ct.tl.predict(adata, {source!r}). {_available_models(adata)}"
        )
    return (
        f"ct.tl.finetune(key_added={outer!r}) has no target {inner!r}; its fine-tuned models "
        f"are {[f'{outer}/{t}' for t in result['models']]}. {_available_models(adata)}"
    )


def check_compatible(
    adata: AnnData, data_config: dict, what: str, meta: Mapping | None = None
) -> None:
    """Refuse data whose marks, bins or window (or missing sequence) differ from a model's
    training data; ``meta``: the object's metadata, when the caller has read it."""
    if data_config.get("input", HISTONE) == SEQUENCE:
        if "onehot" not in adata.varm:
            raise ValueError(
                f"{what} reads one-hot DNA, and adata.varm['onehot'] is missing: "
                "fill it with ct.pp.one_hot(adata, fasta)"
            )
        return
    meta = get.metadata(adata) if meta is None else meta
    have = [str(m) for m in meta["marks"]]
    missing = [m for m in data_config["marks"] if m not in have]
    if missing:
        raise ValueError(
            f"{what} was trained on marks {data_config['marks']}; {missing} are not in this "
            f"object's marks {have}"
        )
    window = [int(w) for w in np.asarray(meta["window"]).ravel()]
    n_bins = (window[1] - window[0]) // int(meta["bin_size"])
    if n_bins != data_config["n_bins"] or meta["bin_size"] != data_config["bin_size"]:
        raise ValueError(
            f"{what} was trained on {data_config['n_bins']} bins of {data_config['bin_size']} bp "
            f"(window {data_config['window']}); this object has {n_bins} bins of "
            f"{meta['bin_size']} bp (window {window}): use ct.pp.crop / ct.pp.rebin"
        )
    trained = data_config.get("window")
    if trained is not None and [int(w) for w in trained] != window:
        raise ValueError(
            f"{what} was trained on the window {list(trained)} bp around the TSS; this "
            f"object's window is {window}: the same bins hold other positions. Read or crop "
            "the signal to the model's window (ct.pp.crop)"
        )


def check_normalization(
    adata: AnnData, data_config: dict, what: str, *, moved: bool, meta: Mapping | None = None
) -> None:
    """Warn when a model's training signal and this object's were normalised differently,
    or, when the model is ``moved`` to cell types it was not trained on, both are raw."""
    if data_config.get("input", HISTONE) != HISTONE:
        return
    trained = data_config.get("normalization", {}).get("method", "none")
    here = normalization(get.metadata(adata) if meta is None else meta)["method"]
    if trained != here:
        fix = (
            "fit the model on signal normalised as this object's is (ct.pp.normalize)"
            if trained == "none"
            else f"normalise both the same way (ct.pp.normalize(adata, method={trained!r}))"
        )
        warnings.warn(
            f"{what} was trained on signal normalised with {trained!r}, but this object's "
            f"signal is normalised with {here!r}: inputs are not comparable; {fix}",
            NormalizationWarning,
            stacklevel=user_stacklevel(),
        )
    elif here == "none" and moved:
        warnings.warn(
            f"{what} and this object use raw, unnormalised signal: cell types differ in "
            "sequencing depth, so a model moved between them sees shifted inputs. Run "
            "ct.pp.normalize(adata) (per-track depth, then log1p) before fitting",
            NormalizationWarning,
            stacklevel=user_stacklevel(),
        )


def check_model(
    adata: AnnData,
    record: dict,
    what: str,
    *,
    cell_types: Sequence[str] | None = None,
    meta: Mapping | None = None,
    signal=None,
    matched: bool = False,
) -> None:
    """The one check of a stored model against the object it is about to read.

    Used by predict, finetune, transfer_matrix, subsample_curve and load_model.
    Refuses marks, bins or a window other than the model's (:func:`check_compatible`)
    and non-finite weights; warns (:class:`NormalizationWarning`) when the
    signal was normalised otherwise than the model's training signal, or is
    raw while the model is moved to ``cell_types`` it was not trained on
    (None: the cell types are not known yet, as in load_model). ``meta`` is the
    object's metadata when the caller has read it (:class:`DataView`), else read here;
    ``signal`` likewise its aligned histone signal, read for :func:`check_distribution`.
    ``matched``: the caller maps the moved cell types' signal onto the training
    distribution (``match_input=True``), so their distribution is not checked.
    """
    data_config = record["config"]["data"]
    check_compatible(adata, data_config, what, meta)
    trained_on = list(data_config.get("cell_types", []))
    moved = cell_types is not None and any(c not in trained_on for c in cell_types)
    check_normalization(adata, data_config, what, moved=moved, meta=meta)
    if moved and not matched and data_config.get("input_quantiles") is not None:
        signal = get.histone(adata) if signal is None else signal
        marks = [str(m) for m in (get.metadata(adata) if meta is None else meta)["marks"]]
        moved_to = [c for c in cell_types if c not in trained_on]
        key = next((k for k, v in adata.uns.items() if v is record), "<the model's key>")
        check_distribution(adata.obs_names, signal, marks, data_config, moved_to, what, key)
    check_finite_weights(record.get("state_dict", {}), what)


# The largest CDF gap (KS statistic) per mark above which a target's signal is called
# distributed unlike the model's training signal: 0.03-0.19 between the normalised K562 and
# H1 signal of the embedded sample, 0.30-0.45 once H1 went through log1p(3x)*10+2.
SHIFT_WARNING = 0.25


def check_distribution(
    obs_names,
    signal,
    have: list[str],
    data_config: dict,
    cell_types: Sequence[str],
    what: str,
    key: str,
) -> None:
    """Warn (:class:`DistributionWarning`) when the signal of ``cell_types`` (in ``signal``,
    whose marks are ``have``) is distributed unlike the model's training signal of a mark,
    as another pipeline's would be, and say how to match it."""
    reference = data_config["input_quantiles"]
    shifted = {}
    for cell in cell_types:
        own = signal_quantiles(signal, [obs_names.get_loc(cell)])
        gaps = {m: shift(own[have.index(m)], np.asarray(q)) for m, q in reference.items()}
        gaps = {m: g for m, g in gaps.items() if np.isfinite(g) and g > SHIFT_WARNING}
        if gaps:
            shifted[cell] = ", ".join(f"{m} {g:.2f}" for m, g in gaps.items())
    if shifted:
        found = "; ".join(f"{cell}: {gaps}" for cell, gaps in shifted.items())
        warnings.warn(
            f"{what} was trained on signal distributed unlike that of {list(shifted)} "
            f"(largest gap between the CDFs, per mark: {found}), as signal from another "
            "pipeline or normalisation would be; its predictions there may be off. "
            f"ct.pp.match_signal(adata, reference={key!r}) maps it onto the model's "
            "training distribution (or pass match_input=True)",
            DistributionWarning,
            stacklevel=user_stacklevel(),
        )


def checked_record(
    view: DataView,
    key: str,
    what: str,
    *,
    cell_types: Sequence[str] | None = None,
    matched: bool = False,
) -> dict:
    """The model ``key`` in the object a :class:`DataView` read, checked against it by
    :func:`check_model`."""
    record = record_in(view.adata, key)
    check_model(view.adata, record, what, cell_types=cell_types, meta=view.meta,
                signal=view.histone, matched=matched)  # fmt: skip
    return record


def check_finite_weights(state: Mapping[str, np.ndarray], what: str) -> None:
    """Refuse weights holding NaN or infinity: such a model predicts only NaN."""
    bad = non_finite_weights(state)
    if bad:
        raise ValueError(
            f"{what} has {bad} non-finite weights (NaN or infinite); it cannot predict. "
            "Fit it again (with a lower lr if training diverged)"
        )


state_arrays = TorchAdapter.arrays
rebuild = TorchAdapter.load
