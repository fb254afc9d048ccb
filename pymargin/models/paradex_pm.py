"""Paradex portfolio margin (SCAN-24 plus the Minimum Delta Requirement).

From Paradex's documentation (the parameter file cites it): 16 standard scenarios (spot
+-16 % in 4 % steps; vol up and vol down at every inner move, vol up only at the +-16 % edges)
and 8 tail moves with vol up, each loss multiplied by its weight; SCAN risk = the largest
weighted loss. Net portfolio IMR = max(SCAN risk, Minimum Delta Requirement) with
MinDelta = (unhedged x |net delta| + hedged x (gross delta - |net delta|) / 2) x spot;
MMR = 50 % of it. Funding and fee provisions are inputs (they come from funding rates and the
fee schedule). The vol floor "min vol shock up" is applied to the shocked vol (as Derive's
identically named parameter; Paradex's wording is ambiguous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market import Market
from ..risk import risk_arrays_for_rows
from ..scenarios import ScenarioSet, VolShockKind, VolShockRule, VolState
from .params import ModelParameterError, load_params, number

__all__ = ["ParadexPMResult", "min_delta_requirement", "paradex_pm_margin", "paradex_scenarios"]


def min_delta_requirement(deltas: np.ndarray, spot: float, unhedged: float, hedged: float) -> float:
    """(unhedged |net| + hedged (gross - |net|)/2) spot, deltas signed per position (coin)."""
    d = np.asarray(deltas, dtype=np.float64)
    net = abs(float(d.sum()))
    gross = float(np.abs(d).sum())
    return (unhedged * net + hedged * (gross - net) / 2.0) * spot


def _asset(doc: dict[str, Any], base: str) -> dict[str, Any]:
    assets = doc.get("assets", {})
    if base not in assets:
        raise ModelParameterError(f"no Paradex parameters for {base}", "assets")
    a = assets[base]
    p = f"assets.{base}"
    for k in ("vol_up", "vol_down", "min_vol_up", "unhedged_delta_factor", "hedged_delta_factor"):
        number(a, k, p, 0, 10)
    if len(a.get("tail_moves", [])) != len(a.get("tail_weights", [])):
        raise ModelParameterError("tail_moves and tail_weights differ in length", p)
    return a


def paradex_scenarios(doc: dict[str, Any], base: str) -> tuple[ScenarioSet, np.ndarray]:
    """The 24 scenarios of ``base`` and their weights."""
    a = _asset(doc, base)
    rule = VolShockRule(VolShockKind.RELATIVE, a["vol_up"], a["vol_down"], a["min_vol_up"])
    moves, states, weights, labels = [], [], [], []
    edge = max(abs(m) for m in a["moves"])
    for m in a["moves"]:
        for vs in (VolState.UP, VolState.DOWN):
            if abs(m) == edge and vs is VolState.DOWN:
                continue
            moves.append(m)
            states.append(int(vs))
            weights.append(1.0)
            labels.append(f"{m:+.0%} vol {vs.name.lower()}")
    for m, w in zip(a["tail_moves"], a["tail_weights"]):
        moves.append(m)
        states.append(int(VolState.UP))
        weights.append(w)
        labels.append(f"{m:+.0%} vol up (weight {w:g})")
    scen = ScenarioSet(
        (f"{base}_USD",),
        np.array(moves)[:, None],
        np.array(states),
        (rule,),
        ("scan",) * len(moves),
        tuple(labels),
        np.array(weights),
    )
    return scen, np.array(weights)


@dataclass
class ParadexPMResult:
    initial_margin: float
    maintenance_margin: float
    scan_risk: float
    min_delta_requirement: float
    worst_scenario: str
    weighted_pnl: np.ndarray
    labels: list[str]

    def explain(self) -> str:
        binding = (
            "SCAN risk"
            if self.scan_risk >= self.min_delta_requirement
            else "the minimum delta requirement"
        )
        return (
            f"Paradex portfolio margin: IMR {self.initial_margin:.2f}, MMR "
            f"{self.maintenance_margin:.2f} USDC; {binding} binds (SCAN {self.scan_risk:.2f} "
            f"from '{self.worst_scenario}', min delta {self.min_delta_requirement:.2f})."
        )


def paradex_pm_margin(
    positions: dict[str, float],
    market: Market,
    *,
    version: str | None = None,
    funding_provision: float = 0.0,
    fee_provision: float = 0.0,
    threads: int | None = None,
) -> ParadexPMResult:
    """Paradex portfolio margin in USDC of linear positions on one underlying."""
    doc = load_params("paradex_pm", version)
    if not positions:
        raise InvalidInputError("no positions", "positions")
    from .deribit_pm import _coin_deltas, _sizes

    names = list(positions)
    sizes = _sizes(names, list(positions.values()))
    table = market.table
    rows = table.rows(names)
    inverse = table.column("settlement")[rows] != 0
    if inverse.any():
        row = int(inverse.argmax())
        raise InvalidInputError(
            f"{names[row]} is coin-settled: Paradex margins USDC-settled instruments only",
            "instrument",
            row,
        )
    bases = {table.codes[int(c)].split("_")[0].upper() for c in table.column("pair")[rows]}
    if len(bases) != 1:
        raise InvalidInputError(f"one underlying per call, got {sorted(bases)}", "positions")
    base = bases.pop()
    for name, v in (("funding_provision", funding_provision), ("fee_provision", fee_provision)):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInputError("must be finite and >= 0", name)
    scen, weights = paradex_scenarios(doc, base)
    pnl = sizes @ risk_arrays_for_rows(market, rows, scen, threads=threads)
    weighted = pnl * weights
    j = int(np.argmin(weighted))
    scan = max(-float(weighted[j]), 0.0)
    spot = market.index_price(f"{base}_USD")
    deltas = _coin_deltas(market, rows) * sizes
    a = _asset(doc, base)
    mdr = min_delta_requirement(deltas, spot, a["unhedged_delta_factor"], a["hedged_delta_factor"])
    net_imr = max(scan, mdr)
    frac = number(doc, "mmr_fraction", "paradex_pm", 0, 1)
    return ParadexPMResult(
        net_imr + funding_provision + fee_provision,
        frac * net_imr + funding_provision + fee_provision,
        scan,
        mdr,
        scen.label[j],
        weighted,
        list(scen.label),
    )
