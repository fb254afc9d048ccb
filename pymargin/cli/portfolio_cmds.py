# SPDX-License-Identifier: Apache-2.0
"""Commands on one portfolio: demo, version, margin, greeks, compare, whatif and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .common import (
    DEFAULT_MODEL,
    UNLISTED,
    CollateralOpt,
    GridFileOpt,
    JsonOpt,
    MarketOpt,
    ModelOpt,
    ParamsVersionOpt,
    PositionsArg,
    SpanFileOpt,
    TimeOpt,
    app,
    check_writable,
    chosen_model,
    console_out,
    err,
    model_params,
    print_json,
    read_inputs,
    run,
)


@app.command()
def demo(as_json: JsonOpt = False) -> None:
    """The main job on the bundled real Deribit chains: seven portfolios margined under each
    model, with the breakdown, the worst scenarios and the Greeks."""
    from .demo import run_demo

    if as_json:
        print_json(run_demo(console=False))
    else:
        run_demo()


@app.command()
def version() -> None:
    """The version and the active SIMD level."""
    from .. import __version__, simd_level

    print(f"pymargin {__version__} (kernels: {simd_level()})")


@app.command()
def margin(
    positions: PositionsArg,
    market: MarketOpt,
    model: ModelOpt = DEFAULT_MODEL,
    currency: Annotated[str | None, typer.Option(help="settlement currency (S:PM, S:SM)")] = None,
    collateral: CollateralOpt = None,
    params: Annotated[
        str | None, typer.Option(help="Deribit PM parameters: model file or pme/simulate JSON")
    ] = None,
    params_version: ParamsVersionOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    grid_file: GridFileOpt = None,
    span_file: SpanFileOpt = None,
    by_position: Annotated[
        bool,
        typer.Option(
            "--by-position", help="each position's contribution to IM and its marginal IM"
        ),
    ] = False,
    top: Annotated[int, typer.Option(min=1, help="scenarios listed, largest loss first")] = 5,
    delta_shock: Annotated[
        str,
        typer.Option(
            help="Deribit S:PM over the delta-shock threshold: refuse (default), or unverified "
            "(a public re-implementation's formula, noted as unverified)"
        ),
    ] = "refuse",
) -> None:
    """Initial and maintenance margin of the positions under one model, with the breakdown,
    the nearest scenarios and, with --by-position, what each position adds.
    A book settling in several currencies is margined per settlement currency under the
    segregated models, totals in USD."""

    def go() -> None:
        from ..analytics.attribution import margin_attribution, scenario_ranking
        from ..models.registry import MarginModel
        from ..models.registry import margin as compute
        from .inputs import read_collateral, read_params
        from .margin_view import attribution_json, print_attribution, print_ranking, ranking_json

        pf, mkt = read_inputs(positions, market, time)
        chosen = chosen_model(model, grid_file, span_file)
        from_files = model_params(chosen, grid_file, span_file)
        coll = read_collateral(collateral)  # checked even where the model does not use it
        from ..enums import DeltaShock
        from ..exceptions import InvalidInputError

        try:
            shock = DeltaShock(delta_shock)
        except ValueError:
            raise InvalidInputError("refuse or unverified", "--delta-shock") from None
        kw: dict[str, Any] = {
            "params": from_files if from_files is not None else read_params(params),
            "currency": currency,
            "collateral": coll if chosen is MarginModel.DERIBIT_XPM else None,
            "params_version": params_version,
            "delta_shock": shock,
        }
        res = compute(pf, mkt, chosen, **kw)
        ranking = scenario_ranking(res, top) if len(res.scenario_pnl) else None
        attribution = margin_attribution(pf, mkt, chosen, **kw) if by_position else None
        out = {
            **res.summary(),
            "unlisted_from_smile": list(UNLISTED),
            **ranking_json(ranking),
            **attribution_json(attribution),
        }
        if as_json:
            out["scenarios"] = dict(zip(res.scenario_labels, res.scenario_pnl.tolist()))
            print_json(out)
            return
        con = console_out()
        unit = res.currency.upper()
        t = Table(title=f"{chosen.value} margin ({unit})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row("initial margin", f"{res.initial_margin:,.6g} {unit}")
        t.add_row("maintenance margin", f"{res.maintenance_margin:,.6g} {unit}")
        for k, v in res.components.items():
            t.add_row(f"  {k}", f"{v:,.6g} {unit}")
        t.add_row("worst scenario", res.worst_scenario)
        if res.parameters:
            t.add_row("parameters", res.parameters)
        con.print(t)
        for note in res.notes:
            con.print(f"note: {note}", highlight=False, markup=False)
        con.print(res.explain(), highlight=False)
        if ranking is not None:
            print_ranking(con, ranking, unit)
        if attribution is not None:
            print_attribution(con, attribution)

    run(go)


@app.command()
def greeks(
    positions: PositionsArg,
    market: MarketOpt,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio Greeks by underlying and expiry (USD; delta in coins)."""

    def go() -> None:
        from ..risk.greeks import portfolio_greeks

        pf, mkt = read_inputs(positions, market, time)
        g = portfolio_greeks(pf, mkt)
        if as_json:
            print_json(
                {
                    "by_underlying": g.by_underlying,
                    "by_expiry": {f"{u} {e}": v for (u, e), v in g.by_expiry.items()},
                }
            )
            return
        t = Table(
            title="Greeks (USD; delta in coins; vanna: delta USD per vol point, volga: vega per "
            "vol point)",
            title_justify="left",
        )
        cols = ("underlying", "expiry", "delta", "delta USD", "gamma 1%", "vega/pt", "theta/d")
        for col in (*cols, "vanna/pt", "volga/pt"):
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
                f"{v['vanna']:+,.0f}",
                f"{v['volga']:+,.1f}",
            )

        for (u, e), v in g.by_expiry.items():
            row(u, e, v)
        for u, v in g.by_underlying.items():
            row(f"[bold]{u}[/bold]", "total", v)
        console_out().print(t)

    run(go)


