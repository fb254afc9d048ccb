# SPDX-License-Identifier: Apache-2.0
"""Cross-venue (inter-protocol) margin: one risk view over accounts on several venues, each
margined under its own model with its collateral haircuts, next to the margin the unified
portfolio would need in one account; and an allocation optimiser that places positions (or
hedges) across the venues to minimise the total margin, subject to each venue's rules (which
instruments it lists, its model, its collateral).

All amounts are in USD at the snapshot's prices. The allocation is one LP over every venue's
margin programme (:mod:`pymargin.strategy.optimize`), so the venues must use piecewise-linear models
(Deribit S:PM, Paradex PM, FINRA-style PM); each venue's margin after the allocation is
re-computed by the ordinary engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..conventions import is_usd_stablecoin
from ..exceptions import InputTypeError, InvalidInputError, NoSolutionError
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.registry import MarginModel, margin

__all__ = [
    "AllocationResult",
    "CrossVenueView",
    "Placement",
    "VenueAccount",
    "VenueMargin",
    "allocate",
    "cross_venue_view",
]


def _finite(v: Any) -> bool:
    """A finite int or float (bool refused; an int beyond any double is not finite)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


@dataclass(frozen=True)
class VenueAccount:
    """An account on one venue: its model (and parameters, settlement currency for segregated
    models), positions, collateral (currency -> amount) and the venue's haircuts on it."""

    name: str
    model: MarginModel
    positions: Mapping[str, float] = field(default_factory=dict)
    collateral: Mapping[str, float] = field(default_factory=dict)
    haircuts: Mapping[str, float] = field(default_factory=dict)
    params: Any = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, MarginModel):
            raise InputTypeError("use a pymargin.MarginModel member", "model")
        Portfolio(dict(self.positions))  # typed errors for bad rows
        coll: dict[str, float] = {}
        for k, (ccy, amt) in enumerate(self.collateral.items()):
            if not (_finite(amt) and amt >= 0):
                raise InvalidInputError(f"{ccy}: must be finite and >= 0", "collateral", k)
            key = str(ccy).upper()
            if key in coll:
                raise InvalidInputError(f"{ccy}: given twice", "collateral", k)
            coll[key] = float(amt)
        cuts: dict[str, float] = {}
        for k, (ccy, h) in enumerate(self.haircuts.items()):
            if not (_finite(h) and 0 <= h <= 1):
                raise InvalidInputError(f"{ccy}: must be in [0, 1]", "haircuts", k)
            key = str(ccy).upper()
            if key not in coll:
                raise InvalidInputError(f"{ccy}: not a collateral currency", "haircuts", k)
            cuts[key] = float(h)
        # currencies compared case-blind: stored upper-case
        object.__setattr__(self, "collateral", coll)
        object.__setattr__(self, "haircuts", cuts)

    def collateral_usd(self, market: Market) -> float:
        """Collateral value after the venue's haircuts."""
        return float(
            sum(
                amt * market.usd_price(c) * (1.0 - self.haircuts.get(c, 0.0))
                for c, amt in self.collateral.items()
            )
        )

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"params": self.params}
        if self.model in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_STANDARD):
            kw["currency"] = self.currency
        if self.model is MarginModel.DERIBIT_XPM:
            kw["collateral"] = dict(self.collateral)
        return kw


def _fx(market: Market, currency: str) -> float:
    return 1.0 if is_usd_stablecoin(currency) else market.usd_price(currency)


@dataclass(frozen=True)
class VenueMargin:
    venue: str
    model: MarginModel
    currency: str
    initial_margin: float  # in ``currency``
    initial_margin_usd: float
    maintenance_margin_usd: float
    collateral_usd: float  # after haircuts
    excess_usd: float  # collateral - IM


def _venue_margin(
    acct: VenueAccount, market: Market, positions: Mapping[str, float]
) -> VenueMargin:
    coll = acct.collateral_usd(market)
    if not positions:
        return VenueMargin(acct.name, acct.model, "usd", 0.0, 0.0, 0.0, coll, coll)
    r = margin(Portfolio(dict(positions)), market, acct.model, **acct._kw())
    fx = _fx(market, r.currency)
    im, mm = r.initial_margin * fx, r.maintenance_margin * fx
    return VenueMargin(acct.name, acct.model, r.currency, r.initial_margin, im, mm, coll, coll - im)


@dataclass
class CrossVenueView:
    """Per-venue margins, their sum, and the unified portfolio's margin under one model."""

    venues: list[VenueMargin]
    total_initial_margin_usd: float
    total_collateral_usd: float
    unified_model: MarginModel
    unified_initial_margin_usd: float
    net_delta: dict[str, float]  # coins per underlying, all venues

    @property
    def saving_usd(self) -> float:
        """What a unified account would free: sum of per-venue IMs - unified IM."""
        return self.total_initial_margin_usd - self.unified_initial_margin_usd


