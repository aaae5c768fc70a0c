"""``scan_motifs``: JASPAR binding sites of every region's DNA, stored in ``uns``.

The AnnData wrapper of :func:`~chromtools.tl.motifs._scan.scan`: it reads the
motifs offline (:func:`~chromtools.io.read_jaspar`), scans ``varm['onehot']``
with a progress bar and writes the site table with the record of how it was made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from ... import get
from ..._results import RESULTS, check_writable, materialised, record_params
from ..._utils import check_int, check_number, progress
from ...io._motifs import JASPAR_RELEASE, jaspar_collection, read_jaspar
from ._scan import (
    MOTIFS_PER_CALL,
    _batches,
    _check_motifs,
    _check_onehot,
    _gathered,
    _scan_chunks,
    _sequences_per_call,
    _site_table,
    _unreachable,
)

# Where scan_motifs puts its sites by default, and motif_enrichment and ct.pl read them.
SITES = RESULTS["motif_sites"].default()


def _write_uns(adata: AnnData, entries: dict) -> None:
    """Store ``entries`` in ``adata.uns``, a view made an actual object first."""
    materialised(adata)
    for name, value in entries.items():
        adata.uns[name] = value


def _check_sequences(adata: AnnData, what: str) -> np.ndarray:
    """``varm['onehot']``, checked, with unique var names to name the sites by."""
    if "onehot" not in adata.varm:
        raise ValueError(
            f"{what} reads one-hot DNA, and adata.varm['onehot'] is missing; read regions "
            "and a genome FASTA with ct.io.read_regions (or ct.pp.one_hot)"
        )
    onehot = get.onehot(adata)
    _check_onehot(onehot, "adata.varm['onehot']")
    if not adata.var_names.is_unique:
        raise ValueError(
            f"{what} names sites by their region, and adata.var_names repeat; "
            "run adata.var_names_make_unique() first"
        )
    return onehot


def scan_motifs(
    adata: AnnData,
    *,
    release: str = JASPAR_RELEASE,
    collection: str = "CORE",
    tax_group: str = "vertebrates",
    pvalue: float = 1e-5,
    motifs: Sequence[str] | None = None,
    batch_size: int = MOTIFS_PER_CALL,
    key_added: str = SITES,
) -> None:
    """Scan every region's DNA for JASPAR binding sites, on both strands (FIMO).

    The motifs are read offline (:func:`~chromtools.io.read_jaspar`) and
    scanned over ``varm['onehot']`` with memelite's FIMO (:func:`scan`). A
    window that covers a base other than A, C, G or T (an all-zero position:
    ``N``, another letter, or the padding of a window beyond a chromosome end,
    see :func:`~chromtools.io.read_regions`) is never a site.

    Parameters
    ----------
    adata
        Object with one-hot DNA in ``varm['onehot']`` (regions, length, 4).
    release
        JASPAR release bundled with pyjaspar.
    collection
        JASPAR collection (``"CORE"``, ``"UNVALIDATED"``).
    tax_group
        Taxonomic group (``"vertebrates"``…).
    pvalue
        Keep sites with a p-value below this (ChromTransfer: 1e-5).
    motifs
        Only these matrix ids or TF names; every motif of the collection by default.
    batch_size
        Motifs per FIMO call (the progress bar moves once per call).
    key_added
        Where the sites go: ``uns[key_added]`` and ``uns[f"{key_added}_params"]``;
        a rerun under the same key replaces its own sites only.

    Returns
    -------
    ``None``. Writes

    ``adata.uns['motif_sites']``
        DataFrame of sites sorted by region and start: ``region`` (var name),
        ``motif_id``, ``tf_name``, ``start``, ``end`` (0-based, end exclusive,
        forward strand), ``strand``, ``score`` (log2 odds), ``pvalue``;
        categorical region, ids, names and strands.
    ``adata.uns['motif_sites_params']``
        ``function``, ``release``, ``collection``, ``tax_group``, ``pvalue``,
        ``n_motifs``, ``n_regions``, ``n_sites``, ``length``, ``matrix_ids``
        and ``unreachable``: the motifs not scanned because even their
        consensus misses ``pvalue`` (at 1e-5, every motif of 8 bases or
        fewer, such as GATA1 MA0035.5, whose consensus has p = 4^-7);
        ``n_windows_unknown``: the windows not scanned because they cover
        a base other than A, C, G or T (a window is one motif at one start in
        one region, both strands; summed over the motifs scanned).
    """
    onehot = _check_sequences(adata, "scan_motifs")
    pvalue = check_number(pvalue, "pvalue", minimum=0, maximum=1, strict_minimum=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    table_key, params_key = check_writable(adata, "motif_sites", key_added)["uns"]
    release, collection, tax_group = jaspar_collection(release, collection, tax_group)
    found = read_jaspar(release, collection, tax_group, motifs=motifs)
    pwms = _check_motifs(found)

    batches = _batches(pwms, pvalue, batch_size)
    n_chunks = -(-onehot.shape[0] // _sequences_per_call(onehot.shape[1]))
    chunks = _scan_chunks(onehot, pwms, pvalue, batches, "adata.varm['onehot']")
    hits, skipped = _gathered(
        progress(chunks, total=len(batches) * n_chunks, desc=f"scan_motifs {len(pwms)} motifs")
    )
    table = _site_table(hits, found, adata.var_names)
    params = {
        **record_params("scan_motifs", key_added=key_added),
        "release": release,
        "collection": collection,
        "tax_group": tax_group,
        "pvalue": pvalue,
        "n_motifs": len(found),
        "n_regions": int(adata.n_vars),
        "n_sites": len(table),
        "length": int(onehot.shape[1]),
        "matrix_ids": [m["matrix_id"] for m in found],
        "unreachable": [found[i]["matrix_id"] for i in _unreachable(pwms, batches)],
        "n_windows_unknown": skipped,
    }
    _write_uns(adata, {table_key: table, params_key: params})
