"""Edge cases of the older entry points, each found by review and fixed: typed errors instead
of builtin exceptions, offsets honoured, rows that net to zero dropped, checks that agree."""

import json
from datetime import datetime, timezone

import pytest

import pymargin as pm
from pymargin import stress
from pymargin.accounts.account import Account
from pymargin.accounts.liquidation import distance_to_liquidation
from pymargin.cli.inputs import market_from_records, read_venues
from pymargin.market import adapters
from pymargin.market.bundled import demo_market

M = demo_market("BTC")


def test_margin_entry_point_edges():
    with pytest.raises(pm.InvalidInputError) as e:
        pm.margin({}, M, pm.MarginModel.DERIBIT_STANDARD)
    assert e.value.field == "positions"
    with pytest.raises(pm.InvalidInputError) as e:
        pm.margin({"BTC-PERPETUAL": 1.0}, M, pm.MarginModel.DERIBIT_STANDARD, currency="eth")
    assert e.value.field == "currency"
    r = pm.margin({"BTC-PERPETUAL": 1.0}, M, pm.MarginModel.DERIBIT_STANDARD, currency="btc")
    assert isinstance(r.initial_margin, float) and r.initial_margin > 0
    with pytest.raises(pm.InputTypeError) as e:
        pm.margin({"BTC-PERPETUAL": 1.0}, M, pm.MarginModel.FINRA_PM, params={"foo": 1})
    assert e.value.field == "params"
    with pytest.raises(pm.InputTypeError) as e:
        pm.margin({"BTC-PERPETUAL": 1.0}, M, currency=5)
    assert e.value.field == "currency"


def test_snapshot_offsets_are_honoured():
    row = {
        "instrument_name": "BTC-26DEC25-100000-C",
        "mark_iv_pct": 50.0,
        "underlying_price": 92000.0,
        "snapshot_utc": "2025-12-05T03:00:00+02:00",
    }
    m = market_from_records([row])
    assert m.valuation_time == datetime(2025, 12, 5, 1, tzinfo=timezone.utc)
    m = market_from_records([dict(row, snapshot_utc="2025-12-05T03:00:00")])
    assert m.valuation_time == datetime(2025, 12, 5, 3, tzinfo=timezone.utc)


def test_venue_files_with_null_placements(tmp_path):
    f = tmp_path / "v.json"
    acct = {"name": "d", "model": "deribit-pm", "positions": {"BTC-PERPETUAL": 1.0}}
    f.write_text(json.dumps({"accounts": [acct], "placements": None}))
    accounts, places = read_venues(f)
    assert len(accounts) == 1 and places == []
    f.write_text(json.dumps({"accounts": [acct], "placements": {"x": 1}}))
    with pytest.raises(pm.InvalidInputError) as e:
        read_venues(f)
    assert e.value.field == "placements"


def test_pme_simulate_payloads_with_wrong_types_are_typed_errors():
    book = {"BTC-PERPETUAL": 1.0}
    ours = pm.models.deribit_pm_margin(book, M)
    good = {
        "margins": {
            "btc": {
                "initial_margin": ours.initial_margin,
                "maintenance_margin": ours.maintenance_margin,
            }
        }
    }
    assert adapters.diff_pme_simulate({"result": good}, ours) == []
    for bad, field in (
        (
            {"initial_margin_details": {"risk_matrix_margin_details": {"worst_case": "abc"}}},
            "risk_matrix_margin_details.worst_case",
        ),
    ):
        payload = {"margins": {"btc": {**good["margins"]["btc"], **bad}}}
        with pytest.raises(pm.InvalidInputError) as e:
            adapters.diff_pme_simulate({"result": payload}, ours)
        assert e.value.field == field
    payload = dict(good, aggregated_risk_vectors={"btc_btc": {"standard": None}})
    # a null vector is an empty one: reported as a length difference, not a crash
    assert any("entries" in d for d in adapters.diff_pme_simulate({"result": payload}, ours))
    payload = dict(good, aggregated_risk_vectors={"btc_btc": {"standard": ["x"]}})
    with pytest.raises(pm.InvalidInputError):
        adapters.diff_pme_simulate({"result": payload}, ours)
    payload = {"margins": {"btc": {"initial_margin": 10**400, "maintenance_margin": 0.0}}}
    assert adapters.diff_pme_simulate({"result": payload}, ours)  # a difference, no overflow


