"""Risk arrays: the P&L of one unit position of each instrument under each scenario, in the
instrument's settlement currency (coin for inverse instruments, USD for linear ones)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from . import _core
from .exceptions import InvalidInputError
from .instruments import Instrument, InstrumentKind
from .market import Market
from .scenarios import ScenarioSet

__all__ = ["aggregate", "risk_arrays", "risk_arrays_for_rows"]


def risk_arrays(
    instruments: Sequence[Instrument],
    market: Market,
    scenarios: ScenarioSet,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Full revaluation: an ``(instruments, scenarios)`` array of P&L per unit position (one
    coin of underlying). Options are repriced by Black-76 on their shocked underlying price
    with shocked vols; inverse options and futures give coin P&L as the venue computes it."""
    n = len(instruments)
    kind = np.empty(n, np.uint8)
    settlement = np.empty(n, np.uint8)
    is_call = np.zeros(n, np.uint8)
    und = np.empty(n, np.int32)
    strike = np.zeros(n)
    forward = np.empty(n)
    vol = np.zeros(n)
    time = np.zeros(n)
    rate = np.zeros(n)
    index_of = {u: i for i, u in enumerate(scenarios.underlyings)}
    valuation: datetime = market.valuation_time
    for i, inst in enumerate(instruments):
        if inst.underlying not in index_of:
            raise InvalidInputError(
                f"{inst.name}: no scenarios for {inst.underlying}", "instrument", i
            )
        kind[i] = inst.kind
        settlement[i] = inst.settlement
        und[i] = index_of[inst.underlying]
        forward[i] = market.underlying_price(inst, row=i)
        if inst.kind is InstrumentKind.OPTION:
            assert inst.strike is not None and inst.option_type is not None
            is_call[i] = int(inst.option_type)
            strike[i] = inst.strike
            vol[i] = market.implied_vol(inst, row=i)
            time[i] = inst.time_to_expiry(valuation)
            if time[i] <= 0.0:
                raise InvalidInputError(
                    f"{inst.name} has expired at the valuation time", "instrument", i
                )
    out = np.empty((n, scenarios.n))
    _core.revalue(
        kind,
        settlement,
        is_call,
        und,
        strike,
        forward,
        vol,
        time,
        rate,
        scenarios.move,
        scenarios.vol_state,
        scenarios.rules_array(),
        len(scenarios.underlyings),
        out,
        0 if threads is None else int(threads),
    )
    return out


def risk_arrays_for_rows(
    market: Market,
    rows: np.ndarray,
    scenarios: ScenarioSet,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """:func:`risk_arrays` for rows of ``market.table`` (see :meth:`InstrumentTable.rows`):
    the columns go to the kernel as arrays, with no per-instrument Python step."""
    table = market.table
    und_codes = table.column("underlying")[rows]
    lookup = np.full(max(len(table.codes), 1), -1, dtype=np.int32)
    for i, u in enumerate(scenarios.underlyings):
        code = table.code_of(u)
        if code is not None:
            lookup[code] = i
    und = lookup[und_codes]
    if (und < 0).any():
        bad = int(np.argmax(und < 0))
        raise InvalidInputError(
            f"{table.name_of(int(rows[bad]))}: no scenarios for its underlying", "instrument", bad
        )
    n = len(rows)
    out = np.empty((n, scenarios.n))
    _core.revalue(
        table.column("kind")[rows],
        table.column("settlement")[rows],
        table.column("is_call")[rows],
        und,
        table.column("strike")[rows],
        table.column("forward")[rows],
        table.column("vol")[rows],
        table.column("time")[rows],
        table.column("rate")[rows],
        scenarios.move,
        scenarios.vol_state,
        scenarios.rules_array(),
        len(scenarios.underlyings),
        out,
        0 if threads is None else int(threads),
    )
    return out


def aggregate(
    risk: np.ndarray, index: np.ndarray, size: np.ndarray, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Scenario P&L of positions over cached risk arrays: ``sum_p size[p] * risk[index[p]]``
    (int64 row indices, float64 sizes), computed in C++ without copies."""
    res = np.empty(risk.shape[1]) if out is None else out
    _core.aggregate(
        risk, np.asarray(index, dtype=np.int64), np.asarray(size, dtype=np.float64), res
    )
    return res
