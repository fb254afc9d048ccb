# SPDX-License-Identifier: Apache-2.0
"""The venue's risk for the batch: venue_risk (Deribit S:PM per settlement currency),
xpm_venue_risk (X:PM, one USD matrix) and venue_risk_for (any model)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..conventions import is_usd_stablecoin
from ..exceptions import InputTypeError, InvalidInputError
from ..market.market import Market
from ..models.deribit_pm import DeribitPMParams, pair_scenarios
from ..models.params import ModelCoverageError, ModelParameterError
from ..models.vectors import (
    EXTENDED_MOVES,
    UNCHANGED_SLOT,
    coin_deltas,
    extended_dampeners,
    position_vectors,
)
from ..risk.revaluation import mark_values
from .venue_models import (
    finra_venue_risk,
    grid_venue_risk,
    paradex_assets,
    sensitivity_venue_risk,
    span_venue_risk,
    standard_venue_risk,
)
from .venue_types import SensitivityVenueRisk, SpanVenueRisk, StandardVenueRisk, VenueRisk


def venue_risk_for(
    model: Any,
    market: Market,
    instruments: list[str],
    params: Any = None,
    *,
    currency: str | None = None,
    collateral_currencies: list[str] | None = None,
) -> VenueRisk | SpanVenueRisk | StandardVenueRisk | SensitivityVenueRisk:
    """Risk rows of ``instruments`` under ``model`` (a :class:`pymargin.MarginModel`): Deribit
    S:PM (``params``: DeribitPMParams), Paradex PM (a parameter version), the FINRA grid (a
    dict of :func:`pymargin.models.finra_pm_margin` keywords) or a grid venue's parameter file
    (SCENARIO_GRID). Every model is the core's scenario-margin model; only the inputs differ."""
    from ..models.registry import MarginModel

    if model is MarginModel.DERIBIT_PM:
        return venue_risk(market, instruments, params, currency=currency)
    if model is MarginModel.DERIBIT_XPM:
        return xpm_venue_risk(market, instruments, params, collateral_currencies)
    if model is MarginModel.PARADEX_PM:
        if params is None:  # the version in force at the valuation time, as pm.margin
            from ..models.params import version_in_force

            params = version_in_force("paradex_pm", market.valuation_time)
        return grid_venue_risk(market, instruments, paradex_assets(params), "usdc")
    if model is MarginModel.SCENARIO_GRID:
        from ..models.grid_file import GridModel

        g = params if isinstance(params, GridModel) else None
        if g is None:
            if params is None:
                raise InvalidInputError("a grid venue needs its parameter file", "params")
            g = (
                GridModel.from_document(params)
                if isinstance(params, dict)
                else GridModel.load(params)
            )
        assets = {b: g.charge_terms(b) for b in g.assets}  # the IM multiplier applied
        floors = {b: g.strike_floor(b) for b in g.assets}  # the IM multiplier applied
        return grid_venue_risk(
            market, instruments, (assets, g.mm_fraction), "usd", short_floor=floors
        )
    if model is MarginModel.FINRA_PM:
        return finra_venue_risk(market, instruments, params or {})
    if model is MarginModel.SPAN16:
        return span_venue_risk(market, instruments, params)
    if model is MarginModel.DERIBIT_STANDARD:
        return standard_venue_risk(market, instruments, params, currency)
    if model is MarginModel.DELTA_MARGIN:
        return sensitivity_venue_risk(market, instruments, params)
    if model is MarginModel.DERIVE_PM:
        raise ModelCoverageError(
            "derive_pm has no per-instrument risk rows: its batch is batch_margin's own kernel"
        )
    raise InvalidInputError(
        f"the batch kernel takes the grid models (not {getattr(model, 'name', model)})", "model"
    )


