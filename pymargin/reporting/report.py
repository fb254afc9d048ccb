# SPDX-License-Identifier: Apache-2.0
"""A self-contained HTML report for a portfolio: summary, margin breakdown, risk matrix, P&L
profile, Greeks, the comparison of margin modes and hedging (delta-hedge costs, the
margin-minimising futures hedge, the cost of re-hedging by frequency), plots embedded as PNG
(no external files, no scripts)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..accounts.account import Account, compare_margin_modes
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.registry import MarginModel, margin
from ..risk.greeks import portfolio_greeks

__all__ = ["report_html", "write_report"]

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 960px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #666; font-size: 0.85em; } img { max-width: 100%; }
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _table(header: list[str], rows: list[list[Any]]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{h}</tr>{body}</table>"


def _modes_table(modes: dict[Any, Any]) -> str:
    """The margin modes side by side (USD), or why a mode does not cover the book."""
    mode_rows = []
    for m, s in modes.items():
        if isinstance(s, str):
            mode_rows.append([m.value, "not covered: " + s, "", "", "", ""])
        else:
            r = s.as_row()
            mode_rows.append(
                [
                    m.value,
                    f"{r['equity_usd']:,.0f}",
                    f"{r['initial_margin_usd']:,.0f}",
                    f"{r['maintenance_margin_usd']:,.0f}",
                    f"{r['available_funds_usd']:,.0f}",
                    f"{r['mm_ratio']:.1%}",
                ]
            )
    return _table(["mode", "equity", "IM", "MM", "available", "MM ratio"], mode_rows)


def _greeks_table(greeks: Any) -> str:
    """Greeks by (underlying, expiry), then each underlying's total."""

    def row(label: str, v: dict[str, float]) -> list[str]:
        return [
            label,
            f"{v['delta']:+.3f}",
            f"{v['delta_usd']:+,.0f}",
            f"{v['gamma_1pct']:+,.0f}",
            f"{v['vega']:+,.0f}",
            f"{v['theta']:+,.0f}",
        ]

    rows = [row(f"{u} {e}", v) for (u, e), v in greeks.by_expiry.items()]
    rows += [row(f"{u} total", v) for u, v in greeks.by_underlying.items()]
    return _table(["expiry", "delta", "delta USD", "gamma 1%", "vega/pt", "theta/d"], rows)


