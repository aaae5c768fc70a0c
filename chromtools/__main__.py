"""Command line: ``python -m chromtools demo`` and ``python -m chromtools fit``.

``fit`` trains a model on a Zarr store and saves it; launched by ``torchrun``
it trains data-parallel, each process reading its own shard of the store::

    torchrun --nproc-per-node 4 -m chromtools fit signal.zarr --model deepchrome \\
        --cell-types E003 E004 --out deepchrome_model
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ._demo import run_demo
from .io._atomic import check_destination


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
    fit.add_argument("--cell-types", nargs="+", default=None, help="cell types to train on")
    fit.add_argument("--y", default="label", choices=("label", "expression"))
    fit.add_argument("--metrics", default=None, help="CSV file for the metrics table")
    fit.add_argument("--checkpoint-dir", default=None, help="folder for per-epoch checkpoints")
    fit.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    for option, kind in (
        ("epochs", int), ("batch-size", int), ("lr", float), ("weight-decay", float),
        ("patience", int), ("seed", int), ("device", str), ("precision", str),
    ):  # fmt: skip
        fit.add_argument(f"--{option}", type=kind, default=None, help="a TrainingConfig field")
    return parser


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
    # where the results go is checked before hours of training, not after
    check_destination(args.out, overwrite=args.overwrite, kind="model")
    if args.metrics is not None:
        _check_metrics_file(Path(args.metrics), overwrite=args.overwrite)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and options.get("device", "auto") != "cpu"
        if use_cuda:
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            options["device"] = f"cuda:{local_rank}"
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
            **options,
        )
        if rank == 0:
            tl.save_model(adata, "model", args.out, overwrite=args.overwrite)
            metrics = adata.uns["model"]["metrics"]
            if args.metrics is not None:
                metrics.to_csv(args.metrics, index=False)
            print(json.dumps(metrics.to_dict(orient="records")))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _check_metrics_file(path: Path, *, overwrite: bool) -> None:
    """Refuse a ``--metrics`` path that cannot be written, or would replace a file unasked."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--metrics {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"--metrics {path} is a folder; give a CSV file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"--metrics {path} exists; pass --overwrite to replace it")


# What a user can mend: printed as one line, without a traceback.
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
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"python -m chromtools {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
