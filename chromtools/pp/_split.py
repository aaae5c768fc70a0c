"""Train/valid/test split per gene, shared by every cell type."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._settings import resolve_seed
from .._utils import check_number, user_stacklevel
from ._signal import record, start

SPLITS = ("train", "valid", "test")


def _chromosome_list(chromosomes: str | Sequence[str] | None, what: str) -> list[str]:
    if chromosomes is None:
        return []
    if isinstance(chromosomes, str):
        return [chromosomes]
    if not isinstance(chromosomes, Sequence | np.ndarray | pd.Index):
        raise ValueError(
            f"split: {what} must be a chromosome name or a list of them (as in var['chrom'], "
            f"e.g. 'chr2'), got {chromosomes!r}"
        )
    names = [str(c) for c in chromosomes]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"split: {what} names {repeated} more than once")
    return names


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    expected = (
        "split: fractions must be three non-negative numbers (train, valid, test), "
        f"got {fractions!r}"
    )
    if isinstance(fractions, str) or not isinstance(fractions, Sequence | np.ndarray):
        raise ValueError(expected)
    if len(fractions) != 3:
        raise ValueError(expected)
    try:
        values = np.array([check_number(f, "fraction", minimum=0) for f in fractions])
    except ValueError:
        raise ValueError(expected) from None
    if not np.isclose(values.sum(), 1.0):
        raise ValueError(f"split: fractions {tuple(fractions)} must sum to 1, not {values.sum():g}")
    return values


def _check_split_key(adata: AnnData, key_added: object) -> None:
    """Refuse a column name that would overwrite a ``var`` column other than a split."""
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"split: key_added must be a non-empty column name, got {key_added!r}")
    if key_added in adata.var:
        values = set(adata.var[key_added].dropna().astype(str))
        if not values <= set(SPLITS):
            raise ValueError(
                f"split: key_added={key_added!r} would overwrite var[{key_added!r}], which "
                f"holds {sorted(values)[:5]}, not a train/valid/test split; pick another name"
            )


def gene_uniform(names: Sequence[str], seed: int) -> np.ndarray:
    """A number in [0, 1) per gene from a keyed hash of its id: stable across objects.

    The same gene gets the same number in any object, whatever the order or
    the other genes, so splits of differently-subset objects agree.
    """
    key = str(seed).encode()
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(name).encode(), digest_size=8, key=key).digest())
            / 2**64
            for name in names
        ]
    )


def _chromosomes(
    adata: AnnData, test: list[str], valid: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each gene's chromosome (as text) and whether it is known, checked against the held-out."""
    if "chrom" not in adata.var:
        raise KeyError(
            "split: test_chromosomes/valid_chromosomes need the chromosome of each gene in "
            f"var['chrom']; var has {list(adata.var.columns)}. Add it, or split at random "
            "without chromosomes"
        )
    chrom = adata.var["chrom"].astype(object)
    known = chrom.notna().to_numpy()
    chrom = chrom.astype(str).to_numpy()
    present = set(chrom[known])
    for what, names in (("test_chromosomes", test), ("valid_chromosomes", valid)):
        absent = [c for c in names if c not in present]
        if names and len(absent) == len(names):
            raise ValueError(
                f"split: no gene is on {what} {names}, so that split would be empty; "
                f"var['chrom'] holds {sorted(present)[:25]}"
            )
        if absent:
            warnings.warn(f"split: no gene is on {what} {absent}", stacklevel=user_stacklevel())
    return chrom, known


def _draw(
    uniform: np.ndarray,
    shares: np.ndarray,
    fractions: Sequence[float],
    test: list[str],
    valid: list[str],
) -> np.ndarray:
    """The split of each gene from its number in [0, 1), among the splits chromosomes leave open."""
    # splits not fixed by chromosome share the remaining genes in proportion to fractions
    open_splits = [
        s for s, names in zip(SPLITS, ([], valid, test), strict=True) if s == "train" or not names
    ]
    weights = shares[[SPLITS.index(s) for s in open_splits]]
    if weights.sum() == 0:
        raise ValueError(
            f"split: fractions {tuple(fractions)} give no share to the splits {open_splits} "
            "that the chromosomes leave open"
        )
    edges = np.cumsum(weights / weights.sum())
    pick = np.minimum(np.searchsorted(edges, uniform, side="right"), len(open_splits) - 1)
    return np.array(open_splits, dtype=object)[pick]


