# SPDX-License-Identifier: Apache-2.0
"""Isolated margin: each future and perpetual with its own collateral and liquidation price.

A position's IM and MM are its standard margin alone (the venue's standard model, here
Deribit's parameters through :func:`pymargin.models.deribit_standard_margin`, the same
implementation S:SM uses). Its collateral is what the account allots to it
(``Account.isolated_margin``; by default its IM, the least it can be opened with). Its equity
is that collateral plus its own unrealised P&L, and it is liquidated when that equity falls to
its MM: the liquidation price is found on the model itself (the position alone, its underlying
moved, margined and revalued), so it follows every term of the model, not a closed form of one
contract type. Neither a loss nor a profit elsewhere in the account moves it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import InvalidInputError
from ..market.instruments import InstrumentKind, parse_instrument
from ..market.market import Market
from ..market.portfolio import Portfolio
from ..models.deribit_standard import DeribitStandardParams, PositionMargin

__all__ = ["IsolatedPosition", "isolated_positions", "nearest_move"]


@dataclass(frozen=True)
class IsolatedPosition:
    """One isolated position, amounts in its settlement currency. ``liquidation_move`` is the
    move of its underlying's index (a fraction; 0.0 when it is already at or below MM) at
    which its equity meets its MM, ``liquidation_price`` that index; both None when no move in
    -90 % .. +200 % reaches it."""

    instrument: str
    size: float
    currency: str
    collateral: float
    unrealised_pnl: float
    initial_margin: float
    maintenance_margin: float
    liquidation_move: float | None
    liquidation_price: float | None

    @property
    def equity(self) -> float:
        return self.collateral + self.unrealised_pnl


def _is_isolatable(name: str) -> bool:
    return parse_instrument(name).kind in (InstrumentKind.FUTURE, InstrumentKind.PERPETUAL)


def isolated_positions(
    account: object,
    market: Market,
    standard: list[PositionMargin],
    sm_params: DeribitStandardParams | None = None,
) -> list[IsolatedPosition]:
    """The futures and perpetuals of ``account`` (an :class:`Account`) as isolated positions,
    from their standard margins ``standard`` (one per position, in the account's order)."""
    from .account import Account, MarginMode, account_summary, marked
    from .liquidation import distance_to_liquidation

    assert isinstance(account, Account)
    for row, name in enumerate(account.isolated_margin):
        if not _is_isolatable(name):
            raise InvalidInputError(
                f"{name} is not a future or perpetual; only those are isolated",
                "isolated_margin",
                row,
            )
    acct = marked(account, market)
    out = []
    for pos in standard:
        if not _is_isolatable(pos.instrument):
            continue
        allotted = account.isolated_margin.get(pos.instrument, pos.initial_margin)
        entry = acct.average_price[pos.instrument]
        alone = Account(
            Portfolio({pos.instrument: pos.size}),
            {pos.currency: allotted},
            {pos.instrument: entry},
        )
        now = account_summary(alone, market, MarginMode.SEGREGATED_STANDARD, sm_params=sm_params)
        pnl = now.per_currency[pos.currency.lower()]["equity"] - allotted
        und = parse_instrument(pos.instrument).underlying
        if not now.margin_balance_usd > now.maintenance_margin_usd:
            move: float | None = 0.0
        else:
            roots = distance_to_liquidation(
                alone,
                market,
                vol_scales=(1.0,),
                mode=MarginMode.SEGREGATED_STANDARD,
                tol=1e-12,
            )[1.0]
            move = min(roots, key=abs) if roots else None
        price = None if move is None else market.index[und] * (1.0 + move)
        out.append(
            IsolatedPosition(
                pos.instrument,
                pos.size,
                pos.currency,
                float(allotted),
                float(pnl),
                pos.initial_margin,
                pos.maintenance_margin,
                move,
                price,
            )
        )
    return out


def nearest_move(positions: list[IsolatedPosition]) -> float | None:
    """The smallest liquidation move (in size) of the isolated positions; None when none."""
    moves = [p.liquidation_move for p in positions if p.liquidation_move is not None]
    return min(moves, key=abs) if moves else None
