"""What transfer across cell types is worth on the real REMC sample, and DeepDiff.

Five tables, each on ``ct.datasets.remc_sample()`` (K562 ``E123`` and H1
``E003``; 400 genes, DeepChrome's central ±5 kb unless noted):

1. **Transfer** E123 → E003 and E003 → E123, per split seed: test AUROC of the
   source model applied as it is (zero-shot), fine-tuned on the target's
   training genes, and trained from scratch on the same genes (the
   within-target model), with 95 % bootstrap intervals over test genes; once
   on depth-normalised signal (``ct.pp.normalize``'s default) and once on raw
   counts, which is what the normalisation is for.
2. **Subsample curve** E123 → E003: mean ± sd test AUROC of fine-tuned and
   from-scratch models trained on a share of E003's labels (ChromTransfer's
   Table 1 design).
3. **DeepDiff** E123 vs E003: test Pearson of every variant on
   log2((count_E003 + 1) / (count_E123 + 1)) over the full ±10 kb, next to
   the two baselines on the same split (the difference of two
   AttentiveChrome regressors, and the two-layer SVR).
   Split seeds 0, 1, 2 (also the training seeds), 95 % bootstrap intervals
   over test genes, the mean over seeds, and the default variant's paired
   gain over the AttentiveChrome difference. ``--epochs`` and ``--lr`` train
   every model of the part on another schedule (DeepDiff's default: 15 epochs
   at lr 2e-3; the earlier one, measured next to it: ``--epochs 30 --lr 1e-3``).
4. **Another pipeline** (part 4, ``--parts 4``): the target's read counts made
   as another lab's pipeline would (a log of coverage with another background;
   a square root after smoothing over 5 bins; another depth with a
   background), then normalised like the source; the zero-shot test AUROC of
   each model fitted on E123's train genes, on the unshifted target (the
   anchor), the shifted one, and the shifted one after ``ct.pp.match_signal``.
   Two targets: K562 itself as another lab would give it (``E123_lab2``, the
   planted truth: only the pipeline differs) and H1 (``E003``), where
   matching also maps away real differences between the cell types.
5. **Speed** of ``ct.tl.differential`` at its defaults: seconds in all and per
   part (DeepDiff, the two AttentiveChrome regressors, the SVR), on the demo's
   ±5 kb and on the sample's full ±10 kb.

A test split holds ~80 genes: read the intervals before the point estimates.
Where transfer does not help, the table shows it.

    python benchmarks/transfer.py [--model deepchrome] [--seeds 0 1 2] [--quick] [--parts 1 2 3 4 5]
        [--variants raw_aux_siamese ...] [--epochs N] [--lr LR]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

import anndata as ad
import numpy as np
import pandas as pd
from anndata import AnnData

import chromtools as ct
from chromtools.functional import bootstrap_interval, score
from chromtools.models.deepdiff import VARIANTS
from chromtools.tl import NormalizationWarning

DEFAULT_VARIANT = "raw_aux_siamese"
BASELINES = ("attentivechrome_difference", "svr2")
# Two ways for DeepDiff to inherit what the single-cell regressors know, measured here.
RESIDUAL = "raw_aux_siamese + aux_residual"
ENSEMBLE = "ensemble: (raw_aux_siamese + AC difference) / 2"

PAIRS = (("E123", "E003"), ("E003", "E123"))


def sample(window: tuple[int, int], seed: int, normalize: bool = True) -> AnnData:
    """The two cell types with histone signal, cropped, normalised (or not) and split."""
    adata = ct.datasets.remc_sample()
    adata = adata[adata.obs["has_histone"]].copy()
    ct.pp.crop(adata, window)
    ct.pp.normalize(adata, "depth_log1p" if normalize else None)
    ct.pp.split(adata, seed=seed)
    return adata


def with_interval(table: pd.DataFrame) -> pd.Series:
    """AUROC and its 95 % bootstrap interval of one approach's test predictions."""
    truth, predicted = table["truth"].to_numpy(), table["prediction"].to_numpy()
    low, high = bootstrap_interval(truth, predicted, "classification", metric="auroc")
    auroc = score(truth, predicted, "classification")["auroc"]
    return pd.Series({"auroc": auroc, "ci95_low": low, "ci95_high": high, "n_test": len(truth)})


def transfer_table(model: str, seeds: list[int]) -> pd.DataFrame:
    """Zero-shot, fine-tuned and scratch AUROC per pair, seed and signal."""
    rows = []
    for normalize in (True, False):
        for seed in seeds:
            adata = sample((-5000, 5000), seed, normalize)
            for source, target in PAIRS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NormalizationWarning)  # raw is deliberate
                    ct.tl.finetune(adata, source=source, target=target, model=model, seed=seed)
                predictions = adata.uns["finetune"]["test_predictions"]
                for approach, part in predictions.groupby("approach", sort=False):
                    rows.append(
                        {
                            "signal": "depth_log1p" if normalize else "raw counts",
                            "transfer": f"{source} → {target}",
                            "seed": seed,
                            "approach": approach,
                            **with_interval(part),
                        }
                    )
    return pd.DataFrame(rows)


