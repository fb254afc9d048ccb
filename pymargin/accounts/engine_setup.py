# SPDX-License-Identifier: Apache-2.0
"""How the pre-trade engine is set up for each margin model: the C++ engine's instrument
columns, model terms and margin groups built from a market snapshot and the model's
parameters, and the instrument-name tables a snapshot is checked against on restore.
:class:`EngineSetup` is the base class of :class:`pymargin.PreTradeEngine` holding those
steps, so that the engine's module keeps to orders, accounts and snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..conventions import USD_STABLECOINS as STABLECOINS
from ..exceptions import InputTypeError, InvalidInputError, PymarginError
from ..market.instruments import InstrumentKind
from ..market.market import Market
from ..models.deribit_pm import DeribitPMParams
from ..models.deribit_xpm import EQUITY_SIDE
from ..models.params import ModelParameterError
from ..models.registry import MarginModel


def unique_in_order(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class _GridAsset:
    moves: np.ndarray
    vol_states: np.ndarray
    weights: np.ndarray
    rule: np.ndarray  # [10], ScenarioSet.rules_array() row
    terms: tuple[float, float, float]  # pnl_offset, unhedged, hedged
    minimum_per_contract: float
    # the short-option floor per net short contract at a strike, a fraction of the index,
    # the IM multiplier applied (0: none)
    strike_floor: float = 0.0


def _grid_assets(
    model: MarginModel, params: Any, bases: list[str]
) -> tuple[float, dict[str, _GridAsset]]:
    """The grid model's maintenance fraction and, per base currency, what the engine needs:
    the same scenario sets, weights and factors the model's own function builds."""

    def from_set(
        scen: Any,
        terms: tuple[float, float, float],
        floor: float,
        weights: np.ndarray | None = None,
        strike_floor: float = 0.0,
    ) -> _GridAsset:
        return _GridAsset(
            np.ascontiguousarray(scen.move[:, 0], dtype=np.float64),
            np.ascontiguousarray(scen.vol_state, dtype=np.int8),
            np.ascontiguousarray(scen.weight if weights is None else weights, dtype=np.float64),
            scen.rules_array()[0],
            terms,
            floor,
            strike_floor,
        )

    if model is MarginModel.PARADEX_PM:
        from ..models.paradex_pm import asset_params, paradex_scenarios
        from ..models.params import load_params, number

        if params is not None and not isinstance(params, str):
            raise InputTypeError("expected a Paradex parameter version (str)", "params")
        doc = load_params("paradex_pm", params)
        out = {}
        for b in bases:
            scen, _ = paradex_scenarios(doc, b)
            a = asset_params(doc, b)
            terms = (0.0, float(a["unhedged_delta_factor"]), float(a["hedged_delta_factor"]))
            out[b] = from_set(scen, terms, 0.0)
        return number(doc, "mmr_fraction", "paradex_pm", 0, 1), out
    if model is MarginModel.FINRA_PM:
        from ..models.scan import finra_grid, finra_kwargs

        kw = finra_kwargs(params)
        floor = float(kw["minimum_per_contract"]) * float(kw["multiplier"])
        out = {
            b: from_set(finra_grid(f"{b}_USD", kw["move"], kw["points"]), (0, 0, 0), floor)
            for b in bases
        }
        return 1.0, out
    from pathlib import Path

    from ..models.grid_file import GridModel
    from ..models.params import ModelParameterError as _MPE

    if params is None:
        raise InvalidInputError(
            "a grid model needs its parameter file (params=path, document or GridModel)",
            "params",
        )
    if isinstance(params, dict):
        gm = GridModel.from_document(json.loads(json.dumps(params)))
    elif isinstance(params, (str, Path)):
        gm = GridModel.load(params)
    elif isinstance(params, GridModel):
        gm = params
    else:
        raise InputTypeError(
            "expected a parameter file path, its document or a GridModel", "params"
        )
    grid = {}
    for b in bases:
        if b not in gm.assets:
            raise _MPE(f"{gm.name} has no parameters for {b}", "assets")
        # the terms pm.margin's charge takes and its short-option floor, the IM multiplier
        # applied to both (charge_terms, strike_floor)
        scen, w, gain, unh, hed, minimum = gm.charge_terms(b)
        grid[b] = from_set(scen, (gain, unh, hed), minimum, w, gm.strike_floor(b))
    return gm.mm_fraction, grid


