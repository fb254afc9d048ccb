"""The liquidation cascade: a venue under a price shock, round by round.

Round r: every live account is re-margined (batch kernel, Deribit S:PM) at the current price;
the accounts at or under maintenance (MM >= equity) are liquidated, the venue takes over their
positions and flattens their net coin delta in the market; dealer accounts (optional) re-hedge
the delta their options' gamma produced; the net forced flow moves the price through the
market-impact model; the next round starts at the new price. It stops when a round liquidates
no one and moves nothing (``converged``), or after ``max_rounds`` (``converged`` False).

Impact models (``ImpactModel``): square root, dS/S = Y sigma_daily sqrt(|Q| / ADV) in the
direction of the flow Q (coins; > 0 buying); linear, dS/S = Q / depth. Y = 0 (or infinite
depth) is no impact: the cascade is then the single-round stress.

Reported: the price path, accounts and notional liquidated per round, the shortfall (the
negative equity of liquidated accounts, which an insurance fund covers), the amplification
(final move / initial shock). Positions and collateral are conserved: the venue's book holds
what it took over.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batch import batch_margin_csr, venue_risk
from .exceptions import InvalidInputError
from .instruments import InstrumentKind, Settlement
from .market import Market

__all__ = ["CascadeResult", "ImpactModel", "Round", "liquidation_cascade"]


@dataclass(frozen=True)
class ImpactModel:
    kind: str = "sqrt"  # "sqrt" or "linear"
    y: float = 1.0  # square-root prefactor
    daily_vol: float = 0.03
    adv: float = 25_000.0  # average daily volume, coins
    depth: float = 50_000.0  # linear: coins for a 100 % move

    def move(self, q: float) -> float:
        """Relative price change caused by a net market order of ``q`` coins."""
        if q == 0.0:
            return 0.0
        if self.kind == "sqrt":
            return math.copysign(self.y * self.daily_vol * math.sqrt(abs(q) / self.adv), q)
        if self.kind == "linear":
            return q / self.depth
        raise InvalidInputError("sqrt or linear", "impact.kind")


@dataclass
class Round:
    round: int
    move: float  # cumulative move from the start price
    price: float
    liquidated: int
    notional_usd: float
    flow_coins: float
    shortfall: float  # added this round (settlement currency)


@dataclass
class CascadeResult:
    rounds: list[Round]
    initial_shock: float
    final_move: float
    amplification: float
    liquidated: np.ndarray  # bool per account
    liquidated_round: np.ndarray  # int per account, -1 if never
    shortfall: float
    venue_book: np.ndarray  # amounts per instrument taken over by the venue
    converged: bool = True  # False: stopped at max_rounds with accounts still failing
    details: dict[str, Any] = field(default_factory=dict)

    def plot(self, fig: Any = None) -> Any:
        from .plots import _pyplot

        plt = _pyplot()
        if fig is None:
            fig = plt.figure(figsize=(8, 4))
        ax1, ax2 = fig.subplots(1, 2)
        r = [x.round for x in self.rounds]
        ax1.plot(r, [x.price for x in self.rounds], marker="o")
        ax1.set_xlabel("round")
        ax1.set_ylabel("price")
        ax1.set_title(f"price path (amplification {self.amplification:.2f}x)", fontsize=9)
        ax2.bar(r, [x.liquidated for x in self.rounds], color="tab:red")
        ax2.set_xlabel("round")
        ax2.set_ylabel("accounts liquidated")
        ax2.set_title(f"shortfall {self.shortfall:,.2f}", fontsize=9)
        fig.tight_layout()
        return fig


def liquidation_cascade(
    market: Market,
    instruments: list[str],
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    shock: float,
    *,
    impact: ImpactModel | None = None,
    vol_scale: float = 1.0,
    dealers: np.ndarray | None = None,
    params: Any = None,
    max_rounds: int = 50,
    threads: int | None = None,
) -> CascadeResult:
    """Runs the cascade for accounts in CSR form (``instrument`` indexes ``instruments``, all
    on one underlying and one settlement currency; amounts in coins), starting with a price
    ``shock`` (e.g. -0.15) and vols times ``vol_scale``."""
    if not (math.isfinite(shock) and shock > -1.0):
        raise InvalidInputError("must be finite and > -1", "shock")
    impact = impact or ImpactModel()
    offsets = np.asarray(offsets, dtype=np.int64)
    inst = np.asarray(instrument, dtype=np.int32)
    amt0 = np.asarray(amount, dtype=np.float64)
    coll = np.asarray(collateral, dtype=np.float64)
    n_acc = len(coll)
    if len(offsets) != n_acc + 1 or offsets[-1] != len(inst) or len(inst) != len(amt0):
        raise InvalidInputError("inconsistent CSR arrays", "offsets")
    if max_rounds < 1:
        raise InvalidInputError("must be >= 1", "max_rounds")
    for name, arr in (("amount", amt0), ("collateral", coll)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InvalidInputError("must be a finite number", name, int(np.argmax(bad)))
    if len(inst) and (inst.min() < 0 or inst.max() >= len(instruments)):
        bad_row = int(np.argmax((inst < 0) | (inst >= len(instruments))))
        raise InvalidInputError("index outside instruments", "instrument", bad_row)
    table = market.table
    rows = table.rows(instruments)
    unds = {table.codes[int(c)] for c in table.column("underlying")[rows]}
    if len(unds) != 1:
        raise InvalidInputError(f"one underlying, got {sorted(unds)}", "instruments")
    und = unds.pop()
    kind = table.column("kind")[rows]
    inverse = table.column("settlement")[rows] == int(Settlement.INVERSE)
    future = kind != int(InstrumentKind.OPTION)
    f0 = table.column("forward")[rows]
    s0 = market.index_price(und)
    owner = np.repeat(np.arange(n_acc), np.diff(offsets))
    is_dealer = np.zeros(n_acc, dtype=bool) if dealers is None else np.asarray(dealers, bool)
    amt = amt0.copy()
    venue_book = np.zeros(len(instruments))
    alive = np.ones(n_acc, dtype=bool)
    liq_round = np.full(n_acc, -1)
    shortfall = 0.0
    move = float(shock)
    dealer_delta_prev: float | None = None
    rounds: list[Round] = []
    converged = False
    for r in range(max_rounds):
        moved = market.shifted({und: move}, {und: vol_scale})
        risk = venue_risk(moved, instruments, params)
        value = risk.value + np.where(
            future, np.where(inverse, move / (1.0 + move), f0 * move), 0.0
        )
        risk = dataclasses.replace(risk, value=value)
        out = batch_margin_csr(risk, offsets, inst, amt, coll, threads=threads)
        new = alive & (out["status"] == 2)
        # the dealers' gamma: delta change since the last round, re-hedged
        dealer_pos = is_dealer[owner] & alive[owner]
        dealer_delta = float(amt[dealer_pos] @ risk.delta[inst[dealer_pos]])
        flow = 0.0
        if dealer_delta_prev is not None:
            flow -= dealer_delta - dealer_delta_prev
        dealer_delta_prev = dealer_delta
        price = s0 * (1.0 + move)
        if not new.any():
            rounds.append(Round(r, move, price, 0, 0.0, flow, 0.0))
            if flow == 0.0:
                converged = True
                break
        else:
            taken = new[owner]
            np.add.at(venue_book, inst[taken], amt[taken])
            delta_taken = float(amt[taken] @ risk.delta[inst[taken]])
            flow -= delta_taken  # the venue flattens the delta it took over
            added = float(np.maximum(-out["equity"][new], 0.0).sum())
            shortfall += added
            liq_round[new] = r
            alive &= ~new
            amt[taken] = 0.0
            rounds.append(
                Round(r, move, price, int(new.sum()), abs(delta_taken) * price, flow, added)
            )
        step = impact.move(flow)
        if step == 0.0:
            converged = True
            break
        move = (1.0 + move) * (1.0 + step) - 1.0
        if move <= -1.0:
            raise InvalidInputError("the impact drove the price to zero", "impact")
    return CascadeResult(
        rounds,
        float(shock),
        move,
        move / shock if shock else math.nan,
        liq_round >= 0,
        liq_round,
        shortfall,
        venue_book,
        converged,
        {"amounts": amt, "collateral": coll, "risk": risk if rounds else None},
    )
