# SPDX-License-Identifier: Apache-2.0
"""Market snapshots: what the engine needs to value instruments at one valuation time."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..conventions import is_usd_stablecoin
from ..exceptions import InvalidInputError, MarketDataError
from .instruments import Instrument, InstrumentKind, parse_instrument
from .table import InstrumentTable

__all__ = ["Mark", "Market", "MarketDataError"]


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
        self._smiles: dict[tuple[str, datetime], tuple[np.ndarray, np.ndarray] | None] = {}
        self._table: InstrumentTable | None = None
        self._table_lock = threading.Lock()
        self._groups: dict[tuple[str, datetime | None], list[tuple[Instrument, Mark]]] | None = None
        if self.valuation_time.tzinfo is None:
            raise MarketDataError("must be timezone-aware (UTC)", "valuation_time")
        for name, price in self.index.items():
            _finite_positive(price, f"index[{name}]", None)

    def __getstate__(self) -> dict[str, object]:  # picklable (Dask ships markets): no lock
        state = dict(self.__dict__)
        del state["_table_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._table_lock = threading.Lock()

    def rate(self, underlying: str) -> float:
        """Continuously compounded discount rate for options on ``underlying`` (``rates``
        keyed by underlying, e.g. ``"BTC_USD"``); 0 when not given, Deribit's convention
        (its options are priced on the forward with no discounting)."""
        r = self.rates.get(underlying, 0.0)
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
            raise MarketDataError(f"must be a finite number, got {r!r}", f"rates[{underlying}]")
        return float(r)

    def usd_price(self, currency: str) -> float:
        """USD value of one unit of a collateral currency: the index ``<CCY>_USD`` when the
        snapshot has one; stablecoins (USD, USDC, USDT) at 1 otherwise."""
        key = f"{currency.upper()}_USD"
        if key in self.index:
            return self.index_price(key)
        if is_usd_stablecoin(currency):
            return 1.0
        raise MarketDataError(f"no index price for {key}", "index")

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
        # An option without its own: the forward its expiry's marked options are priced on
        # (they share one), else the futures curve.
        shared = self._expiry_forward(inst)
        if shared is not None:
            return shared
        ts, logs = self._futures_curve(inst.underlying)
        t = inst.time_to_expiry(self.valuation_time)
        return float(math.exp(np.interp(t, ts, logs)))

    def shifted(
        self,
        moves: dict[str, float],
        vol_scale: dict[str, float] | None = None,
        *,
        valuation_time: datetime | None = None,
    ) -> Market:
        """The snapshot after a market move: each underlying in ``moves`` (e.g.
        ``{"BTC_USD": -0.2}``) moves by that fraction (index, futures marks, option forwards),
        its options' implied vols are multiplied by ``vol_scale``; options' mark prices are
        dropped (they would be stale), so they are revalued from their vols. Unlisted
        underlyings do not move."""
        scale = vol_scale or {}
        for name, m in moves.items():
            if not (isinstance(m, (int, float)) and math.isfinite(m) and m > -1):
                raise MarketDataError("must be finite and > -1", f"moves[{name}]")
        for name, v in scale.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise MarketDataError("must be finite and > 0", f"vol_scale[{name}]")
        index = {u: p * (1.0 + moves.get(u, 0.0)) for u, p in self.index.items()}
        marks: dict[str, Mark] = {}
        for name, mk in self.marks.items():
            try:
                inst = parse_instrument(name)
            except InvalidInputError:
                continue
            f = 1.0 + moves.get(inst.underlying, 0.0)
            if inst.kind is InstrumentKind.OPTION:
                v = scale.get(inst.underlying, 1.0)
                marks[name] = Mark(
                    None,
                    None if mk.underlying_price is None else mk.underlying_price * f,
                    None if mk.mark_iv is None else mk.mark_iv * v,
                )
            else:
                marks[name] = Mark(
                    None if mk.mark_price is None else mk.mark_price * f,
                    None if mk.underlying_price is None else mk.underlying_price * f,
                    mk.mark_iv,
                )
        return Market(valuation_time or self.valuation_time, index, marks, dict(self.rates))

    @property
    def table(self) -> InstrumentTable:
        """The columnar table of the instruments valued in this snapshot (built as names are
        looked up, each name parsed and valued once)."""
        table = self._table
        if table is None:
            with self._table_lock:  # one table per snapshot, also when threads race here
                if self._table is None:
                    self._table = InstrumentTable(self)
                table = self._table
        return table

    def implied_vol(self, inst: Instrument, row: int | None = None) -> float:
        """The option's mark IV; without one, the smile of its expiry (see :meth:`smile_vol`)."""
        mark = self.marks.get(inst.name)
        if mark is not None and mark.mark_iv is not None:
            return _finite_positive(mark.mark_iv, "mark_iv", row)
        vol = self.smile_vol(inst)
        if vol is None:
            raise MarketDataError(
                f"no mark IV for {inst.name}, and fewer than two marked options of its expiry "
                "to build a smile from",
                "mark_iv",
                row,
            )
        return vol

    def smile_vol(self, inst: Instrument) -> float | None:
        """Implied vol from the smile of the option's expiry: the marked options of the same
        underlying and expiry, as vol against log-moneyness ln(K/F), interpolated by a
        monotone piecewise cubic (Fritsch-Carlson: no new extrema between marks, exact at
        every mark) and flat beyond the outermost strikes. None with fewer than two marks."""
        if inst.kind is not InstrumentKind.OPTION or inst.expiry is None:
            return None
        key = (inst.underlying, inst.expiry)
        if key not in self._smiles:
            self._smiles[key] = self._build_smile(inst)
        smile = self._smiles[key]
        if smile is None:
            return None
        k_nodes, v_nodes = smile
        assert inst.strike is not None
        k = math.log(inst.strike / self.underlying_price(inst))
        return float(_pchip(k_nodes, v_nodes, k))

    def _marked_options(self) -> dict[tuple[str, datetime | None], list[tuple[Instrument, Mark]]]:
        """The marked options grouped by (underlying, expiry), built once per snapshot."""
        if self._groups is None:
            groups: dict[tuple[str, datetime | None], list[tuple[Instrument, Mark]]] = {}
            for name, mark in self.marks.items():
                try:
                    inst = parse_instrument(name)
                except InvalidInputError:
                    continue
                if inst.kind is InstrumentKind.OPTION:
                    groups.setdefault((inst.underlying, inst.expiry), []).append((inst, mark))
            self._groups = groups
        return self._groups

    def _expiry_forward(self, inst: Instrument) -> float | None:
        for _, mark in self._marked_options().get((inst.underlying, inst.expiry), []):
            if mark.underlying_price is not None:
                return _finite_positive(mark.underlying_price, "underlying_price", None)
        return None

    def _build_smile(self, like: Instrument) -> tuple[np.ndarray, np.ndarray] | None:
        by_k: dict[float, list[float]] = {}
        for inst, mark in self._marked_options().get((like.underlying, like.expiry), []):
            if mark.mark_iv is None or inst.strike is None:
                continue
            k = math.log(inst.strike / self.underlying_price(inst))
            by_k.setdefault(k, []).append(_finite_positive(mark.mark_iv, "mark_iv", None))
        if len(by_k) < 2:
            return None
        ks = np.array(sorted(by_k))
        vols = np.array([sum(by_k[k]) / len(by_k[k]) for k in ks])
        return ks, vols


def _pchip(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """Fritsch-Carlson monotone cubic through (x, y) (x increasing), flat outside."""
    if at <= x[0]:
        return float(y[0])
    if at >= x[-1]:
        return float(y[-1])
    h = np.diff(x)
    d = np.diff(y) / h
    m = np.zeros_like(y)
    if len(x) == 2:
        m[:] = d[0]
    else:
        for i in range(1, len(x) - 1):
            if d[i - 1] * d[i] > 0:  # weighted harmonic mean (Fritsch-Butland weights)
                w1 = 2 * h[i] + h[i - 1]
                w2 = h[i] + 2 * h[i - 1]
                m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i])
        m[0] = d[0]
        m[-1] = d[-1]
    i = int(np.searchsorted(x, at) - 1)
    t = (at - x[i]) / h[i]
    h00 = (1 + 2 * t) * (1 - t) ** 2
    h10 = t * (1 - t) ** 2
    h01 = t * t * (3 - 2 * t)
    h11 = t * t * (t - 1)
    return float(h00 * y[i] + h10 * h[i] * m[i] + h01 * y[i + 1] + h11 * h[i] * m[i + 1])
