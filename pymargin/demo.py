"""The bundled demo: prices the real Deribit BTC option chain of 2025-12-05 from its mark
implied vols, compares with Deribit's own mark prices, backs the vols out again, reports the
chain's Greeks, and margins a delta-hedged short strangle on it under Deribit's four margin
modes."""

from __future__ import annotations

import csv
import time as _time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import numpy as np

from .market import Mark, Market
from .pricing import inverse_greeks, inverse_implied_vol, inverse_price

SNAPSHOT = datetime(2025, 12, 5, 1, 10, 52, tzinfo=timezone.utc)
SECONDS_PER_YEAR = 365.0 * 86400.0


@dataclass
class Chain:
    """Columnar option chain."""

    name: list[str]
    expiry: list[str]
    strike: np.ndarray
    forward: np.ndarray
    time: np.ndarray
    is_call: np.ndarray
    mark_iv: np.ndarray
    mark_price: np.ndarray


def load_demo_chain() -> Chain:
    """The bundled Deribit BTC chain (see pymargin/data/README.md for its source)."""
    ref = resources.files("pymargin") / "data" / "deribit_btc_chain_20251205.csv"
    with ref.open("r", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expiry_time = [datetime.fromisoformat(r["expiry_utc"].replace("Z", "+00:00")) for r in rows]
    return Chain(
        name=[r["instrument_name"] for r in rows],
        expiry=[r["expiry_utc"][:10] for r in rows],
        strike=np.array([float(r["strike"]) for r in rows]),
        forward=np.array([float(r["underlying_price"]) for r in rows]),
        time=np.array([(e - SNAPSHOT).total_seconds() / SECONDS_PER_YEAR for e in expiry_time]),
        is_call=np.array([r["option_type"] == "call" for r in rows]),
        mark_iv=np.array([float(r["mark_iv_pct"]) / 100.0 for r in rows]),
        mark_price=np.array([float(r["mark_price_btc"]) for r in rows]),
    )


def demo_market() -> Market:
    """The bundled chain as a :class:`~pymargin.market.Market`: each option's mark IV and
    forward (Deribit's ``underlying_price``). The snapshot has no index price, so the nearest
    expiry's forward (one day out) stands in for it; futures and perpetuals without marks are
    valued at it."""
    chain = load_demo_chain()
    marks = {
        name: Mark(mark_price=float(p), underlying_price=float(f), mark_iv=float(v))
        for name, p, f, v in zip(chain.name, chain.mark_price, chain.forward, chain.mark_iv)
    }
    index = float(chain.forward[int(np.argmin(chain.time))])
    return Market(SNAPSHOT, {"BTC_USD": index}, marks)


def run_demo(out=print) -> dict:
    """Runs the demo and prints a report; returns the figures as a dict."""
    chain = load_demo_chain()
    n = chain.strike.size
    t0 = _time.perf_counter()
    price = inverse_price(
        chain.forward, chain.strike, chain.time, chain.mark_iv, 0.0, chain.is_call
    )
    greeks = inverse_greeks(
        chain.forward, chain.strike, chain.time, chain.mark_iv, 0.0, chain.is_call
    )
    t1 = _time.perf_counter()
    assert greeks.delta is not None and greeks.delta_forward is not None
    assert greeks.gamma is not None and greeks.vega_per_point is not None
    assert greeks.theta_per_day is not None
    # Deribit publishes mark prices rounded to its tick; deep in the money that can put them at
    # or below the intrinsic value, where no vol exists. Those rows are left out (and counted).
    sign = np.where(chain.is_call, 1.0, -1.0)
    intrinsic_coin = np.maximum(sign * (chain.forward - chain.strike), 0.0) / chain.forward
    quoted = (chain.mark_price > intrinsic_coin) & (chain.mark_price > 0)
    iv = inverse_implied_vol(
        chain.mark_price[quoted],
        chain.forward[quoted],
        chain.strike[quoted],
        chain.time[quoted],
        0.0,
        chain.is_call[quoted],
    )
    t2 = _time.perf_counter()
    diff = np.abs(price - chain.mark_price)
    iv_diff = np.abs(iv - chain.mark_iv[quoted]) * 100.0
    usd_delta = greeks.delta_forward
    result: dict[str, Any] = {
        "options": int(n),
        "expiries": len(set(chain.expiry)),
        "max_abs_price_diff_btc": float(diff.max()),
        "median_abs_price_diff_btc": float(np.median(diff)),
        "median_abs_iv_diff_points": float(np.median(iv_diff)),
        "rows_without_implied_vol": int(n - quoted.sum()),
        "price_greeks_seconds": t1 - t0,
        "implied_vol_seconds": t2 - t1,
    }
    out(f"pymargin demo: Deribit BTC option chain, snapshot {SNAPSHOT:%Y-%m-%d %H:%M} UTC")
    out(
        f"  {n} options, {result['expiries']} expiries, priced as inverse (coin-settled) "
        "Black-76 options from Deribit's mark IVs"
    )
    out(
        f"  our price vs Deribit mark price: max |diff| {diff.max():.2e} BTC, "
        f"median {np.median(diff):.2e} BTC"
    )
    out(
        f"  implied vol of Deribit's (rounded) mark prices vs its mark IV: median |diff| "
        f"{np.median(iv_diff):.4f} vol points ({int(n - quoted.sum())} rows at or below "
        "intrinsic after rounding have none)"
    )
    out("")
    out(
        f"  {'expiry':<11}{'n':>4}{'forward':>11}{'ATM IV':>8}{'sum delta':>11}"
        f"{'gamma 1%':>11}{'sum vega':>10}{'sum theta/d':>12}"
    )
    for e in sorted(set(chain.expiry)):
        m = np.array([x == e for x in chain.expiry])
        f = chain.forward[m][0]
        atm = np.argmin(np.abs(chain.strike[m] - f))
        out(
            f"  {e:<11}{int(m.sum()):>4}{f:>11.1f}{chain.mark_iv[m][atm] * 100:>7.1f}%"
            f"{greeks.delta[m].sum():>11.3f}{greeks.gamma[m].sum() * f * 0.01:>11.4f}"
            f"{greeks.vega_per_point[m].sum():>10.4f}{greeks.theta_per_day[m].sum():>12.4f}"
        )
    out("")
    out("  (long one contract of every option; Greeks in BTC: coin delta = USD delta - premium,")
    out("   'gamma 1%' = change of the coin delta for a 1 % rise of the forward,")
    out("   vega per vol point, theta per calendar day)")
    out("")
    worst = np.argsort(-diff)[:3]
    out("  largest price differences (Deribit rounds mark prices; deep wings hit the rounding):")
    for i in worst:
        out(
            f"    {chain.name[i]:<24} ours {price[i]:.8f}  Deribit {chain.mark_price[i]:.8f}  "
            f"USD delta {usd_delta[i]:+.4f}"
        )
    out(
        f"  timing: price+Greeks {1e6 * (t1 - t0):.0f} us, implied vols {1e6 * (t2 - t1):.0f} us "
        f"for the whole chain"
    )
    result["margin"] = _margin_section(chain, out)
    return result


def _margin_section(chain: Chain, out) -> dict:
    """A short strangle on the chain's 2025-12-26 expiry, delta-hedged with the perpetual, with
    5 BTC of collateral: its margin under Deribit's four modes on the real marks."""
    from .account import Account, compare_margin_modes
    from .portfolio import Portfolio

    market = demo_market()
    expiry = "2025-12-26"
    rows = [i for i, e in enumerate(chain.expiry) if e == expiry]
    f = chain.forward[rows[0]]
    call = min(
        (i for i in rows if chain.is_call[i] and chain.strike[i] >= 1.1 * f),
        key=lambda i: chain.strike[i],
    )
    put = max(
        (i for i in rows if not chain.is_call[i] and chain.strike[i] <= 0.9 * f),
        key=lambda i: chain.strike[i],
    )
    book = {chain.name[call]: -10.0, chain.name[put]: -10.0}
    greeks = inverse_greeks(
        chain.forward[[call, put]],
        chain.strike[[call, put]],
        chain.time[[call, put]],
        chain.mark_iv[[call, put]],
        0.0,
        chain.is_call[[call, put]],
    )
    assert greeks.delta_forward is not None
    hedge = -float(round(-10.0 * greeks.delta_forward.sum(), 1))
    book["BTC-PERPETUAL"] = hedge
    account = Account(Portfolio(book), {"BTC": 5.0})
    t0 = _time.perf_counter()
    modes = compare_margin_modes(account, market)
    t1 = _time.perf_counter()
    out("")
    out(
        "  margin: short 10 x "
        + " and 10 x ".join(n for n in book if "PERP" not in n)
        + f", perpetual {hedge:+.1f} BTC, 5 BTC collateral"
    )
    out(f"  {'mode':<6}{'IM (USD)':>14}{'MM (USD)':>14}{'available':>14}{'MM ratio':>10}")
    figures = {}
    for mode, s in modes.items():
        if isinstance(s, str):
            out(f"  {mode.value:<6}  not covered: {s}")
            continue
        figures[mode.value] = s.initial_margin_usd
        out(
            f"  {mode.value:<6}{s.initial_margin_usd:>14,.0f}{s.maintenance_margin_usd:>14,.0f}"
            f"{s.available_funds_usd:>14,.0f}{s.maintenance_margin_ratio:>10.1%}"
        )
    if "S:PM" in figures and "S:SM" in figures:
        out(f"  portfolio margin needs {figures['S:PM'] / figures['S:SM']:.0%} of standard margin")
    out(
        f"  (all four modes in {1e3 * (t1 - t0):.1f} ms; 'pymargin.margin' and"
        " 'pymargin.account_summary' give the breakdown)"
    )
    return figures
