"""Columnar instrument tables: every instrument a market snapshot has been asked about, as
contiguous arrays (kind, settlement, strike, forward, vol, time, ...) that go to the C++ kernel
without a per-instrument Python step.

A :class:`~pymargin.market.Market` owns one table (``market.table``); names are parsed and
valued once, on first use, and later lookups are a dictionary access per position. This is what
keeps the margin of a large account cheap: the per-position Python work is a name lookup, the
rest is array code and the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .exceptions import InvalidInputError
from .instruments import Instrument, InstrumentKind, parse_instrument

if TYPE_CHECKING:
    from .market import Market

__all__ = ["InstrumentTable"]


class InstrumentTable:
    """Instruments valued in one market snapshot, structure of arrays.

    Columns (row = instrument): ``kind``, ``settlement``, ``is_call`` (uint8), ``strike``,
    ``forward`` (the price the instrument moves with), ``vol`` (options: mark IV or smile),
    ``time`` (years to expiry, 0 for perpetuals and spot), ``rate`` (options: the discount
    rate of ``market.rates`` for the underlying; 0 by default), ``expiry_key`` (int64
    seconds, -1 without expiry), ``contract_size``, and the string codes ``underlying``,
    ``pair`` (``btc_usd``) and ``settlement_currency`` (lower case) as int32 indices into
    ``codes``.
    """

    def __init__(self, market: Market) -> None:
        self._market = market
        self._row: dict[str, int] = {}
        self.instruments: list[Instrument] = []
        self.codes: list[str] = []
        self._code_of: dict[str, int] = {}
        self._cols: dict[str, list[float]] = {k: [] for k in _COLUMNS}
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.instruments)

    def code_of(self, text: str) -> int | None:
        """The code of a string column value, None if no row has it."""
        return self._code_of.get(text)

    def code(self, text: str) -> int:
        c = self._code_of.get(text)
        if c is None:
            c = self._code_of[text] = len(self.codes)
            self.codes.append(text)
        return c

    def rows(self, names: Sequence[str], *, field: str = "instrument") -> np.ndarray:
        """Row of each name (int64), adding the names the table has not seen. A name that
        cannot be parsed or valued raises the typed error with its position in ``names``; the
        table is left as it was (nothing is added from a failing call)."""
        known = list(map(self._row.get, names))
        if None not in known:
            return np.array(known, dtype=np.int64)
        out = np.empty(len(names), dtype=np.int64)
        staged: dict[str, int] = {}
        new: list[tuple[Instrument, dict[str, float]]] = []
        base = len(self.instruments)
        for pos, name in enumerate(names):
            r = self._row.get(name)
            if r is None:
                r = staged.get(name)
            if r is None:
                inst, values = self._value(name, pos, field)
                r = staged[name] = base + len(new)
                new.append((inst, values))
            out[pos] = r
        for (inst, values), name in zip(new, staged):
            self._row[name] = len(self.instruments)
            self.instruments.append(inst)
            for k, v in values.items():
                self._cols[k].append(v)
        if new:
            self._arrays = None
        return out

    def _value(self, name: str, pos: int, field: str) -> tuple[Instrument, dict[str, float]]:
        market = self._market
        try:
            inst = parse_instrument(name)
        except InvalidInputError as e:  # keep the parser's field (name, expiry, strike ...)
            raise type(e)(e.reason, e.field or field, pos) from None
        t = inst.time_to_expiry(market.valuation_time)
        option = inst.kind is InstrumentKind.OPTION
        if inst.expiry is not None and t <= 0.0:
            raise InvalidInputError(f"{name} has expired at the valuation time", field, pos)
        forward = market.underlying_price(inst, pos)
        vol = market.implied_vol(inst, pos) if option else 0.0
        values = {
            "kind": float(inst.kind),
            "settlement": float(inst.settlement),
            "is_call": float(int(inst.option_type or 0) == 1) if option else 0.0,
            "strike": float(inst.strike) if option and inst.strike is not None else 0.0,
            "forward": forward,
            "vol": vol,
            "time": t,
            "expiry_key": float(inst.expiry.timestamp()) if inst.expiry is not None else -1.0,
            "underlying": float(self.code(inst.underlying)),
            "pair": float(self.code(f"{inst.base.lower()}_usd")),
            "settlement_currency": float(self.code(inst.settlement_currency.lower())),
            "contract_size": inst.contract_size,
            "rate": market.rate(inst.underlying) if option else 0.0,
        }
        return inst, values

    def _materialise(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {k: np.asarray(self._cols[k], dtype=dt) for k, dt in _COLUMNS.items()}
        return self._arrays

    def column(self, name: str) -> np.ndarray:
        """One column as a read-only array (see the class docstring for the names)."""
        a = self._materialise()[name]
        a.flags.writeable = False
        return a

    def name_of(self, row: int) -> str:
        return self.instruments[row].name


_COLUMNS: dict[str, type] = {
    "kind": np.uint8,
    "settlement": np.uint8,
    "is_call": np.uint8,
    "strike": np.float64,
    "forward": np.float64,
    "vol": np.float64,
    "time": np.float64,
    "expiry_key": np.int64,
    "underlying": np.int32,
    "pair": np.int32,
    "settlement_currency": np.int32,
    "contract_size": np.float64,
    "rate": np.float64,
}