def cross_venue_view(
    accounts: Sequence[VenueAccount],
    market: Market,
    *,
    unified_model: MarginModel = MarginModel.DERIBIT_XPM,
    unified_params: Any = None,
) -> CrossVenueView:
    """Every account under its own model, and all positions together (instrument sizes summed,
    all collateral pooled) under ``unified_model``."""
    from ..risk.greeks import portfolio_greeks

    if not accounts:
        raise InvalidInputError("no accounts", "accounts")
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise InvalidInputError("venue names must be unique", "accounts")
    per = [_venue_margin(a, market, a.positions) for a in accounts]
    merged: dict[str, float] = {}
    pooled: dict[str, float] = {}
    for a in accounts:
        for k, v in a.positions.items():
            merged[k] = merged.get(k, 0.0) + float(v)
        for c, v in a.collateral.items():
            pooled[c] = pooled.get(c, 0.0) + float(v)
    merged = {k: v for k, v in merged.items() if v != 0.0}
    unified = 0.0
    delta: dict[str, float] = {}
    if merged:
        kw: dict[str, Any] = {"params": unified_params}
        if unified_model is MarginModel.DERIBIT_XPM:
            kw["collateral"] = pooled
        r = margin(Portfolio(merged), market, unified_model, **kw)
        unified = r.initial_margin * _fx(market, r.currency)
        g = portfolio_greeks(merged, market)
        delta = {u: t["delta_usd"] / market.index_price(u) for u, t in g.by_underlying.items()}
    return CrossVenueView(
        per,
        float(sum(v.initial_margin_usd for v in per)),
        float(sum(v.collateral_usd for v in per)),
        unified_model,
        float(unified),
        delta,
    )


@dataclass(frozen=True)
class Placement:
    """``size`` (coins; < 0 short) of one exposure to place, with the instrument that carries
    it on each venue allowed to take it (venue name -> instrument)."""

    name: str
    size: float
    venues: Mapping[str, str]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InputTypeError(f"must be a string, got {type(self.name).__name__}", "name")
        if not _finite(self.size):
            raise InvalidInputError(f"{self.name}: must be a finite number", "size")
        if not isinstance(self.venues, Mapping) or not self.venues:
            raise InvalidInputError(f"{self.name}: no venue can take it", "venues")
        for k, (v, inst) in enumerate(self.venues.items()):
            if not isinstance(v, str) or not isinstance(inst, str):
                raise InputTypeError(
                    f"{self.name}: venue name -> instrument name (strings)", "venues", k
                )


@dataclass
class AllocationResult:
    """Where each placement goes (venue -> size), the venues' margins after (programme and
    engine), the total against putting everything on each single venue."""

    allocation: dict[str, dict[str, float]]
    venues: list[VenueMargin]  # after, by the ordinary engine
    total_initial_margin_usd: float  # the LP optimum
    verified_total_initial_margin_usd: float
    total_before_usd: float
    single_venue_usd: dict[str, float]  # all placements on one venue (where it can take all)


def _checked_allocation(
    accounts: Sequence[VenueAccount], placements: Sequence[Placement]
) -> dict[str, VenueAccount]:
    """The venues by name (unique), and placements that are Placements, named once each, on
    known venues."""
    by_name = {a.name: a for a in accounts}
    if len(by_name) != len(accounts):
        raise InvalidInputError("venue names must be unique", "accounts")
    if not placements:
        raise InvalidInputError("nothing to place", "placements")
    seen: set[str] = set()
    for k, p in enumerate(placements):
        if not isinstance(p, Placement):
            raise InputTypeError("expected pymargin.strategy.crossvenue.Placement", "placements", k)
        if p.name in seen:  # the allocation is keyed by name: two would be merged
            raise InvalidInputError(f"{p.name!r} appears twice", "placements", k)
        seen.add(p.name)
        unknown = [v for v in p.venues if v not in by_name]
        if unknown:
            raise InvalidInputError(f"{p.name}: unknown venue {unknown[0]!r}", "placements", k)
    return by_name


def _solve_fractions(so: Any, lp: Any, c_vec: np.ndarray, n: int, split: bool) -> Any:
    """HiGHS on the allocation: fractions in [0, 1] (an LP), or whole placements (a MILP);
    an infeasible or unfinished solve is a NoSolutionError."""
    A, b = lp.matrices()
    lower = np.concatenate([np.zeros(n), np.full(lp.n_aux, -np.inf)])
    upper = np.concatenate([np.ones(n), np.full(lp.n_aux, np.inf)])
    if split:
        res = so.linprog(c_vec, A_ub=A, b_ub=b, bounds=np.stack([lower, upper], 1), method="highs")
    else:
        res = so.milp(
            c_vec,
            constraints=so.LinearConstraint(A, -np.inf, b),
            bounds=so.Bounds(lower, upper),
            integrality=np.concatenate([np.ones(n), np.zeros(lp.n_aux)]),
        )
    if res.status == 2 or res.x is None:
        raise NoSolutionError("no allocation fits every venue's collateral and rules", "placements")
    if res.status != 0:
        raise NoSolutionError(f"HiGHS stopped: {res.message}", "optimizer")
    return res


