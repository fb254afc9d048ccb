# SPDX-License-Identifier: Apache-2.0
"""A scenario-grid venue defined by a parameter file alone (no code per venue): the scenarios of
each underlying, its vol shock rule, loss weights, gain credit, minimum delta factors and
per-contract minimum, and the maintenance fraction. The margin is the core's scenario-margin
model (:mod:`pymargin.models.scenario_margin`), a group per underlying, summed.

The file (JSON; every field checked, errors name the field)::

    {
      "model": "scenario_grid",
      "name": "Example venue portfolio margin",
      "version": "2026-12",
      "source": "where the numbers come from",
      "mm_fraction": 0.5,
      "assets": {
        "BTC": {
          "scenarios": [[0.16, "up", 1.0], [-0.66, "up", 0.24], ...],  # move, vol, weight
          "vol_shock": {"kind": "relative", "up": 0.4, "down": 0.22, "min_vol_up": 0.4,
                        "short_power": 0.3, "long_power": 0.13, "power_switch_days": 30,
                        "reference_days": 30, "dte_floor_days": 1},
          "pnl_offset": 0.0,
          "unhedged_delta_factor": 0.02, "hedged_delta_factor": 0.01,
          "minimum_per_contract": 0.0
        }
      }
    }

Vol states are "up", "down" or "none"; ``vol_shock.kind`` is "relative" (IV x (1 + shock x
(reference / max(floor, DTE))^power)) or "additive" (IV + shock). Positions must settle in
USD-like currencies (the P&L of a grid is in USD); margins are in USD.

Two optional terms cover venues that add a charge to the scenario loss instead of taking the
larger (Aevo): ``"im_multiplier"`` (model level, default 1: IM = im_multiplier x (the charge +
the short-option floor), MM = mm_fraction x IM) and, per asset, ``"short_option_floor"`` (a
fraction of spot per net short option contract at each strike of an expiry, calls and puts
netted at the strike, added to the requirement). The venue batch carries both (the floor as
each account's add-on), and so does the pre-trade engine (the floor kept per strike as orders
and fills change it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidInputError
from ..files import load_json, open_file
from ..market.instruments import InstrumentKind
from ..market.market import Market
from ..market.portfolio import position_arrays
from ..risk.revaluation import summed_pnl
from ..risk.scenarios import ScenarioSet, VolShockKind, VolShockRule, VolState, scenario_label
from .params import ModelParameterError
from .scenario_margin import ModelRules, scenario_margin

__all__ = ["GridModel", "GridModelResult", "grid_model_margin"]

_VOL = {"up": VolState.UP, "down": VolState.DOWN, "none": VolState.UNCHANGED}
_KIND = {"relative": VolShockKind.RELATIVE, "additive": VolShockKind.ADDITIVE}


def _num(
    d: Mapping[str, Any], key: str, where: str, lo: float, hi: float, default: Any = None
) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ModelParameterError(f"{key} must be a number", f"{where}.{key}")
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ModelParameterError(f"{key} must be in [{lo}, {hi}]", f"{where}.{key}")
    return float(v)


@dataclass(frozen=True)
class _Asset:
    scenarios: ScenarioSet
    weights: np.ndarray
    pnl_offset: float
    unhedged: float
    hedged: float
    minimum_per_contract: float
    short_option_floor: float = 0.0


@dataclass(frozen=True)
class GridModel:
    """A venue's grid model, read from its parameter file (see the module docstring)."""

    name: str
    version: str
    source: str
    mm_fraction: float
    assets: dict[str, _Asset]
    im_multiplier: float = 1.0

    def charge_terms(self, base: str) -> tuple[ScenarioSet, np.ndarray, float, float, float, float]:
        """An asset's terms as the core's charge takes them (scenarios, weights, gain credit,
        unhedged and hedged delta factors, per-contract minimum), the IM multiplier applied to
        every term of the charge (a max of terms that all scale), for pm.margin and the venue
        batch alike."""
        a = self.assets[base]
        m = self.im_multiplier
        return (
            a.scenarios,
            a.weights * m,
            a.pnl_offset,
            a.unhedged * m,
            a.hedged * m,
            a.minimum_per_contract * m,
        )

    def strike_floor(self, base: str) -> float:
        """An asset's short-option floor as IM takes it: the fraction of spot per net short
        contract at a strike, the IM multiplier applied (the venue batch and the pre-trade
        engine take it so; MM is mm_fraction of it)."""
        return self.assets[base].short_option_floor * self.im_multiplier

    @classmethod
    def from_document(cls, doc: Any) -> GridModel:
        if not isinstance(doc, Mapping):
            raise ModelParameterError("a parameter file is a JSON object", "model")
        if doc.get("model") != "scenario_grid":
            raise ModelParameterError('"model" must be "scenario_grid"', "model")
        for key in ("name", "version", "source"):
            if not isinstance(doc.get(key), str) or not doc[key].strip():
                raise ModelParameterError(f"{key} must be a non-empty string", key)
        assets = doc.get("assets")
        if not isinstance(assets, Mapping) or not assets:
            raise ModelParameterError("at least one asset", "assets")
        return cls(
            doc["name"],
            doc["version"],
            doc["source"],
            _num(doc, "mm_fraction", "model", 0.0, 1.0),
            {str(b): _asset(str(b), a) for b, a in assets.items()},
            _num(doc, "im_multiplier", "model", 1.0, 10.0, 1.0),
        )

    @classmethod
    def load(cls, path: str | Path) -> GridModel:
        """The model of a parameter file, read and checked once per version of the file (the
        file's path, size and modification time key a small cache; a changed file is read
        again)."""
        try:
            st = Path(path).stat()
            key: tuple[str, int, int] | None = (
                str(Path(path).resolve()),
                st.st_size,
                st.st_mtime_ns,
            )
        except (OSError, TypeError, ValueError):
            key = None  # open_file names the problem
        got = _LOADED.get(key) if key is not None else None
        if got is None:
            got = cls.from_document(load_json(open_file(path)))
            if key is not None:
                if len(_LOADED) >= 64:
                    _LOADED.pop(next(iter(_LOADED)))
                _LOADED[key] = got
        return got


