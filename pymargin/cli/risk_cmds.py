# SPDX-License-Identifier: Apache-2.0
"""Risk commands: var, stress and liquidation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import (
    DEFAULT_DIST,
    CollateralOpt,
    Dist,
    JsonOpt,
    MarketOpt,
    PositionsArg,
    TimeOpt,
    VarMethod,
    app,
    check_writable,
    console_out,
    library_member,
    print_json,
    read_inputs,
    run,
)


@app.command("var")
def var_cmd(
    positions: PositionsArg,
    market: MarketOpt,
    method: Annotated[VarMethod, typer.Option(help="VaR method")] = VarMethod.historical,
    confidence: Annotated[float, typer.Option(help="confidence level")] = 0.99,
    horizon_days: Annotated[int, typer.Option(help="horizon_days in days")] = 1,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 100_000,
    dist: Annotated[Dist, typer.Option(help="Monte Carlo shocks")] = DEFAULT_DIST,
    plot: Annotated[Path | None, typer.Option(help="write the P&L distribution (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Value at Risk and Expected Shortfall (USD) by full revaluation, with the scenario."""

    def go() -> None:
        from ..analytics import var

        check_writable(plot, "--plot")
        pf, mkt = read_inputs(positions, market, time)
        if method is VarMethod.historical:
            r = var.historical_var(pf, mkt, confidence=confidence, horizon_days=horizon_days)
        elif method in (VarMethod.filtered_ewma, VarMethod.filtered_garch):
            filt = var.VolFilter.EWMA if method is VarMethod.filtered_ewma else var.VolFilter.GARCH
            r = var.historical_var(
                pf, mkt, confidence=confidence, horizon_days=horizon_days, filtered=filt
            )
        elif method is VarMethod.monte_carlo:
            r = var.monte_carlo_var(
                pf,
                mkt,
                paths=paths,
                confidence=confidence,
                horizon_days=horizon_days,
                dist=library_member(dist, var.ShockDistribution),
            )
        else:
            r = var.parametric_var(
                pf,
                mkt,
                confidence=confidence,
                horizon_days=horizon_days,
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
            print_json(out)
            return
        t = Table(title=f"VaR / ES ({r.method.value})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row(f"VaR {confidence:.1%}, {horizon_days} day(s)", f"{r.var:,.0f} USD")
        t.add_row("Expected Shortfall", f"{r.es:,.0f} USD")
        if r.scenario:
            t.add_row("scenario at the VaR", r.scenario)
            t.add_row("worst scenario", r.worst)
        console_out().print(t)

    run(go)


@app.command()
def stress(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    top: Annotated[int, typer.Option(help="show the worst N scenarios")] = 15,
    scenarios: Annotated[
        Path | None,
        typer.Option(
            help="your scenarios (CSV: name,underlying,move[,vol_scale,source]; or JSON), "
            "instead of the built-in library"
        ),
    ] = None,
    with_library: Annotated[
        bool, typer.Option("--with-library", help="with --scenarios: the built-in ones too")
    ] = False,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Named historical stresses (2020-03-12, 2021-05-19, LUNA, FTX ...), synthetic spot x vol
    grids, vol-of-vol and correlation breaks; and, with collateral, the reverse stress (the
    smallest moves that wipe out the account's equity)."""

    def go() -> None:
        from ..accounts.account import Account, account_summary
        from ..analytics import stress as st
        from ..exceptions import InvalidInputError
        from ..market.portfolio import Portfolio
        from .inputs import read_collateral

        if top < 0:
            raise InvalidInputError(f"must be >= 0, got {top}", "--top")
        pf, mkt = read_inputs(positions, market, time)
        chosen = None
        if scenarios is not None:
            chosen = st.read_scenarios(scenarios)
            if with_library:
                from ..risk.pnl import portfolio_underlyings

                chosen += st.historical_scenarios() + st.synthetic_scenarios(
                    portfolio_underlyings(pf, mkt)
                )
        results = st.stress_test(pf, mkt, chosen)
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
            for way in st.Direction:
                reverse[way.value] = st.reverse_stress(
                    book, mkt, equity, direction=way, vol_beta=1.0
                )
        if as_json:
            print_json(
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
            moves = ", ".join(
                f"{u.split('_')[0]} {m:+.1%}"
                + (f" vol x{sc.vol_scale[u]:g}" if sc.vol_scale.get(u, 1.0) != 1.0 else "")
                for u, m in sc.moves.items()
            )
            t.add_row(sc.name, f"{pnl:,.0f}", moves, sc.source[:60])
        console_out().print(t)
        for d, r in reverse.items():
            if r["move"] is None:
                console_out().print(
                    f"reverse stress ({d}): no move within range exhausts the equity"
                )
            else:
                console_out().print(
                    f"reverse stress ({d}): equity {r['equity_usd']:,.0f} USD is gone at a spot "
                    f"move of {r['move']:+.1%} (implied vols x{r['vol_scale']:.2f})"
                )

    run(go)


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
        from ..accounts import liquidation as liq
        from ..accounts.account import Account
        from .inputs import read_collateral

        check_writable(plot, "--plot")
        pf, mkt = read_inputs(positions, market, time)
        acct = Account(pf, read_collateral(collateral))
        status = liq.margin_status(acct, mkt)
        roots = liq.distance_to_liquidation(acct, mkt)
        if plot is not None:
            import matplotlib.pyplot as plt

            from ..reporting.plots import plot_liquidation_surface

            surface = liq.liquidation_surface(acct, mkt)
            plot_liquidation_surface(surface).figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        if as_json:
            print_json(
                {
                    "status": status.status.value,
                    "mm_ratio": status.mm_ratio,
                    "liquidation_moves": {str(k): v for k, v in roots.items()},
                }
            )
            return
        con = console_out()
        con.print(
            f"status: [bold]{status.status.value}[/bold]; margin balance "
            f"{status.margin_balance_usd:,.0f} USD, IM {status.initial_margin_usd:,.0f}, "
            f"MM {status.maintenance_margin_usd:,.0f} (MM ratio {status.mm_ratio:.1%})"
        )
        for v, moves in roots.items():
            where = ", ".join(f"{m:+.1%}" for m in moves) or "none between -90 % and +200 %"
            con.print(f"  vols x{v:g}: liquidation at spot moves {where}")

    run(go)
