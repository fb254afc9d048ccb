# SPDX-License-Identifier: Apache-2.0
"""Standard (non-portfolio) margin of options as the venues publish it: Bybit, OKX, BIT.com
and Aevo, each a dated parameter file (pymargin/data/models/<venue>_standard/), and their
order margins (buy-to-open, sell-to-open, and OKX's closing orders).

Every venue's short-option rule has one shape, the core's ``StandardRule::kOption``
(``pymargin/models/standard_margin.hpp``), per unit of size with u the unit price (the index
for USD-settled options, 1 for coin-settled ones), R the price OTM is measured against (the
index, or OKX's same-expiry forward) and MF the tier factor::

    MM = max(mm u, mm mark) MF + mark + liquidation_fee u
    IM = max(im_otm_base - OTM / R, im_floor) MF u + premium   (at least MM where the venue
                                                                 says so)

Longs need nothing beyond their premium. docs/models/venue_standard.md lists each venue's
parameters, sources and the worked examples the tests reproduce.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError
from .params import ModelCoverageError, ModelParameterError, load_params, number

__all__ = [
    "OptionOrder",
    "VenueOption",
    "VenueStandardParams",
    "perpetual_initial_margin",
    "venue_option_margin",
    "venue_order_margin",
]

_VENUES = ("bybit", "okx", "bit", "aevo")
_FLOOR = {"none": 0, "puts": 1, "all": 2}


class OptionOrder(enum.Enum):
    BUY_TO_OPEN = "buy_to_open"
    SELL_TO_OPEN = "sell_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_CLOSE = "sell_to_close"


@dataclass(frozen=True)
class VenueStandardParams:
    venue: str
    version: str
    source: str
    settlement: str  # "usd" or "coin"
    otm_reference: str  # "index" or "forward"
    im_premium: str  # "mark" or "max_entry_mark"
    mm_floor: int
    assets: dict[str, dict[str, float]]
    orders: dict[str, Any]
    calls_only: bool = False

    @classmethod
    def load(cls, venue: str, version: str | None = None) -> VenueStandardParams:
        if venue not in _VENUES:
            raise InvalidInputError(f"one of {list(_VENUES)}", "venue")
        doc = load_params(f"{venue}_standard", version)
        path = f"{venue}_standard"

        def choice(key: str, allowed: tuple[str, ...]) -> str:
            v = doc.get(key)
            if v not in allowed:
                raise ModelParameterError(f"one of {list(allowed)}", f"{path}.{key}")
            return str(v)

        assets = {}
        for base, a in doc.get("assets", {}).items():
            where = f"{path}.assets.{base}"
            assets[base] = {
                "im_otm_base": number(a, "im_otm_base", where, 0, 10),
                "im_floor": number(a, "im_floor", where, 0, 10),
                "mm": number(a, "mm", where, 0, 10),
                "liquidation_fee": number(a, "liquidation_fee", where, 0, 1),
            }
        return cls(
            venue,
            str(doc.get("version", "")),
            str(doc.get("source", "")),
            choice("settlement", ("usd", "coin")),
            choice("otm_reference", ("index", "forward")),
            choice("im_premium", ("mark", "max_entry_mark")),
            _FLOOR[choice("mm_floor", tuple(_FLOOR))],
            assets,
            dict(doc.get("orders", {})),
            bool(doc.get("calls_only", False)),
        )


@dataclass(frozen=True)
class VenueOption:
    """One option position for a venue's standard margin: ``size`` signed in coins (contracts
    x contract size), ``index`` the underlying's index, ``mark`` the option's mark (USD for
    USD-settled venues, coin for coin-settled ones), ``forward`` the same-expiry forward where
    the venue measures OTM against it, ``entry`` the position's average price (Bybit's IM takes
    the larger of it and the mark)."""

    base: str
    call: bool
    strike: float
    size: float
    index: float
    mark: float
    forward: float | None = None
    entry: float | None = None


def _check(o: VenueOption, row: int) -> None:
    if not isinstance(o, VenueOption):
        raise InvalidInputError("expected a VenueOption", "positions", row)
    for field in ("strike", "size", "index", "mark"):
        v = getattr(o, field)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InvalidInputError("must be a finite number", field, row)
    for field in ("forward", "entry"):
        v = getattr(o, field)
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InvalidInputError("must be finite and > 0", field, row)


def venue_option_margin(
    params: VenueStandardParams,
    positions: list[VenueOption],
    *,
    tier_factor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each position's IM and MM (in USD for USD-settled venues, coin otherwise) under the
    venue's rule; ``tier_factor`` is OKX's MF for the account's tier (1: the first tier)."""
    if not isinstance(params, VenueStandardParams):
        raise InvalidInputError("expected VenueStandardParams", "params")
    if not (math.isfinite(tier_factor) and tier_factor > 0):
        raise InvalidInputError("must be finite and > 0", "tier_factor")
    n = len(positions)
    cols: dict[str, list[float]] = {
        k: []
        for k in (
            "size",
            "strike",
            "call",
            "index",
            "reference",
            "mark",
            "unit",
            "im_otm_base",
            "im_floor",
            "mm",
            "tier_factor",
            "liquidation_fee",
            "im_premium",
            "mm_floor",
        )
    }
    for row, o in enumerate(positions):
        _check(o, row)
        a = params.assets.get(o.base)
        if a is None:
            raise ModelParameterError(
                f"no {params.venue} parameters for {o.base} (version {params.version})", "base"
            )
        if params.calls_only and not o.call and o.size < 0:
            raise ModelCoverageError(
                f"{params.venue} {params.version}: the short put's rule of that version has "
                "another shape (see its source); not computed"
            )
        if params.otm_reference == "forward" and o.forward is None:
            raise InvalidInputError(
                f"{params.venue} measures OTM against the forward", "forward", row
            )
        premium = -1.0
        if params.im_premium == "max_entry_mark" and o.entry is not None:
            premium = max(o.entry, o.mark)
        vals = {
            "size": o.size,
            "strike": o.strike,
            "call": float(o.call),
            "index": o.index,
            "reference": (o.forward or 0.0) if params.otm_reference == "forward" else 0.0,
            "mark": o.mark,
            "unit": o.index if params.settlement == "usd" else 1.0,
            "tier_factor": tier_factor,
            "im_premium": premium,
            "mm_floor": float(params.mm_floor),
            **a,
        }
        for k in cols:
            cols[k].append(vals[k])
    if n == 0:
        return np.zeros(0), np.zeros(0)
    arr = {
        k: np.array(v, dtype=np.uint8 if k in ("call", "mm_floor") else np.float64)
        for k, v in cols.items()
    }
    zero = np.zeros(n)
    im, mm = _core.standard_margin(
        np.full(n, 2, np.uint8),  # the venues' option shape
        arr["size"],
        zero,
        zero,
        zero,
        zero,
        np.ones(n),
        arr["im_otm_base"],
        arr["im_floor"],
        arr["mm"],
        arr["call"],
        arr["strike"],
        arr["index"],
        arr["mark"],
        {
            k: arr[k]
            for k in (
                "unit",
                "reference",
                "tier_factor",
                "liquidation_fee",
                "im_premium",
                "mm_floor",
            )
        },
    )
    return np.asarray(im), np.asarray(mm)


