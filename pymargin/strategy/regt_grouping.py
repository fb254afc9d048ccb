# SPDX-License-Identifier: Apache-2.0
"""The grouping of a whole options book into Reg T strategies.

A book's strategy-based requirement depends on how its legs are grouped: the same legs can be
a butterfly, two verticals, or naked shorts and longs paid in full. :func:`group_book` finds
the grouping with the least initial requirement as an integer programme (HiGHS, through
scipy) over every strategy its legs can form; :func:`greedy_grouping` is the one a broker's
greedy pass gives (the strategy saving most per unit first, as many units as the legs allow,
and so on); :func:`compare_groupings` reports both and the saving. Each strategy's
requirement is :func:`pymargin.models.strategy_margin.strategy_requirement`'s (the core's).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from ..exceptions import InvalidInputError, NoSolutionError
from ..files import csv_number
from ..models.strategy_margin import (
    OptionClass,
    StrategyKind,
    StrategyLeg,
    requirements,
    strategy_rates,
)

__all__ = [
    "BookLeg",
    "Grouping",
    "GroupingComparison",
    "compare_groupings",
    "greedy_grouping",
    "group_book",
    "read_book",
]


@dataclass(frozen=True)
class BookLeg:
    """A position of the book: ``name`` (for the report), ``underlying`` (name), ``kind``
    "call", "put" or "stock", ``quantity`` (contracts or shares, whole), ``price`` per unit of
    the underlying, ``strike`` and ``expiry`` for options, ``european`` style."""

    name: str
    underlying: str
    kind: str
    quantity: float
    price: float
    strike: float = 0.0
    expiry: date | None = None
    multiplier: float = 100.0
    european: bool = False


@dataclass(frozen=True)
class Grouping:
    """A book as strategies: ``strategies`` lists (kind, [(leg index, quantity per unit)],
    units, initial, maintenance); totals over them."""

    strategies: list[tuple[StrategyKind, list[tuple[int, float]], int, float, float]]
    initial: float
    maintenance: float
    method: str
    optimal: bool


@dataclass(frozen=True)
class GroupingComparison:
    optimal: Grouping
    greedy: Grouping
    naked: Grouping  # every leg on its own

    @property
    def saving_vs_greedy(self) -> float:
        return self.greedy.initial - self.optimal.initial


@dataclass(frozen=True)
class _Candidate:
    kind: StrategyKind
    usage: tuple[tuple[int, float], ...]  # leg index, signed quantity per unit


def _months(expiry: date | None, as_of: date) -> float:
    assert expiry is not None
    return (expiry - as_of).days / (365.25 / 12.0)


def _check_book(book: Sequence[BookLeg], prices: dict[str, float]) -> None:
    for row, leg in enumerate(book):
        if not isinstance(leg, BookLeg):
            raise InvalidInputError("expected a BookLeg", "book", row)
        if leg.kind not in ("call", "put", "stock"):
            raise InvalidInputError("kind must be call, put or stock", "kind", row)
        q = leg.quantity
        if isinstance(q, bool) or not (isinstance(q, (int, float)) and math.isfinite(q)):
            raise InvalidInputError("must be a finite number", "quantity", row)
        if q == 0 or q != round(q):
            raise InvalidInputError("must be a whole, non-zero number", "quantity", row)
        if not (
            isinstance(leg.price, (int, float)) and math.isfinite(leg.price) and leg.price >= 0
        ):
            raise InvalidInputError("must be finite and >= 0", "price", row)
        if leg.kind != "stock" and (leg.expiry is None or not leg.strike > 0):
            raise InvalidInputError("an option needs a strike > 0 and an expiry", "strike", row)
        u = prices.get(leg.underlying)
        if u is None or not (math.isfinite(u) and u > 0):
            raise InvalidInputError(
                f"no finite price > 0 for the underlying {leg.underlying!r}", "underlying", row
            )


def _legs(book: Sequence[BookLeg], prices: dict[str, float], as_of: date) -> list[StrategyLeg]:
    out = []
    for leg in book:
        u = prices[leg.underlying]
        if leg.kind == "stock":
            out.append(StrategyLeg(float(leg.quantity), float(leg.price), u, stock=True))
        else:
            months = _months(leg.expiry, as_of)
            if months < 0:
                raise InvalidInputError(f"{leg.name} expired before {as_of}", "expiry")
            out.append(
                StrategyLeg(
                    float(leg.quantity),
                    float(leg.price),
                    u,
                    leg.kind == "call",
                    float(leg.strike),
                    False,
                    float(leg.multiplier),
                    months,
                )
            )
    return out


def _candidates(book: Sequence[BookLeg], legs: list[StrategyLeg]) -> list[_Candidate]:
    """Every strategy the legs can form, per unit: singles, verticals and calendars,
    straddles and strangles, butterflies, condors, iron condors and butterflies, European long
    boxes, and the stock hedges."""
    out: list[_Candidate] = []
    n = len(legs)
    for i in range(n):  # singles
        lg = legs[i]
        if lg.stock:
            out.append(
                _Candidate(
                    StrategyKind.LONG_STOCK if lg.quantity > 0 else StrategyKind.SHORT_STOCK,
                    ((i, math.copysign(1.0, lg.quantity)),),
                )
            )
        else:
            out.append(
                _Candidate(
                    StrategyKind.LONG_OPTION if lg.quantity > 0 else StrategyKind.NAKED_SHORT,
                    ((i, math.copysign(1.0, lg.quantity)),),
                )
            )
    by_und: dict[str, list[int]] = {}
    for i, bl in enumerate(book):
        by_und.setdefault(bl.underlying, []).append(i)
    for idx in by_und.values():
        opts = [i for i in idx if not legs[i].stock]
        stocks = [i for i in idx if legs[i].stock]

        def same(*ks: int) -> bool:
            return len({legs[k].multiplier for k in ks}) == 1

        longs = [i for i in opts if legs[i].quantity > 0]
        shorts = [i for i in opts if legs[i].quantity < 0]
        for i in longs:
            for j in shorts:
                if legs[i].call == legs[j].call and same(i, j) and legs[i].months >= legs[j].months:
                    out.append(_Candidate(StrategyKind.SPREAD, ((i, 1.0), (j, -1.0))))
        for i, j in itertools.product(shorts, shorts):
            if legs[i].call and not legs[j].call and same(i, j):
                out.append(_Candidate(StrategyKind.SHORT_STRADDLE, ((i, -1.0), (j, -1.0))))
        one_expiry: dict[tuple[float, bool], list[int]] = {}
        for i in opts:
            one_expiry.setdefault((legs[i].months, legs[i].call), []).append(i)
        for (_, _), ks in one_expiry.items():
            ks = sorted(ks, key=lambda k: legs[k].strike)
            for a, b, c in itertools.combinations(ks, 3):  # butterflies 1:-2:1
                if (
                    legs[a].quantity > 0
                    and legs[b].quantity < 0
                    and legs[c].quantity > 0
                    and same(a, b, c)
                    and legs[a].strike < legs[b].strike < legs[c].strike
                ):
                    out.append(_Candidate(StrategyKind.SPREAD, ((a, 1.0), (b, -2.0), (c, 1.0))))
            for a, b, c, d in itertools.combinations(ks, 4):  # condors
                sign = [legs[k].quantity > 0 for k in (a, b, c, d)]
                strikes = [legs[k].strike for k in (a, b, c, d)]
                if (
                    sign == [True, False, False, True]
                    and same(a, b, c, d)
                    and (strikes == sorted(set(strikes)))
                ):
                    out.append(
                        _Candidate(StrategyKind.SPREAD, ((a, 1.0), (b, -1.0), (c, -1.0), (d, 1.0)))
                    )
        by_expiry: dict[float, list[int]] = {}
        for i in opts:
            by_expiry.setdefault(legs[i].months, []).append(i)
        for ks in by_expiry.values():  # iron condors / butterflies and European long boxes
            puts = [k for k in ks if not legs[k].call]
            calls = [k for k in ks if legs[k].call]
            for lp, sp in itertools.product(puts, puts):
                if not (legs[lp].quantity > 0 > legs[sp].quantity and same(lp, sp)):
                    continue
                for sc, lc in itertools.product(calls, calls):
                    if not (legs[lc].quantity > 0 > legs[sc].quantity and same(lp, sc, lc)):
                        continue
                    k_lp, k_sp, k_sc, k_lc = (legs[k].strike for k in (lp, sp, sc, lc))
                    if k_lp < k_sp <= k_sc < k_lc:
                        out.append(
                            _Candidate(
                                StrategyKind.SPREAD, ((lp, 1.0), (sp, -1.0), (sc, -1.0), (lc, 1.0))
                            )
                        )
                    if (
                        book[lp].european
                        and book[sp].european
                        and book[sc].european
                        and book[lc].european
                        and k_lc == k_sp
                        and k_sc == k_lp
                        and k_lc < k_sc
                    ):
                        out.append(
                            _Candidate(
                                StrategyKind.LONG_BOX_EUROPEAN,
                                ((lc, 1.0), (sc, -1.0), (lp, 1.0), (sp, -1.0)),
                            )
                        )
        for s in stocks:
            m_long = legs[s].quantity > 0
            for i in opts:
                lg, m = legs[i], legs[i].multiplier
                role = (lg.call, lg.quantity > 0)
                kind = {
                    (True, (True, False)): StrategyKind.COVERED_CALL,
                    (True, (False, True)): StrategyKind.PROTECTIVE_PUT,
                    (False, (False, False)): StrategyKind.COVERED_PUT,
                    (False, (True, True)): StrategyKind.LONG_CALL_SHORT_STOCK,
                }.get((m_long, role))
                if kind is not None:
                    out.append(
                        _Candidate(
                            kind,
                            (
                                (s, math.copysign(m, legs[s].quantity)),
                                (i, math.copysign(1.0, lg.quantity)),
                            ),
                        )
                    )
            for i, j in itertools.product(opts, opts):
                la, lb = legs[i], legs[j]
                if not same(i, j):
                    continue
                m = la.multiplier
                if m_long and not la.call and la.quantity > 0 and lb.call and lb.quantity < 0:
                    kind = (
                        StrategyKind.CONVERSION
                        if la.strike == lb.strike and la.months == lb.months
                        else StrategyKind.COLLAR
                    )
                    out.append(_Candidate(kind, ((s, m), (i, 1.0), (j, -1.0))))
                if (
                    not m_long
                    and la.call
                    and la.quantity > 0
                    and not lb.call
                    and lb.quantity < 0
                    and la.strike == lb.strike
                    and la.months == lb.months
                ):
                    out.append(
                        _Candidate(StrategyKind.REVERSE_CONVERSION, ((s, -m), (i, 1.0), (j, -1.0)))
                    )
    return out


def _priced(
    cands: list[_Candidate], legs: list[StrategyLeg], rates: np.ndarray
) -> tuple[list[_Candidate], np.ndarray, np.ndarray]:
    """Each candidate's per-unit requirements, in one core call; a candidate the rules refuse
    (a spread a short outlives, say) is dropped. The book's legs were checked before."""
    groups = [
        (
            c.kind,
            [
                StrategyLeg(
                    q,
                    legs[k].price,
                    legs[k].underlying,
                    legs[k].call,
                    legs[k].strike,
                    legs[k].stock,
                    legs[k].multiplier,
                    legs[k].months,
                    legs[k].otc,
                )
                for k, q in c.usage
            ],
        )
        for c in cands
    ]
    im, mm, _, ok = requirements(groups, rates, strict=False)
    keep = [c for c, good in zip(cands, ok) if good]
    return keep, im[ok], mm[ok]


