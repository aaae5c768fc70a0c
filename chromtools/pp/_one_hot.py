"""One-hot DNA around each gene's TSS or each region's midpoint."""

from __future__ import annotations

import os

from anndata import AnnData

from .._utils import check_int
from ..get._aligned import META
from ..io.sequence import PADDED, genome_onehot
from ._signal import record, start


def one_hot(
    adata: AnnData,
    fasta: str | os.PathLike,
    width: int = 600,
    *,
    copy: bool = False,
) -> AnnData | None:
    """Read ``width`` bp of DNA per gene or region from a genome FASTA, one-hot.

    *Genes* (``var`` has ``chrom``, ``tss``, ``strand``; ``tss`` 1-based as in
    GENCODE): the sequence is read on the gene's strand (``-``
    reverse-complemented) with the TSS base at position ``width // 2``, so
    position 0 is the most upstream base. *Regions* (``var`` has ``chrom``,
    ``start``, ``end``, 0-based half-open as in BED): the window starts at
    ``(start + end) // 2 - width // 2``, read on ``strand`` when ``var`` has
    one. Bases are one-hot in A, C, G, T order; lowercase counts, ``N`` and
    other letters and positions beyond a chromosome end are all-zero rows.

    Parameters
    ----------
    adata
        Object whose ``var`` places each gene or region on the genome.
    fasta
        Genome FASTA (plain or bgzipped; its pyfaidx ``.fai`` index is written
        next to it when missing) with the chromosome names of ``var['chrom']``.
    width
        Length in bp of every sequence.
    copy
        Return a changed copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets ``adata.varm['onehot']``
    (uint8, genes or regions × ``width`` × 4), ``adata.uns['chromtools']``
    ``['sequence_width']`` and ``['fasta']``, and records the call in
    ``adata.uns['chromtools']['pp']['one_hot']``. ``adata.var['n_padded_start']``
    and ``['n_padded_end']`` count the bases of each window, as read, beyond
    a chromosome end (all-zero rows, never part of a motif site). Raises ``ValueError`` when
    ``var`` lacks the columns, names chromosomes the FASTA lacks (``chr1``
    vs ``1``) or places genes/regions beyond a chromosome end, and
    ``FileNotFoundError`` for a missing FASTA.
    """
    width = check_int(width, "width", minimum=1)
    # Read before touching adata, so a bad input leaves it unchanged.
    onehot, centre, padded = genome_onehot(adata.var, fasta, width, "one_hot")
    adata = start(adata, copy)
    adata.varm["onehot"] = onehot
    for column in PADDED:
        adata.var[column] = padded[column].to_numpy()
    if META not in adata.uns:
        adata.uns[META] = {"genome": "unknown"}
    record(
        adata,
        "one_hot",
        {"fasta": str(fasta), "width": width, "centre": centre},
        sequence_width=width,
        fasta=str(fasta),
    )
    return adata if copy else None
