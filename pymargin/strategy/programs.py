# SPDX-License-Identifier: Apache-2.0
"""Each margin model's initial margin as a convex piecewise-linear function of a trade (Deribit
S:PM, Paradex, FINRA-style grids), for the LPs of the optimiser, and the default candidate
instruments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..market.portfolio import Portfolio, as_portfolio
from ..models.params import ModelCoverageError
from ..models.registry import MarginModel, margin
from ..risk.revaluation import mark_values
from .lp import (
    MaxOf,
    Node,
    Pieces,
    SumOf,
    abs_pieces,
    evaluate,
    zero_floor,
)

SUPPORTED = (MarginModel.DERIBIT_PM, MarginModel.PARADEX_PM, MarginModel.FINRA_PM)


@dataclass
class MarginProgram:
    """A model's initial margin as a convex piecewise-linear function of the trade ``x``
    (units of each candidate, coins of the underlying) added to ``positions``."""

    model: MarginModel
    currency: str
    positions: dict[str, float]
    candidates: list[str]
    root: Node
    constant: float  # added to the tree (e.g. 0)
    underlying: list[str]  # per candidate
    delta: np.ndarray  # coin delta per unit of each candidate
    base_delta: dict[str, float]  # coin delta of the positions per underlying
    value: np.ndarray  # mark value per unit, in ``currency``
    limits: list[tuple[np.ndarray, float, float, str]] = field(default_factory=list)
    params: Any = None
    market: Market | None = None

    def margin(self, x: np.ndarray) -> float:
        return evaluate(self.root, np.asarray(x, dtype=np.float64)) + self.constant

    def after(self, x: np.ndarray) -> dict[str, float]:
        """The positions after trading ``x`` (entries that net to zero dropped)."""
        out = dict(self.positions)
        for name, q in zip(self.candidates, np.asarray(x, dtype=np.float64)):
            if q != 0.0:
                out[name] = out.get(name, 0.0) + float(q)
        return {k: v for k, v in out.items() if v != 0.0}

    def verified_margin(self, x: np.ndarray) -> float:
        """The ordinary engine's IM of the positions after ``x`` (0 when nothing is left)."""
        pos = self.after(x)
        if not pos:
            return 0.0
        kw: dict[str, Any] = {"params": self.params}
        if self.model is MarginModel.DERIBIT_PM:
            kw["currency"] = self.currency
        assert self.market is not None
        return margin(Portfolio(pos), self.market, self.model, **kw).initial_margin


def _positions(portfolio: Portfolio | Mapping[str, float] | None) -> dict[str, float]:
    if portfolio is None:
        return {}
    pf = as_portfolio(portfolio)
    return dict(pf.positions)


def margin_program(
    portfolio: Portfolio | Mapping[str, float] | None,
    market: Market,
    candidates: Sequence[str],
    model: MarginModel = MarginModel.DERIBIT_PM,
    *,
    params: Any = None,
    currency: str | None = None,
) -> MarginProgram:
    """The IM of ``portfolio`` plus a trade in ``candidates`` under ``model`` as a
    :class:`MarginProgram` (see the module docstring for the supported models)."""
    if not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    if model not in SUPPORTED:
        raise ModelCoverageError(
            f"{model.name} is not piecewise linear in the position sizes; the optimiser "
            f"supports {', '.join(m.name for m in SUPPORTED)}"
        )
    pos = _positions(portfolio)
    cands = list(dict.fromkeys(candidates))
    if not cands:
        raise InvalidInputError("no candidate instruments", "candidates")
    Portfolio(dict.fromkeys(cands, 0.0))  # typed error for malformed names
    if model is MarginModel.DERIBIT_PM:
        prog = _deribit_pm_program(pos, market, cands, params, currency)
    elif model is MarginModel.PARADEX_PM:
        prog = _paradex_program(pos, market, cands, params)
    else:
        prog = _finra_program(pos, market, cands, params)
    prog.market = market
    return prog


