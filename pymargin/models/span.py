# SPDX-License-Identifier: Apache-2.0
"""CME SPAN (classic, 16 scenarios): scan risk, intra-commodity (calendar) spread charges,
inter-commodity spread credits and the short option minimum.

The method, as CME and the clearing houses that license SPAN describe it (the
sources are cited in tests/models/test_span.py):

* Scan risk of a combined commodity: the largest weighted loss of its positions' summed risk
  arrays over the 16 scenarios (the two extreme moves counted at their cover fraction).
* Intra-commodity spread charge: scanning treats every contract month as a perfect substitute
  for every other, so positions are grouped into tiers (months, or ranges of months); the net
  delta of each tier is taken, and delta spreads are formed between tiers of opposite sign, pair
  by pair in the parameter file's priority order, each consuming min(|long|, |short|) of the
  two tiers' remaining delta, each charged at the pair's rate per unit of delta.
* Inter-commodity spread credit: for each spread of the file (commodities A and B, delta ratio
  a:b, credit rate), in order: spreads = min(|delta A| / a, |delta B| / b) where the remaining
  net deltas have opposite signs; each leg's credit = rate x spreads x its ratio x its
  commodity's weighted price risk, WPR = price risk / |net delta|, price risk = the average
  loss of the worst pair of scenarios at the same price move (vol up and down) minus the time
  risk (the average loss of the two unchanged-price scenarios), at least 0.
* Short option minimum: a charge per short option; the commodity's requirement is
  max(scan risk + intra charge - inter credit, short option minimum).

The array-level function :func:`span_requirement` is the model; :func:`span_margin` builds its
inputs from a portfolio and a market (risk arrays by the revaluation kernel, in USD) and a
:class:`SpanParams` parameter file. CME publishes SPAN parameters for its own contracts, not for
crypto instruments of other venues: pass the parameters you margin with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _core
from ..enums import Greek
from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import position_arrays
from ..pricing import black76_greeks
from ..risk.revaluation import risk_arrays_for_rows
from ..risk.scenarios import ScenarioSet
from .params import ModelParameterError, number
from .scan import span16

__all__ = [
    "CommodityRisk",
    "InterSpread",
    "SpanCommodity",
    "SpanParams",
    "SpanResult",
    "span_margin",
    "span_requirement",
]

# Scenario pairs at the same price move (vol up, vol down), 0-based, CME's order; 14 and 15 (the
# extreme moves) have no pair. Scenarios 0 and 1 (price unchanged) give the time risk.
_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13))


@dataclass
class CommodityRisk:
    """What SPAN needs of one combined commodity: the summed weighted-scenario P&L
    (``pnl[16]``, gains positive, weights applied), the net delta per tier, the number of
    short options, and the commodity's rates."""

    name: str
    pnl: np.ndarray
    tier_delta: np.ndarray
    short_options: float = 0.0
    short_option_minimum: float = 0.0
    intra_rates: dict[tuple[int, int], float] = field(default_factory=dict)  # priority order


@dataclass(frozen=True)
class InterSpread:
    """An inter-commodity spread: legs ``a`` and ``b`` (commodity names), delta ratio
    ``ratio_a : ratio_b``, credit ``rate`` (0..1)."""

    a: str
    b: str
    ratio_a: float
    ratio_b: float
    rate: float


@dataclass
class CommodityRequirement:
    scan_risk: float
    price_risk: float
    time_risk: float
    intra_charge: float
    inter_credit: float
    short_option_minimum: float
    requirement: float
    worst_scenario: int
    net_delta: float


