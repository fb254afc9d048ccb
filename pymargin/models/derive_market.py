# SPDX-License-Identifier: Apache-2.0
"""Derive portfolio margin on a pymargin market (one account, or every account of a venue):
what the model takes from the market (:func:`derive_market_inputs`), a book's margin
(:func:`derive_pm_margin`) and the venue batch (:func:`derive_pm_batch`). The model and its
parameters are :mod:`pymargin.models.derive_pm`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, Settlement, parse_instrument
from ..market.market import Market
from .derive_pm import DeriveMarginResult, DerivePMParams, derive_pm_account
from .params import ModelCoverageError, later_than

__all__ = ["DeriveMarketInputs", "derive_market_inputs", "derive_pm_batch", "derive_pm_margin"]


@dataclass(frozen=True)
class DeriveMarketInputs:
    """What Derive PM takes from a pymargin market for ``names``: the spot (the index), per
    instrument whether it is the perpetual, its expiry (an index into ``seconds``), strike,
    mark vol and call flag; per expiry its whole seconds to expiry, forward and rate; the
    perpetual's mark."""

    spot: float
    perp: np.ndarray
    expiry: np.ndarray
    strike: np.ndarray
    vol: np.ndarray
    call: np.ndarray
    seconds: np.ndarray
    forward: np.ndarray
    rate: np.ndarray
    perp_price: float


def derive_market_inputs(names: Sequence[str], market: Market) -> DeriveMarketInputs:
    """The market inputs of ``names`` (USDC-settled options and the linear perpetual of one
    underlying); anything else is refused by name and row."""
    table = market.table
    _, kind, settle, und, strike, fwd, vol, rate, is_call = table.take(
        list(names),
        "kind",
        "settlement",
        "underlying",
        "strike",
        "forward",
        "vol",
        "rate",
        "is_call",
    )
    underlyings = set(table.code_names(und))
    if len(underlyings) != 1:
        raise ModelCoverageError(
            f"Derive PM margins one market per account; the book has {sorted(underlyings)}"
        )
    (u,) = underlyings
    n = len(names)
    perp = np.zeros(n, np.uint8)
    expiry = np.full(n, -1, np.int32)
    seconds: dict[float, int] = {}
    fwd_of: list[float] = []
    rate_of: list[float] = []
    perp_price = 0.0
    for row, name in enumerate(names):
        inst = parse_instrument(name)
        if settle[row] == int(Settlement.INVERSE):
            raise ModelCoverageError(
                f"{name}: Derive settles in USDC; inverse contracts have no rule"
            )
        if kind[row] == int(InstrumentKind.PERPETUAL):
            perp[row] = 1
            perp_price = float(fwd[row])
        elif kind[row] == int(InstrumentKind.OPTION):
            assert inst.expiry is not None
            sec = float(math.floor((inst.expiry - market.valuation_time).total_seconds()))
            if sec < 0:
                raise InvalidInputError(
                    f"{name} has expired at the valuation time", "instrument", row
                )
            if sec not in seconds:
                # inside the last 30 minutes the venue's forward is part fixed by the settlement
                # average; without those fixings the whole forward is taken as still moving
                seconds[sec] = len(seconds)
                fwd_of.append(float(fwd[row]))
                rate_of.append(float(rate[row]))
            expiry[row] = seconds[sec]
        else:
            raise ModelCoverageError(
                f"{name}: Derive PM covers options and the perpetual; dated futures have no rule"
            )
    return DeriveMarketInputs(
        market.index_price(u),
        perp,
        expiry,
        np.asarray(strike, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=np.uint8),
        np.array(list(seconds), dtype=np.float64),
        np.array(fwd_of),
        np.array(rate_of),
        perp_price,
    )


def derive_pm_margin(
    positions: Mapping[str, float],
    market: Market,
    params: DerivePMParams | None = None,
    *,
    cash: float = 0.0,
) -> DeriveMarginResult:
    """A pymargin book under Derive PM: USDC-settled options and the linear perpetual of one
    underlying (sizes in coins), valued on ``market`` (see the module docstring for what is
    taken from it). ``params`` default to the shipped version in force at the valuation time."""
    if params is None:
        params = DerivePMParams.in_force(market.valuation_time)
    names = list(positions)
    if not names:
        raise InvalidInputError("no positions", "positions")
    for row, name in enumerate(names):
        size = positions[name]
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size):
            raise InvalidInputError(f"size of {name} must be a finite number", "size", row)
    m = derive_market_inputs(names, market)
    options = []
    perp_size = 0.0
    for k, name in enumerate(names):
        if m.perp[k]:
            perp_size += float(positions[name])
            continue
        e = int(m.expiry[k])
        options.append(
            (
                float(m.seconds[e]),
                float(m.strike[k]),
                bool(m.call[k]),
                float(positions[name]),
                float(m.vol[k]),
            )
        )
    expiries = {
        float(sec): (0.0, float(m.forward[e]), float(m.rate[e]), 1.0)
        for e, sec in enumerate(m.seconds)
    }
    perp = (perp_size, m.perp_price, 0.0) if m.perp.any() else None
    return derive_pm_account(
        params, spot=m.spot, options=options, expiries=expiries, cash=cash, perp=perp
    )


def derive_pm_batch(
    names: Sequence[str],
    market: Market,
    params: DerivePMParams | str | None,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    cash: np.ndarray,
    threads: int,
) -> tuple[dict[str, np.ndarray], tuple[str, ...], str]:
    """Every account of one Derive market, accounts as CSR over ``names`` (the core's batch
    kernel: each account laid out as the venue stores it, then :func:`derive_pm_account`'s
    model); ``params`` a set, a shipped version or None (the version in force). Returns the
    kernel's columns, the scenario labels and a note (empty unless a later version was used)."""
    by_date = params is None
    if params is None:
        params = DerivePMParams.in_force(market.valuation_time)
    elif isinstance(params, str):
        params = DerivePMParams.load(params)
    if not isinstance(params, DerivePMParams):
        raise InvalidInputError("expected DerivePMParams or a shipped version", "params")
    m = derive_market_inputs(names, market)
    out = _core.batch_derive(
        params._core_params(),
        *params._core_scenarios(),
        np.array([m.spot, 1.0, 1.0, m.perp_price, 1.0]),
        m.seconds,
        np.zeros(len(m.seconds)),
        m.forward,
        m.rate,
        np.ones(len(m.seconds)),
        m.perp,
        m.expiry,
        m.strike,
        m.vol,
        m.call,
        offsets,
        instrument,
        amount,
        np.ascontiguousarray(cash, dtype=np.float64),
        threads,
    )
    note = ""
    if by_date and later_than(params.version, market.valuation_time):
        note = f"no Derive PM version was in force then: {params.version} used"
    return out, tuple(s.label for s in params.scenarios), note
