# SPDX-License-Identifier: Apache-2.0
"""Hedging: delta-hedge suggestions chosen by cost, drift against Greek targets, the cost of
keeping a hedge (analytic and by simulating rebalancing on Monte Carlo paths), rebalancing
policies compared, minimum-variance hedge ratios and the mean-variance view of a hedged book.

Conventions: delta in coins of the underlying (USD delta / index, inverse positions included
as in :mod:`pymargin.risk.greeks`), money in USD, time in years unless a name says days or hours.

The cost of re-hedging an option book whose coin gamma is G at spot S and realised vol s,
with a proportional cost k (fee + half-spread, a fraction of notional):

* every ``dt`` (time policy): expected cost over T, k |G| S^2 s T sqrt(2 / (pi dt)) (Leland,
  J. Finance 1985); the hedging error has standard deviation |G| S^2 s^2 sqrt(T dt / 2);
* when the delta error leaves a band +-h (band policy, reset to target): a Brownian delta error
  with variance rate (G S s)^2 leaves the band after h^2 / (G S s)^2 on average, so about
  T (G S s)^2 / h^2 trades of size h cost k S T (G S s)^2 / h; the error's stationary law is
  triangular on [-h, h] (variance h^2 / 6), so the P&L error has standard deviation
  S s h sqrt(T / 6). Checked at intervals rather than continuously, the band behaves as a
  wider one (the continuity correction of Broadie, Glasserman and Kou, 1997);
* the gamma P&L itself (the "drag" of a short-gamma book) is G S^2 s^2 T / 2 in expectation,
  against which theta is earned.

These hold for a gamma that stays put over the horizon; :func:`simulate_rebalancing` checks them
by revaluing the book along simulated paths (Black-76 at each step, the book's own vols), with
the policy applied to the simulated deltas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._validate import real_number
from ..enums import Greek
from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import InstrumentKind, parse_instrument
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..risk.greeks import unit_coin_deltas
from .hedge_cost import (
    BandPolicy,
    HedgeCostEstimate,
    RebalanceSimulation,
    TimePolicy,
    compare_policies,
    hedging_cost,
    simulate_rebalancing,
)
from .portfolio_theory import (
    CovarianceEstimator,
    MeanVarianceFrontier,
    MinVarianceHedge,
    mean_variance_frontier,
    min_variance_hedge,
)

__all__ = [
    "BandPolicy",
    "CovarianceEstimator",
    "GreekDrift",
    "HedgeCostEstimate",
    "HedgeSuggestion",
    "MeanVarianceFrontier",
    "MinVarianceHedge",
    "RebalanceSimulation",
    "TimePolicy",
    "compare_policies",
    "delta_hedge",
    "drift",
    "hedging_cost",
    "mean_variance_frontier",
    "min_variance_hedge",
    "simulate_rebalancing",
]


# --- delta-hedge suggestions --------------------------------------------------------------------


@dataclass(frozen=True)
class HedgeSuggestion:
    """Trade ``size`` coins of ``instrument`` to bring ``underlying``'s delta to ``target``;
    its cost over the horizon in USD, by part."""

    underlying: str
    instrument: str
    size: float
    delta_before: float
    delta_after: float
    fees: float
    spread: float
    slippage: float
    carry: float  # funding (perpetual) or basis (future) over the horizon, > 0 a cost
    roll: float  # re-trading a future that expires inside the horizon

    @property
    def cost(self) -> float:
        return self.fees + self.spread + self.slippage + self.carry + self.roll


def _hedge_instruments(market: Market, underlying: str) -> list[str]:
    out = []
    for name in market.marks:
        try:
            inst = parse_instrument(name)
        except InvalidInputError:
            continue
        if inst.underlying == underlying and inst.kind in (
            InstrumentKind.FUTURE,
            InstrumentKind.PERPETUAL,
        ):
            out.append(name)
    perp = f"{underlying.split('_')[0]}-PERPETUAL"
    if perp not in out:
        out.append(perp)
    return out


def _per_underlying(value: Any, underlyings: list[str], field: str) -> dict[str, float]:
    """A number for every underlying, or a mapping underlying -> number (unknown keys refused;
    missing ones 0)."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in underlyings]
        if unknown:
            raise InvalidInputError(
                f"{unknown[0]!r} is not an underlying of the portfolio ({underlyings})", field
            )
        out = {u: real_number(value.get(u, 0.0), field) for u in underlyings}
    else:
        out = dict.fromkeys(underlyings, real_number(value, field))
    if not all(math.isfinite(v) for v in out.values()):
        raise InvalidInputError("must be finite", field)
    return out