def _grouping(
    cands: list[_Candidate],
    im: np.ndarray,
    mm: np.ndarray,
    units: np.ndarray,
    method: str,
    optimal: bool,
) -> Grouping:
    chosen = [
        (c.kind, list(c.usage), int(u), float(im[t] * u), float(mm[t] * u))
        for t, (c, u) in enumerate(zip(cands, units))
        if u > 0
    ]
    return Grouping(chosen, float(im @ units), float(mm @ units), method, optimal)


@dataclass(frozen=True)
class _Programme:
    """A book's candidate strategies: their per-unit requirements and how many units of each
    leg a unit uses (legs x candidates), and each leg's size."""

    cands: list[_Candidate]
    im: np.ndarray
    mm: np.ndarray
    usage: np.ndarray
    sizes: np.ndarray


def _setup(
    book: Sequence[BookLeg],
    prices: dict[str, float],
    as_of: date,
    option_class: OptionClass,
    leverage: float,
    long_marginable: bool,
) -> _Programme:
    book = list(book)
    prices = dict(prices)
    _check_book(book, prices)
    legs = _legs(book, prices, as_of)
    rates = strategy_rates(option_class, leverage, long_marginable)
    cands, im, mm = _priced(_candidates(book, legs), legs, rates)
    sizes = np.array([abs(lg.quantity) for lg in legs])
    usage = np.zeros((len(legs), len(cands)))
    for t, c in enumerate(cands):
        for k, q in c.usage:
            usage[k, t] = abs(q)
    return _Programme(cands, im, mm, usage, sizes)


