"""Deribit standard margin (S:SM / X:SM): each position has its own IM and MM; the account's
requirement is their sum (no offsets between positions). Parameters come from a dated file
(pymargin/data/models/deribit_standard/), whose ``source`` field cites each part:

* linear (USDC) perpetuals, Deribit's published size-scaled rates: IM = |q| (a + b |q|) and
  MM = |q| (c + d |q|) in units of the base coin, converted to USDC at the index;
* inverse (coin-settled) futures and perpetuals, the same size-scaled form in coin (q = the
  position in coin at the current price), from the testnet contract specification (the only
  Deribit-published inverse table found; see the file's ``source``);
* coin-settled options, per option in coin (mark = the option's mark in coin, OTM amount =
  max(0, K - S) for calls, max(0, S - K) for puts, S = index): long positions need nothing
  beyond the premium paid; short call IM = max(base - OTM/S, floor) + mark, MM = mm + mark;
  short put MM = max(mm, mm x mark) + mark, IM = max(max(base - OTM/S, floor) + mark, MM).

Instruments without parameters in the file (e.g. ETH inverse futures, linear options) raise
:class:`ModelParameterError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidInputError
from ..instruments import InstrumentKind, Settlement, parse_instrument
from ..market import Market
from ..pricing import inverse_price
from .params import ModelParameterError, load_params, number

__all__ = ["DeribitStandardParams", "PositionMargin", "deribit_standard_margin"]


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


@dataclass(frozen=True)
class PositionMargin:
    instrument: str
    size: float
    currency: str
    initial_margin: float
    maintenance_margin: float


def deribit_standard_margin(
    positions: dict[str, float],
    market: Market,
    params: DeribitStandardParams | None = None,
) -> list[PositionMargin]:
    """Per-position standard margin, in each position's settlement currency. Options use their
    ``mark_price`` (coin) from the market when given, else the Black-76 coin value from
    ``underlying_price``/``mark_iv``."""
    if params is None:
        params = DeribitStandardParams.load()
    out = []
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
        q = abs(float(size))
        if inst.kind is InstrumentKind.PERPETUAL and inst.settlement is Settlement.LINEAR:
            key = f"{inst.base}_{inst.quote}"
            if key not in params.linear_perpetual:
                raise ModelParameterError(
                    f"no standard-margin parameters for {key} perpetuals", "linear_perpetual"
                )
            p = params.linear_perpetual[key]
            index = market.index_price(inst.underlying, row)
            im = q * (p["im_base"] + p["im_per_unit"] * q) * index
            mm = q * (p["mm_base"] + p["mm_per_unit"] * q) * index
            out.append(PositionMargin(name, size, inst.quote, im, mm))
            continue
        if (
            inst.kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL)
            and inst.settlement is Settlement.INVERSE
            and inst.base in params.inverse_future
        ):
            p = params.inverse_future[inst.base]
            im = q * (p["im_base"] + p["im_per_unit"] * q)
            mm = q * (p["mm_base"] + p["mm_per_unit"] * q)
            out.append(PositionMargin(name, size, inst.base, im, mm))
            continue
        if inst.kind is InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE:
            if inst.base not in params.inverse_option:
                raise ModelParameterError(f"no option parameters for {inst.base}", "inverse_option")
            p = params.inverse_option[inst.base]
            if size >= 0:
                out.append(PositionMargin(name, size, inst.base, 0.0, 0.0))
                continue
            assert inst.strike is not None and inst.option_type is not None
            s = market.index_price(inst.underlying, row)
            mark_obj = market.marks.get(name)
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
                        0.0,
                        inst.option_type,
                    )
                )
            call = int(inst.option_type) == 1
            otm = max(0.0, inst.strike - s) if call else max(0.0, s - inst.strike)
            base_im = max(p["im_otm_base"] - otm / s, p["im_floor"]) + mark
            if call:
                mm1 = p["mm"] + mark
                im1 = base_im
            else:
                mm1 = max(p["mm"], p["mm"] * mark) + mark
                im1 = max(base_im, mm1)
            out.append(PositionMargin(name, size, inst.base, im1 * q, mm1 * q))
            continue
        raise ModelParameterError(
            f"{name}: no standard-margin parameters for {inst.kind.name.lower()} "
            f"({inst.settlement.name.lower()}) instruments in version {params.version}",
            "instrument",
        )
    return out
