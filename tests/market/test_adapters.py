"""Data adapters against sample payloads written to the venues' documented formats.

Deribit: the API reference (docs.deribit.com/api-reference) fields of
public/get_book_summary_by_currency (instrument_name, mark_price, mark_iv in percent,
underlying_price, underlying_index, estimated_delivery_price, creation_timestamp in ms),
public/ticker (index_price, timestamp), public/get_instruments (kind, strike, option_type,
expiration_timestamp, contract_size), private/get_positions (size: USD for futures, coin for
options; size_currency: futures in coin; signed), private/get_account_summary (currency,
balance), private/pme/simulate (tests/data, two real responses). ccxt: the unified position
structure (symbol, side, contracts, contractSize, markPrice) and market structure (id, symbol,
contractSize) of the ccxt manual.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

import pymargin as pm
from pymargin.market.adapters import (
    collateral_from_deribit,
    diff_pme_simulate,
    instruments_from_ccxt,
    instruments_from_deribit,
    market_from_deribit,
    portfolio_from_ccxt,
    portfolio_from_deribit,
)
from pymargin.models import DeribitPMParams, deribit_pm_margin

DATA = Path(__file__).resolve().parents[1] / "data"
TS = 1764897052000  # 2025-12-05 01:10:52 UTC in ms

BOOK = {
    "jsonrpc": "2.0",
    "id": 1,
    "result": [
        {
            "instrument_name": "BTC-26DEC25-100000-C",
            "base_currency": "BTC",
            "quote_currency": "BTC",
            "mark_price": 0.0195,
            "mark_iv": 41.9,
            "underlying_price": 92726.41,
            "underlying_index": "BTC-26DEC25",
            "estimated_delivery_price": 92400.12,
            "interest_rate": 0.0,
            "open_interest": 1520.4,
            "volume": 310.2,
            "creation_timestamp": TS,
        },
        {
            "instrument_name": "BTC-26DEC25-80000-P",
            "base_currency": "BTC",
            "quote_currency": "BTC",
            "mark_price": 0.0061,
            "mark_iv": 48.3,
            "underlying_price": 92726.41,
            "underlying_index": "BTC-26DEC25",
            "estimated_delivery_price": 92400.12,
            "creation_timestamp": TS,
        },
        {
            "instrument_name": "BTC-26DEC25",
            "base_currency": "BTC",
            "quote_currency": "USD",
            "mark_price": 92726.41,
            "estimated_delivery_price": 92400.12,
            "creation_timestamp": TS,
        },
    ],
}
TICKER = {
    "result": {
        "instrument_name": "BTC-PERPETUAL",
        "mark_price": 92410.5,
        "index_price": 92400.12,
        "timestamp": TS,
        "best_bid_price": 92410.0,
        "best_ask_price": 92411.0,
    }
}


def test_market_from_book_summary_and_ticker():
    m = market_from_deribit(BOOK, TICKER)
    assert m.valuation_time == datetime(2025, 12, 5, 1, 10, 52, tzinfo=timezone.utc)
    assert m.index == {"BTC_USD": 92400.12}
    call = pm.parse_instrument("BTC-26DEC25-100000-C")
    assert m.implied_vol(call) == pytest.approx(0.419)
    assert m.underlying_price(call) == 92726.41
    assert m.underlying_price(pm.parse_instrument("BTC-PERPETUAL")) == 92410.5
    r = pm.margin({"BTC-26DEC25-100000-C": -1.0, "BTC-26DEC25": 0.3}, m)
    assert r.initial_margin > 0


def test_malformed_market_payloads_name_field_and_row():
    bad = json.loads(json.dumps(BOOK))
    bad["result"][1]["mark_iv"] = "48"
    with pytest.raises(pm.InvalidInputError) as e:
        market_from_deribit(bad)
    assert (e.value.field, e.value.index) == ("result.mark_iv", 1)
    bad = json.loads(json.dumps(BOOK))
    bad["result"][2]["instrument_name"] = "BTC-26XYZ25"
    with pytest.raises(pm.InvalidInputError) as e:
        market_from_deribit(bad)
    assert (e.value.field, e.value.index) == ("result.instrument_name", 2)
    with pytest.raises(pm.InvalidInputError) as e:
        market_from_deribit({"jsonrpc": "2.0", "error": {"code": 10028, "message": "too_many"}})
    assert e.value.field == "error"
    entry = {k: v for k, v in BOOK["result"][0].items() if k != "creation_timestamp"}
    no_time = {"result": [entry]}
    with pytest.raises(pm.InvalidInputError) as e:
        market_from_deribit(no_time)
    assert e.value.field == "valuation_time"


def test_instruments_and_positions_and_account_summary():
    instruments = {
        "result": [
            {
                "instrument_name": "BTC-26DEC25-100000-C",
                "kind": "option",
                "option_type": "call",
                "strike": 100000.0,
                "expiration_timestamp": 1766736000000,
                "contract_size": 1.0,
                "settlement_currency": "BTC",
            },
            {
                "instrument_name": "BTC-PERPETUAL",
                "kind": "future",
                "contract_size": 10.0,
                "settlement_currency": "BTC",
            },
        ]
    }
    insts = instruments_from_deribit(instruments)
    assert [i.contract_size for i in insts] == [1.0, 10.0]
    wrong = json.loads(json.dumps(instruments))
    wrong["result"][0]["strike"] = 95000.0
    with pytest.raises(pm.InvalidInputError) as e:
        instruments_from_deribit(wrong)
    assert (e.value.field, e.value.index) == ("result.strike", 0)
    wrong["result"][0]["strike"] = 100000.0
    wrong["result"][0]["expiration_timestamp"] = 1766736000000 + 3_600_000
    with pytest.raises(pm.InvalidInputError) as e:
        instruments_from_deribit(wrong)
    assert e.value.field == "result.expiration_timestamp"

    positions = {
        "result": [
            {
                "instrument_name": "BTC-26DEC25-100000-C",
                "kind": "option",
                "size": -2.0,
                "direction": "sell",
                "average_price": 0.021,
                "mark_price": 0.0195,
            },
            {
                "instrument_name": "BTC-PERPETUAL",
                "kind": "future",
                "size": 46200.0,
                "size_currency": 0.5,
                "direction": "buy",
                "mark_price": 92400.0,
            },
            {
                "instrument_name": "BTC-26DEC25",
                "kind": "future",
                "size": 0.0,
                "size_currency": 0.0,
                "direction": "zero",
                "mark_price": 92726.41,
            },
        ]
    }
    pf = portfolio_from_deribit(positions)
    assert pf.positions == {"BTC-26DEC25-100000-C": -2.0, "BTC-PERPETUAL": 0.5}
    no_coin = json.loads(json.dumps(positions))
    del no_coin["result"][1]["size_currency"]
    assert portfolio_from_deribit(no_coin).positions["BTC-PERPETUAL"] == pytest.approx(0.5)
    summary = {
        "result": {
            "currency": "BTC",
            "balance": 1.25,
            "equity": 1.31,
            "initial_margin": 0.2,
            "maintenance_margin": 0.16,
        }
    }
    assert collateral_from_deribit(summary) == {"BTC": 1.25}
    both = {"result": {"summaries": [summary["result"], {"currency": "USDC", "balance": 5000}]}}
    assert collateral_from_deribit(both) == {"BTC": 1.25, "USDC": 5000.0}


def test_pme_simulate_diff_is_empty_on_the_published_example_and_finds_changes():
    doc = json.loads((DATA / "deribit_pme_simulate_btc_example.json").read_text())
    res = doc["response"]["result"]
    params = DeribitPMParams.from_model_params(res["model_params"])
    ms = res["model_params"]["general"]["timestamp"]
    stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    market = pm.Market(
        stamp,
        {k.upper(): v for k, v in res["index_price"].items()},
        {n: pm.Mark(mark_price=t["mark_price"]) for n, t in res["ticker"].items()},
    )
    ours = deribit_pm_margin(
        res["portfolio"]["position"], market, params, mmp_margin=0.06, open_orders_margin=1.8212e-05
    )
    assert diff_pme_simulate(doc["response"], ours) == []
    changed = json.loads(json.dumps(doc["response"]))
    changed["result"]["margins"]["btc"]["initial_margin"] *= 1.01
    vec = changed["result"]["aggregated_risk_vectors"]["btc_btc"]["standard"]
    vec[5] += 0.001
    d = diff_pme_simulate(changed, ours)
    assert any("margins.btc.initial_margin" in x for x in d)
    assert any("aggregated_risk_vectors.btc_btc.standard[5]" in x for x in d)


def test_ccxt_positions_and_markets():
    positions = [
        {
            "symbol": "BTC/USD:BTC-251226-100000-C",
            "side": "short",
            "contracts": 2.0,
            "contractSize": 1.0,
            "markPrice": 0.0195,
            "info": {},
        },
        {
            "symbol": "BTC/USD:BTC",
            "side": "long",
            "contracts": 4620.0,
            "contractSize": 10.0,
            "markPrice": 92400.0,
            "info": {},
        },
        {
            "symbol": "ETH/USDC:USDC",
            "side": "short",
            "contracts": 3.0,
            "contractSize": 1.0,
            "markPrice": 3000.0,
            "info": {},
        },
        {
            "symbol": "XRP/USDC:USDC-251226-0.625-P",
            "side": "long",
            "contracts": 100.0,
            "contractSize": 1.0,
            "markPrice": 0.01,
            "info": {},
        },
    ]
    pf = portfolio_from_ccxt(positions)
    assert pf.positions == pytest.approx(
        {
            "BTC-26DEC25-100000-C": -2.0,
            "BTC-PERPETUAL": 0.5,
            "ETH_USDC-PERPETUAL": -3.0,
            "XRP_USDC-26DEC25-0d625-P": 100.0,
        }
    )
    bad = [dict(positions[0], side="flat")]
    with pytest.raises(pm.InvalidInputError) as e:
        portfolio_from_ccxt(bad)
    assert (e.value.field, e.value.index) == ("side", 0)
    markets = {
        "BTC/USD:BTC-251226-100000-C": {
            "id": "BTC-26DEC25-100000-C",
            "symbol": "BTC/USD:BTC-251226-100000-C",
            "contractSize": 1.0,
            "type": "option",
        },
        "BTC/USD:BTC": {
            "id": "BTC-PERPETUAL",
            "symbol": "BTC/USD:BTC",
            "contractSize": 10.0,
            "type": "swap",
        },
    }
    insts = instruments_from_ccxt(markets)
    assert [i.name for i in insts] == ["BTC-26DEC25-100000-C", "BTC-PERPETUAL"]
    with pytest.raises(pm.InvalidInputError) as e:
        instruments_from_ccxt([{"symbol": "BTC/USD:BTC-251326"}])
    assert e.value.field == "symbol"


def test_positions_and_markets_from_dataframes():
    import pandas as pd

    from pymargin.cli.inputs import market_from_frame
    from pymargin.market.bundled import load_demo_chain

    chain = load_demo_chain("ETH")
    df = pd.DataFrame(
        {
            "instrument_name": chain.name,
            "mark_iv": chain.mark_iv,
            "underlying_price": chain.forward,
            "mark_price_eth": chain.mark_price,
            "index_price": chain.index,
        }
    )
    m = market_from_frame(df, datetime(2025, 11, 22, 2, 15, 13, tzinfo=timezone.utc))
    assert m.index == {"ETH_USD": chain.index}
    pf = pm.Portfolio.from_dataframe(
        pd.DataFrame({"instrument": chain.name[:3], "size": [1, -2, 3]})
    )
    assert pm.margin(pf, m).currency == "eth"
    bad = df.astype({"mark_iv": object})
    bad.loc[7, "mark_iv"] = "high"
    with pytest.raises(pm.InvalidInputError) as e:
        market_from_frame(bad, m.valuation_time)
    assert (e.value.field, e.value.index) == ("mark_iv", 7)
