# SPDX-License-Identifier: Apache-2.0
"""Portfolio Greeks: per position and aggregated by underlying and by expiry.

Conventions (USD unless stated): ``delta`` in coins of the underlying (Black-76 forward delta
for options, 1 per coin for futures, perpetuals and spot) and ``delta_usd`` = delta x F;
``gamma_1pct`` the change of ``delta_usd`` for a 1 % rise of the forward (cash gamma,
Gamma F^2 / 100); ``vega`` per vol point; ``theta`` per calendar day; ``vanna`` the change of
``delta_usd`` per vol point; ``volga`` the change of ``vega`` per vol point. Aggregated by
underlying, expiry, strike and tenor bucket (``TENOR_BUCKETS``), and across portfolios
(:func:`combine`). Inverse (coin-settled)
positions are valued in USD at the index S (coin value x S), so their USD Greeks are the Black
forward Greeks times S/F and add up with linear ones; ``coin_delta`` is the settlement-currency
exposure of inverse positions (delta - value in coin: the coin equity's sensitivity, Deribit's
net transaction delta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..extras import optional
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..pricing import black76_greeks

__all__ = [
    "TENOR_BUCKETS",
    "PortfolioGreeks",
    "combine",
    "portfolio_greeks",
    "unit_coin_deltas",
]

_FIELDS = ("delta", "delta_usd", "coin_delta", "gamma_1pct", "vega", "theta", "vanna", "volga")
TENOR_BUCKETS = (
    (0.0, 7.0, "0-7d"),
    (7.0, 30.0, "7-30d"),
    (30.0, 90.0, "30-90d"),
    (90.0, 180.0, "90-180d"),
    (180.0, float("inf"), "180d+"),
)


@dataclass
class PortfolioGreeks:
    """Position Greeks (arrays aligned with ``instruments``) and their sums."""

    instruments: list[str]
    underlying: list[str]
    expiry: list[str]
    size: np.ndarray
    position: dict[str, np.ndarray]  # field -> per position (already times size)
    by_underlying: dict[str, dict[str, float]]
    by_expiry: dict[tuple[str, str], dict[str, float]]
    by_strike: dict[tuple[str, float], dict[str, float]]
    by_tenor: dict[tuple[str, str], dict[str, float]]

    def total(self, underlying: str) -> dict[str, float]:
        if underlying not in self.by_underlying:
            raise InvalidInputError(
                f"no positions on {underlying!r} (have {list(self.by_underlying)})", "underlying"
            )
        return dict(self.by_underlying[underlying])

    def to_frame(self) -> Any:
        """Per position as a pandas DataFrame (pandas imported here only)."""
        pd = optional("pandas", "venue")

        return pd.DataFrame(
            {
                "instrument": self.instruments,
                "underlying": self.underlying,
                "expiry": self.expiry,
                "size": self.size,
                **self.position,
            }
        )


def portfolio_greeks(portfolio: Portfolio | dict[str, float], market: Market) -> PortfolioGreeks:
    """Greeks of every position of ``portfolio`` in ``market`` (see the module docstring)."""
    pf = as_portfolio(portfolio)
    names = list(pf.positions)
    size = np.array(list(pf.positions.values()), dtype=np.float64)
    table = market.table
    rows = table.rows(names)
    col = table.column
    f = col("forward")[rows]
    kind = col("kind")[rows]
    inverse = col("settlement")[rows] == int(Settlement.INVERSE)
    opt = kind == int(InstrumentKind.OPTION)
    delta = np.ones(len(rows))
    gamma = np.zeros(len(rows))
    vega = np.zeros(len(rows))
    theta = np.zeros(len(rows))
    vanna = np.zeros(len(rows))
    volga = np.zeros(len(rows))
    value_coin = np.zeros(len(rows))
    if opt.any():
        r = rows[opt]
        g = black76_greeks(
            f[opt],
            col("strike")[r],
            col("time")[r],
            col("vol")[r],
            col("rate")[r],
            col("is_call")[r].astype(bool),
        )
        assert g.delta_forward is not None and g.gamma is not None and g.price is not None
        assert g.vega_per_point is not None and g.theta_per_day is not None
        delta[opt] = g.delta_forward
        gamma[opt] = g.gamma
        vega[opt] = g.vega_per_point
        theta[opt] = g.theta_per_day
        assert g.vanna is not None and g.volga is not None
        vanna[opt] = g.vanna * f[opt] / 100.0  # USD delta change per vol point
        volga[opt] = g.volga / 100.0 / 100.0  # vega (per point) change per vol point
        value_coin[opt] = g.price / f[opt]
    # Inverse positions are worth their coin value at the index S: their USD Greeks are the
    # Black (forward) ones times S/F (a spot move moves F in proportion).
    index = np.array([market.index_price(table.codes[int(c)]) for c in col("underlying")[rows]])
    usd = np.where(inverse, index / f, 1.0)
    per = {
        "delta": delta * size,
        "delta_usd": delta * f * usd * size,
        "coin_delta": np.where(inverse, (delta - value_coin) * size, 0.0),
        "gamma_1pct": gamma * f * f / 100.0 * usd * size,
        "vega": vega * usd * size,
        "theta": theta * usd * size,
        "vanna": vanna * usd * size,
        "volga": volga * usd * size,
    }
    und = [table.codes[int(c)] for c in col("underlying")[rows]]
    exp = [
        "perpetual" if k < 0 else np.datetime_as_string(np.datetime64(int(k), "s"), unit="D")
        for k in col("expiry_key")[rows]
    ]
    strikes = col("strike")[rows]
    days = col("time")[rows] * 365.0
    by_und: dict[str, dict[str, float]] = {}
    by_exp: dict[tuple[str, str], dict[str, float]] = {}
    by_k: dict[tuple[str, float], dict[str, float]] = {}
    by_t: dict[tuple[str, str], dict[str, float]] = {}
    for k, (u, e) in enumerate(zip(und, exp)):
        tenor = next(lab for lo, hi, lab in TENOR_BUCKETS if lo <= days[k] < hi)
        accs = [
            by_und.setdefault(u, dict.fromkeys(_FIELDS, 0.0)),
            by_exp.setdefault((u, e), dict.fromkeys(_FIELDS, 0.0)),
            by_t.setdefault((u, tenor), dict.fromkeys(_FIELDS, 0.0)),
        ]
        if opt[k]:
            accs.append(by_k.setdefault((u, float(strikes[k])), dict.fromkeys(_FIELDS, 0.0)))
        for acc in accs:
            for fld in _FIELDS:
                acc[fld] += float(per[fld][k])
    order = {lab: i for i, (_, _, lab) in enumerate(TENOR_BUCKETS)}
    return PortfolioGreeks(
        names,
        und,
        exp,
        size,
        per,
        by_und,
        dict(sorted(by_exp.items())),
        dict(sorted(by_k.items())),
        dict(sorted(by_t.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))),
    )


def combine(parts: list[PortfolioGreeks]) -> dict[str, dict[str, float]]:
    """Totals per underlying across several portfolios (accounts, venues): Greeks add."""
    out: dict[str, dict[str, float]] = {}
    for g in parts:
        for u, v in g.by_underlying.items():
            acc = out.setdefault(u, dict.fromkeys(_FIELDS, 0.0))
            for fld in _FIELDS:
                acc[fld] += v[fld]
    return out


def unit_coin_deltas(market: Market, names: list[str]) -> np.ndarray:
    """Coin delta (USD delta / index) of one unit of each instrument."""
    g = portfolio_greeks(dict.fromkeys(names, 1.0), market)
    table = market.table
    rows = table.rows(names)
    index = np.array(
        [market.index_price(table.codes[int(c)]) for c in table.column("underlying")[rows]]
    )
    return np.asarray(g.position["delta_usd"]) / index