def summarise_transfer(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per signal × pair × approach, with the gain over scratch."""
    mean = table.groupby(["signal", "transfer", "approach"], sort=False)["auroc"].mean()
    wide = mean.unstack("approach")[["zero_shot", "finetuned", "scratch"]]
    wide["zero_shot - scratch"] = wide["zero_shot"] - wide["scratch"]
    wide["finetuned - scratch"] = wide["finetuned"] - wide["scratch"]
    wide["transfer helps"] = np.where(wide["finetuned - scratch"] > 0, "yes", "NO")
    return wide


def curve_table(model: str, fractions: tuple[float, ...], n_boot: int) -> pd.DataFrame:
    """ChromTransfer-style subsample curve E123 → E003 on split seed 0."""
    adata = sample((-5000, 5000), 0)
    summary = ct.tl.subsample_curve(
        adata, "E123", "E003", fractions=fractions, n_boot=n_boot, model=model, seed=0
    )
    return summary[["fraction", "approach", "n_train", "auroc_mean", "auroc_sd", "f1_mean"]]


def _fold_change(adata: AnnData) -> np.ndarray:
    counts = np.asarray(adata[["E123", "E003"]].layers["counts"], dtype=float)
    return np.log2((counts[1] + 1) / (counts[0] + 1))


def _pearson_interval(truth: np.ndarray, predicted: np.ndarray) -> pd.Series:
    pearson = score(truth, predicted, "regression")["pearson"]
    low, high = bootstrap_interval(truth, predicted, "regression", metric="pearson")
    return pd.Series({"test_pearson": pearson, "ci95_low": low, "ci95_high": high})


def paired_gain(truth: np.ndarray, first: np.ndarray, second: np.ndarray) -> pd.Series:
    """Pearson of ``first`` minus that of ``second`` on the same test genes, with a paired
    95 % bootstrap interval (both recomputed on each resample of the genes)."""
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(1000):
        pick = rng.integers(0, len(truth), len(truth))
        gains.append(
            np.corrcoef(truth[pick], first[pick])[0, 1]
            - np.corrcoef(truth[pick], second[pick])[0, 1]
        )
    gain = np.corrcoef(truth, first)[0, 1] - np.corrcoef(truth, second)[0, 1]
    low, high = np.nanquantile(gains, [0.025, 0.975])
    return pd.Series({"gain": gain, "ci95_low": low, "ci95_high": high})


def deepdiff_table(
    variants: tuple[str, ...], seeds: list[int], schedule: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test Pearson of each DeepDiff variant and of both baselines, full ±10 kb, per split
    seed (also the training seed), with 95 % bootstrap intervals over test genes; and the
    default variant's paired gain over the AttentiveChrome difference per seed. ``schedule``
    (``epochs``, ``lr``) overrides DeepDiff's training defaults, for every model fitted."""
    rows, gains = [], []
    for seed in seeds:
        adata = sample((-10000, 10000), seed)
        test = (adata.var["split"] == "test").to_numpy()
        truth = _fold_change(adata)[test]
        predictions = {}
        runs = [(variant, variant, {}) for variant in variants]
        if DEFAULT_VARIANT in variants:  # the inheriting design, measured next to the paper's
            runs.append((RESIDUAL, DEFAULT_VARIANT, {"aux_residual": True}))
        for label, variant, hyperparameters in runs:
            start = time.perf_counter()
            key = label.replace(" ", "_").replace("+", "")
            ct.tl.differential(
                adata, "E123", "E003", variant=variant, key_added=key, seed=seed, **schedule,
                baselines=label == variants[0], hyperparameters=hyperparameters,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            print(f"  seed {seed} {label}: {seconds:.0f} s", file=sys.stderr, flush=True)
            predictions[label] = adata.var[key].to_numpy()[test]
            if label == variants[0]:
                for name in BASELINES:
                    column = adata.var[f"{key}_{name}"].to_numpy()
                    predictions[f"baseline: {name}"] = column[test]
        if DEFAULT_VARIANT in variants:
            predictions[ENSEMBLE] = (
                predictions[DEFAULT_VARIANT] + predictions["baseline: attentivechrome_difference"]
            ) / 2
        for name, predicted in predictions.items():
            rows.append({"model": name, "seed": seed, **_pearson_interval(truth, predicted)})
        if DEFAULT_VARIANT in predictions:
            gain = paired_gain(
                truth,
                predictions[DEFAULT_VARIANT],
                predictions["baseline: attentivechrome_difference"],
            )
            gains.append({"seed": seed, **gain})
    return pd.DataFrame(rows), pd.DataFrame(gains)


def summarise_deepdiff(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max test Pearson over seeds per model, and the ratio of the mean to
    each baseline's mean."""
    summary = table.groupby("model", sort=False)["test_pearson"].agg(["mean", "min", "max"])
    for name in BASELINES:
        key = f"baseline: {name}"
        if key in summary.index:
            summary[f"x {name}"] = summary["mean"] / summary.loc[key, "mean"]
    return summary


def main() -> None:
    """Run the three parts and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deepchrome")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-boot", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, 2 boots, 2 variants")
    parser.add_argument(
        "--parts", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="which tables (1 2 3 4 5)"
    )
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, help="part 3: these only")
    parser.add_argument("--epochs", type=int, help="part 3: DeepDiff's epochs (its default)")
    parser.add_argument("--lr", type=float, help="part 3: DeepDiff's learning rate (its default)")
    args = parser.parse_args()
    ct.settings.progress = False
    fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
    variants: tuple[str, ...] = tuple(args.variants or VARIANTS)
    schedule = {name: getattr(args, name) for name in ("epochs", "lr")}
    if args.quick:
        args.seeds, args.n_boot = args.seeds[:1], 2
        fractions, variants, schedule["epochs"] = (0.1, 1.0), ("raw_d", "raw_aux_siamese"), 5
    schedule = {name: value for name, value in schedule.items() if value is not None}
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)

    if 1 in args.parts:
        transfer_part(args.model, args.seeds)
    if 2 in args.parts:
        start = time.perf_counter()
        print(
            f"2. Subsample curve E123 → E003, {args.model}, {args.n_boot} subsamples per fraction"
        )
        print(curve_table(args.model, fractions, args.n_boot).round(3).to_string(index=False))
        print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)
    if 4 in args.parts:
        shift_part()
    if 5 in args.parts:
        speed_part()
    if 3 in args.parts:
        start = time.perf_counter()
        deepdiff_part(variants, args.seeds, schedule)
        print(f"({time.perf_counter() - start:.0f} s)")


# Another lab's pipeline, applied to E003's read counts (bins on the last axis).
PIPELINES = {
    "log coverage": lambda h: np.log1p(h * 3.0) * 10.0 + 2.0,
    "smoothed sqrt": lambda h: (
        np.sqrt(np.apply_along_axis(lambda row: np.convolve(row, np.ones(5) / 5, "same"), -1, h))
        * 4.0
        + 1.0
    ),
    "depth x0.3 + background": lambda h: h * 0.3 + 1.5,
}
SHIFT_MODELS = ("logreg", "deepchrome", "attentivechrome", "transferchrome")


def _zero_shot(adata: AnnData, key: str, target: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NormalizationWarning)
        ct.tl.predict(adata, key, cell_types=[target])
    row, test = adata.obs_names.get_loc(target), (adata.var["split"] == "test").to_numpy()
    return score(adata.layers["label"][row, test], adata.layers[key][row, test],
                 "classification")["auroc"]  # fmt: skip


def _with_other_lab(raw: AnnData) -> AnnData:
    """E123 and a copy of it, ``E123_lab2``, whose signal another pipeline will make."""
    other = raw[["E123"]].copy()
    other.obs_names = ["E123_lab2"]
    return ad.concat([raw[["E123"]], other], merge="same", uns_merge="first")


def shift_table(normalize: bool, target: str) -> pd.DataFrame:
    """Zero-shot test AUROC of models fitted on E123's train genes, on ``target``: unshifted,
    made by another pipeline (shifted), and shifted then matched.

    ``target`` is ``E003`` (another cell type: matching also maps away real differences
    between H1 and K562) or ``E123_lab2`` (K562 again, as another lab would give it: the
    planted truth, where only the pipeline differs)."""
    raw = ct.datasets.remc_sample()
    raw = raw[raw.obs["has_histone"]].copy()
    ct.pp.crop(raw, (-5000, 5000))
    ct.pp.split(raw, seed=0)
    if target == "E123_lab2":
        raw = _with_other_lab(raw)
    prepared = raw.copy()
    ct.pp.normalize(prepared, "depth_log1p" if normalize else None)
    rows = []
    for model in SHIFT_MODELS:
        ct.tl.fit(prepared, model, cell_types=["E123"], seed=0)
        anchor = _zero_shot(prepared, model, target)
        for name, pipeline in PIPELINES.items():
            shifted = raw.copy()
            row = shifted.obs_names.get_loc(target)
            shifted.obsm["histone"][row] = pipeline(shifted.obsm["histone"][row])
            ct.pp.normalize(shifted, "depth_log1p" if normalize else None)
            shifted.uns[model] = prepared.uns[model]
            before = _zero_shot(shifted, model, target)
            ct.pp.match_signal(shifted, model, target)
            matched = _zero_shot(shifted, model, target)
            rows.append({"model": model, "pipeline": name, "unshifted": anchor,
                         "shifted": before, "matched": matched})  # fmt: skip
    table = pd.DataFrame(rows)
    table["matched - unshifted"] = table["matched"] - table["unshifted"]
    return table


def shift_part() -> None:
    """Print table 4: K562 from another lab (the planted truth), then H1, on depth-normalised
    and on raw signal."""
    targets = {
        "E123_lab2": "K562 again, from another pipeline",
        "E003": "H1 (E003), another cell type and pipeline",
    }
    for target, described in targets.items():
        for normalize in (True, False):
            start = time.perf_counter()
            what = "depth-normalised (depth_log1p)" if normalize else "raw counts"
            print(f"4. Target {target}: {described}; models fitted on E123, {what}")
            print("   (zero-shot test AUROC)")
            table = shift_table(normalize, target)
            print(table.round(3).to_string(index=False))
            worst = table["matched - unshifted"].abs().max()
            print(f"largest |matched - unshifted|: {worst:.3f} (target ≤ 0.01 where only the "
                  f"pipeline differs)")  # fmt: skip
            print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)


def deepdiff_part(variants: tuple[str, ...], seeds: list[int], schedule: dict[str, float]) -> None:
    """Print table 3: per seed, the mean over seeds, and the default's gain over its baseline."""
    table, gains = deepdiff_table(variants, seeds, schedule)
    defaults = ct.models.get_model("deepdiff").training_defaults
    epochs, lr = (schedule.get(name, defaults[name]) for name in ("epochs", "lr"))
    print(
        f"3. DeepDiff E123 vs E003, ±10 kb, split seeds {seeds}, {epochs} epochs at lr {lr:g} "
        "(test Pearson, 95 % CI)"
    )
    print(table.round(3).to_string(index=False))
    print("\nmean over seeds")
    print(summarise_deepdiff(table).round(3).to_string())
    if len(gains):
        print(f"\n{DEFAULT_VARIANT} (default) − attentivechrome_difference, paired over genes")
        print(gains.round(3).to_string(index=False))
        mean = gains["gain"].mean()
        verdict = "yes" if mean >= 0 else "NO"
        print(f"mean gain {mean:+.3f}: the default ≥ its baseline on average: {verdict}")


class _Parts(logging.Handler):
    """Collects the seconds per part that ``ct.tl.differential`` logs at INFO."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.seconds.update(getattr(record, "seconds", {}))  # the call's record carries them


def timed_parts(window: tuple[int, int]) -> pd.Series:
    """Seconds of ``ct.tl.differential(adata, "E123", "E003")`` at its defaults, in all and
    per part (as the call logs them)."""
    adata = sample(window, 0)
    handler, logger = _Parts(), logging.getLogger("chromtools")
    level, verbosity = logger.level, ct.settings.verbosity
    logger.addHandler(handler)
    ct.settings.verbosity = 2
    try:
        start = time.perf_counter()
        ct.tl.differential(adata, "E123", "E003")
        total = time.perf_counter() - start
    finally:
        logger.removeHandler(handler)
        ct.settings.verbosity = verbosity
        logger.setLevel(level)
    epochs = ct.models.get_model("deepdiff").training_defaults["epochs"]
    parts = {
        "deepdiff": f"DeepDiff (raw_aux_siamese, {epochs} epochs)",
        "attentivechrome_difference": "baseline: two AttentiveChrome regressors",
        "svr2": "baseline: two-layer SVR",
    }
    seconds = {parts[name]: value for name, value in handler.seconds.items()}
    seconds["rest (data, checks, record)"] = total - sum(seconds.values())
    seconds["total"] = total
    return pd.Series(seconds)


def speed_part() -> None:
    """Print table 5: where the default ``ct.tl.differential`` call spends its time."""
    windows = {"±5 kb (the demo)": (-5000, 5000), "±10 kb (the sample as shipped)": (-10000, 10000)}
    table = pd.DataFrame({name: timed_parts(window) for name, window in windows.items()})
    print("5. ct.tl.differential(adata, 'E123', 'E003') at its defaults, seconds per part")
    print(table.round(1).to_string())
    print("target: total under 60 s on a quiet 2-core machine\n", flush=True)


def transfer_part(model: str, seeds: list[int]) -> None:
    """Print table 1 and its mean over seeds."""
    start = time.perf_counter()
    table = transfer_table(model, seeds)
    print(f"1. Transfer, {model}, ±5 kb, split seeds {seeds} (test AUROC, 95 % CI)")
    print(table.round(3).to_string(index=False))
    print("\nmean over seeds")
    print(summarise_transfer(table).round(3).to_string())
    print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