_LOADED: dict[tuple[str, int, int], GridModel] = {}


def _asset(base: str, a: Any) -> _Asset:
    where = f"assets.{base}"
    if not isinstance(a, Mapping):
        raise ModelParameterError("an asset is an object", where)
    rows = a.get("scenarios")
    if not isinstance(rows, list) or not rows:
        raise ModelParameterError("at least one scenario", f"{where}.scenarios")
    moves, states, weights, labels = [], [], [], []
    for k, row in enumerate(rows):
        at = f"{where}.scenarios[{k}]"
        if not (isinstance(row, list) and len(row) == 3 and row[1] in _VOL):
            raise ModelParameterError('each scenario is [move, "up"|"down"|"none", weight]', at)
        move = _num({"move": row[0]}, "move", at, -0.999999, 100.0)
        weight = _num({"weight": row[2]}, "weight", at, 0.0, 1e6)
        moves.append(move)
        states.append(int(_VOL[row[1]]))
        weights.append(weight)
        labels.append(scenario_label(base, move, int(_VOL[row[1]]), weight))
    vs = a.get("vol_shock")
    if not isinstance(vs, Mapping) or vs.get("kind") not in _KIND:
        raise ModelParameterError(
            'vol_shock needs "kind": "relative" or "additive"', f"{where}.vol_shock"
        )
    w = f"{where}.vol_shock"
    rule = VolShockRule(
        _KIND[vs["kind"]],
        _num(vs, "up", w, 0.0, 100.0),
        _num(vs, "down", w, 0.0, 100.0),
        _num(vs, "min_vol_up", w, 0.0, 100.0, 0.0),
        _num(vs, "min_vol_down", w, 0.0, 100.0, 0.0),
        _num(vs, "short_power", w, 0.0, 10.0, 0.30),
        _num(vs, "long_power", w, 0.0, 10.0, 0.13),
        _num(vs, "power_switch_days", w, 0.0, 1e5, 30.0),
        _num(vs, "reference_days", w, 1e-9, 1e5, 30.0),
        _num(vs, "dte_floor_days", w, 1e-9, 1e5, 1.0),
    )
    scen = ScenarioSet(
        (f"{base}_USD",),
        np.array(moves)[:, None],
        np.array(states),
        (rule,),
        ("grid",) * len(moves),
        tuple(labels),
        np.array(weights),
    )
    weight_arr = np.array(weights)
    weight_arr.flags.writeable = False  # a loaded model is shared (GridModel.load cache)
    return _Asset(
        scen,
        weight_arr,
        _num(a, "pnl_offset", where, 0.0, 1.0, 0.0),
        _num(a, "unhedged_delta_factor", where, 0.0, 10.0, 0.0),
        _num(a, "hedged_delta_factor", where, 0.0, 10.0, 0.0),
        _num(a, "minimum_per_contract", where, 0.0, 1e12, 0.0),
        _num(a, "short_option_floor", where, 0.0, 1.0, 0.0),
    )


@dataclass(frozen=True)
class GridModelResult:
    """IM and MM in USD; per underlying its SCAN loss, minimum delta, floor and requirement;
    the worst scenario of the underlying charged the most."""

    initial_margin: float
    maintenance_margin: float
    per_underlying: dict[str, dict[str, float]]
    worst_scenario: str
    weighted_pnl: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    model: GridModel
    short_option_floor: float = 0.0  # USD, before the IM multiplier

    def explain(self) -> str:
        lines = [
            f"{self.model.name} ({self.model.version}): IM {self.initial_margin:,.2f}, MM "
            f"{self.maintenance_margin:,.2f} USD; worst scenario '{self.worst_scenario}'."
        ]
        for base, d in self.per_underlying.items():
            lines.append(
                f"  {base}: {d['requirement']:,.2f} (SCAN loss {d['scan_loss']:,.2f}, min delta "
                f"{d['min_delta']:,.2f}, per-contract minimum {d['minimum']:,.2f})"
            )
        if self.short_option_floor:
            lines.append(f"  short-option floor {self.short_option_floor:,.2f}")
        return "\n".join(lines)


