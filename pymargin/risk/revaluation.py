# SPDX-License-Identifier: Apache-2.0
"""Risk arrays: the P&L of one unit position of each instrument under each scenario, in the
instrument's settlement currency (coin for inverse instruments, USD for linear ones)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _core
from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import Instrument, InstrumentKind, Settlement
from ..market.market import Market
from ..pricing import threads_argument
from .scenarios import ScenarioSet

__all__ = ["aggregate", "mark_values", "revalue", "risk_arrays", "risk_arrays_for_rows"]


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
    rows = market.table.rows([inst.name for inst in instruments])
    return risk_arrays_for_rows(market, rows, scenarios, threads=threads)


def revalue(
    scenarios: ScenarioSet,
    *,
    strike: Any,
    forward: Any,
    vol: Any,
    time: Any,
    is_call: Any,
    kind: Any = InstrumentKind.OPTION,
    settlement: Any = Settlement.LINEAR,
    rate: Any = 0.0,
    underlying: Any = 0,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Risk arrays from plain arrays, no instrument table: the P&L of one unit of each
    instrument under each scenario, ``(instruments, scenarios)``, in its settlement currency
    (coin for inverse instruments), by the core's grid kernel.

    ``strike``, ``forward``, ``vol``, ``time`` (years), ``rate``, ``is_call`` (bools),
    ``kind`` (:class:`InstrumentKind` values), ``settlement`` (:class:`Settlement` values) and
    ``underlying`` (index into ``scenarios.underlyings``) are arrays of one length or scalars
    broadcast to it. ``out`` (float64, C-contiguous, ``(instruments, scenarios)``) is written
    in place when given. ``threads``: the most threads to use (default every core; a small
    grid runs on one). Inputs are checked first, naming the field and the row; on error
    nothing is written."""
    if not isinstance(scenarios, ScenarioSet):
        raise InputTypeError("expected a ScenarioSet", "scenarios")
    cols = {
        "strike": (strike, np.float64),
        "forward": (forward, np.float64),
        "vol": (vol, np.float64),
        "time": (time, np.float64),
        "rate": (rate, np.float64),
        "is_call": (is_call, np.uint8),
        "kind": (kind, np.uint8),
        "settlement": (settlement, np.uint8),
        "underlying": (underlying, np.int32),
    }
    arrays = {}
    n = None
    for name, (value, dtype) in cols.items():
        a = value if isinstance(value, np.ndarray) else np.asarray(value)
        if a.dtype == object or a.dtype.kind not in "biuf" or a.ndim > 1:
            raise InputTypeError("must be a number or a 1-D array of numbers", name)
        if dtype != np.float64 and a.dtype.kind == "f":
            raise InputTypeError("must be integers (enum values) or bools", name)
        if a.ndim == 1:
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise InvalidInputError("the arrays differ in length", name)
        arrays[name] = a
    n = 1 if n is None else n
    cast = {}
    for name, a in arrays.items():
        dtype = cols[name][1]
        if a.ndim == 0:
            cast[name] = np.full(n, a, dtype=dtype)
        elif a.dtype == np.bool_ and dtype == np.uint8 and a.flags.c_contiguous:
            cast[name] = a.view(np.uint8)
        else:
            cast[name] = np.ascontiguousarray(a, dtype=dtype)
    ns = scenarios.n
    if out is None:
        out = np.empty((n, ns))
    elif (
        not isinstance(out, np.ndarray)
        or out.dtype != np.float64
        or out.shape != (n, ns)
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise InputTypeError(
            f"must be a writeable C-contiguous float64 array of shape ({n}, {ns})", "out"
        )
    # an out= sharing memory with an input is written through scratch (the kernel reads its
    # inputs while it writes)
    target = out
    if any(np.may_share_memory(out, a) for a in cast.values()):
        target = np.empty_like(out)
    _kernel(
        cast["kind"],
        cast["settlement"],
        cast["is_call"],
        cast["underlying"],
        cast["strike"],
        cast["forward"],
        cast["vol"],
        cast["time"],
        cast["rate"],
        scenarios,
        target,
        threads,
    )
    if target is not out:
        out[...] = target
    return out


def _kernel(
    kind: np.ndarray,
    settlement: np.ndarray,
    is_call: np.ndarray,
    underlying: np.ndarray,
    strike: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    time: np.ndarray,
    rate: np.ndarray,
    scenarios: ScenarioSet,
    out: np.ndarray,
    threads: int | None,
) -> None:
    """The core's revaluation of instrument columns under ``scenarios`` into ``out``."""
    _core.revalue(
        kind,
        settlement,
        is_call,
        underlying,
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
        threads_argument(threads),
        scenarios.vol_scale,
    )


def risk_arrays_for_rows(
    market: Market,
    rows: np.ndarray,
    scenarios: ScenarioSet,
    *,
    threads: int | None = None,
    look_ahead: float = 0.0,
) -> np.ndarray:
    """:func:`risk_arrays` for rows of ``market.table`` (see :meth:`InstrumentTable.rows`):
    the columns go to the kernel as arrays, with no per-instrument Python step.

    ``look_ahead`` (years, >= 0): the scenarios are revalued that much later (options' time to
    expiry shortened, not below 0) and the P&L includes the time decay over it, as SPAN's risk
    arrays do; 0 (the default) revalues at the valuation time."""
    if not (isinstance(look_ahead, (int, float)) and math.isfinite(look_ahead) and look_ahead >= 0):
        raise InvalidInputError("must be a finite number of years >= 0", "look_ahead")
    table = market.table
    und = _underlying_index(table, rows, scenarios)
    if (und < 0).any():
        bad = int(np.argmax(und < 0))
        raise InvalidInputError(
            f"{table.name_of(int(rows[bad]))}: no scenarios for its underlying", "instrument", bad
        )
    if look_ahead == 0 and scenarios.vol_scale is None and scenarios.n <= _CACHED_SCENARIOS:
        # A grid: each instrument's rows are kept per snapshot and scenario set (the
        # design's "revalue instruments, not positions"); historical and Monte Carlo sets
        # (vol scales, many scenarios) are revalued per call.
        def compute(sub: np.ndarray) -> np.ndarray:
            return _revalue(market, sub, scenarios, threads, 0.0)

        return table.risk_rows(rows, _scenario_key(scenarios), scenarios.n, compute)
    return _revalue(market, rows, scenarios, threads, look_ahead)


def summed_pnl(
    market: Market,
    rows: np.ndarray,
    sizes: np.ndarray,
    scenarios: ScenarioSet,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """``sizes @ risk_arrays_for_rows(market, rows, scenarios)``, summed in position order by
    the core over the table's kept risk arrays (no copy of the rows' arrays)."""
    matrix, index = risk_matrix_for_rows(market, rows, scenarios, threads=threads)
    out = np.empty(scenarios.n)
    _core.aggregate(matrix, index, np.ascontiguousarray(sizes, dtype=np.float64), out)
    return out


def risk_matrix_for_rows(
    market: Market, rows: np.ndarray, scenarios: ScenarioSet, *, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`risk_arrays_for_rows` without the gather: ``(matrix, index)`` with row
    ``rows[i]``'s risk arrays in ``matrix[index[i]]`` (int64); ``matrix`` may be the table's
    kept matrix: read it, do not change it."""
    table = market.table
    if scenarios.vol_scale is None and scenarios.n <= _CACHED_SCENARIOS:
        und = _underlying_index(table, rows, scenarios)
        if (und < 0).any():
            bad = int(np.argmax(und < 0))
            raise InvalidInputError(
                f"{table.name_of(int(rows[bad]))}: no scenarios for its underlying",
                "instrument",
                bad,
            )

        def compute(sub: np.ndarray) -> np.ndarray:
            return _revalue(market, sub, scenarios, threads, 0.0)

        matrix, index, _ = table.risk_matrix(rows, _scenario_key(scenarios), scenarios.n, compute)
        return matrix, index.astype(np.int64, copy=False)
    values = risk_arrays_for_rows(market, rows, scenarios, threads=threads)
    return values, np.arange(len(rows), dtype=np.int64)


_CACHED_SCENARIOS = 256


def _underlying_index(table: Any, rows: np.ndarray, scenarios: ScenarioSet) -> np.ndarray:
    """Each row's underlying as an index into ``scenarios.underlyings`` (-1: not there)."""
    lookup = np.full(max(len(table.codes), 1), -1, dtype=np.int32)
    for i, u in enumerate(scenarios.underlyings):
        code = table.code_of(u)
        if code is not None:
            lookup[code] = i
    return lookup[table.column("underlying")[rows]]


def _scenario_key(s: ScenarioSet) -> bytes:
    """What the risk arrays depend on besides the snapshot: underlyings, moves, vol states and
    vol rules."""
    return b"|".join(
        (
            "\x1f".join(s.underlyings).encode(),
            np.ascontiguousarray(s.move).tobytes(),
            np.ascontiguousarray(s.vol_state, dtype=np.int8).tobytes(),
            s.rules_array().tobytes(),
        )
    )


def _revalue(
    market: Market,
    rows: np.ndarray,
    scenarios: ScenarioSet,
    threads: int | None,
    look_ahead: float,
) -> np.ndarray:
    """The kernel's risk arrays of ``rows`` (no cache)."""
    table = market.table
    cols = ("kind", "settlement", "is_call", "strike", "forward", "vol", "time", "rate")
    kind, settlement, is_call, strike, forward, vol, time, rate = table.take_rows(rows, *cols)
    und = _underlying_index(table, rows, scenarios)
    n = len(rows)
    decay = None
    if look_ahead > 0:
        option = kind == int(InstrumentKind.OPTION)
        later = np.where(option, np.maximum(time - look_ahead, 0.0), time)
        decay = _decay(settlement, is_call, strike, forward, vol, time, later, rate, option)
        time = later
    out = np.empty((n, scenarios.n))
    _kernel(
        kind, settlement, is_call, und, strike, forward, vol, time, rate, scenarios, out, threads
    )
    if decay is not None:  # the kernel's P&L is against the later value: add the decay to it
        out += decay[:, None]
    return out


def _decay(
    settlement: np.ndarray,
    is_call: np.ndarray,
    strike: np.ndarray,
    forward: np.ndarray,
    vol: np.ndarray,
    time: np.ndarray,
    later: np.ndarray,
    rate: np.ndarray,
    option: np.ndarray,
) -> np.ndarray:
    """Value at ``later`` minus value now per unit (settlement currency), options only."""
    from ..pricing import black76_price, inverse_price

    out = np.zeros(len(option))
    if not option.any():
        return out
    o = option
    inverse = settlement[o] == 1
    args = (forward[o], strike[o])
    typ = is_call[o].astype(bool)
    now = np.where(
        inverse,
        inverse_price(*args, time[o], vol[o], rate[o], typ),
        black76_price(*args, time[o], vol[o], rate[o], typ),
    )
    then = np.where(
        inverse,
        inverse_price(*args, later[o], vol[o], rate[o], typ),
        black76_price(*args, later[o], vol[o], rate[o], typ),
    )
    out[o] = then - now
    return out


def aggregate(
    risk: np.ndarray, index: np.ndarray, size: np.ndarray, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Scenario P&L of positions over cached risk arrays: ``sum_p size[p] * risk[index[p]]``
    (integer row indices, float64 sizes), computed in C++ without copies; a non-finite entry
    in a row used is refused (``risk[row]``) and ``out`` is then left as it was."""
    r = risk if isinstance(risk, np.ndarray) else np.asarray(risk)
    if r.ndim != 2 or r.dtype != np.float64:
        raise InputTypeError("must be a 2-D float64 array (instruments x scenarios)", "risk")
    ix = index if isinstance(index, np.ndarray) else np.asarray(index)
    if ix.ndim != 1 or (ix.size and ix.dtype.kind not in "iu"):
        raise InputTypeError("must be a 1-D array of integer row indices", "index")
    if isinstance(size, np.ndarray) and size.dtype == np.float64:
        q = size
    else:
        try:
            q = np.asarray(size, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputTypeError("must be numbers", "size") from None
    if q.shape != ix.shape:
        raise InvalidInputError("one size per index", "size")
    # indices in range and finite sizes: checked by the kernel before it writes; a non-finite
    # entry in a row used shows in the sum, which is computed aside and checked before ``out``
    # is touched (a cheaper test than scanning the rows on every call)
    res = np.empty(r.shape[1])
    _core.aggregate(r, ix.astype(np.int64, copy=False), q, res)
    if not np.isfinite(res).all():
        rows = np.unique(ix)
        bad = rows[~np.isfinite(r[rows]).all(axis=1)]
        if bad.size:
            raise InvalidInputError("the row holds a non-finite entry", "risk", int(bad[0]))
        raise InvalidInputError("the sum overflows", "size")
    if out is None:
        return res
    if not (isinstance(out, np.ndarray) and out.shape == res.shape and out.dtype == np.float64):
        raise InputTypeError(f"must be a float64 array of shape {res.shape}", "out")
    out[...] = res
    return out


def mark_values(market: Market, names: list[str], usd: bool) -> np.ndarray:
    """Mark value of one unit (one coin of underlying) of each instrument: options valued
    from the snapshot's forward, vol and rate; futures, perpetuals and spot 0 (their P&L is
    settled). In USD (``usd``; inverse options at the index) or in the settlement currency
    (coin for inverse instruments, USD for linear ones)."""
    from ..market.instruments import InstrumentKind, Settlement
    from ..pricing import black76_price, inverse_price

    table = market.table
    rows = table.rows(names)
    out = np.zeros(len(rows))
    opt = table.column("kind")[rows] == int(InstrumentKind.OPTION)
    if opt.any():
        r = rows[opt]
        f, k, t, v, rate = (
            table.column(c)[r] for c in ("forward", "strike", "time", "vol", "rate")
        )
        call = table.column("is_call")[r].astype(bool)
        inverse = table.column("settlement")[r] == int(Settlement.INVERSE)
        coin = inverse_price(f, k, t, v, rate, call)
        usd_value = black76_price(f, k, t, v, rate, call)
        if usd:
            index = np.array(
                [market.index_price(table.codes[int(c)]) for c in table.column("underlying")[r]]
            )
            coin = coin * index
        out[opt] = np.where(inverse, coin, usd_value)
    return out
