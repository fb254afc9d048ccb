# SPDX-License-Identifier: Apache-2.0
"""Deribit cross-collateral portfolio margin (X:PM): every settlement currency in one USD risk
matrix.

What Deribit publishes (its Portfolio Margin support article, "X:PM / cross
collateral"): all collateral currencies are valued in USD and pooled, any of them can margin
any derivative, some carry a haircut; the parameter block has, per currency, ``pnl_offset``,
``max_offsetable_pnl``, ``haircut`` and ``equity_side_impact``. How they combine is not
published. pymargin's construction, built from the segregated model (deribit_pm) step by step,
each step labelled:

1. Per currency pair, every position is revalued under the pair's S:PM scenarios and its P&L
   converted to USD scenario by scenario: a coin P&L at the coin's shocked price S (1 + m) (the
   coin's USD value in that scenario), stablecoin P&L one to one. Extended entries are then
   scaled by extended_table_factor x range/|M|, which maps a USD-linear exposure onto its
   +-range edge value (the USD counterpart of S:PM's coin scaling).
2. Collateral balances are positions too: a coin balance of the pair's base currency moves with
   the pair's price (balance x S x m) where ``equity_side_impact`` says so (``both``: gains and
   losses; ``positive`` / ``negative``: that side only; ``none``: not shocked).
3. Per (pair, settlement currency) the vectors are summed; gains are credited at that
   currency's ``pnl_offset``, capped at ``max_offsetable_pnl`` (USD), losses in full: this is
   how much a gain in one currency may offset a loss in another. Extended entries then lose the
   dampener in magnitude, not past zero: (|M|/range - 1) x extended_dampener USD (S:PM's coin
   dampener is this amount at the edge price).
4. Per pair the currencies' vectors are added (one USD risk matrix); the worst case is the sum
   over pairs of each pair's most negative entry, reported with its bucket as in S:PM.
5. Roll shock per (pair, settlement currency, expiry) with the settlement currency's
   parameters, in USD at the index; delta shock and correlation contingency as in S:PM (a
   ``ModelCoverageError`` where they would apply).
6. RMM = worst case + roll shock; IM = RMM + the order-book margins; MM = mm_factor x RMM.
   Haircuts reduce the collateral's value in the margin balance (see
   :func:`pymargin.account_summary`), not the requirement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..conventions import USD_STABLECOINS as STABLECOINS
from ..exceptions import InputTypeError, InvalidInputError
from ..market.market import Market
from ..market.portfolio import position_arrays
from ..risk.revaluation import risk_arrays_for_rows, summed_pnl
from .deribit_pm import DeribitPMParams, check_addons, pair_scenarios
from .params import ModelCoverageError, ModelParameterError
from .scenario_margin import ModelRules, scenario_margin
from .vectors import EXTENDED_MOVES, UNCHANGED_SLOT, bucket_of, coin_deltas, roll_terms

__all__ = [
    "STABLECOINS",
    "DeribitXPMResult",
    "coin_moves",
    "deribit_xpm_margin",
    "pair_terms",
    "usd_factor",
    "usd_rows",
]

# Settlement currencies valued at 1 USD (a depeg is a stress scenario, not a margin input).

# Deribit's equity_side_impact as the core's codes (engine EquitySide, batch BatchCross::side).
EQUITY_SIDE = {"none": 0, "both": 1, "positive": 2, "negative": 3}


def _extended_scale(pp: Any, n: int, n_std: int) -> np.ndarray:
    """Per entry of the pair's grid: 1 on the standard entries, extended_table_factor x
    range/|M| on the extended ones (a USD-linear exposure mapped onto its +-range edge)."""
    scale = np.ones(n)
    scale[n_std:] = pp.extended_table_factor * pp.price_range / np.abs(np.array(EXTENDED_MOVES))
    return scale


def usd_factor(ccy: str, pp: Any, scen: Any, n_std: int, index: float) -> np.ndarray:
    """Step 1's factor per scenario entry: a coin P&L is worth (1 + M) x index USD at the
    scenario's shocked price (a stablecoin's one to one), and the extended entries are scaled
    by extended_table_factor x range/|M|."""
    factor = _extended_scale(pp, scen.n, n_std)
    if ccy not in STABLECOINS:
        factor = factor * (index * (1.0 + scen.move[:, 0]))
    return factor


def usd_rows(
    market: Market,
    rows: np.ndarray,
    ccy: str,
    pp: Any,
    scen: Any,
    n_std: int,
    index: float,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Step 1 per unit held of each row (all of one pair and settlement currency): the
    scenario P&L in USD, [rows, scenarios]."""
    risk = risk_arrays_for_rows(market, rows, scen, threads=threads)
    return risk * usd_factor(ccy, pp, scen, n_std, index)


