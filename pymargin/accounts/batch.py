"""Batch margin: every account of a venue margined at once (Deribit S:PM of one settlement
currency), risk arrays computed once per instrument, accounts held sparsely (CSR), the
per-account work done by the C++ kernel (``cpp/include/pymargin/kernel/batch_margin.hpp``),
multi-threaded with the GIL released, with no accounts x scenarios matrix in memory.

Positions are in coins of the underlying (as :class:`pymargin.Portfolio`); collateral in the
settlement currency. Equity = collateral + the mark value of the options (futures' P&L is taken
as settled into the collateral, as the venue does daily).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from .._validate import float_array, index_array
from ..exceptions import FileInputError, InputTypeError, InvalidInputError, PymarginError
from ..files import csv_table, open_file
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
from ..pricing import threads_argument
from ..risk.revaluation import mark_values, risk_arrays_for_rows

__all__ = [
    "BatchResult",
    "SensitivityVenueRisk",
    "SpanVenueRisk",
    "StandardVenueRisk",
    "VenueInput",
    "VenueRisk",
    "batch_margin",
    "batch_margin_csr",
    "venue_input",
    "venue_risk",
    "venue_risk_for",
]

STATUS = ("healthy", "margin call", "liquidation", "not covered")


@dataclass(frozen=True)
class VenueRisk:
    """Model-ready risk rows of a venue's instruments (one settlement currency): per
    instrument the S:PM vector of one unit, pair and expiry indices, coin delta and mark value;
    per pair the credit cap and dampeners; per expiry the roll-shock factor."""

    instruments: list[str]
    currency: str
    rows: np.ndarray  # [n, 35]
    pair: np.ndarray  # int32
    expiry: np.ndarray  # int32
    delta: np.ndarray
    value: np.ndarray
    cap: np.ndarray
    damp: np.ndarray | None  # [pairs, extended entries] (Deribit); None: no dampener
    roll_k: np.ndarray
    n_std: int
    pnl_offset: float
    mm_factor: float
    delta_limit: np.ndarray | None = None  # [pairs] coins; beyond it: not covered
    # The optional terms of other grid venues, as the kernel takes them (see
    # pymargin/kernel/batch_margin.hpp): weight, pnl_offsets, delta_price, unhedged_delta,
    # hedged_delta, floor_long, floor_short, round_worst, tie_period, tie_slot, stride.
    venue: dict[str, Any] | None = None

    def index_of(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.instruments)}


@dataclass(frozen=True)
class StandardVenueRisk:
    """Deribit standard margin's inputs per instrument of a venue (one settlement currency):
    the fields of the core's StandardPosition but the size (rule, rates, price, option terms
    and mark; pymargin.models.deribit_standard.instrument_fields) and the mark value."""

    instruments: list[str]
    currency: str
    terms: np.ndarray  # [n, 13]: deribit_standard.INSTRUMENT_FIELDS
    value: np.ndarray


@dataclass(frozen=True)
class SensitivityVenueRisk:
    """The Greek-netting model's inputs per instrument of a venue, per unit held, in USD: the
    underlying (index into ``delta_rw``), USD delta, weighted vega and its tenor bucket (-1:
    none), P&L at +- the underlying's delta risk weight, mark value; the model's
    correlations."""

    instruments: list[str]
    currency: str
    underlying: np.ndarray  # int32
    bucket: np.ndarray  # int32
    delta_usd: np.ndarray
    weighted_vega: np.ndarray
    pnl_up: np.ndarray
    pnl_down: np.ndarray
    value: np.ndarray
    tenor_corr: np.ndarray
    delta_corr: float
    vega_corr: float
    delta_rw: np.ndarray


@dataclass(frozen=True)
class SpanVenueRisk:
    """SPAN's inputs per instrument of a venue (pymargin.models.span.commodity_rows): the
    16-scenario risk row in USD, its combined commodity, expiry tier, coin delta, whether it
    is an option, and its mark value (USD); per commodity its weights, tiers, short option
    minimum and intra-commodity spread rates; the inter-commodity spreads."""

    instruments: list[str]
    currency: str
    rows: np.ndarray  # [n, 16]
    commodity: np.ndarray  # int32
    tier: np.ndarray  # int32
    delta: np.ndarray
    option: np.ndarray  # uint8
    value: np.ndarray
    commodities: list[tuple[int, np.ndarray, float, np.ndarray, np.ndarray]]
    spread_legs: np.ndarray  # int32 [spreads, 2]
    spread_terms: np.ndarray  # [spreads, 3]


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
        return _grid_venue(market, instruments, _paradex_assets(params), "usdc")
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
        assets = {
            b: (a.scenarios, a.weights, a.pnl_offset, a.unhedged, a.hedged, a.minimum_per_contract)
            for b, a in g.assets.items()
        }
        return _grid_venue(market, instruments, (assets, g.mm_fraction), "usd")
    if model is MarginModel.FINRA_PM:
        return _finra_venue(market, instruments, params or {})
    if model is MarginModel.SPAN16:
        return _span_venue(market, instruments, params)
    if model is MarginModel.DERIBIT_STANDARD:
        return _standard_venue(market, instruments, params, currency)
    if model is MarginModel.DELTA_MARGIN:
        return _sensitivity_venue(market, instruments, params)
    raise InvalidInputError(
        f"the batch kernel takes the grid models (not {getattr(model, 'name', model)})", "model"
    )


_Asset = tuple[Any, np.ndarray, float, float, float, float]


def _paradex_assets(version: Any) -> tuple[dict[str, _Asset], float]:
    from ..models.paradex_pm import asset_params, paradex_scenarios
    from ..models.params import load_params, number

    if version is not None and not isinstance(version, str):
        raise InputTypeError("expected a Paradex parameter version (str)", "params")
    doc = load_params("paradex_pm", version)
    assets: dict[str, _Asset] = {}
    for base in doc.get("assets", {}):
        scen, w = paradex_scenarios(doc, base)
        a = asset_params(doc, base)
        assets[base] = (scen, w, 0.0, a["unhedged_delta_factor"], a["hedged_delta_factor"], 0.0)
    return assets, number(doc, "mmr_fraction", "paradex_pm", 0, 1)


def _grid_venue(
    market: Market, instruments: list[str], model: tuple[dict[str, _Asset], float], ccy: str
) -> VenueRisk:
    """A grid venue (Paradex, a parameter file): a group per underlying, its scenarios and
    weights, gain credit, minimum delta and per-contract minimum; USD-settled instruments."""
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
    for k, (p, b) in enumerate(zip(pairs, bases)):
        scen, w, _, _, _, per_contract = assets[b]
        sel = np.flatnonzero(pair == table.code_of(p))
        out[sel, : len(w)] = risk_arrays_for_rows(market, rows[sel], scen)
        weight[k, : len(w)] = w
        pair_idx[sel] = k
        floor[sel] = per_contract / contract[sel]
        spot[k] = market.index_price(f"{b}_USD")
    terms = {
        "weight": np.ascontiguousarray(weight),
        "pnl_offsets": np.array([assets[b][2] for b in bases]),
        "delta_price": spot,
        "unhedged_delta": np.array([assets[b][3] for b in bases]),
        "hedged_delta": np.array([assets[b][4] for b in bases]),
    }
    return _usd_grid_risk(market, instruments, rows, out, pair_idx, floor, ccy, mm_fraction, terms)


def _usd_grid_risk(
    market: Market,
    instruments: list[str],
    rows: np.ndarray,
    out: np.ndarray,
    pair_idx: np.ndarray,
    floor: np.ndarray,
    ccy: str,
    mm_factor: float,
    terms: dict[str, Any],
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
    )


def _standard_venue(
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

    if params is None:
        params = DeribitStandardParams.load()
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


def _sensitivity_venue(market: Market, instruments: list[str], params: Any) -> SensitivityVenueRisk:
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


def _span_venue(market: Market, instruments: list[str], params: Any) -> SpanVenueRisk:
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
    )


def _finra_venue(market: Market, instruments: list[str], kw: Any) -> VenueRisk:
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
    for k, u in enumerate(unds):
        grid = finra_grid(u, move, points)
        sel = np.flatnonzero(und == table.code_of(u))
        risk = risk_arrays_for_rows(market, rows[sel], grid)
        inverse = settlement[sel] == 1
        risk[inverse] *= market.index_price(u) * (1.0 + grid.move[:, 0])  # coin P&L in USD
        out[sel] = risk
        pair_idx[sel] = k
    floor = minimum * multiplier / contract
    return _usd_grid_risk(market, instruments, rows, out, pair_idx, floor, "usd", 1.0, {})


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
        params = DeribitPMParams.latest_for(currency, set(pairs))
    cp = params.currency_params(currency)
    if cp is None:
        raise ModelParameterError(f"no parameters for {currency!r}", "model_params.currency")
    if cp.correlation_set:
        raise ModelCoverageError(
            "correlation contingency (correlation_set = true) is not "
            "published by Deribit; pymargin does not guess it"
        )
    usd = currency in ("usd", "usdc", "usdt")
    n_std = 3 * (2 * params.buckets_count + 1)
    out = np.zeros((len(rows), n_std + 8))
    pair_idx = np.zeros(len(rows), dtype=np.int32)
    cap = np.zeros(len(pairs))
    limit = np.zeros(len(pairs))
    damp = np.zeros((len(pairs), 8))
    index_of_pair = {}
    for k, pair in enumerate(pairs):
        if pair not in params.pairs:
            raise ModelParameterError(
                f"no parameters for pair {pair!r}", "model_params.currency_pair"
            )
        pp = params.pairs[pair]
        sel = np.flatnonzero(pair_codes == table.code_of(pair))
        underlying = f"{pair.split('_')[0].upper()}_USD"
        scen = pair_scenarios(underlying, pp, params.buckets_count)
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
    )


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
    from ..models.deribit_xpm import (
        EQUITY_SIDE,
        STABLECOINS,
        coin_moves,
        covering_params,
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
        params = covering_params(set(pairs), set(ccy_of) | set(extra))
    if not isinstance(params, DeribitPMParams):
        raise InputTypeError("expected DeribitPMParams", "params")
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
    for s, pair in enumerate(pairs):
        pp, index, scen = pair_terms(params, market, pair)
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
    # roll shock per (group, expiry): the currency's factor x the pair's index, USD
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
    cross = {
        "currencies": len(currencies),
        "currency_names": currencies,
        "sets": len(pairs),
        "group_set": np.array(group_set, dtype=np.int32),
        "currency": np.array([ccy_index[c] for c in ccy_of], dtype=np.int32),
        "price": price,
        "haircut": np.array([cps[c].haircut for c in currencies]),
        "shock_group": shock,
        "side": side,
        "coin_move": np.ascontiguousarray(coin_move),
    }
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
    )


@dataclass
class BatchResult:
    accounts: np.ndarray
    initial_margin: np.ndarray
    maintenance_margin: np.ndarray
    equity: np.ndarray
    ratio: np.ndarray
    status: np.ndarray  # 0 healthy, 1 margin call, 2 liquidation, 3 not covered (NaN margins:
    # a net delta beyond the model's threshold, or sums that overflow)
    currency: str
    worst_scenario: np.ndarray | None = None  # index of the lowest entry (of 35), -1 if none

    @classmethod
    def from_columns(
        cls, accounts: np.ndarray, out: dict[str, np.ndarray], currency: str
    ) -> BatchResult:
        """A result from the kernel's output columns (``initial_margin``, ``maintenance_margin``,
        ``equity``, ``ratio``, ``status``, optionally ``worst_index``)."""
        return cls(
            accounts,
            out["initial_margin"],
            out["maintenance_margin"],
            out["equity"],
            out["ratio"],
            out["status"],
            currency,
            out.get("worst_index"),
        )

    def to_frame(self) -> Any:
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(
            {
                "account": self.accounts,
                "initial_margin": self.initial_margin,
                "maintenance_margin": self.maintenance_margin,
                "equity": self.equity,
                "mm_ratio": self.ratio,
                "status": pd.Categorical.from_codes(self.status, STATUS),
                **({} if self.worst_scenario is None else {"worst_scenario": self.worst_scenario}),
            }
        )

    def to_parquet(self, path: str) -> None:
        self.to_frame().to_parquet(path)

    def to_csv(self, path: str) -> None:
        """The per-account table as CSV; an account id a spreadsheet would run as a formula
        (starting ``= + - @``, tab or CR) is written with a leading ``'`` (OWASP)."""
        frame = self.to_frame()
        frame["account"] = [csv_cell(v) for v in frame["account"]]
        frame.to_csv(path, index=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A text cell made safe for spreadsheets: text that would start a formula gets a leading
    single quote (the OWASP convention for CSV injection); other values are unchanged."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def batch_margin_csr(
    risk: VenueRisk | SpanVenueRisk | StandardVenueRisk | SensitivityVenueRisk,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    *,
    threads: int | None = None,
    balances: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The kernel on CSR arrays: account a holds ``amount[offsets[a]:offsets[a+1]]`` of
    instruments ``instrument[...]`` (indices into ``risk.instruments``). Accounts whose net
    delta on a pair passes the model's delta-shock threshold get status 3 (not covered) and NaN
    margins: Deribit does not publish that part of the model. Under X:PM (a risk from
    :func:`xpm_venue_risk`) ``balances`` [accounts, currencies] holds each account's balance per
    currency in ``risk.venue["cross"]["currency_names"]`` order, and ``collateral`` is USD cash
    beside them (not shocked)."""
    offs = index_array(offsets, "offsets", 2**62)
    inst = index_array(instrument, "instrument", len(risk.instruments) - 1)
    accounts = (
        np.ascontiguousarray(offs, dtype=np.int64),
        np.ascontiguousarray(inst, dtype=np.int32),
        float_array(amount, "amount"),
        float_array(collateral, "collateral"),
    )
    if isinstance(risk, SensitivityVenueRisk):
        return dict(
            _core.batch_sensitivity(
                risk.underlying,
                risk.bucket,
                risk.delta_usd,
                risk.weighted_vega,
                risk.pnl_up,
                risk.pnl_down,
                risk.value,
                *accounts,
                risk.tenor_corr,
                risk.delta_corr,
                risk.vega_corr,
                risk.delta_rw,
                threads_argument(threads),
            )
        )
    if isinstance(risk, StandardVenueRisk):
        return dict(
            _core.batch_standard(
                risk.terms,
                risk.value,
                *accounts,
                threads_argument(threads),
            )
        )
    if isinstance(risk, SpanVenueRisk):
        return dict(
            _core.batch_span(
                risk.rows,
                risk.commodity,
                risk.tier,
                risk.delta,
                risk.option,
                risk.value,
                *accounts,
                risk.commodities,
                np.ascontiguousarray(risk.spread_legs.ravel()),
                np.ascontiguousarray(risk.spread_terms.ravel()),
                threads_argument(threads),
            )
        )
    venue = risk.venue or {}
    if "cross" in venue:
        n_ccy = int(venue["cross"]["currencies"])
        if balances is None:
            raise InvalidInputError(
                "X:PM margins each currency's balance: pass balances=", "balances"
            )
        bal = np.ascontiguousarray(balances, dtype=np.float64)
        if bal.shape != (len(offs) - 1, n_ccy):
            raise InvalidInputError(
                f"must be [accounts, currencies] = [{len(offs) - 1}, {n_ccy}]", "balances"
            )
        venue = {**venue, "cross": {**venue["cross"], "balance": bal.ravel()}}
    elif balances is not None:
        raise InvalidInputError(
            "balances per currency are X:PM's; this model takes collateral", "balances"
        )
    return dict(
        _core.batch_margin(
            risk.rows,
            risk.pair,
            risk.expiry,
            risk.delta,
            risk.value,
            *accounts,
            risk.n_std,
            len(risk.cap),
            len(risk.roll_k),
            risk.pnl_offset,
            risk.cap,
            None if risk.damp is None else risk.damp.ravel(),
            risk.roll_k,
            risk.mm_factor,
            risk.delta_limit,
            threads_argument(threads),
            venue,
        )
    )


@dataclass(frozen=True)
class VenueInput:
    """Validated venue input: accounts sorted, instrument names, positions in CSR order
    (``instrument`` indexes ``instruments``), collateral per account."""

    accounts: np.ndarray
    instruments: list[str]
    offsets: np.ndarray
    instrument: np.ndarray
    amount: np.ndarray
    collateral: np.ndarray
    first_row: np.ndarray  # per instrument, its first row in the positions input
    source: str | None = None  # the positions file, when read from one
    # per currency (lower case) each account's balance, when the collateral names currencies
    balances: dict[str, np.ndarray] | None = None

    def risk(
        self,
        market: Market,
        params: Any,
        currency: str | None,
        model: Any = None,
        *,
        collateral_currencies: list[str] | None = None,
    ) -> VenueRisk | SpanVenueRisk | StandardVenueRisk | SensitivityVenueRisk:
        """:func:`venue_risk_for` of the instruments (Deribit S:PM by default); an
        instrument's error names its first row of the positions input (and the file)."""
        from ..models.registry import MarginModel

        try:
            return venue_risk_for(
                MarginModel.DERIBIT_PM if model is None else model,
                market,
                self.instruments,
                params,
                currency=currency,
                collateral_currencies=collateral_currencies,
            )
        except PymarginError as e:
            if e.index is None or not 0 <= e.index < len(self.instruments):
                raise
            name = self.instruments[e.index]
            err = type(e)(f"{name}: {e.reason}", "instrument", int(self.first_row[e.index]))
            if self.source is None:
                raise err from None

            raise FileInputError(self.source, err) from None


def _account_keys(values: np.ndarray, what: str) -> np.ndarray:
    """Account identifiers as given (a file's are its text: ``007`` and ``7`` are two
    accounts): none missing or empty; never two different ids merged. A column mixing types
    is compared as text, and refused if two different ids read the same as text."""
    import pandas as pd

    missing = pd.isna(values)
    if values.dtype == object:
        missing = missing | np.fromiter(
            (isinstance(v, str) and not v.strip() for v in values), bool, len(values)
        )
    if missing.any():
        raise InvalidInputError(f"missing account in {what}", "account", int(np.argmax(missing)))
    if values.dtype == object and len({type(v) for v in values}) > 1:
        text = values.astype(str)
        first: dict[str, Any] = {}
        for row, (v, t) in enumerate(zip(values, text)):
            other = first.setdefault(t, v)
            if type(other) is not type(v) or other != v:
                raise InvalidInputError(
                    f"account {v!r} and account {other!r} read the same as text: "
                    "give ids of one type",
                    "account",
                    row,
                )
        return text
    return values


def _instrument_names(values: np.ndarray) -> np.ndarray:
    """Instrument names: non-empty strings (a bytes or null cell is refused, not read as the
    text ``"b'...'"`` or ``"None"``)."""
    ok = np.fromiter((isinstance(v, str) and bool(v.strip()) for v in values), bool, len(values))
    if not ok.all():
        row = int(np.argmax(~ok))
        v = values[row]
        shown = repr(v) if len(repr(v)) <= 60 else repr(v)[:57] + "..."
        raise InvalidInputError(
            f"must be an instrument name (text), got {shown}", "instrument", row
        )
    return values.astype(str)


def venue_input(positions: Any, collateral: Any) -> VenueInput:
    """Reads and checks a venue's positions (``account``, ``instrument``, ``size``) and
    collateral (``account``, ``amount``): DataFrames or CSV / Parquet paths. Account ids read
    from a CSV file are text as written (``007`` is not ``7``); from a DataFrame or Parquet
    file they keep the caller's type. A bad row raises :class:`InvalidInputError` naming the
    field, the row and (for a file) the file."""
    pos_src = _source(positions)
    col_src = _source(collateral)
    with _named(pos_src):
        pos = _frame(positions, ("account", "instrument", "size"), "positions")
        sizes = _numbers(pos["size"], "size")
        if len(pos) == 0:
            raise InvalidInputError("no positions", "positions")
        pos_acc = _account_keys(pos["account"].to_numpy(), "positions")
        inst_names = _instrument_names(pos["instrument"].to_numpy(dtype=object))
    with _named(col_src):
        col = _frame(collateral, ("account", "amount"), "collateral")
        amounts = _numbers(col["amount"], "amount")
        col_acc = _account_keys(col["account"].to_numpy(), "collateral")
        col_ccy = None
        if "currency" in col.columns:
            col_ccy = col["currency"].to_numpy(dtype=object)
            ok = np.fromiter(
                (isinstance(v, str) and bool(v.strip()) for v in col_ccy), bool, len(col_ccy)
            )
            if not ok.all():
                raise InvalidInputError("must be a currency name", "currency", int(np.argmax(~ok)))
            col_ccy = np.array([v.strip().lower() for v in col_ccy], dtype=object)
    if pos_acc.dtype.kind != col_acc.dtype.kind and len(col_acc):
        pos_acc, col_acc = pos_acc.astype(str), col_acc.astype(str)
    accounts, acc_code = np.unique(pos_acc, return_inverse=True)
    names, first, inst_code = np.unique(inst_names, return_index=True, return_inverse=True)
    coll = np.zeros(len(accounts))
    where = np.searchsorted(accounts, col_acc)
    known = (where < len(accounts)) & (accounts[np.minimum(where, len(accounts) - 1)] == col_acc)
    if not known.all():
        with _named(col_src):
            raise InvalidInputError(
                f"account {col_acc[int(np.argmax(~known))]!r} has no positions",
                "account",
                int(np.argmax(~known)),
            )
    np.add.at(coll, where, amounts)
    balances = None
    if col_ccy is not None:
        balances = {}
        for c in dict.fromkeys(col_ccy):
            b = np.zeros(len(accounts))
            sel = col_ccy == c
            np.add.at(b, where[sel], amounts[sel])
            balances[str(c)] = b
    # One position per (account, instrument): rows repeating one are summed, as the venue
    # nets them (the models' gross-delta and per-contract terms are per position).
    key = acc_code.astype(np.int64) * len(names) + inst_code
    pairs, pair_of = np.unique(key, return_inverse=True)  # sorted: by account, then instrument
    size = np.zeros(len(pairs))
    np.add.at(size, pair_of, sizes)
    pair_acc = pairs // len(names)
    offsets = np.zeros(len(accounts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_acc, minlength=len(accounts)), out=offsets[1:])
    return VenueInput(
        accounts,
        list(names),
        offsets,
        (pairs % len(names)).astype(np.int32),
        size,
        coll,
        first,
        pos_src,
        balances,
    )


def _numbers(column: Any, field: str) -> np.ndarray:
    import pandas as pd

    values = column.to_numpy()
    if values.dtype == object:  # a bool or bytes cell is not a number
        bad = np.fromiter(
            (isinstance(v, (bool, np.bool_, bytes)) for v in values), bool, len(values)
        )
        if bad.any():
            raise InvalidInputError("must be a finite number", field, int(np.argmax(bad)))
    elif values.dtype.kind == "b":
        raise InvalidInputError("must be a finite number, not true/false", field, 0)
    with np.errstate(all="ignore"):
        out = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        raise InvalidInputError("must be a finite number", field, int(np.argmax(bad)))
    return out


def _source(obj: Any) -> str | None:
    return os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else None


class _named:
    """Re-raises a pymargin error as one naming ``source`` (a file), when there is one."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:

        if (
            self.source is not None
            and isinstance(exc, PymarginError)
            and not isinstance(exc, FileInputError)
        ):
            raise FileInputError(self.source, exc) from None
        return None


def batch_margin(
    positions: Any,
    collateral: Any,
    market: Market,
    params: Any = None,
    *,
    currency: str | None = None,
    threads: int | None = None,
    model: Any = None,
) -> BatchResult:
    """Every account's margin under ``model`` (a :class:`pymargin.MarginModel`: Deribit S:PM,
    the default, Paradex PM, the FINRA grid or a grid venue's parameter file, with ``params``
    as :func:`venue_risk_for` takes them). ``positions``: a DataFrame (or a CSV / Parquet
    path) with columns ``account``, ``instrument``, ``size``; ``collateral``: one with
    ``account`` and ``amount`` (accounts without a row have none). Bad rows are named, before
    any work."""
    from ..models.registry import MarginModel

    if model is not None and not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    b = venue_input(positions, collateral)
    if model is MarginModel.DERIBIT_XPM:
        if b.balances is None:
            raise InvalidInputError(
                "X:PM margins each currency's balance: give the collateral a currency column",
                "collateral",
            )
        risk = b.risk(market, params, None, model, collateral_currencies=list(b.balances))
        assert isinstance(risk, VenueRisk) and risk.venue is not None  # X:PM's
        names = risk.venue["cross"]["currency_names"]
        bal = np.zeros((len(b.accounts), len(names)))
        for k, c in enumerate(names):
            if c in b.balances:
                bal[:, k] = b.balances[c]
        out = batch_margin_csr(
            risk,
            b.offsets,
            b.instrument,
            b.amount,
            np.zeros(len(b.accounts)),
            threads=threads,
            balances=bal,
        )
        return BatchResult.from_columns(b.accounts, out, risk.currency)
    if b.balances is not None and len(b.balances) > 1:
        raise InvalidInputError(
            f"collateral in {sorted(b.balances)}: only X:PM margins several currencies together",
            "currency",
        )
    risk = b.risk(market, params, currency, model)
    out = batch_margin_csr(risk, b.offsets, b.instrument, b.amount, b.collateral, threads=threads)
    return BatchResult.from_columns(b.accounts, out, risk.currency)


def _frame(obj: Any, cols: tuple[str, ...], what: str) -> Any:
    import pandas as pd

    if isinstance(obj, (str, os.PathLike)):
        df = _read_table(os.fspath(obj))
    elif isinstance(obj, pd.DataFrame):
        df = obj
    else:
        try:
            df = pd.DataFrame(obj)
        except (TypeError, ValueError) as e:
            raise InputTypeError(f"not a table: {str(e).splitlines()[0][:80]}", what) from None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidInputError(f"missing columns {missing}", what)
    return df.reset_index(drop=True)


def _read_table(path: str) -> Any:
    """A CSV (strictly: see :func:`pymargin.files.csv_table`; cells kept as text) or Parquet
    file as a DataFrame; anything unreadable is refused naming the file."""
    from pathlib import Path

    import pandas as pd

    p = open_file(path)
    if path.lower().endswith(".parquet"):
        try:
            return pd.read_parquet(path)
        except Exception as e:  # pyarrow raises its own classes (ArrowInvalid, ...)
            if isinstance(e, MemoryError):
                raise
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise FileInputError(path, f"not a readable Parquet file ({first[:120]})") from None
    header, rows = csv_table(Path(p))
    return pd.DataFrame(rows, columns=header, dtype=object)
