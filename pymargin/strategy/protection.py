# SPDX-License-Identifier: Apache-2.0
"""Portfolio protection: the cheapest overlay of puts (or any structures) that keeps the loss
of the portfolio within a bound in every stress scenario, as one LP over full-revaluation P&L."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import real_number
from ..exceptions import InputTypeError, InvalidInputError, NoSolutionError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..risk.revaluation import mark_values
from .lp import (
    scipy_module,
)

# --- portfolio protection ------------------------------------------------------------------------


@dataclass
class ProtectionResult:
    """The cheapest overlay that keeps the loss in every crash scenario at most ``max_loss``."""

    structures: list[tuple[str, float]]  # (structure, count)
    trades: dict[str, float]
    premium: float  # USD paid, at the ask, fees included
    execution_cost: float  # the part of the premium lost on entry: half-spreads and fees
    loss_before: dict[str, float]  # per scenario, USD (> 0 = loss), marked to market
    loss_after: dict[str, float]
    max_loss: float


def put_overlay_candidates(
    market: Market,
    underlying: str = "BTC_USD",
    *,
    min_days: float = 7.0,
    max_days: float = 120.0,
    moneyness: tuple[float, float] = (0.5, 1.05),
    settlement: Settlement | None = None,
) -> list[tuple[str, dict[str, float]]]:
    """Puts of ``underlying`` listed in ``market`` (strikes within ``moneyness`` x index,
    expiries within the day range) and the put spreads of neighbouring strikes of each expiry
    (long the higher strike, short the lower): (name, legs) pairs for :func:`protect`."""
    from ..market.instruments import parse_instrument

    index = market.index_price(underlying)
    by_exp: dict[Any, list[tuple[float, str]]] = {}
    for name in market.marks:
        try:
            inst = parse_instrument(name)
        except InvalidInputError:
            continue
        if inst.kind is not InstrumentKind.OPTION or inst.underlying != underlying:
            continue
        if inst.option_type is None or int(inst.option_type) == 1 or inst.strike is None:
            continue
        if settlement is not None and inst.settlement is not settlement:
            continue
        days = inst.time_to_expiry(market.valuation_time) * 365.0
        if not (min_days <= days <= max_days):
            continue
        if not (moneyness[0] * index <= inst.strike <= moneyness[1] * index):
            continue
        by_exp.setdefault(inst.expiry, []).append((inst.strike, name))
    out: list[tuple[str, dict[str, float]]] = []
    for _, puts in sorted(by_exp.items(), key=lambda kv: str(kv[0])):
        puts.sort()
        out += [(name, {name: 1.0}) for _, name in puts]
        for (_, lo), (_, hi) in itertools.pairwise(puts):
            out.append((f"{hi} / {lo} put spread", {hi: 1.0, lo: -1.0}))
    return out


def _check_structures(structures: Sequence[Any]) -> None:
    """At least one structure, each a (name, {instrument: finite quantity}) pair."""
    if not structures:
        raise InvalidInputError("no overlay structures", "structures")
    for j, st in enumerate(structures):
        if not (isinstance(st, tuple) and len(st) == 2 and isinstance(st[1], Mapping) and st[1]):
            raise InputTypeError("expected (name, {instrument: quantity})", "structures", j)
        for leg, q in st[1].items():
            if not math.isfinite(real_number(q, "structures", j)):
                raise InvalidInputError(f"{leg}: quantity must be finite", "structures", j)


def _cheapest_counts(
    so: Any,
    premium: np.ndarray,
    pnl: np.ndarray,
    base: np.ndarray,
    max_loss: float,
    max_count: float,
) -> np.ndarray:
    """The LP: the cheapest non-negative counts with base + pnl^T n >= -max_loss in every
    scenario; infeasible, unbounded or unfinished solves are NoSolutionErrors."""
    res = so.linprog(
        premium,
        A_ub=-pnl.T,
        b_ub=base + max_loss,
        bounds=[(0.0, max_count)] * len(premium),
        method="highs",
    )
    if res.status == 2:
        raise NoSolutionError(
            "no combination of the structures caps the loss at max_loss", "max_loss"
        )
    if res.status == 3:
        raise NoSolutionError(
            "unbounded: a structure with a net credit can be sold without limit; set max_count",
            "structures",
        )
    if res.status != 0:
        raise NoSolutionError(f"HiGHS stopped: {res.message}", "optimizer")
    return np.where(res.x > 1e-9, res.x, 0.0)


def protect(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    scenarios: Sequence[Any],
    max_loss: float,
    *,
    structures: Sequence[tuple[str, Mapping[str, float]]] | None = None,
    costs: Any = None,
    max_count: float = math.inf,
) -> ProtectionResult:
    """The cheapest overlay of ``structures`` (default: :func:`put_overlay_candidates` of the
    portfolio's first underlying) bought in non-negative amounts so that, in every scenario of
    ``scenarios`` (:class:`pymargin.analytics.stress.StressScenario`), the portfolio plus overlay
    loses at most ``max_loss`` USD marked to market: the overlay is worth its revalued marks,
    less the half-spreads and fees paid to buy it. "Cheapest" is the premium paid (at the ask,
    fees included). One LP over full-revaluation P&L."""
    so = scipy_module()

    from ..analytics.stress import StressScenario
    from ..risk.pnl import portfolio_underlyings, scenario_pnl
    from .costs import CostModel

    if not (math.isfinite(real_number(max_loss, "max_loss")) and max_loss >= 0):
        raise InvalidInputError("must be finite and >= 0", "max_loss")
    if math.isnan(real_number(max_count, "max_count")) or max_count <= 0:
        raise InvalidInputError("must be > 0 (inf allowed)", "max_count")
    cm = costs if costs is not None else CostModel()
    if not isinstance(cm, CostModel):
        raise InputTypeError("expected a pymargin.strategy.costs.CostModel", "costs")
    if not scenarios:
        raise InvalidInputError("no scenarios", "scenarios")
    for k, s in enumerate(scenarios):
        if not isinstance(s, StressScenario):
            raise InputTypeError(
                "expected pymargin.analytics.stress.StressScenario", "scenarios", k
            )
    pf = as_portfolio(portfolio)
    unds = portfolio_underlyings(pf, market)
    if structures is None:
        structures = put_overlay_candidates(market, unds[0])
    _check_structures(structures)
    legs = sorted({leg for _, ls in structures for leg in ls})
    unds_all = tuple(
        dict.fromkeys(unds + portfolio_underlyings(Portfolio(dict.fromkeys(legs, 1.0)), market))
    )
    spot = np.array([[s.moves.get(u, 0.0) for u in unds_all] for s in scenarios])
    vol = np.array([[s.vol_scale.get(u, 1.0) for u in unds_all] for s in scenarios])
    base = scenario_pnl(pf, market, unds_all, spot, vol)
    leg_pnl = np.stack([scenario_pnl({leg: 1.0}, market, unds_all, spot, vol) for leg in legs])
    value = mark_values(market, legs, True)
    spread_fee = cm.unit_costs(market, legs, "usd")
    where = {leg: i for i, leg in enumerate(legs)}
    m = np.zeros((len(structures), len(legs)))
    for j, (_, ls) in enumerate(structures):
        for leg, q in ls.items():
            m[j, where[leg]] += float(q)
    execution = np.abs(m) @ spread_fee  # lost on entry: half-spreads and fees
    premium = m @ value + execution  # cash to put on one structure
    pnl = m @ leg_pnl - execution[:, None]  # marked to market, (structures, scenarios)
    # base + pnl^T n >= -max_loss
    counts = _cheapest_counts(so, premium, pnl, base, max_loss, max_count)
    picked = [int(j) for j in np.flatnonzero(counts)]
    chosen = [(structures[j][0], float(counts[j])) for j in picked]
    trades: dict[str, float] = {}
    for j in picked:
        for leg, q in structures[j][1].items():
            trades[leg] = trades.get(leg, 0.0) + float(q) * float(counts[j])
    names = [s.name for s in scenarios]
    after = base + pnl.T @ counts
    return ProtectionResult(
        chosen,
        {k: v for k, v in trades.items() if v != 0.0},
        float(premium @ counts),
        float(execution @ counts),
        {n: float(-v) for n, v in zip(names, base)},
        {n: float(-v) for n, v in zip(names, after)},
        float(max_loss),
    )
