# SPDX-License-Identifier: Apache-2.0
"""The venue batch under Derive PM (:func:`pymargin.accounts.batch.batch_margin` with
``MarginModel.DERIVE_PM``)."""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidInputError
from ..market.market import Market
from ..pricing import threads_argument
from .batch import BatchResult, VenueInput, collateral_for

__all__ = ["derive_batch"]


def derive_batch(b: VenueInput, market: Market, params: Any, threads: int | None) -> BatchResult:
    """Every account under Derive PM (:func:`pymargin.models.derive_pm.derive_pm_batch`),
    collateral as USDC cash; an instrument's error names its first row of the positions."""
    from ..models.derive_market import derive_pm_batch
    from ..models.registry import MarginModel

    cash, notes = collateral_for(b, "usdc", market, MarginModel.DERIVE_PM)
    try:
        out, labels, note = derive_pm_batch(
            b.instruments,
            market,
            params,
            b.offsets,
            b.instrument,
            b.amount,
            cash,
            threads_argument(threads),
        )
    except InvalidInputError as e:
        row = int(b.first_row[e.index]) if e.index is not None else None
        raise type(e)(e.reason, e.field, row) from None
    res = BatchResult.from_columns(b.accounts, out, "usdc", [labels])
    res.notes = notes + ([note] if note else [])
    return res
