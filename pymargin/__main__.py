"""Command line: ``pymargin demo`` runs the main job on the bundled demo data."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pymargin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="price the bundled Deribit BTC option chain")
    demo.add_argument("--json", action="store_true", help="print the figures as JSON")
    sub.add_parser("version", help="print the version and the active SIMD level")
    args = parser.parse_args(argv)

    from . import __version__, simd_level
    from .demo import run_demo

    if args.command == "version":
        print(f"pymargin {__version__} (kernels: {simd_level()})")
        return 0
    if args.json:
        print(json.dumps(run_demo(out=lambda *_: None), indent=2))
    else:
        run_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
