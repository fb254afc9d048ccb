"""Market snapshots: what the engine needs to value instruments at one valuation time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .exceptions import InvalidInputError
from .instruments import Instrument, InstrumentKind, parse_instrument

__all__ = ["Mark", "Market", "MarketDataError"]


class MarketDataError(InvalidInputError):
    """Market data missing or unusable for an instrument (no mark, no vol, NaN, ...)."""


@dataclass(frozen=True)
class Mark:
    """Venue marks of one instrument (any may be None): ``mark_price`` in the instrument's
    quote convention (USD for futures/perpetuals, coin or USD for options),
    ``underlying_price`` (the forward an option is priced on), ``mark_iv`` (per 1.00)."""

    mark_price: float | None = None
    underlying_price: float | None = None
    mark_iv: float | None = None


def _finite_positive(x: float | None, field_name: str, row: int | None) -> float:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise MarketDataError(f"must be a finite number > 0, got {x!r}", field_name, row)
    return float(x)


@dataclass
class Market:
    """A snapshot at ``valuation_time`` (timezone-aware; there is no global clock).

    ``index`` maps underlyings (``"BTC_USD"``) to index prices; ``marks`` maps instrument names
    to :class:`Mark`. The forward of an option is its mark's ``underlying_price`` when given,
    else interpolated (linearly in time, on log prices) between the index and the futures
    marks of the same underlying.
    """

    valuation_time: datetime
    index: dict[str, float]
    marks: dict[str, Mark] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.valuation_time.tzinfo is None:
            raise MarketDataError("must be timezone-aware (UTC)", "valuation_time")
        for name, price in self.index.items():
            _finite_positive(price, f"index[{name}]", None)

    def index_price(self, underlying: str, row: int | None = None) -> float:
        if underlying not in self.index:
            raise MarketDataError(f"no index price for {underlying}", "index", row)
        return float(self.index[underlying])

    def _futures_curve(self, underlying: str) -> tuple[np.ndarray, np.ndarray]:
        # Built once per underlying (every option without its own forward reads it). The
        # snapshot is not meant to be mutated after construction.
        if underlying not in self._curves:
            self._curves[underlying] = self._build_curve(underlying)
        return self._curves[underlying]

    def _build_curve(self, underlying: str) -> tuple[np.ndarray, np.ndarray]:
        ts = [0.0]
        logs = [math.log(self.index_price(underlying))]
        for name, mark in self.marks.items():
            if mark.mark_price is None:
                continue
            try:
                inst = parse_instrument(name)
            except InvalidInputError:
                continue
            if inst.kind is InstrumentKind.FUTURE and inst.underlying == underlying:
                t = inst.time_to_expiry(self.valuation_time)
                if t > 0:
                    ts.append(t)
                    logs.append(math.log(_finite_positive(mark.mark_price, name, None)))
        order = np.argsort(ts)
        return np.asarray(ts)[order], np.asarray(logs)[order]

    def underlying_price(self, inst: Instrument, row: int | None = None) -> float:
        """The price an instrument's value moves with: its own mark for futures and
        perpetuals (index if no mark), the forward for options."""
        mark = self.marks.get(inst.name)
        if inst.kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL):
            if mark is not None and mark.mark_price is not None:
                return _finite_positive(mark.mark_price, "mark_price", row)
            return self.index_price(inst.underlying, row)
        if inst.kind is InstrumentKind.SPOT:
            return self.index_price(inst.underlying, row)
        if mark is not None and mark.underlying_price is not None:
            return _finite_positive(mark.underlying_price, "underlying_price", row)
        ts, logs = self._futures_curve(inst.underlying)
        t = inst.time_to_expiry(self.valuation_time)
        return float(math.exp(np.interp(t, ts, logs)))

    def implied_vol(self, inst: Instrument, row: int | None = None) -> float:
        mark = self.marks.get(inst.name)
        if mark is None or mark.mark_iv is None:
            raise MarketDataError(f"no mark IV for {inst.name}", "mark_iv", row)
        return _finite_positive(mark.mark_iv, "mark_iv", row)
