# SPDX-License-Identifier: Apache-2.0
"""The venue risk of each model, one builder per model: grid venues (Paradex, FINRA, parameter
files), Deribit standard margin, the Greek-netting model and SPAN."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import InstrumentKind
from ..market.market import Market
from ..models.params import ModelParameterError
from ..models.vectors import (
    coin_deltas,
)
from ..risk.revaluation import mark_values, risk_arrays_for_rows
from .venue_types import SensitivityVenueRisk, SpanVenueRisk, StandardVenueRisk, VenueRisk

# A grid asset's terms: scenario set, per-scenario weights, and its four scalar terms.
AssetTerms = tuple[Any, np.ndarray, float, float, float, float]


def paradex_assets(version: Any) -> tuple[dict[str, AssetTerms], float]:
    from ..models.paradex_pm import asset_params, paradex_scenarios
    from ..models.params import load_params, number

    if version is not None and not isinstance(version, str):
        raise InputTypeError("expected a Paradex parameter version (str)", "params")
    doc = load_params("paradex_pm", version)
    assets: dict[str, AssetTerms] = {}
    for base in doc.get("assets", {}):
        scen, w = paradex_scenarios(doc, base)
        a = asset_params(doc, base)
        assets[base] = (scen, w, 0.0, a["unhedged_delta_factor"], a["hedged_delta_factor"], 0.0)
    return assets, number(doc, "mmr_fraction", "paradex_pm", 0, 1)


def grid_venue_risk(
    market: Market,
    instruments: list[str],
    model: tuple[dict[str, AssetTerms], float],
    ccy: str,
    *,
    short_floor: dict[str, float] | None = None,
) -> VenueRisk:
    """A grid venue (Paradex, a parameter file): a group per underlying, its scenarios and
    weights, gain credit, minimum delta and per-contract minimum; USD-settled instruments.
    ``short_floor``: each underlying's short-option floor as IM takes it (a fraction of spot
    per net short contract at a strike, the IM multiplier applied: GridModel.strike_floor),
    kept in ``venue["short_floor"]`` for :func:`short_floor_addons`."""
    assets, mm_fraction = model
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows, settlement, pair, contract = table.take(
        instruments, "settlement", "pair", "contract_size"
    )
    if (settlement != 0).any():
        k = int(np.argmax(settlement != 0))
        raise InvalidInputError(
            f"{instruments[k]} is coin-settled: a grid venue margins USD-settled instruments",
            "instruments",
            k,
        )
    pairs = list(dict.fromkeys(table.codes[int(c)] for c in pair))
    bases = [p.split("_")[0].upper() for p in pairs]
    for b in bases:
        if b not in assets:
            raise ModelParameterError(f"no parameters for {b}", "assets")
    stride = max(len(assets[b][1]) for b in bases)
    out = np.zeros((len(rows), stride))
    weight = np.zeros((len(pairs), stride))  # shorter grids padded with weight-0 entries
    pair_idx = np.zeros(len(rows), dtype=np.int32)
    floor = np.zeros(len(rows))
    spot = np.zeros(len(pairs))
    labels = []
    for k, (p, b) in enumerate(zip(pairs, bases)):
        scen, w, _, _, _, per_contract = assets[b]
        labels.append(scen.label)
        sel = np.flatnonzero(pair == table.code_of(p))
        out[sel, : len(w)] = risk_arrays_for_rows(market, rows[sel], scen)
        weight[k, : len(w)] = w
        pair_idx[sel] = k
        floor[sel] = per_contract / contract[sel]
        spot[k] = market.index_price(f"{b}_USD")
    terms: dict[str, Any] = {
        "weight": np.ascontiguousarray(weight),
        "pnl_offsets": np.array([assets[b][2] for b in bases]),
        "delta_price": spot,
        "unhedged_delta": np.array([assets[b][3] for b in bases]),
        "hedged_delta": np.array([assets[b][4] for b in bases]),
    }
    if short_floor is not None and any(v > 0 for v in short_floor.values()):
        kind, strike, expiry = table.take_rows(rows, "kind", "strike", "expiry_key")
        option = kind == int(InstrumentKind.OPTION)
        unit = np.array([short_floor.get(b, 0.0) for b in bases])[pair_idx] * spot[pair_idx]
        terms["short_floor"] = {
            "usd_per_contract": np.where(option, unit, 0.0),
            "key": np.stack([pair_idx, expiry, strike]),  # a strike of an expiry of a pair
            "contract": np.asarray(contract, dtype=np.float64),
        }
    return usd_grid_risk(
        market, instruments, rows, out, pair_idx, floor, ccy, mm_fraction, terms, labels
    )


def short_floor_addons(
    risk: Any, offsets: np.ndarray, instrument: np.ndarray, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each account's add-ons to IM and MM for a grid venue's short-option floor: per strike
    of an expiry, calls and puts netted, the net short contracts times the floor in USD (as
    grid_model_margin computes it for one account, the IM multiplier already in the floor);
    MM takes the maintenance fraction of it. None when the venue has no such floor."""
    sf = (getattr(risk, "venue", None) or {}).get("short_floor")
    if sf is None:
        return None
    n_acc = len(offsets) - 1
    owner = np.repeat(np.arange(n_acc), np.diff(offsets))
    inst = np.asarray(instrument)
    unit = sf["usd_per_contract"][inst]
    sel = unit > 0
    floor = np.zeros(n_acc)
    if sel.any():
        contracts = np.asarray(amount, dtype=np.float64)[sel] / sf["contract"][inst[sel]]
        keys = np.column_stack([owner[sel], sf["key"][:, inst[sel]].T])
        _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        net = np.bincount(group.ravel(), weights=contracts)  # per (account, pair, expiry, strike)
        np.add.at(floor, owner[sel][first], np.maximum(-net, 0.0) * unit[sel][first])
    return floor, risk.mm_factor * floor