def grid_model_margin(
    positions: dict[str, float],
    market: Market,
    model: GridModel | str | Path | Mapping[str, Any],
    *,
    funding_provision: float = 0.0,
    fee_provision: float = 0.0,
    threads: int | None = None,
) -> GridModelResult:
    """Margin of USD-settled ``positions`` under a grid venue given by its parameter file (a
    path, the parsed document, or a :class:`GridModel`)."""
    from .vectors import coin_deltas

    if not isinstance(model, GridModel):
        model = (
            GridModel.from_document(json.loads(json.dumps(model)))
            if isinstance(model, Mapping)
            else GridModel.load(model)
        )
    if not positions:
        raise InvalidInputError("no positions", "positions")
    for name, v in (("funding_provision", funding_provision), ("fee_provision", fee_provision)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not (math.isfinite(v) and v >= 0)
        ):
            raise InvalidInputError("must be finite and >= 0", name)
    names, sizes = position_arrays(positions)
    rows, settlement, pair, contract, kind, strike, expiry = market.table.take(
        names, "settlement", "pair", "contract_size", "kind", "strike", "expiry_key"
    )
    if (settlement != 0).any():
        row = int(np.argmax(settlement != 0))
        raise InvalidInputError(
            f"{names[row]} is coin-settled: a grid model margins USD-settled instruments",
            "instrument",
            row,
        )
    codes = market.table.codes
    _, first = np.unique(pair, return_index=True)
    bases = [codes[int(pair[i])].split("_")[0].upper() for i in np.sort(first)]
    pnl, weights, net, gross, spot, offset, unhedged, hedged, floors = ([] for _ in range(9))
    short_floor = 0.0  # USD, added to the requirement
    labels: dict[str, list[str]] = {}
    for base in bases:
        asset = model.assets.get(base)
        if asset is None:
            raise ModelParameterError(f"{model.name} has no parameters for {base}", "assets")
        sel = np.nonzero(pair == market.table.code_of(f"{base.lower()}_usd"))[0]
        scen, w, gain, unh, hed, minimum = model.charge_terms(base)
        pnl.append(summed_pnl(market, rows[sel], sizes[sel], scen, threads=threads))
        weights.append(w)
        deltas = coin_deltas(market, rows[sel]) * sizes[sel]
        net.append(float(deltas.sum()))
        gross.append(float(np.abs(deltas).sum()))
        spot.append(market.index_price(f"{base}_USD"))
        offset.append(gain)
        unhedged.append(unh)
        hedged.append(hed)
        floors.append(minimum * float((np.abs(sizes[sel]) / contract[sel]).sum()))
        if asset.short_option_floor > 0.0:
            opt = sel[kind[sel] == int(InstrumentKind.OPTION)]
            net_at: dict[tuple[int, float], float] = {}
            for k in opt:  # contracts net per (expiry, strike), calls and puts together
                at_strike = (int(expiry[k]), float(strike[k]))
                net_at[at_strike] = net_at.get(at_strike, 0.0) + sizes[k] / contract[k]
            shorts = sum(max(0.0, -v) for v in net_at.values())
            short_floor += asset.short_option_floor * spot[-1] * shorts
        labels[base] = list(asset.scenarios.label)
    n = max(len(w) for w in weights)
    if any(len(w) != n for w in weights):  # one scenario count per call: pad with no-loss entries
        pnl = [np.pad(p, (0, n - len(p))) for p in pnl]
        weights = [np.pad(w, (0, n - len(w))) for w in weights]
    provisions = funding_provision + fee_provision
    # IM = m x (charge + short floor) + provisions, MM = mm_fraction x m x (...) + provisions:
    # the charge's terms carry m already (charge_terms), the short floor enters as an add-on
    m = model.im_multiplier
    res = scenario_margin(
        ModelRules(mm_factor=model.mm_fraction),
        np.array(pnl),
        weight=np.array(weights),
        net_delta=net,
        gross_delta=gross,
        delta_price=spot,
        pnl_offset=offset,
        unhedged_delta=unhedged,
        hedged_delta=hedged,
        floor=floors,
        im_addon=provisions + m * short_floor,
        mm_addon=provisions + model.mm_fraction * m * short_floor,
    )
    per = {
        b: {
            "scan_loss": float(res.loss[k]) / m,
            "min_delta": float(res.min_delta[k]) / m,
            "minimum": float(res.floor[k]) / m,
            "requirement": float(res.charge[k]),
        }
        for k, b in enumerate(bases)
    }

    g = int(np.argmax(res.charge))
    at = int(res.at[g])
    worst = labels[bases[g]][at] if at < len(labels[bases[g]]) else "no loss in any scenario"
    return GridModelResult(
        res.initial_margin,
        res.maintenance_margin,
        per,
        worst,
        {b: res.set_entries[k, : len(labels[b])] for k, b in enumerate(bases)},
        labels,
        model,
        short_floor,
    )