def _optimal(p: _Programme, time_limit: float) -> Grouping:
    from .lp import scipy_module

    opt = scipy_module("optimize")
    res = opt.milp(
        c=p.im,
        constraints=opt.LinearConstraint(p.usage, p.sizes, p.sizes),
        integrality=np.ones(len(p.cands)),
        bounds=opt.Bounds(0, np.inf),
        options={"time_limit": float(time_limit)},
    )
    if res.x is None:
        raise NoSolutionError(f"HiGHS found no grouping: {res.message}", "book")
    units = np.round(res.x)
    if not np.allclose(p.usage @ units, p.sizes):
        raise NoSolutionError("the rounded grouping does not use every leg", "book")
    return _grouping(p.cands, p.im, p.mm, units, "integer programme (HiGHS)", res.status == 0)


def _greedy(p: _Programme) -> Grouping:
    single = {c.usage[0][0]: t for t, c in enumerate(p.cands) if len(c.usage) == 1}
    alone = np.array([p.im[single[k]] for k in range(len(p.sizes))])  # per unit of each leg
    saving = p.usage.T @ alone - p.im
    left = p.sizes.copy()
    units = np.zeros(len(p.cands))
    for t in sorted(range(len(p.cands)), key=lambda t: -saving[t]):
        if len(p.cands[t].usage) == 1 or saving[t] <= 0:
            continue
        need = p.usage[:, t]
        used = need > 0
        u = math.floor(min(left[used] / need[used]))
        if u > 0:
            units[t] = u
            left -= need * u
    for k, t in single.items():
        units[t] += left[k]
    return _grouping(p.cands, p.im, p.mm, units, "greedy", False)


