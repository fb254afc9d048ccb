# SPDX-License-Identifier: Apache-2.0
"""Bundled price and implied-volatility history (pymargin/data/history, sources in its README)
and the joint moves derived from it: spot returns and implied-vol changes per coin over a
horizon_days, the raw material of historical VaR and of the stress-scenario library."""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError

__all__ = ["JointMoves", "Series", "SeriesKind", "joint_moves", "load_series"]

COINS = ("BTC", "ETH")


class SeriesKind(enum.Enum):
    """A bundled daily series: the coin's USD close, or Deribit's DVOL index (per 1.00)."""

    SPOT = "spot"
    DVOL = "dvol"


@dataclass(frozen=True)
class Series:
    """Daily closes: ``dates`` (datetime64[D]) and ``values``."""

    dates: np.ndarray
    values: np.ndarray

    def at(self, day: str) -> float:
        i = int(np.searchsorted(self.dates, np.datetime64(day, "D")))
        if i >= len(self.dates) or self.dates[i] != np.datetime64(day, "D"):
            raise InvalidInputError(f"no value on {day}", "date")
        return float(self.values[i])


def load_series(coin: str, kind: SeriesKind = SeriesKind.SPOT) -> Series:
    """The bundled daily ``kind`` series of ``coin``: USD closes, or DVOL as implied vol per
    1.00."""
    c = coin.upper()
    if c not in COINS:
        raise InvalidInputError(f"bundled history covers {COINS}", "coin")
    if not isinstance(kind, SeriesKind):
        raise InputTypeError("a pymargin.market.history.SeriesKind (SPOT or DVOL)", "kind")
    spot = kind is SeriesKind.SPOT
    name = f"{c.lower()}_usd_daily.csv" if spot else f"dvol_{c.lower()}_daily.csv"
    ref = resources.files("pymargin") / "data" / "history" / name
    with ref.open("r", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dates = np.array([r["date"] for r in rows], dtype="datetime64[D]")
    values = np.array([float(r["close"]) for r in rows])
    if not spot:
        values = values / 100.0
    return Series(dates, values)


@dataclass(frozen=True)
class JointMoves:
    """Joint moves over ``horizon_days`` days ending on ``dates``: ``spot[t, k]`` relative price
    move of coin k, ``vol[t, k]`` the ratio of its implied vol (DVOL) to the value
    ``horizon_days`` days before (1 where DVOL has no history)."""

    coins: tuple[str, ...]
    horizon_days: int
    dates: np.ndarray
    spot: np.ndarray
    vol: np.ndarray
    has_vol: np.ndarray  # per date: every coin's DVOL known

    def log_returns(self) -> np.ndarray:
        """Spot log returns and vol log changes side by side, ``[t, 2 k]``."""
        return np.hstack([np.log1p(self.spot), np.log(self.vol)])


def joint_moves(
    coins: tuple[str, ...] | list[str] = ("BTC",),
    *,
    horizon_days: int = 1,
    start: str | None = None,
    end: str | None = None,
    require_vol: bool = False,
) -> JointMoves:
    """Overlapping ``horizon_days``-day moves on the dates every coin has a price (and a DVOL when
    ``require_vol``), between ``start`` and ``end`` (ISO days, inclusive)."""
    if not isinstance(horizon_days, int) or isinstance(horizon_days, bool) or horizon_days < 1:
        raise InvalidInputError("must be an integer >= 1", "horizon_days")
    coins = tuple(c.upper() for c in coins)
    spots = [load_series(c, SeriesKind.SPOT) for c in coins]
    vols = [load_series(c, SeriesKind.DVOL) for c in coins]
    common = spots[0].dates
    for s in spots[1:]:
        common = np.intersect1d(common, s.dates)
    if require_vol:
        for v in vols:
            common = np.intersect1d(common, v.dates)
    price = np.column_stack([s.values[np.searchsorted(s.dates, common)] for s in spots])
    vol = np.full((len(common), len(coins)), np.nan)
    for k, v in enumerate(vols):
        idx = np.searchsorted(v.dates, common)
        ok = (idx < len(v.dates)) & (v.dates[np.minimum(idx, len(v.dates) - 1)] == common)
        vol[ok, k] = v.values[idx[ok]]
    spot_move = price[horizon_days:] / price[:-horizon_days] - 1.0
    vol_ratio = vol[horizon_days:] / vol[:-horizon_days]
    has_vol = np.isfinite(vol_ratio).all(axis=1)
    vol_ratio = np.where(np.isfinite(vol_ratio), vol_ratio, 1.0)
    dates = common[horizon_days:]
    keep = np.ones(len(dates), dtype=bool)
    for name, day in (("start", start), ("end", end)):
        if day is None:
            continue
        try:
            d = np.datetime64(day, "D")
        except (TypeError, ValueError):
            raise InvalidInputError(f"not an ISO day: {day!r}", name) from None
        keep &= dates >= d if name == "start" else dates <= d
    if not keep.any():
        raise InvalidInputError("no dates in the window", "start")
    return JointMoves(
        coins, horizon_days, dates[keep], spot_move[keep], vol_ratio[keep], has_vol[keep]
    )