def venue_risk(
    market: Market,
    instruments: list[str],
    params: DeribitPMParams | None = None,
    *,
    currency: str | None = None,
) -> VenueRisk:
    """Risk rows for ``instruments`` (all settling in one currency) in ``market``."""
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows = table.rows(instruments)
    ccys = table.code_names(table.column("settlement_currency")[rows])
    if currency is None:
        if len(ccys) != 1:
            raise InvalidInputError(
                f"instruments settle in {sorted(ccys)}: pass currency=", "currency"
            )
        currency = ccys.pop()
    currency = currency.lower()
    wrong = table.column("settlement_currency")[rows] != table.code_of(currency)
    if wrong.any():
        k = int(np.argmax(wrong))
        raise InvalidInputError(f"{instruments[k]} does not settle in {currency}", "instruments", k)
    pair_codes = table.column("pair")[rows]
    pairs = list(dict.fromkeys(table.codes[int(c)] for c in pair_codes))
    if params is None:
        params = DeribitPMParams.in_force(market.valuation_time, set(pairs), {currency})
    cp = params.currency_params(currency)
    if cp is None:
        raise ModelParameterError(f"no parameters for {currency!r}", "model_params.currency")
    if cp.correlation_set:
        raise ModelCoverageError(
            "correlation contingency (correlation_set = true) is not "
            "published by Deribit; pymargin does not guess it"
        )
    usd = is_usd_stablecoin(currency)
    n_std = 3 * (2 * params.buckets_count + 1)
    out = np.zeros((len(rows), n_std + 8))
    pair_idx = np.zeros(len(rows), dtype=np.int32)
    cap = np.zeros(len(pairs))
    limit = np.zeros(len(pairs))
    damp = np.zeros((len(pairs), 8))
    index_of_pair = {}
    labels: list[tuple[str, ...]] = []
    for k, pair in enumerate(pairs):
        if pair not in params.pairs:
            raise ModelParameterError(
                f"no parameters for pair {pair!r}", "model_params.currency_pair"
            )
        pp = params.pairs[pair]
        sel = np.flatnonzero(pair_codes == table.code_of(pair))
        underlying = f"{pair.split('_')[0].upper()}_USD"
        scen = pair_scenarios(underlying, pp, params.buckets_count)
        labels.append(scen.label)
        out[sel] = position_vectors(market, rows[sel], np.ones(len(sel)), scen, pp, n_std, None)
        pair_idx[sel] = k
        index = market.index_price(underlying)
        index_of_pair[k] = index
        limit[k] = pp.delta_total_liq_shock_threshold / index
        to_settle = 1.0 if usd else 1.0 / index
        cap[k] = cp.max_offsetable_pnl * to_settle
        damp[k] = extended_dampeners(pp, cp, index, usd)
    # roll-shock groups: one per (pair, expiry); pairs sharing an expiry date stay apart
    group = np.stack([pair_idx.astype(np.int64), table.column("expiry_key")[rows]], axis=1)
    keys, exp_idx = np.unique(group, axis=0, return_inverse=True)
    exp_idx = exp_idx.reshape(-1)
    t_key = np.zeros(len(keys))
    und_of_exp = np.zeros(len(keys), dtype=np.int64)
    t_key[exp_idx] = table.column("time")[rows]
    und_of_exp[exp_idx] = pair_idx
    factor = np.maximum(cp.min_annualised_move, np.abs(np.expm1(cp.annualised_move_risk * t_key)))
    if usd:
        factor = factor * np.array([index_of_pair[int(u)] for u in und_of_exp])
    delta = coin_deltas(market, rows)
    value = mark_values(market, list(instruments), usd=False)
    return VenueRisk(
        list(instruments),
        currency,
        np.ascontiguousarray(out),
        pair_idx,
        exp_idx.astype(np.int32),
        delta,
        value,
        cap,
        np.ascontiguousarray(damp),
        factor,
        n_std,
        cp.pnl_offset,
        params.mm_factor,
        limit,
        labels=labels,
    )