def span_requirement(
    commodities: list[CommodityRisk], inter_spreads: list[InterSpread] | tuple[()] = ()
) -> dict[str, CommodityRequirement]:
    """SPAN's requirement per combined commodity (see the module docstring), computed by the
    core (``pymargin/models/span.hpp``); this function lays out its inputs. Errors name the
    commodity (its position in ``commodities``) or the spread."""
    names = [c.name for c in commodities]
    index = {n: k for k, n in enumerate(names)}
    pnl, tiers, tier_off, so, som, intra_off, intra_t, intra_r = [], [], [0], [], [], [0], [], []
    for c in commodities:
        v = np.asarray(c.pnl, dtype=np.float64)
        if v.shape != (16,):
            raise InvalidInputError("must be 16 weighted scenario P&L", f"{c.name}.pnl")
        pnl.append(v)
        d = np.asarray(c.tier_delta, dtype=np.float64).ravel()
        tiers.append(d)
        tier_off.append(tier_off[-1] + len(d))
        so.append(float(c.short_options))
        som.append(float(c.short_option_minimum))
        for (t1, t2), rate in c.intra_rates.items():
            intra_t += [int(t1), int(t2)]
            intra_r.append(float(rate))
        intra_off.append(len(intra_r))
    # a leg without positions forms no spread
    rows = [k for k, s in enumerate(inter_spreads) if s.a in index and s.b in index]
    legs = [inter_spreads[k] for k in rows]
    try:
        r = _span_core(pnl, tier_off, tiers, so, som, intra_off, intra_t, intra_r, legs, index)
    except InvalidInputError as e:  # name the commodity, or the spread as the caller gave it
        if e.index is not None and e.field == "inter":
            raise type(e)(e.reason, "inter", rows[e.index]) from None
        if e.index is not None and e.index < len(names):
            raise type(e)(e.reason, f"{names[e.index]}.{e.field}") from None
        raise
    return {
        n: CommodityRequirement(
            float(r["scan_risk"][k]),
            float(r["price_risk"][k]),
            float(r["time_risk"][k]),
            float(r["intra_charge"][k]),
            float(r["inter_credit"][k]),
            float(r["short_option_minimum"][k]),
            float(r["requirement"][k]),
            int(r["worst_scenario"][k]),
            float(r["net_delta"][k]),
        )
        for k, n in enumerate(names)
    }


def _span_core(
    pnl: list[np.ndarray],
    tier_off: list[int],
    tiers: list[np.ndarray],
    so: list[float],
    som: list[float],
    intra_off: list[int],
    intra_t: list[int],
    intra_r: list[float],
    legs: list[InterSpread],
    index: dict[str, int],
) -> dict[str, np.ndarray]:
    return _core.span_requirement(
        np.ascontiguousarray(np.array(pnl).reshape(len(pnl), 16)),
        np.array(tier_off, dtype=np.int64),
        np.concatenate(tiers) if tiers else np.zeros(0),
        np.array(so),
        np.array(som),
        np.array(intra_off, dtype=np.int64),
        np.array(intra_t, dtype=np.int32),
        np.array(intra_r),
        np.array([index[s.a] for s in legs], dtype=np.int32),
        np.array([index[s.b] for s in legs], dtype=np.int32),
        np.array([s.ratio_a for s in legs], dtype=np.float64),
        np.array([s.ratio_b for s in legs], dtype=np.float64),
        np.array([s.rate for s in legs], dtype=np.float64),
    )


@dataclass(frozen=True)
class SpanCommodity:
    """SPAN parameters of one underlying: ``price_scan`` (relative move, 0.2 = 20 %),
    ``vol_scan`` (vol points, 0.1 = 10), ``tier_days`` (upper bounds of the expiry tiers in
    days; perpetuals and spot are tier 0), ``intra_rates`` ((tier, tier) -> USD per unit of
    delta spread, in priority order), ``short_option_minimum`` (USD per short option of one
    unit), ``extreme_weight`` (cover fraction of the +-2 scan-range moves),
    ``look_ahead_days`` (the risk arrays' look-ahead, time decay included)."""

    underlying: str
    price_scan: float
    vol_scan: float
    tier_days: tuple[float, ...]
    intra_rates: dict[tuple[int, int], float]
    short_option_minimum: float
    extreme_weight: float = 0.35
    # SPAN's risk arrays value each contract over a look-ahead, typically one trading day,
    # time decay included (CME, "SPAN components": cme.com/clearing/rmspan/span/components.html).
    # Crypto trades every day: one calendar day by default; 0 revalues at the valuation time.
    look_ahead_days: float = 1.0


