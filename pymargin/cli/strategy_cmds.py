# SPDX-License-Identifier: Apache-2.0
"""Strategy commands: hedge, optimize, protect, hedge-cost and regt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..exceptions import InvalidInputError
from .common import (
    DEFAULT_ESTIMATOR,
    DEFAULT_MODEL,
    Estimator,
    JsonOpt,
    MarketOpt,
    Model,
    PositionsArg,
    TimeOpt,
    app,
    check_writable,
    console_out,
    library_member,
    parse_floats,
    parse_names,
    print_json,
    read_inputs,
    run,
    underlying_of,
)


@app.command()
def hedge(
    positions: PositionsArg,
    market: MarketOpt,
    target: Annotated[float, typer.Option(help="target delta, coins")] = 0.0,
    horizon_days: Annotated[float, typer.Option(help="carry horizon, days")] = 7.0,
    funding_rate: Annotated[float, typer.Option(help="perpetual funding, a year")] = 0.0,
    band: Annotated[float | None, typer.Option(help="delta band (coins) for drift")] = None,
    min_variance: Annotated[
        str | None,
        typer.Option(help="hedge instruments for the minimum-variance hedge (comma-separated)"),
    ] = None,
    estimator: Annotated[Estimator, typer.Option(help="covariance estimator")] = DEFAULT_ESTIMATOR,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delta-hedge suggestions (perpetual or futures), cheapest first: fees, spread, carry;
    optionally the minimum-variance hedge on the bundled daily history."""

    def go() -> None:
        from ..enums import Greek
        from ..strategy.hedging import delta_hedge, drift

        pf, mkt = read_inputs(positions, market, time)
        sug = delta_hedge(
            pf, mkt, target=target, horizon_days=horizon_days, funding_rate=funding_rate
        )
        drifts = drift(pf, mkt, {Greek.DELTA: (target, band)}) if band is not None else []
        mv = None
        if min_variance:
            from ..strategy.hedging import CovarianceEstimator, min_variance_hedge

            names = parse_names(min_variance, "min_variance")
            mv = min_variance_hedge(
                pf, mkt, names, estimator=library_member(estimator, CovarianceEstimator)
            )
        if as_json:
            out: dict[str, Any] = {
                "suggestions": [dict(s.__dict__, cost=s.cost) for s in sug],
                "drift": [dict(d.__dict__, excess=d.excess) for d in drifts],
            }
            if mv is not None:
                out["min_variance"] = {
                    "sizes": mv.sizes,
                    "std_before": mv.std_before,
                    "std_after": mv.std_after,
                    "estimator": mv.estimator.value,
                    "observations": mv.observations,
                }
            print_json(out)
            return
        tab = Table(
            title=f"Delta hedges to {target:+g} coins (USD costs, {horizon_days:g} days)",
            title_justify="left",
        )
        for c in ("instrument", "size", "delta before", "fees", "spread", "carry", "roll", "cost"):
            tab.add_column(c, justify="left" if c == "instrument" else "right")
        for s in sug:
            tab.add_row(
                s.instrument,
                f"{s.size:+,.3f}",
                f"{s.delta_before:+,.3f}",
                f"{s.fees:,.2f}",
                f"{s.spread:,.2f}",
                f"{s.carry:+,.2f}",
                f"{s.roll:,.2f}",
                f"{s.cost:,.2f}",
            )
        console_out().print(tab)
        for d in drifts:
            state = "[red]outside[/red]" if d.breached else "inside"
            console_out().print(
                f"{d.underlying} delta {d.value:+.3f} is {state} its band {d.target:+g} "
                f"+- {d.band:g}"
            )
        if mv is not None:
            sizes = ", ".join(f"{k} {v:+,.3f}" for k, v in mv.sizes.items())
            console_out().print(
                f"minimum-variance hedge ({mv.estimator.value} covariance of {mv.observations:,} "
                f"days of P&L): {sizes}; daily P&L std {mv.std_before:,.0f} -> "
                f"{mv.std_after:,.0f} USD ({mv.variance_reduction:.0%} of the variance removed)"
            )

    run(go)


