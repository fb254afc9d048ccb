# SPDX-License-Identifier: Apache-2.0
"""VaR backtests: the exceptions of a VaR series against realised P&L, Kupiec's
proportion-of-failures test and Christoffersen's independence test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.history import joint_moves
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..risk.pnl import coins_of, portfolio_underlyings, scenario_pnl
from .tail import check_confidence, var_es


def backtest_var(
    portfolio: Portfolio | dict[str, float],
    market: Market,
    *,
    window: int = 250,
    confidence: float = 0.99,
    start: str | None = None,
    end: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Backtest of historical-simulation VaR on the bundled history: each day's VaR from the
    previous ``window`` days' moves, against that day's hypothetical P&L (today's portfolio,
    fully revalued on the day's move of spot and implied vol). Reports the exceptions, Kupiec's
    and Christoffersen's statistics and the hit sequence."""
    check_confidence(confidence)
    if not isinstance(window, int) or window < 20:
        raise InvalidInputError("must be an integer >= 20", "window")
    pf = as_portfolio(portfolio)
    unds = portfolio_underlyings(pf, market)
    jm = joint_moves(coins_of(unds), start=start, end=end)
    if len(jm.dates) <= window + 1:
        raise InvalidInputError(f"needs more than {window + 1} days of history", "window")
    pnl = scenario_pnl(pf, market, unds, jm.spot, jm.vol, threads=threads)
    var_t = np.array([var_es(pnl[t - window : t], confidence)[0] for t in range(window, len(pnl))])
    realised = pnl[window:]
    hits = (realised < -var_t).astype(int)
    x, n = int(hits.sum()), int(hits.size)
    lr_uc, p_uc = kupiec_pof(x, n, 1.0 - confidence)
    lr_ind, p_ind = christoffersen_independence(hits)
    return {
        "dates": jm.dates[window:],
        "var": var_t,
        "pnl": realised,
        "hits": hits,
        "exceptions": x,
        "observations": n,
        "expected": n * (1.0 - confidence),
        "kupiec": (lr_uc, p_uc),
        "christoffersen": (lr_ind, p_ind),
    }


def kupiec_pof(exceptions: int, observations: int, p: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures likelihood ratio for ``exceptions`` in ``observations``
    days at exception probability ``p`` (= 1 - confidence); returns (LR, p-value), LR ~ chi2(1)
    under a correct model."""
    if not (0 <= exceptions <= observations and observations > 0 and 0 < p < 1):
        raise InvalidInputError("need 0 <= exceptions <= observations > 0, 0 < p < 1", "kupiec")
    x, n = exceptions, observations
    phat = x / n

    def ll(q: float) -> float:
        return (n - x) * (math.log1p(-q) if x < n else 0.0) + (x * math.log(q) if x else 0.0)

    lr = -2.0 * (ll(p) - (ll(phat) if 0 < phat < 1 else 0.0))
    return lr, math.erfc(math.sqrt(max(lr, 0.0) / 2.0))


def christoffersen_independence(hits: np.ndarray) -> tuple[float, float]:
    """Christoffersen's (1998) test that exceptions do not cluster: transition counts of the
    hit sequence (1 = exception), LR_ind ~ chi2(1); returns (LR, p-value)."""
    raw = np.asarray(hits)
    if (
        raw.ndim != 1
        or raw.size < 2
        or raw.dtype.kind not in "biuf"
        or not np.isin(raw, (0, 1)).all()
    ):
        raise InvalidInputError("must be a 0/1 sequence of length >= 2", "hits")
    h = raw.astype(int)
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum((prev == 0) & (cur == 0)))
    n01 = int(np.sum((prev == 0) & (cur == 1)))
    n10 = int(np.sum((prev == 1) & (cur == 0)))
    n11 = int(np.sum((prev == 1) & (cur == 1)))

    def xlogy(a: int, q: float) -> float:
        return a * math.log(q) if a else 0.0

    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    l0 = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    l1 = xlogy(n00, 1 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1 - pi1) + xlogy(n11, pi1)
    lr = max(-2.0 * (l0 - l1), 0.0)
    return lr, math.erfc(math.sqrt(lr / 2.0))