def venue_order_margin(
    params: VenueStandardParams,
    order: OptionOrder,
    option: VenueOption,
    price: float,
    *,
    contract_size: float = 1.0,
    tier_factor: float = 1.0,
) -> float:
    """The margin an order ties up at ``price`` (per coin, the option's premium units), for
    ``option.size`` coins (its sign ignored: the order says the side), as the venue's order
    rule says:

    * Bybit: buying, premium + fee (taker rate x index, capped at the fee cap x price);
      selling to open, the position's IM + fee - premium;
    * OKX (2020 rules): per contract of ``contract_size`` coins, buy-to-open price + fee;
      sell-to-open max(position margin - price + fee, minimum x contract size);
      sell-to-close max(fee - price, 0); buy-to-close max(price - position margin + fee, 0);
    * OKX (current): sell-to-open max(position IMR - price, minimum x unit); buy-to-close
      max(price - position IMR, 0); buying to open, the premium;
    * BIT.com and Aevo: buying, the premium (their fees are not modelled).
    """
    if not isinstance(order, OptionOrder):
        raise InvalidInputError("use an OptionOrder member", "order")
    if not (isinstance(price, (int, float)) and math.isfinite(price) and price >= 0):
        raise InvalidInputError("must be finite and >= 0", "price")
    if not (math.isfinite(contract_size) and contract_size > 0):
        raise InvalidInputError("must be finite and > 0", "contract_size")
    _check(option, 0)
    qty = abs(option.size)
    if not qty > 0:
        raise InvalidInputError("an order's size must be > 0", "size")
    kind = params.orders.get("kind")

    def position_margin() -> float:  # the IM of the short position, for qty coins
        short = VenueOption(**{**option.__dict__, "size": -qty})
        return float(venue_option_margin(params, [short], tier_factor=tier_factor)[0][0])

    if kind == "bybit":
        fee = min(params.orders["taker_fee"] * option.index, params.orders["fee_cap"] * price) * qty
        if order is OptionOrder.BUY_TO_OPEN:
            return price * qty + fee
        if order is OptionOrder.SELL_TO_OPEN:
            return position_margin() + fee - price * qty
    elif kind == "okx_2020":
        n = qty / contract_size
        fee = params.orders["fee_rate"] * contract_size
        minimum = params.orders["min_open_order_margin"] * contract_size
        if order is OptionOrder.BUY_TO_OPEN:
            return (price * contract_size + fee) * n
        if order is OptionOrder.SELL_TO_CLOSE:
            return max(fee - price * contract_size, 0.0) * n
        per = position_margin() / n
        if order is OptionOrder.SELL_TO_OPEN:
            return max(per - price * contract_size + fee, minimum) * n
        return max(price * contract_size - per + fee, 0.0) * n
    elif kind == "okx":
        unit = option.index if params.settlement == "usd" else 1.0
        minimum = params.orders["min_open_order_margin"] * unit
        if order is OptionOrder.SELL_TO_OPEN:
            return max(position_margin() / qty - price, minimum) * qty
        if order is OptionOrder.BUY_TO_CLOSE:
            return max(price - position_margin() / qty, 0.0) * qty
        if order is OptionOrder.BUY_TO_OPEN:
            return price * qty
    elif order is OptionOrder.BUY_TO_OPEN:
        return price * qty
    raise ModelCoverageError(f"{params.venue} {params.version} publishes no rule for {order.value}")