def _all_on_one_venue(
    accounts: Sequence[VenueAccount],
    market: Market,
    placements: Sequence[Placement],
    progs: dict[str, tuple[Any, list[int]]],
) -> dict[str, float]:
    """Per venue that lists every placement, the total IM (USD) with everything put there."""
    singles: dict[str, float] = {}
    for name, (prog, _) in progs.items():
        if all(name in p.venues for p in placements):
            x = np.zeros(len(prog.candidates))
            for p in placements:
                x[prog.candidates.index(p.venues[name])] += p.size
            others = sum(
                _venue_margin(a, market, a.positions).initial_margin_usd
                for a in accounts
                if a.name != name
            )
            singles[name] = _fx(market, prog.currency) * prog.margin(x) + others
    return singles


def allocate(
    accounts: Sequence[VenueAccount],
    market: Market,
    placements: Sequence[Placement],
    *,
    respect_collateral: bool = True,
    split: bool = True,
) -> AllocationResult:
    """Splits each placement across the venues that list it so the sum of the venues' IMs (USD)
    is least; with ``respect_collateral`` every venue's IM stays within its collateral after
    haircuts; ``split=False`` puts each placement whole on one venue (a MILP)."""
    from .lp import LinearProgram, scipy_module
    from .optimize import margin_program

    so = scipy_module()

    by_name = _checked_allocation(accounts, placements)
    # variables: y[p, v] in [0, 1], the fraction of placement p on venue v
    pairs = [(k, v) for k, p in enumerate(placements) for v in p.venues]
    n = len(pairs)
    lp = LinearProgram(n)
    total_g = np.zeros(n)
    total_a: dict[int, float] = {}
    total_c = 0.0
    progs: dict[str, tuple[Any, list[int]]] = {}
    before = 0.0
    for name, acct in by_name.items():
        cols = [j for j, (_, v) in enumerate(pairs) if v == name]
        if not cols:  # no placement can go there: its margin is a constant of the total
            fixed = _venue_margin(acct, market, acct.positions).initial_margin_usd
            before += fixed
            total_c += fixed
            continue
        cands = list(dict.fromkeys(placements[pairs[j][0]].venues[name] for j in cols))
        prog = margin_program(
            acct.positions, market, cands, acct.model, params=acct.params, currency=acct.currency
        )
        progs[name] = (prog, cols)
        fx = _fx(market, prog.currency)
        t = np.zeros((len(cands), n))
        for j in cols:
            p = placements[pairs[j][0]]
            t[cands.index(p.venues[name]), j] = p.size
        c, g, a = lp.lin(prog.root, t)
        c += prog.constant
        before += fx * prog.margin(np.zeros(len(cands)))
        total_c += fx * c
        total_g += fx * g
        for key, val in a.items():
            total_a[key] = total_a.get(key, 0.0) + fx * val
        for dg, lo, hi, _ in prog.limits:
            row = dg @ t
            if math.isfinite(hi):
                lp.add(row, [{}], np.array([hi]))
            if math.isfinite(lo):
                lp.add(-row, [{}], np.array([-lo]))
        if respect_collateral:
            lp.add(g, [a], np.array([acct.collateral_usd(market) / fx - c]))
    # each placement fully placed: sum_v y = 1
    for k in range(len(placements)):
        row = np.array([1.0 if pk == k else 0.0 for pk, _ in pairs])
        lp.add(row, [{}], np.array([1.0]))
        lp.add(-row, [{}], np.array([-1.0]))
    c_vec = lp.objective(total_g, total_a)
    res = _solve_fractions(so, lp, c_vec, n, split)
    y = np.clip(res.x[:n], 0.0, 1.0)
    y = np.where(y < 1e-10, 0.0, y)
    allocation: dict[str, dict[str, float]] = {p.name: {} for p in placements}
    for j, (k, v) in enumerate(pairs):
        if y[j] > 0:
            allocation[placements[k].name][v] = float(y[j] * placements[k].size)
    after: list[VenueMargin] = []
    for name, acct in by_name.items():
        pos = dict(acct.positions)
        for j, (k, v) in enumerate(pairs):
            if v == name and y[j] > 0:
                inst = placements[k].venues[v]
                pos[inst] = pos.get(inst, 0.0) + float(y[j] * placements[k].size)
        after.append(_venue_margin(acct, market, {k: q for k, q in pos.items() if q != 0.0}))
    singles = _all_on_one_venue(accounts, market, placements, progs)
    return AllocationResult(
        allocation,
        after,
        float(c_vec @ res.x + total_c),
        float(sum(v.initial_margin_usd for v in after)),
        float(before),
        singles,
    )