def coin_moves(pp: Any, scen: Any, n_std: int, index: float) -> np.ndarray:
    """Step 2 per coin of equity on its own pair: its USD move index x M in each scenario,
    extended entries scaled as the rows are."""
    return index * scen.move[:, 0] * _extended_scale(pp, scen.n, n_std)


def pair_terms(params: DeribitPMParams, market: Market, pair: str) -> tuple[Any, float, Any]:
    """A pair's parameters, its underlying's index price and its S:PM scenario set."""
    if pair not in params.pairs:
        raise ModelParameterError(
            f"no parameters for currency pair {pair!r}", "model_params.currency_pair"
        )
    pp = params.pairs[pair]
    underlying = f"{pair.split('_')[0].upper()}_USD"
    index = market.index_price(underlying)
    return pp, index, pair_scenarios(underlying, pp, params.buckets_count)


def shocked_equity(balance: float, moves: np.ndarray, side: str) -> np.ndarray:
    """A coin balance's USD move per scenario, kept on the side ``equity_side_impact`` says
    (``both``: gains and losses; ``positive``: gains; ``negative``: losses; ``none``: 0)."""
    with np.errstate(over="ignore", invalid="ignore"):  # the model refuses non-finite
        move = balance * moves
    if side == "none":
        return np.zeros_like(move)
    if side == "positive":
        return np.maximum(move, 0.0)
    if side == "negative":
        return np.minimum(move, 0.0)
    return move


@dataclass
class DeribitXPMResult:
    """Cross portfolio margin in USD, with the per-pair USD vectors that produce it."""

    initial_margin: float
    maintenance_margin: float
    risk_matrix_margin: float
    worst_case: float
    worst_case_bucket: dict[str, Any]
    worst_pair: str
    roll_shock: float
    mmp_margin: float
    open_orders_margin: float
    spot_margin: float
    currency_vectors: dict[str, dict[str, np.ndarray]]  # "btc_usd/btc" -> credited USD vectors
    aggregated_risk_vectors: dict[str, dict[str, np.ndarray]]  # per pair, USD
    scenario_labels: dict[str, list[str]]
    params: DeribitPMParams
    currency: str = "usd"
    worst_scenario: str = ""  # the binding entry's label ("BTC -16% vol up")

    def explain(self) -> str:
        b = self.worst_case_bucket
        lines = [
            f"Cross portfolio margin (one USD risk matrix): IM {self.initial_margin:,.2f}, "
            f"MM {self.maintenance_margin:,.2f} USD.",
            f"Risk-matrix margin {self.risk_matrix_margin:,.2f} = worst case "
            f"{self.worst_case:,.2f} (largest pair loss: {self.worst_scenario}, the "
            f"{b.get('source')} scenario #{b.get('index')}) + roll shock {self.roll_shock:,.2f}.",
            "Gains in one settlement currency offset losses in another only at that "
            "currency's pnl_offset (capped at max_offsetable_pnl).",
        ]
        return "\n".join(lines)


def _checked_collateral(collateral: dict[str, float] | None) -> dict[str, float]:
    """Balances by lower-case currency: strings as keys, once each (case-blind), finite >= 0."""
    coll: dict[str, float] = {}
    for row, (k, v) in enumerate((collateral or {}).items()):
        if not isinstance(k, str):
            raise InputTypeError("currency names must be strings", "collateral", row)
        if k.lower() in coll:
            raise InvalidInputError(f"{k} given twice (case-blind)", "collateral", row)
        coll[k.lower()] = v
    for row, (ccy, bal) in enumerate(coll.items()):
        if isinstance(bal, bool) or not isinstance(bal, (int, float)) or not math.isfinite(bal):
            raise InvalidInputError(f"balance of {ccy} must be a finite number", "collateral", row)
        if bal < 0:
            raise InvalidInputError(f"balance of {ccy} must be >= 0", "collateral", row)
    return coll