def _currency_terms(
    params: DeribitPMParams, currencies: list[str], ccy_of: list[str], extra: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Each currency's parameters (a settlement or collateral currency must have them; a pair's
    coin without its own terms is dropped), and no correlation contingency."""
    cps = {}
    for c in currencies:
        cp = params.currency_params(c)
        if cp is None and c in ccy_of:
            raise ModelParameterError(f"no parameters for {c!r}", "model_params.currency")
        if cp is not None:
            cps[c] = cp
    currencies = [c for c in currencies if c in cps]  # a pair's coin without its own terms
    missing = [c for c in extra if c not in cps]
    if missing:
        raise ModelParameterError(f"no parameters for {missing[0]!r}", "model_params.currency")
    if any(cp.correlation_set for cp in cps.values()):
        raise ModelCoverageError(
            "correlation contingency (correlation_set = true) is not published by Deribit"
        )
    return cps, currencies


def _group_roll(
    table: Any,
    rows: np.ndarray,
    group_of: np.ndarray,
    groups: list[tuple[str, str]],
    cps: dict[str, Any],
    index_of: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """The roll shock per (group, expiry): each instrument's entry, and the currency's factor
    times the pair's index (USD) per entry."""
    key = np.stack([group_of.astype(np.int64), table.column("expiry_key")[rows]], axis=1)
    keys, exp_idx = np.unique(key, axis=0, return_inverse=True)
    exp_idx = exp_idx.reshape(-1)
    t_key = np.zeros(len(keys))
    t_key[exp_idx] = table.column("time")[rows]
    roll_k = np.zeros(len(keys))
    for e, (g, _) in enumerate(keys):
        pair, ccy = groups[int(g)]
        cp = cps[ccy]
        factor = max(cp.min_annualised_move, abs(math.expm1(cp.annualised_move_risk * t_key[e])))
        roll_k[e] = factor * index_of[pair]
    return exp_idx, roll_k


def _cross_terms(
    currencies: list[str],
    cps: dict[str, Any],
    ccy_of: list[str],
    groups: list[tuple[str, str]],
    group_set: list[int],
    moves: dict[str, np.ndarray],
    index_of: dict[str, float],
    stride: int,
    sets: int,
) -> dict[str, Any]:
    """The kernel's X:PM terms: per currency its USD price, haircut, equity side, shock group
    and the USD move of one coin; each group's set; each instrument's currency."""
    from ..conventions import USD_STABLECOINS as STABLECOINS
    from ..models.deribit_xpm import EQUITY_SIDE

    group_index = {g: k for k, g in enumerate(groups)}
    price = np.array([1.0 if c in STABLECOINS else index_of[f"{c}_usd"] for c in currencies])
    side = np.array(
        [0 if c in STABLECOINS else EQUITY_SIDE[cps[c].equity_side_impact] for c in currencies],
        dtype=np.uint8,
    )
    shock = np.array(
        [group_index.get((f"{c}_usd", c), -1) if side[k] else -1 for k, c in enumerate(currencies)],
        dtype=np.int32,
    )
    coin_move = np.zeros((len(currencies), stride))
    for k, c in enumerate(currencies):
        if c in moves:
            coin_move[k] = moves[c]
    ccy_index = {c: k for k, c in enumerate(currencies)}
    return {
        "currencies": len(currencies),
        "currency_names": currencies,
        "sets": sets,
        "group_set": np.array(group_set, dtype=np.int32),
        "currency": np.array([ccy_index[c] for c in ccy_of], dtype=np.int32),
        "price": price,
        "haircut": np.array([cps[c].haircut for c in currencies]),
        "shock_group": shock,
        "side": side,
        "coin_move": np.ascontiguousarray(coin_move),
    }


