"""Every interpretation benchmark in turn, each with its anchors measured in the same run.

1. ``_interpret_motifs.py``: motif scanning, ``ct.tl.scan_motifs`` against
   memelite's FIMO called directly and Biopython's PSSM search.
2. ``_interpret_speed.py``: ChromTransfer inference (fused for inference vs
   as trained), a training step, and ISM against the naive loop and
   tangermeme's ``saturation_mutagenesis``.
3. ``_interpret_attribute.py``: gradient×input and integrated gradients
   against a bare ``torch.autograd.grad`` loop.
4. ``_interpret_histone.py``: what the histone models rely on in the real
   REMC sample (β, mark deletion, gradient×input; E123 and E003).
5. ``_interpret_variants.py``: scoring 200 substitutions in one 600 bp region
   (``ct.tl.variant_effects``' core), windowed against a naive loop of full
   forward passes.

    python benchmarks/interpret.py [--quick] [--only motifs speed attribute histone variants]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

PARTS = {
    "motifs": "_interpret_motifs",
    "speed": "_interpret_speed",
    "attribute": "_interpret_attribute",
    "histone": "_interpret_histone",
    "variants": "_interpret_variants",
}
# the real-data part has no quick mode; fewer epochs make it quick
QUICK = {"histone": ["--epochs", "5"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", nargs="+", choices=list(PARTS), default=list(PARTS))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    for part in args.only:
        module = importlib.import_module(PARTS[part])
        print(f"\n=== {part}: {module.__doc__.splitlines()[0]}", flush=True)
        options = QUICK.get(part, ["--quick"]) if args.quick else []
        sys.argv = [f"{PARTS[part]}.py", *options]
        start = time.perf_counter()
        module.main()
        print(f"({part}: {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
