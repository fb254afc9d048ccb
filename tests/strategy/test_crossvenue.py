"""Cross-venue margin: each venue as the ordinary engine computes it, the unified portfolio,
and an allocation that is verified, feasible and no worse than any single venue."""

import pytest

import pymargin as pm
from pymargin.exceptions import InvalidInputError, NoSolutionError
from pymargin.market.bundled import demo_market
from pymargin.strategy.crossvenue import Placement, VenueAccount, allocate, cross_venue_view

M = demo_market("BTC")
S = M.index_price("BTC_USD")
DERIBIT = VenueAccount(
    "deribit",
    pm.MarginModel.DERIBIT_PM,
    {"BTC-26DEC25-85000-P": -10.0, "BTC-26DEC25-100000-C": -5.0},
    {"BTC": 3.0},
    {"BTC": 0.1},
    currency="btc",
)
PARADEX = VenueAccount(
    "paradex",
    pm.MarginModel.PARADEX_PM,
    {"BTC_USDC-PERPETUAL": 4.0, "BTC_USDC-26DEC25-80000-P": 5.0},
    {"USDC": 150_000.0},
)
PLACE = [
    Placement("perp", -6.0, {"deribit": "BTC-PERPETUAL", "paradex": "BTC_USDC-PERPETUAL"}),
    Placement(
        "puts", 8.0, {"deribit": "BTC-26DEC25-90000-P", "paradex": "BTC_USDC-26DEC25-90000-P"}
    ),
    Placement(
        "calls", -4.0, {"deribit": "BTC-26DEC25-110000-C", "paradex": "BTC_USDC-26DEC25-110000-C"}
    ),
]


def test_view_is_each_venue_under_its_own_model():
    v = cross_venue_view([DERIBIT, PARADEX], M)
    d = pm.margin(DERIBIT.positions, M, pm.MarginModel.DERIBIT_PM, currency="btc")
    p = pm.margin(PARADEX.positions, M, pm.MarginModel.PARADEX_PM)
    assert v.venues[0].initial_margin_usd == pytest.approx(d.initial_margin * S, rel=1e-12)
    assert v.venues[1].initial_margin_usd == pytest.approx(p.initial_margin, rel=1e-12)
    assert v.venues[0].collateral_usd == pytest.approx(3.0 * S * 0.9)
    assert v.total_initial_margin_usd == pytest.approx(d.initial_margin * S + p.initial_margin)
    merged = {**DERIBIT.positions, **PARADEX.positions}
    u = pm.margin(merged, M, pm.MarginModel.DERIBIT_XPM, collateral={"BTC": 3.0, "USDC": 150e3})
    assert v.unified_initial_margin_usd == pytest.approx(u.initial_margin, rel=1e-12)
    f = cross_venue_view([DERIBIT, PARADEX], M, unified_model=pm.MarginModel.FINRA_PM)
    assert f.unified_initial_margin_usd == pytest.approx(
        pm.margin(merged, M, pm.MarginModel.FINRA_PM).initial_margin
    )


def test_allocation_is_verified_feasible_and_beats_single_venues():
    r = allocate([DERIBIT, PARADEX], M, PLACE)
    assert r.verified_total_initial_margin_usd == pytest.approx(
        r.total_initial_margin_usd, rel=1e-9
    )
    for p in PLACE:
        assert sum(r.allocation[p.name].values()) == pytest.approx(p.size, rel=1e-9)
    for v in r.venues:
        assert v.initial_margin_usd <= v.collateral_usd * (1 + 1e-9)
    assert r.single_venue_usd and all(
        r.verified_total_initial_margin_usd <= x + 1e-6 for x in r.single_venue_usd.values()
    )
    whole = allocate([DERIBIT, PARADEX], M, PLACE, split=False)
    for p in PLACE:
        assert len(whole.allocation[p.name]) == 1
    assert r.verified_total_initial_margin_usd <= whole.verified_total_initial_margin_usd + 1e-6
    assert whole.verified_total_initial_margin_usd == pytest.approx(
        whole.total_initial_margin_usd, rel=1e-9
    )


def test_collateral_limits_bind_or_make_it_infeasible():
    poor = VenueAccount("paradex", pm.MarginModel.PARADEX_PM, PARADEX.positions, {"USDC": 1.0})
    with pytest.raises(NoSolutionError):
        allocate([DERIBIT, poor], M, PLACE)
    ok = allocate([DERIBIT, poor], M, PLACE, respect_collateral=False)
    assert ok.verified_total_initial_margin_usd > 0


def test_bad_venue_input_is_named():
    with pytest.raises(InvalidInputError) as e:
        VenueAccount("x", pm.MarginModel.DERIBIT_PM, {}, {"BTC": -1.0})
    assert e.value.field == "collateral"
    with pytest.raises(InvalidInputError):
        allocate([DERIBIT], M, [Placement("p", 1.0, {"nowhere": "BTC-PERPETUAL"})])
    with pytest.raises(InvalidInputError):
        Placement("p", float("nan"), {"deribit": "BTC-PERPETUAL"})


def test_venues_without_placements_count_in_the_optimum():
    finra = VenueAccount(
        "finra", pm.MarginModel.FINRA_PM, {"BTC-26DEC25-90000-C": -3.0}, {"USDC": 1e6}
    )
    r = allocate([DERIBIT, PARADEX, finra], M, PLACE)
    assert r.verified_total_initial_margin_usd == pytest.approx(
        r.total_initial_margin_usd, rel=1e-9
    )
    alone = allocate([DERIBIT, PARADEX], M, PLACE)
    fixed = pm.margin(finra.positions, M, pm.MarginModel.FINRA_PM).initial_margin
    assert r.total_initial_margin_usd == pytest.approx(
        alone.total_initial_margin_usd + fixed, rel=1e-9
    )


def test_currencies_are_matched_case_blind_and_haircuts_need_collateral():
    a = VenueAccount("d", pm.MarginModel.DERIBIT_PM, {}, {"btc": 1.0}, {"BTC": 0.5})
    assert a.collateral_usd(M) == pytest.approx(0.5 * S)
    with pytest.raises(InvalidInputError) as e:
        VenueAccount("d", pm.MarginModel.DERIBIT_PM, {}, {"BTC": 1.0}, {"ETH": 0.5})
    assert e.value.field == "haircuts"
