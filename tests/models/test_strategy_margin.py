# SPDX-License-Identifier: Apache-2.0
"""Strategy-based (Reg T) margin against the Cboe Margin Manual's printed examples, and the
grouping of a book into strategies.

Source: Cboe Exchange, Margin Manual (November 2021), "Sample calculations" and "Complex
spreads" (page numbers as printed; the manual prints the requirement "Req" and the cash call
after short proceeds). Multiplier 100 throughout. Index examples use the broad-based rates
(15 % / 10 %), leveraged ETFs the leverage factor on both rates (Cboe RG09-97).
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pytest

from pymargin.exceptions import InvalidInputError
from pymargin.models.strategy_margin import (
    OptionClass,
    StrategyKind,
    StrategyLeg,
    strategy_requirement,
)
from pymargin.strategy.regt_grouping import (
    BookLeg,
    compare_groupings,
    greedy_grouping,
    group_book,
)

EQ, BROAD = OptionClass.EQUITY, OptionClass.BROAD_INDEX
K = StrategyKind


def opt(q, price, u, call, strike, months=3.0, otc=False):
    return StrategyLeg(q, price, u, call, strike, False, 100.0, months, otc)


def stock(q, price):
    return StrategyLeg(q, price, price, stock=True)


def req(kind, legs, cls=EQ, leverage=1.0):
    return strategy_requirement(kind, legs, cls, leverage=leverage)


# p. 23-27: long options (<= 9 months in full, > 9 months 75 % of cost; OTC: 75 % of intrinsic)
LONGS = [
    ("L1 p.23", opt(1, 5.0, 128.5, True, 125, 6), EQ, 500.0),
    ("L2 p.23", opt(1, 5.5, 433.35, False, 430, 6), BROAD, 550.0),
    ("L3 p.24", opt(1, 12.0, 78, True, 80, 18), EQ, 900.0),
    ("L4 p.24", opt(1, 16.8, 1290, True, 1325, 20), EQ, 1260.0),
    ("L5 p.25", opt(1, 2.0, 43.34, False, 42.5, 24), BROAD, 150.0),
    ("L6 p.26", opt(1, 4.5, 79, True, 75, 12, otc=True), EQ, 350.0),
    ("L7 p.26", opt(1, 11.0, 667.34, True, 665, 12, otc=True), EQ, 1041.5),
    ("L8 p.27", opt(1, 13.0, 663.5, True, 665, 12, otc=True), EQ, 1300.0),
]

# p. 28-35: naked shorts (class, leverage)
SHORTS = [
    ("SP1 p.28", opt(-1, 2.0, 95, False, 80), EQ, 1, 1000.0),
    ("SP2 p.28", opt(-1, 1.5, 19.5, False, 20), EQ, 1, 540.0),
    ("SP3 p.29", opt(-1, 3.0, 970, False, 725), EQ, 2, 14800.0),
    ("SP4 p.29", opt(-1, 15.5, 390.70, False, 400), EQ, 3, 24992.0),
    ("SP5 p.30", opt(-1, 0.10, 445.35, False, 410), BROAD, 1, 4110.0),
    ("SP6 p.30", opt(-1, 7.80, 433.35, False, 430), BROAD, 1, 6945.25),
    ("SP7 p.31", opt(-1, 2.85, 43.34, False, 45), BROAD, 1, 935.10),
    ("SP8 p.31", opt(-1, 4.0, 460, False, 390), BROAD, 1.5, 6250.0),
    ("SC1 p.32", opt(-1, 8.40, 128.5, True, 120), EQ, 1, 3410.0),
    ("SC2 p.32", opt(-1, 0.05, 26.38, True, 30), EQ, 1, 268.80),
    ("SC3 p.33", opt(-1, 10.10, 815.5, True, 810), EQ, 2, 33630.0),
    ("SC4 p.33", opt(-1, 2.0, 1050.30, True, 1250), EQ, 1.5, 15954.50),
    ("SC5 p.34", opt(-1, 8.70, 433.35, True, 430), BROAD, 1, 7370.25),
    ("SC6 p.34", opt(-1, 1.35, 43.34, True, 45, 18), BROAD, 1, 619.10),
    ("SC7 p.35", opt(-1, 12.85, 378.5, True, 370, 24), BROAD, 1, 6962.50),
    ("SC8 p.35", opt(-1, 3.0, 410, True, 450), BROAD, 1.5, 6450.0),
]

# p. 36-57: spreads of every shape by the maximum-potential-loss rule (kind, legs, class, Req,
# cash call = Req - short proceeds, None where the manual prints none)
SPREADS = [
    ("MPL1 p.36", K.SPREAD, [opt(10, 0, 80, True, 75), opt(-10, 0, 80, True, 85)], EQ, 0.0, None),
    (
        "MPL2 p.36",
        K.SPREAD,
        [opt(10, 0, 50, True, 45), opt(-20, 0, 50, True, 55), opt(10, 0, 50, True, 60)],
        EQ,
        0.0,
        None,
    ),
    (
        "MPL3 p.36",
        K.SPREAD,
        [
            opt(5, 0, 75, False, 60),
            opt(-5, 0, 75, False, 70),
            opt(-10, 0, 75, True, 85),
            opt(10, 0, 75, True, 90),
        ],
        EQ,
        5000.0,
        None,
    ),
    (
        "MPL6 p.38",  # shorts Mar and May against longs Apr and Jun: each short has its long
        K.SPREAD,
        [
            opt(10, 0, 50, True, 45, 2),
            opt(-10, 0, 50, True, 55, 1),
            opt(-10, 0, 50, True, 55, 3),
            opt(10, 0, 50, True, 60, 4),
        ],
        EQ,
        0.0,
        None,
    ),
    (
        "PS1 p.39",
        K.SPREAD,
        [opt(1, 3, 255, False, 250), opt(-1, 0.95, 255, False, 240)],
        EQ,
        300.0,
        205.0,
    ),
    (
        "PS2 p.39",
        K.SPREAD,
        [opt(1, 6.40, 433.35, False, 425), opt(-1, 7.80, 433.35, False, 430)],
        BROAD,
        1140.0,
        360.0,
    ),
    (
        "PS3 p.40",
        K.SPREAD,
        [opt(1, 2, 43.34, False, 42.5), opt(-1, 2.90, 43.34, False, 45)],
        BROAD,
        450.0,
        160.0,
    ),
    (
        "CS1 p.42",
        K.SPREAD,
        [opt(1, 3.80, 128.5, True, 125), opt(-1, 8.40, 128.5, True, 120)],
        EQ,
        880.0,
        40.0,
    ),
    (
        "ST1 p.45",
        K.SHORT_STRADDLE,
        [opt(-1, 7, 92.63, True, 90), opt(-1, 3.70, 92.63, False, 90)],
        EQ,
        2922.60,
        1852.60,
    ),
    (
        "ST2 p.45",
        K.SHORT_STRADDLE,
        [opt(-1, 7.20, 433.35, False, 435), opt(-1, 5.50, 433.35, True, 435)],
        BROAD,
        7770.25,
        6500.25,
    ),
    (
        "ST3 p.46",
        K.SHORT_STRADDLE,
        [opt(-1, 2.85, 43.34, False, 45), opt(-1, 1.35, 43.34, True, 45)],
        BROAD,
        1070.10,
        650.10,
    ),
    (
        "LBOX-LV p.49",  # European long box: 50 % of the strike difference
        K.LONG_BOX_EUROPEAN,
        [
            opt(1, 19.40, 550, True, 535),
            opt(-1, 12.20, 550, True, 545),
            opt(1, 5.30, 550, False, 545),
            opt(-1, 3.0, 550, False, 535),
        ],
        BROAD,
        500.0,
        None,
    ),
    (
        "LBOX p.50",
        K.SPREAD,
        [
            opt(1, 15.40, 50, True, 40),
            opt(-1, 7.20, 50, True, 50),
            opt(1, 1.75, 50, False, 50),
            opt(-1, 0.40, 50, False, 40),
        ],
        EQ,
        1715.0,
        955.0,
    ),
    (
        "SBOX p.51",
        K.SPREAD,
        [
            opt(-1, 17.30, 66, True, 50),
            opt(1, 8.40, 66, True, 60),
            opt(-1, 1.25, 66, False, 60),
            opt(1, 0.30, 66, False, 50),
        ],
        EQ,
        1870.0,
        15.0,
    ),
    (
        "LBFLY-P p.52",
        K.SPREAD,
        [
            opt(1, 5.60, 550, False, 540),
            opt(-2, 7.20, 550, False, 550),
            opt(1, 9.80, 550, False, 555),
        ],
        BROAD,
        2040.0,
        600.0,
    ),
    (
        "LBFLY-C p.53",
        K.SPREAD,
        [opt(1, 12.40, 550, True, 545), opt(-2, 8.80, 550, True, 550), opt(1, 2.0, 550, True, 565)],
        BROAD,
        2440.0,
        680.0,
    ),
    (
        "LCOND-P p.54",
        K.SPREAD,
        [
            opt(1, 47.10, 1160, False, 1050),
            opt(-1, 55.70, 1160, False, 1075),
            opt(-1, 66.30, 1160, False, 1100),
            opt(1, 85.40, 1160, False, 1125),
        ],
        BROAD,
        13250.0,
        1050.0,
    ),
    (
        "LCOND-C p.55",
        K.SPREAD,
        [
            opt(1, 0.45, 26.75, True, 22.5),
            opt(-1, 0.75, 26.75, True, 25),
            opt(-1, 2.75, 26.75, True, 30),
            opt(1, 4.30, 26.75, True, 32.5),
        ],
        EQ,
        475.0,
        125.0,
    ),
    (
        "SIBF p.56",
        K.SPREAD,
        [
            opt(1, 0.10, 26.75, False, 16),
            opt(-1, 0.20, 26.75, False, 20),
            opt(-1, 7.0, 26.75, True, 20),
            opt(1, 4.0, 26.75, True, 24),
        ],
        EQ,
        810.0,
        90.0,
    ),
    (
        "SIC p.57",
        K.SPREAD,
        [
            opt(1, 32.0, 1060, False, 1000),
            opt(-1, 35.10, 1060, False, 1025),
            opt(-1, 9.40, 1060, True, 1150),
            opt(1, 6.30, 1060, True, 1175),
        ],
        BROAD,
        6330.0,
        1880.0,
    ),
    (
        "SPSU p.47",
        K.COVERED_PUT,
        [stock(-100, 255), opt(-1, 3.0, 255, False, 250)],
        EQ,
        38250.0,
        12450.0,
    ),
    (
        "CC p.47",
        K.COVERED_CALL,
        [stock(100, 92.38), opt(-1, 7.0, 92.38, True, 90)],
        EQ,
        4619.0,
        3919.0,
    ),
]

# p. 58-61: maintenance of hedged stock (and two initial requirements)
HEDGES = [
    (
        "PP p.58",
        K.PROTECTIVE_PUT,
        [stock(100, 103.5), opt(1, 0, 103.5, False, 95)],
        "maintenance",
        1800.0,
    ),
    (
        "LCSU p.58",
        K.LONG_CALL_SHORT_STOCK,
        [stock(-100, 46), opt(1, 0, 46, True, 50)],
        "maintenance",
        5900.0,
    ),
    (
        "CONV-M p.59",
        K.CONVERSION,
        [stock(100, 115), opt(-1, 6.5, 115, True, 110), opt(1, 1.35, 115, False, 110)],
        "maintenance",
        1100.0,
    ),
    (
        "CONV-I p.59",
        K.CONVERSION,
        [stock(100, 115), opt(-1, 6.5, 115, True, 110), opt(1, 1.35, 115, False, 110)],
        "initial",
        5885.0,
    ),
    (
        "RCONV-M p.60",
        K.REVERSE_CONVERSION,
        [stock(-100, 115), opt(1, 6.5, 115, True, 110), opt(-1, 1.35, 115, False, 110)],
        "maintenance",
        12100.0,
    ),
    (
        "RCONV-I p.60",
        K.REVERSE_CONVERSION,
        [stock(-100, 115), opt(1, 6.5, 115, True, 110), opt(-1, 1.35, 115, False, 110)],
        "initial",
        17900.0,
    ),
    (
        "RCONV-ITM p.61",
        K.REVERSE_CONVERSION,
        [stock(-100, 71.90), opt(1, 0, 71.90, True, 75), opt(-1, 0, 71.90, False, 75)],
        "maintenance",
        8560.0,
    ),
    (
        "COLLAR p.61",
        K.COLLAR,
        [stock(100, 31.75), opt(1, 0, 31.75, False, 30), opt(-1, 0, 31.75, True, 35)],
        "maintenance",
        475.0,
    ),
]


@pytest.mark.parametrize("case", LONGS, ids=[c[0] for c in LONGS])
def test_long_options(case):
    _, leg, cls, want = case
    assert req(K.LONG_OPTION, [leg], cls).initial == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("case", SHORTS, ids=[c[0] for c in SHORTS])
def test_naked_shorts(case):
    _, leg, cls, lev, want = case
    assert req(K.NAKED_SHORT, [leg], cls, lev).initial == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("case", SPREADS, ids=[c[0] for c in SPREADS])
def test_strategies(case):
    _, kind, legs, cls, want, cash = case
    r = req(kind, legs, cls)
    assert r.initial == pytest.approx(want, abs=1e-9)
    if cash is not None:
        assert r.initial - r.proceeds == pytest.approx(cash, abs=1e-9)


@pytest.mark.parametrize("case", HEDGES, ids=[c[0] for c in HEDGES])
def test_hedged_stock(case):
    _, kind, legs, which, want = case
    assert getattr(req(kind, legs), which) == pytest.approx(want, abs=1e-9)


def test_what_is_not_the_strategy_is_refused():
    # p. 42: a long that expires before the short is no spread
    with pytest.raises(InvalidInputError) as e:
        req(K.SPREAD, [opt(1, 5, 75, True, 70, 3), opt(-1, 8, 75, True, 70, 6)])
    assert e.value.field == "months"
    with pytest.raises(InvalidInputError):  # two calls long against one short: not equal numbers
        req(K.SPREAD, [opt(2, 5, 75, True, 70), opt(-1, 8, 75, True, 80)])
    with pytest.raises(InvalidInputError):  # 50 shares do not cover a 100-share call
        req(K.COVERED_CALL, [stock(50, 90), opt(-1, 7, 90, True, 90)])
    with pytest.raises(InvalidInputError) as e:
        req(K.NAKED_SHORT, [opt(-1, float("nan"), 90, True, 90)])
    assert e.value.field == "price"


# --- grouping a book -----------------------------------------------------------------------

AS_OF = date(2026, 12, 4)


def leg(name, kind, q, price, strike=0.0, expiry=date(2027, 1, 15), und="X", european=False):
    return BookLeg(
        name, und, kind, q, price, strike, None if kind == "stock" else expiry, 100.0, european
    )


def test_grouping_reproduces_the_manual_where_legs_cannot_pair():
    # p. 42 (CS2): long Mar 70 call at 5, short Jun 70 call at 8, stock 75: 500 + 800 + 1,500
    book = [
        leg("L", "call", 1, 5.0, 70, date(2027, 3, 19)),
        leg("S", "call", -1, 8.0, 70, date(2027, 6, 18)),
    ]
    g = group_book(book, {"X": 75.0}, AS_OF)
    assert g.initial == pytest.approx(2800.0)
    assert {s[0] for s in g.strategies} == {K.LONG_OPTION, K.NAKED_SHORT}
    # p. 43 (CS3), broad index: long Nov 425 call at 13.10, short Dec 430 call at 12.20,
    # index 433.35: 1,310 + 1,220 + 6,500.25
    book = [
        leg("L", "call", 1, 13.10, 425, date(2026, 12, 18)),
        leg("S", "call", -1, 12.20, 430, date(2027, 1, 15)),
    ]
    g = group_book(book, {"X": 433.35}, AS_OF, BROAD)
    assert g.initial == pytest.approx(9030.25)
    # p. 41 (PS4), broad index: long 1 put, 5 months, 430 at 7.90 (index 433.40) against short 10
    # reduced-value 42.5 puts, 18 months, at 2 (43.34): the long expires first: 790 + 10 x 766.10
    book = [
        leg("L", "put", 1, 7.90, 430, date(2027, 5, 7), und="SPX"),
        leg("S", "put", -10, 2.0, 42.5, date(2028, 6, 16), und="XSP"),
    ]
    g = group_book(book, {"SPX": 433.40, "XSP": 43.34}, AS_OF, BROAD)
    assert g.initial == pytest.approx(8451.0)


def _brute_force(book, prices):
    """The least requirement over every way to cut the book into the strategies the
    candidates allow, by enumeration (independent of the integer programme)."""
    from pymargin.strategy.regt_grouping import _setup

    p = _setup(book, prices, AS_OF, EQ, 1.0, True)
    cands, im, usage, sizes = p.cands, p.im, p.usage, p.sizes
    multi = [t for t in range(len(cands)) if len(cands[t].usage) > 1]
    single = {cands[t].usage[0][0]: t for t in range(len(cands)) if len(cands[t].usage) == 1}
    best = np.inf
    ranges = [
        range(int(min(sizes[usage[:, t] > 0] / usage[usage[:, t] > 0, t])) + 1) for t in multi
    ]
    for units in itertools.product(*ranges):
        left = sizes - sum((u * usage[:, t] for t, u in zip(multi, units)), np.zeros(len(sizes)))
        if (left < -1e-9).any():
            continue
        cost = sum(u * im[t] for t, u in zip(multi, units)) + sum(
            left[k] * im[single[k]] for k in range(len(sizes))
        )
        best = min(best, cost)
    return best


# Legs where a greedy pass goes wrong: the 95/105/110 put butterfly (1:-2:1, unequal wings)
# saves the most per unit, so greedy forms it first; but its wings leave 500 of maximum loss,
# and the long 95 puts are worth nothing. Two 110/105 debit verticals carry no risk at all:
# optimal 3,915 (two verticals 2,600, one 110 put 1,300, three 95 puts 15) against greedy
# 4,415 (the butterfly 1,805, two 110 puts 2,600, two 95 puts 10).
TRAP = [
    leg("P95", "put", 3, 0.05, 95),
    leg("P110", "put", 3, 13.0, 110),
    leg("P105", "put", -2, 8.0, 105),
]


def test_optimal_grouping_is_the_least_requirement_and_beats_greedy_here():
    prices = {"X": 100.0}
    cmp = compare_groupings(TRAP, prices, AS_OF)
    assert cmp.optimal.initial == pytest.approx(_brute_force(TRAP, prices), rel=1e-12)
    assert cmp.optimal.optimal
    assert cmp.optimal.initial <= cmp.greedy.initial + 1e-9
    assert (cmp.optimal.initial, cmp.greedy.initial) == pytest.approx((3915.0, 4415.0))
    assert cmp.saving_vs_greedy == pytest.approx(500.0)
    assert cmp.optimal.initial < cmp.naked.initial
    # every leg is used exactly once over the strategies
    used = np.zeros(len(TRAP))
    for _, usage, units, _, _ in cmp.optimal.strategies:
        for k, q in usage:
            used[k] += abs(q) * units
    assert np.allclose(used, [abs(b.quantity) for b in TRAP])


@pytest.mark.parametrize("seed", range(12))
def test_optimal_grouping_matches_enumeration_on_random_books(seed):
    rng = np.random.default_rng(seed)
    strikes = [90.0, 95.0, 100.0, 105.0, 110.0]
    book = []
    for k in rng.choice(len(strikes), size=4, replace=False):
        kind = "call" if rng.random() < 0.6 else "put"
        q = int(rng.choice([-2, -1, 1, 2]))
        price = max(0.05, (100 - strikes[k] if kind == "call" else strikes[k] - 100) + 3.0)
        book.append(leg(f"{kind}{strikes[k]:g}", kind, q, price, strikes[k]))
    prices = {"X": 100.0}
    g = group_book(book, prices, AS_OF)
    assert g.initial == pytest.approx(_brute_force(book, prices), rel=1e-12)
    assert g.initial <= greedy_grouping(book, prices, AS_OF).initial + 1e-9


def test_bad_book_rows_are_named():
    with pytest.raises(InvalidInputError) as e:
        group_book([leg("a", "call", 1.5, 1.0, 100)], {"X": 100.0}, AS_OF)
    assert (e.value.field, e.value.index) == ("quantity", 0)
    with pytest.raises(InvalidInputError) as e:
        group_book(
            [leg("a", "call", 1, 1.0, 100), leg("b", "call", -1, 1.0, 100, und="Y")],
            {"X": 100.0},
            AS_OF,
        )
    assert (e.value.field, e.value.index) == ("underlying", 1)


def test_stock_books_group_into_hedges_as_enumeration_says():
    prices = {"X": 100.0}
    book = [
        leg("S", "stock", 300, 100.0),
        leg("C105", "call", -2, 2.5, 105),
        leg("P95", "put", 1, 2.0, 95),
        leg("C110", "call", -2, 1.2, 110),
        leg("P100", "put", -1, 4.0, 100),
    ]
    g = group_book(book, prices, AS_OF)
    assert g.initial == pytest.approx(_brute_force(book, prices), rel=1e-12)
    kinds = {s[0] for s in g.strategies}
    assert K.COVERED_CALL in kinds or K.COLLAR in kinds
    # short stock: the short put covers it (covered put), the long call hedges it
    short_book = [
        leg("S", "stock", -200, 100.0),
        leg("P95", "put", -1, 2.0, 95),
        leg("C105", "call", 1, 2.5, 105),
    ]
    g = group_book(short_book, prices, AS_OF)
    assert g.initial == pytest.approx(_brute_force(short_book, prices), rel=1e-12)


def test_cli_regt_prints_the_saving_against_greedy(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    book = Path(__file__).parents[2] / "examples" / "regt_book.csv"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymargin",
            "regt",
            str(book),
            "--price",
            "IBIT=52.30",
            "--as-of",
            "2026-12-04",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    r = json.loads(out.stdout)
    assert r["saving_vs_greedy"] == pytest.approx(r["greedy"]["initial"] - r["optimal"]["initial"])
    assert r["saving_vs_greedy"] > 0 and r["optimal"]["solved_to_optimality"]
    assert r["optimal"]["initial"] < r["each_leg_alone"]["initial"]
    bad = tmp_path / "bad.csv"
    bad.write_text("underlying,type,strike,expiry,quantity,price\nIBIT,call,50,2027-01-15,x,1\n")
    err = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymargin",
            "regt",
            str(bad),
            "--price",
            "IBIT=50",
            "--as-of",
            "2026-12-04",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert err.returncode != 0 and "quantity" in err.stderr and "[0]" in err.stderr
