# SPDX-License-Identifier: Apache-2.0
"""Plots that compute before they draw: the P&L profile of a portfolio across spot for each of
Deribit's vol states, with the margin as a line. The drawing functions of the result classes
live in :mod:`pymargin.plotting` and are re-exported here, so every plot is reachable from
this module."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..plotting import (
    VOL_STATE_LABELS,
    plot_cost_frequency,
    plot_greeks,
    plot_liquidation_surface,
    plot_margin_before_after,
    plot_pnl_distribution,
    plot_risk_matrix,
    pyplot,
)

__all__ = [
    "plot_cost_frequency",
    "plot_greeks",
    "plot_liquidation_surface",
    "plot_margin_before_after",
    "plot_pnl_distribution",
    "plot_pnl_profile",
    "plot_risk_matrix",
]


def plot_pnl_profile(
    portfolio: Portfolio,
    market: Market,
    ax: Any = None,
    *,
    move: float = 0.3,
    points: int = 61,
    margin: float | None = None,
) -> Any:
    """Portfolio P&L (in its settlement currency: one underlying, one settlement currency)
    across spot moves of +-``move`` for each vol state of Deribit's PM rule (the parameters in
    force at the valuation time), with the margin as a line at -margin."""
    from ..models.deribit_pm import DeribitPMParams
    from ..risk.revaluation import risk_arrays_for_rows
    from ..risk.scenarios import ScenarioSet

    names = list(portfolio.positions)
    table = market.table
    rows = table.rows(names)
    unds = table.code_names(table.column("underlying")[rows])
    if len(unds) != 1:
        raise InvalidInputError(f"one underlying per profile, got {sorted(unds)}", "portfolio")
    ccys = table.code_names(table.column("settlement_currency")[rows])
    if len(ccys) != 1:
        raise InvalidInputError(
            f"one settlement currency per profile, got {sorted(ccys)}", "portfolio"
        )
    und = unds.pop()
    pair = und.split("_")[0].lower() + "_usd"
    pp = DeribitPMParams.in_force(market.valuation_time, {pair}, ccys).pairs[pair]
    rule = pp.vol_rule()
    moves = np.linspace(-move, move, points)
    grid = np.concatenate([moves] * 3)
    states = np.repeat([1, 0, -1], points)
    scen = ScenarioSet((und,), grid[:, None], states, (rule,))
    size = np.array(list(portfolio.positions.values()))
    pnl = size @ risk_arrays_for_rows(market, rows, scen)
    ccy = table.codes[int(table.column("settlement_currency")[rows[0]])].upper()
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    for k, label in enumerate(VOL_STATE_LABELS):
        ax.plot(moves * 100, pnl[k * points : (k + 1) * points], label=label)
    if margin is not None:
        ax.axhline(-margin, color="black", linestyle="--", linewidth=1, label="-initial margin")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel(f"{und} move (%)")
    ax.set_ylabel(f"P&L ({ccy})")
    ax.legend(fontsize=8)
    ax.set_title("P&L across spot for each vol state", fontsize=9)
    return ax