def report_html(
    portfolio: Portfolio,
    market: Market,
    *,
    collateral: dict[str, float] | None = None,
    title: str = "pymargin portfolio report",
    progress: Callable[[str], None] | None = None,
    params_version: str | None = None,
) -> str:
    """The report as one HTML string (see the module docstring). Deribit PM parameters: the
    versions in force at the market's valuation time, or the shipped ``params_version``."""
    from .plots import plot_greeks, plot_pnl_profile, plot_risk_matrix

    step = progress or (lambda _what: None)
    step("margin")
    pm_res = margin(portfolio, market, MarginModel.DERIBIT_PM, params_version=params_version)
    ccy = pm_res.currency.upper()
    step("attribution")
    drivers = _drivers_section(portfolio, market, pm_res)
    step("margin modes")
    from ..models.deribit_pm import DeribitPMParams

    pm_params = DeribitPMParams.load(params_version) if params_version else None
    modes = compare_margin_modes(Account(portfolio, collateral or {}), market, pm_params=pm_params)
    step("Greeks")
    greeks = portfolio_greeks(portfolio, market)
    step("plots")
    # a risk matrix per margin group and pair, a P&L profile per group and underlying
    groups = pm_res.groups or {pm_res.currency: pm_res}
    risk_imgs, profile_imgs = [], []
    table = market.table
    all_names = list(portfolio.positions)
    _, settles = table.take(all_names, "settlement_currency")
    for c, g in groups.items():
        for key in g.details.aggregated_risk_vectors:
            png = _png(plot_risk_matrix(g, pair=key).figure)
            risk_imgs.append(f'<img alt="risk matrix {html.escape(key)}" src="{png}">')
        names = [n for n, s in zip(all_names, settles) if s == table.code_of(c)]
        _, und = table.take(names, "underlying")
        for code in dict.fromkeys(und.tolist()):
            sub = Portfolio.sized(
                {n: portfolio.positions[n] for n, u in zip(names, und) if u == code}
            )
            line = g.initial_margin if len(set(und.tolist())) == 1 else None
            png = _png(plot_pnl_profile(sub, market, margin=line).figure)
            profile_imgs.append(f'<img alt="P&amp;L profile" src="{png}">')
    greeks_png = _png(plot_greeks(greeks))
    step("hedging")
    hedging = _hedging_section(portfolio, market)
    step("HTML")
    positions = _table(
        ["instrument", "size"], [[n, f"{s:+g}"] for n, s in portfolio.positions.items()]
    )
    breakdown = _table(
        ["component", ccy],
        [
            ["initial margin", f"{pm_res.initial_margin:,.6g}"],
            ["maintenance margin", f"{pm_res.maintenance_margin:,.6g}"],
        ]
        + [[k, f"{v:,.6g}"] for k, v in pm_res.components.items()],
    )
    mode_table = _modes_table(modes)
    greek_table = _greeks_table(greeks)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    explain = html.escape(pm_res.explain()).replace("\n", "<br>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Market snapshot {market.valuation_time:%Y-%m-%d %H:%M} UTC; report made {made}
by pymargin. Money in {ccy} unless marked USD.</p>
<h2>Summary</h2>
<p>Deribit portfolio margin (S:PM): <b>IM {pm_res.initial_margin:,.6g} {ccy}</b>,
MM {pm_res.maintenance_margin:,.6g} {ccy}, worst scenario {html.escape(pm_res.worst_scenario)}.</p>
<p class="note">Parameters: {html.escape(pm_res.parameters)}.
{"".join(f"<br>Note: {html.escape(n)}" for n in pm_res.notes)}</p>
<p>{explain}</p>
<h2>Positions</h2>{positions}
<h2>Margin breakdown</h2>{breakdown}
<h2>What drives the margin</h2>{drivers}
<h2>Risk matrix</h2>{"".join(risk_imgs)}
<h2>P&amp;L profile</h2>{"".join(profile_imgs)}
<h2>Greeks</h2>{greek_table}<img alt="Greeks" src="{greeks_png}">
<h2>Model comparison</h2>{mode_table}
<p class="note">S = segregated, X = cross collateral; SM = standard, PM = portfolio margin.
X:PM follows pymargin's documented construction (Deribit does not publish its combination
rules).</p>
<h2>Hedging</h2>{hedging}
</body></html>
"""


def _drivers_section(portfolio: Portfolio, market: Market, res: Any) -> str:
    """Each position's contribution and marginal IM, the nearest scenarios and the worst loss
    with the coins moving together (pymargin.analytics.attribution)."""
    from ..analytics.attribution import margin_attribution, scenario_ranking

    a = margin_attribution(portfolio, market, res.model)
    unit = a.currency.upper()
    by_position = _table(
        ["instrument", "size", f"contribution ({unit})", "share", f"marginal IM ({unit})"],
        [
            [
                r["instrument"] + (" *" if r["at_kink"] else ""),
                f"{r['size']:+g}",
                f"{r['contribution']:+,.6g}",
                f"{r['share']:+.1%}",
                f"{r['marginal']:+,.6g}",
            ]
            for r in a.rows()
        ]
        + [["not allocated", "", f"{a.unallocated:+,.3g}", "", ""]],
    )
    r = scenario_ranking(res)
    nearest = _table(["scenario", f"loss ({unit})"], [[s, f"{v:,.6g}"] for s, v in r.top])
    coins = ""
    if r.together is not None and r.independent is not None:
        coins = (
            f"<p>Worst loss with the coins moving together (one joint scenario): "
            f"{r.together:,.6g} {unit}; with each coin at its own worst: "
            f"{r.independent:,.6g} {unit}.</p>"
        )
    return (
        f'{by_position}<p class="note">Contribution: the position\'s part of IM (size x '
        "dIM/dsize; the parts sum to IM). Marginal IM: IM less IM without the position. * the "
        "binding scenario changes with the position's size.</p>"
        f"<h3>Nearest scenarios</h3>{nearest}<p>Gap from the binding scenario to the next: "
        f"{r.gap:,.6g} {unit}.</p>{coins}"
    )


def _hedging_section(portfolio: Portfolio, market: Market) -> str:
    """Delta hedges by cost, the S:PM-minimising hedge in the perpetual and futures, and the
    cost and residual risk of re-hedging at several frequencies (options books)."""
    import math

    from ..exceptions import PymarginError
    from ..strategy.hedging import TimePolicy, compare_policies, delta_hedge
    from ..strategy.optimize import minimize_margin
    from .plots import plot_cost_frequency

    parts = []
    sug = delta_hedge(portfolio, market)
    parts.append(
        "<p>Delta hedges to zero, cheapest first (USD over 7 days: fees, spread, carry).</p>"
        + _table(
            ["instrument", "size", "fees", "spread", "carry", "cost"],
            [
                [
                    s.instrument,
                    f"{s.size:+,.3f}",
                    f"{s.fees:,.2f}",
                    f"{s.spread:,.2f}",
                    f"{s.carry:+,.2f}",
                    f"{s.cost:,.2f}",
                ]
                for s in sug[:5]
            ],
        )
    )
    und = sug[0].underlying if sug else None
    if und is not None:
        futures = sorted({s.instrument for s in sug if s.underlying == und})
        size = 2.0 * abs(sug[0].delta_before) + 1.0
        try:
            opt = minimize_margin(portfolio, market, futures, max_buy=size, max_sell=size)
            ccy = opt.currency.upper()
            trades = ", ".join(f"{k} {v:+,.3f}" for k, v in opt.trades.items()) or "none"
            parts.append(
                f"<p>Margin-minimising hedge in the perpetual and futures (an LP, re-margined by "
                f"the engine): {html.escape(trades)}; IM {opt.margin_before:,.6g} &rarr; "
                f"{opt.verified_margin:,.6g} {ccy}.</p>"
                f'<img alt="margin before and after" src="{_png(opt.plot().figure)}">'
            )
        except PymarginError as e:
            parts.append(f"<p class='note'>No margin-minimising hedge: {html.escape(str(e))}</p>")
        g = portfolio_greeks(portfolio, market).by_underlying[und]
        if abs(g["gamma_1pct"]) > 0:
            table = market.table
            rows = table.rows(list(portfolio.positions))
            vols = [v for v in table.column("vol")[rows] if math.isfinite(v) and v > 0]
            vol = float(sum(vols) / len(vols)) if vols else 0.5
            sims = compare_policies(
                portfolio,
                market,
                [TimePolicy(h) for h in (0.5, 1.0, 2.0, 4.0, 8.0)],
                realised_vol=vol,
                paths=500,
                underlying=und,
            )
            parts.append(
                f"<p>Re-hedging {html.escape(und)} for a day at {vol:.0%} realised vol (the "
                "book's mean implied vol): expected cost against the hedge error left.</p>"
                f'<img alt="cost against frequency" src="{_png(plot_cost_frequency(sims))}">'
            )
    return "".join(parts)


def write_report(
    portfolio: Portfolio,
    market: Market,
    path: str | Path,
    *,
    collateral: dict[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    params_version: str | None = None,
) -> Path:
    out = Path(path)
    page = report_html(
        portfolio, market, collateral=collateral, progress=progress, params_version=params_version
    )
    out.write_text(page, encoding="utf-8")
    return out
