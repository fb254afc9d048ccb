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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import real_number
from ..exceptions import InputTypeError, InvalidInputError, NoSolutionError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..models.params import ModelCoverageError
from ..models.registry import MarginModel, margin
from ..risk.revaluation import mark_values
from .lp import (
    LinearProgram,
    MaxOf,
    Node,
    Pieces,
    SumOf,
    abs_pieces,
    evaluate,
    scipy_module,
    zero_floor,
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

SUPPORTED = (MarginModel.DERIBIT_PM, MarginModel.PARADEX_PM, MarginModel.FINRA_PM)


@dataclass
class MarginProgram:
    """A model's initial margin as a convex piecewise-linear function of the trade ``x``
    (units of each candidate, coins of the underlying) added to ``positions``."""

    model: MarginModel
    currency: str
    positions: dict[str, float]
    candidates: list[str]
    root: Node
    constant: float  # added to the tree (e.g. 0)
    underlying: list[str]  # per candidate
    delta: np.ndarray  # coin delta per unit of each candidate
    base_delta: dict[str, float]  # coin delta of the positions per underlying
    value: np.ndarray  # mark value per unit, in ``currency``
    limits: list[tuple[np.ndarray, float, float, str]] = field(default_factory=list)
    params: Any = None
    market: Market | None = None

    def margin(self, x: np.ndarray) -> float:
        return evaluate(self.root, np.asarray(x, dtype=np.float64)) + self.constant

    def after(self, x: np.ndarray) -> dict[str, float]:
        """The positions after trading ``x`` (entries that net to zero dropped)."""
        out = dict(self.positions)
        for name, q in zip(self.candidates, np.asarray(x, dtype=np.float64)):
            if q != 0.0:
                out[name] = out.get(name, 0.0) + float(q)
        return {k: v for k, v in out.items() if v != 0.0}

    def verified_margin(self, x: np.ndarray) -> float:
        """The ordinary engine's IM of the positions after ``x`` (0 when nothing is left)."""
        pos = self.after(x)
        if not pos:
            return 0.0
        kw: dict[str, Any] = {"params": self.params}
        if self.model is MarginModel.DERIBIT_PM:
            kw["currency"] = self.currency
        assert self.market is not None
        return margin(Portfolio(pos), self.market, self.model, **kw).initial_margin


def _positions(portfolio: Portfolio | Mapping[str, float] | None) -> dict[str, float]:
    if portfolio is None:
        return {}
    pf = as_portfolio(portfolio)
    return dict(pf.positions)


def margin_program(
    portfolio: Portfolio | Mapping[str, float] | None,
    market: Market,
    candidates: Sequence[str],
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
) -> MarginProgram:
    """The IM of ``portfolio`` plus a trade in ``candidates`` under ``model`` as a
    :class:`MarginProgram` (see the module docstring for the supported models)."""
    if not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    if model not in SUPPORTED:
        raise ModelCoverageError(
            f"{model.name} is not piecewise linear in the position sizes; the optimiser "
            f"supports {', '.join(m.name for m in SUPPORTED)}"
        )
    pos = _positions(portfolio)
    cands = list(dict.fromkeys(candidates))
    if not cands:
        raise InvalidInputError("no candidate instruments", "candidates")
    Portfolio(dict.fromkeys(cands, 0.0))  # typed error for malformed names
    if model is MarginModel.DERIBIT_PM:
        prog = _deribit_pm_program(pos, market, cands, params, currency)
    elif model is MarginModel.PARADEX_PM:
        prog = _paradex_program(pos, market, cands, params)
    else:
        prog = _finra_program(pos, market, cands, params)
    prog.market = market
    return prog


def _union(pos: dict[str, float], cands: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All instruments (positions first), sizes of the positions, candidate -> union index."""
    names = list(pos) + [c for c in cands if c not in pos]
    where = {n: i for i, n in enumerate(names)}
    sizes = np.zeros(len(names))
    sizes[: len(pos)] = list(pos.values())
    return names, sizes, np.array([where[c] for c in cands], dtype=np.int64)


def _deribit_pm_program(
    pos: dict[str, float],
    market: Market,
    cands: list[str],
    params: Any,
    currency: str | None,
) -> MarginProgram:
    from ..accounts.batch import venue_risk
    from ..models.deribit_pm import DeribitPMParams

    if params is not None and not isinstance(params, DeribitPMParams):
        raise InputTypeError("expected DeribitPMParams", "params")
    names, sizes, ci = _union(pos, cands)
    risk = venue_risk(market, names, params, currency=currency)
    damp = risk.damp
    assert damp is not None  # Deribit S:PM rows always carry their extended dampeners
    if params is None:
        table = market.table
        rows_all = table.rows(names)
        pairs = table.code_names(table.column("pair")[rows_all])
        params = DeribitPMParams.latest_for(risk.currency, pairs)
    n = len(cands)
    n_std = risk.n_std
    parts: list[Node] = []
    limits: list[tuple[np.ndarray, float, float, str]] = []
    table = market.table
    rows_all = table.rows(names)
    pair_names = list(dict.fromkeys(table.codes[int(c)] for c in table.column("pair")[rows_all]))
    for k, pair in enumerate(pair_names):
        inside = risk.pair == k
        v0 = (sizes * inside) @ risk.rows
        g = (risk.rows[ci] * inside[ci, None]).T  # (35, n)
        parts.append(
            MaxOf(
                (
                    zero_floor(n),
                    Pieces(-v0[:n_std], -g[:n_std]),
                    Pieces(-v0[n_std:] - damp[k], -g[n_std:]),
                )
            )
        )
        pp = params.pairs[pair]
        index = market.index_price(f"{pair.split('_')[0].upper()}_USD")
        d0 = float((sizes * inside) @ risk.delta)
        dg = risk.delta[ci] * inside[ci]
        thr = pp.delta_total_liq_shock_threshold / index
        limits.append(
            (dg, -thr - d0, thr - d0, f"{pair} net delta within the delta-shock threshold")
        )
    roll_parts: list[Node] = []
    roll_w: list[float] = []
    for e in range(len(risk.roll_k)):
        inside = risk.expiry == e
        d0 = float((sizes * inside) @ risk.delta)
        roll_parts.append(abs_pieces(d0, risk.delta[ci] * inside[ci]))
        roll_w.append(float(risk.roll_k[e]))
    root = SumOf(tuple(parts) + tuple(roll_parts), (1.0,) * len(parts) + tuple(roll_w))
    cand_rows = table.rows(cands)
    und = [table.codes[int(c)] for c in table.column("underlying")[cand_rows]]
    base = _base_delta(market, pos)
    return MarginProgram(
        MarginModel.DERIBIT_PM,
        risk.currency,
        pos,
        cands,
        root,
        0.0,
        und,
        risk.delta[ci],
        base,
        risk.value[ci],
        limits,
        params,
    )


def _base_delta(market: Market, pos: dict[str, float]) -> dict[str, float]:
    from ..models.vectors import coin_deltas

    out: dict[str, float] = {}
    if not pos:
        return out
    table = market.table
    rows = table.rows(list(pos))
    d = coin_deltas(market, rows) * np.array(list(pos.values()))
    for c, v in zip(table.column("underlying")[rows], d):
        u = table.codes[int(c)]
        out[u] = out.get(u, 0.0) + float(v)
    return out


def _paradex_program(
    pos: dict[str, float], market: Market, cands: list[str], params: Any
) -> MarginProgram:
    from ..models.paradex_pm import asset_params, paradex_scenarios
    from ..models.params import load_params
    from ..models.vectors import coin_deltas
    from ..risk.revaluation import risk_arrays_for_rows

    if params is not None and not isinstance(params, str):
        raise InputTypeError("expected a Paradex parameter version (str)", "params")
    names, sizes, ci = _union(pos, cands)
    table = market.table
    rows = table.rows(names)
    inverse = table.column("settlement")[rows] != int(Settlement.LINEAR)
    if inverse.any():
        k = int(np.argmax(inverse))
        raise InvalidInputError(
            f"{names[k]} is coin-settled: Paradex margins USDC-settled instruments only",
            "instrument",
            k,
        )
    bases = {table.codes[int(c)].split("_")[0].upper() for c in table.column("pair")[rows]}
    if len(bases) != 1:
        raise InvalidInputError(f"one underlying per programme, got {sorted(bases)}", "candidates")
    base = bases.pop()
    doc = load_params("paradex_pm", params)
    a = asset_params(doc, base)
    u, h = float(a["unhedged_delta_factor"]), float(a["hedged_delta_factor"])
    if u < h / 2:
        raise ModelCoverageError(
            "unhedged_delta_factor < hedged_delta_factor / 2: the minimum delta requirement is "
            "not convex and the LP would not be exact"
        )
    scen, weights = paradex_scenarios(doc, base)
    r = risk_arrays_for_rows(market, rows, scen) * weights[None, :]
    n = len(cands)
    scan = MaxOf((zero_floor(n), Pieces(-(sizes @ r), -r[ci].T)))
    spot = market.index_price(f"{base}_USD")
    unit = coin_deltas(market, rows)
    net = abs_pieces(float(sizes @ unit), unit[ci])
    gross: list[Node] = []
    for i in range(len(names)):
        g = np.zeros(n)
        g[ci == i] = unit[i]
        gross.append(abs_pieces(float(sizes[i] * unit[i]), g))
    mdr = SumOf((net, *gross), ((u - h / 2) * spot,) + (h / 2 * spot,) * len(gross))
    root = MaxOf((scan, mdr))
    return MarginProgram(
        MarginModel.PARADEX_PM,
        "usdc",
        pos,
        cands,
        root,
        0.0,
        [f"{base}_USD"] * n,
        unit[ci],
        _base_delta(market, pos),
        mark_values(market, cands, True),
        [],
        params,
    )


def _finra_program(
    pos: dict[str, float], market: Market, cands: list[str], params: Any
) -> MarginProgram:
    import inspect

    from ..models.scan import finra_grid, finra_pm_margin
    from ..models.vectors import coin_deltas
    from ..risk.revaluation import risk_arrays_for_rows

    if params is not None and not isinstance(params, dict):
        raise InputTypeError("expected a dict of finra_pm_margin keyword arguments", "params")
    defaults = {
        k: v.default
        for k, v in inspect.signature(finra_pm_margin).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    kw = {**defaults, **(params or {})}
    names, sizes, ci = _union(pos, cands)
    table = market.table
    rows = table.rows(names)
    und = table.column("underlying")[rows]
    n = len(cands)
    parts: list[Node] = []
    for code in np.unique(und):
        u = table.codes[int(code)]
        sel = np.flatnonzero(und == code)
        grid = finra_grid(u, kw["move"], kw["points"])
        risk = risk_arrays_for_rows(market, rows[sel], grid)
        inverse = table.column("settlement")[rows[sel]] == int(Settlement.INVERSE)
        price = market.index_price(u) * (1.0 + grid.move[:, 0])
        risk[inverse] *= price
        full = np.zeros((len(names), grid.n))
        full[sel] = risk
        per_contract = kw["minimum_per_contract"] * kw["multiplier"]
        contracts: list[Node] = []
        for i in sel:
            g = np.zeros(n)
            g[ci == i] = 1.0
            cs = float(table.column("contract_size")[rows[i]])
            contracts.append(abs_pieces(float(sizes[i]), g / cs))
        minimum = SumOf(tuple(contracts), (per_contract,) * len(contracts))
        parts.append(MaxOf((zero_floor(n), Pieces(-(sizes @ full), -full[ci].T), minimum)))
    root = SumOf(tuple(parts), (1.0,) * len(parts))
    cand_rows = table.rows(cands)
    unit = coin_deltas(market, cand_rows)
    undc = [table.codes[int(c)] for c in table.column("underlying")[cand_rows]]
    return MarginProgram(
        MarginModel.FINRA_PM,
        "usd",
        pos,
        cands,
        root,
        0.0,
        undc,
        unit,
        _base_delta(market, pos),
        mark_values(market, cands, True),
        [],
        params,
    )


def default_candidates(
    market: Market,
    underlying: str = "BTC_USD",
    *,
    max_days: float = 120.0,
    moneyness: tuple[float, float] = (0.7, 1.3),
    settlement: Settlement = Settlement.INVERSE,
) -> list[str]:
    """Hedging candidates listed in ``market``: the perpetual and futures of ``underlying``,
    and its options expiring within ``max_days`` with strikes within ``moneyness`` x index.
    ``Settlement.LINEAR``: the USDC perpetual, and the USDC-settled twins of the listed options
    (same expiry and strike; valued from the market's smile when they have no mark)."""
    from ..market.instruments import parse_instrument

    index = market.index_price(underlying)
    base = underlying.split("_")[0]
    out: list[str] = []
    for name in market.marks:
        try:
            inst = parse_instrument(name)
        except InvalidInputError:
            continue
        if inst.underlying != underlying:
            continue
        if inst.kind is InstrumentKind.OPTION:
            assert inst.strike is not None
            days = inst.time_to_expiry(market.valuation_time) * 365.0
            if not (0 < days <= max_days):
                continue
            if not (moneyness[0] * index <= inst.strike <= moneyness[1] * index):
                continue
            if settlement is Settlement.LINEAR and inst.settlement is Settlement.INVERSE:
                name = f"{base}_USDC-" + name.split("-", 1)[1]
        elif inst.settlement is not settlement:
            continue
        if (
            inst.kind is not InstrumentKind.OPTION
            or settlement is Settlement.LINEAR
            or (inst.settlement is settlement)
        ):
            out.append(name)
    perp = f"{base}-PERPETUAL" if settlement is Settlement.INVERSE else f"{base}_USDC-PERPETUAL"
    out = list(dict.fromkeys(out))
    if perp not in out:
        out.insert(0, perp)
    return out


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
    if isinstance(lot, Mapping) and set(lot) != set(cands):
        missing = [c for c in cands if c not in lot]
        if missing:
            raise InvalidInputError(
                f"no lot for {missing[0]!r}: give one for every candidate", "lot"
            )
    lots = _per_candidate(lot, cands, "lot", 1.0, allow_inf=False) if lot is not None else None
    if lots is not None and (lots <= 0).any():
        raise InvalidInputError("must be finite and > 0", "lot", int(np.argmax(lots <= 0)))
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
    integer = lots is not None
    if objective is Objective.MARGIN and integer:
        # the MILP's second stage (cheapest trade at the optimal margin) is hard for branch and
        # bound, and a small cost weight stalls its gap: with lots, one margin-minimising trade
        sol, status = _solve(lp, g, a, bounds_hi, True, time_limit)
    elif objective is Objective.MARGIN:
        first, status = _solve(lp, g, a, bounds_hi, False, time_limit)
        # second stage: the cheapest trade among those reaching the optimal margin
        best = float(lp.objective(g, a) @ first) + const
        tol = 1e-11 * max(1.0, abs(best), abs(margin_before))
        lp.add(g, [a], np.array([best - const + tol]))
        reg = 1e-9 * (1.0 + float(cost_vec.mean()))  # ties: the smallest trade
        sol, status = _solve(lp, cost_vec + reg, {}, bounds_hi, False, time_limit)
    else:
        sol, status = _solve(lp, g + cost_vec, a, bounds_hi, integer, time_limit)
    seconds = time.perf_counter() - t0
    x = sol[:n] * scale - sol[n : 2 * n] * scale
    x = np.where(np.abs(x) < 1e-12 * np.maximum(1.0, np.abs(x).max(initial=0.0)), 0.0, x)
    if lots is not None:
        x = np.round(np.round(x / scale) * scale, 12)
    for i, c in enumerate(cands):  # a position closed to solver precision is closed exactly
        held = prog.positions.get(c, 0.0)
        if held and abs(held + x[i]) <= 1e-7 * max(1.0, abs(held)):
            x[i] = -held
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