@app.command()
def optimize(
    positions: PositionsArg,
    market: MarketOpt,
    candidates: Annotated[
        str | None,
        typer.Option(help="comma-separated instruments (default: the listed ones, per group)"),
    ] = None,
    model: Annotated[Model, typer.Option(help="deribit-pm, paradex-pm or finra-pm")] = (
        DEFAULT_MODEL
    ),
    max_size: Annotated[float, typer.Option(help="largest buy or sell per candidate")] = 50.0,
    min_days: Annotated[
        float, typer.Option(help="default candidates expire at least this many days out")
    ] = 7.0,
    delta_range: Annotated[str | None, typer.Option(help="net delta after, LO:HI coins")] = None,
    budget: Annotated[float | None, typer.Option(help="cash the trade may use")] = None,
    lot: Annotated[
        float | None,
        typer.Option(help="trade in multiples of this (default: each instrument's contract size)"),
    ] = None,
    fractional: Annotated[
        bool, typer.Option("--fractional", help="allow any size (no lots: a linear programme)")
    ] = False,
    with_cost: Annotated[
        bool,
        typer.Option(
            "--with-cost/--margin-only",
            help="minimise margin + trading cost (default), or margin alone at any cost",
        ),
    ] = True,
    plot: Annotated[Path | None, typer.Option(help="margin before/after chart (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The trade that minimises initial margin (plus its trading cost), by linear or integer
    programming, re-margined by the ordinary engine. A book settling in several currencies
    under a segregated model is optimised per margin group (the groups are independent)."""

    def go() -> None:
        from ..models.registry import MarginModel
        from ..strategy.optimize import Objective, minimize_margin
        from .optimize_view import group_candidates, print_result, result_json

        check_writable(plot, "--plot")
        pf, mkt = read_inputs(positions, market, time)
        chosen = library_member(model, MarginModel)
        if fractional and lot is not None:
            raise InvalidInputError("give --lot or --fractional, not both", "--lot")
        groups = group_candidates(
            pf,
            mkt,
            chosen,
            parse_names(candidates, "candidates") if candidates else None,
            min_days,
        )
        rng = _delta_range(delta_range)
        results = []
        for currency, book, names in groups:
            lots: Any = None
            if not fractional:  # whole contracts: the instrument's size unless --lot
                _, sizes = mkt.table.take(names, "contract_size")
                lots = float(lot) if lot is not None else dict(zip(names, map(float, sizes)))
            with Console(stderr=True).status(f"solving the margin programme ({currency})"):
                res = minimize_margin(
                    book,
                    mkt,
                    names,
                    chosen,
                    currency=currency,
                    objective=Objective.MARGIN_PLUS_COST if with_cost else Objective.MARGIN,
                    budget=budget,
                    delta_range=rng,
                    max_buy=max_size,
                    max_sell=max_size,
                    lot=lots,
                )
            results.append((res, len(names)))
        if plot is not None:
            import matplotlib.pyplot as plt

            results[0][0].plot().figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        if as_json:
            out = [result_json(chosen, r, n, fractional) for r, n in results]
            print_json(out[0] if len(out) == 1 else {"groups": out})
            return
        for r, n in results:
            print_result(console_out(), chosen, r, n, fractional)

    run(go)


def _delta_range(spec: str | None) -> tuple[float, float] | None:
    if not spec:
        return None
    lo_hi = spec.split(":")
    if len(lo_hi) != 2:
        raise InvalidInputError("expected LO:HI", "delta_range")
    bounds = []
    for row, part in enumerate(lo_hi):  # an infinite bound is one-sided: allowed
        try:
            bounds.append(float(part))
        except ValueError:
            raise InvalidInputError(f"not a number: {part!r}", "delta_range", row) from None
    return bounds[0], bounds[1]


@app.command()
def protect(
    positions: PositionsArg,
    market: MarketOpt,
    max_loss: Annotated[float, typer.Option(help="largest loss allowed, USD")],
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cheapest put / put-spread overlay that caps the loss in the historical crashes."""

    def go() -> None:
        from ..analytics.stress import historical_scenarios
        from ..strategy.optimize import protect as solve

        pf, mkt = read_inputs(positions, market, time)
        und = underlying_of(pf, mkt)
        crashes = [
            s for s in historical_scenarios((und.split("_")[0],)) if s.moves.get(und, 0.0) < 0
        ]
        res = solve(pf, mkt, crashes, max_loss)
        if as_json:
            print_json(res.__dict__)
            return
        tab = Table(title="Protective overlay", title_justify="left")
        tab.add_column("structure")
        tab.add_column("count", justify="right")
        for name, n in res.structures:
            tab.add_row(name, f"{n:,.3f}")
        console_out().print(tab)
        loss = Table(title="Loss by crash (USD)", title_justify="left")
        for c in ("scenario", "before", "after"):
            loss.add_column(c, justify="left" if c == "scenario" else "right")
        for k in res.loss_before:
            loss.add_row(k, f"{res.loss_before[k]:,.0f}", f"{res.loss_after[k]:,.0f}")
        console_out().print(loss)
        console_out().print(
            f"premium {res.premium:,.0f} USD at the ask, fees included ({res.execution_cost:,.0f}"
            " of it lost to spread and fees on entry)"
        )

    run(go)


@app.command("hedge-cost")
def hedge_cost(
    positions: PositionsArg,
    market: MarketOpt,
    realised_vol: Annotated[float, typer.Option(help="realised volatility, e.g. 0.5")],
    horizon_days: Annotated[float, typer.Option(help="horizon, days")] = 1.0,
    intervals: Annotated[str, typer.Option(help="time policies, hours")] = "0.5,1,2,4,8",
    bands: Annotated[str, typer.Option(help="band policies, coins of delta")] = "",
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 2000,
    plot: Annotated[Path | None, typer.Option(help="cost vs risk chart (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cost of keeping the book delta-hedged: rebalancing policies by cost and residual
    risk, analytic and simulated on Monte Carlo paths."""

    def go() -> None:
        from ..strategy.hedging import BandPolicy, TimePolicy, compare_policies

        check_writable(plot, "--plot")
        pf, mkt = read_inputs(positions, market, time)
        pols: list[Any] = [TimePolicy(h) for h in parse_floats(intervals, "intervals")]
        if bands:
            pols += [BandPolicy(b) for b in parse_floats(bands, "bands")]
        with Console(stderr=True).status("simulating rebalancing"):
            sims = compare_policies(
                pf,
                mkt,
                pols,
                realised_vol=realised_vol,
                horizon_days=horizon_days,
                paths=paths,
                underlying=underlying_of(pf, mkt),
            )
        if plot is not None:
            import matplotlib.pyplot as plt

            from ..reporting.plots import plot_cost_frequency

            plot_cost_frequency(sims).savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        rows: list[dict[str, Any]] = [
            {
                "policy": s.policy,
                "cost_mc": s.cost_mean,
                "cost_mc_se": s.cost_se,
                "cost_analytic": s.analytic.expected_cost,
                "hedge_error_mc": s.hedge_error_std,
                "hedge_error_analytic": s.analytic.hedge_error_std,
                "trades_mc": s.trades_mean,
                "trades_analytic": s.analytic.expected_trades,
                "pnl_mean": s.pnl_mean,
            }
            for s in sims
        ]
        if as_json:
            print_json(rows)
            return
        a = sims[0].analytic
        tab = Table(
            title=f"Re-hedging {a.underlying} over {horizon_days:g} days at {realised_vol:.0%} "
            f"realised vol (USD; cash gamma {a.cash_gamma:,.0f})",
            title_justify="left",
        )
        for c in ("policy", "cost MC", "cost analytic", "error MC", "error analytic", "trades"):
            tab.add_column(c, justify="left" if c == "policy" else "right")
        for r in rows:
            tab.add_row(
                str(r["policy"]),
                f"{r['cost_mc']:,.1f} +- {2 * r['cost_mc_se']:,.1f}",
                f"{r['cost_analytic']:,.1f}",
                f"{r['hedge_error_mc']:,.0f}",
                f"{r['hedge_error_analytic']:,.0f}",
                f"{r['trades_mc']:.1f}",
            )
        console_out().print(tab)
        console_out().print(
            f"expected gamma P&L {a.gamma_pnl:+,.0f}, theta {a.theta_pnl:+,.0f} USD over the "
            "horizon (before costs)"
        )

    run(go)


@app.command()
def regt(
    book: Annotated[
        Path,
        typer.Argument(
            help="CSV: underlying, type, strike, expiry, quantity, price[, multiplier, style]"
        ),
    ],
    price: Annotated[str, typer.Option(help="each underlying's price: IBIT=52.3,...")],
    as_of: Annotated[str, typer.Option(help="the day, YYYY-MM-DD (months to expiry)")],
    option_class: Annotated[
        str, typer.Option("--class", help="equity | narrow-index | broad-index | volatility-index")
    ] = "equity",
    leverage: Annotated[float, typer.Option(help="a leveraged ETF's factor")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Strategy-based (Reg T / Cboe) margin of an options book: the grouping into strategies
    with the least requirement (an integer programme), against a broker's greedy grouping and
    against every leg on its own, with the saving."""

    def go() -> None:
        from datetime import date

        from ..models.strategy_margin import OptionClass
        from ..strategy.regt_grouping import compare_groupings, read_book
        from .inputs import parse_pairs

        try:
            cls = OptionClass(option_class)
        except ValueError:
            raise InvalidInputError(f"one of {[c.value for c in OptionClass]}", "--class") from None
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise InvalidInputError("expected YYYY-MM-DD", "--as-of") from None
        prices = dict(parse_pairs(price, "price", fold_case=False))
        legs = read_book(str(book))
        cmp = compare_groupings(legs, prices, day, cls, leverage=leverage)

        def rows(g: Any) -> list[dict[str, Any]]:
            return [
                {
                    "strategy": kind.name.lower(),
                    "legs": [f"{'+' if q > 0 else '-'}{abs(q):g} {legs[k].name}" for k, q in usage],
                    "units": units,
                    "initial": im,
                    "maintenance": mm,
                }
                for kind, usage, units, im, mm in g.strategies
            ]

        out: dict[str, Any] = {
            "optimal": {
                "initial": cmp.optimal.initial,
                "maintenance": cmp.optimal.maintenance,
                "solved_to_optimality": cmp.optimal.optimal,
                "strategies": rows(cmp.optimal),
            },
            "greedy": {"initial": cmp.greedy.initial, "strategies": rows(cmp.greedy)},
            "each_leg_alone": {"initial": cmp.naked.initial},
            "saving_vs_greedy": cmp.saving_vs_greedy,
        }
        if as_json:
            print_json(out)
            return
        con = console_out()
        t = Table(title="Strategies (least requirement)", title_justify="left")
        for col in ("strategy", "legs per unit", "units", "initial", "maintenance"):
            t.add_column(col, justify="left" if col in ("strategy", "legs per unit") else "right")
        for r in out["optimal"]["strategies"]:
            t.add_row(
                r["strategy"],
                ", ".join(r["legs"]),
                str(r["units"]),
                f"{r['initial']:,.2f}",
                f"{r['maintenance']:,.2f}",
            )
        con.print(t)
        s = Table(title="Groupings compared", title_justify="left")
        for col in ("grouping", "initial requirement"):
            s.add_column(col, justify="left" if col == "grouping" else "right")
        s.add_row("optimal (integer programme)", f"{cmp.optimal.initial:,.2f}")
        s.add_row("greedy (largest saving first)", f"{cmp.greedy.initial:,.2f}")
        s.add_row("each leg on its own", f"{cmp.naked.initial:,.2f}")
        con.print(s)
        con.print(
            f"The optimal grouping needs {cmp.saving_vs_greedy:,.2f} less than the greedy one "
            f"and {cmp.naked.initial - cmp.optimal.initial:,.2f} less than the legs alone."
        )

    run(go)


@app.command("span-file")
def span_file(
    positions: Annotated[
        Path, typer.Argument(help="CSV: contract (EXCH:PRODUCT:TYPE:PERIOD[:C|P:STRIKE]), quantity")
    ],
    file: Annotated[Path, typer.Option("--file", help="the exchange's SPAN XML (.spn) file")],
    rate: Annotated[str | None, typer.Option(help="the rate id of the arrays (default 1)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """SPAN on an exchange's own risk-parameter file (CME's XML layout): official risk arrays,
    calendar spreads, scanning-based and delta-based inter-commodity spreads, the short-option
    minimum and the net option value."""

    def go() -> None:
        from ..exceptions import FileInputError
        from ..files import csv_number, csv_records, open_file
        from ..models.span_file import read_span_file, span_file_margin

        book: dict[str, float] = {}
        path = open_file(positions)
        try:
            for row, r in enumerate(csv_records(path)):
                key = (r.get("contract") or "").strip()
                q = csv_number(r, "quantity", row)
                if q is None:
                    raise InvalidInputError("missing", "quantity", row)
                if not key or key in book:
                    raise InvalidInputError("missing or repeated", "contract", row)
                book[key] = q
        except InvalidInputError as e:
            raise FileInputError(str(positions), e) from None
        res = span_file_margin(book, read_span_file(file), rate=rate)
        out = {
            "maintenance_margin": res.maintenance_margin,
            "initial_margin": res.initial_margin,
            "currency": res.currency,
            "per_commodity": res.per_commodity,
            "net_option_value": res.net_option_value,
            "scanning_spreads": [
                {
                    "spread": s.spread,
                    "spreads": s.spreads,
                    "legs": s.legs,
                    "risk": s.risk,
                    "gain_allowance": s.gain_allowance,
                }
                for s in res.scanning_spreads
            ],
        }
        if as_json:
            print_json(out)
            return
        t = Table(title=f"SPAN on {file.name} ({res.currency})", title_justify="left")
        cols = (
            "commodity",
            "scan",
            "scanning spread",
            "intra",
            "inter credit",
            "SOM",
            "NOV",
            "requirement",
        )
        for col in cols:
            t.add_column(col, justify="left" if col == "commodity" else "right")
        for cc, v in res.per_commodity.items():
            t.add_row(
                cc,
                *(
                    f"{v[k]:,.2f}"
                    for k in (
                        "scan_risk",
                        "scanning_spread",
                        "intra_charge",
                        "inter_credit",
                        "short_option_minimum",
                        "net_option_value",
                        "requirement",
                    )
                ),
            )
        con = console_out()
        con.print(t)
        con.print(f"maintenance {res.maintenance_margin:,.2f}, initial {res.initial_margin:,.2f}")

    run(go)
