# SPDX-License-Identifier: Apache-2.0
"""Stress tests: a library of named historical scenarios measured on the bundled history (the
actual 1-day and multi-day moves of BTC and ETH and of their DVOL implied-vol indices),
synthetic ones (spot x vol grids beyond the margin grid, a correlation break, vol-of-vol),
user-defined ones; the reverse stress test; and the venue-level stress of many accounts.

Every scenario is applied by full revaluation (the C++ kernel); P&L in USD.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError, PymarginError
from ..market.history import SeriesKind, load_series
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio

__all__ = [
    "HISTORICAL_EVENTS",
    "Direction",
    "StressScenario",
    "historical_scenarios",
    "reverse_stress",
    "stress_accounts",
    "stress_test",
    "synthetic_scenarios",
]


class Direction(enum.Enum):
    """Which way :func:`reverse_stress` moves spot."""

    DOWN = "down"
    UP = "up"


@dataclass(frozen=True)
class StressScenario:
    """Moves per underlying (``{"BTC_USD": -0.3}``) and implied-vol factors; underlyings not
    listed stay put. ``source`` says where the numbers come from."""

    name: str
    moves: dict[str, float]
    vol_scale: dict[str, float] = field(default_factory=dict)
    source: str = "user"


# (name, first day (the close before the move), last day, what happened)
HISTORICAL_EVENTS: tuple[tuple[str, str, str, str], ...] = (
    ("COVID crash", "2020-03-11", "2020-03-12", "Black Thursday, 12 March 2020"),
    ("COVID week", "2020-03-06", "2020-03-13", "the week of 12 March 2020"),
    ("China mining ban", "2021-05-18", "2021-05-19", "19 May 2021"),
    ("May 2021 sell-off", "2021-05-12", "2021-05-23", "12-23 May 2021"),
    ("LUNA collapse", "2022-05-06", "2022-05-12", "Terra/LUNA, 6-12 May 2022"),
    ("Celsius / 3AC", "2022-06-10", "2022-06-18", "Celsius freeze and 3AC, June 2022"),
    ("FTX collapse", "2022-11-07", "2022-11-09", "FTX, 7-9 November 2022"),
    ("FTX week", "2022-11-05", "2022-11-12", "FTX, week to 12 November 2022"),
    ("US election rally", "2024-11-05", "2024-11-12", "5-12 November 2024 (upside)"),
)


def historical_scenarios(
    coins: tuple[str, ...] = ("BTC", "ETH"),
) -> list[StressScenario]:
    """The named events of :data:`HISTORICAL_EVENTS` measured on the bundled daily closes:
    spot move close-to-close, implied-vol factor from DVOL where it exists (from 2021-03-24;
    earlier events leave vols unchanged and say so)."""
    spot = {c: load_series(c, SeriesKind.SPOT) for c in coins}
    dvol = {c: load_series(c, SeriesKind.DVOL) for c in coins}
    out = []
    for name, a, b, what in HISTORICAL_EVENTS:
        moves: dict[str, float] = {}
        vols: dict[str, float] = {}
        notes = []
        for c in coins:
            try:
                moves[f"{c}_USD"] = spot[c].at(b) / spot[c].at(a) - 1.0
            except InvalidInputError:
                continue
            try:
                vols[f"{c}_USD"] = dvol[c].at(b) / dvol[c].at(a)
            except InvalidInputError:
                notes.append(f"{c} implied vol unknown (no DVOL)")
        src = f"bundled closes {a} -> {b}: {what}" + (f"; {', '.join(notes)}" if notes else "")
        out.append(StressScenario(name, moves, vols, src))
    return out


def synthetic_scenarios(underlyings: tuple[str, ...] = ("BTC_USD",)) -> list[StressScenario]:
    """A spot x vol grid beyond Deribit's margin grid (moves -60 % .. +150 %, vols x0.5 .. x2),
    vol-of-vol shocks at unchanged spot (vols x0.3 and x3), and, with two or more
    underlyings, correlation breaks (the first falls 30 % while the others rise 30 %, and
    the reverse)."""
    out = []
    for m in (-0.6, -0.4, -0.25, -0.1, 0.1, 0.25, 0.5, 1.0, 1.5):
        for v in (0.5, 1.0, 2.0):
            out.append(
                StressScenario(
                    f"spot {m:+.0%}, vol x{v:g}",
                    dict.fromkeys(underlyings, m),
                    dict.fromkeys(underlyings, v),
                    "synthetic grid",
                )
            )
    for v in (0.3, 3.0):
        out.append(
            StressScenario(f"vol-of-vol x{v:g}", {}, dict.fromkeys(underlyings, v), "synthetic")
        )
    if len(underlyings) > 1:
        first, rest = underlyings[0], underlyings[1:]
        for sign in (-1.0, 1.0):
            moves = {first: 0.3 * sign, **dict.fromkeys(rest, -0.3 * sign)}
            out.append(
                StressScenario(
                    f"correlation break: {first} {0.3 * sign:+.0%}, others {-0.3 * sign:+.0%}",
                    moves,
                    {},
                    "synthetic correlation break",
                )
            )
    return out


def _pnl(portfolio: Portfolio, market: Market, scenarios: list[StressScenario]) -> np.ndarray:
    from ..risk.pnl import portfolio_underlyings, scenario_pnl

    unds = portfolio_underlyings(portfolio, market)
    spot = np.array([[s.moves.get(u, 0.0) for u in unds] for s in scenarios])
    vol = np.array([[s.vol_scale.get(u, 1.0) for u in unds] for s in scenarios])
    return scenario_pnl(portfolio, market, unds, spot, vol)


def stress_test(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    scenarios: list[StressScenario] | None = None,
) -> list[tuple[StressScenario, float]]:
    """P&L (USD) of the portfolio under each scenario (default: the historical library and the
    synthetic set for its underlyings), worst first."""
    pf = as_portfolio(portfolio)
    if scenarios is None:
        from ..risk.pnl import portfolio_underlyings

        scenarios = historical_scenarios() + synthetic_scenarios(portfolio_underlyings(pf, market))
    if not scenarios:
        raise InvalidInputError("no scenarios", "scenarios")
    pnl = _pnl(pf, market, scenarios)
    order = np.argsort(pnl, kind="stable")
    return [(scenarios[int(i)], float(pnl[int(i)])) for i in order]


def reverse_stress(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    equity_usd: float,
    *,
    direction: Direction = Direction.DOWN,
    vol_beta: float = 0.0,
    max_move: float = 0.95,
) -> dict[str, Any]:
    """The smallest move that exhausts ``equity_usd``: the spot move m (every underlying by
    m, ``direction`` DOWN or UP) at which the portfolio's P&L reaches -equity, with the
    implied vols scaled by exp(-vol_beta m) along the path (vol_beta > 0: vols rise as spot
    falls; 0: spot alone). Found by scanning and bisection; None when no move up to
    ``max_move`` (down) or 10 x ``max_move`` (up) exhausts it."""
    from ..risk.pnl import portfolio_underlyings, scenario_pnl

    pf = as_portfolio(portfolio)
    if not (isinstance(equity_usd, (int, float)) and math.isfinite(equity_usd) and equity_usd > 0):
        raise InvalidInputError("must be finite and > 0", "equity_usd")
    try:
        way = Direction(direction)
    except ValueError:
        raise InvalidInputError(
            "a pymargin.analytics.stress.Direction (DOWN or UP)", "direction"
        ) from None
    if not (isinstance(max_move, (int, float)) and 0 < max_move < 1):
        raise InvalidInputError("must be in (0, 1)", "max_move")
    unds = portfolio_underlyings(pf, market)
    sign = -1.0 if way is Direction.DOWN else 1.0
    top = max_move if way is Direction.DOWN else 10.0 * max_move
    if (
        not (isinstance(vol_beta, (int, float)) and math.isfinite(vol_beta))
        or abs(vol_beta * top) > 50
    ):
        raise InvalidInputError(
            "must be finite, with |vol_beta| x the largest move <= 50", "vol_beta"
        )

    def pnl_at(t: np.ndarray) -> np.ndarray:
        m = sign * t
        spot = np.repeat(m[:, None], len(unds), axis=1)
        vol = np.repeat(np.exp(-vol_beta * m)[:, None], len(unds), axis=1)
        return scenario_pnl(pf, market, unds, spot, vol)

    grid = np.linspace(0.0, top, 400)[1:]
    gap = pnl_at(grid) + equity_usd
    hit = np.flatnonzero(gap <= 0)
    if not hit.size:
        return {"move": None, "equity_usd": equity_usd, "direction": direction}
    hi = float(grid[hit[0]])
    lo = float(grid[hit[0] - 1]) if hit[0] > 0 else 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if pnl_at(np.array([mid]))[0] + equity_usd <= 0:
            hi = mid
        else:
            lo = mid
    return {
        "move": sign * hi,
        "vol_scale": float(np.exp(-vol_beta * sign * hi)),
        "equity_usd": equity_usd,
        "direction": direction,
    }


def stress_accounts(
    accounts: list[Any],
    market: Market,
    scenario: StressScenario,
) -> dict[str, Any]:
    """A scenario applied to every account (pymargin.Account): each account re-margined
    (Deribit S:PM) on the moved market; reports the accounts under maintenance (MM >= margin
    balance), each one's shortfall (how far equity falls below zero, which its collateral no
    longer covers), and the totals."""
    from ..accounts.account import MarginMode, account_summary, marked, moved_account

    moved = market.shifted(scenario.moves, scenario.vol_scale)
    rows = []
    for k, original in enumerate(accounts):
        acct = marked(original, market)  # futures booked at today's marks: their P&L shows
        before = account_summary(acct, market, MarginMode.SEGREGATED_PORTFOLIO)
        after = account_summary(
            moved_account(acct, market, moved), moved, MarginMode.SEGREGATED_PORTFOLIO
        )
        rows.append(
            {
                "account": k,
                "equity_before": before.equity_usd,
                "equity_after": after.equity_usd,
                "maintenance_after": after.maintenance_margin_usd,
                # as margin_status: MM must be positive (an empty account is not under it)
                "under_maintenance": after.maintenance_margin_usd > 0
                and after.maintenance_margin_usd >= after.margin_balance_usd,
                "shortfall": max(0.0, -after.equity_usd),
            }
        )
    return {
        "scenario": scenario.name,
        "accounts": rows,
        "under_maintenance": sum(r["under_maintenance"] for r in rows),
        "total_shortfall": sum(r["shortfall"] for r in rows),
    }


def read_scenarios(path: str | Path) -> list[StressScenario]:
    """Stress scenarios from a file: CSV with one row per scenario and underlying (columns
    ``name``, ``underlying``, ``move``, optionally ``vol_scale`` and ``source``; rows of one
    name form one scenario), or JSON, a list of ``{"name", "moves": {"BTC_USD": -0.3},
    "vol_scale": {...}, "source"}``. Underlyings are ``BTC_USD`` or just ``BTC``; a move is
    relative (-0.3 = -30 %) and > -1, a vol scale > 0. Errors name the file, row and field."""
    from ..exceptions import FileInputError
    from ..files import csv_records, load_json, open_file

    p = open_file(path)
    try:
        if p.suffix.lower() == ".csv":
            records = csv_records(p)
            if not records or not {"name", "underlying", "move"} <= set(records[0]):
                raise InvalidInputError("needs the columns name, underlying and move", "header")
            by_name: dict[str, dict[str, Any]] = {}
            for row, r in enumerate(records):
                s = by_name.setdefault(
                    _name(r.get("name"), row),
                    {"moves": {}, "vol_scale": {}, "source": r.get("source") or f"{p.name}"},
                )
                und = _underlying(r.get("underlying"), row)
                if und in s["moves"]:
                    raise InvalidInputError(
                        f"{und} given twice for this scenario", "underlying", row
                    )
                s["moves"][und] = _number(r.get("move"), "move", row, -1.0)
                if r.get("vol_scale") not in (None, ""):
                    s["vol_scale"][und] = _number(r.get("vol_scale"), "vol_scale", row, 0.0)
            return [
                StressScenario(n, s["moves"], s["vol_scale"], s["source"])
                for n, s in by_name.items()
            ]
        doc = load_json(p)
        if not isinstance(doc, list) or not doc:
            raise InvalidInputError("expected a list of scenarios", "scenarios")
        out = []
        for row, d in enumerate(doc):
            if not isinstance(d, dict) or not isinstance(d.get("moves"), dict) or not d["moves"]:
                raise InvalidInputError("each scenario has a name and moves", "moves", row)
            moves = {
                _underlying(u, row): _number(m, "moves", row, -1.0) for u, m in d["moves"].items()
            }
            vols = d.get("vol_scale", {})
            if not isinstance(vols, dict):
                raise InvalidInputError(
                    "must be a mapping of underlying to factor", "vol_scale", row
                )
            scale = {
                _underlying(u, row): _number(v, "vol_scale", row, 0.0) for u, v in vols.items()
            }
            src = d.get("source", p.name)
            out.append(StressScenario(_name(d.get("name"), row), moves, scale, str(src)))
        return out
    except FileInputError:
        raise
    except PymarginError as e:
        raise FileInputError(str(path), e) from None


def _name(v: Any, row: int) -> str:
    if not isinstance(v, str) or not v.strip():
        raise InvalidInputError("a scenario needs a name", "name", row)
    return v.strip()


def _underlying(v: Any, row: int) -> str:
    if not isinstance(v, str) or not v.strip().replace("_", "").isalnum():
        raise InvalidInputError(f"not an underlying: {v!r}", "underlying", row)
    u = v.strip().upper()
    return u if "_" in u else f"{u}_USD"


def _number(v: Any, field_name: str, row: int, above: float) -> float:
    try:
        x = float(v) if isinstance(v, (str, int, float)) and not isinstance(v, bool) else math.nan
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > above):
        raise InvalidInputError(f"must be a finite number > {above:g}, got {v!r}", field_name, row)
    return x
