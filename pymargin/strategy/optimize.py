# SPDX-License-Identifier: Apache-2.0
"""Margin optimisation as linear programmes.

Every scenario model's requirement is a convex, piecewise-linear function of the position
sizes: scenario P&L is linear in the sizes, and the models take maxima (worst scenario, zero
floor, the larger of SCAN risk and the delta minimum) and sums of absolute values (roll shock
per expiry, per-contract minimums, gross delta). Written as a tree of those operations over
affine pieces (:class:`Pieces`, :class:`MaxOf`, :class:`SumOf`), the requirement after a trade
``x`` is an LP with one auxiliary variable per maximum, solved exactly by HiGHS (scipy's
``linprog`` / ``milp``); integer contract counts make it a MILP.

The programmes reproduce the ordinary engine before its 9-decimal rounding:

* Deribit S:PM, per settlement currency: per pair max(0, worst standard loss, worst extended
  loss beyond its dampener) plus, per (pair, expiry), roll factor x |net coin delta|. Gains are
  credited at ``pnl_offset`` up to the cap only when an entry is positive, so they never enter
  the worst case, and the LP is exact. Net delta is kept inside
  ``delta_total_liq_shock_threshold`` (beyond it Deribit's delta shock is not published).
* Paradex PM (one underlying, USDC): max(SCAN risk, minimum delta requirement), the latter
  (u - h/2)|net delta| + (h/2) x gross delta, convex when u >= h/2.
* FINRA-style PM: per underlying max(largest grid loss, minimum x contracts).

Each solution is re-margined with the ordinary engine (``verified_margin``) and the difference
reported. Deribit standard margin (quadratic in futures size), X:PM, SPAN and the Greek-netting
model are not piecewise linear in this form and are not offered here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import real_number
from ..exceptions import InputTypeError, InvalidInputError, NoSolutionError
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.registry import MarginModel
from .lp import (
    LinearProgram,
    MaxOf,
    Pieces,
    SumOf,
    evaluate,
    scipy_module,
)
from .programs import (
    MarginProgram,
    default_candidates,
    margin_program,
)
from .protection import ProtectionResult, protect, put_overlay_candidates

__all__ = [
    "MarginProgram",
    "MaxOf",
    "Objective",
    "OptimizationResult",
    "Pieces",
    "ProtectionResult",
    "SumOf",
    "default_candidates",
    "evaluate",
    "margin_program",
    "minimize_margin",
    "protect",
    "put_overlay_candidates",
]


# --- minimising margin ---------------------------------------------------------------------------


class Objective(enum.Enum):
    """What :func:`minimize_margin` minimises."""

    MARGIN = "margin"  # IM; among the trades reaching it, the cheapest
    MARGIN_PLUS_COST = "margin_plus_cost"  # IM + trading cost (fees and spread)


@dataclass
class OptimizationResult:
    """The trade, the margin before and after (the programme's and the engine's), its cost."""

    model: MarginModel
    currency: str
    trades: dict[str, float]
    margin_before: float
    margin_after: float  # the programme's optimum
    verified_margin: float  # the ordinary engine on the new positions
    trading_cost: float
    premium: float  # net premium paid (> 0) or received (< 0)
    delta_after: dict[str, float]
    status: str
    solve_seconds: float
    positions_after: dict[str, float]

    @property
    def margin_released(self) -> float:
        return self.margin_before - self.verified_margin

    def plot(self, ax: Any = None) -> Any:
        """Margin before and after the trade (matplotlib, imported here only)."""
        from ..plotting import plot_margin_before_after

        return plot_margin_before_after(self, ax)


def _per_candidate(
    value: Any,
    cands: list[str],
    name: str,
    default: float,
    *,
    allow_inf: bool = True,
) -> np.ndarray:
    if value is None:
        return np.full(len(cands), default)
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in cands]
        if unknown:
            raise InvalidInputError(f"{unknown[0]!r} is not a candidate", name)
        out = np.array(
            [real_number(value[c], name, i) if c in value else default for i, c in enumerate(cands)]
        )
    else:
        out = np.full(len(cands), real_number(value, name))
    ok = np.isfinite(out) | ((out == math.inf) & allow_inf)
    bad = ~ok | (out < 0)
    if bad.any():
        what = "must be >= 0 (inf allowed)" if allow_inf else "must be finite and > 0"
        raise InvalidInputError(what, name, int(np.argmax(bad)))
    return out


def _delta_ranges(delta_range: Any, underlyings: list[str]) -> dict[str, tuple[float, float]]:
    """``(lo, hi)`` for every underlying, or a mapping underlying -> (lo, hi)."""

    def one(rng: Any, field: str) -> tuple[float, float]:
        if isinstance(rng, (str, bytes)) or not isinstance(rng, Sequence) or len(rng) != 2:
            raise InputTypeError("expected (lo, hi)", field)
        lo, hi = real_number(rng[0], field, 0), real_number(rng[1], field, 1)
        if not (math.isfinite(lo) or math.isfinite(hi)) or math.isnan(lo) or math.isnan(hi):
            raise InvalidInputError("needs at least one finite bound, no NaN", field)
        if not lo <= hi:
            raise InvalidInputError("needs lo <= hi", field)
        return lo, hi

    if delta_range is None:
        return {}
    if isinstance(delta_range, Mapping):
        unknown = [k for k in delta_range if k not in underlyings]
        if unknown:
            raise InvalidInputError(
                f"{unknown[0]!r} is not an underlying of the candidates ({underlyings})",
                "delta_range",
            )
        return {u: one(r, f"delta_range[{u}]") for u, r in delta_range.items()}
    rng = one(delta_range, "delta_range")
    return dict.fromkeys(underlyings, rng)


def _lots(lot: Any, cands: list[str]) -> np.ndarray | None:
    """Lot sizes per candidate (None: continuous sizes), each finite and > 0; a mapping must
    give every candidate one."""
    if lot is None:
        return None
    if isinstance(lot, Mapping) and set(lot) != set(cands):
        missing = [c for c in cands if c not in lot]
        if missing:
            raise InvalidInputError(
                f"no lot for {missing[0]!r}: give one for every candidate", "lot"
            )
    lots = _per_candidate(lot, cands, "lot", 1.0, allow_inf=False)
    if (lots <= 0).any():
        raise InvalidInputError("must be finite and > 0", "lot", int(np.argmax(lots <= 0)))
    return lots


def _optimum(
    lp: LinearProgram,
    g: np.ndarray,
    a: dict[int, float],
    const: float,
    cost_vec: np.ndarray,
    bounds_hi: np.ndarray,
    objective: Objective,
    integer: bool,
    margin_before: float,
    time_limit: float,
) -> tuple[np.ndarray, str]:
    """Solves the programme for ``objective``. Margin: the optimal margin first, then the
    cheapest trade reaching it (ties: the smallest); with lots, one margin-minimising trade
    (the MILP's second stage is hard for branch and bound). Margin plus cost: one solve."""
    if objective is Objective.MARGIN and integer:
        return _solve(lp, g, a, bounds_hi, True, time_limit)
    if objective is Objective.MARGIN:
        first, _ = _solve(lp, g, a, bounds_hi, False, time_limit)
        best = float(lp.objective(g, a) @ first) + const
        tol = 1e-11 * max(1.0, abs(best), abs(margin_before))
        lp.add(g, [a], np.array([best - const + tol]))
        reg = 1e-9 * (1.0 + float(cost_vec.mean()))  # ties: the smallest trade
        return _solve(lp, cost_vec + reg, {}, bounds_hi, False, time_limit)
    return _solve(lp, g + cost_vec, a, bounds_hi, integer, time_limit)


def _trade(
    sol: np.ndarray, scale: np.ndarray, integer: bool, cands: list[str], held: Mapping[str, float]
) -> np.ndarray:
    """The trade x = buys - sells from the solution: solver noise set to 0, whole lots rounded,
    and a position closed to solver precision closed exactly."""
    n = len(cands)
    x = sol[:n] * scale - sol[n : 2 * n] * scale
    x = np.where(np.abs(x) < 1e-12 * np.maximum(1.0, np.abs(x).max(initial=0.0)), 0.0, x)
    if integer:
        x = np.round(np.round(x / scale) * scale, 12)
    for i, c in enumerate(cands):
        h = held.get(c, 0.0)
        if h and abs(h + x[i]) <= 1e-7 * max(1.0, abs(h)):
            x[i] = -h
    return x


def minimize_margin(
    portfolio: Portfolio | Mapping[str, float] | None,
    market: Market,
    candidates: Sequence[str],
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
    objective: Objective = Objective.MARGIN,
    costs: Any = None,
    budget: float | None = None,
    delta_range: tuple[float, float] | Mapping[str, tuple[float, float]] | None = None,
    max_buy: float | Mapping[str, float] | None = None,
    max_sell: float | Mapping[str, float] | None = None,
    lot: float | Mapping[str, float] | None = None,
    time_limit: float = 60.0,
) -> OptimizationResult:
    """The trade in ``candidates`` that minimises ``model``'s initial margin of
    ``portfolio`` + trade (or margin plus trading cost), exactly, by linear programming.

    ``costs``: a :class:`pymargin.strategy.costs.CostModel` (fees and half-spread per unit, in the
    model's currency; default Deribit's taker fees and the model's default spreads).
    ``budget``: the most cash the trade may consume (premium paid at the ask minus premium
    received at the bid, plus costs). ``delta_range``: net coin delta after the trade, for every
    underlying or per underlying. ``max_buy`` / ``max_sell``: size limits per candidate (coins;
    0 forbids that side). ``lot``: trade in whole multiples (a MILP; with
    ``Objective.MARGIN`` it returns one margin-minimising trade, not necessarily the cheapest).
    The solution is re-margined by the ordinary engine (``verified_margin``)."""
    import time

    from .costs import CostModel

    if not isinstance(objective, Objective):
        raise InputTypeError("use a pymargin.strategy.optimize.Objective member", "objective")
    if budget is not None and not math.isfinite(real_number(budget, "budget")):
        raise InvalidInputError("must be finite", "budget")
    if not (math.isfinite(real_number(time_limit, "time_limit")) and time_limit > 0):
        raise InvalidInputError("must be finite and > 0", "time_limit")
    prog = margin_program(portfolio, market, candidates, model, params=params, currency=currency)
    cands = prog.candidates
    n = len(cands)
    cm = costs if costs is not None else CostModel()
    if not isinstance(cm, CostModel):
        raise InputTypeError("expected a pymargin.strategy.costs.CostModel", "costs")
    # maker rebates are not something the optimiser can count on: costs floored at zero
    unit_cost = np.maximum(cm.unit_costs(market, cands, prog.currency), 0.0)
    hi_buy = _per_candidate(max_buy, cands, "max_buy", math.inf)
    hi_sell = _per_candidate(max_sell, cands, "max_sell", math.inf)
    lots = _lots(lot, cands)
    ranges = _delta_ranges(delta_range, sorted(set(prog.underlying)))
    # variables: buys p >= 0, sells q >= 0 (in lots when integer), x = p - q
    scale = lots if lots is not None else np.ones(n)
    t = np.hstack([np.diag(scale), -np.diag(scale)])
    lp = LinearProgram(2 * n)
    const, g, a = lp.lin(prog.root, t)
    const += prog.constant
    cost_vec = np.concatenate([unit_cost * scale, unit_cost * scale])
    margin_before = prog.margin(np.zeros(n))
    # delta limits: the model's own (coverage) and the user's
    for dg, lo, hi, _ in prog.limits:
        _range_rows(lp, dg @ t, lo, hi)
    for u, (lo, hi) in ranges.items():
        mask = np.array([x == u for x in prog.underlying])
        d0 = prog.base_delta.get(u, 0.0)
        _range_rows(lp, (prog.delta * mask) @ t, lo - d0, hi - d0)
    if budget is not None:
        cash = np.concatenate([(prog.value + unit_cost) * scale, (-prog.value + unit_cost) * scale])
        lp.add(cash, [{}], np.array([float(budget)]))
    bounds_hi = np.concatenate([hi_buy / scale, hi_sell / scale])
    t0 = time.perf_counter()
    sol, status = _optimum(
        lp, g, a, const, cost_vec, bounds_hi, objective, lots is not None, margin_before, time_limit
    )
    seconds = time.perf_counter() - t0
    x = _trade(sol, scale, lots is not None, cands, prog.positions)
    trades = {c: float(q) for c, q in zip(cands, x) if q != 0.0}
    after = prog.margin(x)
    verified = prog.verified_margin(x)
    buys, sells = np.maximum(x, 0.0), np.maximum(-x, 0.0)
    delta_after = dict(prog.base_delta)
    for u, d, q in zip(prog.underlying, prog.delta, x):
        delta_after[u] = delta_after.get(u, 0.0) + float(d * q)
    return OptimizationResult(
        prog.model,
        prog.currency,
        trades,
        margin_before,
        after,
        verified,
        float(unit_cost @ (buys + sells)),
        float(prog.value @ x),
        delta_after,
        status,
        seconds,
        prog.after(x),
    )


def _range_rows(lp: LinearProgram, g: np.ndarray, lo: float, hi: float) -> None:
    if math.isfinite(hi):
        lp.add(g, [{}], np.array([hi]))
    if math.isfinite(lo):
        lp.add(-g, [{}], np.array([-lo]))


def _solve(
    lp: LinearProgram,
    g: np.ndarray,
    a: dict[int, float],
    hi: np.ndarray,
    integer: bool,
    time_limit: float,
) -> tuple[np.ndarray, str]:
    so = scipy_module()

    A, b = lp.matrices()
    c = lp.objective(g, a)
    n_aux = lp.n_aux
    lo = np.zeros(lp.n_vars + n_aux)
    up = np.concatenate([hi, np.full(n_aux, np.inf)])
    lo[lp.n_vars :] = -np.inf
    if integer:
        res = so.milp(
            c,
            constraints=so.LinearConstraint(A, -np.inf, b) if A.shape[0] else None,
            bounds=so.Bounds(lo, up),
            integrality=np.concatenate([np.ones(lp.n_vars), np.zeros(n_aux)]),
            options={"time_limit": time_limit},
        )
    else:
        res = so.linprog(
            c,
            A_ub=A if A.shape[0] else None,
            b_ub=b if A.shape[0] else None,
            bounds=np.stack([lo, up], axis=1),
            method="highs",
            options={
                "time_limit": time_limit,
                "primal_feasibility_tolerance": 1e-10,
                "dual_feasibility_tolerance": 1e-10,
            },
        )
    if res.status == 2:
        raise NoSolutionError("no trade satisfies the constraints", "constraints")
    if res.status == 3:
        raise NoSolutionError("unbounded: add size limits", "max_buy")
    if res.x is None or res.status not in (0, 1):
        raise NoSolutionError(f"HiGHS stopped: {res.message}", "optimizer")
    return np.asarray(res.x), "optimal" if res.status == 0 else f"best found ({res.message})"
