"""Deribit standard margin.

Linear perpetuals: Deribit's own worked table in the support article 'Linear Perpetual'
(https://support.deribit.com/hc/en-us/articles/25944738177565-Linear-Perpetual): BTC index
100,000 USD; SOL 200 USD. Options: the formula as republished for Deribit by doc.tslab.pro and
published by bit.com; the numbers are a third party's unit tests of that formula (a QuantConnect
Lean fork, DeribitOptionMarginModelTest.cs), not venue output.
"""

from datetime import datetime, timezone

import pytest

import pymargin as pm
from pymargin.models.deribit_standard import deribit_standard_margin
from pymargin.models.params import ModelParameterError

T0 = datetime(2025, 12, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "size,im_usdc,mm_usdc",
    [(25.0, 53_125.0, 28_125.0), (350.0, 1_312_500.0, None), (-25.0, 53_125.0, 28_125.0)],
)
def test_btc_usdc_perpetual_matches_deribit_table(size, im_usdc, mm_usdc):
    mkt = pm.Market(T0, {"BTC_USD": 100_000.0})
    (r,) = deribit_standard_margin({"BTC_USDC-PERPETUAL": size}, mkt)
    assert r.currency == "USDC"
    assert r.initial_margin == pytest.approx(im_usdc, rel=1e-12)
    if mm_usdc is not None:
        assert r.maintenance_margin == pytest.approx(mm_usdc, rel=1e-12)


@pytest.mark.parametrize(
    "size,im_usdc,mm_usdc", [(25.0, 200.625, 100.625), (6000.0, 84_000.0, None)]
)
def test_sol_usdc_perpetual_matches_deribit_table(size, im_usdc, mm_usdc):
    mkt = pm.Market(T0, {"SOL_USD": 200.0})
    (r,) = deribit_standard_margin({"SOL_USDC-PERPETUAL": size}, mkt)
    assert r.initial_margin == pytest.approx(im_usdc, rel=1e-12)
    if mm_usdc is not None:
        assert r.maintenance_margin == pytest.approx(mm_usdc, rel=1e-12)


def test_short_options_formula_third_party_cases():
    # S = 10,000, K = 9,000, mark 0.025 BTC: short call IM 0.175 / MM 0.100 BTC, short put
    # IM 0.125 / MM 0.100 BTC (OTM 1,000: 0.15 - 0.1 floored at 0.10), long: nothing.
    mkt = pm.Market(
        T0,
        {"BTC_USD": 10_000.0},
        {
            "BTC-26DEC25-9000-C": pm.Mark(mark_price=0.025),
            "BTC-26DEC25-9000-P": pm.Mark(mark_price=0.025),
        },
    )
    call, put = deribit_standard_margin(
        {"BTC-26DEC25-9000-C": -1.0, "BTC-26DEC25-9000-P": -1.0}, mkt
    )
    assert (call.initial_margin, call.maintenance_margin) == pytest.approx((0.175, 0.100))
    assert (put.initial_margin, put.maintenance_margin) == pytest.approx((0.125, 0.100))
    (long_call,) = deribit_standard_margin({"BTC-26DEC25-9000-C": 3.0}, mkt)
    assert long_call.initial_margin == 0.0 and long_call.maintenance_margin == 0.0


@pytest.mark.parametrize("size,im_pct,im_btc", [(25.0, 2.125, 0.53125), (350.0, 3.75, 13.125)])
def test_inverse_btc_futures_reproduce_deribits_size_scaled_table(size, im_pct, im_btc):
    """Deribit's futures specification (test.deribit.com/pages/docs/futures): IM 2 % rising
    0.5 % per 100 BTC; its examples 25 BTC -> 2.125 % = 0.53125 BTC and 350 BTC -> 3.75 % =
    13.125 BTC. MM from the same page: 1.5 % rising 0.5 % per 100 BTC."""
    mkt = pm.Market(T0, {"BTC_USD": 100_000.0})
    for name in ("BTC-PERPETUAL", "BTC-26DEC25"):
        (r,) = deribit_standard_margin({name: -size}, mkt)
        assert r.currency == "BTC"
        assert r.initial_margin == pytest.approx(im_btc, rel=1e-15)
        assert r.initial_margin / size * 100 == pytest.approx(im_pct, rel=1e-14)
        assert r.maintenance_margin == pytest.approx(size * (0.015 + 0.00005 * size), rel=1e-15)