def test_deribit_payload_edges():
    rows = [
        {
            "instrument_name": "BTC-PERPETUAL",
            "kind": "future",
            "size": 1000.0,
            "size_currency": 0.01,
            "direction": "buy",
        },
        {
            "instrument_name": "BTC-PERPETUAL",
            "kind": "future",
            "size": -1000.0,
            "size_currency": -0.01,
            "direction": "sell",
        },
    ]
    assert adapters.portfolio_from_deribit({"result": rows}).positions == {}
    with pytest.raises(pm.InvalidInputError) as e:
        adapters.market_from_deribit(
            {
                "result": [
                    {"instrument_name": "BTC-26DEC25", "mark_price": -5.0, "index_price": 90000.0}
                ]
            },
            valuation_time=M.valuation_time,
        )
    assert e.value.field == "result.mark_price"
    with pytest.raises(pm.InvalidInputError) as e:
        adapters.instruments_from_deribit(
            {
                "result": [
                    {"instrument_name": "BTC-PERPETUAL", "kind": ["future"], "contract_size": 10.0}
                ]
            }
        )
    assert e.value.field == "result.kind"


def test_stress_and_liquidation_argument_edges():
    book = {"BTC-26DEC25-100000-C": -5.0}
    for kw, field in (
        ({"max_move": 1.0}, "max_move"),
        ({"max_move": 0.0}, "max_move"),
        ({"vol_beta": 1000.0}, "vol_beta"),
        ({"direction": "sideways"}, "direction"),
    ):
        with pytest.raises(pm.InvalidInputError) as e:
            stress.reverse_stress(book, M, 1e5, **kw)
        assert e.value.field == field
    up = stress.reverse_stress(book, M, 1e5, direction=stress.Direction.UP)
    assert up["move"] is None or up["move"] > 0
    empty = Account({}, {"BTC": 1.0})
    out = stress.stress_accounts([empty], M, stress.StressScenario("x", {"BTC_USD": -0.3}))
    assert out["under_maintenance"] == 0
    acct = Account(book, {"BTC": 3.0})
    with pytest.raises(pm.InvalidInputError):
        distance_to_liquidation(acct, M, hi=float("inf"))
    g = pm.greeks.portfolio_greeks(book, M)
    with pytest.raises(pm.InvalidInputError) as e:
        g.total("ETH_USD")
    assert e.value.field == "underlying"


def test_var_inputs_that_must_not_pass_silently():
    import numpy as np

    from pymargin import var
    from pymargin.market.history import joint_moves

    eth = demo_market("ETH")
    both = pm.Market(M.valuation_time, {**M.index, **eth.index}, {**M.marks, **eth.marks})
    book = {"ETH-26DEC25-3000-C": -20.0, "BTC-26DEC25-100000-C": -2.0}
    plain = var.historical_var(book, both)
    given = var.historical_var(book, both, moves=joint_moves(("ETH", "BTC")))
    assert given.var == pytest.approx(plain.var, rel=1e-12)
    with pytest.raises(pm.InvalidInputError) as e:
        var.historical_var({"BTC-26DEC25-100000-C": -2.0}, M, moves=joint_moves(("ETH",)))
    assert e.value.field == "moves"
    ten = var.historical_var(
        {"BTC-26DEC25-100000-C": -2.0}, M, moves=joint_moves(("BTC",), horizon_days=10)
    )
    assert ten.horizon_days == 10
    # the order of the positions does not change the Monte Carlo paths
    a = var.monte_carlo_var(book, both, paths=2000, seed=3)
    b = var.monte_carlo_var(dict(reversed(list(book.items()))), both, paths=2000, seed=3)
    assert a.var == b.var
    for call, field in (
        (lambda: var.parametric_var(book, both, cov=[[np.nan, 0], [0, 1]]), "cov"),
        (lambda: var.parametric_var(book, both, cov=[[-1e-3, 0], [0, 1e-3]]), "cov"),
        (lambda: var.parametric_var(book, both, horizon_days=-1), "horizon_days"),
        (lambda: var.normal_var_es([1.0], [[np.nan]]), "cov"),
        (lambda: var.monte_carlo_var(book, both, seed=-1), "seed"),
        (lambda: var.christoffersen_independence([0.5, 0.2, 0, 1]), "hits"),
        (lambda: var.cornish_fisher_quantile(0.0, 0.1, 0.1), "u"),
        (lambda: var.ledoit_wolf(np.zeros((5, 0))), "x"),
        (lambda: var.historical_var(book, both, start="garbage"), "start"),
        (
            lambda: var.scenario_pnl(book, both, ("BTC_USD", "ETH_USD"), np.zeros((2, 2)), chunk=0),
            "chunk",
        ),
    ):
        with pytest.raises(pm.PymarginError) as e:
            call()
        assert e.value.field == field


