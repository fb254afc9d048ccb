# SPDX-License-Identifier: Apache-2.0
"""The venue's risk, computed once per instrument for the batch kernels: risk arrays and the
model's per-pair terms (VenueRisk), per-position standard-margin terms, Greek-netting
sensitivities and SPAN arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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
    # per group (pair; X:PM: set) its scenarios' labels: the batch names each account's worst
    labels: list[tuple[str, ...]] | None = None

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
    labels: list[tuple[str, ...]] | None = None  # per commodity, its scenarios' labels
