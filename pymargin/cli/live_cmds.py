# SPDX-License-Identifier: Apache-2.0
"""Commands on the venue: fetch a snapshot (replayable by every command) and verify the
venue's own portfolio margin against pymargin's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .common import JsonOpt, app, console_out, err, print_json, run

BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="the API's base URL (default: DERIBIT_BASE_URL, else Deribit mainnet); keys from "
        "DERIBIT_CLIENT_ID / DERIBIT_CLIENT_SECRET"
    ),
]


def _client(base_url: str | None):
    from ..live.deribit import DERIBIT_MAINNET, DeribitClient

    base = base_url or os.environ.get("DERIBIT_BASE_URL", DERIBIT_MAINNET)
    return DeribitClient(base, log=lambda text: err.print(text, highlight=False, markup=False))


@app.command()
def fetch(
    spec: Annotated[
        str, typer.Argument(help="deribit:BTC, deribit:ETH, deribit:USDC or deribit:all")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder the snapshot goes in")] = Path(
        "snapshots"
    ),
    positions: Annotated[
        bool, typer.Option("--positions", help="the account's positions and balances (keys)")
    ] = False,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="the venue's own private/pme/simulate (keys)")
    ] = False,
    base_url: BaseUrlOpt = None,
) -> None:
    """Saves the venue's market data (and the account's, with keys) as sent, in a dated
    folder that every command reads back: -m FOLDER replays the run exactly."""

    def go() -> None:
        from ..exceptions import InvalidInputError
        from ..live.snapshot import fetch_snapshot

        if not spec.lower().startswith("deribit:"):
            raise InvalidInputError("expected deribit:CURRENCY (or deribit:all)", "spec")
        with _client(base_url) as client:
            folder = fetch_snapshot(
                client, spec.split(":", 1)[1], out, positions=positions, simulate=simulate
            )
            s = client.stats
        console_out().print(
            f"wrote {folder} ({s.requests} requests, {s.retries} retries, {s.rate_limited} "
            f"rate-limited, {s.waited_seconds:.1f} s waited)",
            highlight=False,
        )

    run(go)


@app.command()
def verify(
    source: Annotated[
        str,
        typer.Argument(
            help="a snapshot folder (fetch --simulate), a saved pme/simulate JSON file, or "
            "deribit:CURRENCY to ask the venue now (keys)"
        ),
    ],
    base_url: BaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """pymargin against the venue's private/pme/simulate: the same positions, parameters and
    marks margined by pymargin, then compared line by line (margins, worst case, roll shock,
    every risk vector entry). Exit 1 when they differ."""

    def go() -> None:
        from ..files import load_json, open_file
        from ..live.snapshot import is_snapshot, read_snapshot
        from ..live.verify import verify_simulate

        if source.lower().startswith("deribit:"):
            ccy = source.split(":", 1)[1].upper()
            with _client(base_url) as client:
                payloads = {ccy.lower(): client.pme_simulate(ccy)}
        elif is_snapshot(source):
            payloads = read_snapshot(source).simulate
            if not payloads:
                from ..exceptions import FileInputError

                raise FileInputError(source, "the snapshot has no pme/simulate (fetch --simulate)")
        else:
            payloads = {"": load_json(open_file(source))}
        results = {c: verify_simulate(p) for c, p in payloads.items()}
        rows: dict[str, dict[str, Any]] = {
            r.ours.currency: {
                "initial_margin_venue": r.venue_initial_margin,
                "initial_margin_pymargin": r.ours.initial_margin,
                "maintenance_margin_venue": r.venue_maintenance_margin,
                "maintenance_margin_pymargin": r.ours.maintenance_margin,
                "differences": r.differences,
            }
            for r in results.values()
        }
        if as_json:
            print_json(rows)
        else:
            t = Table(title="pymargin vs the venue's pme/simulate", title_justify="left")
            for col in (
                "currency",
                "IM venue",
                "IM pymargin",
                "MM venue",
                "MM pymargin",
                "lines that differ",
            ):
                t.add_column(col, justify="left" if col == "currency" else "right")
            for c, r in rows.items():
                t.add_row(
                    c.upper(),
                    f"{r['initial_margin_venue']:.9g}",
                    f"{r['initial_margin_pymargin']:.9g}",
                    f"{r['maintenance_margin_venue']:.9g}",
                    f"{r['maintenance_margin_pymargin']:.9g}",
                    str(len(r["differences"])),
                )
            console_out().print(t)
            for c, r in rows.items():
                for d in r["differences"]:
                    console_out().print(f"{c.upper()}: {d}", highlight=False, markup=False)
        if any(r["differences"] for r in rows.values()):
            raise typer.Exit(1)

    run(go)
