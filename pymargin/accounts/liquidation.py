# SPDX-License-Identifier: Apache-2.0
"""Liquidation risk: where an account's equity meets its maintenance margin.

Under portfolio margin the margin itself moves with the market, so there is no single
liquidation price: :func:`distance_to_liquidation` finds every spot move (for each vol
scenario) at which equity = maintenance margin, by scanning a grid of moves and bisecting each
sign change of equity - MM; :func:`liquidation_surface` gives the maintenance-margin ratio over
a spot x vol grid. Margins are recomputed on the moved market by the account's model (Deribit
S:PM by default), equity by revaluing everything (futures booked at today's marks when they
have no entry price, so their P&L shows).

Status thresholds (Deribit's): maintenance margin >=
margin balance starts liquidation; initial margin >= margin balance (available funds below 0)
is a margin call (only risk-reducing orders are accepted).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.market import Market
from .account import Account, MarginMode, account_summary, marked, moved_account

__all__ = [
    "LiquidationStatus",
    "distance_to_liquidation",
    "liquidation_surface",
    "margin_status",
    "nearest_liquidation",
]


class LiquidationStatus(enum.Enum):
    HEALTHY = "healthy"
    MARGIN_CALL = "margin call"
    LIQUIDATION = "liquidation"


@dataclass(frozen=True)
class Status:
    status: LiquidationStatus
    margin_balance_usd: float
    initial_margin_usd: float
    maintenance_margin_usd: float
    mm_ratio: float


def margin_status(
    account: Account, market: Market, mode: MarginMode = MarginMode.SEGREGATED_PORTFOLIO
) -> Status:
    """The account's status under ``mode`` (thresholds in the module docstring)."""
    s = account_summary(account, market, mode)
    if s.maintenance_margin_usd >= s.margin_balance_usd and s.maintenance_margin_usd > 0:
        st = LiquidationStatus.LIQUIDATION
    elif s.initial_margin_usd >= s.margin_balance_usd and s.initial_margin_usd > 0:
        st = LiquidationStatus.MARGIN_CALL
    else:
        st = LiquidationStatus.HEALTHY
    return Status(
        st,
        s.margin_balance_usd,
        s.initial_margin_usd,
        s.maintenance_margin_usd,
        s.maintenance_margin_ratio,
    )


def _gap(account: Account, market: Market, move: float, vol: float, mode: MarginMode) -> float:
    unds = list(market.index)
    moved = market.shifted(dict.fromkeys(unds, move), dict.fromkeys(unds, vol))
    s = account_summary(moved_account(account, market, moved), moved, mode)
    return s.margin_balance_usd - s.maintenance_margin_usd


def distance_to_liquidation(
    account: Account,
    market: Market,
    *,
    vol_scales: tuple[float, ...] = (0.75, 1.0, 1.5),
    lo: float = -0.9,
    hi: float = 2.0,
    points: int = 121,
    mode: MarginMode = MarginMode.SEGREGATED_PORTFOLIO,
    tol: float = 1e-6,
) -> dict[float, list[float]]:
    """For each implied-vol factor, every spot move in [lo, hi] (all underlyings together) at
    which margin balance = maintenance margin: scan ``points`` moves, then bisect each sign
    change to ``tol``. An empty list: no liquidation in the range. Under isolated margin each
    position has its own liquidation: see :func:`nearest_liquidation`."""
    if mode is MarginMode.ISOLATED:
        raise InvalidInputError(
            "an isolated account has no one liquidation move; use nearest_liquidation or "
            "the summary's IsolatedPosition list",
            "mode",
        )
    if not (math.isfinite(tol) and tol > 0):
        raise InvalidInputError("must be finite and > 0", "tol")
    if not (-1.0 < lo < hi and math.isfinite(hi)):
        raise InvalidInputError("need -1 < lo < hi, both finite", "lo")
    if points < 3:
        raise InvalidInputError("must be >= 3", "points")
    acct = marked(account, market)
    grid = np.linspace(lo, hi, points)
    out: dict[float, list[float]] = {}
    for v in vol_scales:
        if not v > 0:
            raise InvalidInputError("must be > 0", "vol_scales")
        gaps = np.array([_gap(acct, market, float(m), v, mode) for m in grid])
        roots = []
        for k in range(points - 1):
            a, b = float(grid[k]), float(grid[k + 1])
            ga, gb = gaps[k], gaps[k + 1]
            if ga == 0.0:
                roots.append(a)
                continue
            if ga * gb > 0:
                continue
            for _ in range(200):
                mid = 0.5 * (a + b)
                gm = _gap(acct, market, mid, v, mode)
                if (gm > 0) == (ga > 0):
                    a, ga = mid, gm
                else:
                    b = mid
                if b - a < tol:
                    break
            roots.append(0.5 * (a + b))
        out[float(v)] = roots
    return out


def nearest_liquidation(
    account: Account, market: Market, mode: MarginMode = MarginMode.SEGREGATED_PORTFOLIO
) -> float | None:
    """The spot move (all underlyings together, vols unchanged) nearest today at which the
    account, or under isolated margin its first position, is liquidated; 0.0 when it already
    is, None when no move in -90 % .. +200 % reaches it."""
    if mode is MarginMode.ISOLATED:
        from .isolated import nearest_move

        return nearest_move(account_summary(account, market, mode).details)
    acct = marked(account, market)
    if not _gap(acct, market, 0.0, 1.0, mode) > 0:
        return 0.0
    roots = distance_to_liquidation(acct, market, vol_scales=(1.0,), mode=mode)[1.0]
    return min(roots, key=abs) if roots else None


def liquidation_surface(
    account: Account,
    market: Market,
    moves: np.ndarray | None = None,
    vol_scales: np.ndarray | None = None,
    *,
    mode: MarginMode = MarginMode.SEGREGATED_PORTFOLIO,
) -> dict[str, Any]:
    """Maintenance-margin ratio (MM / margin balance; >= 1 means liquidation; inf when the
    balance is gone) over ``moves`` x ``vol_scales`` (defaults: -60 % .. +100 % x 0.5 .. 2)."""
    mv = np.linspace(-0.6, 1.0, 33) if moves is None else np.asarray(moves, dtype=float)
    vs = np.array([0.5, 0.75, 1.0, 1.5, 2.0]) if vol_scales is None else np.asarray(vol_scales)
    acct = marked(account, market)
    unds = list(market.index)
    ratio = np.empty((len(vs), len(mv)))
    for i, v in enumerate(vs):
        for j, m in enumerate(mv):
            moved = market.shifted(dict.fromkeys(unds, float(m)), dict.fromkeys(unds, float(v)))
            held = moved_account(acct, market, moved)
            ratio[i, j] = account_summary(held, moved, mode).maintenance_margin_ratio
    return {"moves": mv, "vol_scales": vs, "mm_ratio": ratio}