def _alone(p: _Programme) -> Grouping:
    units = np.zeros(len(p.cands))
    for t, c in enumerate(p.cands):
        if len(c.usage) == 1:
            units[t] = p.sizes[c.usage[0][0]]
    return _grouping(p.cands, p.im, p.mm, units, "each leg alone", False)


def group_book(
    book: Sequence[BookLeg],
    prices: dict[str, float],
    as_of: date,
    option_class: OptionClass = OptionClass.EQUITY,
    *,
    leverage: float = 1.0,
    long_marginable: bool = True,
    time_limit: float = 60.0,
) -> Grouping:
    """The grouping of ``book`` with the least initial requirement: an integer programme over
    every strategy its legs can form (units of each, every leg used exactly), solved by HiGHS.
    ``prices``: each underlying's price; ``as_of``: the day (months to expiry count from
    it)."""
    p = _setup(book, prices, as_of, option_class, leverage, long_marginable)
    return _optimal(p, time_limit)


def greedy_grouping(
    book: Sequence[BookLeg],
    prices: dict[str, float],
    as_of: date,
    option_class: OptionClass = OptionClass.EQUITY,
    *,
    leverage: float = 1.0,
    long_marginable: bool = True,
) -> Grouping:
    """A greedy grouping as broker engines form them: the strategy that saves most per unit
    against its legs on their own first, as many units as the legs left allow, then the next;
    what is left is margined leg by leg."""
    return _greedy(_setup(book, prices, as_of, option_class, leverage, long_marginable))


