"""Portfolio assembly, the margin() entry point and their input errors."""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pymargin as pm

DATA = Path(__file__).resolve().parents[1] / "data"


def _btc_example():
    d = json.loads((DATA / "deribit_pme_simulate_btc_example.json").read_text())
    return d["response"]["result"]


def _market(res):
    t = datetime.fromtimestamp(res["model_params"]["general"]["timestamp"] / 1000, tz=timezone.utc)
    marks = {k: pm.Mark(mark_price=v["mark_price"]) for k, v in res["ticker"].items()}
    return pm.Market(t, {"BTC_USD": res["index_price"]["btc_usd"]}, marks)


def test_portfolio_from_csv_json_and_dataframe_agree(tmp_path):
    rows = [("BTC-PERPETUAL", 0.25), ("BTC-28JUN24", -0.001), ("BTC-PERPETUAL", 0.064538364)]
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("instrument,size\n" + "".join(f"{n},{s}\n" for n, s in rows))
    json_path = tmp_path / "p.json"
    json_path.write_text(json.dumps([{"instrument": n, "size": s} for n, s in rows]))
    a = pm.Portfolio.from_csv(csv_path)
    b = pm.Portfolio.from_json(json_path)
    c = pm.Portfolio.from_dataframe(pd.DataFrame(rows, columns=["instrument", "size"]))
    assert a == b == c
    assert a.positions["BTC-PERPETUAL"] == pytest.approx(0.314538364)