def delta_hedge(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    *,
    target: float | Mapping[str, float] = 0.0,
    instruments: Sequence[str] | None = None,
    costs: Any = None,
    horizon_days: float = 7.0,
    funding_rate: float = 0.0,
) -> list[HedgeSuggestion]:
    """Per underlying, the futures or perpetual trade that brings the portfolio's coin delta to
    ``target``, every listed candidate costed and the cheapest first. Cost: fees, half-spread
    and slippage (``costs``, a :class:`pymargin.strategy.costs.CostModel`), carry over
    ``horizon_days`` (perpetual: ``funding_rate`` a year on the notional, paid by longs when
    positive; future: its basis to the index, earned back at expiry, pro rata), and a roll's
    fees and spread when the future expires inside the horizon."""
    from ..risk.greeks import portfolio_greeks
    from .costs import CostModel

    pf = as_portfolio(portfolio)
    if not (math.isfinite(real_number(horizon_days, "horizon_days")) and horizon_days >= 0):
        raise InvalidInputError("must be finite and >= 0", "horizon_days")
    if not math.isfinite(real_number(funding_rate, "funding_rate")):
        raise InvalidInputError("must be finite", "funding_rate")
    cm = costs if costs is not None else CostModel()
    if not isinstance(cm, CostModel):
        raise InputTypeError("expected a pymargin.strategy.costs.CostModel", "costs")
    g = portfolio_greeks(pf, market)
    targets = _per_underlying(target, list(g.by_underlying), "target")
    if instruments is not None:
        if isinstance(instruments, str):
            raise InputTypeError("expected a list of instrument names", "instruments")
        instruments = list(dict.fromkeys(instruments))
        Portfolio(dict.fromkeys(instruments, 0.0))  # typed errors for malformed names
    out: list[HedgeSuggestion] = []
    for und, tot in g.by_underlying.items():
        index = market.index_price(und)
        delta = tot["delta_usd"] / index
        tgt = targets[und]
        names = (
            [n for n in instruments if parse_instrument(n).underlying == und]
            if instruments is not None
            else _hedge_instruments(market, und)
        )
        names = [n for n in names if parse_instrument(n).kind is not InstrumentKind.OPTION]
        if not names:
            continue
        unit = unit_coin_deltas(market, names)
        table = market.table
        rows = table.rows(names)
        fwd = table.column("forward")[rows]
        t_exp = table.column("time")[rows]
        h = horizon_days / 365.0
        for i, name in enumerate(names):
            size = (tgt - delta) / unit[i]
            tc = cm.trade_cost(market, {name: size}, "usd")
            inst = parse_instrument(name)
            if inst.kind is InstrumentKind.PERPETUAL:
                carry = size * fwd[i] * funding_rate * h
                roll = 0.0
            else:
                # a long future bought at F converges to the index: loses (F - S) over its life
                frac = min(h, t_exp[i]) / t_exp[i] if t_exp[i] > 0 else 1.0
                carry = size * (fwd[i] - index) * frac
                roll = tc.fees + tc.spread if t_exp[i] < h else 0.0
            out.append(
                HedgeSuggestion(
                    und,
                    name,
                    float(size),
                    float(delta),
                    float(delta + size * unit[i]),
                    tc.fees,
                    tc.spread,
                    tc.slippage,
                    float(carry),
                    float(roll),
                )
            )
    out.sort(key=lambda s: (s.underlying, s.cost))
    return out


# --- drift against Greek targets ----------------------------------------------------------------

_FIELD = {
    Greek.DELTA: "delta_usd",  # reported in coins (divided by the index)
    Greek.GAMMA: "gamma_1pct",
    Greek.VEGA: "vega",
    Greek.THETA: "theta",
    Greek.VANNA: "vanna",
    Greek.VOLGA: "volga",
}


@dataclass(frozen=True)
class GreekDrift:
    underlying: str
    greek: Greek
    value: float
    target: float
    band: float
    breached: bool

    @property
    def excess(self) -> float:
        """How far outside the band (0 inside), signed."""
        d = self.value - self.target
        return math.copysign(max(abs(d) - self.band, 0.0), d)


def drift(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    targets: Mapping[Any, tuple[float, float]],
) -> list[GreekDrift]:
    """Each Greek against its (target, band): ``targets`` maps a :class:`pymargin.Greek` (every
    underlying) or (underlying, Greek) to (target, half-width). Delta in coins, gamma as
    USD-delta change per 1 % move, vega per vol point, theta per day (USD)."""
    from ..risk.greeks import portfolio_greeks

    g = portfolio_greeks(as_portfolio(portfolio), market)
    for key in targets:
        if isinstance(key, tuple) and (len(key) != 2 or key[0] not in g.by_underlying):
            raise InvalidInputError(
                f"{key!r}: expected (underlying of the portfolio, Greek); underlyings "
                f"{list(g.by_underlying)}",
                "targets",
            )
    out: list[GreekDrift] = []
    for und, tot in g.by_underlying.items():
        for key, tb in targets.items():
            if isinstance(key, tuple):
                if len(key) != 2:
                    raise InvalidInputError("keys are Greek or (underlying, Greek)", "targets")
                u, greek = key
                if u != und:
                    continue
            else:
                greek = key
            if not isinstance(greek, Greek) or greek not in _FIELD:
                allowed = ", ".join(str(k.name) for k in _FIELD)
                raise InputTypeError(f"one of {allowed} (pymargin.Greek)", "targets")
            if isinstance(tb, (str, bytes)) or not isinstance(tb, Sequence) or len(tb) != 2:
                raise InputTypeError("expected (target, band)", "targets")
            tgt, band = real_number(tb[0], "targets"), real_number(tb[1], "targets")
            if not (math.isfinite(tgt) and math.isfinite(band) and band >= 0):
                raise InvalidInputError("target finite, band finite and >= 0", "targets")
            value = tot[_FIELD[greek]]
            if greek is Greek.DELTA:
                value /= market.index_price(und)
            out.append(GreekDrift(und, greek, value, tgt, band, abs(value - tgt) > band))
    return out