def xpm_venue_risk(
    market: Market,
    instruments: list[str],
    params: DeribitPMParams | None = None,
    collateral_currencies: list[str] | None = None,
) -> VenueRisk:
    """Deribit X:PM's inputs for the batch kernel (pymargin.models.deribit_xpm, step by
    step): a group per (pair, settlement currency) with USD rows, and per pair the coin's own
    group; a set per pair; per currency its USD price, haircut and equity side, and the USD
    move of one coin of equity. The kernel takes every account's balances per currency
    (``VenueRisk.cross["currencies"]`` orders them); its money is USD."""
    from ..conventions import USD_STABLECOINS as STABLECOINS
    from ..models.deribit_xpm import (
        coin_moves,
        pair_terms,
        usd_rows,
    )

    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    table = market.table
    rows = table.rows(instruments)
    pair_codes = table.column("pair")[rows]
    ccy_codes = table.column("settlement_currency")[rows]
    pairs = list(dict.fromkeys(table.codes[int(c)] for c in pair_codes))
    ccy_of = [table.codes[int(c)] for c in ccy_codes]
    extra = [c.lower() for c in (collateral_currencies or [])]
    currencies = list(dict.fromkeys([*ccy_of, *extra]))
    for c in currencies:  # a coin held as collateral brings its pair
        if c not in STABLECOINS and f"{c}_usd" not in pairs:
            pairs.append(f"{c}_usd")
    currencies = list(dict.fromkeys([*currencies, *(p.split("_")[0] for p in pairs)]))
    if params is None:
        params = DeribitPMParams.in_force(
            market.valuation_time, set(pairs), set(ccy_of) | set(extra)
        )
    if not isinstance(params, DeribitPMParams):
        raise InputTypeError("expected DeribitPMParams", "params")
    cps, currencies = _currency_terms(params, currencies, ccy_of, extra)
    n_std = 3 * (2 * params.buckets_count + 1)
    stride = n_std + 8
    ext = np.abs(np.array(EXTENDED_MOVES))
    out = np.zeros((len(rows), stride))
    group_of = np.zeros(len(rows), dtype=np.int32)
    groups: list[tuple[str, str]] = []
    group_set: list[int] = []
    cap, offset, limit, damp = [], [], [], []
    moves: dict[str, np.ndarray] = {}
    index_of: dict[str, float] = {}
    labels: list[tuple[str, ...]] = []
    for s, pair in enumerate(pairs):
        pp, index, scen = pair_terms(params, market, pair)
        labels.append(scen.label)
        base = pair.split("_")[0]
        index_of[pair] = index
        in_pair = [k for k in range(len(rows)) if table.codes[int(pair_codes[k])] == pair]
        held = {ccy_of[k] for k in in_pair}
        for ccy in sorted(held | ({base} & set(cps))):
            cp = cps[ccy]
            sel = np.array([k for k in in_pair if ccy_of[k] == ccy], dtype=np.int64)
            if len(sel):
                out[sel] = usd_rows(market, rows[sel], ccy, pp, scen, n_std, index)
                group_of[sel] = len(groups)
            if ccy == base:
                moves[ccy] = coin_moves(pp, scen, n_std, index)
            groups.append((pair, ccy))
            group_set.append(s)
            cap.append(cp.max_offsetable_pnl)
            offset.append(cp.pnl_offset)
            limit.append(pp.delta_total_liq_shock_threshold / index)
            damp.append((ext / pp.price_range - 1.0) * cp.extended_dampener)
    exp_idx, roll_k = _group_roll(table, rows, group_of, groups, cps, index_of)
    cross = _cross_terms(
        currencies, cps, ccy_of, groups, group_set, moves, index_of, stride, len(pairs)
    )
    venue = {
        "stride": stride,
        "pnl_offsets": np.array(offset),
        "round_worst": True,
        "tie_period": 3,
        "tie_slot": UNCHANGED_SLOT,
        "cross": cross,
    }
    return VenueRisk(
        list(instruments),
        "usd",
        np.ascontiguousarray(out),
        group_of,
        exp_idx.astype(np.int32),
        coin_deltas(market, rows),
        mark_values(market, list(instruments), usd=False),
        np.array(cap),
        np.ascontiguousarray(np.array(damp)),
        roll_k,
        n_std,
        0.0,
        params.mm_factor,
        np.array(limit),
        venue,
        labels,
    )
