"""The liquidation cascade: conservation, monotonicity in the shock, and the zero-impact case
equal to the single-round stress (batch margin at the shocked price, inverse futures held at
their USD notional)."""

import dataclasses

import numpy as np
import pytest

import pymargin.exceptions as pm_errors
from pymargin.accounts.batch import batch_margin_csr, venue_risk
from pymargin.accounts.cascade import ImpactKind, ImpactModel, liquidation_cascade
from pymargin.market.bundled import demo_market

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
    # the two inverse futures are USD contracts: a coin of them at the start is 1 / 0.9 coin
    # after the fall, each worth -0.1 (their coin P&L -0.1 / 0.9 per coin at the start)
    future = np.array([1.0, 1.0, 0.0, 0.0])
    risk = dataclasses.replace(risk, value=risk.value + future * -0.1)
    held = amt * np.where(future[inst] == 1.0, 1.0 / 0.9, 1.0)
    out = batch_margin_csr(risk, offsets, inst, held, coll)
    np.testing.assert_array_equal(r.liquidated, out["status"] == 2)
    linear = liquidation_cascade(
        M,
        NAMES,
        offsets,
        inst,
        amt,
        coll,
        -0.1,
        impact=ImpactModel(kind=ImpactKind.LINEAR, depth=np.inf),
    )
    np.testing.assert_array_equal(linear.liquidated, r.liquidated)


def _with_dealers(dealer_rows):
    """The test venue plus 50 well-funded dealer accounts holding ``dealer_rows``."""
    offsets, inst, amt, coll = _venue()
    n0 = len(coll)
    for _ in range(50):
        for name, size in dealer_rows:
            inst = np.append(inst, NAMES.index(name)).astype(np.int32)
            amt = np.append(amt, size)
        offsets = np.append(offsets, offsets[-1] + len(dealer_rows))
    coll = np.append(coll, np.full(50, 1e6))
    dealers = np.arange(len(coll)) >= n0
    return offsets, inst, amt, coll, dealers


def test_dealers_without_gamma_change_nothing():
    offsets, inst, amt, coll, dealers = _with_dealers([("BTC-PERPETUAL", 5.0)])
    base = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05)
    flagged = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05, dealers=dealers)
    assert flagged.final_move == base.final_move and flagged.converged
    assert [r.flow_coins for r in flagged.rounds] == [r.flow_coins for r in base.rounds]


def test_short_gamma_dealers_sell_into_a_fall():
    """Dealers short puts gain delta as the price falls and sell it: the fall goes further."""
    offsets, inst, amt, coll, dealers = _with_dealers([("BTC-26DEC25-85000-P", -20.0)])
    base = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05)
    flagged = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05, dealers=dealers)
    assert not flagged.liquidated[dealers].any()
    assert flagged.final_move < base.final_move and flagged.converged
    # round 1's extra flow is exactly the dealers' delta change between the two prices
    r0, r1 = flagged.rounds[0], flagged.rounds[1]
    d = [
        venue_risk(M.shifted({"BTC_USD": m}), NAMES).delta[NAMES.index("BTC-26DEC25-85000-P")]
        for m in (r0.move, r1.move)
    ]
    dealer_flow = -(50 * -20.0) * (d[1] - d[0])
    plain = liquidation_cascade(M, NAMES, offsets, inst, amt, coll, -0.05, max_rounds=1).rounds[0]
    assert dealer_flow < 0 and r0.flow_coins == pytest.approx(plain.flow_coins)
    liquidated_flow = r1.flow_coins - dealer_flow
    assert liquidated_flow <= 0


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


@pytest.mark.parametrize(
    "change, field",
    [
        ({"offsets": np.array([0, 3, 2])}, "offsets"),
        ({"instrument": np.array([0, 2**32])}, "instrument"),
        ({"dealers": np.zeros(3, dtype=bool)}, "dealers"),
        ({"impact": "sqrt"}, "impact"),
        ({"max_rounds": 1.5}, "max_rounds"),
        ({"vol_scale": 0.0}, "vol_scale"),
    ],
)
def test_bad_cascade_inputs_are_typed(change, field):
    offsets, inst, amt, coll = np.array([0, 2, 2]), np.array([0, 1]), np.ones(2), np.ones(2)
    kw = {"offsets": offsets, "instrument": inst}
    kw.update({k: v for k, v in change.items() if k in kw})
    extra = {k: v for k, v in change.items() if k not in kw}
    with pytest.raises(pm_errors.PymarginError) as e:
        liquidation_cascade(M, NAMES, kw["offsets"], kw["instrument"], amt, coll, -0.1, **extra)
    assert e.value.field.startswith(field)


@pytest.mark.parametrize("kw", [{"adv": 0.0}, {"adv": -5.0}, {"depth": 0.0}, {"y": float("nan")}])
def test_impact_parameters_are_checked(kw):
    with pytest.raises(pm_errors.InvalidInputError):
        ImpactModel(**kw)