def _hold_out(
    adata: AnnData,
    labels: np.ndarray,
    chrom: np.ndarray,
    known: np.ndarray,
    test: list[str],
    valid: list[str],
) -> None:
    """Put the genes of held-out chromosomes in their split, and none of unknown chromosome."""
    labels[known & np.isin(chrom, test)] = "test"
    labels[known & np.isin(chrom, valid)] = "valid"
    labels[~known] = None
    if (~known).any():
        warnings.warn(
            f"split: {int((~known).sum())} genes have no chromosome in var['chrom'] "
            f"(e.g. {list(adata.var_names[~known][:3])}); they get no split",
            stacklevel=user_stacklevel(),
        )


def split(
    adata: AnnData,
    *,
    test_chromosomes: str | Sequence[str] | None = None,
    valid_chromosomes: str | Sequence[str] | None = None,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int | None = None,
    key_added: str = "split",
    copy: bool = False,
) -> AnnData | None:
    """Assign every gene to train, valid or test, once for all cell types.

    The split lives in ``var``, so a gene is in the same split in every cell
    type and no gene leaks from training to testing across cell types.

    *By chromosome* (``test_chromosomes`` and/or ``valid_chromosomes``, e.g.
    ChromTransfer's ``test_chromosomes=["chr2", "chr3"]``; needs
    ``var['chrom']``): genes on those chromosomes form the test (valid) set;
    the other genes are divided at random among the remaining splits in the
    proportions of ``fractions`` (with both given, they are all train). Genes
    with no known chromosome cannot be shown to be off the held-out
    chromosomes: they get no split (NaN), with a warning.

    *Random* (no chromosomes): each gene goes to train, valid or test with
    probabilities ``fractions``. The draw is a keyed hash of the gene id with
    ``seed``, not a shuffle: the same seed gives the same split of a gene in
    any object, whatever the order of ``var`` or the other genes present.

    Parameters
    ----------
    adata
        Object whose genes (``var``) are split.
    test_chromosomes
        Chromosomes (names as in ``var['chrom']``) held out for testing.
    valid_chromosomes
        Chromosomes held out for validation.
    fractions
        Shares of train, valid and test; they must sum to 1.
    seed
        Key of the random assignment; ``ct.settings.seed`` by default.
    key_added
        ``var`` column to write.
    copy
        Return a split copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.var[key_added]``
        Categorical ``train``/``valid``/``test`` per gene (NaN for genes of
        unknown chromosome in a split by chromosome).
    ``adata.uns['chromtools']['pp']['split']``
        ``test_chromosomes``, ``valid_chromosomes``, ``fractions``, ``seed``,
        ``key_added`` and ``n_genes`` per split.
    """
    test = _chromosome_list(test_chromosomes, "test_chromosomes")
    valid = _chromosome_list(valid_chromosomes, "valid_chromosomes")
    shares = _check_fractions(fractions)
    try:
        seed = resolve_seed(seed)
    except ValueError as error:
        raise ValueError(f"split: {error}") from None
    _check_split_key(adata, key_added)
    both = sorted(set(test) & set(valid))
    if both:
        raise ValueError(
            f"split: chromosomes {both} are in both test_chromosomes and valid_chromosomes"
        )
    chromosomes = _chromosomes(adata, test, valid) if test or valid else None
    labels = _draw(gene_uniform(adata.var_names, int(seed)), shares, fractions, test, valid)
    if chromosomes is not None:
        _hold_out(adata, labels, *chromosomes, test, valid)

    adata = start(adata, copy)
    adata.var[key_added] = pd.Categorical(labels, categories=SPLITS)
    counts = adata.var[key_added].value_counts()
    record(
        adata,
        "split",
        {
            "test_chromosomes": test,
            "valid_chromosomes": valid,
            "fractions": shares.tolist(),
            "seed": int(seed),
            "key_added": key_added,
            "n_genes": {s: int(counts[s]) for s in SPLITS},
        },
    )
    return adata if copy else None