# Deribit's announcement "11 January 2022"
# (https://support.deribit.com/hc/en-us/articles/25944826427293-11-January-2022), its table of
# the new rates: ETH IM 2 % + (position size in ETH) x 0.0004 %, MM 1 % + 0.0004 % per ETH;
# BTC IM 2 % + 0.005 % per BTC, MM 1 % + 0.005 % per BTC.
@pytest.mark.parametrize("size", [1_000.0, 25_000.0])
def test_eth_inverse_futures_follow_deribits_2022_table(size):
    mkt = pm.Market(T0, {"ETH_USD": 3_000.0})
    for name in ("ETH-PERPETUAL", "ETH-26DEC25"):
        (r,) = deribit_standard_margin({name: -size}, mkt)
        assert r.currency == "ETH"
        assert r.initial_margin == pytest.approx(size * (0.02 + 0.000004 * size), rel=1e-15)
        assert r.maintenance_margin == pytest.approx(size * (0.01 + 0.000004 * size), rel=1e-15)
    # 1,000 ETH: IM 2.4 % = 24 ETH, MM 1.4 % = 14 ETH
    (r,) = deribit_standard_margin({"ETH-PERPETUAL": 1_000.0}, mkt)
    assert (r.initial_margin, r.maintenance_margin) == pytest.approx((24.0, 14.0), rel=1e-15)


def test_the_2022_version_is_in_force_from_its_day():
    """From 11 January 2022 to 30 November 2025 the announcement's rates apply: BTC MM 1 % +
    0.005 % per BTC (25 BTC: 0.28125 BTC, against 0.40625 under the testnet page's 1.5 %);
    linear perpetuals, which the announcement does not cover, are refused naming the version."""
    mkt = pm.Market(datetime(2023, 6, 1, tzinfo=timezone.utc), {"BTC_USD": 30_000.0})
    (r,) = deribit_standard_margin({"BTC-PERPETUAL": -25.0}, mkt)
    assert (r.initial_margin, r.maintenance_margin) == pytest.approx((0.53125, 0.28125), rel=1e-15)
    with pytest.raises(ModelParameterError, match="BTC_USDC"):
        deribit_standard_margin({"BTC_USDC-PERPETUAL": 1.0}, mkt)
    before = pm.Market(datetime(2021, 6, 1, tzinfo=timezone.utc), {"BTC_USD": 30_000.0})
    (r,) = deribit_standard_margin({"BTC-PERPETUAL": -25.0}, before)  # the oldest shipped
    assert r.maintenance_margin == pytest.approx(0.28125, rel=1e-15)


def test_unpublished_instruments_are_refused():
    mkt = pm.Market(T0, {"BTC_USD": 100_000.0, "ETH_USD": 3000.0})
    with pytest.raises(ModelParameterError) as e:
        deribit_standard_margin({"ETH_USDC-26DEC25-3000-C": -1.0}, mkt)
    assert "linear" in str(e.value)


def test_standard_versus_portfolio_margin_side_by_side():
    """A covered position: portfolio margin credits the hedge, standard margin cannot."""
    mkt = pm.Market(
        T0,
        {"BTC_USD": 100_000.0},
        {
            "BTC-26DEC25-110000-C": pm.Mark(
                mark_price=0.02, underlying_price=100_500.0, mark_iv=0.5
            ),
            "BTC-26DEC25": pm.Mark(mark_price=100_500.0),
        },
    )
    pf = pm.Portfolio({"BTC-26DEC25-110000-C": -1.0})
    sm = pm.margin(pf, mkt, pm.MarginModel.DERIBIT_STANDARD)
    assert sm.initial_margin == pytest.approx(max(0.15 - 10_000 / 100_000, 0.10) + 0.02)
    assert "no offsets" in sm.explain()
    pmr = pm.margin(pf, mkt, pm.MarginModel.DERIBIT_PM)
    assert 0 < pmr.initial_margin < sm.initial_margin