def _union(pos: dict[str, float], cands: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All instruments (positions first), sizes of the positions, candidate -> union index."""
    names = list(pos) + [c for c in cands if c not in pos]
    where = {n: i for i, n in enumerate(names)}
    sizes = np.zeros(len(names))
    sizes[: len(pos)] = list(pos.values())
    return names, sizes, np.array([where[c] for c in cands], dtype=np.int64)


def _deribit_pm_program(
    pos: dict[str, float],
    market: Market,
    cands: list[str],
    params: Any,
    currency: str | None,
) -> MarginProgram:
    from ..accounts.batch import venue_risk
    from ..models.deribit_pm import DeribitPMParams

    if params is not None and not isinstance(params, DeribitPMParams):
        raise InputTypeError("expected DeribitPMParams", "params")
    names, sizes, ci = _union(pos, cands)
    risk = venue_risk(market, names, params, currency=currency)
    damp = risk.damp
    assert damp is not None  # Deribit S:PM rows always carry their extended dampeners
    if params is None:
        table = market.table
        rows_all = table.rows(names)
        pairs = table.code_names(table.column("pair")[rows_all])
        params = DeribitPMParams.in_force(market.valuation_time, pairs, {risk.currency})
    n = len(cands)
    n_std = risk.n_std
    parts: list[Node] = []
    limits: list[tuple[np.ndarray, float, float, str]] = []
    table = market.table
    rows_all = table.rows(names)
    pair_names = list(dict.fromkeys(table.codes[int(c)] for c in table.column("pair")[rows_all]))
    for k, pair in enumerate(pair_names):
        inside = risk.pair == k
        v0 = (sizes * inside) @ risk.rows
        g = (risk.rows[ci] * inside[ci, None]).T  # (35, n)
        parts.append(
            MaxOf(
                (
                    zero_floor(n),
                    Pieces(-v0[:n_std], -g[:n_std]),
                    Pieces(-v0[n_std:] - damp[k], -g[n_std:]),
                )
            )
        )
        pp = params.pairs[pair]
        index = market.index_price(f"{pair.split('_')[0].upper()}_USD")
        d0 = float((sizes * inside) @ risk.delta)
        dg = risk.delta[ci] * inside[ci]
        thr = pp.delta_total_liq_shock_threshold / index
        limits.append(
            (dg, -thr - d0, thr - d0, f"{pair} net delta within the delta-shock threshold")
        )
    roll_parts: list[Node] = []
    roll_w: list[float] = []
    for e in range(len(risk.roll_k)):
        inside = risk.expiry == e
        d0 = float((sizes * inside) @ risk.delta)
        roll_parts.append(abs_pieces(d0, risk.delta[ci] * inside[ci]))
        roll_w.append(float(risk.roll_k[e]))
    root = SumOf(tuple(parts) + tuple(roll_parts), (1.0,) * len(parts) + tuple(roll_w))
    cand_rows = table.rows(cands)
    und = [table.codes[int(c)] for c in table.column("underlying")[cand_rows]]
    base = _base_delta(market, pos)
    return MarginProgram(
        MarginModel.DERIBIT_PM,
        risk.currency,
        pos,
        cands,
        root,
        0.0,
        und,
        risk.delta[ci],
        base,
        risk.value[ci],
        limits,
        params,
    )


def _base_delta(market: Market, pos: dict[str, float]) -> dict[str, float]:
    from ..models.vectors import coin_deltas

    out: dict[str, float] = {}
    if not pos:
        return out
    table = market.table
    rows = table.rows(list(pos))
    d = coin_deltas(market, rows) * np.array(list(pos.values()))
    for c, v in zip(table.column("underlying")[rows], d):
        u = table.codes[int(c)]
        out[u] = out.get(u, 0.0) + float(v)
    return out


def _paradex_program(
    pos: dict[str, float], market: Market, cands: list[str], params: Any
) -> MarginProgram:
    from ..models.paradex_pm import asset_params, paradex_scenarios
    from ..models.params import load_params
    from ..models.vectors import coin_deltas
    from ..risk.revaluation import risk_arrays_for_rows

    if params is not None and not isinstance(params, str):
        raise InputTypeError("expected a Paradex parameter version (str)", "params")
    names, sizes, ci = _union(pos, cands)
    table = market.table
    rows = table.rows(names)
    inverse = table.column("settlement")[rows] != int(Settlement.LINEAR)
    if inverse.any():
        k = int(np.argmax(inverse))
        raise InvalidInputError(
            f"{names[k]} is coin-settled: Paradex margins USDC-settled instruments only",
            "instrument",
            k,
        )
    bases = {table.codes[int(c)].split("_")[0].upper() for c in table.column("pair")[rows]}
    if len(bases) != 1:
        raise InvalidInputError(f"one underlying per programme, got {sorted(bases)}", "candidates")
    base = bases.pop()
    if params is None:  # the version in force at the valuation time, as pm.margin takes it
        from ..models.params import version_in_force

        params = version_in_force("paradex_pm", market.valuation_time)
    doc = load_params("paradex_pm", params)
    a = asset_params(doc, base)
    u, h = float(a["unhedged_delta_factor"]), float(a["hedged_delta_factor"])
    if u < h / 2:
        raise ModelCoverageError(
            "unhedged_delta_factor < hedged_delta_factor / 2: the minimum delta requirement is "
            "not convex and the LP would not be exact"
        )
    scen, weights = paradex_scenarios(doc, base)
    r = risk_arrays_for_rows(market, rows, scen) * weights[None, :]
    n = len(cands)
    scan = MaxOf((zero_floor(n), Pieces(-(sizes @ r), -r[ci].T)))
    spot = market.index_price(f"{base}_USD")
    unit = coin_deltas(market, rows)
    net = abs_pieces(float(sizes @ unit), unit[ci])
    gross: list[Node] = []
    for i in range(len(names)):
        g = np.zeros(n)
        g[ci == i] = unit[i]
        gross.append(abs_pieces(float(sizes[i] * unit[i]), g))
    mdr = SumOf((net, *gross), ((u - h / 2) * spot,) + (h / 2 * spot,) * len(gross))
    root = MaxOf((scan, mdr))
    return MarginProgram(
        MarginModel.PARADEX_PM,
        "usdc",
        pos,
        cands,
        root,
        0.0,
        [f"{base}_USD"] * n,
        unit[ci],
        _base_delta(market, pos),
        mark_values(market, cands, True),
        [],
        params,
    )


def _finra_program(
    pos: dict[str, float], market: Market, cands: list[str], params: Any
) -> MarginProgram:
    import inspect

    from ..models.scan import finra_grid, finra_pm_margin
    from ..models.vectors import coin_deltas
    from ..risk.revaluation import risk_arrays_for_rows

    if params is not None and not isinstance(params, dict):
        raise InputTypeError("expected a dict of finra_pm_margin keyword arguments", "params")
    defaults = {
        k: v.default
        for k, v in inspect.signature(finra_pm_margin).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    kw = {**defaults, **(params or {})}
    names, sizes, ci = _union(pos, cands)
    table = market.table
    rows = table.rows(names)
    und = table.column("underlying")[rows]
    n = len(cands)
    parts: list[Node] = []
    for code in np.unique(und):
        u = table.codes[int(code)]
        sel = np.flatnonzero(und == code)
        grid = finra_grid(u, kw["move"], kw["points"])
        risk = risk_arrays_for_rows(market, rows[sel], grid)
        inverse = table.column("settlement")[rows[sel]] == int(Settlement.INVERSE)
        price = market.index_price(u) * (1.0 + grid.move[:, 0])
        risk[inverse] *= price
        full = np.zeros((len(names), grid.n))
        full[sel] = risk
        per_contract = kw["minimum_per_contract"] * kw["multiplier"]
        contracts: list[Node] = []
        for i in sel:
            g = np.zeros(n)
            g[ci == i] = 1.0
            cs = float(table.column("contract_size")[rows[i]])
            contracts.append(abs_pieces(float(sizes[i]), g / cs))
        minimum = SumOf(tuple(contracts), (per_contract,) * len(contracts))
        parts.append(MaxOf((zero_floor(n), Pieces(-(sizes @ full), -full[ci].T), minimum)))
    root = SumOf(tuple(parts), (1.0,) * len(parts))
    cand_rows = table.rows(cands)
    unit = coin_deltas(market, cand_rows)
    undc = [table.codes[int(c)] for c in table.column("underlying")[cand_rows]]
    return MarginProgram(
        MarginModel.FINRA_PM,
        "usd",
        pos,
        cands,
        root,
        0.0,
        undc,
        unit,
        _base_delta(market, pos),
        mark_values(market, cands, True),
        [],
        params,
    )


def default_candidates(
    market: Market,
    underlying: str = "BTC_USD",
    *,
    max_days: float = 120.0,
    min_days: float = 0.0,
    moneyness: tuple[float, float] = (0.7, 1.3),
    settlement: Settlement = Settlement.INVERSE,
) -> list[str]:
    """Hedging candidates listed in ``market``: the perpetual and futures of ``underlying``,
    and its options expiring in ``min_days`` to ``max_days`` with strikes within
    ``moneyness`` x index (futures expiring before ``min_days`` are left out too).
    ``Settlement.LINEAR``: the USDC perpetual, and the USDC-settled twins of the listed options
    (same expiry and strike; valued from the market's smile when they have no mark)."""
    from ..market.instruments import parse_instrument

    index = market.index_price(underlying)
    base = underlying.split("_")[0]
    out: list[str] = []
    for name in market.marks:
        try:
            inst = parse_instrument(name)
        except InvalidInputError:
            continue
        if inst.underlying != underlying:
            continue
        if (
            inst.expiry is not None
            and inst.time_to_expiry(market.valuation_time) * 365.0 < min_days
        ):
            continue
        if inst.kind is InstrumentKind.OPTION:
            assert inst.strike is not None
            days = inst.time_to_expiry(market.valuation_time) * 365.0
            if not (0 < days <= max_days):
                continue
            if not (moneyness[0] * index <= inst.strike <= moneyness[1] * index):
                continue
            if settlement is Settlement.LINEAR and inst.settlement is Settlement.INVERSE:
                name = f"{base}_USDC-" + name.split("-", 1)[1]
        elif inst.settlement is not settlement:
            continue
        if (
            inst.kind is not InstrumentKind.OPTION
            or settlement is Settlement.LINEAR
            or (inst.settlement is settlement)
        ):
            out.append(name)
    perp = f"{base}-PERPETUAL" if settlement is Settlement.INVERSE else f"{base}_USDC-PERPETUAL"
    out = list(dict.fromkeys(out))
    if perp not in out:
        out.insert(0, perp)
    return out