def perpetual_initial_margin(
    size: float,
    mark: float,
    leverage: float,
    *,
    entry: float | None = None,
    taker_fee: float = 0.0,
) -> float:
    """A leveraged (Bybit-style) USDC perpetual's IM: |size| x mark / leverage (the core's
    size-scaled rule at rate 1 / leverage), plus, with ``entry`` and ``taker_fee``, the fee to
    close it that the venue holds with it: |size| x entry x (1 -+ 1 / leverage) x taker fee for
    a long (short)."""
    for name, v in (
        ("size", size),
        ("mark", mark),
        ("leverage", leverage),
        ("taker_fee", taker_fee),
    ):
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise InvalidInputError("must be a finite number", name)
    if not (mark > 0 and leverage >= 1 and taker_fee >= 0):
        raise InvalidInputError("need mark > 0, leverage >= 1, taker_fee >= 0", "perpetual")
    one = np.ones(1)
    im, _ = _core.standard_margin(
        np.zeros(1, np.uint8),
        np.array([float(size)]),
        one / leverage,
        0 * one,
        0 * one,
        0 * one,
        np.array([float(mark)]),
        0 * one,
        0 * one,
        0 * one,
        np.zeros(1, np.uint8),
        0 * one,
        one,
        0 * one,
    )
    fee = 0.0
    if entry is not None:
        side = 1.0 if size > 0 else -1.0
        fee = abs(size) * entry * (1.0 - side / leverage) * taker_fee
    return float(im[0]) + fee