@app.command()
def compare(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    params_version: Annotated[
        str | None,
        typer.Option(help="a shipped Deribit PM parameter version for both PM modes"),
    ] = None,
    isolated_margin: Annotated[
        str | None,
        typer.Option(
            help="INSTRUMENT=amount,...: collateral allotted to isolated futures and "
            "perpetuals, in their settlement currency (default: each one's IM)"
        ),
    ] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The same positions under every margin mode: Deribit's standard vs portfolio margin,
    segregated vs cross collateral, and isolated margin (each future and perpetual on its own
    collateral), with equity, available funds, the IM each mode saves against the costliest
    and the spot move to the nearest liquidation. Parameters: the versions in force at the
    market's valuation time, unless --params-version."""

    def go() -> None:
        from ..accounts.account import Account, MarginMode, compare_margin_modes
        from ..accounts.isolated import nearest_move
        from ..accounts.liquidation import nearest_liquidation
        from ..models.deribit_pm import DeribitPMParams
        from .inputs import parse_pairs, read_collateral

        pf, mkt = read_inputs(positions, market, time)
        pm_params = DeribitPMParams.load(params_version) if params_version else None
        allotted = (
            dict(parse_pairs(isolated_margin, "isolated_margin", fold_case=False))
            if isolated_margin
            else {}
        )
        account = Account(pf, read_collateral(collateral), isolated_margin=allotted)
        modes = compare_margin_modes(account, mkt, pm_params=pm_params)
        rows: dict[str, Any] = {}
        for mode, s in modes.items():
            if isinstance(s, str):
                rows[mode.value] = s
                continue
            # ISO's liquidation is its first position's, already in the summary
            move = (
                nearest_move(s.details)
                if mode is MarginMode.ISOLATED
                else nearest_liquidation(account, mkt, mode)
            )
            rows[mode.value] = {**s.as_row(), "liquidation_move": move}
            if mode is MarginMode.ISOLATED:
                rows[mode.value]["isolated"] = [
                    {
                        "instrument": p.instrument,
                        "currency": p.currency,
                        "collateral": p.collateral,
                        "initial_margin": p.initial_margin,
                        "maintenance_margin": p.maintenance_margin,
                        "liquidation_price": p.liquidation_price,
                    }
                    for p in s.details
                ]
        venues = other_venues(pf, mkt)
        covered = {m: r for m, r in rows.items() if not isinstance(r, str)}
        covered.update({m: r for m, r in venues.items() if not isinstance(r, str)})
        costliest = max(covered, key=lambda m: covered[m]["initial_margin_usd"], default="")
        for r in covered.values():
            r["saves_usd"] = covered[costliest]["initial_margin_usd"] - r["initial_margin_usd"]
        if as_json:
            print_json({**rows, "other_venues": venues})
            return
        t = Table(title="Margin modes (USD)", title_justify="left")
        cols = ("mode", "equity", "IM", "MM", "available", "MM ratio", "saves", "liquidation")
        for col in cols:
            t.add_column(col, justify="left" if col == "mode" else "right")
        for m, r in rows.items():
            if isinstance(r, str):
                t.add_row(m, f"not covered: {r}", *[""] * (len(cols) - 2))
                continue
            liq = r["liquidation_move"]
            t.add_row(
                m,
                f"{r['equity_usd']:,.0f}",
                f"{r['initial_margin_usd']:,.0f}",
                f"{r['maintenance_margin_usd']:,.0f}",
                f"{r['available_funds_usd']:,.0f}",
                f"{r['mm_ratio']:.1%}",
                f"{r['saves_usd']:,.0f}",
                "none in -90%..+200%" if liq is None else f"spot {liq:+.2%}",
            )
        con = console_out()
        con.print(t)
        tv = Table(
            title="The same positions under other venues' models (USD)", title_justify="left"
        )
        for col in ("model", "IM", "MM", "saves"):
            tv.add_column(col, justify="left" if col == "model" else "right")
        for name, r in venues.items():
            if isinstance(r, str):
                tv.add_row(name, f"not covered: {r}", "", "")
            else:
                tv.add_row(
                    name,
                    f"{r['initial_margin_usd']:,.0f}",
                    f"{r['maintenance_margin_usd']:,.0f}",
                    f"{r['saves_usd']:,.0f}",
                )
        con.print(tv)
        con.print(
            f"saves: IM below the costliest covered mode or model ({costliest}); liquidation: "
            "the spot move (vols unchanged) nearest today at which the account, or under ISO its "
            "first position, reaches its maintenance margin."
        )
        iso = rows.get(MarginMode.ISOLATED.value)
        if isinstance(iso, dict) and iso["isolated"]:
            ti = Table(title="Isolated positions", title_justify="left")
            for col in ("instrument", "collateral", "IM", "MM", "liquidation price"):
                ti.add_column(col, justify="left" if col == "instrument" else "right")
            for p in iso["isolated"]:
                ccy = p["currency"].upper()
                lp = p["liquidation_price"]
                ti.add_row(
                    p["instrument"],
                    f"{p['collateral']:,.6g} {ccy}",
                    f"{p['initial_margin']:,.6g} {ccy}",
                    f"{p['maintenance_margin']:,.6g} {ccy}",
                    "none in -90%..+200%" if lp is None else f"{lp:,.2f}",
                )
            con.print(ti)

    run(go)


def other_venues(pf: Any, mkt: Any) -> dict[str, Any]:
    """The book under the other venues' models pymargin carries (Paradex PM, Derive PM,
    Aevo's grid, the FINRA grid), IM and MM in USD at the index; a model that does not cover
    the book maps to the reason."""
    from importlib import resources

    from ..exceptions import PymarginError
    from ..models.registry import MarginModel
    from ..models.registry import margin as compute

    aevo = str(resources.files("pymargin") / "data" / "grids" / "aevo_pm_2022-07-29.json")
    models: list[tuple[str, Any, Any]] = [
        ("Paradex PM", MarginModel.PARADEX_PM, None),
        ("Derive PM", MarginModel.DERIVE_PM, None),
        ("Aevo PM (grid)", MarginModel.SCENARIO_GRID, aevo),
        ("FINRA PM", MarginModel.FINRA_PM, None),
    ]
    out: dict[str, Any] = {}
    for name, model, params in models:
        try:
            r = compute(pf, mkt, model, params=params)
        except PymarginError as e:
            out[name] = str(e)
            continue
        out[name] = {
            "initial_margin_usd": r.initial_margin,
            "maintenance_margin_usd": r.maintenance_margin,
            "parameters": r.parameters,
        }
    return out


@app.command()
def whatif(
    positions: PositionsArg,
    market: MarketOpt,
    order: Annotated[
        list[str],
        typer.Option(
            help="INSTRUMENT:buy|sell:AMOUNT with its unit for inverse futures and perpetuals "
            "(1BTC: coins, 90000USD: USD notional); other instruments in coins (5 or 5BTC); "
            "repeat for several candidates"
        ),
    ],
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    model: ModelOpt = DEFAULT_MODEL,
    grid_file: GridFileOpt = None,
    span_file: SpanFileOpt = None,
    params_version: ParamsVersionOpt = None,
) -> None:
    """Pre-trade checks: could the account carry each candidate order (each on its own)?
    The pre-trade engine under any model: Deribit S:PM, X:PM or standard margin, Paradex PM,
    the FINRA grid, the Greek-netting model, SPAN (--span-file), Derive PM or any grid venue
    from its parameter file (the grid models, SPAN, the Greek-netting model and Derive take
    USD-settled instruments)."""

    def go() -> None:
        from ..accounts.engine import PreTradeEngine, Reason, Side, book_at_marks
        from .inputs import parse_order, read_collateral

        chosen = chosen_model(model, grid_file, span_file)
        params: Any = model_params(chosen, grid_file, span_file, params_version)
        pf, mkt = read_inputs(positions, market, time)
        cands = []
        for row, spec in enumerate(order):
            name, buy, amount = parse_order(spec, row, mkt)
            cands.append((name, Side.BUY if buy else Side.SELL, amount))
        names = list(dict.fromkeys([*pf.positions, *(c[0] for c in cands)]))
        eng = PreTradeEngine(mkt, names, params, model=chosen)
        acct = eng.add_account({k.lower(): v for k, v in read_collateral(collateral).items()})
        book_at_marks(eng, acct, dict(pf.positions), mkt)
        results = [eng.check(acct, n, s, a) for n, s, a in cands]
        if as_json:
            print_json([{"order": o, **r._asdict()} for o, r in zip(order, results)])
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
                f"{r.im_before:,.6g} {r.currency.upper()}",
                f"{r.im_after:,.6g} {r.currency.upper()}",
                f"{r.available_after:,.6g} {r.currency.upper()}",
            )
        console_out().print(t)

    run(go)