@dataclass(frozen=True)
class SpanParams:
    commodities: dict[str, SpanCommodity]
    inter_spreads: tuple[InterSpread, ...] = ()
    version: str = ""
    source: str = ""

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> SpanParams:
        """From a mapping: {"version", "source", "commodities": {underlying: {price_scan,
        vol_scan, tier_days, intra_rates: [[t1, t2, rate], ...], short_option_minimum,
        extreme_weight?, look_ahead_days?}}, "inter_spreads": [{a, b, ratio_a, ratio_b, rate},
        ...]}."""
        if not isinstance(doc, dict) or not isinstance(doc.get("commodities"), dict):
            raise ModelParameterError("missing or not a mapping", "commodities")
        comms = {}
        for name, b in doc["commodities"].items():
            p = f"commodities.{name}"
            if not isinstance(b, dict):
                raise ModelParameterError("must be a mapping", p)
            days = b.get("tier_days", [])
            if (
                not isinstance(days, list)
                or not all(
                    not isinstance(d, bool)
                    and isinstance(d, (int, float))
                    and math.isfinite(d)
                    and d > 0
                    for d in days
                )
                or sorted(days) != days
            ):
                raise ModelParameterError("must be increasing day counts > 0", f"{p}.tier_days")
            rates: dict[tuple[int, int], float] = {}
            for k, entry in enumerate(b.get("intra_rates", [])):
                if not (isinstance(entry, list) and len(entry) == 3):
                    raise ModelParameterError("must be [tier, tier, rate]", f"{p}.intra_rates.{k}")
                t1, t2, rate = entry
                n_tiers = len(days) + 1
                if (
                    not all(
                        not isinstance(t, bool) and isinstance(t, int) and 0 <= t < n_tiers
                        for t in (t1, t2)
                    )
                    or t1 == t2
                ):
                    raise ModelParameterError("no such tier pair", f"{p}.intra_rates.{k}")
                if isinstance(rate, bool) or not (
                    isinstance(rate, (int, float)) and math.isfinite(rate) and rate >= 0
                ):
                    raise ModelParameterError("rate must be >= 0", f"{p}.intra_rates.{k}")
                rates[(t1, t2)] = float(rate)
            comms[name] = SpanCommodity(
                name,
                number(b, "price_scan", p, 1e-6, 0.49),
                number(b, "vol_scan", p, 0, 5),
                tuple(float(d) for d in days),
                rates,
                number(b, "short_option_minimum", p, 0),
                number(b, "extreme_weight", p, 0, 1) if "extreme_weight" in b else 0.35,
                number(b, "look_ahead_days", p, 0, 30) if "look_ahead_days" in b else 1.0,
            )
        spreads = []
        for k, s in enumerate(doc.get("inter_spreads", [])):
            p = f"inter_spreads.{k}"
            if not isinstance(s, dict) or s.get("a") not in comms or s.get("b") not in comms:
                raise ModelParameterError("legs must be commodities of the file", p)
            spreads.append(
                InterSpread(
                    s["a"],
                    s["b"],
                    number(s, "ratio_a", p, 1e-9),
                    number(s, "ratio_b", p, 1e-9),
                    number(s, "rate", p, 0, 1),
                )
            )
        return cls(comms, tuple(spreads), str(doc.get("version", "")), str(doc.get("source", "")))

    @classmethod
    def example(cls) -> SpanParams:
        """The bundled illustrative parameters (pymargin/data/models/span16/example.json):
        for trying the model on the bundled markets, not a clearing house's."""
        from .params import load_params

        return cls.from_document(load_params("span16", "example"))

    @classmethod
    def from_file(cls, path: str | Path) -> SpanParams:
        """A SPAN parameter file (JSON), read strictly (typed errors naming the file)."""
        from ..files import load_json, open_file

        return cls.from_document(load_json(open_file(path)))


