"""Command line: ``python -m chromtools demo`` and ``python -m chromtools fit``.

``fit`` trains a model on a Zarr store and saves it; launched by ``torchrun``
it trains data-parallel, each process reading its own shard of the store::

    torchrun --nproc-per-node 4 -m chromtools fit signal.zarr --model deepchrome \\
        --cell-types E003 E004 --out deepchrome_model
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from . import models
from ._demo import run_demo
from ._settings import SEED_MAX, settings
from .io.store import atomic_file, check_destination, check_file_destination
from .tl.engine import PRECISIONS, TrainingConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chromtools")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job on the embedded REMC data")
    demo.add_argument("--out", default="demo_output", help="folder for the results store")
    fit = commands.add_parser(
        "fit",
        help="train a model on a store (data-parallel under torchrun) and save it",
        description="ct.tl.fit on a chromtools Zarr store; the fitted model is saved with "
        "ct.tl.save_model and its metrics printed as JSON (by rank 0 under torchrun).",
    )
    fit.add_argument("store", help="chromtools Zarr store with signal, labels and a split")
    fit.add_argument("--out", required=True, help="folder to save the fitted model to")
    fit.add_argument("--model", default=None, help="registered model name (default: deepchrome)")
    fit.add_argument(
        "--cell-types",
        nargs="+",
        default=None,
        help="cell types to train on, pooled (default: every one with signal and labels)",
    )
    fit.add_argument(
        "--y",
        default="label",
        choices=("label", "expression"),
        help="what is learned: 'label' classifies high/low, 'expression' regresses X "
        "(default: label)",
    )
    fit.add_argument(
        "--metrics",
        default=None,
        help="CSV file to write the metrics table to (default: none; printed as JSON anyway)",
    )
    fit.add_argument("--checkpoint-dir", default=None, help="folder for per-epoch checkpoints")
    fit.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    fit.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out and --metrics file"
    )
    _training_options(fit)
    return parser


def _training_options(fit: argparse.ArgumentParser) -> None:
    """One option per ``ct.tl.TrainingConfig`` field, each saying what it is and its default."""
    options = fit.add_argument_group(
        "training", "how the model is trained (ct.tl.TrainingConfig); checked before any work"
    )
    own = models.get_model("deepchrome").training_defaults
    model = "the model's own; deepchrome's is {}"
    patience = TrainingConfig.__dataclass_fields__["patience"].default
    for option, kind, text in (
        ("epochs", int, f"most epochs to train (default: {model.format(own['epochs'])})"),
        ("batch-size", int,
         f"samples per training step (default: {model.format(own['batch_size'])})"),
        ("lr", float, f"AdamW learning rate (default: {model.format(own['lr'])})"),
        ("weight-decay", float,
         f"AdamW weight decay, 0 for Adam (default: {model.format(own['weight_decay'])})"),
        ("patience", int,
         "stop after this many epochs without a better validation score and keep the best "
         f"epoch (default: {patience})"),
        ("seed", int,
         f"seed of the weights and the batch order, an integer from 0 to 2**32 - 1 "
         f"({SEED_MAX}); the same seed gives the same model on the CPU "
         f"(default: ct.settings.seed, {settings.seed})"),
        ("device", str,
         "'auto' (CUDA when present), 'cpu', 'cuda', 'cuda:<index>' or 'mps' "
         f"(default: ct.settings.device, {settings.device})"),
    ):  # fmt: skip
        options.add_argument(f"--{option}", type=kind, default=None, help=text)
    options.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help="'auto' (bf16 autocast on a GPU, fp32 on the CPU), 'bf16' or 'fp32' (default: auto)",
    )


def _fit(args: argparse.Namespace) -> None:
    """``ct.tl.fit`` on ``args.store``; rank 0 saves the model and reports the metrics."""
    import torch
    import torch.distributed as dist

    from . import io, tl

    options = {
        name: getattr(args, name)
        for name in ("epochs", "batch_size", "lr", "weight_decay", "patience", "seed", "device")
        if getattr(args, name) is not None
    }
    if args.precision is not None:
        options["precision"] = args.precision
    # the training options and where the results go are checked before hours of training
    training = TrainingConfig(**options)
    check_destination(args.out, overwrite=args.overwrite, kind="model")
    if args.metrics is not None:
        _check_metrics_file(args.metrics, overwrite=args.overwrite)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and training.device != "cpu"
        if use_cuda:
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            training = dataclasses.replace(training, device=f"cuda:{local_rank}")
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    try:
        adata = io.read_zarr(args.store)
        tl.fit(
            adata,
            args.model,
            cell_types=args.cell_types,
            y=args.y,
            key_added="model",
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            training=training,
        )
        if rank == 0:
            tl.save_model(adata, "model", args.out, overwrite=args.overwrite)
            metrics = adata.uns["model"]["metrics"]
            if args.metrics is not None:
                # a failed write (a full disk) leaves a previous metrics file as it was
                with atomic_file(args.metrics, "--metrics", kind="CSV file") as temporary:
                    metrics.to_csv(temporary, index=False)
            print(json.dumps(metrics.to_dict(orient="records")))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _check_metrics_file(metrics: str, *, overwrite: bool) -> None:
    """Refuse a ``--metrics`` path that cannot be written (a folder, a missing or read-only
    folder), or that would replace a file unasked."""
    path = check_file_destination(metrics, "--metrics", kind="CSV file")
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"--metrics: {path} exists; pass --overwrite to replace it")


# What a user can mend, printed as one line without a traceback: chromtools' errors
# (FormatError and StoreError are ValueErrors) and the operating system's (OSError: a
# missing file, a read-only place, a full disk while the model or --metrics is written).
_USER_ERRORS = (ValueError, KeyError, OSError)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a bad input prints ``python -m chromtools <command>: error: ...``
    and returns 2, as argparse does for a bad option."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(args.out)
        elif args.command == "fit":
            _fit(args)
    except _USER_ERRORS as error:
        print(f"python -m chromtools {args.command}: error: {_message(error)}", file=sys.stderr)
        return 2
    return 0


def _message(error: Exception) -> str:
    """What went wrong, without Python's decoration (a KeyError's quotes, ``[Errno 28]``)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
