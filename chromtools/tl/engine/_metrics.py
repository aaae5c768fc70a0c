"""The one metrics function: classification and regression scores per group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from ..._settings import check_seed
from ..._utils import check_int, check_number

#: The metrics :func:`score` reports for each task.
METRICS = {
    "classification": ("auroc", "auprc", "f1", "accuracy"),
    "regression": ("pearson", "spearman", "mse"),
}


def _known(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Truth and predictions as float64 vectors of the samples where both are finite."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true values but {len(y_pred)} predictions")
    keep = np.isfinite(y_true) & np.isfinite(y_pred)
    return y_true[keep], y_pred[keep]


def score(y_true: np.ndarray, y_pred: np.ndarray, task: str) -> dict[str, float]:
    """Metrics of one set of predictions, ignoring samples whose truth is NaN.

    ``task="classification"`` expects probabilities and reports AUROC, AUPRC,
    F1 and accuracy at 0.5 (AUROC/AUPRC are NaN when only one class is
    present); ``task="regression"`` reports Pearson and Spearman correlation
    and the mean squared error. ``n`` is the number of samples scored.

    Parameters
    ----------
    y_true
        Truth per sample: 0/1 labels or expression; NaN where unknown.
    y_pred
        Prediction per sample: probabilities or expression.
    task
        ``"classification"`` or ``"regression"``.

    Returns
    -------
    Dict of metric name to value.
    """
    if task not in METRICS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    y_true, y_pred = _known(y_true, y_pred)
    if task == "classification" and not np.isin(y_true, (0.0, 1.0)).all():
        raise ValueError(
            f"classification truth must be 0/1 labels, got values {np.unique(y_true)[:5]}; "
            "make labels with ct.pp.binarize"
        )
    result: dict[str, float] = {"n": float(len(y_true))}
    if task == "classification":
        both = len(np.unique(y_true)) == 2
        result["auroc"] = roc_auc_score(y_true, y_pred) if both else np.nan
        result["auprc"] = average_precision_score(y_true, y_pred) if both else np.nan
        called = y_pred >= 0.5
        result["f1"] = f1_score(y_true, called, zero_division=0.0) if len(y_true) else np.nan
        result["accuracy"] = float((called == y_true).mean()) if len(y_true) else np.nan
    elif task == "regression":
        varied = len(y_true) > 2 and y_true.std() > 0 and y_pred.std() > 0
        result["pearson"] = stats.pearsonr(y_true, y_pred)[0] if varied else np.nan
        result["spearman"] = stats.spearmanr(y_true, y_pred)[0] if varied else np.nan
        result["mse"] = float(np.mean((y_true - y_pred) ** 2)) if len(y_true) else np.nan
    return {name: float(value) for name, value in result.items()}


def score_table(
    truth: np.ndarray,
    predictions: np.ndarray,
    cell_types: list[str],
    split: pd.Series,
    task: str,
) -> pd.DataFrame:
    """Metrics per cell type × split, as stored in ``uns[key]['metrics']``.

    ``truth`` and ``predictions`` are (cell types, genes); ``split`` gives each
    gene's split name. Cell types without any truth are left out.
    """
    rows = []
    for i, cell_type in enumerate(cell_types):
        for split_name in [s for s in ("train", "valid", "test") if (split == s).any()]:
            genes = (split == split_name).to_numpy()
            if not np.isfinite(truth[i, genes]).any():
                continue
            rows.append(
                {
                    "cell_type": cell_type,
                    "split": str(split_name),
                    **score(truth[i, genes], predictions[i, genes], task),
                }
            )
    return pd.DataFrame(rows)


def bootstrap_interval(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    task: str,
    *,
    metric: str,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of one metric, resampling samples.

    Parameters
    ----------
    y_true, y_pred, task
        As for :func:`score`.
    metric
        One of :func:`score`'s metrics for ``task`` (``"auroc"``, ``"pearson"`` …).
    n_boot
        Bootstrap resamples.
    level
        Coverage of the interval, in (0, 1).
    seed
        Seed of the resampling.

    Returns
    -------
    (low, high) ends of the interval.
    """
    if task not in METRICS:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if metric not in METRICS[task]:
        raise ValueError(f"metric {metric!r} is not one of {list(METRICS[task])} ({task})")
    n_boot = check_int(n_boot, "n_boot", minimum=1)
    level = check_number(level, "level", minimum=0, strict_minimum=True)
    if level >= 1:
        raise ValueError(f"level must be < 1, got {level:g}; e.g. 0.95 for a 95 % interval")
    seed = check_seed(seed)
    y_true, y_pred = _known(y_true, y_pred)
    if not len(y_true):
        raise ValueError("no sample has both a finite truth and a finite prediction")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(y_true), len(y_true))
        values.append(score(y_true[pick], y_pred[pick], task)[metric])
    low, high = np.nanquantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)