def compare_groupings(
    book: Sequence[BookLeg],
    prices: dict[str, float],
    as_of: date,
    option_class: OptionClass = OptionClass.EQUITY,
    *,
    leverage: float = 1.0,
    long_marginable: bool = True,
    time_limit: float = 60.0,
) -> GroupingComparison:
    """The optimal grouping, the greedy one and every leg on its own, side by side (the
    candidates listed and priced once)."""
    p = _setup(book, prices, as_of, option_class, leverage, long_marginable)
    return GroupingComparison(_optimal(p, time_limit), _greedy(p), _alone(p))


def _cell_number(r: dict[str, str], field: str, row: int, default: float | None = None) -> float:
    v = csv_number(r, field, row)
    if v is None:
        if default is None:
            raise InvalidInputError("missing", field, row)
        return default
    return v


def read_book(path: str) -> list[BookLeg]:
    """A book from CSV: columns ``underlying``, ``type`` (call, put or stock), ``quantity``
    (contracts or shares, signed), ``price`` (per share: the option's premium or the
    stock's price) and, for options, ``strike`` and ``expiry`` (YYYY-MM-DD); optional
    ``multiplier`` (default 100) and ``style`` (american or european). Errors name the file,
    row and field."""
    from ..exceptions import FileInputError
    from ..files import csv_records, open_file

    p = open_file(path)
    out = []
    try:
        records = csv_records(p)
        need = {"underlying", "type", "quantity", "price"}
        if not records or not need <= set(records[0]):
            raise InvalidInputError(f"needs the columns {sorted(need)}", "header")
        for row, r in enumerate(records):
            kind = (r.get("type") or "").strip().lower()
            if kind not in ("call", "put", "stock"):
                raise InvalidInputError("call, put or stock", "type", row)

            expiry = None
            strike = 0.0
            if kind != "stock":
                strike = _cell_number(r, "strike", row)
                try:
                    expiry = date.fromisoformat((r.get("expiry") or "").strip())
                except ValueError:
                    raise InvalidInputError("expected YYYY-MM-DD", "expiry", row) from None
            style = (r.get("style") or "american").strip().lower()
            if style not in ("american", "european"):
                raise InvalidInputError("american or european", "style", row)
            und = (r.get("underlying") or "").strip()
            if not und:
                raise InvalidInputError("missing", "underlying", row)
            name = und if kind == "stock" else f"{und} {expiry} {strike:g} {kind}"
            out.append(
                BookLeg(
                    name,
                    und,
                    kind,
                    _cell_number(r, "quantity", row),
                    _cell_number(r, "price", row),
                    strike,
                    expiry,
                    _cell_number(r, "multiplier", row, 100.0),
                    style == "european",
                )
            )
    except InvalidInputError as e:
        raise FileInputError(str(path), e) from None
    return out
