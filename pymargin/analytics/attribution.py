# SPDX-License-Identifier: Apache-2.0
"""What drives the margin: each position's contribution to IM, its marginal IM, the
incremental IM of a trade, the scenarios nearest the binding one and the margin if the
coins stop moving together.

* **Contribution** (Euler allocation): size x dIM/dsize, the derivative taken by a central
  difference of relative step ``step`` through :func:`pymargin.margin` itself, so every model
  is attributed by its one implementation. The scenario models are positively homogeneous in
  the sizes (a worst case of P&L linear in them, credits and floors proportional), so the
  contributions sum to IM; for a worst-scenario model a position's contribution is its loss in
  the binding scenario plus its share of the roll shock. What does not scale with the sizes
  (the 9-decimal rounding, a credit cap that binds, the order-book add-ons) is reported as
  ``unallocated``. A position whose size moves the binding scenario within the step (a tie) is
  flagged ``at_kink``: its contribution is the mean of the one-sided slopes.
* **Marginal IM**: IM of the book less IM without the position.
* **Incremental IM** of a trade: IM with the trade added, less IM now.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..models.registry import MarginModel, MarginResult, margin

__all__ = [
    "IncrementalMargin",
    "MarginAttribution",
    "PositionAttribution",
    "ScenarioRanking",
    "incremental_margin",
    "margin_attribution",
    "scenario_ranking",
]


@dataclass(frozen=True)
class PositionAttribution:
    instrument: str
    size: float
    contribution: float  # its part of IM; the parts sum to IM less ``unallocated``
    marginal: float  # IM less IM without the position
    at_kink: bool  # the binding scenario changes within the step


@dataclass
class MarginAttribution:
    """Per position, its contribution to IM and its marginal IM (money in ``currency``)."""

    model: MarginModel
    currency: str
    initial_margin: float
    positions: list[PositionAttribution]
    unallocated: float  # IM less the contributions' sum

    def rows(self) -> list[dict[str, Any]]:
        """One dict per position, largest contribution first, with its share of IM."""
        im = self.initial_margin
        out = [
            {
                "instrument": p.instrument,
                "size": p.size,
                "contribution": p.contribution,
                "share": p.contribution / im if im else 0.0,
                "marginal": p.marginal,
                "at_kink": p.at_kink,
            }
            for p in self.positions
        ]
        return sorted(out, key=lambda r: -r["contribution"])


def _im(positions: dict[str, float], market: Market, model: MarginModel, kw: dict) -> float:
    if not positions:
        return 0.0
    return margin(Portfolio.sized(positions), market, model, **kw).initial_margin


def margin_attribution(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    step: float = 1e-3,
    **margin_kwargs: Any,
) -> MarginAttribution:
    """Each position's contribution to IM (summing to IM) and its marginal IM under ``model``
    (``margin_kwargs`` as :func:`pymargin.margin` takes them). See the module docstring."""
    if not (isinstance(step, float) and 0.0 < step <= 0.01):
        raise InvalidInputError("must be a float in (0, 0.01]", "step")
    pf = as_portfolio(portfolio)
    base: MarginResult = margin(pf, market, model, **margin_kwargs)
    book = dict(pf.positions)
    im = base.initial_margin
    out = []
    for name, size in book.items():
        up = _im({**book, name: size * (1.0 + step)}, market, model, margin_kwargs)
        down = _im({**book, name: size * (1.0 - step)}, market, model, margin_kwargs)
        slope_up, slope_down = (up - im) / step, (im - down) / step
        # one-sided slopes that disagree beyond the rounding: the binding scenario moves
        tol = 1e-6 * max(abs(im), 1e-12) / step
        kink = abs(slope_up - slope_down) > tol + 1e-9 * max(abs(slope_up), abs(slope_down))
        without = {k: v for k, v in book.items() if k != name}
        out.append(
            PositionAttribution(
                name,
                size,
                0.5 * (slope_up + slope_down),
                im - _im(without, market, model, margin_kwargs),
                kink,
            )
        )
    total = math.fsum(p.contribution for p in out)
    return MarginAttribution(model, base.currency, im, out, im - total)


@dataclass(frozen=True)
class IncrementalMargin:
    currency: str
    before: float
    after: float

    @property
    def change(self) -> float:
        """IM after the trade less IM before (> 0: the trade needs margin)."""
        return self.after - self.before


def incremental_margin(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    trade: Mapping[str, float],
    model: MarginModel = MarginModel.DERIBIT_PM,
    **margin_kwargs: Any,
) -> IncrementalMargin:
    """IM before and after adding ``trade`` (instrument -> size, coins; < 0 sells) to the
    book, under ``model``."""
    pf = as_portfolio(portfolio)
    if not isinstance(trade, Mapping) or not trade:
        raise InvalidInputError("a mapping of instrument to size, not empty", "trade")
    t = Portfolio.sized(dict(trade))  # sizes checked, rows named
    after = dict(pf.positions)
    for name, size in t.positions.items():
        after[name] = after.get(name, 0.0) + size
    after = {k: v for k, v in after.items() if v != 0.0}
    before = margin(pf, market, model, **margin_kwargs)
    return IncrementalMargin(
        before.currency, before.initial_margin, _im(after, market, model, margin_kwargs)
    )


@dataclass
class ScenarioRanking:
    """The scenarios with the largest losses, how far the next one is from the binding one,
    and the worst loss with the coins moving together (a joint scenario: each coin at the same
    place of its own grid, the same fraction of its range and vol state) against each coin at
    its own worst (what a model summing per-underlying worst cases assumes)."""

    top: list[tuple[str, float]]  # (label, loss), largest loss first
    gap: float  # loss of the binding scenario less the next one's
    together: float | None = None  # largest loss of the joint scenarios
    independent: float | None = None  # sum over coins of each coin's largest loss
    per_coin: dict[str, float] = field(default_factory=dict)


def scenario_ranking(result: MarginResult, k: int = 5) -> ScenarioRanking:
    """The ``k`` largest scenario losses of a margin result (its ``scenario_pnl`` as the model
    counts it: credited, dampened, weighted), the gap to the next and, for books on several
    coins, the joint and independent worst losses. A coin's scenarios are its labels' (its
    entries in several margin groups summed); coins with grids of one length are matched
    place by place, others by the label (the same move and vol state)."""
    if not isinstance(k, int) or k < 1:
        raise InvalidInputError("must be an integer >= 1", "k")
    pnl = np.asarray(result.scenario_pnl, dtype=np.float64)
    labels = list(result.scenario_labels)
    if pnl.size == 0:
        raise InvalidInputError(f"{result.model.value} has no scenarios to rank", "result")
    order = np.argsort(pnl, kind="stable")
    top = [(labels[j], float(-pnl[j])) for j in order[:k]]
    gap = float(pnl[order[1]] - pnl[order[0]]) if pnl.size > 1 else math.inf
    by_coin: dict[str, dict[str, float]] = {}
    for lab, v in zip(labels, pnl):
        coin, _, rest = re.sub(r" \([A-Z]+ group\)$", "", lab).partition(" ")
        by_coin.setdefault(coin, {})
        by_coin[coin][rest] = by_coin[coin].get(rest, 0.0) + float(v)
    out = ScenarioRanking(top, gap)
    if len(by_coin) > 1:
        grids = [list(d.values()) for d in by_coin.values()]
        if len({len(g) for g in grids}) == 1:
            joint = [math.fsum(x) for x in zip(*grids)]
        else:
            common = [
                s for s in next(iter(by_coin.values())) if all(s in d for d in by_coin.values())
            ]
            joint = [math.fsum(d[s] for d in by_coin.values()) for s in common]
        if joint:
            out.together = max(0.0, -min(joint))
        out.per_coin = {c: max(0.0, -min(d.values())) for c, d in by_coin.items()}
        out.independent = sum(out.per_coin.values())
    return out
