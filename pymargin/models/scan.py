# SPDX-License-Identifier: Apache-2.0
"""Exchange-standard scenario models on risk arrays: CME SPAN classic (16 scenarios) and the
FINRA 4210 / Cboe portfolio-margin grid.

* SPAN (CME's published scenario definitions): prices move by 0, +-1/3, +-2/3, +-1 of the price
  scan range with the vol up and down by the vol scan range, and +-2 scan ranges with vol
  unchanged counted at 35 %; scan risk = the largest weighted loss of the summed risk arrays
  (losses positive), floored by the short option minimum (per short option contract). The
  intra-/inter-commodity spread charges and credits need a SPAN parameter file (tiers, credit
  rates) and are not part of this function.
* FINRA 4210(g) / Cboe rule 12.4: the underlying moves over a +-range split into 10
  equidistant points (equities +-15 %); the requirement is the largest loss, and at least
  $0.375 x the contract multiplier per option or futures contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError
from ..market.market import Market
from ..market.portfolio import position_arrays
from ..risk.revaluation import risk_arrays_for_rows
from ..risk.scenarios import ScenarioSet, VolShockKind, VolShockRule, scenario_label
from .scenario_margin import ModelRules, scenario_margin

__all__ = [
    "FINRA_ARGS",
    "FinraPMResult",
    "check_finra_args",
    "finra_grid",
    "finra_kwargs",
    "finra_pm_margin",
    "finra_pm_requirement",
    "span16",
    "span_scan_risk",
]

_SPAN_FRACTIONS = (
    0.0,
    0.0,
    1 / 3,
    1 / 3,
    -1 / 3,
    -1 / 3,
    2 / 3,
    2 / 3,
    -2 / 3,
    -2 / 3,
    1.0,
    1.0,
    -1.0,
    -1.0,
)


def span16(
    underlying: str,
    price_scan: float,
    vol_scan: float,
    *,
    extreme_multiple: float = 2.0,
    extreme_weight: float = 0.35,
) -> tuple[ScenarioSet, np.ndarray]:
    """CME SPAN's 16 scenarios in CME's order (1: unchanged price, vol up; 2: vol down; 3-4:
    +1/3; 5-6: -1/3; ...; 15-16: +-extreme, vol unchanged) and their weights. ``price_scan``
    is a relative move of the underlying, ``vol_scan`` absolute vol points (0.05 = 5 points)."""
    if not (0 < price_scan * extreme_multiple < 1):
        raise InvalidInputError("price_scan x extreme_multiple must be in (0, 1)", "price_scan")
    moves = [f * price_scan for f in _SPAN_FRACTIONS] + [
        extreme_multiple * price_scan,
        -extreme_multiple * price_scan,
    ]
    states = [1, -1] * 7 + [0, 0]
    weights = np.array([1.0] * 14 + [extreme_weight] * 2)
    rule = VolShockRule(VolShockKind.ADDITIVE, vol_scan, vol_scan, 0.0, 0.0)
    labels = tuple(scenario_label(underlying, m, s, w) for m, s, w in zip(moves, states, weights))
    scen = ScenarioSet(
        (underlying,),
        np.array(moves)[:, None],
        np.array(states),
        (rule,),
        ("span",) * 16,
        labels,
        weights,
    )
    return scen, weights


def span_scan_risk(
    arrays: np.ndarray,
    positions: np.ndarray,
    weights: np.ndarray,
    *,
    short_option_minimum: float = 0.0,
    short_options: float = 0.0,
) -> float:
    """Scan risk of positions (contracts; < 0 short) over risk arrays given as P&L per long
    contract (gains positive), ``arrays[instrument, scenario]``: max(0, largest weighted loss),
    at least ``short_option_minimum`` x the number of short option contracts."""
    a = np.asarray(arrays, dtype=np.float64)
    q = np.asarray(positions, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != q.shape[0] or a.shape[1] != w.shape[0]:
        raise InvalidInputError(
            "arrays must be (instruments, scenarios) matching positions and weights", "arrays"
        )
    if not (np.isfinite(a).all() and np.isfinite(q).all() and np.isfinite(w).all()):
        raise InvalidInputError("must be finite", "arrays")
    floor = short_option_minimum * short_options
    if not (math.isfinite(floor) and floor >= 0):
        raise InvalidInputError("short_option_minimum x short_options must be >= 0", "floor")
    # The core's scenario-margin model: one group, its losses weighted, floored.
    return scenario_margin(ModelRules(), (q @ a)[None, :], weight=w[None, :], floor=floor).worst


def finra_grid(underlying: str, move: float = 0.15, points: int = 10) -> ScenarioSet:
    """``points`` equidistant moves over [-move, +move] without 0 (FINRA: +-15 %, 10 points)."""
    if points < 2 or points % 2:
        raise InvalidInputError("must be an even number >= 2", "points")
    half = np.arange(1, points // 2 + 1) * move / (points // 2)
    moves = np.concatenate([-half[::-1], half])
    rule = VolShockRule(VolShockKind.ADDITIVE, 0.0, 0.0)
    return ScenarioSet(
        (underlying,),
        moves[:, None],
        np.zeros(points, np.int8),
        (rule,),
        ("finra",) * points,
        tuple(scenario_label(underlying, m) for m in moves),
    )


def finra_pm_requirement(
    pnl: np.ndarray, contracts: np.ndarray, multiplier: float, minimum_per_contract: float = 0.375
) -> float:
    """max(largest loss of the portfolio P&L vector, minimum x multiplier x total contracts)."""
    p = np.asarray(pnl, dtype=np.float64)
    c = np.abs(np.asarray(contracts, dtype=np.float64))
    if not (np.isfinite(p).all() and np.isfinite(c).all()):
        raise InvalidInputError("must be finite", "pnl")
    floor = minimum_per_contract * multiplier * float(c.sum())
    return scenario_margin(ModelRules(), p.reshape(1, -1), floor=floor).worst


@dataclass
class FinraPMResult:
    """FINRA 4210(g) / Cboe portfolio margin in USD: per underlying, the larger of the worst
    grid loss and the per-contract minimum; the account requirement is their sum."""

    initial_margin: float
    maintenance_margin: float
    per_underlying: dict[str, dict[str, Any]]
    pnl: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    worst: str

    def explain(self) -> str:
        lines = [f"FINRA/Cboe portfolio margin {self.initial_margin:,.2f} USD:"]
        for u, d in self.per_underlying.items():
            binding = "grid loss" if d["grid_loss"] >= d["minimum"] else "per-contract minimum"
            lines.append(
                f"  {u}: {d['requirement']:,.2f} ({binding}; worst grid loss "
                f"{d['grid_loss']:,.2f} at {d['worst_move']}, minimum {d['minimum']:,.2f})"
            )
        return "\n".join(lines)


FINRA_ARGS = ("move", "points", "minimum_per_contract", "multiplier")


def check_finra_args(
    move: float, points: int, minimum_per_contract: float, multiplier: float
) -> None:
    """The FINRA grid's arguments, checked (typed errors naming the argument)."""
    for name, v in (("move", move), ("multiplier", multiplier)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputTypeError("must be a number", name)
        if not (math.isfinite(v) and v > 0):
            raise InvalidInputError("must be finite and > 0", name)
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise InvalidInputError("must be an integer >= 2", "points")
    if isinstance(minimum_per_contract, bool) or not isinstance(minimum_per_contract, (int, float)):
        raise InputTypeError("must be a number", "minimum_per_contract")
    if not (math.isfinite(minimum_per_contract) and minimum_per_contract >= 0):
        raise InvalidInputError("must be finite and >= 0", "minimum_per_contract")


def finra_kwargs(params: Any) -> dict[str, Any]:
    """The FINRA grid's keyword arguments from ``params`` (None or a dict of some of
    FINRA_ARGS), with the defaults filled in and every value checked: what pm.margin, the
    pre-trade engine and the batch kernel take."""
    if params is not None and not isinstance(params, dict):
        raise InputTypeError("expected a dict of finra_pm_margin keyword arguments", "params")
    unknown = sorted(set(params or {}) - set(FINRA_ARGS))
    if unknown:
        raise InputTypeError(
            f"unknown FINRA parameter {unknown[0]!r}; use {sorted(FINRA_ARGS)}", "params"
        )
    kw: dict[str, Any] = {"move": 0.15, "points": 10, "minimum_per_contract": 0.375}
    kw["multiplier"] = 1.0
    kw.update(params or {})
    check_finra_args(kw["move"], kw["points"], kw["minimum_per_contract"], kw["multiplier"])
    return kw


def finra_pm_margin(
    positions: dict[str, float],
    market: Market,
    *,
    move: float = 0.15,
    points: int = 10,
    minimum_per_contract: float = 0.375,
    multiplier: float = 1.0,
    threads: int | None = None,
) -> FinraPMResult:
    """The FINRA/Cboe grid applied to crypto positions: every instrument revalued at
    ``points`` equidistant moves of its underlying over +-``move`` (vol unchanged), P&L in USD
    (coin P&L of inverse instruments at the moved price), per underlying the largest loss, at
    least ``minimum_per_contract`` x ``multiplier`` per contract (|size| / contract size)."""
    check_finra_args(move, points, minimum_per_contract, multiplier)
    if not positions:
        raise InvalidInputError("no positions", "positions")
    names, sizes = position_arrays(positions)
    table = market.table
    rows = table.rows(names)
    und = table.column("underlying")[rows]
    pnl_of: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    floors: list[float] = []
    for code in np.unique(und):
        u = table.codes[int(code)]
        sel = np.nonzero(und == code)[0]
        grid = finra_grid(u, move, points)
        risk = risk_arrays_for_rows(market, rows[sel], grid, threads=threads)
        inverse = table.column("settlement")[rows[sel]] == 1
        price = market.index_price(u) * (1.0 + grid.move[:, 0])
        risk[inverse] *= price
        pnl_of[u] = sizes[sel] @ risk
        labels[u] = list(grid.label)
        contracts = np.abs(sizes[sel]) / table.column("contract_size")[rows[sel]]
        floors.append(minimum_per_contract * multiplier * float(contracts.sum()))
    # The core's scenario-margin model: a group per underlying, its largest loss floored by
    # the per-contract minimum; IM = MM = the sum.
    res = scenario_margin(ModelRules(), np.array(list(pnl_of.values())), floor=floors)
    per: dict[str, dict[str, Any]] = {
        u: {
            "requirement": float(res.charge[k]),
            "grid_loss": float(res.loss[k]),
            "minimum": floors[k],
            "worst_move": labels[u][int(res.at[k])],
        }
        for k, u in enumerate(pnl_of)
    }
    g = int(np.argmax(res.charge))  # the first of the largest requirements
    u_worst = list(pnl_of)[g]
    worst = labels[u_worst][int(res.at[g])]
    total = res.initial_margin
    return FinraPMResult(total, total, per, pnl_of, labels, worst)