@app.command()
def report(
    positions: PositionsArg,
    market: MarketOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")],
    collateral: CollateralOpt = None,
    params_version: Annotated[
        str | None, typer.Option(help="a shipped Deribit PM parameter version")
    ] = None,
    time: TimeOpt = None,
) -> None:
    """A self-contained HTML report: summary, breakdown, risk matrix, Greeks, model comparison
    (plots embedded)."""

    def go() -> None:
        from rich.progress import Progress

        from ..reporting.report import write_report
        from .inputs import read_collateral

        check_writable(output, "--output")
        pf, mkt = read_inputs(positions, market, time)
        with Progress(transient=True, console=err) as progress:
            task = progress.add_task("report", total=None)

            def step(what: str) -> None:
                progress.update(task, description=what)

            write_report(
                pf,
                mkt,
                output,
                collateral=read_collateral(collateral),
                progress=step,
                params_version=params_version,
            )
        console_out().print(f"wrote {output}")

    run(go)


@app.command()
def ledger(
    trades: Annotated[
        Path, typer.Argument(help="trade log JSON: Deribit get_user_trades_by_currency shape")
    ],
    market: MarketOpt,
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Positions from a trade log: each instrument's position, average entry (harmonic for
    inverse futures), realised and unrealised P&L, funding; then the account it makes under
    S:PM (collateral plus the log's cash flows)."""

    def go() -> None:
        from ..accounts.account import account_summary
        from ..accounts.fills import ledger_from_trades, mark_of
        from ..exceptions import FileInputError, PymarginError
        from ..files import load_json, open_file
        from .common import parse_time
        from .inputs import read_collateral, read_market

        path = open_file(trades)
        try:
            led = ledger_from_trades(load_json(path))
        except PymarginError as e:
            raise FileInputError(str(path), e) from None
        mkt = read_market(market, parse_time(time))
        rows: list[dict[str, Any]] = []
        for name, p in led.positions.items():
            unreal = 0.0 if p.amount == 0.0 else p.unrealised_pnl(mark_of(mkt, name))
            rows.append(
                {
                    "instrument": name,
                    "currency": p.currency,
                    "amount": p.amount,
                    "amount_unit": "USD" if p.inverse_future else "coins",
                    "average_price": None if p.amount == 0.0 else p.average_price,
                    "realised_pnl": p.realised_pnl,
                    "unrealised_pnl": unreal,
                    "funding": p.funding,
                }
            )
        summary = account_summary(led.account(mkt, read_collateral(collateral)), mkt)
        out = {"positions": rows, "fees": led.fees, "cash": led.cash(), "account": summary.as_row()}
        if as_json:
            print_json(out)
            return
        t = Table(title="Positions from the trade log", title_justify="left")
        for col in ("instrument", "amount", "average entry", "realised", "unrealised", "funding"):
            t.add_column(col, justify="left" if col == "instrument" else "right")
        for r in rows:
            unit = r["currency"].upper()
            t.add_row(
                r["instrument"],
                f"{r['amount']:+,.6g} {r['amount_unit']}",
                "-" if r["average_price"] is None else f"{r['average_price']:,.6g}",
                f"{r['realised_pnl']:+,.6g} {unit}",
                f"{r['unrealised_pnl']:+,.6g} {unit}",
                f"{r['funding']:+,.6g} {unit}",
            )
        con = console_out()
        con.print(t)
        a = summary.as_row()
        con.print(
            f"account (S:PM): equity {a['equity_usd']:,.2f} USD, IM {a['initial_margin_usd']:,.2f} "
            f"USD, MM {a['maintenance_margin_usd']:,.2f} USD; fees "
            + ", ".join(f"{v:.6g} {c.upper()}" for c, v in led.fees.items()),
            highlight=False,
        )

    run(go)
