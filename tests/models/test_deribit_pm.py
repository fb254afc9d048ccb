"""Deribit portfolio margin against Deribit's own published pme/simulate responses.

Sources (tests/data/README.md): the official API documentation example of
private/pme/simulate (BTC, model_params of 2024-06-17; docs.deribit.com/api-reference/
account-management/private-simulate.md) and a live mainnet ETH response of 2026-02-15 published
on GitHub (venoajie/trading-shared). Both hold inverse futures/perpetuals only.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import pymargin as pm
from pymargin.market.market import Mark, Market
from pymargin.models import DeribitPMParams, ModelParameterError, deribit_pm_margin

DATA = Path(__file__).resolve().parents[1] / "data"


def _load(name):
    doc = json.loads((DATA / name).read_text())
    return doc["response"]["result"]


def _case(result):
    mp = result["model_params"]
    params = DeribitPMParams.from_model_params(mp, "test fixture")
    stamp = datetime.fromtimestamp(mp["general"]["timestamp"] / 1000, tz=timezone.utc)
    index = {k.upper(): v for k, v in result["index_price"].items()}
    marks = {name: Mark(mark_price=t["mark_price"]) for name, t in result["ticker"].items()}
    market = Market(stamp, index, marks)
    positions = result["portfolio"]["position"]
    return params, market, positions


@pytest.mark.parametrize(
    "fixture,extras",
    [
        (
            "deribit_pme_simulate_btc_example.json",
            {"mmp_margin": 0.06, "open_orders_margin": 1.8212e-05},
        ),
        ("deribit_pme_simulate_eth_capture.json", {}),
    ],
)
def test_reproduces_deribit_pme_simulate(fixture, extras):
    res = _load(fixture)
    params, market, positions = _case(res)
    got = deribit_pm_margin(positions, market, params, **extras)
    # Per-instrument risk vectors: standard bit for bit, extended to 1 ulp.
    for name, vec in res["initial_risk_vectors"].items():
        np.testing.assert_array_equal(
            got.initial_risk_vectors[name]["standard"], np.array(vec["standard"]), err_msg=name
        )
        np.testing.assert_allclose(
            got.initial_risk_vectors[name]["extended"],
            np.array(vec["extended"]),
            rtol=4e-16,
            atol=0,
            err_msg=name,
        )
    for key, vec in res.get("pre_aggregated_risk_vectors", {}).items():
        np.testing.assert_array_equal(
            got.pre_aggregated_risk_vectors[key]["standard"], np.array(vec["standard"])
        )
    for key, vec in res["aggregated_risk_vectors"].items():
        np.testing.assert_array_equal(
            got.aggregated_risk_vectors[key]["standard"], np.array(vec["standard"])
        )
        np.testing.assert_array_equal(
            got.aggregated_risk_vectors[key]["extended"], np.array(vec["extended"])
        )
    ((ccy, want),) = res["margins"].items()
    mine = got.margins_dict()[ccy]
    d_want = want["initial_margin_details"]
    d_mine = mine["initial_margin_details"]
    r_want = d_want["risk_matrix_margin_details"]
    r_mine = d_mine["risk_matrix_margin_details"]
    assert r_mine["worst_case"] == r_want["worst_case"]
    assert r_mine["worst_case_bucket"] == r_want["worst_case_bucket"]
    assert r_mine["roll_shock"] == pytest.approx(r_want["roll_shock"], rel=1e-15)
    assert r_mine["delta_shock"] == r_want["delta_shock"]
    assert r_mine["correlation_contingency"] == r_want["correlation_contingency"]
    assert d_mine["risk_matrix_margin"] == pytest.approx(d_want["risk_matrix_margin"], abs=5e-13)
    assert mine["initial_margin"] == pytest.approx(want["initial_margin"], abs=5e-13)
    assert mine["maintenance_margin"] == pytest.approx(want["maintenance_margin"], abs=5e-13)
    assert "worst case" in got.explain()


def test_parameter_files_load_and_bad_fields_are_named():
    assert pm.models.available_versions("deribit_pm") == ["2024-06-17", "2026-02-15"]
    p = DeribitPMParams.load("2024-06-17")
    assert p.pairs["btc_usd"].price_range == 0.16 and p.mm_factor == 0.8
    mp = json.loads(json.dumps(p.raw))
    del mp["currency_pair"]["btc_usd"]["price_range"]
    with pytest.raises(ModelParameterError) as e:
        DeribitPMParams.from_model_params(mp)
    assert e.value.field == "model_params.currency_pair.btc_usd.price_range"
    mp = json.loads(json.dumps(p.raw))
    mp["currency"]["btc"]["pnl_offset"] = 1.5
    with pytest.raises(ModelParameterError) as e:
        DeribitPMParams.from_model_params(mp)
    assert e.value.field == "model_params.currency.btc.pnl_offset"


def test_bad_portfolios_are_refused():
    res = _load("deribit_pme_simulate_btc_example.json")
    params, market, _ = _case(res)
    with pytest.raises(pm.InvalidInputError) as e:
        deribit_pm_margin({"BTC-PERPETUAL": float("nan")}, market, params)
    assert e.value.field == "size"
    with pytest.raises(pm.InvalidInputError):
        deribit_pm_margin({"BTC-PERPETUAL": 1.0, "BTC_USDC-PERPETUAL": 1.0}, market, params)
    with pytest.raises(pm.InvalidInputError) as e:
        deribit_pm_margin({"BTC-PERPETUAL-X": 1.0}, market, params)
    assert e.value.field == "name"


def test_options_portfolio_runs_and_is_consistent():
    """No published example has options: check the model's internal consistency on one.
    A short OTM put's worst case is a down move with vol up, and MM = 0.8 x RMM."""
    params = DeribitPMParams.load("2024-06-17")
    t0 = datetime(2024, 6, 17, 10, 0, tzinfo=timezone.utc)
    market = Market(
        t0,
        {"BTC_USD": 65666.19},
        {
            "BTC-28JUN24-60000-P": Mark(underlying_price=66000.0, mark_iv=0.55),
            "BTC-28JUN24": Mark(mark_price=66000.0),
        },
    )
    got = deribit_pm_margin({"BTC-28JUN24-60000-P": -2.0}, market, params)
    b = got.worst_case_bucket
    assert b["source"] == "standard" and b["bucket"] == 1 and b["side"] == "left"
    vec = got.initial_risk_vectors["BTC-28JUN24-60000-P"]["standard"]
    assert vec[0] < vec[1] < vec[2] < 0  # bucket 1: vol up worst, then unchanged, then down
    assert got.maintenance_margin == pytest.approx(0.8 * got.risk_matrix_margin, rel=1e-15)
    hedged = deribit_pm_margin({"BTC-28JUN24-60000-P": -2.0, "BTC-28JUN24": -0.5}, market, params)
    assert hedged.worst_case < got.worst_case  # a short future offsets the short put's delta


def test_extended_dampener_is_converted_to_coin_only_for_coin_groups():
    # The dampener is USD. A coin group converts it at the move's edge price, (1 + sign(M)
    # range) x index (Deribit's coin formula); a USDC group has nothing to convert.
    from pymargin.models.vectors import EXTENDED_MOVES, extended_dampeners

    p = DeribitPMParams.load("2024-06-17")
    pp, cp = p.pairs["btc_usd"], p.currency_params("btc")
    assert cp is not None
    usd = extended_dampeners(pp, cp, 90_000.0, True)
    coin = extended_dampeners(pp, cp, 90_000.0, False)
    for k, m in enumerate(EXTENDED_MOVES):
        want_usd = (abs(m) / pp.price_range - 1.0) * cp.extended_dampener
        assert usd[k] == pytest.approx(want_usd, rel=1e-15)
        edge = (1.0 + (pp.price_range if m > 0 else -pp.price_range)) * 90_000.0
        assert coin[k] == pytest.approx(want_usd / edge, rel=1e-15)