def _covering(
    params: DeribitPMParams | None,
    market: Market,
    names: list[str],
    ccy_codes: np.ndarray,
    pair_codes: np.ndarray,
    coll: dict[str, float],
) -> DeribitPMParams:
    """The parameter set (when None, the one in force at the market's valuation time,
    block by block), checked to cover every settlement and collateral currency, with no
    correlation contingency."""
    table = market.table
    if params is None:
        coin_pairs = {f"{c}_usd" for c, b in coll.items() if c not in STABLECOINS and b > 0}
        params = DeribitPMParams.in_force(
            market.valuation_time,
            table.code_names(pair_codes) | coin_pairs,
            table.code_names(ccy_codes) | set(coll),
        )
    for ccy in coll:
        if params.currency_params(ccy) is None:
            raise ModelParameterError(
                f"no parameters for currency {ccy!r}", "model_params.currency"
            )
    for c in np.unique(ccy_codes):
        ccy = table.codes[int(c)]
        if params.currency_params(ccy) is None:
            row = int(np.argmax(ccy_codes == c))
            raise ModelParameterError(
                f"{names[row]} settles in {ccy}, which the parameters do not cover",
                "model_params.currency",
            )
    if any(params.currencies[c].correlation_set for c in params.currencies):
        raise ModelCoverageError(
            "correlation contingency (correlation_set = true) is not published by Deribit"
        )
    return params


@dataclass
class _Groups:
    """The core model's inputs: a group per (pair, currency) in USD, a set per pair (the
    groups' credited and dampened entries are summed before the worst case), and the roll
    shock's factor and net coin delta per (pair, currency, expiry)."""

    key: list[str] = field(default_factory=list)
    pnl: list[np.ndarray] = field(default_factory=list)
    damp: list[np.ndarray] = field(default_factory=list)
    cap: list[float] = field(default_factory=list)
    offset: list[float] = field(default_factory=list)
    set_of: list[int] = field(default_factory=list)  # the set (pair) of each group
    roll_k: list[np.ndarray] = field(default_factory=list)
    roll_d: list[np.ndarray] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)


def _pair_groups(
    g: _Groups,
    s: int,
    pair: str,
    params: DeribitPMParams,
    market: Market,
    rows: np.ndarray,
    sizes: np.ndarray,
    ccy_codes: np.ndarray,
    pair_codes: np.ndarray,
    coll: dict[str, float],
    threads: int | None,
) -> None:
    """Adds pair ``pair`` (set ``s``) to ``g``: one group per currency its positions settle in,
    plus its coin's equity where held (steps 1 to 3 of the module docstring)."""
    table = market.table
    n_std = 3 * (2 * params.buckets_count + 1)
    ext_moves = np.array(EXTENDED_MOVES)
    pp, index, scen = pair_terms(params, market, pair)
    base = pair.split("_")[0]
    code = table.code_of(pair)
    in_pair = np.nonzero(pair_codes == code)[0] if code is not None else rows[:0]
    ccys = table.code_names(ccy_codes[in_pair])
    if base in coll:
        ccys.add(base)
    for ccy in sorted(ccys):
        cp = params.currency_params(ccy)
        assert cp is not None  # checked by _covering
        sel = in_pair[ccy_codes[in_pair] == table.code_of(ccy)]
        usd = np.zeros(scen.n)
        if len(sel):
            sub = rows[sel]
            usd += summed_pnl(market, sub, sizes[sel], scen, threads=threads) * usd_factor(
                ccy, pp, scen, n_std, index
            )
            deltas = coin_deltas(market, sub) * sizes[sel]
            factor, net = roll_terms(market, sub, deltas, cp)
            g.roll_k.append(factor * index)
            g.roll_d.append(net)
            net_usd = float(deltas.sum()) * index
            if abs(net_usd) > pp.delta_total_liq_shock_threshold:
                raise ModelCoverageError(
                    f"net delta {net_usd:,.0f} USD in {pair}/{ccy} exceeds "
                    "delta_total_liq_shock_threshold: Deribit's delta-shock formula is not "
                    "published"
                )
        if ccy == base and coll.get(ccy, 0.0) > 0:
            usd += shocked_equity(
                coll[ccy], coin_moves(pp, scen, n_std, index), cp.equity_side_impact
            )
        damp = np.zeros(scen.n)
        damp[n_std:] = (np.abs(ext_moves) / pp.price_range - 1.0) * cp.extended_dampener
        g.key.append(f"{pair}/{ccy}")
        g.pnl.append(usd)
        g.damp.append(damp)
        g.cap.append(cp.max_offsetable_pnl)
        g.offset.append(cp.pnl_offset)
        g.set_of.append(s)
    g.labels[pair] = list(scen.label)


