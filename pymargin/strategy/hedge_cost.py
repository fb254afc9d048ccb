# SPDX-License-Identifier: Apache-2.0
"""The cost of keeping a hedge: analytic estimates of the cost of delta-hedging a short option
under time and band rebalancing policies, and their simulation on Monte Carlo paths."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import real_number
from ..enums import Greek
from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import InstrumentKind, Settlement, parse_instrument
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..risk.greeks import unit_coin_deltas

YEAR_HOURS = 365.0 * 24.0


@dataclass(frozen=True)
class TimePolicy:
    """Re-hedge to the target every ``interval_hours``."""

    interval_hours: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval_hours) and self.interval_hours > 0):
            raise InvalidInputError("must be finite and > 0", "interval_hours")

    @property
    def label(self) -> str:
        return f"every {self.interval_hours:g} h"


@dataclass(frozen=True)
class BandPolicy:
    """Re-hedge to the target when the delta error exceeds ``band`` coins."""

    band: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.band) and self.band > 0):
            raise InvalidInputError("must be finite and > 0", "band")

    @property
    def label(self) -> str:
        return f"band +-{self.band:g}"


Policy = TimePolicy | BandPolicy


@dataclass(frozen=True)
class _Book:
    """One underlying's options (linear or inverse) for path revaluation."""

    underlying: str
    spot: float
    ratio: np.ndarray  # forward / spot
    strike: np.ndarray
    time: np.ndarray
    vol: np.ndarray
    rate: np.ndarray
    call: np.ndarray
    inverse: np.ndarray
    size: np.ndarray
    linear_delta: float  # futures and perpetuals, coins

    def greeks(self, s: np.ndarray, elapsed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """USD value, coin delta and coin gamma of the book at spots ``s`` (any shape)."""
        from ..pricing import black76_greeks

        s = np.asarray(s, dtype=np.float64)
        v = self.linear_delta * (s - self.spot)  # futures and perpetuals: P&L since now
        d = np.full(s.shape, self.linear_delta)
        gm = np.zeros(s.shape)
        for i in range(len(self.strike)):
            t = self.time[i] - elapsed
            f = s * self.ratio[i]
            if t <= 0:
                pay = (
                    np.maximum(f - self.strike[i], 0.0)
                    if self.call[i]
                    else np.maximum(self.strike[i] - f, 0.0)
                )
                val = pay / f * s if self.inverse[i] else pay
                v += self.size[i] * val
                continue
            g = black76_greeks(
                f,
                self.strike[i],
                t,
                self.vol[i],
                self.rate[i],
                bool(self.call[i]),
                which=Greek.PRICE | Greek.DELTA_FORWARD | Greek.GAMMA,
            )
            assert g.price is not None and g.delta_forward is not None and g.gamma is not None
            k = self.ratio[i]
            if self.inverse[i]:  # USD value c(F) S / F = c(k S) / k
                v += self.size[i] * g.price / k
                d += self.size[i] * g.delta_forward
                gm += self.size[i] * g.gamma * k
            else:
                v += self.size[i] * g.price
                d += self.size[i] * g.delta_forward * k
                gm += self.size[i] * g.gamma * k * k
        return v, d, gm


def _book(pf: Portfolio, market: Market, underlying: str | None) -> _Book:
    table = market.table
    names = list(pf.positions)
    rows = table.rows(names)
    unds = [table.codes[int(c)] for c in table.column("underlying")[rows]]
    if underlying is None:
        if len(set(unds)) != 1:
            raise InvalidInputError(
                f"positions on {sorted(set(unds))}: pass underlying=", "underlying"
            )
        underlying = unds[0]
    sel = np.array([u == underlying for u in unds])
    if not sel.any():
        raise InvalidInputError(f"no positions on {underlying}", "underlying")
    r = rows[sel]
    size = np.array(list(pf.positions.values()))[sel]
    opt = table.column("kind")[r] == int(InstrumentKind.OPTION)
    spot = market.index_price(underlying)
    lin = unit_coin_deltas(market, [n for n, s in zip(names, sel) if s])
    return _Book(
        underlying,
        spot,
        table.column("forward")[r][opt] / spot,
        table.column("strike")[r][opt],
        table.column("time")[r][opt],
        table.column("vol")[r][opt],
        table.column("rate")[r][opt],
        table.column("is_call")[r][opt].astype(bool),
        table.column("settlement")[r][opt] == int(Settlement.INVERSE),
        size[opt],
        float((lin * size)[~opt].sum()),
    )


def _cost_fraction(market: Market, costs: Any, hedge: str) -> float:
    from .costs import CostModel

    cm = costs if costs is not None else CostModel()
    if not isinstance(cm, CostModel):
        raise InputTypeError("expected a pymargin.strategy.costs.CostModel", "costs")
    inst = parse_instrument(hedge)
    unit = float(cm.unit_costs(market, [hedge], "usd")[0])
    return unit / market.index_price(inst.underlying)


@dataclass(frozen=True)
class HedgeCostEstimate:
    """Analytic cost and risk of keeping ``underlying``'s book delta-hedged under ``policy``."""

    underlying: str
    policy: str
    horizon_days: float
    realised_vol: float
    coin_gamma: float
    cash_gamma: float  # G S^2: USD per unit (dS/S)^2
    cost_fraction: float
    expected_cost: float  # fees + half-spread (+ slippage when the cost model has an impact)
    expected_trades: float
    hedge_error_std: float
    gamma_pnl: float  # G S^2 s^2 T / 2 (negative for a short-gamma book)
    theta_pnl: float
    expected_slippage: float = 0.0  # included in expected_cost


def hedging_cost(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    policy: Policy,
    *,
    realised_vol: float,
    horizon_days: float = 1.0,
    hedge: str | None = None,
    costs: Any = None,
    underlying: str | None = None,
    monitor_hours: float | None = None,
) -> HedgeCostEstimate:
    """The analytic estimate (module docstring) of re-hedging with ``hedge`` (default the
    underlying's perpetual) under ``policy``; a band policy checked only every
    ``monitor_hours`` (default: continuously) gets the discrete-monitoring correction."""
    pf = as_portfolio(portfolio)
    book = _book(pf, market, underlying)
    _check_vol(realised_vol)
    if not (math.isfinite(real_number(horizon_days, "horizon_days")) and horizon_days > 0):
        raise InvalidInputError("must be finite and > 0", "horizon_days")
    if monitor_hours is not None and not (
        math.isfinite(real_number(monitor_hours, "monitor_hours")) and monitor_hours > 0
    ):
        raise InvalidInputError("must be finite and > 0", "monitor_hours")
    hedge = hedge or f"{book.underlying.split('_')[0]}-PERPETUAL"
    k = _cost_fraction(market, costs, hedge)
    impact = getattr(costs, "impact", None)
    s0 = book.spot
    v, d, gm = book.greeks(np.array([s0]), 0.0)
    g = float(gm[0])
    # theta from a one-hour step at an unchanged spot
    dt_theta = 1.0 / YEAR_HOURS
    v1, _, _ = book.greeks(np.array([s0]), dt_theta)
    theta = float(v1[0] - v[0]) / dt_theta
    t = horizon_days / 365.0
    sig = realised_vol
    if isinstance(policy, TimePolicy):
        dt = policy.interval_hours / YEAR_HOURS
        # re-hedges strictly inside the horizon (it starts hedged; the end is not a trade)
        trades = float(max(math.ceil(t / dt - 1e-9) - 1, 0))
        cost = k * abs(g) * s0 * s0 * sig * math.sqrt(2.0 * dt / math.pi) * trades
        # each trade is normal with standard deviation |G| S s sqrt(dt)
        slip = trades * _expected_slippage(impact, s0, abs(g) * s0 * sig * math.sqrt(dt))
        err = abs(g) * s0 * s0 * sig * sig * math.sqrt(t * dt / 2.0)
    elif isinstance(policy, BandPolicy):
        rate = (g * s0 * sig) ** 2
        # checked every monitor_hours: the band acts as one wider by 0.5826 x the error's
        # standard deviation over a check (Broadie, Glasserman and Kou, Math. Finance 1997)
        h = policy.band
        if monitor_hours is not None:
            h += 0.5826 * math.sqrt(rate * monitor_hours / YEAR_HOURS)
        # renewal count of exits from +-h started at 0: T / E[tau] - 1/6 (Var tau = 2/3 E[tau]^2)
        trades = max(t * rate / (h * h) - 1.0 / 6.0, 0.0) if rate > 0 else 0.0
        cost = k * s0 * h * trades
        slip = trades * _slippage(impact, s0, h)
        err = s0 * sig * h * math.sqrt(t / 6.0)
    else:
        raise InputTypeError("TimePolicy or BandPolicy", "policy")
    return HedgeCostEstimate(
        book.underlying,
        policy.label,
        horizon_days,
        sig,
        g,
        g * s0 * s0,
        k,
        cost + slip,
        trades,
        err,
        0.5 * g * s0 * s0 * sig * sig * t,
        theta * t,
        slip,
    )


def _slippage(impact: Any, spot: float, q: Any) -> Any:
    """Slippage (USD) of delta-one trades of ``q`` coins: |q| S x the impact's price move."""
    if impact is None:
        return 0.0 * np.asarray(q)
    qa = np.abs(np.asarray(q, dtype=np.float64))
    move = np.array([abs(impact.move(float(v))) for v in qa.ravel()]).reshape(qa.shape)
    return qa * spot * move


def _expected_slippage(impact: Any, spot: float, sd: float) -> float:
    """E[slippage(q)] for q ~ N(0, sd^2), by 40-point Gauss-Hermite quadrature."""
    if impact is None or sd == 0.0:
        return 0.0
    x, w = np.polynomial.hermite.hermgauss(40)
    return float(w @ _slippage(impact, spot, math.sqrt(2.0) * sd * x)) / math.sqrt(math.pi)


def _check_vol(v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 10):
        raise InvalidInputError("must be in (0, 10)", "realised_vol")


@dataclass(frozen=True)
class RebalanceSimulation:
    """Monte Carlo of a hedged book: costs, hedged P&L and trades per path, their summaries,
    and the analytic estimate for comparison."""

    policy: str
    cost_mean: float
    cost_se: float
    pnl_mean: float
    pnl_std: float
    hedge_error_std: float  # std of hedged P&L + costs (the error the policy leaves)
    trades_mean: float
    analytic: HedgeCostEstimate
    cost: np.ndarray
    pnl: np.ndarray
    trades: np.ndarray


def simulate_rebalancing(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    policy: Policy,
    *,
    realised_vol: float,
    horizon_days: float = 1.0,
    steps_per_hour: int = 12,
    paths: int = 2000,
    hedge: str | None = None,
    costs: Any = None,
    target: float = 0.0,
    underlying: str | None = None,
    seed: int = 0,
) -> RebalanceSimulation:
    """Simulates ``paths`` spot paths (geometric Brownian motion at ``realised_vol``, no drift,
    ``steps_per_hour`` steps), revalues the book at each step (each option at its own implied
    vol, forwards moving with spot), and re-hedges with a delta-one ``hedge`` under ``policy``;
    costs are the proportional fee + half-spread of :class:`~pymargin.strategy.costs.CostModel`. The
    book starts hedged to ``target``."""
    pf = as_portfolio(portfolio)
    book = _book(pf, market, underlying)
    _check_vol(realised_vol)
    if not (isinstance(paths, int) and paths >= 10):
        raise InvalidInputError("must be an integer >= 10", "paths")
    if not (isinstance(steps_per_hour, int) and steps_per_hour >= 1):
        raise InvalidInputError("must be an integer >= 1", "steps_per_hour")
    if not math.isfinite(real_number(target, "target")):
        raise InvalidInputError("must be finite", "target")
    if isinstance(policy, TimePolicy):
        per = policy.interval_hours * steps_per_hour
        if abs(per - round(per)) > 1e-9 * max(1.0, per) or round(per) < 1:
            raise InvalidInputError(
                f"must be a whole number of simulation steps (1/{steps_per_hour} h)",
                "interval_hours",
            )
    est = hedging_cost(
        pf,
        market,
        policy,
        realised_vol=realised_vol,
        horizon_days=horizon_days,
        hedge=hedge,
        costs=costs,
        underlying=book.underlying,
        monitor_hours=1.0 / steps_per_hour,
    )
    k = est.cost_fraction
    impact = getattr(costs, "impact", None)
    n_steps = max(1, round(horizon_days * 24 * steps_per_hour))
    dt = horizon_days / 365.0 / n_steps
    if isinstance(policy, TimePolicy):
        every = max(1, round(policy.interval_hours * steps_per_hour))
    rng = np.random.default_rng(seed)
    s = np.full(paths, book.spot)
    v0, d, _ = book.greeks(s, 0.0)
    h = target - d  # start hedged
    cost = np.zeros(paths)
    trades = np.zeros(paths)
    hedge_pnl = np.zeros(paths)
    sig = realised_vol
    for step in range(1, n_steps + 1):
        z = rng.standard_normal(paths)
        s_new = s * np.exp(-0.5 * sig * sig * dt + sig * math.sqrt(dt) * z)
        hedge_pnl += h * (s_new - s)
        s = s_new
        if step == n_steps:
            break
        _, d, _ = book.greeks(s, step * dt)
        err = d + h - target
        if isinstance(policy, TimePolicy):
            act = np.full(paths, step % every == 0)
        else:
            act = np.abs(err) > policy.band
        q = np.where(act, -err, 0.0)
        cost += k * np.abs(q) * s + np.where(act, _slippage(impact, 1.0, q) * s, 0.0)
        trades += act
        h = h + q
    v_end, _, _ = book.greeks(s, n_steps * dt)
    pnl = v_end - v0 + hedge_pnl - cost
    return RebalanceSimulation(
        policy.label,
        float(cost.mean()),
        float(cost.std(ddof=1) / math.sqrt(paths)),
        float(pnl.mean()),
        float(pnl.std(ddof=1)),
        float((pnl + cost).std(ddof=1)),
        float(trades.mean()),
        est,
        cost,
        pnl,
        trades,
    )


def compare_policies(
    portfolio: Portfolio | Mapping[str, float],
    market: Market,
    policies: Sequence[Policy],
    *,
    realised_vol: float,
    horizon_days: float = 1.0,
    paths: int = 2000,
    steps_per_hour: int = 12,
    hedge: str | None = None,
    costs: Any = None,
    underlying: str | None = None,
    seed: int = 0,
) -> list[RebalanceSimulation]:
    """Every policy on the same simulated paths (same seed): cost against residual risk."""
    return [
        simulate_rebalancing(
            portfolio,
            market,
            p,
            realised_vol=realised_vol,
            horizon_days=horizon_days,
            steps_per_hour=steps_per_hour,
            paths=paths,
            hedge=hedge,
            costs=costs,
            underlying=underlying,
            seed=seed,
        )
        for p in policies
    ]
