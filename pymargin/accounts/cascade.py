# SPDX-License-Identifier: Apache-2.0
"""The liquidation cascade: a venue under a price shock, round by round.

Round r: every live account is re-margined (batch kernel, Deribit S:PM) at the current price;
the accounts at or under maintenance (MM >= equity) are liquidated, the venue takes over their
positions and flattens their net coin delta in the market; dealer accounts (optional) re-hedge
the delta their options' gamma produced; the forced flow moves the price through the
market-impact model; the next round starts at the new price. It stops when a round liquidates
no one and moves the price by less than ``tol`` (``converged``), or after ``max_rounds``
(``converged`` False).

Impact models (``ImpactModel``) act on the cumulative net forced flow Q (coins; > 0 buying),
as the square-root law describes the impact of a whole metaorder: the price is
S0 (1 + shock) (1 + I(Q)) with I(Q) = Y sigma_daily sqrt(|Q| / ADV) sign(Q), or Q / depth
(linear). A round's small extra flow therefore moves the price by about I'(Q) dQ, and the
dealers' gamma feedback settles. Y = 0 (or infinite depth) is no impact: the cascade is then
the single-round stress.

Reported: the price path, accounts and notional liquidated per round, the shortfall (the
negative equity of liquidated accounts, which an insurance fund covers), the amplification
(final move / initial shock). Positions and collateral are conserved: the venue's book holds
what it took over.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import float_array, index_array
from ..exceptions import InputTypeError, InvalidInputError
from ..market.instruments import InstrumentKind, Settlement
from ..market.market import Market
from ..models.params import ModelCoverageError
from .batch import batch_margin_csr, venue_risk

__all__ = ["CascadeResult", "ImpactKind", "ImpactModel", "Round", "liquidation_cascade"]


class ImpactKind(enum.Enum):
    SQUARE_ROOT = "square_root"  # dS/S = Y sigma_daily sqrt(|Q| / ADV)
    LINEAR = "linear"  # dS/S = Q / depth


@dataclass(frozen=True)
class ImpactModel:
    kind: ImpactKind = ImpactKind.SQUARE_ROOT
    y: float = 1.0  # square-root prefactor
    daily_vol: float = 0.03
    adv: float = 25_000.0  # average daily volume, coins
    depth: float = 50_000.0  # linear: coins for a 100 % move (inf: no impact)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ImpactKind):
            raise InputTypeError("use a pymargin.accounts.cascade.ImpactKind member", "impact.kind")
        for name, lo_open in (("y", False), ("daily_vol", False), ("adv", True), ("depth", True)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise InvalidInputError("must be a number", f"impact.{name}")
            if (v <= 0 if lo_open else v < 0) or (name != "depth" and not math.isfinite(v)):
                what = "finite and > 0" if lo_open else "finite and >= 0"
                raise InvalidInputError(f"must be {what}", f"impact.{name}")

    def move(self, q: float) -> float:
        """Relative price change caused by a net market order of ``q`` coins."""
        if q == 0.0:
            return 0.0
        if self.kind is ImpactKind.SQUARE_ROOT:
            return math.copysign(self.y * self.daily_vol * math.sqrt(abs(q) / self.adv), q)
        return q / self.depth


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
    converged: bool = True  # False: stopped at max_rounds, still liquidating or moving
    details: dict[str, Any] = field(default_factory=dict)

    def plot(self, fig: Any = None) -> Any:
        from ..plotting import pyplot

        plt = pyplot()
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


def _check_terms(shock: Any, vol_scale: Any, max_rounds: Any, tol: Any) -> None:
    """The cascade's scalar terms: a shock above -100 %, a positive vol factor, at least one
    round and a non-negative tolerance."""
    if isinstance(shock, bool) or not isinstance(shock, (int, float)):
        raise InputTypeError("must be a number", "shock")
    if not (math.isfinite(shock) and shock > -1.0):
        raise InvalidInputError("must be finite and > -1", "shock")
    if isinstance(vol_scale, bool) or not isinstance(vol_scale, (int, float)):
        raise InputTypeError("must be a number", "vol_scale")
    if not (math.isfinite(vol_scale) and vol_scale > 0):
        raise InvalidInputError("must be finite and > 0", "vol_scale")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise InvalidInputError("must be an integer >= 1", "max_rounds")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise InvalidInputError("must be finite and >= 0", "tol")


def _checked_book(
    offsets: Any, instrument: Any, amount: Any, collateral: Any, dealers: Any, n_instruments: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The accounts in CSR form checked (offsets from 0 to the positions, non-decreasing; one
    finite amount per position; finite collateral; one dealer flag per account)."""
    offsets = index_array(offsets, "offsets", 2**62)
    inst = index_array(instrument, "instrument", n_instruments - 1).astype(np.int32)
    amt0 = float_array(amount, "amount")
    coll = float_array(collateral, "collateral")
    n_acc = len(coll)
    if len(offsets) != n_acc + 1 or offsets[0] != 0 or offsets[-1] != len(inst):
        raise InvalidInputError(
            "needs one more entry than accounts, from 0 to the number of positions", "offsets"
        )
    steps = np.diff(offsets)
    if (steps < 0).any():
        raise InvalidInputError("must not decrease", "offsets", int(np.argmax(steps < 0)) + 1)
    if len(inst) != len(amt0):
        raise InvalidInputError("one amount per position", "amount")
    for name, arr in (("amount", amt0), ("collateral", coll)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InvalidInputError("must be a finite number", name, int(np.argmax(bad)))
    if dealers is not None:
        is_dealer = np.asarray(dealers)
        if is_dealer.shape != (n_acc,) or is_dealer.dtype != bool:
            raise InputTypeError("one bool per account", "dealers")
    else:
        is_dealer = np.zeros(n_acc, dtype=bool)
    return offsets, inst, amt0, coll, is_dealer


def _instrument_terms(
    market: Market, instruments: list[str]
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """The instruments' one underlying, and per instrument: inverse?, a future (not an
    option)?, its forward."""
    table = market.table
    rows = table.rows(instruments)
    unds = table.code_names(table.column("underlying")[rows])
    if len(unds) != 1:
        raise InvalidInputError(f"one underlying, got {sorted(unds)}", "instruments")
    kind = table.column("kind")[rows]
    inverse = table.column("settlement")[rows] == int(Settlement.INVERSE)
    future = kind != int(InstrumentKind.OPTION)
    return unds.pop(), inverse, future, table.column("forward")[rows]


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
    tol: float = 1e-9,
    threads: int | None = None,
) -> CascadeResult:
    """Runs the cascade for accounts in CSR form (``instrument`` indexes ``instruments``, all
    on one underlying and one settlement currency; amounts in coins), starting with a price
    ``shock`` (e.g. -0.15) and vols times ``vol_scale``. ``dealers``: one flag per account.
    It stops when a round liquidates no one and moves the price by less than ``tol``
    (``converged``), or after ``max_rounds``. The amplification is NaN for a zero shock."""
    _check_terms(shock, vol_scale, max_rounds, tol)
    impact = impact or ImpactModel()
    if not isinstance(impact, ImpactModel):
        raise InputTypeError("expected a pymargin.accounts.cascade.ImpactModel", "impact")
    if not instruments:
        raise InvalidInputError("no instruments", "instruments")
    offsets, inst, amt0, coll, is_dealer = _checked_book(
        offsets, instrument, amount, collateral, dealers, len(instruments)
    )
    n_acc = len(coll)
    steps = np.diff(offsets)
    und, inverse, future, f0 = _instrument_terms(market, instruments)
    s0 = market.index_price(und)
    owner = np.repeat(np.arange(n_acc), steps)
    amt = amt0.copy()
    venue_book = np.zeros(len(instruments))
    alive = np.ones(n_acc, dtype=bool)
    liq_round = np.full(n_acc, -1)
    shortfall = 0.0
    move = float(shock)
    forced = 0.0  # cumulative net forced flow, coins
    prev_delta: np.ndarray | None = None  # per instrument, last round
    rounds: list[Round] = []
    converged = False
    for r in range(max_rounds):
        moved = market.shifted({und: move}, {und: vol_scale})
        risk = venue_risk(moved, instruments, params)
        # inverse futures are contracts of fixed USD notional: after the move a coin of them
        # at the start is 1 / (1 + move) coin (as moved_account and the core's revaluation
        # take it), worth move per coin held now (= move / (1 + move) per coin at the start)
        held = np.where(future & inverse, 1.0 / (1.0 + move), 1.0)
        value = risk.value + np.where(future, np.where(inverse, move, f0 * move), 0.0)
        risk = dataclasses.replace(risk, value=value)
        out = batch_margin_csr(risk, offsets, inst, amt * held[inst], coll, threads=threads)
        uncovered = alive & (out["status"] == 3)
        if uncovered.any():
            raise ModelCoverageError(
                f"account {int(np.argmax(uncovered))}: net delta beyond Deribit's delta-shock "
                f"threshold at a {move:+.2%} move (the shock's formula is not published)"
            )
        new = alive & (out["status"] == 2)
        # dealers that survive this round re-hedge the delta change of their options (their
        # positions are unchanged, so the change is the deltas' move since the last round)
        flow = 0.0
        if prev_delta is not None:
            keep = is_dealer[owner] & alive[owner] & ~new[owner]
            flow -= float(amt[keep] @ (risk.delta[inst[keep]] - prev_delta[inst[keep]]))
        prev_delta = risk.delta
        price = s0 * (1.0 + move)
        if not new.any():
            rounds.append(Round(r, move, price, 0, 0.0, flow, 0.0))
        else:
            taken = new[owner]
            np.add.at(venue_book, inst[taken], amt[taken])
            delta_taken = float((amt * held[inst])[taken] @ risk.delta[inst[taken]])
            flow -= delta_taken  # the venue flattens the delta it took over
            added = float(np.maximum(-out["equity"][new], 0.0).sum())
            shortfall += added
            liq_round[new] = r
            alive &= ~new
            amt[taken] = 0.0
            rounds.append(
                Round(r, move, price, int(new.sum()), abs(delta_taken) * price, flow, added)
            )
        forced += flow
        new_move = shock + (1.0 + shock) * impact.move(forced)
        step = new_move - move
        # the price stays put (nothing more can fail) or barely moves with no one failing
        if step == 0.0 or (not new.any() and abs(step) <= tol):
            converged = True
            break
        move = new_move
        if move <= -1.0:
            raise InvalidInputError("the impact drove the price to zero", "impact")
    return CascadeResult(
        rounds,
        float(shock),
        move,
        move / shock if shock else math.nan,  # undefined for a zero shock
        liq_round >= 0,
        liq_round,
        shortfall,
        venue_book,
        converged,
        {"amounts": amt, "collateral": coll, "risk": risk if rounds else None},
    )
