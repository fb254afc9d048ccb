# SPDX-License-Identifier: Apache-2.0
"""The ``pymargin`` command line (typer + rich): margin, Greeks, what-if checks, model
comparison and an HTML report for a portfolio; VaR, stress and liquidation; venue-wide batch
margin and the liquidation cascade; hedging, margin optimisation, protection and cross-venue
margin; and the bundled demo.

Every command reads positions and a market (see :mod:`pymargin.cli.inputs` for the formats),
prints rich tables, or JSON with ``--json``. Bad input ends the command with exit code 2 and
one line naming the file, the field and the row.
"""

from __future__ import annotations

from . import (  # noqa: F401  (register the commands)
    live_cmds,
    portfolio_cmds,
    risk_cmds,
    strategy_cmds,
    venue_cmds,
)
from .common import app, err

__all__ = ["app", "main"]


def main() -> None:
    """The console script: Typer's app, with usage errors (a value that is not a number, an
    unknown option, a missing argument) as one line and exit 2, like every other bad input."""
    import sys

    try:
        code = app(standalone_mode=False)
    except Exception as e:
        # Click's exceptions (vendored by recent Typer, click's own before): matched by what
        # they offer rather than by a module path that moves between versions.
        name = type(e).__name__
        ctx = getattr(e, "ctx", None)
        if name == "NoArgsIsHelpError" and ctx is not None:  # bare `pymargin`: the help
            print(ctx.get_help())
            sys.exit(2)
        if name == "Abort":
            sys.exit(130)
        format_message = getattr(e, "format_message", None)
        if not callable(format_message):
            raise
        text = str(format_message()).replace("\r", "\\r").replace("\n", "\\n")
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(f"pymargin: error: {text}{where}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
