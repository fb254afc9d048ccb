# SPDX-License-Identifier: Apache-2.0
"""Enumerations used across the API (no stringly-typed choices)."""

from __future__ import annotations

import enum

__all__ = ["Greek", "OptionType"]


class OptionType(enum.IntEnum):
    """Call or put. The integer values match a boolean ``is_call`` array (True = call)."""

    PUT = 0
    CALL = 1


class Greek(enum.IntFlag):
    """Selects what a ``*_greeks`` call computes and returns (combine with ``|``)."""

    PRICE = 1
    DELTA = 2
    DELTA_FORWARD = 4
    GAMMA = 8
    VEGA = 16
    THETA = 32
    RHO = 64
    VANNA = 128
    VOLGA = 256
    FIRST_ORDER = PRICE | DELTA | DELTA_FORWARD | VEGA | THETA | RHO
    ALL = 511


class DeltaShock(enum.Enum):
    """Deribit portfolio margin's delta shock, charged above ``delta_total_liq_shock_threshold``.
    Deribit publishes its parameters, not its formula: ``REFUSE`` (the default) refuses a book
    over the threshold; ``UNVERIFIED`` charges the formula of a public re-implementation (see
    docs/models/deribit_pm.md), labelled unverified in the result."""

    REFUSE = "refuse"
    UNVERIFIED = "unverified"
