# SPDX-License-Identifier: Apache-2.0
"""Columnar instrument tables: every instrument a market snapshot has been asked about, as
contiguous arrays (kind, settlement, strike, forward, vol, time, ...) that go to the C++ kernel
without a per-instrument Python step.

A :class:`~pymargin.market.market.Market` owns one table (``market.table``); names are parsed and
valued once, on first use, and later lookups are a dictionary access per position. This is what
keeps the margin of a large account cheap: the per-position Python work is a name lookup, the
rest is array code and the kernel.

A table is safe to share between threads: rows are only ever appended, under a lock, and a
name's row id is published only after its column values are in place, so a row id once
returned never changes and always indexes the same instrument. :meth:`InstrumentTable.take`
gives rows and columns from one consistent state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import InvalidInputError
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
        self._lock = threading.RLock()  # appends and materialisation
        # Risk arrays per scenario set (see risk_rows): key -> (rows x scenarios, done mask).
        self._risk: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def __getstate__(self) -> dict[str, object]:  # picklable (Dask ships markets): no lock
        with self._lock:
            state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.instruments)

    def code_of(self, text: str) -> int | None:
        """The code of a string column value, None if no row has it."""
        return self._code_of.get(text)

    def code(self, text: str) -> int:
        c = self._code_of.get(text)
        if c is None:
            with self._lock:
                c = self._code_of.get(text)
                if c is None:
                    self.codes.append(text)  # the code is published after its text
                    c = self._code_of[text] = len(self.codes) - 1
        return c

    def rows(self, names: Sequence[str], *, field: str = "instrument") -> np.ndarray:
        """Row of each name (int64), adding the names the table has not seen. A name that
        cannot be parsed or valued raises the typed error with its position in ``names``; the
        table is left as it was (nothing is added from a failing call)."""
        try:  # every name known: one lookup each, straight into the array
            return np.fromiter(map(self._row.__getitem__, names), dtype=np.int64, count=len(names))
        except (KeyError, TypeError):  # a new name (or not a name): the slow path says which
            pass
        with self._lock:
            return self._add_rows(names, field)

    def _add_rows(self, names: Sequence[str], field: str) -> np.ndarray:
        """The slow path of :meth:`rows`, under the lock: values the new names, then appends
        them, publishing each name's row last."""
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
            row = len(self.instruments)
            self.instruments.append(inst)
            for k, v in values.items():
                self._cols[k].append(v)
            self._arrays = None
            self._row[name] = row  # published last: the row is complete when visible
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
        with self._lock:
            if self._arrays is None:
                arrays: dict[str, np.ndarray] = {}
                for k, dt in _COLUMNS.items():
                    a: np.ndarray = np.asarray(self._cols[k], dtype=dt)
                    a.flags.writeable = False
                    arrays[k] = a
                arrays["delta_forward"] = _delta_forward(arrays)
                # each row's expiry as its rank among the table's expiry keys (sorted):
                # per-expiry sums by bincount, in expiry order, with no sort per call
                rank = np.unique(arrays["expiry_key"], return_inverse=True)[1].reshape(-1)
                arrays["expiry_rank"] = rank.astype(np.int64)
                arrays["expiry_rank"].flags.writeable = False
                self._arrays = arrays
            return self._arrays

    def column(self, name: str) -> np.ndarray:
        """One column as a read-only array (see the class docstring for the names); it
        covers at least every row returned by :meth:`rows` before the call."""
        if name not in _COLUMNS and name not in _DERIVED:
            raise InvalidInputError(f"no column {name!r}", "column")
        return self._materialise()[name]

    def take(self, names: Sequence[str], *columns: str) -> tuple[np.ndarray, ...]:
        """The rows of ``names`` (added if new, as :meth:`rows`) and then each named column at
        those rows, from one consistent state: ``rows, kind, forward = take(names, "kind",
        "forward")``."""
        for c in columns:
            if c not in _COLUMNS and c not in _DERIVED:
                raise InvalidInputError(f"no column {c!r}", "column")
        rows = self.rows(names)
        return (rows, *self.take_rows(rows, *columns))

    def take_rows(self, rows: np.ndarray, *columns: str) -> tuple[np.ndarray, ...]:
        """Each named column at ``rows`` (row ids from :meth:`rows`), from one state."""
        for c in columns:
            if c not in _COLUMNS and c not in _DERIVED:
                raise InvalidInputError(f"no column {c!r}", "column")
        arrays = self._materialise()
        return tuple(arrays[c][rows] for c in columns)

    def risk_rows(
        self,
        rows: np.ndarray,
        key: bytes,
        n_scenarios: int,
        compute: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """The risk arrays of ``rows`` under the scenario set ``key`` (a fresh array the
        caller may change): rows revalued before under that set are read back, the others
        computed by ``compute(rows) -> (len(rows), n_scenarios)`` and kept. Risk arrays are a
        function of the snapshot and the scenario set only (the kernel values each row on its
        own), so an instrument is revalued once per snapshot and scenario set, whatever the
        books that hold it. At most 16 scenario sets are kept per table (the oldest dropped)."""
        matrix, index, fresh = self.risk_matrix(rows, key, n_scenarios, compute)
        # a first call: the computed array is the answer (the kept copy is the table's own)
        return matrix if fresh else matrix[index]

    def risk_matrix(
        self,
        rows: np.ndarray,
        key: bytes,
        n_scenarios: int,
        compute: Callable[[np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """As :meth:`risk_rows`, without the gather: ``(matrix, index, fresh)`` with row
        ``rows[i]``'s risk arrays in ``matrix[index[i]]``. ``matrix`` is the table's kept
        matrix (read only) unless ``fresh``: then every row was computed by this call, in
        ``rows``' order, and ``index`` is ``arange(len(rows))``."""
        with self._lock:
            entry = self._risk.get(key)
        if entry is None:
            missing = rows
        else:
            _, done = entry
            have = np.zeros(len(rows), dtype=bool)
            inside = rows < len(done)
            have[inside] = done[rows[inside]]
            if have.all():
                return entry[0], rows, False
            missing = rows[~have]
        values = compute(missing)  # in the caller's order (a row asked twice: computed twice)
        with self._lock:
            matrix, done = self._risk.get(key, (np.empty((0, n_scenarios)), np.zeros(0, bool)))
            size = len(self.instruments)
            if len(done) < size:
                grown = np.empty((max(size, 2 * len(done)), n_scenarios))
                grown[: len(done)] = matrix
                mask = np.zeros(len(grown), dtype=bool)
                mask[: len(done)] = done
                matrix, done = grown, mask
            matrix[missing] = values
            done[missing] = True
            if key not in self._risk and len(self._risk) >= 16:
                self._risk.pop(next(iter(self._risk)))
            self._risk[key] = (matrix, done)
        if len(missing) == len(rows):
            return values, np.arange(len(rows)), True
        return matrix, rows, False

    def drop_risk_arrays(self) -> None:
        """Forgets every kept risk array (benchmarks time the revaluation with it)."""
        with self._lock:
            self._risk = {}

    def code_names(self, codes: np.ndarray) -> set[str]:
        """The distinct strings of a code column's values (e.g. ``column("pair")[rows]``):
        one comparison when they are all the same, a sort otherwise; no per-row Python."""
        if len(codes) == 0:
            return set()
        if (codes == codes[0]).all():
            return {self.codes[int(codes[0])]}
        return {self.codes[c] for c in np.unique(codes).tolist()}

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

# Columns computed from the others when the table is materialised (once per growth of the
# table): "delta_forward", the Black-76 dV/dF of each option per unit (the coin delta the
# margin models use), 1 for every other instrument.
_DERIVED = ("delta_forward", "expiry_rank")


def _delta_forward(arrays: dict[str, np.ndarray]) -> np.ndarray:
    from ..enums import Greek
    from ..pricing import black76_greeks

    out = np.ones(len(arrays["kind"]))
    opt = np.flatnonzero(arrays["kind"] == int(InstrumentKind.OPTION))
    if opt.size:
        g = black76_greeks(
            arrays["forward"][opt],
            arrays["strike"][opt],
            arrays["time"][opt],
            arrays["vol"][opt],
            arrays["rate"][opt],
            arrays["is_call"][opt].astype(bool),
            which=Greek.DELTA_FORWARD,
        )
        assert g.delta_forward is not None
        out[opt] = g.delta_forward
    out.flags.writeable = False
    return out
