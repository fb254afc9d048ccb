# SPDX-License-Identifier: Apache-2.0
"""Trading costs: venue fee schedules (dated files with their sources), the bid/ask spread and
square-root slippage; per unit of each instrument and for a whole trade, in the instrument's
settlement currency (coin for inverse instruments, USD for linear ones) or in USD.

Fees follow the venues' conventions: futures a fraction of notional; options a fraction of the
underlying per coin, capped at a fraction of the option's price. Spreads: the quotes given
(e.g. the bundled chain's bid/ask, :func:`demo_quotes`), else a half-spread that is a fraction
of the option's value or of the future's price. Slippage (optional) is the square-root law of
:class:`pymargin.accounts.cascade.ImpactModel`: a trade of Q coins pays Y sigma sqrt(|Q| / ADV)
of its notional, a convex cost used in the hedge-cost estimates (the LP optimiser uses the linear
fee and spread parts).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from ..conventions import is_usd_stablecoin
from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..models.params import ModelParameterError, number

__all__ = ["CostModel", "FeeSchedule", "TradeCost", "demo_quotes"]

_KINDS = ("inverse_future", "linear_future", "inverse_option", "linear_option")


@dataclass(frozen=True)
class FeeSchedule:
    """Maker/taker rates per instrument family (see the module docstring for units)."""

    venue: str
    version: str
    source: str
    rates: dict[str, dict[str, float]]

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> FeeSchedule:
        rates = {}
        for kind in _KINDS:
            if kind not in doc:
                continue
            block = doc[kind]
            if not isinstance(block, Mapping):
                raise ModelParameterError("must be a mapping", kind)
            rates[kind] = {
                k: number(dict(block), k, kind, -0.01, 1.0)
                for k in ("maker", "taker", "cap", "maker_cap")
                if k in block
            }
        return cls(
            str(doc.get("venue", "")),
            str(doc.get("version", "")),
            str(doc.get("source", "")),
            rates,
        )

    @classmethod
    def load(cls, venue: str = "deribit", version: str | None = None) -> FeeSchedule:
        """A shipped schedule (``pymargin/data/fees/<venue>/<version>.json``, newest default)."""
        d = resources.files("pymargin") / "data" / "fees" / venue
        if not d.is_dir():
            raise ModelParameterError(f"no fee schedules for {venue!r}", "venue")
        versions = sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".json"))
        v = version or versions[-1]
        if v not in versions:
            raise ModelParameterError(f"unknown version {v!r}; have {versions}", "version")
        with (d / f"{v}.json").open("r", encoding="utf-8") as fh:
            return cls.from_document(json.load(fh))


@dataclass(frozen=True)
class TradeCost:
    """Cost of a trade by part, in ``currency``."""

    currency: str
    fees: float
    spread: float
    slippage: float

    @property
    def total(self) -> float:
        return self.fees + self.spread + self.slippage


@dataclass(frozen=True)
class CostModel:
    """Fees, half-spreads and (optionally) slippage of trades.

    ``option_half_spread``: a fraction of the option's value (default 1.8 %, half the median
    bid/ask spread of the bundled Deribit BTC chain), at least ``option_min_half_spread`` coin
    per coin of underlying (default half of Deribit's 0.0001 minimum option tick);
    ``future_half_spread``: a fraction of the price (default 0.25 bp). ``quotes``
    (instrument -> (bid, ask), settlement currency per unit) override both. ``impact``: a
    square-root impact model for slippage."""

    fees: FeeSchedule | None = None
    taker: bool = True
    option_half_spread: float = 0.018
    future_half_spread: float = 0.000025
    option_min_half_spread: float = 0.00005
    quotes: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    impact: Any = None

    def __post_init__(self) -> None:
        for name in ("option_half_spread", "future_half_spread", "option_min_half_spread"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v < 1):
                raise InvalidInputError("must be in [0, 1)", name)
        for k, q in self.quotes.items():
            if len(q) != 2 or not all(math.isfinite(float(x)) for x in q) or q[0] > q[1]:
                raise InvalidInputError(f"{k}: needs finite bid <= ask", "quotes")

    def _schedule(self) -> FeeSchedule:
        return self.fees if self.fees is not None else FeeSchedule.load("deribit")

    def unit_costs(self, market: Market, names: list[str], currency: str) -> np.ndarray:
        """Fee + half-spread of trading one unit (one coin of underlying) of each instrument,
        in ``currency`` (an instrument's settlement currency, or ``"usd"``)."""
        fee, half = self._unit_parts(market, names, currency)
        return fee + half

    def _unit_parts(
        self, market: Market, names: list[str], currency: str
    ) -> tuple[np.ndarray, np.ndarray]:
        from ..risk.revaluation import mark_values

        sched = self._schedule()
        side = "taker" if self.taker else "maker"
        table = market.table
        rows = table.rows(names)
        kind = table.column("kind")[rows]
        inverse = table.column("settlement")[rows] == int(Settlement.INVERSE)
        opt = kind == int(InstrumentKind.OPTION)
        index = np.array(
            [market.index_price(table.codes[int(c)]) for c in table.column("underlying")[rows]]
        )
        fwd = table.column("forward")[rows]
        usd = is_usd_stablecoin(currency)
        coin_value = mark_values(market, names, False)  # settlement currency
        fee = np.zeros(len(rows))
        half = np.zeros(len(rows))
        for i, name in enumerate(names):
            family = ("inverse_" if inverse[i] else "linear_") + ("option" if opt[i] else "future")
            r = sched.rates.get(family)
            if r is None or side not in r:
                raise ModelParameterError(
                    f"{name}: the {sched.venue} fee schedule has no {family} {side} rate",
                    "fees",
                )
            # native: coin for inverse, USD for linear
            per_underlying = r[side] * (1.0 if inverse[i] else index[i])
            if opt[i]:
                cap_key = "cap" if (self.taker or "maker_cap" not in r) else "maker_cap"
                f = per_underlying
                if cap_key in r:
                    f = math.copysign(min(abs(f), r[cap_key] * coin_value[i]), f)
                fee[i] = f
                floor = self.option_min_half_spread * (1.0 if inverse[i] else index[i])
                half[i] = max(self.option_half_spread * coin_value[i], floor)
            else:
                fee[i] = per_underlying
                half[i] = self.future_half_spread * (1.0 if inverse[i] else fwd[i])
            if name in self.quotes:
                bid, ask = self.quotes[name]
                half[i] = (ask - bid) / 2.0
        # to the requested currency
        if usd:
            conv = np.where(inverse, index, 1.0)
        else:
            conv = np.where(inverse, 1.0, 1.0 / index)
        return fee * conv, half * conv

    def trade_cost(self, market: Market, trades: Mapping[str, float], currency: str) -> TradeCost:
        """Fees, spread and slippage of ``trades`` (instrument -> signed size), in
        ``currency``. Slippage applies to futures and perpetuals (options trade at the quotes)."""
        names = list(trades)
        if not names:
            return TradeCost(currency, 0.0, 0.0, 0.0)
        q = np.array([float(v) for v in trades.values()])
        if not np.isfinite(q).all():
            raise InvalidInputError("must be finite", "trades", int(np.argmax(~np.isfinite(q))))
        fee, half = self._unit_parts(market, names, currency)
        slip = 0.0
        if self.impact is not None:
            table = market.table
            rows = table.rows(names)
            fut = table.column("kind")[rows] != int(InstrumentKind.OPTION)
            fwd = table.column("forward")[rows]
            index = np.array(
                [market.index_price(table.codes[int(c)]) for c in table.column("underlying")[rows]]
            )
            usd = is_usd_stablecoin(currency)
            for i in np.flatnonzero(fut):
                notional_usd = abs(q[i]) * fwd[i]
                cost_usd = notional_usd * abs(self.impact.move(abs(q[i])))
                slip += cost_usd if usd else cost_usd / index[i]
        return TradeCost(currency, float(fee @ np.abs(q)), float(half @ np.abs(q)), float(slip))


def demo_quotes(coin: str = "BTC") -> dict[str, tuple[float, float]]:
    """Bid/ask (coin per option) of the bundled chain where both sides are quoted (BTC)."""
    import csv

    from ..market.bundled import CHAIN_FILES

    ref = resources.files("pymargin") / "data" / CHAIN_FILES[coin]
    out: dict[str, tuple[float, float]] = {}
    with ref.open("r", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            b = row.get(f"bid_price_{coin.lower()}") or ""
            a = row.get(f"ask_price_{coin.lower()}") or ""
            if b and a and float(b) <= float(a):
                out[row["instrument_name"]] = (float(b), float(a))
    return out
