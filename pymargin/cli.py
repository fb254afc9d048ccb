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


class VarMethod(str, enum.Enum):
    historical = "historical"
    filtered_ewma = "filtered-ewma"
    filtered_garch = "filtered-garch"
    delta_normal = "delta-normal"
    delta_gamma = "delta-gamma"
    monte_carlo = "monte-carlo"


class Dist(str, enum.Enum):
    normal = "normal"
    t = "t"


@app.command("var")
def var_cmd(
    positions: PositionsArg,
    market: MarketOpt,
    method: Annotated[VarMethod, typer.Option(help="VaR method")] = VarMethod.historical,
    confidence: Annotated[float, typer.Option(help="confidence level")] = 0.99,
    horizon: Annotated[int, typer.Option(help="horizon in days")] = 1,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 100_000,
    dist: Annotated[Dist, typer.Option(help="Monte Carlo shocks")] = Dist.normal,
    plot: Annotated[Path | None, typer.Option(help="write the P&L distribution (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Value at Risk and Expected Shortfall (USD) by full revaluation, with the scenario."""

    def go() -> None:
        from . import var

        pf, mkt = _inputs(positions, market, time)
        if method is VarMethod.historical:
            r = var.historical_var(pf, mkt, confidence=confidence, horizon=horizon)
        elif method in (VarMethod.filtered_ewma, VarMethod.filtered_garch):
            filt = "ewma" if method is VarMethod.filtered_ewma else "garch"
            r = var.historical_var(pf, mkt, confidence=confidence, horizon=horizon, filtered=filt)
        elif method is VarMethod.monte_carlo:
            r = var.monte_carlo_var(
                pf, mkt, paths=paths, confidence=confidence, horizon=horizon, dist=dist.value
            )
        else:
            r = var.parametric_var(
                pf,
                mkt,
                confidence=confidence,
                horizon=horizon,
                gamma=method is VarMethod.delta_gamma,
            )
        if plot is not None:
            import matplotlib.pyplot as plt

            r.plot().figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        out = {
            "method": r.method.value,
            "confidence": r.confidence,
            "horizon_days": r.horizon_days,
            "var_usd": r.var,
            "es_usd": r.es,
            "scenario": r.scenario,
            "worst": r.worst,
        }
        if as_json:
            _print_json(out)
            return
        t = Table(title=f"VaR / ES ({r.method.value})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row(f"VaR {confidence:.1%}, {horizon} day(s)", f"{r.var:,.0f} USD")
        t.add_row("Expected Shortfall", f"{r.es:,.0f} USD")
        if r.scenario:
            t.add_row("scenario at the VaR", r.scenario)
            t.add_row("worst scenario", r.worst)
        Console().print(t)

    _run(go)


@app.command()
def stress(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    top: Annotated[int, typer.Option(help="show the worst N scenarios")] = 15,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Named historical stresses (2020-03-12, 2021-05-19, LUNA, FTX ...), synthetic spot x vol
    grids, vol-of-vol and correlation breaks; and, with collateral, the reverse stress (the
    smallest moves that wipe out the account's equity)."""

    def go() -> None:
        from . import stress as st
        from .account import Account, account_summary
        from .inputs import read_collateral
        from .portfolio import Portfolio

        pf, mkt = _inputs(positions, market, time)
        results = st.stress_test(pf, mkt)
        coll = read_collateral(collateral)
        reverse = {}
        if coll:
            equity = account_summary(Account(pf, coll), mkt).equity_usd
            # Coin collateral moves with its price: counted as a spot holding.
            held = dict(pf.positions)
            for ccy, bal in coll.items():
                if f"{ccy}_USD" in mkt.index and bal > 0:
                    held[f"{ccy}_USDC"] = held.get(f"{ccy}_USDC", 0.0) + bal
            book = Portfolio(held)
            for d in ("down", "up"):
                reverse[d] = st.reverse_stress(book, mkt, equity, direction=d, vol_beta=1.0)
        if as_json:
            _print_json(
                {
                    "scenarios": [
                        {
                            "name": s.name,
                            "pnl_usd": p,
                            "moves": s.moves,
                            "vol_scale": s.vol_scale,
                            "source": s.source,
                        }
                        for s, p in results
                    ],
                    "reverse": reverse,
                }
            )
            return
        t = Table(title="Stress tests (P&L, USD), worst first", title_justify="left")
        for c in ("scenario", "P&L", "moves", "source"):
            t.add_column(c, justify="right" if c == "P&L" else "left")
        for sc, pnl in results[:top]:
            moves = ", ".join(f"{u.split('_')[0]} {m:+.1%}" for u, m in sc.moves.items())
            t.add_row(sc.name, f"{pnl:,.0f}", moves, sc.source[:60])
        Console().print(t)
        for d, r in reverse.items():
            if r["move"] is None:
                Console().print(f"reverse stress ({d}): no move within range exhausts the equity")
            else:
                Console().print(
                    f"reverse stress ({d}): equity {r['equity_usd']:,.0f} USD is gone at a spot "
                    f"move of {r['move']:+.1%} (implied vols x{r['vol_scale']:.2f})"
                )

    _run(go)


@app.command()
def liquidation(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    plot: Annotated[Path | None, typer.Option(help="write the liquidation surface (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Margin status, and the spot moves (per vol scenario) at which equity meets maintenance
    margin under Deribit portfolio margin; optionally the liquidation surface."""

    def go() -> None:
        from . import liquidation as liq
        from .account import Account
        from .inputs import read_collateral

        pf, mkt = _inputs(positions, market, time)
        acct = Account(pf, read_collateral(collateral))
        status = liq.margin_status(acct, mkt)
        roots = liq.distance_to_liquidation(acct, mkt)
        if plot is not None:
            import matplotlib.pyplot as plt

            from .plots import plot_liquidation_surface

            surface = liq.liquidation_surface(acct, mkt)
            plot_liquidation_surface(surface).figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        if as_json:
            _print_json(
                {
                    "status": status.status.value,
                    "mm_ratio": status.mm_ratio,
                    "liquidation_moves": {str(k): v for k, v in roots.items()},
                }
            )
            return
        con = Console()
        con.print(
            f"status: [bold]{status.status.value}[/bold]; margin balance "
            f"{status.margin_balance_usd:,.0f} USD, IM {status.initial_margin_usd:,.0f}, "
            f"MM {status.maintenance_margin_usd:,.0f} (MM ratio {status.mm_ratio:.1%})"
        )
        for v, moves in roots.items():
            where = ", ".join(f"{m:+.1%}" for m in moves) or "none between -90 % and +200 %"
            con.print(f"  vols x{v:g}: liquidation at spot moves {where}")

    _run(go)


VenuePositions = Annotated[
    Path, typer.Argument(help="venue positions: CSV or Parquet with account, instrument, size")
]
VenueCollateral = Annotated[
    Path, typer.Argument(help="collateral: CSV or Parquet with account, amount")
]


@app.command()
def venue(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV or Parquet")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every account of a venue margined at once (Deribit S:PM, C++ batch kernel): counts by
    status, and the per-account table written to --output."""

    def go() -> None:
        from rich.progress import Progress

        from .batch import STATUS, batch_margin
        from .inputs import read_market

        mkt = read_market(market, None if time is None else datetime.fromisoformat(time))
        with Progress(transient=True, console=err) as progress:
            progress.add_task("margining every account", total=None)
            res = batch_margin(str(positions), str(collateral), mkt)
            if output is not None:
                frame = res.to_frame()
                if str(output).endswith(".parquet"):
                    frame.to_parquet(output)
                else:
                    frame.to_csv(output, index=False)
        counts = {STATUS[k]: int((res.status == k).sum()) for k in range(3)}
        summary = {
            "accounts": len(res.accounts),
            "currency": res.currency,
            "status": counts,
            "initial_margin_total": float(res.initial_margin.sum()),
            "maintenance_margin_total": float(res.maintenance_margin.sum()),
        }
        if as_json:
            _print_json(summary)
            return
        Console().print(
            f"{summary['accounts']:,} accounts ({res.currency.upper()}): "
            + ", ".join(f"{v:,} {k}" for k, v in counts.items())
            + f"; IM total {summary['initial_margin_total']:,.4f}, MM total "
            f"{summary['maintenance_margin_total']:,.4f}"
        )

    _run(go)


@app.command()
def cascade(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    shock: Annotated[float, typer.Option(help="initial price move, e.g. -0.1")],
    adv: Annotated[float, typer.Option(help="average daily volume, coins")] = 25_000.0,
    daily_vol: Annotated[float, typer.Option(help="daily volatility for the impact")] = 0.03,
    plot: Annotated[Path | None, typer.Option(help="write the cascade plot (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The liquidation cascade after a price shock (square-root impact): rounds, liquidations,
    shortfall and amplification."""

    def go() -> None:
        from .batch import venue_input
        from .cascade import ImpactModel, liquidation_cascade
        from .inputs import read_market

        mkt = read_market(market, None if time is None else datetime.fromisoformat(time))
        v = venue_input(str(positions), str(collateral))
        res = liquidation_cascade(
            mkt,
            v.instruments,
            v.offsets,
            v.instrument,
            v.amount,
            v.collateral,
            shock,
            impact=ImpactModel(adv=adv, daily_vol=daily_vol),
        )
        if plot is not None:
            import matplotlib.pyplot as plt

            res.plot().savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        rows = [r.__dict__ for r in res.rounds]
        if as_json:
            _print_json(
                {
                    "rounds": rows,
                    "final_move": res.final_move,
                    "amplification": res.amplification,
                    "shortfall": res.shortfall,
                    "liquidated": int(res.liquidated.sum()),
                    "converged": res.converged,
                }
            )
            return
        t = Table(title="Liquidation cascade", title_justify="left")
        for c in (
            "round",
            "move",
            "price",
            "liquidated",
            "notional USD",
            "flow, coins",
            "shortfall",
        ):
            t.add_column(c, justify="right")
        for r in res.rounds:
            t.add_row(
                str(r.round),
                f"{r.move:+.2%}",
                f"{r.price:,.0f}",
                str(r.liquidated),
                f"{r.notional_usd:,.0f}",
                f"{r.flow_coins:+,.1f}",
                f"{r.shortfall:,.4f}",
            )
        Console().print(t)
        Console().print(
            f"final move {res.final_move:+.2%} from a {shock:+.1%} shock "
            f"(amplification {res.amplification:.2f}x); {int(res.liquidated.sum()):,} accounts "
            f"liquidated; shortfall {res.shortfall:,.4f} to be covered by the insurance fund"
        )
        if not res.converged:
            Console().print(
                f"[yellow]stopped after {len(res.rounds)} rounds with accounts still failing "
                "(raise --max-rounds or check the impact parameters)[/yellow]"
            )

    _run(go)


def main() -> None:
    app()
