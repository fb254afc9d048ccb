# SPDX-License-Identifier: Apache-2.0
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

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..market.market import Market
from ..market.portfolio import position_arrays
from ..risk.revaluation import summed_pnl
from ..risk.scenarios import ScenarioSet, VolShockKind, VolShockRule, VolState, scenario_label
from .params import (
    ModelParameterError,
    available_versions,
    load_params,
    number,
    version_in_force,
)
from .scenario_margin import ModelRules, scenario_margin

__all__ = ["ParadexPMResult", "min_delta_requirement", "paradex_pm_margin", "paradex_scenarios"]


def min_delta_requirement(deltas: np.ndarray, spot: float, unhedged: float, hedged: float) -> float:
    """(unhedged |net| + hedged (gross - |net|)/2) spot, deltas signed per position (coin)."""
    d = np.asarray(deltas, dtype=np.float64)
    res = scenario_margin(
        ModelRules(),
        np.zeros((1, 1)),
        net_delta=float(d.sum()),
        gross_delta=float(np.abs(d).sum()),
        delta_price=spot,
        unhedged_delta=unhedged,
        hedged_delta=hedged,
    )
    return float(res.min_delta[0])


def asset_params(doc: dict[str, Any], base: str) -> dict[str, Any]:
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
    a = asset_params(doc, base)
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
            labels.append(scenario_label(base, m, int(vs)))
    for m, w in zip(a["tail_moves"], a["tail_weights"]):
        moves.append(m)
        states.append(int(VolState.UP))
        weights.append(w)
        labels.append(scenario_label(base, m, int(VolState.UP), w))
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


@functools.lru_cache(maxsize=32)
def _terms(version: str, base: str) -> tuple[ScenarioSet, np.ndarray, float, float, float]:
    """A version's scenarios, weights (read only), minimum delta factors and mmr fraction for
    one base currency: built once per (version, base), the files being fixed."""
    doc = load_params("paradex_pm", version)
    scen, w = paradex_scenarios(doc, base)
    w.flags.writeable = False
    a = asset_params(doc, base)
    frac = number(doc, "mmr_fraction", "paradex_pm", 0, 1)
    return scen, w, a["unhedged_delta_factor"], a["hedged_delta_factor"], frac


@dataclass
class ParadexPMResult:
    initial_margin: float
    maintenance_margin: float
    scan_risk: float
    min_delta_requirement: float
    worst_scenario: str
    weighted_pnl: np.ndarray
    labels: list[str]
    per_underlying: dict[str, dict[str, float]]
    version: str = ""  # the parameter version used

    def explain(self) -> str:
        lines = [
            f"Paradex portfolio margin: IMR {self.initial_margin:.2f}, MMR "
            f"{self.maintenance_margin:.2f} USDC (worst scenario '{self.worst_scenario}')."
        ]
        for base, d in self.per_underlying.items():
            binding = (
                "SCAN risk"
                if d["scan_risk"] >= d["min_delta_requirement"]
                else "the minimum delta requirement"
            )
            lines.append(
                f"  {base}: {binding} binds (SCAN {d['scan_risk']:.2f}, min delta "
                f"{d['min_delta_requirement']:.2f})."
            )
        return "\n".join(lines)


def paradex_pm_margin(
    positions: dict[str, float],
    market: Market,
    *,
    version: str | None = None,
    funding_provision: float = 0.0,
    fee_provision: float = 0.0,
    threads: int | None = None,
) -> ParadexPMResult:
    """Paradex portfolio margin in USDC of linear positions, over every underlying they hold.

    Paradex's page (docs.paradex.trade/risk/portfolio-margin) defines the scenarios on one
    underlying's spot and IV and the minimum delta requirement on one spot price; it does not
    say how underlyings combine. pymargin charges each underlying its own max(SCAN risk,
    minimum delta) and sums them (no offset between underlyings: the conservative reading).
    Computed by the core's scenario-margin model, a group per underlying."""
    versions = available_versions("paradex_pm")
    if version is None:  # the version in force at the valuation time
        version = version_in_force("paradex_pm", market.valuation_time)
    if version not in versions:
        load_params("paradex_pm", version)  # raises the typed error naming the versions
    if not positions:
        raise InvalidInputError("no positions", "positions")
    from .vectors import coin_deltas

    names, sizes = position_arrays(positions)
    table = market.table
    rows, settlement, pair = table.take(names, "settlement", "pair")
    inverse = settlement != 0
    if inverse.any():
        row = int(inverse.argmax())
        raise InvalidInputError(
            f"{names[row]} is coin-settled: Paradex margins USDC-settled instruments only",
            "instrument",
            row,
        )
    for name, v in (("funding_provision", funding_provision), ("fee_provision", fee_provision)):
        if not (math.isfinite(v) and v >= 0):
            raise InvalidInputError("must be finite and >= 0", name)
    _, first = np.unique(pair, return_index=True)
    bases = [table.codes[int(pair[i])].split("_")[0].upper() for i in np.sort(first)]
    pnl, weights, net, gross, spot, unhedged, hedged = [], [], [], [], [], [], []
    labels: dict[str, list[str]] = {}
    for base in bases:
        sel = np.nonzero(pair == table.code_of(f"{base.lower()}_usd"))[0]
        scen, w, unhedged_factor, hedged_factor, frac = _terms(version, base)
        pnl.append(summed_pnl(market, rows[sel], sizes[sel], scen, threads=threads))
        weights.append(w)
        deltas = coin_deltas(market, rows[sel]) * sizes[sel]
        net.append(float(deltas.sum()))
        gross.append(float(np.abs(deltas).sum()))
        spot.append(market.index_price(f"{base}_USD"))
        unhedged.append(unhedged_factor)
        hedged.append(hedged_factor)
        labels[base] = list(scen.label)
    provisions = funding_provision + fee_provision
    res = scenario_margin(
        ModelRules(mm_factor=frac),
        np.array(pnl),
        weight=np.array(weights),
        net_delta=net,
        gross_delta=gross,
        delta_price=spot,
        unhedged_delta=unhedged,
        hedged_delta=hedged,
        im_addon=provisions,
        mm_addon=provisions,
    )
    # One vector and one list of labels for the account: the underlyings' in turn (named when
    # there are several); the worst scenario is that of the underlying charged the most.
    flat = [x for b in bases for x in labels[b]]
    g = int(np.argmax(res.charge))
    return ParadexPMResult(
        res.initial_margin,
        res.maintenance_margin,
        float(res.loss.sum()),
        float(res.min_delta.sum()),
        labels[bases[g]][int(res.at[g])],
        res.set_entries.ravel(),
        flat,
        {
            b: {
                "scan_risk": float(res.loss[k]),
                "min_delta_requirement": float(res.min_delta[k]),
                "net_requirement": float(res.charge[k]),
            }
            for k, b in enumerate(bases)
        },
        version,
    )
