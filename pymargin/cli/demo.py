# SPDX-License-Identifier: Apache-2.0
"""The demo job: six demo portfolios on the bundled chains (:mod:`pymargin.market.bundled`) and
the main job run on each: margin under Deribit's four modes and the FINRA grid, the
breakdown and worst scenario of portfolio margin, and the Greeks. ``pymargin demo`` prints it;
:func:`run_demo` returns the figures."""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import PymarginError
from ..market.bundled import SNAPSHOTS, Chain, demo_market, demo_markets, load_demo_chain
from ..market.portfolio import Portfolio
from ..pricing import inverse_price

__all__ = ["DemoPortfolio", "demo_portfolios", "run_demo"]


@dataclass(frozen=True)
class DemoPortfolio:
    name: str
    coin: str
    portfolio: Portfolio
    collateral: dict[str, float]
    description: str


def _strike_near(chain: Chain, expiry: str, target: float, call: bool) -> str:
    rows = [i for i, e in enumerate(chain.expiry) if e == expiry and chain.is_call[i] == call]
    return chain.name[min(rows, key=lambda i: abs(chain.strike[i] - target))]


def demo_portfolios() -> list[DemoPortfolio]:
    """Covered call, short strangle, calendar spread, a delta-hedged market-maker book, a
    leveraged perpetual and a USDC-settled perpetual (BTC, 2025-12-05), and a short ETH
    strangle (2025-11-22)."""
    btc = load_demo_chain("BTC")
    eth = load_demo_chain("ETH")
    f_dec = float(btc.forward[btc.expiry.index("2025-12-26")])
    out = [
        DemoPortfolio(
            "covered call",
            "BTC",
            Portfolio({_strike_near(btc, "2025-12-26", 1.1 * f_dec, True): -1.0}),
            {"BTC": 1.0},
            "1 BTC held, one 26 Dec call 10 % out of the money sold against it",
        ),
        DemoPortfolio(
            "short strangle",
            "BTC",
            Portfolio(
                {
                    _strike_near(btc, "2025-12-26", 1.1 * f_dec, True): -10.0,
                    _strike_near(btc, "2025-12-26", 0.9 * f_dec, False): -10.0,
                }
            ),
            {"BTC": 5.0},
            "10 calls and 10 puts of 26 Dec sold 10 % out of the money",
        ),
        DemoPortfolio(
            "calendar spread",
            "BTC",
            Portfolio(
                {
                    _strike_near(btc, "2025-12-26", f_dec, True): -5.0,
                    _strike_near(btc, "2026-03-27", f_dec, True): 5.0,
                }
            ),
            {"BTC": 2.0},
            "5 at-the-money calls of 26 Dec sold, 5 of 27 Mar bought",
        ),
    ]
    # A market maker's book: a short strip around the money on three expiries, long wings,
    # delta-hedged with the perpetual (hedge from the positions' forward deltas).
    book: dict[str, float] = {}
    for expiry, size in (("2025-12-12", -4.0), ("2025-12-26", -6.0), ("2026-01-30", 3.0)):
        f = float(btc.forward[btc.expiry.index(expiry)])
        for m, call in ((0.95, False), (1.0, True), (1.0, False), (1.05, True)):
            book[_strike_near(btc, expiry, m * f, call)] = size
        book[_strike_near(btc, expiry, 0.8 * f, False)] = -size / 2
        book[_strike_near(btc, expiry, 1.25 * f, True)] = -size / 2
    from ..risk.greeks import portfolio_greeks

    hedge = -portfolio_greeks(Portfolio(book), demo_market("BTC")).total("BTC_USD")["delta"]
    book["BTC-PERPETUAL"] = round(hedge, 2)
    out.append(
        DemoPortfolio(
            "market-maker book",
            "BTC",
            Portfolio(book),
            {"BTC": 20.0},
            "short at-the-money strips on 12 Dec and 26 Dec, long on 30 Jan, wings, "
            "delta-hedged with the perpetual",
        )
    )
    out.append(
        DemoPortfolio(
            "leveraged perp",
            "BTC",
            Portfolio({"BTC-PERPETUAL": 3.0}),
            {"BTC": 0.5},
            "3 BTC long in the perpetual on 0.5 BTC of collateral (6x)",
        )
    )
    out.append(
        DemoPortfolio(
            "USDC perp",
            "BTC",
            Portfolio({"BTC_USDC-PERPETUAL": 2.0}),
            {"USDC": 40_000.0},
            "2 BTC long in the USDC-settled (linear) perpetual on 40,000 USDC",
        )
    )
    f_eth = float(eth.forward[eth.expiry.index("2025-12-26")])
    out.append(
        DemoPortfolio(
            "ETH short strangle",
            "ETH",
            Portfolio(
                {
                    _strike_near(eth, "2025-12-26", 1.15 * f_eth, True): -50.0,
                    _strike_near(eth, "2025-12-26", 0.85 * f_eth, False): -50.0,
                }
            ),
            {"ETH": 60.0},
            "50 calls and 50 puts of 26 Dec sold 15 % out of the money",
        )
    )
    return out


def _chain_check(coin: str) -> dict[str, float]:
    """Our prices of the chain against Deribit's marks (from the mark IVs)."""
    chain = load_demo_chain(coin)
    t0 = _time.perf_counter()
    price = inverse_price(
        chain.forward, chain.strike, chain.time, chain.mark_iv, 0.0, chain.is_call
    )
    dt = _time.perf_counter() - t0
    diff = np.abs(price - chain.mark_price)
    return {
        "options": len(chain.name),
        "expiries": len(set(chain.expiry)),
        "median_abs_price_diff": float(np.median(diff)),
        "max_abs_price_diff": float(diff.max()),
        "price_seconds": dt,
    }


