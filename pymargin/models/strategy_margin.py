# SPDX-License-Identifier: Apache-2.0
"""Strategy-based margin (Reg T as Cboe's margin rules set it, as US brokers apply it to
options on crypto ETFs and indices): the requirement of one strategy.

The requirement is the core's (``pymargin/models/strategy_margin.hpp``;
docs/models/strategy_margin.md gives each rule and the Cboe Margin Manual's examples the test
suite reproduces). How a whole book is grouped into strategies is
:mod:`pymargin.strategy.regt_grouping`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _core
from ..exceptions import InvalidInputError

__all__ = [
    "OptionClass",
    "Requirement",
    "StrategyKind",
    "StrategyLeg",
    "requirements",
    "strategy_rates",
    "strategy_requirement",
]


class OptionClass(enum.Enum):
    """The underlying's class in the Cboe rules: (rate on the underlying, minimum)."""

    EQUITY = "equity"  # stocks and ETFs on a narrow-based index
    NARROW_INDEX = "narrow-index"
    BROAD_INDEX = "broad-index"  # and ETFs on a broad-based index
    VOLATILITY_INDEX = "volatility-index"

    @property
    def rates(self) -> tuple[float, float]:
        return (0.15, 0.10) if self is OptionClass.BROAD_INDEX else (0.20, 0.10)


class StrategyKind(enum.IntEnum):
    """The strategies of the core (``StrategyKind`` in strategy_margin.hpp)."""

    LONG_OPTION = 0
    NAKED_SHORT = 1
    SPREAD = 2  # verticals, calendars, butterflies, condors, iron condors, boxes: max loss
    SHORT_STRADDLE = 3  # and strangles
    LONG_STOCK = 4
    SHORT_STOCK = 5
    COVERED_CALL = 6
    COVERED_PUT = 7
    PROTECTIVE_PUT = 8
    COLLAR = 9
    CONVERSION = 10
    REVERSE_CONVERSION = 11
    LONG_CALL_SHORT_STOCK = 12
    LONG_BOX_EUROPEAN = 13


@dataclass(frozen=True)
class StrategyLeg:
    """One leg: ``quantity`` signed (contracts, or shares for stock), ``price`` per unit of
    the underlying (premium, or the share price), ``underlying`` its price, ``months`` to
    expiry."""

    quantity: float
    price: float
    underlying: float
    call: bool = True
    strike: float = 0.0
    stock: bool = False
    multiplier: float = 100.0
    months: float = 0.0
    otc: bool = False


@dataclass(frozen=True)
class Requirement:
    initial: float
    maintenance: float
    proceeds: float


def strategy_rates(option_class: OptionClass, leverage: float, long_marginable: bool) -> np.ndarray:
    """The core's rate vector for an underlying class (see ``requirements``)."""
    if not isinstance(option_class, OptionClass):
        raise InvalidInputError("use a pymargin OptionClass member", "option_class")
    if isinstance(leverage, bool) or not (
        isinstance(leverage, (int, float)) and math.isfinite(leverage) and 1 <= leverage <= 10
    ):
        raise InvalidInputError("must be a finite number in [1, 10]", "leverage")
    rate, minimum = option_class.rates
    return np.array(
        [
            rate * leverage,
            minimum * leverage,
            0.75,
            9.0,
            float(long_marginable),
            0.5,
            0.25,
            0.3,
            0.1,
            0.0,
        ]
    )


def requirements(
    groups: Sequence[tuple[StrategyKind, Sequence[StrategyLeg]]],
    rates: np.ndarray,
    *,
    strict: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Initial, maintenance and proceeds of each (kind, legs) group, and whether the rules
    accept it, in one core call; with ``strict`` a group the rules refuse raises
    InvalidInputError naming it, without it the group's figures are NaN and its flag 0."""
    legs = [leg for _, ls in groups for leg in ls]
    offsets = np.zeros(len(groups) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(ls) for _, ls in groups])

    def col(attr: str, dtype: type = np.float64) -> np.ndarray:
        return np.array([getattr(leg, attr) for leg in legs], dtype=dtype)

    im, mm, pc, ok = _core.strategy_requirements(
        np.array([int(k) for k, _ in groups], dtype=np.uint8),
        offsets,
        col("quantity"),
        col("stock", np.uint8),
        col("call", np.uint8),
        col("otc", np.uint8),
        col("strike"),
        col("price"),
        col("underlying"),
        col("multiplier"),
        col("months"),
        rates,
        strict,
    )
    return np.asarray(im), np.asarray(mm), np.asarray(pc), np.asarray(ok, dtype=bool)


def strategy_requirement(
    kind: StrategyKind,
    legs: Sequence[StrategyLeg],
    option_class: OptionClass = OptionClass.EQUITY,
    *,
    leverage: float = 1.0,
    long_marginable: bool = True,
) -> Requirement:
    """The initial and maintenance requirement of one strategy, and what its short legs bring
    in. ``leverage`` multiplies the naked rates (leveraged ETFs); ``long_marginable``: longs
    with more than 9 months left may be bought 75 % on margin (equity-based underlyings)."""
    if not isinstance(kind, StrategyKind):
        raise InvalidInputError("use a StrategyKind member", "kind")
    for row, leg in enumerate(legs):
        if not isinstance(leg, StrategyLeg):
            raise InvalidInputError("expected a StrategyLeg", "legs", row)
    im, mm, pc, _ = requirements(
        [(kind, list(legs))], strategy_rates(option_class, leverage, long_marginable)
    )
    return Requirement(float(im[0]), float(mm[0]), float(pc[0]))
