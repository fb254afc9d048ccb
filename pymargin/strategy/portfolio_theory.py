# SPDX-License-Identifier: Apache-2.0
"""Portfolio theory on the bundled history: covariance estimators, the minimum-variance hedge
and the mean-variance frontier of hedge weights."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio

# --- portfolio theory ---------------------------------------------------------------------------


class CovarianceEstimator(enum.Enum):
    SAMPLE = "sample"
    EWMA = "ewma"  # RiskMetrics, lambda 0.94
    LEDOIT_WOLF = "ledoit_wolf"


def _cov(x: np.ndarray, estimator: CovarianceEstimator) -> np.ndarray:
    from ..analytics.var import ewma_cov, ledoit_wolf, sample_cov

    if not isinstance(estimator, CovarianceEstimator):
        raise InputTypeError("use a CovarianceEstimator member", "estimator")
    if estimator is CovarianceEstimator.SAMPLE:
        return sample_cov(x)
    if estimator is CovarianceEstimator.EWMA:
        return ewma_cov(x - x.mean(axis=0))
    return ledoit_wolf(x)[0]


def _pnl_history(
    pf: Portfolio, market: Market, hedges: list[str], start: str | None, end: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily USD P&L of the book and of one unit of each hedge on the bundled history (full
    revaluation on each day's joint spot and implied-vol move)."""
    from ..market.history import joint_moves
    from ..risk.pnl import coins_of, portfolio_underlyings, scenario_pnl

    unds = tuple(
        dict.fromkeys(
            portfolio_underlyings(pf, market)
            + portfolio_underlyings(Portfolio(dict.fromkeys(hedges, 1.0)), market)
        )
    )
    jm = joint_moves(coins_of(unds), start=start, end=end)
    book = scenario_pnl(pf, market, unds, jm.spot, jm.vol)
    h = np.stack([scenario_pnl({n: 1.0}, market, unds, jm.spot, jm.vol) for n in hedges], axis=1)
    return book, h, jm.dates


@dataclass(frozen=True)
class MinVarianceHedge:
    """Hedge sizes minimising the variance of daily P&L, and the variance before and after."""

    sizes: dict[str, float]
    std_before: float  # USD a day
    std_after: float
    estimator: CovarianceEstimator
    observations: int

    @property
    def variance_reduction(self) -> float:
        return 1.0 - (self.std_after / self.std_before) ** 2 if self.std_before else 0.0


def min_variance_hedge(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    hedges: Sequence[str],
    *,
    estimator: CovarianceEstimator = CovarianceEstimator.SAMPLE,
    start: str | None = None,
    end: str | None = None,
) -> MinVarianceHedge:
    """Sizes h minimising Var(book + sum h_i hedge_i) on the bundled daily history:
    h = -C_hh^-1 C_hb with the chosen covariance estimator of the joint P&L."""
    pf = as_portfolio(portfolio)
    names = list(dict.fromkeys(hedges))
    if not names:
        raise InvalidInputError("no hedge instruments", "hedges")
    book, h, dates = _pnl_history(pf, market, names, start, end)
    cov = _cov(np.column_stack([book, h]), estimator)
    c_hh, c_hb = cov[1:, 1:], cov[1:, 0]
    x = -np.linalg.lstsq(c_hh, c_hb, rcond=None)[0]
    var_after = float(cov[0, 0] + 2 * c_hb @ x + x @ c_hh @ x)
    return MinVarianceHedge(
        dict(zip(names, map(float, x))),
        math.sqrt(max(float(cov[0, 0]), 0.0)),
        math.sqrt(max(var_after, 0.0)),
        estimator,
        len(dates),
    )


@dataclass(frozen=True)
class MeanVarianceFrontier:
    """Markowitz frontier of book + hedges: for each target expected daily P&L, the hedge
    sizes of least variance."""

    hedges: list[str]
    mean: np.ndarray
    std: np.ndarray
    sizes: np.ndarray  # [points, hedges]
    min_variance: MinVarianceHedge

    def plot(self, ax: Any = None) -> Any:
        from ..plotting import pyplot

        plt = pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4))
        ax.plot(self.std, self.mean, color="#1f77b4")
        ax.scatter([self.min_variance.std_after], [self.mean[np.argmin(self.std)]], color="k")
        ax.set_xlabel("daily P&L std (USD)")
        ax.set_ylabel("expected daily P&L (USD)")
        ax.set_title("hedged book: mean-variance frontier", fontsize=9)
        return ax


def mean_variance_frontier(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    hedges: Sequence[str],
    expected_pnl: Mapping[str, float],
    *,
    book_expected_pnl: float | None = None,
    estimator: CovarianceEstimator = CovarianceEstimator.SAMPLE,
    points: int = 25,
    span: float = 3.0,
    start: str | None = None,
    end: str | None = None,
) -> MeanVarianceFrontier:
    """``expected_pnl``: expected daily USD P&L of one unit of each hedge (your views, or
    carry); the book's defaults to its theta. The frontier runs from the minimum-variance
    point to ``span`` times its standard deviation, on both sides of its mean."""
    from ..risk.greeks import portfolio_greeks

    pf = as_portfolio(portfolio)
    names = list(dict.fromkeys(hedges))
    missing = [n for n in names if n not in expected_pnl]
    if missing:
        raise InvalidInputError(f"no expected P&L for {missing[0]}", "expected_pnl")
    mu_h = np.array([float(expected_pnl[n]) for n in names])
    if not np.isfinite(mu_h).all():
        raise InvalidInputError("must be finite", "expected_pnl")
    if book_expected_pnl is None:
        g = portfolio_greeks(pf, market)
        book_expected_pnl = sum(t["theta"] for t in g.by_underlying.values())
    book, h, dates = _pnl_history(pf, market, names, start, end)
    cov = _cov(np.column_stack([book, h]), estimator)
    c_hh, c_hb = cov[1:, 1:], cov[1:, 0]
    inv = np.linalg.pinv(c_hh)
    x_mv = -inv @ c_hb
    m0 = book_expected_pnl + mu_h @ x_mv
    var_min = max(float(cov[0, 0] + c_hb @ x_mv), 0.0)
    a = float(mu_h @ inv @ mu_h)
    # on the frontier var = var_min + (m - m0)^2 / a: std up to span x the minimum
    width = math.sqrt(a * (span * span - 1.0) * var_min) if a > 0 and span > 1 else 0.0
    targets = m0 + np.linspace(-width, width, points) if width > 0 else np.array([m0])
    sizes, means, stds = [], [], []
    for m in targets:
        lam = (m - book_expected_pnl + mu_h @ inv @ c_hb) / a if a > 0 else 0.0
        x = inv @ (lam * mu_h - c_hb)
        var = float(cov[0, 0] + 2 * c_hb @ x + x @ c_hh @ x)
        sizes.append(x)
        means.append(book_expected_pnl + float(mu_h @ x))
        stds.append(math.sqrt(max(var, 0.0)))
    mv = MinVarianceHedge(
        dict(zip(names, map(float, x_mv))),
        math.sqrt(max(float(cov[0, 0]), 0.0)),
        math.sqrt(var_min),
        estimator,
        len(dates),
    )
    return MeanVarianceFrontier(names, np.array(means), np.array(stds), np.array(sizes), mv)
