# SPDX-License-Identifier: Apache-2.0
"""Venue-wide commands: venue (batch margin of every account), cascade (the liquidation cascade)
and venues (cross-venue margin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .common import (
    DEFAULT_IMPACT,
    DEFAULT_MODEL,
    GridFileOpt,
    Impact,
    JsonOpt,
    MarketOpt,
    ModelOpt,
    ParamsVersionOpt,
    SpanFileOpt,
    TimeOpt,
    VenueCollateral,
    VenuePositions,
    app,
    check_writable,
    chosen_model,
    console_out,
    err,
    library_member,
    model_params,
    parse_names,
    parse_time,
    print_json,
    run,
)


@app.command()
def venue(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV or Parquet")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    model: ModelOpt = DEFAULT_MODEL,
    grid_file: GridFileOpt = None,
    span_file: SpanFileOpt = None,
    params_version: ParamsVersionOpt = None,
) -> None:
    """Every account of a venue margined at once (C++ batch kernels; Deribit S:PM by default,
    or Deribit X:PM, standard margin, the Greek-netting model, Paradex PM, the FINRA grid,
    SPAN, or any grid venue from its parameter file): counts by status, and the per-account
    table written to --output. X:PM reads each balance's currency from the collateral's
    ``currency`` column and reports USD."""

    def go() -> None:
        import numpy as np
        from rich.progress import Progress

        from ..accounts.batch import STATUS, batch_margin
        from ..models.registry import MarginModel
        from .inputs import read_market

        check_writable(output, "--output")
        chosen = chosen_model(model, grid_file, span_file)
        params: Any = model_params(chosen, grid_file, span_file, params_version)
        if chosen is MarginModel.FINRA_PM:
            params = {}
        mkt = read_market(market, parse_time(time))
        with Progress(transient=True, console=err) as progress:
            progress.add_task("margining every account", total=None)
            res = batch_margin(str(positions), str(collateral), mkt, params, model=chosen)
            if output is not None:
                if str(output).lower().endswith(".parquet"):
                    res.to_parquet(str(output))
                else:
                    res.to_csv(str(output))
        counts = {STATUS[k]: int((res.status == k).sum()) for k in range(len(STATUS))}
        covered = res.status != STATUS.index("not covered")
        summary: dict[str, Any] = {
            "accounts": len(res.accounts),
            "currency": res.currency,
            "status": counts,
            # accounts not covered by the published model have no margin: the totals are
            # over the covered ones, and say so
            "initial_margin_total": float(res.initial_margin[covered].sum()),
            "maintenance_margin_total": float(res.maintenance_margin[covered].sum()),
            "totals_over": "all accounts" if covered.all() else "covered accounts only",
            "notes": res.notes,
        }
        if not np.isfinite(summary["initial_margin_total"] + summary["maintenance_margin_total"]):
            from ..exceptions import InvalidInputError

            raise InvalidInputError("the margin totals are not finite", "positions")
        if as_json:
            print_json(summary)
            return
        note = "" if covered.all() else " (covered accounts)"
        console_out().print(
            f"{summary['accounts']:,} accounts ({res.currency.upper()}): "
            + ", ".join(f"{v:,} {k}" for k, v in counts.items())
            + f"; IM total{note} {summary['initial_margin_total']:,.4f}, MM total "
            f"{summary['maintenance_margin_total']:,.4f} {res.currency.upper()}"
        )
        for n in res.notes:
            console_out().print(f"note: {n}", highlight=False, markup=False)

    run(go)


@app.command()
def cascade(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    shock: Annotated[float, typer.Option(help="initial price move, e.g. -0.1")],
    impact: Annotated[
        Impact, typer.Option(help="price impact of the liquidation flow: square-root or linear")
    ] = DEFAULT_IMPACT,
    adv: Annotated[float, typer.Option(help="average daily volume, coins")] = 25_000.0,
    daily_vol: Annotated[float, typer.Option(help="daily volatility for the impact")] = 0.03,
    impact_y: Annotated[
        float, typer.Option(help="square-root impact prefactor Y (0: no impact)")
    ] = 1.0,
    depth: Annotated[
        float, typer.Option(help="linear impact: coins that move the price 100 %")
    ] = 50_000.0,
    vol_scale: Annotated[float, typer.Option(help="implied vols times this")] = 1.0,
    dealers: Annotated[
        str | None,
        typer.Option(help="accounts that re-hedge instead of being liquidated: ID,ID,..."),
    ] = None,
    max_rounds: Annotated[int, typer.Option(help="most rounds to simulate")] = 50,
    plot: Annotated[Path | None, typer.Option(help="write the cascade plot (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The liquidation cascade after a price shock (square-root impact): rounds, liquidations,
    shortfall and amplification."""

    def go() -> None:
        import numpy as np

        from ..accounts.batch import venue_input
        from ..accounts.cascade import ImpactKind, ImpactModel, liquidation_cascade
        from ..exceptions import InvalidInputError
        from .inputs import read_market

        check_writable(plot, "--plot")
        mkt = read_market(market, parse_time(time))
        v = venue_input(str(positions), str(collateral))
        if v.balances is not None:  # the cascade counts collateral in the settlement coin
            _, settles = mkt.table.take(v.instruments, "settlement_currency")
            coins = set(mkt.table.code_names(settles))
            if set(v.balances) != coins:
                raise InvalidInputError(
                    f"collateral in {sorted(v.balances)}: the cascade takes it in the "
                    f"instruments' settlement currency {sorted(coins)}",
                    "currency",
                )
        flags = None
        if dealers:
            ids = {str(a): k for k, a in enumerate(v.accounts)}
            flags = np.zeros(len(v.accounts), dtype=bool)
            for row, name in enumerate(parse_names(dealers, "dealers")):
                if name not in ids:
                    raise InvalidInputError(f"no account {name!r} in {positions}", "dealers", row)
                flags[ids[name]] = True
        res = liquidation_cascade(
            mkt,
            v.instruments,
            v.offsets,
            v.instrument,
            v.amount,
            v.collateral,
            shock,
            impact=ImpactModel(library_member(impact, ImpactKind), impact_y, daily_vol, adv, depth),
            vol_scale=vol_scale,
            dealers=flags,
            max_rounds=max_rounds,
        )
        if plot is not None:
            import matplotlib.pyplot as plt

            res.plot().savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        rows = [r.__dict__ for r in res.rounds]
        if as_json:
            print_json(
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
        console_out().print(t)
        amp = "n/a" if shock == 0 else f"{res.amplification:.2f}x"
        console_out().print(
            f"final move {res.final_move:+.2%} from a {shock:+.1%} shock "
            f"(amplification {amp}); {int(res.liquidated.sum()):,} accounts "
            f"liquidated; shortfall {res.shortfall:,.4f} to be covered by the insurance fund"
        )
        if not res.converged:
            still = "accounts still failing" if res.rounds[-1].liquidated else "price still moving"
            console_out().print(
                f"[yellow]stopped after {len(res.rounds)} rounds, {still} "
                "(raise --max-rounds or check the impact parameters)[/yellow]"
            )

    run(go)


@app.command()
def venues(
    accounts: Annotated[Path, typer.Argument(help="JSON: accounts (and placements) per venue")],
    market: MarketOpt,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cross-venue margin: each venue under its own model, the unified portfolio's margin, and
    (when the file has placements) where to put them to minimise the total."""

    def go() -> None:
        from ..strategy.crossvenue import allocate, cross_venue_view
        from .inputs import read_market, read_venues

        mkt = read_market(market, parse_time(time))
        accts, places = read_venues(accounts)
        view = cross_venue_view(accts, mkt)
        alloc = allocate(accts, mkt, places) if places else None
        if as_json:
            out: dict[str, Any] = {
                "venues": [v.__dict__ for v in view.venues],
                "total_initial_margin_usd": view.total_initial_margin_usd,
                "unified_model": view.unified_model.value,
                "unified_initial_margin_usd": view.unified_initial_margin_usd,
                "net_delta": view.net_delta,
            }
            if alloc is not None:
                out["allocation"] = alloc.allocation
                out["allocated_initial_margin_usd"] = alloc.verified_total_initial_margin_usd
                out["single_venue_usd"] = alloc.single_venue_usd
            print_json(out)
            return
        tab = Table(title="Margin by venue (USD)", title_justify="left")
        for c in ("venue", "model", "IM", "MM", "collateral", "excess"):
            tab.add_column(c, justify="left" if c in ("venue", "model") else "right")
        for v in view.venues:
            tab.add_row(
                v.venue,
                v.model.value,
                f"{v.initial_margin_usd:,.0f}",
                f"{v.maintenance_margin_usd:,.0f}",
                f"{v.collateral_usd:,.0f}",
                f"{v.excess_usd:,.0f}",
            )
        console_out().print(tab)
        console_out().print(
            f"sum of venues {view.total_initial_margin_usd:,.0f} USD; one "
            f"{view.unified_model.value} account {view.unified_initial_margin_usd:,.0f} USD"
        )
        if alloc is not None:
            pt = Table(title="Placement across venues (coins)", title_justify="left")
            pt.add_column("placement")
            pt.add_column("venues")
            for name, where in alloc.allocation.items():
                pt.add_row(name, ", ".join(f"{v} {q:+,.3f}" for v, q in where.items()))
            console_out().print(pt)
            singles = ", ".join(f"all on {k} {v:,.0f}" for k, v in alloc.single_venue_usd.items())
            console_out().print(
                f"total IM {alloc.total_before_usd:,.0f} before, "
                f"{alloc.verified_total_initial_margin_usd:,.0f} USD after ({singles})"
            )

    run(go)
