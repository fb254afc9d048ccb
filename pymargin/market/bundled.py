# SPDX-License-Identifier: Apache-2.0
"""The bundled market data: real Deribit BTC and ETH option chains (``pymargin/data``, sources in
its README) as columnar chains and as :class:`~pymargin.market.market.Market` snapshots."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

import numpy as np

from .market import Mark, Market

__all__ = [
    "CHAIN_FILES",
    "SNAPSHOTS",
    "Chain",
    "demo_market",
    "demo_markets",
    "load_demo_chain",
    "mixed_demo_market",
]

SECONDS_PER_YEAR = 365.0 * 86400.0
# Snapshot times: BTC from the rows' times to expiry (the source has no timestamp column; see
# pymargin/data/README.md), ETH the API's creation_timestamp.
SNAPSHOTS = {
    "BTC": datetime(2025, 12, 5, 1, 10, 52, tzinfo=timezone.utc),
    "ETH": datetime(2025, 11, 22, 2, 15, 13, tzinfo=timezone.utc),
}
SNAPSHOT = SNAPSHOTS["BTC"]
CHAIN_FILES = {"BTC": "deribit_btc_chain_20251205.csv", "ETH": "deribit_eth_chain_20251122.csv"}


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
    index: float | None = None


def load_demo_chain(coin: str = "BTC") -> Chain:
    """A bundled Deribit chain, ``"BTC"`` (2025-12-05) or ``"ETH"`` (2025-11-22)."""
    ref = resources.files("pymargin") / "data" / CHAIN_FILES[coin]
    with ref.open("r", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    snap = SNAPSHOTS[coin]
    expiry_time = [datetime.fromisoformat(r["expiry_utc"].replace("Z", "+00:00")) for r in rows]
    price_col = f"mark_price_{coin.lower()}"
    index = float(rows[0]["index_price"]) if "index_price" in rows[0] else None
    return Chain(
        name=[r["instrument_name"] for r in rows],
        expiry=[r["expiry_utc"][:10] for r in rows],
        strike=np.array([float(r["strike"]) for r in rows]),
        forward=np.array([float(r["underlying_price"]) for r in rows]),
        time=np.array([(e - snap).total_seconds() / SECONDS_PER_YEAR for e in expiry_time]),
        is_call=np.array([r["option_type"] == "call" for r in rows]),
        mark_iv=np.array([float(r["mark_iv_pct"]) / 100.0 for r in rows]),
        mark_price=np.array([float(r[price_col]) for r in rows]),
        index=index,
    )


def demo_market(coin: str = "BTC") -> Market:
    """A bundled chain as a :class:`~pymargin.market.market.Market`: each option's mark price,
    mark IV and forward (Deribit's ``underlying_price``), then futures marks for the expiries whose
    underlying is a listed future (Deribit quotes those to the cent; the other expiries' are
    synthetic, interpolated values). The index is the snapshot's when the source has it (ETH),
    else the nearest expiry's forward, one day out (BTC)."""
    chain = load_demo_chain(coin)
    marks = {
        name: Mark(mark_price=float(p), underlying_price=float(f), mark_iv=float(v))
        for name, p, f, v in zip(chain.name, chain.mark_price, chain.forward, chain.mark_iv)
    }
    for name, f in zip(chain.name, chain.forward):
        future = "-".join(name.split("-")[:2])
        if future not in marks and abs(round(f, 2) - f) < 1e-9:
            marks[future] = Mark(mark_price=float(f))
    index = chain.index if chain.index else float(chain.forward[int(np.argmin(chain.time))])
    return Market(SNAPSHOTS[coin], {f"{coin}_USD": index}, marks)


def demo_markets() -> dict[str, Market]:
    return {coin: demo_market(coin) for coin in ("BTC", "ETH")}


def _dvol_close(coin: str, day: str) -> float:
    """Deribit's DVOL daily close for ``day`` (pymargin/data/history)."""
    ref = resources.files("pymargin") / "data" / "history" / f"dvol_{coin.lower()}_daily.csv"
    with ref.open("r", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["date"] == day:
                return float(r["close"])
    raise KeyError(f"no DVOL {coin} close for {day}")


def mixed_demo_market() -> Market:
    """A BTC and ETH market at one valuation time, for books that settle in BTC, ETH and
    USDC (``demo:MIXED``). The bundled chains are on different days, and the bundled data has
    no ETH price for the BTC day, so the ETH part is carried forward; a demo market, not a
    record of any moment:

    * valuation time, BTC index, BTC options and futures: the BTC chain as captured
      (2025-12-05 01:10:52 UTC), unchanged;
    * ETH index and per-expiry forwards: the ETH chain's (2025-11-22 02:15:13 UTC), unchanged;
      expiries already past at the valuation time dropped;
    * ETH implied vols: each strike's mark IV (sticky strike) times the ratio of ETH's DVOL
      close on the day before each snapshot (2025-12-04 over 2025-11-21, both Deribit's
      published index, pymargin/data/history); prices follow from these vols;
    * linear perpetuals BTC_USDC-PERPETUAL and ETH_USDC-PERPETUAL marked at their coin's
      index (no basis)."""
    btc = demo_market("BTC")
    eth = load_demo_chain("ETH")
    when = SNAPSHOTS["BTC"]
    scale = _dvol_close("ETH", "2025-12-04") / _dvol_close("ETH", "2025-11-21")
    marks = dict(btc.marks)
    for name, expiry, f, v in zip(eth.name, eth.expiry, eth.forward, eth.mark_iv):
        expires = datetime.fromisoformat(expiry).replace(hour=8, tzinfo=timezone.utc)
        if expires <= when:
            continue
        marks[name] = Mark(underlying_price=float(f), mark_iv=float(v) * scale)
        future = "-".join(name.split("-")[:2])
        if future not in marks and abs(round(f, 2) - f) < 1e-9:
            marks[future] = Mark(mark_price=float(f))
    assert eth.index is not None  # the ETH chain carries its index
    index = {"BTC_USD": btc.index["BTC_USD"], "ETH_USD": eth.index}
    marks["BTC_USDC-PERPETUAL"] = Mark(mark_price=index["BTC_USD"])
    marks["ETH_USDC-PERPETUAL"] = Mark(mark_price=index["ETH_USD"])
    return Market(when, index, marks)
