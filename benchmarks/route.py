"""Follow ``adata`` through ``ct.tl.finetune``: which chromtools modules it passes through.

A *stop* is a call, made with the AnnData (or a view of it, or the ``DataView`` that carries it)
as an argument, into a chromtools module other than the caller's; a *return* is a stop at a
module visited before. ``chromtools.get`` counts as one module: it is the access layer every
read goes through. Prints the
route and each module's number of visits. Runs on a tiny synthetic object in a few seconds.

    python benchmarks/route.py [--function finetune]
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import anndata as ad

import chromtools as ct
from chromtools.tl.engine import DataView

PACKAGE = str(Path(ct.__file__).parent)
CARRIERS = (ad.AnnData, DataView)


def _unit(module: str) -> str:
    """The module, or ``chromtools.get`` for any module of the access layer."""
    return "chromtools.get" if module.startswith("chromtools.get.") else module


def follow(call, steps: list[str] | None = None) -> list[str]:
    """Run ``call()`` and return the modules entered with an AnnData argument, in order;
    ``steps`` gains one "caller module.function -> module.function" line per stop."""
    route: list[str] = []

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(PACKAGE):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if not any(isinstance(frame.f_locals.get(n), CARRIERS) for n in names):
            return
        module = _unit(frame.f_globals.get("__name__", "?"))
        caller = _unit(frame.f_back.f_globals.get("__name__", "?")) if frame.f_back else "?"
        if module != caller:
            route.append(module)
            if steps is not None:
                steps.append(f"{caller}.{frame.f_back.f_code.co_name} -> {module}.{code.co_name}")

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return route


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", action="store_true", help="print each stop's caller")
    parser.add_argument(
        "--fit-source", action="store_true", help="let finetune fit the source model itself"
    )
    args = parser.parse_args()
    ct.settings.verbosity = 0
    adata = ct.datasets.synthetic_histone(n_cell_types=3, n_genes=120, seed=0)
    ct.pp.split(adata, seed=0)
    if not args.fit_source:
        ct.tl.fit(adata, model="deepchrome", cell_types=adata.obs_names[0], epochs=1)
    target = adata.obs_names[1]
    steps: list[str] = []
    route = follow(
        lambda: ct.tl.finetune(adata, source=adata.obs_names[0], target=target, epochs=1), steps
    )
    if args.steps:
        print("\n".join(steps))
    visits = collections.Counter(route)
    returns = len(route) - len(visits)
    print("route:", " -> ".join(m.removeprefix("chromtools.") for m in route))
    print(f"{len(route)} stops, {returns} returns to a module already visited")
    for module, n in visits.most_common():
        print(f"  {n:3d}  {module}")
    print("most visits of one module:", max(visits.values()))


if __name__ == "__main__":
    main()