def usd_grid_risk(
    market: Market,
    instruments: list[str],
    rows: np.ndarray,
    out: np.ndarray,
    pair_idx: np.ndarray,
    floor: np.ndarray,
    ccy: str,
    mm_factor: float,
    terms: dict[str, Any],
    labels: list[tuple[str, ...]],
) -> VenueRisk:
    """The VenueRisk of a USD grid venue: a group per pair without credit cap, dampener, roll
    shock, rounding or tie preference; the per-unit floor on both sides; ``terms`` the rest."""
    venue = {
        "stride": out.shape[1],
        "floor_long": floor,
        "floor_short": floor.copy(),
        "round_worst": False,
        "tie_period": 0,
        "tie_slot": 0,
        **terms,
    }
    return VenueRisk(
        list(instruments),
        ccy,
        np.ascontiguousarray(out),
        pair_idx,
        np.zeros(len(rows), dtype=np.int32),  # no roll shock: one expiry index of factor 0
        coin_deltas(market, rows),
        mark_values(market, list(instruments), usd=True),
        np.full(int(pair_idx.max()) + 1 if len(pair_idx) else 1, np.inf),
        None,
        np.zeros(1),
        out.shape[1],
        0.0,
        mm_factor,
        None,
        venue,
        labels,
    )


def standard_venue_risk(
    market: Market, instruments: list[str], params: Any, currency: str | None
) -> StandardVenueRisk:
    """Deribit standard margin per instrument under ``params`` (DeribitStandardParams, or the
    newest shipped set), every instrument settling in one currency."""
    from ..market.instruments import parse_instrument
    from ..models.deribit_standard import (
        INSTRUMENT_FIELDS,
        DeribitStandardParams,
        instrument_fields,
    )

    if params is None:  # the version in force at the valuation time, as pm.margin
        params = DeribitStandardParams.in_force(market.valuation_time)
    if not isinstance(params, DeribitStandardParams):
        raise InputTypeError("expected DeribitStandardParams", "params")
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    terms = np.zeros((len(instruments), len(INSTRUMENT_FIELDS)))
    ccys = []
    for k, name in enumerate(instruments):
        ccy, fields = instrument_fields(parse_instrument(name), market, params, k)
        ccys.append(ccy.lower())
        terms[k] = [fields.get(c, 1.0 if c == "price" else 0.0) for c in INSTRUMENT_FIELDS]
    found = list(dict.fromkeys(ccys))
    if currency is None:
        if len(found) != 1:
            raise InvalidInputError(f"instruments settle in {found}: pass currency=", "currency")
        currency = found[0]
    currency = currency.lower()
    if currency not in found or len(found) != 1:
        k = next(i for i, c in enumerate(ccys) if c != currency)
        raise InvalidInputError(f"{instruments[k]} does not settle in {currency}", "instruments", k)
    return StandardVenueRisk(
        list(instruments),
        currency,
        np.ascontiguousarray(terms),
        mark_values(market, list(instruments), usd=False),  # settlement currency
    )