def test_scenario_and_aggregation_inputs_are_checked_before_any_cast():
    import numpy as np

    from pymargin.risk.revaluation import aggregate
    from pymargin.risk.scenarios import ScenarioSet, VolShockRule

    for states in ([1, 255], [1, 0.5], [1, float("nan")]):
        with pytest.raises(pm.InvalidInputError) as e:
            ScenarioSet(("BTC_USD",), np.zeros((2, 1)), np.array(states), (VolShockRule(),))
        assert (e.value.field, e.value.index) == ("vol_state", 1)
    risk = np.arange(12.0).reshape(3, 4)
    with pytest.raises(pm.InputTypeError):
        aggregate(risk, np.array([0.7, 2.2]), np.ones(2))
    bad = risk.copy()
    bad[1, 2] = np.nan
    with pytest.raises(pm.InvalidInputError) as e:
        aggregate(bad, np.array([0, 1]), np.ones(2))
    assert e.value.field == "risk"
    np.testing.assert_array_equal(
        aggregate(risk, np.array([0, 2]), np.array([1.0, 2.0])), risk[0] + 2 * risk[2]
    )


def test_model_parameters_and_arguments_out_of_domain():
    import numpy as np

    from pymargin.models import DeribitPMParams
    from pymargin.models.params import ModelParameterError
    from pymargin.models.scan import finra_pm_margin
    from pymargin.models.span import CommodityRisk, span_requirement

    raw = DeribitPMParams.load("2024-06-17").raw
    for change in (
        {"general": {**raw["general"], "timestamp": 1e17}},
        {"currency_pair": {"btc_usd": 5}},
    ):
        with pytest.raises(ModelParameterError):
            DeribitPMParams.from_model_params({**raw, **change})
    with pytest.raises(pm.InvalidInputError) as e:
        span_requirement([CommodityRisk("BTC", np.zeros(16), np.zeros(2), 1.0, float("nan"))])
    assert e.value.field == "BTC.short_option_minimum"
    for kw, field in (
        ({"minimum_per_contract": -1.0}, "minimum_per_contract"),
        ({"points": 4.0}, "points"),
        ({"move": "0.1"}, "move"),
    ):
        with pytest.raises(pm.PymarginError) as e:
            finra_pm_margin({"BTC-PERPETUAL": 1.0}, M, **kw)
        assert e.value.field == field
    with pytest.raises(pm.InvalidInputError) as e:
        pm.margin(
            {"BTC-PERPETUAL": 1.0},
            M,
            pm.MarginModel.DERIBIT_XPM,
            collateral={"BTC": 1.0, "btc": 5.0},
        )
    assert (e.value.field, e.value.index) == ("collateral", 1)


def test_pricing_errors_name_the_element_of_the_argument_as_given():
    import numpy as np

    f = np.array([[100.0], [np.nan], [100.0]])
    with pytest.raises(pm.InvalidInputError) as e:
        pm.black76_price(f, np.array([90.0, 100.0, 110.0, 120.0]), 1.0, 0.5)
    assert (e.value.field, e.value.index) == ("forward", 1)
    with pytest.raises(pm.InvalidInputError) as e:
        pm.black76_price(np.full((3, 1), 100.0), 100.0, 1.0, np.array([0.5, -0.2]))
    assert (e.value.field, e.value.index) == ("vol", 1)
