# SPDX-License-Identifier: Apache-2.0
"""Commands on the venue: fetch a snapshot (replayable by every command) and verify the
venue's own portfolio margin against pymargin's."""

from __future__ import annotations

import json
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


@app.command()
def serve(
    market: Annotated[
        str, typer.Option("--market", "-m", help="the market the service margins on")
    ] = "demo:BTC",
    simulate: Annotated[
        Path | None,
        typer.Option(
            help="a pme/simulate response: its market, parameters and account (the service "
            "then answers that request with that response)"
        ),
    ] = None,
    accounts: Annotated[
        Path | None,
        typer.Option(
            help='accounts JSON: {"NAME": {"positions": {...}, "collateral": {...}}, ...}'
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    api_key_env: Annotated[
        str | None,
        typer.Option(help="name of the environment variable holding the API key (X-API-Key)"),
    ] = None,
    max_body: Annotated[int, typer.Option(help="largest request body, bytes")] = 1_000_000,
) -> None:
    """The local margin service: Deribit's private/pme/simulate (JSON-RPC), margin under any
    model, what-if orders per account, stress and VaR; OpenAPI at /docs, /health. Stops
    cleanly on Ctrl-C or SIGTERM."""

    def go() -> None:
        import logging

        from ..exceptions import InvalidInputError
        from ..extras import optional
        from ..files import load_json, open_file
        from ..live.service import AccountState, ServiceState, create_app
        from .inputs import read_market

        uvicorn = optional("uvicorn", "serve")
        if simulate is not None:
            state = ServiceState.from_simulate(load_json(open_file(simulate)))
        else:
            state = ServiceState(read_market(market), {})
        if accounts is not None:
            doc = load_json(open_file(accounts))
            if not isinstance(doc, dict):
                raise InvalidInputError("an object of account name to account", "accounts")
            for name, a in doc.items():
                if not isinstance(a, dict) or not isinstance(a.get("positions", {}), dict):
                    raise InvalidInputError(f"account {name!r}: positions, collateral", "accounts")
                state.add(
                    str(name),
                    AccountState(
                        {str(k): float(v) for k, v in a.get("positions", {}).items()},
                        {str(k): float(v) for k, v in a.get("collateral", {}).items()},
                    ),
                )
        key = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise InvalidInputError(f"the environment has no {api_key_env}", "--api-key-env")
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        uvicorn.run(create_app(state, api_key=key, max_body=max_body), host=host, port=port)

    run(go)


@app.command()
def watch(
    positions: Annotated[Path, typer.Argument(help="positions (any format margin reads)")],
    market: Annotated[
        str, typer.Option("--market", "-m", help="the starting market: deribit:BTC, a snapshot")
    ],
    collateral: Annotated[
        str | None, typer.Option(help="BTC=1.5,USDC=2000 or a get_account_summary file")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="websocket endpoint (default: DERIBIT_WS_URL, else Deribit mainnet)"),
    ] = None,
    updates: Annotated[int | None, typer.Option(help="stop after this many updates")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Streams the index and the marks (websocket) and shows, on every update, the account's
    margin, equity, margin ratio and the spot move to liquidation (a live table; --json: one
    JSON line per update)."""

    def go() -> None:
        from rich.live import Live

        from ..live.stream import DERIBIT_WS, MarginWatcher
        from .common import read_inputs
        from .inputs import read_collateral

        pf, mkt = read_inputs(positions, market, None)
        w = MarginWatcher(
            dict(pf.positions),
            mkt,
            read_collateral(collateral),
            url=url or os.environ.get("DERIBIT_WS_URL", DERIBIT_WS),
            log=lambda text: err.print(text, highlight=False, markup=False),
        )

        def table(u: Any) -> Table:
            t = Table(title=f"{len(pf.positions)} positions, live", title_justify="left")
            for col in ("time (UTC)", "index", "IM", "MM", "equity", "MM ratio", "liquidation at"):
                t.add_column(col, justify="left" if col == "time (UTC)" else "right")
            unit = u.currency.upper()
            t.add_row(
                f"{u.time:%H:%M:%S.%f}"[:-3],
                ", ".join(f"{k.split('_')[0]} {v:,.2f}" for k, v in u.index.items()),
                f"{u.initial_margin:,.6g} {unit}",
                f"{u.maintenance_margin:,.6g} {unit}",
                f"{u.equity:,.6g} {unit}",
                "-" if u.margin_ratio is None else f"{u.margin_ratio:.2%}",
                "none in range" if u.liquidation_move is None else f"{u.liquidation_move:+.2%}",
            )
            return t

        stream = w.updates(updates)
        if as_json:
            for u in stream:
                print(json.dumps({**u.__dict__, "time": u.time.isoformat()}), flush=True)
            return
        first = w.snapshot("start")
        with Live(table(first), console=console_out(), refresh_per_second=4) as live:
            for u in stream:
                live.update(table(u))

    run(go)