def run_demo(console: Any = None) -> dict[str, Any]:
    """Runs the demo; prints rich tables to ``console`` (a rich Console; None: stdout,
    False: print nothing). Returns the figures."""
    from ..accounts.account import Account, compare_margin_modes
    from ..models.registry import MarginModel, margin
    from ..risk.greeks import portfolio_greeks

    markets = demo_markets()
    result: dict[str, Any] = {"chains": {c: _chain_check(c) for c in markets}, "portfolios": {}}
    t0 = _time.perf_counter()
    for dp in demo_portfolios():
        market = markets[dp.coin]
        modes = compare_margin_modes(Account(dp.portfolio, dp.collateral), market)
        pm_res = margin(dp.portfolio, market, MarginModel.DERIBIT_PM)
        finra = margin(dp.portfolio, market, MarginModel.FINRA_PM)
        greek_netting = margin(dp.portfolio, market, MarginModel.DELTA_MARGIN)
        # Paradex margins USDC-settled (linear) positions only.
        try:
            paradex: float | None = margin(
                dp.portfolio, market, MarginModel.PARADEX_PM
            ).initial_margin
        except PymarginError:
            paradex = None
        greeks = portfolio_greeks(dp.portfolio, market).total(f"{dp.coin}_USD")
        worst = np.argsort(pm_res.scenario_pnl)[:3]
        result["portfolios"][dp.name] = {
            "coin": dp.coin,
            "description": dp.description,
            "positions": dict(dp.portfolio.positions),
            "collateral": dp.collateral,
            "modes": {m.value: (s if isinstance(s, str) else s.as_row()) for m, s in modes.items()},
            "finra_usd": finra.initial_margin,
            "delta_margin_usd": greek_netting.initial_margin,
            "paradex_usdc": paradex,
            "pm_components": pm_res.components,
            "pm_currency": pm_res.currency,
            "pm_worst": [(pm_res.scenario_labels[j], float(pm_res.scenario_pnl[j])) for j in worst],
            "greeks": greeks,
        }
    result["seconds"] = _time.perf_counter() - t0
    if console is not False:
        _print(result, console)
    return result


def _print(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    from .common import console_out

    con = console or console_out()
    for coin, c in result["chains"].items():
        con.print(
            f"[bold]{coin}[/bold] chain ({SNAPSHOTS[coin]:%Y-%m-%d %H:%M} UTC, Deribit): "
            f"{c['options']} options, {c['expiries']} expiries; priced from the mark IVs in "
            f"{c['price_seconds'] * 1e6:.0f} us, median |ours - Deribit's mark| "
            f"{c['median_abs_price_diff']:.1e} {coin}"
        )
    modes = ("S:SM", "X:SM", "S:PM", "X:PM")
    table = Table(title="Initial margin (USD) under each model", title_justify="left")
    table.add_column("portfolio")
    for m in modes:
        table.add_column(m, justify="right")
    table.add_column("FINRA", justify="right")
    table.add_column("Greeks", justify="right")
    table.add_column("Paradex", justify="right")
    table.add_column("PM / SM", justify="right")
    for name, p in result["portfolios"].items():
        cells = []
        for m in modes:
            row = p["modes"][m]
            cells.append("n/a" if isinstance(row, str) else f"{row['initial_margin_usd']:,.0f}")
        sm, spm = p["modes"]["S:SM"], p["modes"]["S:PM"]
        ratio = (
            f"{spm['initial_margin_usd'] / sm['initial_margin_usd']:.0%}"
            if not isinstance(sm, str) and not isinstance(spm, str) and sm["initial_margin_usd"]
            else ""
        )
        paradex = "n/a" if p["paradex_usdc"] is None else f"{p['paradex_usdc']:,.0f}"
        table.add_row(
            name, *cells, f"{p['finra_usd']:,.0f}", f"{p['delta_margin_usd']:,.0f}", paradex, ratio
        )
    con.print(table)
    detail = Table(
        title="Portfolio margin (S:PM): what drives it, and the Greeks", title_justify="left"
    )
    for col in (
        "portfolio",
        "worst case",
        "roll shock",
        "worst scenario",
        "delta",
        "gamma 1%",
        "vega/pt",
        "theta/d",
    ):
        detail.add_column(
            col, justify="left" if col in ("portfolio", "worst scenario") else "right"
        )
    for name, p in result["portfolios"].items():
        c, g = p["pm_components"], p["greeks"]
        unit = p["pm_currency"].upper()
        digits = 2 if unit in ("USDC", "USDT", "USD") else 4
        detail.add_row(
            name,
            f"{c['worst_case']:,.{digits}f} {unit}",
            f"{c['roll_shock']:,.{digits}f} {unit}",
            p["pm_worst"][0][0],
            f"{g['delta']:+.2f}",
            f"{g['gamma_1pct']:+,.0f}",
            f"{g['vega']:+,.0f}",
            f"{g['theta']:+,.0f}",
        )
    con.print(detail)
    con.print(
        "Greeks = pymargin's Greek-netting delta_margin model. "
        "Margins in USD at the index; S:PM worst case and roll shock in the settlement currency; "
        "Greeks in USD (delta in coins). X:PM also shocks the coin collateral's USD value. "
        f"All {len(result['portfolios'])} portfolios in {result['seconds'] * 1e3:.0f} ms."
    )