def test_bad_rows_name_field_and_row(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("instrument,size\nBTC-PERPETUAL,1\nBTC-32DEC24,2\n")
    with pytest.raises(pm.InvalidInstrumentError) as e:
        pm.Portfolio.from_csv(p)
    assert (e.value.field, e.value.index) == ("instrument", 1)
    p.write_text("instrument,size\nBTC-PERPETUAL,abc\n")
    with pytest.raises(pm.InvalidInputError) as e:
        pm.Portfolio.from_csv(p)
    assert (e.value.field, e.value.index) == ("size", 0)
    with pytest.raises(pm.InvalidInputError):
        pm.Portfolio({"BTC-PERPETUAL": float("inf")})


def test_margin_entry_point_matches_the_model_and_explains():
    res = _btc_example()
    params = pm.models.DeribitPMParams.from_model_params(res["model_params"])
    r = pm.margin(
        pm.Portfolio(res["portfolio"]["position"]),
        _market(res),
        pm.MarginModel.DERIBIT_PM,
        params=params,
        mmp_margin=0.06,
        open_orders_margin=1.8212e-05,
    )
    want = res["margins"]["btc"]
    assert r.initial_margin == pytest.approx(want["initial_margin"], abs=5e-13)
    assert r.maintenance_margin == pytest.approx(want["maintenance_margin"], abs=5e-13)
    assert r.worst_scenario == "BTC -16% vol unchanged"  # the standard entry #1
    assert r.scenario_pnl.shape == (35,) and np.min(r.scenario_pnl) == -r.components["worst_case"]
    frame = r.to_frame()
    assert list(frame.columns) == ["scenario", "pnl"] and len(frame) == 35
    assert "roll shock" in r.explain()


def test_market_data_errors_are_typed():
    res = _btc_example()
    t = datetime(2024, 6, 17, tzinfo=timezone.utc)
    with pytest.raises(pm.MarketDataError) as e:
        pm.Market(t, {"BTC_USD": float("nan")})
    assert e.value.field == "index[BTC_USD]"
    with pytest.raises(pm.MarketDataError):
        pm.Market(datetime(2024, 6, 17), {"BTC_USD": 1.0})  # naive time
    mkt = pm.Market(t, {"BTC_USD": 65000.0})
    with pytest.raises(pm.MarketDataError) as e:
        pm.margin({"BTC-28JUN24-60000-P": -1.0}, mkt)
    assert e.value.field == "mark_iv"
    assert res  # fixture loaded


def test_aggregate_over_cached_risk_arrays():
    rng = np.random.default_rng(0)
    risk = rng.normal(size=(200, 35))
    index = rng.integers(0, 200, 50)
    size = rng.normal(size=50)
    got = pm.risk.aggregate(risk, index, size)
    np.testing.assert_allclose(got, size @ risk[index], rtol=1e-13, atol=1e-13)
    with pytest.raises(pm.InvalidInputError) as e:
        pm.risk.aggregate(risk, np.array([0, 200]), np.array([1.0, 1.0]))
    assert (e.value.field, e.value.index) == ("index", 1)


def test_cross_margin_of_instruments_new_to_the_market_table():
    """X:PM with positions the snapshot's table has not seen yet (linear instruments priced
    from the smile): a regression, the settlement column was read before the rows existed."""
    from pymargin.market.bundled import demo_market

    market = demo_market("BTC")
    pos = {
        "BTC_USDC-26DEC25-100000-C": -2.0,
        "BTC_USDC-PERPETUAL": 1.0,
        "BTC-26DEC25-90000-P": -1.0,
    }
    r = pm.margin(pos, market, pm.MarginModel.DERIBIT_XPM, collateral={"BTC": 1.0})
    again = pm.margin(pos, market, pm.MarginModel.DERIBIT_XPM, collateral={"BTC": 1.0})
    assert r.currency == "usd" and r.initial_margin > 0
    assert again.initial_margin == r.initial_margin


def test_portfolio_refuses_bad_names_and_sizes_naming_the_row():
    from pymargin.market.instruments import InvalidInstrumentError

    with pytest.raises(InvalidInstrumentError) as e:
        pm.Portfolio({"BTC-PERPETUAL": 1.0, "BTC-31FOO25-1-C": 2.0})
    assert e.value.field == "instrument" and e.value.index == 1
    with pytest.raises(InvalidInstrumentError) as e:
        pm.Portfolio({"BTC-PERPETUAL": 1.0, 7: 2.0})  # type: ignore[dict-item]
    assert e.value.index == 1
    for bad in (True, "1", float("nan"), None):
        with pytest.raises(pm.InvalidInputError) as e:
            pm.Portfolio({"BTC-PERPETUAL": 1.0, "BTC-26DEC25-90000-P": bad})
        assert e.value.field == "size" and e.value.index == 1
    p = pm.Portfolio({"BTC-PERPETUAL": 1, "BTC-26DEC25-90000-P": np.float64(-2.5)})
    assert p.positions == {"BTC-PERPETUAL": 1.0, "BTC-26DEC25-90000-P": -2.5}
    assert all(type(v) is float for v in p.positions.values())


def test_loaded_parameter_sets_are_shared_read_only_and_picklable():
    import pickle

    from pymargin.models import DeribitPMParams

    a, b = DeribitPMParams.load("2024-06-17"), DeribitPMParams.load("2024-06-17")
    assert a is b  # read and checked once
    with pytest.raises(TypeError):
        a.pairs["btc_usd"] = a.pairs["btc_usd"]  # type: ignore[index]
    back = pickle.loads(pickle.dumps(a))
    assert dict(back.pairs) == dict(a.pairs) and back.mm_factor == a.mm_factor


def test_a_portfolios_positions_are_read_only_and_survive_pickle_and_copy():
    import copy
    import pickle

    from pymargin.market.portfolio import position_arrays

    p = pm.Portfolio({"BTC-PERPETUAL": 1, "BTC-26DEC25-90000-P": -2.5})
    for change in (
        lambda d: d.__setitem__("BTC-PERPETUAL", float("nan")),
        lambda d: d.update({"BTC-PERPETUAL": 2.0}),
        lambda d: d.pop("BTC-PERPETUAL"),
        lambda d: d.clear(),
        lambda d: d.setdefault("X", 1.0),
    ):
        with pytest.raises(TypeError):
            change(p.positions)
    assert p.positions == {"BTC-PERPETUAL": 1.0, "BTC-26DEC25-90000-P": -2.5}
    names, sizes = position_arrays(p.positions)
    assert names == ["BTC-PERPETUAL", "BTC-26DEC25-90000-P"] and list(sizes) == [1.0, -2.5]
    with pytest.raises(ValueError):
        sizes[0] = 3.0  # the kept sizes are read-only too
    for q in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p)):
        assert q.positions == p.positions and list(position_arrays(q.positions)[1]) == [1.0, -2.5]
    # A plain mapping is checked where it is used.
    with pytest.raises(pm.InvalidInputError) as e:
        position_arrays({"BTC-PERPETUAL": float("inf")})
    assert e.value.field == "size" and e.value.index == 0
