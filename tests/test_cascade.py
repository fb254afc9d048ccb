"""The liquidation cascade: conservation, monotonicity in the shock, and the zero-impact case
equal to the single-round stress (batch margin at the shocked price)."""

import dataclasses

import numpy as np
import pytest

from pymargin.batch import batch_margin_csr, venue_risk
from pymargin.cascade import ImpactModel, liquidation_cascade
from pymargin.demo import demo_market

M = demo_market("BTC")
NAMES = ["BTC-PERPETUAL", "BTC-26DEC25", "BTC-26DEC25-85000-P", "BTC-26DEC25-100000-C"]


def _venue(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    inst = rng.integers(0, len(NAMES), offsets[-1]).astype(np.int32)
    amt = np.where(inst < 2, rng.uniform(1, 20, len(inst)), -rng.uniform(1, 10, len(inst)))
    coll = rng.uniform(0.5, 6, n)
    return offsets, inst, amt, coll


def test_positions_and_collateral_are_conserved():
    offsets, inst, amt, coll = _venue()
    r = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.08)
    left = np.zeros(len(NAMES))
    np.add.at(left, inst, r.details["amounts"])
    start = np.zeros(len(NAMES))
    np.add.at(start, inst, amt)
    np.testing.assert_allclose(left + r.venue_book, start, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(r.details["collateral"], coll)
    assert r.liquidated.sum() == sum(x.liquidated for x in r.rounds)
    assert r.shortfall == pytest.approx(sum(x.shortfall for x in r.rounds))
    assert len(r.rounds) > 1 and r.amplification > 1


def test_monotone_in_the_shock():
    offsets, inst, amt, coll = _venue()
    results = [
        liquidation_cascade(M, NAMES, offsets, inst, amt, coll, s, impact=ImpactModel(adv=30_000))
        for s in (-0.03, -0.06, -0.09, -0.12)
    ]
    moves = [r.final_move for r in results]
    assert moves == sorted(moves, reverse=True)
    counts = [int(r.liquidated.sum()) for r in results]
    assert counts == sorted(counts)
    shortfalls = [r.shortfall for r in results]
    assert shortfalls == sorted(shortfalls)


def test_zero_impact_is_the_single_round_stress():
    offsets, inst, amt, coll = _venue()
    r = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.1, impact=ImpactModel(y=0.0))
    assert len(r.rounds) == 1 and r.final_move == -0.1
    moved = M.shifted({"BTC_USD": -0.1})
    risk = venue_risk(moved, NAMES)
    future = np.array([1.0, 1.0, 0.0, 0.0])
    risk = dataclasses.replace(risk, value=risk.value + future * (-0.1 / 0.9))
    out = batch_margin_csr(risk, offsets, inst, amt, coll)
    np.testing.assert_array_equal(r.liquidated, out["status"] == 2)
    linear = liquidation_cascade(
        M, NAMES, offsets, inst, amt, coll, -0.1, impact=ImpactModel(kind="linear", depth=np.inf)
    )
    np.testing.assert_array_equal(linear.liquidated, r.liquidated)


def test_dealer_gamma_hedging_adds_flow():
    offsets, inst, amt, coll = _venue()
    dealers = np.zeros(len(coll), dtype=bool)
    dealers[::10] = True
    base = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05)
    with_dealers = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05, dealers=dealers)
    assert with_dealers.final_move != base.final_move


def test_reports_when_it_stops_before_converging():
    offsets, inst, amt, coll = _venue()
    full = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.08)
    assert full.converged and len(full.rounds) > 2
    cut = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.08, max_rounds=2)
    assert not cut.converged and len(cut.rounds) == 2
    assert [r.price for r in cut.rounds] == [r.price for r in full.rounds[:2]]


def test_bad_input_is_named():
    offsets, inst, amt, coll = _venue(50)
    from pymargin.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError) as e:
        liquidation_cascade(M, NAMES, offsets, inst, amt, coll, float("nan"))
    assert e.value.field == "shock"
    with pytest.raises(InvalidInputError) as e:
        liquidation_cascade(M, NAMES, offsets[:-1], inst, amt, coll, -0.1)
    assert e.value.field == "offsets"
    amt = amt.copy()
    amt[7] = np.inf
    with pytest.raises(InvalidInputError) as e:
        liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.1)
    assert (e.value.field, e.value.index) == ("amount", 7)
