"""The ``pymargin`` command line (typer + rich): margin, Greeks, what-if checks, model
comparison and an HTML report for a portfolio, and the bundled demo.

Every command reads positions and a market (see :mod:`pymargin.inputs` for the formats),
prints rich tables, or JSON with ``--json``. Bad input ends the command with exit code 2 and
one line naming the file, the field and the row.
"""

from __future__ import annotations

import enum
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .exceptions import PymarginError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="pymargin: portfolio margin, Greeks and pre-trade checks for crypto derivatives.",
)
err = Console(stderr=True)


class Model(str, enum.Enum):
    deribit_pm = "deribit-pm"
    deribit_xpm = "deribit-xpm"
    deribit_standard = "deribit-standard"
    paradex_pm = "paradex-pm"
    finra_pm = "finra-pm"
    delta_margin = "delta-margin"


PositionsArg = Annotated[
    Path, typer.Argument(help="positions: CSV, JSON, Deribit get_positions or ccxt positions")
]
MarketOpt = Annotated[
    str,
    typer.Option(
        "--market", "-m", help="demo:BTC, demo:ETH, a chain CSV or Deribit book summary JSON"
    ),
]
CollateralOpt = Annotated[
    str | None,
    typer.Option(help="BTC=1.5,USDC=2000 or a Deribit get_account_summary JSON file"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
TimeOpt = Annotated[
    str | None, typer.Option("--time", help="valuation time (ISO, UTC) for a chain CSV")
]


def _fail(e: Exception) -> None:
    err.print(f"[bold red]pymargin: error:[/bold red] {e}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _inputs(positions: Path, market: str, time: str | None) -> tuple[Any, Any]:
    from .inputs import read_market, read_positions

    when = None
    if time:
        try:
            when = datetime.fromisoformat(time)
        except ValueError:
            _fail(ValueError(f"--time: not an ISO time: {time!r}"))
        assert when is not None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return read_positions(positions), read_market(market, when)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, enum.Enum):
        return o.value
    return str(o)


def _run(fn: Any) -> None:
    try:
        fn()
    except PymarginError as e:
        _fail(e)
    except OSError as e:
        _fail(e)


@app.command()
def demo(as_json: JsonOpt = False) -> None:
    """The main job on the bundled real Deribit chains: six portfolios margined under each
    model, with the breakdown, the worst scenarios and the Greeks."""
    from .demo import run_demo

    if as_json:
        _print_json(run_demo(console=False))
    else:
        run_demo()


@app.command()
def version() -> None:
    """The version and the active SIMD level."""
    from . import __version__, simd_level

    print(f"pymargin {__version__} (kernels: {simd_level()})")


@app.command()
def margin(
    positions: PositionsArg,
    market: MarketOpt,
    model: Annotated[Model, typer.Option(help="margin model")] = Model.deribit_pm,
    currency: Annotated[str | None, typer.Option(help="settlement currency (S:PM, S:SM)")] = None,
    collateral: CollateralOpt = None,
    params: Annotated[
        str | None, typer.Option(help="Deribit PM parameters: model file or pme/simulate JSON")
    ] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Initial and maintenance margin of the positions under one model, with the breakdown."""

    def go() -> None:
        from .inputs import read_collateral, read_params
        from .margin import MarginModel
        from .margin import margin as compute

        pf, mkt = _inputs(positions, market, time)
        chosen = MarginModel(model.value.replace("-", "_"))
        res = compute(
            pf,
            mkt,
            chosen,
            params=read_params(params),
            currency=currency,
            collateral=read_collateral(collateral) if chosen is MarginModel.DERIBIT_XPM else None,
        )
        out = {
            "model": chosen.value,
            "currency": res.currency,
            "initial_margin": res.initial_margin,
            "maintenance_margin": res.maintenance_margin,
            "components": res.components,
            "worst_scenario": res.worst_scenario,
        }
        if as_json:
            out["scenarios"] = dict(zip(res.scenario_labels, res.scenario_pnl.tolist()))
            _print_json(out)
            return
        con = Console()
        t = Table(title=f"{chosen.value} margin ({res.currency.upper()})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row("initial margin", f"{res.initial_margin:,.6g}")
        t.add_row("maintenance margin", f"{res.maintenance_margin:,.6g}")
        for k, v in res.components.items():
            t.add_row(f"  {k}", f"{v:,.6g}")
        t.add_row("worst scenario", res.worst_scenario)
        con.print(t)
        con.print(res.explain(), highlight=False)

    _run(go)


@app.command()
def greeks(
    positions: PositionsArg,
    market: MarketOpt,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio Greeks by underlying and expiry (USD; delta in coins)."""

    def go() -> None:
        from .greeks import portfolio_greeks

        pf, mkt = _inputs(positions, market, time)
        g = portfolio_greeks(pf, mkt)
        if as_json:
            _print_json(
                {
                    "by_underlying": g.by_underlying,
                    "by_expiry": {f"{u} {e}": v for (u, e), v in g.by_expiry.items()},
                }
            )
            return
        t = Table(title="Greeks (USD; delta in coins)", title_justify="left")
        for col in ("underlying", "expiry", "delta", "delta USD", "gamma 1%", "vega/pt", "theta/d"):
            t.add_column(col, justify="left" if col in ("underlying", "expiry") else "right")

        def row(u: str, e: str, v: dict[str, float]) -> None:
            t.add_row(
                u,
                e,
                f"{v['delta']:+,.3f}",
                f"{v['delta_usd']:+,.0f}",
                f"{v['gamma_1pct']:+,.0f}",
                f"{v['vega']:+,.0f}",
                f"{v['theta']:+,.0f}",
            )

        for (u, e), v in g.by_expiry.items():
            row(u, e, v)
        for u, v in g.by_underlying.items():
            row(f"[bold]{u}[/bold]", "total", v)
        Console().print(t)

    _run(go)


@app.command()
def compare(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The same positions under Deribit's four modes: standard vs portfolio margin,
    segregated vs cross collateral, with equity and available funds."""

    def go() -> None:
        from .account import Account, compare_margin_modes
        from .inputs import read_collateral

        pf, mkt = _inputs(positions, market, time)
        modes = compare_margin_modes(Account(pf, read_collateral(collateral)), mkt)
        rows = {m.value: (s if isinstance(s, str) else s.as_row()) for m, s in modes.items()}
        if as_json:
            _print_json(rows)
            return
        t = Table(title="Margin modes (USD)", title_justify="left")
        for col in ("mode", "equity", "IM", "MM", "available", "MM ratio"):
            t.add_column(col, justify="left" if col == "mode" else "right")
        for m, r in rows.items():
            if isinstance(r, str):
                t.add_row(m, f"not covered: {r}", "", "", "", "")
            else:
                t.add_row(
                    m,
                    f"{r['equity_usd']:,.0f}",
                    f"{r['initial_margin_usd']:,.0f}",
                    f"{r['maintenance_margin_usd']:,.0f}",
                    f"{r['available_funds_usd']:,.0f}",
                    f"{r['mm_ratio']:.1%}",
                )
        Console().print(t)

    _run(go)


@app.command()
def whatif(
    positions: PositionsArg,
    market: MarketOpt,
    order: Annotated[
        list[str],
        typer.Option(
            help="INSTRUMENT:buy|sell:AMOUNT (Deribit amounts: USD for inverse "
            "futures, coins otherwise); repeat for several candidates"
        ),
    ],
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pre-trade checks: could the account carry each candidate order (each on its own)?"""

    def go() -> None:
        from .engine import PreTradeEngine, Reason, Side
        from .exceptions import InvalidInputError
        from .inputs import read_collateral
        from .instruments import InstrumentKind, Settlement, parse_instrument

        pf, mkt = _inputs(positions, market, time)
        cands = []
        for row, spec in enumerate(order):
            parts = spec.split(":")
            if len(parts) != 3 or parts[1].lower() not in ("buy", "sell"):
                raise InvalidInputError(
                    f"expected INSTRUMENT:buy|sell:AMOUNT, got {spec!r}", "order", row
                )
            try:
                amount = float(parts[2])
            except ValueError:
                raise InvalidInputError(f"not a number: {parts[2]!r}", "order", row) from None
            cands.append((parts[0], Side.BUY if parts[1].lower() == "buy" else Side.SELL, amount))
        names = list(dict.fromkeys([*pf.positions, *(c[0] for c in cands)]))
        eng = PreTradeEngine(mkt, names)
        acct = eng.add_account({k.lower(): v for k, v in read_collateral(collateral).items()})
        for name, size in pf.positions.items():  # book the positions at their marks
            inst = parse_instrument(name)
            f = mkt.underlying_price(inst)
            amount = abs(size)
            if inst.kind is not InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE:
                amount *= f  # engine amounts: USD for inverse futures
            price = (
                f
                if inst.kind is not InstrumentKind.OPTION
                else max(
                    (mkt.marks.get(name).mark_price if mkt.marks.get(name) else None) or 1e-8, 1e-8
                )
            )
            eng.fill(acct, name, Side.BUY if size > 0 else Side.SELL, amount, price)
        results = [eng.check(acct, n, s, a) for n, s, a in cands]
        if as_json:
            _print_json([{"order": o, **r.__dict__} for o, r in zip(order, results)])
            return
        t = Table(title="Pre-trade checks", title_justify="left")
        for col in ("order", "decision", "IM before", "IM after", "available after"):
            t.add_column(col, justify="left" if col in ("order", "decision") else "right")
        for o, r in zip(order, results):
            decision = (
                "[green]accept[/green]"
                if r.accept
                else f"[red]reject[/red] ({Reason(r.reason).name.lower()})"
            )
            t.add_row(
                o,
                decision,
                f"{r.im_before:,.6g}",
                f"{r.im_after:,.6g}",
                f"{r.available_after:,.6g} {r.currency.upper()}",
            )
        Console().print(t)

    _run(go)


@app.command()
def report(
    positions: PositionsArg,
    market: MarketOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")],
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
) -> None:
    """A self-contained HTML report: summary, breakdown, risk matrix, Greeks, model comparison
    (plots embedded)."""

    def go() -> None:
        from rich.progress import Progress

        from .inputs import read_collateral
        from .report import write_report

        pf, mkt = _inputs(positions, market, time)
        with Progress(transient=True, console=err) as progress:
            task = progress.add_task("report", total=None)

            def step(what: str) -> None:
                progress.update(task, description=what)

            write_report(pf, mkt, output, collateral=read_collateral(collateral), progress=step)
        Console().print(f"wrote {output}")

    _run(go)


def main() -> None:
    app()