def _cross_terms(currency: str, cp: Any, pairs: list[str]) -> tuple[float, float, float]:
    """A currency's X:PM terms as the core takes them: haircut, equity side code and the
    index of the pair whose index prices it (-1 for a stablecoin)."""
    if currency in STABLECOINS:
        return (cp.haircut, 0.0, -1.0)
    pair = f"{currency}_usd"
    if pair not in pairs:
        raise ModelParameterError(
            f"{currency} is a coin without its pair {pair!r} among the engine's instruments",
            "params",
        )
    return (cp.haircut, float(EQUITY_SIDE[cp.equity_side_impact]), float(pairs.index(pair)))


class EngineSetup:
    """The model-specific construction steps of :class:`pymargin.PreTradeEngine` (its base
    class; not used on its own)."""

    _core: Any
    _model: MarginModel
    _names: list[str]
    _id: dict[str, int]
    _pairs: list[str]
    _currencies: list[str]

    def _init_deribit(
        self, market: Market, rows: np.ndarray, params: Any, max_accounts: int
    ) -> None:
        model, pairs, currencies = self._model, self._pairs, self._currencies
        if params is not None and not isinstance(params, DeribitPMParams):
            raise InputTypeError("expected DeribitPMParams", "params")
        cross = model is MarginModel.DERIBIT_XPM
        if cross:  # the coins of the pairs may be held as collateral
            bases = [p.split("_")[0] for p in pairs]
            covered = [b for b in bases if params is None or params.currency_params(b)]
            currencies = unique_in_order([*currencies, *covered])
            self._currencies = currencies
        if params is None:
            params = DeribitPMParams.in_force(market.valuation_time, set(pairs), set(currencies))
        for p in pairs:
            if p not in params.pairs:
                raise ModelParameterError(f"no parameters for pair {p!r}", "params")
        cparams = []
        for c in currencies:
            cp = params.currency_params(c)
            if cp is None:
                raise ModelParameterError(f"no parameters for currency {c!r}", "params")
            if cp.correlation_set:
                raise ModelParameterError("correlation_set is not modelled", "params")
            cparams.append(cp)
        pair_arr = np.array(
            [
                [
                    pp.price_range,
                    pp.volatility_range_up,
                    pp.volatility_range_down,
                    pp.min_volatility_for_shock_up,
                    pp.short_term_vega_power,
                    pp.long_term_vega_power,
                    pp.extended_table_factor,
                    pp.delta_total_liq_shock_threshold,
                ]
                for pp in (params.pairs[p] for p in pairs)
            ]
        )
        ccy_arr = np.array(
            [
                [
                    cp.annualised_move_risk,
                    cp.min_annualised_move,
                    cp.extended_dampener,
                    cp.pnl_offset,
                    cp.max_offsetable_pnl,
                    1.0 if c in STABLECOINS else 0.0,
                    *(_cross_terms(c, cp, pairs) if cross else ()),
                ]
                for c, cp in zip(currencies, cparams)
            ]
        )
        forward, vol, time, rate, index = self._market_columns(market)
        self._core = _core.PreTradeEngine(
            params.buckets_count,
            params.mm_factor,
            pair_arr,
            ccy_arr,
            max_accounts,
            *self._spec_columns(market, rows),
            forward,
            vol,
            time,
            rate,
            index,
            cross=cross,
        )

    def _spec_columns(
        self, market: Market, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The instruments as the core takes them: kind, settlement, is_call, underlying (the
        engine's pair index), currency (its margin-group index), strike, expiry id."""
        table = market.table
        col = table.column
        pair_index = {p: k for k, p in enumerate(self._pairs)}
        ccy_index = {c: k for k, c in enumerate(self._currencies)}
        return (
            np.ascontiguousarray(col("kind")[rows]),
            np.ascontiguousarray(col("settlement")[rows]),
            np.ascontiguousarray(col("is_call")[rows]),
            np.array([pair_index[table.codes[int(c)]] for c in col("pair")[rows]], np.int32),
            np.array(
                [ccy_index[table.codes[int(c)]] for c in col("settlement_currency")[rows]],
                np.int32,
            ),
            np.ascontiguousarray(col("strike")[rows]),
            np.ascontiguousarray(col("expiry_key")[rows]),
        )

    def _usd_groups(self) -> np.ndarray:
        """The currency rows of the grid and standard engines: only usd_settled is read."""
        return np.array(
            [[0, 0, 0, 0, 0, 1.0 if c in STABLECOINS else 0.0] for c in self._currencies]
        )

    def _init_grid(self, market: Market, rows: np.ndarray, params: Any, max_accounts: int) -> None:
        table = market.table
        col = table.column
        settlement = col("settlement")[rows]
        if (settlement != 0).any():
            row = int(np.argmax(settlement != 0))
            raise InvalidInputError(
                f"{self._names[row]} is coin-settled: a grid model margins USD-settled instruments",
                "instruments",
                row,
            )
        bases = [p.split("_")[0].upper() for p in self._pairs]
        if params is None and self._model is MarginModel.PARADEX_PM:  # as pm.margin: by date
            from ..models.params import version_in_force

            params = version_in_force("paradex_pm", market.valuation_time)
        mm, assets = _grid_assets(self._model, params, bases)
        spec = self._spec_columns(market, rows)
        und = spec[3]
        per_contract = np.array([assets[bases[u]].minimum_per_contract for u in und])
        contract = col("contract_size")[rows]
        floor = np.ascontiguousarray(per_contract / contract, dtype=np.float64)
        # the short-option floor per unit amount, options only (netted per strike by the core)
        per_strike = np.array([assets[bases[u]].strike_floor for u in und])
        is_option = col("kind")[rows] == int(InstrumentKind.OPTION)
        strike_floor = np.ascontiguousarray(
            np.where(is_option, per_strike / contract, 0.0), dtype=np.float64
        )
        a = [assets[b] for b in bases]
        self._core = _core.PreTradeEngine.grid(
            mm,
            max_accounts,
            self._usd_groups(),
            [x.moves for x in a],
            [x.vol_states for x in a],
            [x.weights for x in a],
            np.ascontiguousarray([x.rule for x in a], dtype=np.float64),
            np.ascontiguousarray([x.terms for x in a], dtype=np.float64),
            *spec,
            floor,
            floor,
            strike_floor,
            *self._market_columns(market),
        )

    def _init_derive(
        self, market: Market, rows: np.ndarray, params: Any, max_accounts: int
    ) -> None:
        from ..models.derive_pm import DerivePMParams

        if params is None:  # as pm.margin: the version in force at the valuation time
            params = DerivePMParams.in_force(market.valuation_time)
        elif isinstance(params, str):
            params = DerivePMParams.load(params)
        if not isinstance(params, DerivePMParams):
            raise InputTypeError("expected DerivePMParams or a shipped version (str)", "params")
        spec = self._spec_columns(market, rows)
        self._core = _core.PreTradeEngine.derive(
            max_accounts,
            self._usd_groups(),
            params._core_params(),
            *params._core_scenarios(),
            *spec,
            *self._market_columns(market),
        )

    def _derive_columns(
        self, market: Market, forward: np.ndarray, time: np.ndarray, rate: np.ndarray
    ) -> None:
        """Derive's market inputs in place of the table's, per underlying (what pm.margin
        takes: each expiry's forward and rate from its first option, whole seconds to expiry);
        what Derive does not cover is refused by name."""
        from ..models.derive_market import derive_market_inputs

        pair = market.table.column("pair")[market.table.rows(self._names)]
        for code in np.unique(pair):
            sel = np.nonzero(pair == code)[0]
            m = derive_market_inputs([self._names[k] for k in sel], market)
            opt = m.perp == 0
            e = m.expiry[opt]
            forward[sel[opt]] = m.forward[e]
            time[sel[opt]] = m.seconds[e] / 31_536_000.0
            rate[sel[opt]] = m.rate[e]

    def _init_span(self, market: Market, rows: np.ndarray, params: Any, max_accounts: int) -> None:
        from ..models.span import SpanParams

        if not isinstance(params, SpanParams):
            raise InputTypeError("SPAN needs its parameter set (SpanParams.from_file)", "params")
        self._usd_only(market, rows)
        unds = [f"{p.split('_')[0].upper()}_USD" for p in self._pairs]
        comm = []
        for u in unds:
            cp = params.commodities.get(u)
            if cp is None:
                raise ModelParameterError(f"no SPAN parameters for {u}", "params")
            pairs = list(cp.intra_rates.items())
            comm.append(
                (
                    float(cp.price_scan),
                    float(cp.vol_scan),
                    float(cp.extreme_weight),
                    float(cp.look_ahead_days),
                    float(cp.short_option_minimum),
                    np.array(cp.tier_days, dtype=np.float64),
                    np.array([t for (t1, t2), _ in pairs for t in (t1, t2)], dtype=np.int32),
                    np.array([r for _, r in pairs], dtype=np.float64),
                )
            )
        index = {u: k for k, u in enumerate(unds)}
        spreads = [x for x in params.inter_spreads if x.a in index and x.b in index]
        self._core = _core.PreTradeEngine.span(
            max_accounts,
            self._usd_groups(),
            comm,
            np.array([i for x in spreads for i in (index[x.a], index[x.b])], dtype=np.int32),
            np.array([v for x in spreads for v in (x.ratio_a, x.ratio_b, x.rate)], np.float64),
            *self._spec_columns(market, rows),
            *self._market_columns(market),
        )

    def _usd_only(self, market: Market, rows: np.ndarray) -> None:
        settlement = market.table.column("settlement")[rows]
        if (settlement != 0).any():
            row = int(np.argmax(settlement != 0))
            raise InvalidInputError(
                f"{self._names[row]} is coin-settled: the engine runs this model on USD-settled "
                "instruments",
                "instruments",
                row,
            )

    def _init_sensitivity(
        self, market: Market, rows: np.ndarray, params: Any, max_accounts: int
    ) -> None:
        from ..models.delta_margin import DeltaMarginParams, tenor_correlation

        if params is None:
            params = DeltaMarginParams.load()
        if not isinstance(params, DeltaMarginParams):
            raise InputTypeError("expected DeltaMarginParams", "params")
        self._usd_only(market, rows)
        unds = [f"{p.split('_')[0].upper()}_USD" for p in self._pairs]
        for u in unds:
            if u not in params.delta_rw:
                raise ModelParameterError(f"no risk weights for {u}", "underlyings")
        self._core = _core.PreTradeEngine.sensitivity(
            max_accounts,
            self._usd_groups(),
            np.array(params.bucket_days, dtype=np.float64),
            np.ascontiguousarray(tenor_correlation(params)),
            float(params.delta_corr),
            float(params.vega_corr),
            np.array([params.delta_rw[u] for u in unds]),
            np.array([params.vega_rw[u] for u in unds]),
            *self._spec_columns(market, rows),
            *self._market_columns(market),
        )

    def _init_standard(
        self, market: Market, rows: np.ndarray, params: Any, max_accounts: int
    ) -> None:
        from ..market.instruments import parse_instrument
        from ..models.deribit_standard import DeribitStandardParams, instrument_terms

        if params is None:  # the version in force at the valuation time, as pm.margin
            params = DeribitStandardParams.in_force(market.valuation_time)
        if not isinstance(params, DeribitStandardParams):
            raise InputTypeError("expected DeribitStandardParams", "params")
        terms = np.zeros((len(self._names), 9))
        for row, name in enumerate(self._names):
            t = instrument_terms(parse_instrument(name), params)  # the model's own mapping
            r = t.rates
            terms[row] = (
                t.rule,
                1.0 if t.price_at_index else 0.0,
                r.get("im_base", 0.0),
                r.get("im_per_unit", 0.0),
                r.get("mm_base", 0.0),
                r.get("mm_per_unit", 0.0),
                r.get("im_otm_base", 0.0),
                r.get("im_floor", 0.0),
                r.get("mm", 0.0),
            )
        forward, vol, time, rate, index = self._market_columns(market)
        self._core = _core.PreTradeEngine.standard(
            max_accounts,
            self._usd_groups(),
            len(self._pairs),
            *self._spec_columns(market, rows),
            terms,
            forward,
            vol,
            time,
            rate,
            self._marks(market),
            index,
        )

    def _marks(self, market: Market) -> np.ndarray:
        """Options' venue mark prices (settlement currency), NaN where the market has none
        (the engine then values the option from its vol)."""
        _, kind = market.table.take(self._names, "kind")  # rows first, then the column
        option = kind == int(InstrumentKind.OPTION)
        out = np.full(len(self._names), np.nan)
        for k in np.flatnonzero(option):
            mk = market.marks.get(self._names[k])
            if mk is not None and mk.mark_price is not None:
                out[k] = float(mk.mark_price)
        return out

    def _market_columns(self, market: Market) -> tuple[np.ndarray, ...]:
        table = market.table
        rows = table.rows(self._names)
        col = table.column
        index = np.array(
            [market.index_price(f"{p.split('_')[0].upper()}_USD") for p in self._pairs]
        )
        forward = np.array(col("forward")[rows], dtype=np.float64)
        time = np.array(col("time")[rows], dtype=np.float64)
        rate = np.array(col("rate")[rows], dtype=np.float64)
        if self._model is MarginModel.DERIVE_PM:
            self._derive_columns(market, forward, time, rate)
        return (forward, np.ascontiguousarray(col("vol")[rows]), time, rate, index)


def name_tables(names: Any) -> tuple[list[str], list[str], list[str]]:
    bad = InvalidInputError("the name tables are malformed", "snapshot")
    if not isinstance(names, dict):
        raise bad
    tables = []
    for key in ("instruments", "pairs", "currencies"):
        v = names.get(key)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise bad
        if len(set(v)) != len(v):
            raise InvalidInputError(f"duplicate names in {key}", "snapshot")
        tables.append(list(v))
    return tables[0], tables[1], tables[2]


def check_names_match(
    core: Any, instruments: list[str], pairs: list[str], currencies: list[str]
) -> None:
    """Each name must parse to the instrument at its row of the engine state (kind,
    settlement, type, strike, expiry, pair and margin group): a name table spliced from
    another engine with as many instruments is refused."""
    from ..market.instruments import parse_instrument

    spec = core.instrument_specs()
    if len(instruments) != len(spec["kind"]):
        raise InvalidInputError("the name tables do not belong to the engine state", "snapshot")
    for row, name in enumerate(instruments):
        try:
            inst = parse_instrument(name)
        except PymarginError:
            raise InvalidInputError(f"unknown instrument name {name!r}", "snapshot", row) from None
        option = inst.kind is InstrumentKind.OPTION
        u, c = int(spec["underlying"][row]), int(spec["currency"][row])
        want = (
            int(inst.kind),
            int(inst.settlement),
            int(option and int(inst.option_type or 0) == 1),
            float(inst.strike) if option and inst.strike is not None else 0.0,
            int(inst.expiry.timestamp()) if inst.expiry is not None else -1,
            f"{inst.base.lower()}_usd",
            inst.settlement_currency.lower(),
        )
        got = (
            int(spec["kind"][row]),
            int(spec["settlement"][row]),
            int(spec["is_call"][row]),
            float(spec["strike"][row]),
            int(spec["expiry_id"][row]),
            pairs[u] if 0 <= u < len(pairs) else None,
            currencies[c] if 0 <= c < len(currencies) else None,
        )
        if want != got:
            raise InvalidInputError(
                f"name {name!r} does not match the engine state at its row", "snapshot", row
            )