def deribit_xpm_margin(
    positions: dict[str, float],
    market: Market,
    params: DeribitPMParams | None = None,
    collateral: dict[str, float] | None = None,
    *,
    mmp_margin: float = 0.0,
    open_orders_margin: float = 0.0,
    spot_margin: float = 0.0,
    threads: int | None = None,
) -> DeribitXPMResult:
    """X:PM of ``positions`` (any settlement currencies) and ``collateral`` (currency ->
    balance, >= 0, in the currency's units) under ``params`` (which must cover every settlement
    and collateral currency and every pair; None: the newest shipped set that does); see the
    module docstring for each step."""
    if params is not None and not isinstance(params, DeribitPMParams):
        raise InvalidInputError("expected DeribitPMParams", "params")
    coll = _checked_collateral(collateral)
    check_addons(mmp_margin, open_orders_margin, spot_margin)
    if not positions and not coll:
        raise InvalidInputError("no positions and no collateral", "positions")
    names, sizes = position_arrays(positions)
    table = market.table
    rows = table.rows(names)
    ccy_codes = table.column("settlement_currency")[rows]
    pair_codes = table.column("pair")[rows]
    params = _covering(params, market, names, ccy_codes, pair_codes, coll)
    _, first = np.unique(pair_codes, return_index=True)
    pairs = [table.codes[int(p)] for p in pair_codes[np.sort(first)]]
    for ccy in coll:
        if ccy not in STABLECOINS and f"{ccy}_usd" not in pairs and coll[ccy] > 0:
            pairs.append(f"{ccy}_usd")  # a coin balance alone is a position in its pair
    n_std = 3 * (2 * params.buckets_count + 1)
    g = _Groups()
    for s, pair in enumerate(pairs):
        _pair_groups(g, s, pair, params, market, rows, sizes, ccy_codes, pair_codes, coll, threads)
    res = scenario_margin(
        ModelRules(
            mm_factor=params.mm_factor,
            round_worst=True,
            tie_standard=n_std,
            tie_period=3,
            tie_slot=UNCHANGED_SLOT,
        ),
        np.array(g.pnl).reshape(len(g.pnl), -1),
        sets=g.set_of,
        damp=np.array(g.damp).reshape(len(g.pnl), -1),
        cap=g.cap,
        pnl_offset=g.offset,
        roll_k=np.concatenate(g.roll_k) if g.roll_k else np.zeros(0),
        expiry_delta=np.concatenate(g.roll_d) if g.roll_d else np.zeros(0),
        im_addon=mmp_margin + open_orders_margin + spot_margin,
    )
    per_ccy = {
        key: {"standard": e[:n_std], "extended": e[n_std:]}
        for key, e in zip(g.key, res.group_entries)
    }
    agg = {
        pair: {"standard": e[:n_std], "extended": e[n_std:]}
        for pair, e in zip(pairs, res.set_entries)
    }
    # The reported worst scenario: the lowest entry over the pairs (the first pair on a tie).
    worst = int(np.argmin(res.lowest))
    return DeribitXPMResult(
        res.initial_margin,
        res.maintenance_margin,
        res.rmm,
        res.worst,
        bucket_of(int(res.at[worst]), n_std, params.buckets_count),
        pairs[worst],
        res.roll,
        mmp_margin,
        open_orders_margin,
        spot_margin,
        per_ccy,
        agg,
        g.labels,
        params,
        "usd",
        g.labels[pairs[worst]][int(res.at[worst])],
    )
