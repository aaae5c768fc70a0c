"""Speed of scoring many substitutions in one region (``ct.tl.variant_effects``' core).

Model: ChromTransfer at its default size (filters 64, hidden (512, 128)),
random weights with BatchNorm running statistics away from the identity, in
eval mode; one random 600 bp region (``--length``) and ``--n-variants``
distinct single-base substitutions at random positions.

- **windowed**: :func:`~chromtools.tl.interpret.substitution_scores` with
  ``path="windowed"``, the path ``variant_effects`` takes at 600 bp: the
  reference once, then for each substitution only the window of every layer
  that the base change reaches.
- **naive loop**: the reference through the fused model once, then each alt
  sequence through the whole fused model, one forward pass each.
- **batched full passes** (for reference): the alt sequences batched through
  the whole fused model (``path="full"``).

Target: windowed ≥ 3× the naive loop. Each timing is the best of
``--repeats`` rounds after a warm-up, the three in turn, so that load on a
shared machine hits every side alike; the largest |difference| of the logit
changes against the naive loop is printed too.

Run: ``.venv/bin/python benchmarks/_interpret_variants.py [--quick] [--threads 2]``.
"""

from __future__ import annotations

import argparse

import torch
from _interpret_speed import (  # the sibling part's timer: best of repeats after a warm-up
    _best,
    _network,
)
from torch import nn

from chromtools._substitutions import Mutants
from chromtools.tl.interpret import substitution_scores


def _variants(length: int, n: int, seed: int = 1) -> tuple[torch.Tensor, Mutants]:
    """One random region and ``n`` distinct substitutions of it (each to another base)."""
    generator = torch.Generator().manual_seed(seed)
    bases = torch.randint(0, 4, (length,), generator=generator)
    x = nn.functional.one_hot(bases, 4).float().unsqueeze(0)
    chosen = torch.randperm(3 * length, generator=generator)[:n]
    position, shift = chosen // 3, chosen % 3 + 1
    base = (bases[position] + shift) % 4
    return x, Mutants(torch.zeros(n, dtype=torch.long), position, base)


def _naive(fused: nn.Module, x: torch.Tensor, mutants: Mutants) -> torch.Tensor:
    """The reference once, then one full forward pass per alt sequence."""
    with torch.inference_mode():
        reference = fused(x)[0, 0]
        changes = []
        for position, base in zip(mutants.position.tolist(), mutants.base.tolist(), strict=True):
            alt = x.clone()
            alt[0, position] = 0
            alt[0, position, base] = 1
            changes.append(fused(alt)[0, 0] - reference)
    return torch.stack(changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--n-variants", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n = 20 if args.quick else args.n_variants
    network = _network(args.quick)
    fused = network.fused()
    x, mutants = _variants(args.length, n)

    def windowed() -> torch.Tensor:
        return substitution_scores(network, x, mutants, batch_size=256, path="windowed")[1]

    def batched() -> torch.Tensor:
        return substitution_scores(network, x, mutants, batch_size=256, path="full")[1]

    functions = {"windowed": windowed, "naive loop": lambda: _naive(fused, x, mutants),
                 "batched full passes": batched}  # fmt: skip
    seconds = _best(functions, 1 if args.quick else args.repeats)
    naive = _naive(fused, x, mutants)
    print(f"{n} substitutions in one {args.length} bp region, default ChromTransfer"
          f"{' (quick: small model)' if args.quick else ''}, {args.threads} threads")  # fmt: skip
    print(
        f"{'path':<22}{'seconds':>10}{'ms/variant':>12}{'naive / path':>14}{'max |Δ − naive|':>18}"
    )
    for name, function in functions.items():
        difference = float((function() - naive).abs().max())
        print(
            f"{name:<22}{seconds[name]:>10.3f}{1000 * seconds[name] / n:>12.2f}"
            f"{seconds['naive loop'] / seconds[name]:>14.2f}{difference:>18.2e}"
        )
    ratio = seconds["naive loop"] / seconds["windowed"]
    print(f"windowed / naive loop: {ratio:.1f}× faster (target ≥ 3×)")


if __name__ == "__main__":
    main()