def sensitivity_venue_risk(
    market: Market, instruments: list[str], params: Any
) -> SensitivityVenueRisk:
    """The Greek-netting model per instrument (the quantities delta_margin sums per
    position, for one unit of each instrument)."""
    from ..market.instruments import InstrumentKind, Settlement
    from ..models.delta_margin import DeltaMarginParams, tenor_correlation, vega_bucket
    from ..pricing import inverse_price
    from ..risk.greeks import portfolio_greeks
    from ..risk.scenarios import ScenarioSet, VolShockRule

    if params is None:
        params = DeltaMarginParams.load()
    if not isinstance(params, DeltaMarginParams):
        raise InputTypeError("expected DeltaMarginParams", "params")
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows = table.rows(instruments)
    col = table.column
    unds = sorted(table.code_names(col("underlying")[rows]))  # delta_margin's order
    for u in unds:
        if u not in params.delta_rw:
            raise ModelParameterError(f"no risk weights for {u}", "underlyings")
    index_of = {u: k for k, u in enumerate(unds)}
    g = portfolio_greeks(dict.fromkeys(instruments, 1.0), market)
    und = np.array([index_of[u] for u in g.underlying], dtype=np.int32)
    opt = col("kind")[rows] == int(InstrumentKind.OPTION)
    days = col("time")[rows] * 365.0
    bucket = np.where(opt, [vega_bucket(params, d) for d in days], -1).astype(np.int32)
    vrw = np.array([params.vega_rw[u] for u in g.underlying])
    weighted_vega = np.where(opt, vrw * g.position["vega"] * 100.0 * col("vol")[rows], 0.0)
    # P&L per unit at +-RW of its underlying, vol unchanged, in USD (inverse instruments:
    # dV S' + V (S' - S), as scenario_pnl values them).
    up = np.zeros(len(rows))
    down = np.zeros(len(rows))
    inverse = col("settlement")[rows] == int(Settlement.INVERSE)
    for u, k in index_of.items():
        sel = np.flatnonzero(und == k)
        rw = params.delta_rw[u]
        scen = ScenarioSet((u,), np.array([[rw], [-rw]]), np.zeros(2, np.int8), (VolShockRule(),))
        risk = risk_arrays_for_rows(market, rows[sel], scen)
        s0 = market.index_price(u)
        inv = inverse[sel]
        if inv.any():
            r = rows[sel][inv]
            value = np.zeros(len(r))
            o = col("kind")[r] == int(InstrumentKind.OPTION)
            if o.any():
                value[o] = inverse_price(
                    col("forward")[r[o]],
                    col("strike")[r[o]],
                    col("time")[r[o]],
                    col("vol")[r[o]],
                    col("rate")[r[o]],
                    col("is_call")[r[o]].astype(bool),
                )
            moved = s0 * (1.0 + np.array([rw, -rw]))
            risk[inv] = risk[inv] * moved + value[:, None] * (moved - s0)
        up[sel] = risk[:, 0]
        down[sel] = risk[:, 1]
    return SensitivityVenueRisk(
        list(instruments),
        "usd",
        und,
        bucket,
        np.ascontiguousarray(g.position["delta_usd"], dtype=np.float64),
        np.ascontiguousarray(weighted_vega, dtype=np.float64),
        up,
        down,
        mark_values(market, list(instruments), usd=True),
        np.ascontiguousarray(tenor_correlation(params)),
        float(params.delta_corr),
        float(params.vega_corr),
        np.array([params.delta_rw[u] for u in unds]),
    )


