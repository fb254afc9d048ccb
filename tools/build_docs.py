# SPDX-License-Identifier: Apache-2.0
"""Builds the documentation site: the command-line reference generated from the application
(docs/cli.md, not kept in git), then MkDocs in strict mode (warnings are errors) into
build/site. Run from the repository root: python tools/build_docs.py"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    cli = ROOT / "docs" / "cli.md"
    # run outside the source tree: the installed package (with its compiled core) is imported
    subprocess.run(
        [sys.executable, "-m", "typer", "pymargin.cli.app", "utils", "docs", "--name", "pymargin",
         "--title", "Command line", "--output", str(cli)],
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean"], cwd=ROOT
    ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