@dataclass
class SpanResult:
    initial_margin: float
    maintenance_margin: float
    per_commodity: dict[str, CommodityRequirement]
    components: dict[str, float]
    worst_scenario: str
    labels: list[str]
    scenario_pnl: np.ndarray

    def explain(self) -> str:
        lines = [f"SPAN requirement {self.initial_margin:,.2f} USD:"]
        for name, r in self.per_commodity.items():
            lines.append(
                f"  {name}: max(scan {r.scan_risk:,.2f} + intra {r.intra_charge:,.2f} - inter "
                f"credit {r.inter_credit:,.2f}, short option minimum "
                f"{r.short_option_minimum:,.2f}) = {r.requirement:,.2f}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class CommodityRows:
    """What SPAN needs of each instrument of one combined commodity: its 16-scenario risk
    array in USD (unweighted; coin P&L of inverse instruments at the moved price), the
    scenarios and their weights, its coin delta, expiry tier and whether it is an option."""

    scenarios: ScenarioSet
    weights: np.ndarray
    risk: np.ndarray
    delta: np.ndarray
    tier: np.ndarray
    tiers: int
    option: np.ndarray


def commodity_rows(
    market: Market, rows: np.ndarray, underlying: str, cp: Any, *, threads: int | None = None
) -> CommodityRows:
    """The per-instrument inputs of SPAN for table ``rows`` of one commodity (its parameters
    ``cp``): what span_margin and the batch kernel both take."""
    table = market.table
    col = table.column
    scen, weights = span16(underlying, cp.price_scan, cp.vol_scan, extreme_weight=cp.extreme_weight)
    risk = risk_arrays_for_rows(
        market, rows, scen, threads=threads, look_ahead=cp.look_ahead_days / 365.0
    )
    inverse = col("settlement")[rows] == int(Settlement.INVERSE)
    risk[inverse] *= market.index_price(underlying) * (1.0 + scen.move[:, 0])
    delta = np.ones(len(rows))
    opt = col("kind")[rows] == int(InstrumentKind.OPTION)
    if opt.any():
        r = rows[opt]
        g = black76_greeks(
            col("forward")[r],
            col("strike")[r],
            col("time")[r],
            col("vol")[r],
            0.0,
            col("is_call")[r].astype(bool),
            which=Greek.DELTA_FORWARD,
        )
        assert g.delta_forward is not None
        delta[opt] = g.delta_forward
    days = col("time")[rows] * 365.0
    tier = np.searchsorted(np.array(cp.tier_days), days, side="left")
    tier[col("expiry_key")[rows] < 0] = 0
    return CommodityRows(scen, weights, risk, delta, tier, len(cp.tier_days) + 1, opt)


def span_margin(
    positions: dict[str, float],
    market: Market,
    params: SpanParams | None,
    *,
    threads: int | None = None,
) -> SpanResult:
    """SPAN of crypto positions under ``params``: per underlying, the 16 scenarios at its
    price and vol scan ranges, risk arrays in USD (coin P&L of inverse instruments at the moved
    price), coin deltas per expiry tier (futures 1, options their Black-76 forward delta),
    short options counted in units; then :func:`span_requirement`. SPAN has no separate
    maintenance level here: MM = IM (CME sets maintenance = the SPAN requirement)."""

    if params is None:
        raise ModelParameterError(
            "SPAN needs a parameter set (SpanParams.from_file): no exchange publishes SPAN "
            "parameters for these instruments",
            "params",
        )
    if not positions:
        raise InvalidInputError("no positions", "positions")
    names, sizes = position_arrays(positions)
    table = market.table
    rows = table.rows(names)
    col = table.column
    und = col("underlying")[rows]
    commodities = []
    labels: list[str] = []
    label_of: dict[str, list[str]] = {}
    pnls = []
    for code in np.unique(und):
        u = table.codes[int(code)]
        if u not in params.commodities:
            row = int(np.argmax(und == code))
            raise ModelParameterError(f"no SPAN parameters for {u} ({names[row]})", "params")
        cp = params.commodities[u]
        sel = np.nonzero(und == code)[0]
        c = commodity_rows(market, rows[sel], u, cp, threads=threads)
        pnl = (sizes[sel] @ c.risk) * c.weights
        tier_delta = np.bincount(c.tier, weights=c.delta * sizes[sel], minlength=c.tiers)
        short_opts = float(np.abs(np.minimum(sizes[sel][c.option], 0.0)).sum())
        scen = c.scenarios
        commodities.append(
            CommodityRisk(u, pnl, tier_delta, short_opts, cp.short_option_minimum, cp.intra_rates)
        )
        labels += list(scen.label)
        label_of[u] = list(scen.label)
        pnls.append(pnl)
    per = span_requirement(commodities, list(params.inter_spreads))
    total = sum(r.requirement for r in per.values())
    worst_name = max(per, key=lambda k: per[k].requirement)
    wr = per[worst_name]
    components = {
        "scan_risk": sum(r.scan_risk for r in per.values()),
        "intra_charge": sum(r.intra_charge for r in per.values()),
        "inter_credit": sum(r.inter_credit for r in per.values()),
        "short_option_minimum": sum(r.short_option_minimum for r in per.values()),
    }
    return SpanResult(
        total,
        total,
        per,
        components,
        label_of[worst_name][wr.worst_scenario]
        if 0 <= wr.worst_scenario < len(label_of[worst_name])
        else "no loss in any scenario",
        labels,
        np.concatenate(pnls),
    )