def span_venue_risk(market: Market, instruments: list[str], params: Any) -> SpanVenueRisk:
    """SPAN per combined commodity (underlying) under ``params`` (a SpanParams), the rows as
    span_margin takes them."""
    from ..models.span import SpanParams, commodity_rows

    if not isinstance(params, SpanParams):
        raise InputTypeError("SPAN needs its parameter set (SpanParams.from_file)", "params")
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows, und = table.take(instruments, "underlying")
    names = sorted(params.commodities)  # the kernel's commodity order
    index = {u: k for k, u in enumerate(names)}
    n = len(rows)
    out = np.zeros((n, 16))
    commodity = np.zeros(n, dtype=np.int32)
    tier = np.zeros(n, dtype=np.int32)
    delta = np.zeros(n)
    option = np.zeros(n, dtype=np.uint8)
    weights = {u: np.ones(16) for u in names}
    labels: dict[str, tuple[str, ...]] = {u: () for u in names}
    for code in np.unique(und):
        u = table.codes[int(code)]
        if u not in index:
            row = int(np.argmax(und == code))
            raise ModelParameterError(f"no SPAN parameters for {u} ({instruments[row]})", "params")
        sel = np.flatnonzero(und == code)
        c = commodity_rows(market, rows[sel], u, params.commodities[u])
        out[sel] = c.risk
        commodity[sel] = index[u]
        tier[sel] = c.tier
        delta[sel] = c.delta
        option[sel] = c.option
        weights[u] = np.ascontiguousarray(c.weights, dtype=np.float64)
        labels[u] = c.scenarios.label
    comm = []
    for u in names:
        cp = params.commodities[u]
        pairs = list(cp.intra_rates.items())
        comm.append(
            (
                len(cp.tier_days) + 1,
                weights[u],
                float(cp.short_option_minimum),
                np.array([t for (t1, t2), _ in pairs for t in (t1, t2)], dtype=np.int32),
                np.array([r for _, r in pairs], dtype=np.float64),
            )
        )
    spreads = [x for x in params.inter_spreads if x.a in index and x.b in index]
    return SpanVenueRisk(
        list(instruments),
        "usd",
        np.ascontiguousarray(out),
        commodity,
        tier,
        delta,
        option,
        mark_values(market, list(instruments), usd=True),
        comm,
        np.array([[index[x.a], index[x.b]] for x in spreads], dtype=np.int32).reshape(-1, 2),
        np.array([[x.ratio_a, x.ratio_b, x.rate] for x in spreads], dtype=np.float64).reshape(
            -1, 3
        ),
        [labels[u] for u in names],
    )


def finra_venue_risk(market: Market, instruments: list[str], kw: Any) -> VenueRisk:
    """The FINRA/Cboe grid: a group per underlying, P&L in USD over +-move in points, floored
    at the per-contract minimum; IM = MM."""
    from ..models.scan import finra_grid, finra_kwargs

    args = finra_kwargs(kw)  # as pm.margin takes them
    move, points = args["move"], args["points"]
    minimum, multiplier = args["minimum_per_contract"], args["multiplier"]
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows, und, settlement, contract = table.take(
        instruments, "underlying", "settlement", "contract_size"
    )
    unds = list(dict.fromkeys(table.codes[int(c)] for c in und))
    out = np.zeros((len(rows), points))
    pair_idx = np.zeros(len(rows), dtype=np.int32)
    labels = []
    for k, u in enumerate(unds):
        grid = finra_grid(u, move, points)
        labels.append(grid.label)
        sel = np.flatnonzero(und == table.code_of(u))
        risk = risk_arrays_for_rows(market, rows[sel], grid)
        inverse = settlement[sel] == 1
        risk[inverse] *= market.index_price(u) * (1.0 + grid.move[:, 0])  # coin P&L in USD
        out[sel] = risk
        pair_idx[sel] = k
    floor = minimum * multiplier / contract
    return usd_grid_risk(market, instruments, rows, out, pair_idx, floor, "usd", 1.0, {}, labels)
