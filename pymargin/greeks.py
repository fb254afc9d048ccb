"""Portfolio Greeks: per position and aggregated by underlying and by expiry.

Conventions (USD unless stated): ``delta`` in coins of the underlying (Black-76 forward delta
for options, 1 per coin for futures, perpetuals and spot) and ``delta_usd`` = delta x F;
``gamma_1pct`` the change of ``delta_usd`` for a 1 % rise of the forward (cash gamma,
Gamma F^2 / 100); ``vega`` per vol point; ``theta`` per calendar day. Inverse (coin-settled)
options are valued in USD first (their USD value is the Black-76 value), so their Greeks add up
with linear ones; ``coin_delta`` is the settlement-currency exposure of inverse positions
(delta - value in coin: the coin equity's sensitivity, Deribit's net transaction delta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .instruments import InstrumentKind, Settlement
from .market import Market
from .portfolio import Portfolio
from .pricing import black76_greeks

__all__ = ["PortfolioGreeks", "portfolio_greeks"]

_FIELDS = ("delta", "delta_usd", "coin_delta", "gamma_1pct", "vega", "theta")


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

    def total(self, underlying: str) -> dict[str, float]:
        return dict(self.by_underlying[underlying])

    def to_frame(self) -> Any:
        """Per position as a pandas DataFrame (pandas imported here only)."""
        import pandas as pd  # type: ignore[import-untyped]

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
    pf = portfolio if isinstance(portfolio, Portfolio) else Portfolio(dict(portfolio))
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
        value_coin[opt] = g.price / f[opt]
    per = {
        "delta": delta * size,
        "delta_usd": delta * f * size,
        "coin_delta": np.where(inverse, (delta - value_coin) * size, 0.0),
        "gamma_1pct": gamma * f * f / 100.0 * size,
        "vega": vega * size,
        "theta": theta * size,
    }
    und = [table.codes[int(c)] for c in col("underlying")[rows]]
    exp = [
        "perpetual" if k < 0 else np.datetime_as_string(np.datetime64(int(k), "s"), unit="D")
        for k in col("expiry_key")[rows]
    ]
    by_und: dict[str, dict[str, float]] = {}
    by_exp: dict[tuple[str, str], dict[str, float]] = {}
    for k, (u, e) in enumerate(zip(und, exp)):
        for acc in (
            by_und.setdefault(u, dict.fromkeys(_FIELDS, 0.0)),
            by_exp.setdefault((u, e), dict.fromkeys(_FIELDS, 0.0)),
        ):
            for fld in _FIELDS:
                acc[fld] += float(per[fld][k])
    return PortfolioGreeks(names, und, exp, size, per, by_und, dict(sorted(by_exp.items())))
