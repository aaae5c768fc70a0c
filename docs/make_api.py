"""Write docs/api.md from the public signatures and docstrings: ``python docs/make_api.py``."""

from __future__ import annotations

import inspect
from pathlib import Path

import chromtools as ct

MODULES = ("io", "pp", "get", "datasets", "tl")


def section(name: str) -> list[str]:
    """The lines of one module's section: heading, summary, one entry per function."""
    module = getattr(ct, name)
    summary = (inspect.getdoc(module) or "").splitlines()[0]
    lines = [f"## `ct.{name}`", "", summary, ""]
    for function_name in sorted(module.__all__):
        function = getattr(module, function_name)
        first = (inspect.getdoc(function) or "").splitlines()[0]
        try:
            signature = str(inspect.signature(function))
        except ValueError:  # warning classes have no signature of their own
            signature = ""
        lines.append(f"- `ct.{name}.{function_name}{signature}`  ")
        lines.append(f"  {first}")
    return [*lines, ""]


def main() -> None:
    """Regenerate the page next to this script."""
    lines = [
        "# API",
        "",
        "Generated from the signatures and docstrings; `import chromtools as ct`.",
        "",
    ]
    for name in MODULES:
        lines += section(name)
    Path(__file__).with_name("api.md").write_text("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
