"""The results registry: every kind of result a ``ct.tl`` function writes, declared once.

A kind of result (a fitted model, an attention map, the attributions of one method…) is a
:class:`Result`: the ``ct.tl`` functions that write it, the slots it fills in ``uns``, ``obsm``,
``varm``, ``layers`` and ``var`` as templates of its key, how its key is chosen when none is
given, the ``ct.get`` reader that reads it back and the ``ct.pl`` functions that draw it.
Everything else goes through this module:

- slot names are made here (:meth:`Result.slots`), nowhere else;
- :func:`check_writable` is the one guard: a slot held by another function's result, by the
  data layout or by the user is refused by name, and a rerun of the same function replaces
  its own result;
- :func:`record_params` is the one writer of ``uns[...]["params"]``: the function,
  the package version and every argument;
- :func:`kind_of` says who wrote a record, from ``params["function"]``.

``docs/design.md`` renders :data:`RESULTS` as the table of every slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from string import Formatter

from anndata import AnnData

from ._constants import VERSION

# Slots of the data layout that no result may be written over (docs/design.md, the data model).
RESERVED_KEYS = ("label", "chromtools", "histone", "counts", "onehot", "split")

SLOTS = ("uns", "obsm", "varm", "layers", "var")


def storage_name(key: str) -> str:
    """``key`` as Zarr and HDF5 can store it in an element name: ``/`` written ``_``
    (the fine-tuned model ``"finetune/E003"`` predicts into ``layers['finetune_E003']``)."""
    return key.replace("/", "_")


@dataclass(frozen=True)
class Result:
    """One kind of result: who writes it, where it goes, who reads and draws it.

    Slot templates name ``{key}`` (the result's key, ``/`` written ``_``) and may name
    ``{cell_type}``, ``{method}``, ``{reference}`` or ``{name}``, given to :meth:`slots`.
    ``default_key`` is a template of ``{model}`` (the model's key) and ``{method}``; ``defaults``
    overrides it per method. ``record`` is the position, among the ``uns`` templates, of the entry
    that holds ``params`` (with the writing ``function``); motif tables, which are DataFrames, keep
    theirs in a sibling ``_params`` entry.
    """

    kind: str
    functions: tuple[str, ...]
    description: str
    uns: tuple[str, ...] = ("{key}",)
    obsm: tuple[str, ...] = ()
    varm: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    var: tuple[str, ...] = ()
    default_key: str = "{model}"
    defaults: Mapping[str, str] = field(default_factory=dict)
    record: int = 0
    reader: str = ""
    plots: tuple[str, ...] = ()

    def slots(self, key: str, **parts: str | list[str]) -> dict[str, list[str]]:
        """The names this result of key ``key`` has in each slot.

        A part given as a list gives one name per item (the layers of several
        targets); a template whose parts are not given is left out (the
        per-cell-type ``varm`` without ``cell_type``).
        """
        values = {"key": storage_name(key), **parts}
        return {
            slot: [name for template in getattr(self, slot) for name in _expand(template, values)]
            for slot in SLOTS
        }

    def record_name(self, key: str, **parts: str) -> str:
        """The ``uns`` entry whose ``params`` say who wrote the result."""
        return self.slots(key, **parts)["uns"][self.record]

    def default(self, model: str = "", method: str = "") -> str:
        """The key of this result when ``key_added`` is not given."""
        template = self.defaults.get(method, self.default_key)
        return template.format(model=storage_name(model), method=method)


def _expand(template: str, values: Mapping[str, str | list[str]]) -> list[str]:
    """Every name ``template`` makes of ``values`` (lists expanded); none if a part is missing."""
    fields = [name for _, name, _, _ in Formatter().parse(template) if name]
    if any(name not in values for name in fields):
        return []
    lists = [[v] if isinstance(v := values[name], str) else list(v) for name in fields]
    return [template.format(**dict(zip(fields, combo, strict=True))) for combo in product(*lists)]


RESULTS: dict[str, Result] = {
    result.kind: result
    for result in (
        Result(
            "model",
            ("fit", "pretrain", "load_model"),
            "a fitted model (record with params, config, history, weights, metrics) and "
            "its predictions",
            layers=("{key}",),
            reader="ct.tl.predict",
            plots=("roc", "pr", "metrics", "learning_curve", "calibration"),
        ),
        Result(
            "finetune",
            ("finetune",),
            "a transfer to target cell types: metrics, test predictions, the fine-tuned "
            "models (uns[key]['models'][target], predicting into layers[key_target])",
            layers=("{key}", "{key}_{target}"),
            default_key="finetune",
            plots=("finetune",),
        ),
        Result(
            "transfer_matrix",
            ("transfer_matrix",),
            "zero-shot scores of every source cell type's model on every target",
            default_key="transfer_matrix",
            plots=("transfer_heatmap",),
        ),
        Result(
            "subsample_curve",
            ("subsample_curve",),
            "fine-tuned and from-scratch scores against the share of target labels",
            default_key="subsample_curve",
            plots=("subsample_curve",),
        ),
        Result(
            "differential",
            ("differential",),
            "a DeepDiff model of two cell types; its predictions and the baselines' in var",
            var=("{key}", "{key}_{name}"),
            default_key="deepdiff",
        ),
        Result(
            "attention",
            ("attention",),
            "attention maps of a model: alpha over bins, beta over marks, the seeds' agreement",
            uns=("{key}_attention",),
            obsm=("{key}_alpha", "{key}_beta"),
            layers=("{key}_attention_agreement",),
            reader="ct.get.attention",
            plots=("attention",),
        ),
        Result(
            "attribution",
            ("attribute",),
            "attributions of one method (histone: obsm, sequence: varm per cell type), the "
            "seeds' agreement and the correlation with ISM",
            uns=("{key}_attr",),
            obsm=("{key}_attr",),
            varm=("{key}_attr_{cell_type}",),
            layers=("{key}_attr_agreement", "{key}_attr_vs_ism"),
            default_key="{model}_{method}",
            defaults={"grad_x_input": "{model}"},
            reader="ct.get.attributions",
            plots=("attribution", "signal"),
        ),
        Result(
            "deletion",
            ("in_silico_deletion",),
            "the change of the prediction when marks, bins or TF sites are deleted "
            "(one layer per perturbation, named in uns[key]['perturbations'])",
            layers=("{key}_{name}",),
            default_key="{model}_deletion",
            plots=("deletion",),
        ),
        Result(
            "variant_effects",
            ("variant_effects",),
            "single-base variants' effects on sequence models' predictions (ref and alt, "
            "delta, log-odds delta), the JASPAR sites the alt allele breaks or creates, and "
            "both alleles' attributions around each variant",
            default_key="variant_effects",
            plots=("variant_effect",),
        ),
        Result(
            "denovo_motifs",
            ("denovo_motifs",),
            "motifs found de novo in a sequence model's attributions, matched against JASPAR",
            default_key="denovo_motifs",
            plots=("denovo_motifs",),
        ),
        Result(
            "motif_sites",
            ("scan_motifs",),
            "JASPAR binding sites in every region (a table) and how they were found",
            uns=("{key}", "{key}_params"),
            default_key="motif_sites",
            record=1,
            plots=("attribution",),
        ),
        Result(
            "motif_enrichment",
            ("motif_enrichment",),
            "motifs whose sites the model's attributions favour (signed KS test, BH FDR), "
            "the site scores each test compared, and a join with a reference model",
            uns=(
                "{key}_motifs",
                "{key}_motifs_params",
                "{key}_vs_{reference}_motifs",
                "{key}_vs_{reference}_motifs_params",
                "{key}_motif_scores",
            ),  # fmt: skip
            record=1,
            reader="ct.get.motif_site_scores",
            plots=("motif_ecdf", "motif_scatter"),
        ),
    )
}

FUNCTIONS = {function: result for result in RESULTS.values() for function in result.functions}


def record_params(function: str, **arguments: object) -> dict:
    """``uns[...]["params"]`` of a result: the function, the package version, every argument."""
    return {"function": function, "version": VERSION, **arguments}


# Records written before ``params["function"]`` was recorded: the entry that tells them apart.
_LEGACY_MARKERS = (("finetune", "models"), ("transfer_matrix", "matrix"),
                   ("subsample_curve", "summary"))  # fmt: skip


def kind_of(value: object) -> str | None:
    """The kind of result a ``uns`` record is, from who wrote it (``params["function"]``);
    None for anything that is not a chromtools result.

    A model record (``config`` and weights) from before ``function`` was recorded is
    a ``"model"`` (``"differential"`` for two cell types); other older records are
    told apart by the entry only their kind has.
    """
    if not isinstance(value, Mapping):
        return None
    recorded = value.get("params", value)  # motif tables' params are an entry of their own
    function = recorded.get("function") if isinstance(recorded, Mapping) else None
    if function in FUNCTIONS:
        return FUNCTIONS[function].kind
    if not isinstance(recorded, Mapping) or recorded is value:
        return None
    if "config" in value:
        data = value["config"].get("data", {}) if isinstance(value["config"], Mapping) else {}
        return "differential" if data.get("input") == "histone_pair" else "model"
    for kind, marker in _LEGACY_MARKERS:
        if marker in value:
            return kind
    return None


def results_of(adata: AnnData, kind: str, model: str | None = None) -> list[str]:
    """The keys of the ``kind`` results in ``adata`` (as written, ``params["key_added"]``),
    those of model ``model`` only when it is given (``params["models"]``' first)."""
    keys = []
    for value in adata.uns.values():
        if kind_of(value) != kind:
            continue
        recorded = value.get("params", value)
        models = list(recorded.get("models") or [recorded.get("model")])
        if "key_added" in recorded and (model is None or models[:1] == [model]):
            keys.append(str(recorded["key_added"]))
    return keys


def find_result(adata: AnnData, kind: str, key: str, *, method: str | None = None) -> str | None:
    """The key of the ``kind`` result that ``key`` names: ``key`` itself when a ``kind``
    result is stored under it, else the only one written for the model ``key`` (of
    ``method``, when given); None when there is none. Several are a ``ValueError``
    listing them."""
    result = RESULTS[kind]

    def method_of(name: str) -> object:
        recorded = adata.uns[result.record_name(name)]
        return recorded.get("params", recorded).get("method")

    own = adata.uns.get(result.record_name(key))
    if kind_of(own) == kind and (method is None or method_of(key) == method):
        return storage_name(key)
    found = [k for k in results_of(adata, kind, model=key) if method in (None, method_of(k))]
    if len(found) > 1:
        raise ValueError(
            f"{key!r} has several {kind} results: {found}; name the one to use by its key"
        )
    return found[0] if found else None


def check_key(key: object, what: str = "key_added") -> str:
    """A key a result may be stored under: a non-empty string without ``/``, not reserved."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"{what} must be a non-empty string, got {key!r}")
    if "/" in key:
        raise ValueError(
            f"{what}={key!r} contains '/', which Zarr and HDF5 cannot store in an element "
            f"name; use e.g. {key.replace('/', '_')!r}"
        )
    if key in RESERVED_KEYS:
        raise ValueError(
            f"{what}={key!r} is a reserved name of chromtools' data layout "
            f"{list(RESERVED_KEYS)}; writing there would destroy the data. Pick another key"
        )
    return key


def check_writable(
    adata: AnnData,
    kind: str,
    key: object,
    *,
    what: str = "key_added",
    owned_layers: Sequence[str] | None = None,
    extra: Mapping[str, list[str]] | None = None,
    **parts: str | list[str],
) -> dict[str, list[str]]:
    """The slots result ``kind`` of ``key`` writes, after refusing any it may not write.

    The one guard of every ``ct.tl`` writer. A slot is free when it is empty, or when the result's
    ``uns`` record there was written by a function of the same kind (a rerun replaces its own
    result); with ``owned_layers`` (the layers the earlier result listed as its own: a deletion's
    perturbations) only those of its layers are. A slot that holds the data layout, the user's data
    or another function's result is refused, naming each. ``extra`` adds names the caller made of
    the registry's templates itself (one layer per perturbation).
    """
    result = RESULTS[kind]
    key = check_key(key, what)
    named = result.slots(key, **parts)
    for slot, names in (extra or {}).items():
        named[slot] += [n for n in names if n not in named[slot]]
    reserved = [n for n in named["uns"] + named["obsm"] + named["layers"] if n in RESERVED_KEYS]
    if reserved:
        raise ValueError(
            f"{what}={key!r}: the results would go to the reserved {reserved} of chromtools' "
            f"data layout {list(RESERVED_KEYS)}; pick another key"
        )
    record = named["uns"][result.record]
    earlier = adata.uns.get(record)
    ours = kind_of(earlier) == kind
    clashes = []
    if earlier is not None and not ours:
        found = kind_of(earlier)
        clashes.append(f"uns[{record!r}] ({'a ' + found + ' result' if found else 'not a result'})")

    def replaceable(slot: str, name: str) -> bool:
        if not ours:
            return False
        return slot != "layers" or owned_layers is None or name in owned_layers

    for slot in SLOTS:
        present = adata.var.columns if slot == "var" else getattr(adata, slot)
        clashes += [
            f"{slot}[{n!r}]"
            for n in named[slot]
            if (slot, n) != ("uns", record) and n in present and not replaceable(slot, n)
        ]
    if clashes:
        writers = " or ".join(f"ct.tl.{f}" for f in result.functions)
        raise ValueError(
            f"{what}={key!r} would overwrite {', '.join(clashes)}, which is not a "
            f"{kind.replace('_', ' ')} result of chromtools ({writers} did not write it); "
            f"pick another {what} or delete that entry first"
        )
    return named


def materialised(adata: AnnData) -> AnnData:
    """``adata`` itself, made an actual object if it is a view (before results are written)."""
    if adata.is_view:
        adata._init_as_actual(adata.copy())
    return adata


def registry_table() -> str:
    """:data:`RESULTS` in Markdown, one block per kind (the docs render it): what it is,
    who writes it, its slots and default key, what reads and draws it. A list, not a
    table, so that it reads on a narrow page."""
    blocks = []
    for result in RESULTS.values():
        slots = ", ".join(
            f"`{slot}[{template!r}]`".replace("'", '"')
            for slot in SLOTS
            for template in getattr(result, slot)
        )
        default = f"`{result.default_key}`" + "".join(
            f"; `{template}` for {method}" for method, template in result.defaults.items()
        )
        readers = [f"`{result.reader}`"] if result.reader else []
        readers += [f"`ct.pl.{p}`" for p in result.plots]
        blocks.append(
            f"**{result.kind}**: {result.description}\n\n"
            f"- written by {', '.join(f'`ct.tl.{f}`' for f in result.functions)}\n"
            f"- slots (`key` = its key): {slots}; key by default: {default}\n"
            f"- read with, drawn by: {', '.join(readers) or '—'}\n"
        )
    return "\n".join(blocks)
