# SPDX-License-Identifier: Apache-2.0
"""Deribit standard margin (S:SM / X:SM): each position has its own IM and MM; the account's
requirement is their sum (no offsets between positions). Parameters come from a dated file
(pymargin/data/models/deribit_standard/), whose ``source`` field cites each part:

* linear (USDC) perpetuals, Deribit's published size-scaled rates: IM = |q| (a + b |q|) and
  MM = |q| (c + d |q|) in units of the base coin, converted to USDC at the index;
* inverse (coin-settled) futures and perpetuals, the same size-scaled form in coin (q = the
  position in coin at the current price): BTC from the testnet contract specification, ETH
  from Deribit's announcement of 11 January 2022 (version 2025-12-01); both from that
  announcement in version 2022-01-11 (see each file's ``source``);
* coin-settled options, per option in coin (mark = the option's mark in coin, OTM amount =
  max(0, K - S) for calls, max(0, S - K) for puts, S = index): long positions need nothing
  beyond the premium paid; short call IM = max(base - OTM/S, floor) + mark, MM = mm + mark;
  short put MM = max(mm, mm x mark) + mark, IM = max(max(base - OTM/S, floor) + mark, MM).

Instruments without parameters in the file (e.g. linear options; linear perpetuals under
version 2022-01-11) raise :class:`ModelParameterError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from ..market.instruments import Instrument, InstrumentKind, Settlement, parse_instrument
from ..market.market import Market
from ..pricing import inverse_price
from .params import ModelParameterError, load_params, number, version_in_force

__all__ = [
    "INSTRUMENT_FIELDS",
    "DeribitStandardParams",
    "InstrumentTerms",
    "PositionMargin",
    "deribit_standard_margin",
    "instrument_fields",
    "instrument_terms",
]


@dataclass(frozen=True)
class DeribitStandardParams:
    linear_perpetual: dict[str, dict[str, float]]
    inverse_option: dict[str, dict[str, float]]
    inverse_future: dict[str, dict[str, float]]
    version: str = ""
    source: str = ""

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> DeribitStandardParams:
        lin = {}
        for name, b in doc.get("linear_perpetual", {}).items():
            p = f"linear_perpetual.{name}"
            lin[name] = {
                k: number(b, k, p, 0, 1)
                for k in ("im_base", "mm_base", "im_per_unit", "mm_per_unit")
            }
        opt = {}
        for base, b in doc.get("inverse_option", {}).items():
            p = f"inverse_option.{base}"
            opt[base] = {k: number(b, k, p, 0, 1) for k in ("im_otm_base", "im_floor", "mm")}
        inv = {}
        for base, b in doc.get("inverse_future", {}).items():
            p = f"inverse_future.{base}"
            inv[base] = {
                k: number(b, k, p, 0, 1)
                for k in ("im_base", "mm_base", "im_per_unit", "mm_per_unit")
            }
        return cls(lin, opt, inv, str(doc.get("version", "")), str(doc.get("source", "")))

    @classmethod
    def load(cls, version: str | None = None) -> DeribitStandardParams:
        return cls.from_document(load_params("deribit_standard", version))

    @classmethod
    def in_force(cls, when: datetime) -> DeribitStandardParams:
        """The shipped version in force at ``when`` (the newest dated on or before it)."""
        return cls.load(version_in_force("deribit_standard", when))


@dataclass(frozen=True)
class PositionMargin:
    instrument: str
    size: float
    currency: str
    initial_margin: float
    maintenance_margin: float


@dataclass(frozen=True)
class InstrumentTerms:
    """What standard margin applies to an instrument: its rule (0 size-scaled, 1 inverse
    option), whether the size-scaled rates convert at the index (linear contracts) or are in
    the coin (inverse ones), its rates, and the currency the requirement is in."""

    rule: int
    price_at_index: bool
    rates: dict[str, float]
    currency: str


def instrument_terms(inst: Instrument, params: DeribitStandardParams) -> InstrumentTerms:
    """The standard-margin terms of ``inst`` under ``params`` (the one place that maps an
    instrument to its rule: deribit_standard_margin and the pre-trade engine both use it);
    :class:`ModelParameterError` for an instrument the parameter set does not cover."""
    if inst.kind is InstrumentKind.PERPETUAL and inst.settlement is Settlement.LINEAR:
        key = f"{inst.base}_{inst.quote}"
        if key not in params.linear_perpetual:
            raise ModelParameterError(
                f"no standard-margin parameters for {key} perpetuals", "linear_perpetual"
            )
        return InstrumentTerms(0, True, dict(params.linear_perpetual[key]), inst.quote)
    if (
        inst.kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL)
        and inst.settlement is Settlement.INVERSE
        and inst.base in params.inverse_future
    ):
        return InstrumentTerms(0, False, dict(params.inverse_future[inst.base]), inst.base)
    if inst.kind is InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE:
        if inst.base not in params.inverse_option:
            raise ModelParameterError(f"no option parameters for {inst.base}", "inverse_option")
        return InstrumentTerms(1, False, dict(params.inverse_option[inst.base]), inst.base)
    raise ModelParameterError(
        f"{inst.name}: no standard-margin parameters for {inst.kind.name.lower()} "
        f"({inst.settlement.name.lower()}) instruments in version {params.version}",
        "instrument",
    )


# The fields of the core's StandardPosition, in the order the core's bindings take them.
_FIELDS = (
    "rule",
    "size",
    "im_base",
    "im_per_unit",
    "mm_base",
    "mm_per_unit",
    "price",
    "im_otm_base",
    "im_floor",
    "mm",
    "call",
    "strike",
    "index",
    "mark",
)


# The same without the size: an instrument's fields (what the batch kernel takes per row).
INSTRUMENT_FIELDS = tuple(f for f in _FIELDS if f != "size")


def instrument_fields(
    inst: Instrument,
    market: Market,
    params: DeribitStandardParams,
    row: int | None = None,
    *,
    need_mark: bool = True,
) -> tuple[str, dict[str, float]]:
    """The settlement currency and the fields of the core's StandardPosition (all but the
    size) of an instrument in ``market``: its rule and rates (instrument_terms), the price its
    size-scaled rates convert at, and for options strike, type, index and mark (the market's
    ``mark_price``, else the Black-76 coin value; skipped for a long option, which needs
    none, when ``need_mark`` is off). What deribit_standard_margin and the batch kernel take."""
    terms = instrument_terms(inst, params)
    if terms.rule == 0:
        price = market.index_price(inst.underlying, row) if terms.price_at_index else 1.0
        return terms.currency, {"price": price, **terms.rates}
    assert inst.strike is not None and inst.option_type is not None
    mark = 0.0
    if need_mark:
        mark_obj = market.marks.get(inst.name)
        if mark_obj is not None and mark_obj.mark_price is not None:
            mark = float(mark_obj.mark_price)
            if not (math.isfinite(mark) and mark >= 0):
                raise InvalidInputError("must be finite and >= 0", "mark_price", row)
        else:
            mark = float(
                inverse_price(
                    market.underlying_price(inst, row),
                    inst.strike,
                    inst.time_to_expiry(market.valuation_time),
                    market.implied_vol(inst, row),
                    market.rate(inst.underlying),  # as the engine and the risk arrays
                    inst.option_type,
                )
            )
    return terms.currency, {
        "rule": 1.0,
        "call": 1.0 if int(inst.option_type) == 1 else 0.0,
        "strike": float(inst.strike),
        "index": market.index_price(inst.underlying, row),
        "mark": mark,
        **terms.rates,
    }


def deribit_standard_margin(
    positions: dict[str, float],
    market: Market,
    params: DeribitStandardParams | None = None,
) -> list[PositionMargin]:
    """Per-position standard margin, in each position's settlement currency. Options use their
    ``mark_price`` (coin) from the market when given, else the Black-76 coin value from
    ``underlying_price``/``mark_iv``. This function assembles each position's rule and
    parameters; the margins are the core's (``pymargin/models/standard_margin.hpp``)."""
    if params is None:  # the version in force at the valuation time
        params = DeribitStandardParams.in_force(market.valuation_time)
    cols: dict[str, list[float]] = {k: [] for k in _FIELDS}
    names: list[tuple[str, float, str]] = []

    def add(name: str, given: float, ccy: str, **values: float) -> None:
        names.append((name, given, ccy))
        for k in _FIELDS:
            cols[k].append(values.get(k, 1.0 if k == "price" else 0.0))

    for row, (name, size) in enumerate(positions.items()):
        try:
            inst = parse_instrument(name)
        except InvalidInputError as e:  # keep the parser's field, add the row
            raise type(e)(e.reason, e.field or "instrument", row) from None
        # Like every other model: an instrument past its expiry has no margin to compute.
        if inst.expiry is not None and inst.time_to_expiry(market.valuation_time) <= 0.0:
            raise InvalidInputError(f"{name} has expired at the valuation time", "instrument", row)
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size):
            raise InvalidInputError(f"size of {name} must be a finite number", "size", row)
        q = float(size)
        ccy, fields = instrument_fields(inst, market, params, row, need_mark=q < 0)
        add(name, size, ccy, size=q, **fields)
    arrays = {
        k: np.array(cols[k], dtype=np.uint8 if k in ("rule", "call") else np.float64)
        for k in _FIELDS
    }
    im, mm = _core.standard_margin(**arrays)
    return [
        PositionMargin(name, size, ccy, float(im[k]), float(mm[k]))
        for k, (name, size, ccy) in enumerate(names)
    ]
