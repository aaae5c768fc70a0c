"""``ct.tl.variant_effects``: what single-base variants do to a sequence model's prediction.

The AnnData wrapper of the model side (``_variant_scores``) and the motif side
(``chromtools.tl.motifs._variant_sites``): it reads the
variants (a table or a VCF), places them in the regions of ``varm['onehot']``,
scores each substitution with every model asked for (ChromTransfer's
windowed ISM: only the window a base change reaches is recomputed), scans
both alleles for JASPAR sites, and stores the effects, the site changes and
the attributions of both alleles around each variant under ``uns[key_added]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from ... import get
from ..._docs import SHARED, doc_params
from ..._results import check_writable, materialised, record_params
from ..._utils import check_int, check_number
from ...io._motifs import JASPAR_RELEASE, jaspar_collection, read_jaspar
from ...io._variants import variant_table
from ...models import ChromTransfer
from ..motifs import site_changes, site_names
from ._ism import check_path
from ._variant_scores import FLANK, locate, scored_variants, variant_models


@doc_params(**SHARED)
def variant_effects(
    adata: AnnData,
    key: str | Sequence[str],
    variants: pd.DataFrame | str | os.PathLike,
    *,
    motifs: Sequence[str] | None = None,
    pvalue: float = 1e-5,
    path: str = "auto",
    batch_size: int = 512,
    device: str | None = None,
    key_added: str = "variant_effects",
) -> None:
    """Effects of single-base variants on sequence models' predictions, and the sites they change.

    For each variant in a region, each model predicts the region with the ref
    allele and with the alt allele; the change of its logit is exactly the ISM
    delta of that base and letter (:func:`~chromtools.functional.ism`), computed
    the same way: through ChromTransfer's windowed path only the window a base
    change reaches is recomputed, so many variants in one region cost about
    what ISM costs per mutant. Both alleles are scanned for JASPAR sites with
    the scan of :func:`~chromtools.tl.scan_motifs` (FIMO, exact p-values, both
    strands). Everything is checked before any work.

    Parameters
    ----------
    adata
        Object with one-hot DNA in ``varm['onehot']`` and the fitted models.
    key
        The ``uns`` key of a fitted sequence model, or a list of them (e.g. one
        model per cell type): every variant is scored with each.
    variants
        A DataFrame with ``ref`` and ``alt`` (single bases, A/C/G/T), an
        optional ``id`` (the variant's name) and either ``region`` (a var name)
        and ``position`` (0-based in the region's sequence as stored) or
        ``chrom`` and ``pos`` (1-based, as in a VCF); or the path of a VCF
        (plain or gzipped; ``CHROM POS ID REF ALT`` are read, a record with
        several ALT alleles gives one variant per allele). A chrom and pos are
        placed in every region whose window (``sequence_width`` bp around the
        centre of ``start``–``end``, as :func:`~chromtools.io.read_regions`
        reads it) holds them; on a ``-`` strand region the position counts
        from the window's end and the alleles are complemented. Variants in
        no region are left out with a warning. Refused, naming the variant: an
        unknown region, a position outside its region, a ref allele that is not
        the base there, alleles other than A, C, G, T, and insertions or
        deletions (an indel shifts every later base, which a fixed-width model
        window does not allow).
    motifs
        JASPAR matrix ids or TF names to scan for; every vertebrate CORE motif
        of the bundled release by default (as :func:`~chromtools.tl.scan_motifs`).
    pvalue
        Keep sites with a p-value below this (as :func:`~chromtools.tl.scan_motifs`).
    path
        ``"windowed"`` (ChromTransfer), ``"full"`` (each alt sequence through the
        whole network) or ``"auto"``, the faster one for the sequence length.
    batch_size
        Substitutions per pass.
    device
        {compute_device}
    key_added
        Where the results go; a rerun under the same key replaces its own result.

    Returns
    -------
    ``None``. Writes ``adata.uns[key_added]``, a dict of

    ``effects``
        DataFrame, one row per variant, region and cell type of each model:
        ``variant``, ``region``, ``position`` (0-based in the region), ``ref``
        and ``alt`` (on the region's strand), ``model`` (its key),
        ``cell_type``, ``ref_prediction`` and ``alt_prediction``
        (probabilities for classification models, the output for regression),
        ``delta`` (alt − ref), ``log_odds_delta`` (change of the logit, the
        ISM delta; NaN for regression), ``sites_lost`` and ``sites_gained``
        (the TF names of the sites the alt allele breaks or creates, sorted and
        joined by ``","``; ``""`` for none).
    ``sites``
        DataFrame of every site changed: ``variant``, ``region``, ``change``
        (``lost``/``gained``), ``motif_id``, ``tf_name``, ``start`` and ``end``
        (0-based in the region, end exclusive), ``strand``, ``score`` and
        ``pvalue`` of the allele that has it.
    ``attributions``
        float32 (rows of ``effects``, 2, 2 × 20 + 1, 4): gradient × input of the
        ref (``[:, 0]``) and alt (``[:, 1]``) sequence at the 20 bases on either
        side of the variant (0 beyond the region), what
        :func:`~chromtools.pl.variant_effect` draws.
    ``params``
        ``function``, ``key_added``, ``models``, ``motifs``, ``release``,
        ``pvalue``, ``path``, ``batch_size``, ``device``, ``n_variants``
        (scored), ``n_left_out`` (in no region), ``flank``.
    """
    if "onehot" not in adata.varm:
        raise ValueError(
            "variant_effects reads one-hot DNA, and adata.varm['onehot'] is missing; read "
            "regions and a genome FASTA with ct.io.read_regions"
        )
    onehot = get.onehot(adata)
    table = variant_table(variants)
    pvalue = check_number(pvalue, "pvalue", minimum=0, maximum=1, strict_minimum=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    path = check_path(path)
    models = variant_models(adata, key, device)
    plain = [m.key for m in models if not isinstance(m.network, ChromTransfer)]
    if path == "windowed" and plain:
        raise ValueError(
            f"variant_effects: path='windowed' needs ChromTransfer models; {plain} are not. "
            "Use path='full' or 'auto'"
        )
    located = locate(adata, table, onehot)
    record_name = check_writable(adata, "variant_effects", key_added)["uns"][0]
    release, collection, tax_group = jaspar_collection(JASPAR_RELEASE, "CORE", "vertebrates")
    found = read_jaspar(release, collection, tax_group, motifs=motifs)

    changes = site_changes(onehot, located.regions, located.positions, located.alt, found, pvalue)
    parts = [scored_variants(m, onehot, located, path, batch_size) for m in models]
    order = np.concatenate([p[2] for p in parts])
    names = table["variant"].to_numpy()[located.rows]
    effects = pd.concat([p[0] for p in parts], ignore_index=True)
    effects.insert(0, "variant", names[order])
    effects.insert(1, "region", np.asarray(adata.var_names)[located.regions[order]])
    lost, gained = site_names(changes, len(names))
    effects["sites_lost"], effects["sites_gained"] = lost[order], gained[order]
    index = changes.pop("index").to_numpy()
    changes.insert(0, "variant", names[index])
    changes.insert(1, "region", np.asarray(adata.var_names)[located.regions[index]])
    materialised(adata)
    adata.uns[record_name] = {
        "params": record_params(
            "variant_effects",
            key_added=key_added,
            models=[m.key for m in models],
            motifs=[m["matrix_id"] for m in found],
            release=release,
            pvalue=pvalue,
            path=path,
            batch_size=batch_size,
            device=str(models[0].device),
            n_variants=int(len(np.unique(located.rows))),
            n_left_out=int(len(table) - len(np.unique(located.rows))),
            flank=FLANK,
        ),
        "effects": effects,
        "sites": _plain(changes),
        "attributions": np.concatenate([p[1] for p in parts]),
    }


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its categorical columns as strings (stored the same in every format)."""
    for column in table.columns:
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(str)
    return table
