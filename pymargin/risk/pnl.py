# SPDX-License-Identifier: Apache-2.0
"""Portfolio P&L under joint scenarios of several underlyings (full revaluation by the kernel,
a chunk of scenarios at a time), and the portfolio's underlyings in a stable order: shared by
VaR, stress tests, the Greek-netting model's curvature, hedging and the optimiser."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..pricing import inverse_price, threads_argument
from .scenarios import ScenarioSet, VolShockRule

__all__ = ["coins_of", "portfolio_underlyings", "scenario_pnl"]


def _checked_moves(spot_move: Any, n_underlyings: int, chunk: Any, threads: Any) -> np.ndarray:
    """The moves as a (scenarios, underlyings) float array; chunk an integer >= 1, threads None
    or an integer >= 0."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InvalidInputError("must be an integer >= 1", "chunk")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 0
    ):
        raise InvalidInputError("must be an integer >= 0 (0: all cores)", "threads")
    moves = np.asarray(spot_move, dtype=np.float64)
    if moves.ndim != 2 or moves.shape[1] != n_underlyings:
        raise InvalidInputError("must have shape (scenarios, underlyings)", "spot_move")
    return moves


def scenario_pnl(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    underlyings: tuple[str, ...],
    spot_move: np.ndarray,
    vol_scale: np.ndarray | None = None,
    *,
    threads: int | None = None,
    chunk: int = 1024,
) -> np.ndarray:
    """Portfolio P&L in USD under joint scenarios: ``spot_move[j, k]`` the relative move of
    ``underlyings[k]`` (e.g. ``"BTC_USD"``), ``vol_scale[j, k]`` the factor on its implied vols.
    Full revaluation by the kernel, a chunk of scenarios at a time (bounded memory)."""
    pf = as_portfolio(portfolio)
    names = list(pf.positions)
    if not names:
        raise InvalidInputError("no positions", "portfolio")
    moves = _checked_moves(spot_move, len(underlyings), chunk, threads)
    scales = None if vol_scale is None else np.asarray(vol_scale, dtype=np.float64)
    table = market.table
    rows = table.rows(names)
    size = np.array(list(pf.positions.values()))
    und_codes = table.column("underlying")[rows]
    col_of = {}
    for k, u in enumerate(underlyings):
        code = table.code_of(u)
        if code is not None:
            col_of[code] = k
    missing = [table.codes[int(c)] for c in np.unique(und_codes) if int(c) not in col_of]
    if missing:
        raise InvalidInputError(f"no scenario moves for {missing}", "underlyings")
    und_col = np.array([col_of[int(c)] for c in und_codes])
    inverse = table.column("settlement")[rows] == int(Settlement.INVERSE)
    index = np.array([market.index_price(u) for u in underlyings])
    # Inverse positions are worth V coin now (options; 0 for futures): their USD P&L is the
    # change of V x index, (V + dV) S' - V S = dV S' + V (S' - S).
    value_coin = np.zeros(len(rows))
    inv_opt = inverse & (table.column("kind")[rows] == int(InstrumentKind.OPTION))
    if inv_opt.any():
        r = rows[inv_opt]
        value_coin[inv_opt] = inverse_price(
            table.column("forward")[r],
            table.column("strike")[r],
            table.column("time")[r],
            table.column("vol")[r],
            table.column("rate")[r],
            table.column("is_call")[r].astype(bool),
        )
    rules = tuple(VolShockRule() for _ in underlyings)
    # Per underlying, the inverse positions' coin P&L is valued at that scenario's index:
    # sum_i q_i (dV_i S' + V_i (S' - S)) = S' (q . dV) + (q . V)(S' - S) over the group, one
    # matrix-vector product per group (no converted copy of the risk arrays).
    groups = []
    for k in range(len(underlyings)):
        inv = np.flatnonzero(inverse & (und_col == k))
        # all rows: a slice (a view), not a fancy-index copy of the chunk's risk arrays
        sel = slice(None) if inv.size == len(rows) else inv
        groups.append((k, sel, inv.size, float(size[inv] @ value_coin[inv])))
    linear = np.flatnonzero(~inverse)
    out = np.empty(moves.shape[0])
    # Every input checked once (the scenario set of the whole run), then the kernel writes each
    # chunk's risk arrays into one buffer reused across chunks (no fresh positions x chunk
    # array per chunk).
    ScenarioSet(
        tuple(underlyings),
        moves,
        np.zeros(moves.shape[0], dtype=np.int8),
        rules,
        vol_scale=scales,
    )
    cols = ("kind", "settlement", "is_call", "strike", "forward", "vol", "time", "rate")
    kind, settle, is_call, strike, forward, vol, time, rate = table.take_rows(rows, *cols)
    und_idx = und_col.astype(np.int32)
    rules_rows = np.array([r.as_row() for r in rules], dtype=np.float64)
    states = np.zeros(chunk, dtype=np.int8)
    buffer = np.empty(len(rows) * min(chunk, moves.shape[0]))
    for a in range(0, moves.shape[0], chunk):
        b = min(a + chunk, moves.shape[0])
        mv = np.ascontiguousarray(moves[a:b])
        risk = buffer[: len(rows) * (b - a)].reshape(len(rows), b - a)
        _core.revalue(
            kind,
            settle,
            is_call,
            und_idx,
            strike,
            forward,
            vol,
            time,
            rate,
            mv,
            states[: b - a],
            rules_rows,
            len(underlyings),
            risk,
            threads_argument(threads),
            None if scales is None else np.ascontiguousarray(scales[a:b]),
        )
        total = size[linear] @ risk[linear] if linear.size else np.zeros(b - a)
        for k, sel, count, held in groups:
            if count:
                s_new = index[k] * (1.0 + mv[:, k])
                total = total + (size[sel] @ risk[sel]) * s_new + held * (s_new - index[k])
        out[a:b] = total
    return out


def portfolio_underlyings(pf: Portfolio, market: Market) -> tuple[str, ...]:
    """The portfolio's underlyings, sorted: results (Monte Carlo paths, the layout of a
    user-given covariance) do not depend on the order of the positions."""
    if not pf.positions:  # an empty book has no underlying (and no P&L distribution)
        raise InvalidInputError("no positions", "portfolio")
    table = market.table
    rows = table.rows(list(pf.positions))
    return tuple(sorted(table.code_names(table.column("underlying")[rows])))


def coins_of(unds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(u.split("_")[0] for u in unds)
