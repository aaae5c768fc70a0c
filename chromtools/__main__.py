"""``python -m chromtools demo``: the main job on the embedded real data."""

from __future__ import annotations

import argparse
import sys

from ._demo import run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chromtools")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job on the embedded REMC data")
    demo.add_argument("--out", default="demo_output", help="folder for the results store")
    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
