"""Gradient×input and integrated gradients on ChromTransfer: ours against a bare autograd loop.

The anchor is the least any gradient attribution can cost: one
``torch.autograd.grad`` per batch (per integration step for IG) on the same
batches of the same network. Ours is timed as the core function and as
``ct.tl.attribute`` end to end (reading the batches from the AnnData and
storing ``varm``); captum's ``IntegratedGradients`` is timed alongside.
Target: not slower than the bare loop (ratio ≥ 1 within noise).

    python benchmarks/_interpret_attribute.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

import chromtools as ct
from chromtools.functional import grad_x_input, integrated_gradients, scalar_output


def _bare_gradients(network, batches, steps: int = 1) -> float:
    start = time.perf_counter()
    for x in batches:
        for k in range(steps):
            point = ((k + 0.5) / steps * x).requires_grad_(True)
            (gradient,) = torch.autograd.grad(network(point)[:, 0].sum(), point)
            _ = gradient * x
    return time.perf_counter() - start


def _fitted_network(adata, key: str) -> torch.nn.Module:
    """The network ``ct.tl.fit`` stored under ``uns[key]``, rebuilt from its config, eval mode."""
    record = adata.uns[key]
    network = ct.models.build(**dict(record["config"]["model"]))
    state = record["state_dict"]
    state = {name: torch.as_tensor(np.asarray(value)) for name, value in state.items()}
    network.load_state_dict(state)
    return network.eval()


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run(quick: bool = False) -> pd.DataFrame:
    """Sequences/s of each way to compute the attributions, with ratios to the bare loop."""
    batch, n_batches, steps, width = (32, 2, 4, 300) if quick else (256, 2, 4, 600)
    n = batch * n_batches
    adata = ct.datasets.synthetic_sequences(n + 64, width, cell_types=("A",), seed=0)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "chromtransfer", cell_types="A", epochs=1, batch_size=batch, seed=0)
    network = _fitted_network(adata, "chromtransfer")
    onehot = np.asarray(adata.varm["onehot"][:n], dtype=np.float32)
    batches = [torch.from_numpy(onehot[i : i + batch]) for i in range(0, n, batch)]
    genes = list(adata.var_names[:n])

    from captum.attr import IntegratedGradients

    captum = IntegratedGradients(lambda v: scalar_output(network, v))
    times = {
        ("grad_x_input", "bare autograd loop"): _bare_gradients(network, batches),
        ("grad_x_input", "grad_x_input (core)"): _timed(
            lambda: [grad_x_input(network, x) for x in batches]
        ),
        ("grad_x_input", "ct.tl.attribute"): _timed(
            lambda: ct.tl.attribute(adata, "chromtransfer", genes=genes, batch_size=batch)
        ),
        ("integrated_gradients", "bare autograd loop"): _bare_gradients(network, batches, steps),
        ("integrated_gradients", "integrated_gradients (core)"): _timed(
            lambda: [integrated_gradients(network, x, steps=steps) for x in batches]
        ),
        ("integrated_gradients", "ct.tl.attribute"): _timed(
            lambda: ct.tl.attribute(
                adata,
                "chromtransfer",
                method="integrated_gradients",
                steps=steps,
                genes=genes,
                batch_size=batch,
            )  # fmt: skip
        ),
        ("integrated_gradients", "captum IntegratedGradients"): _timed(
            lambda: [
                captum.attribute(
                    x, n_steps=steps, method="riemann_middle", internal_batch_size=batch
                )
                for x in batches
            ]
        ),
    }
    rows = []
    for (method, how), seconds in times.items():
        anchor = times[(method, "bare autograd loop")]
        rows.append(
            {
                "method": method,
                "implementation": how,
                "sequences": n,
                "steps": steps if method == "integrated_gradients" else 1,
                "seconds": seconds,
                "sequences_per_s": n / seconds,
                "x_bare_loop": anchor / seconds,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small batches and 300 bp")
    args = parser.parse_args()
    ct.settings.progress = False
    print(f"torch threads: {torch.get_num_threads()}")
    print(run(args.quick).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
