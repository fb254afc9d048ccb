"""Books across coins and settlement currencies: each margin group under the parameters in
force at the market's valuation time (block by block), totals in USD, one scenario label
everywhere, and the command line on the bundled mixed book."""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pymargin as pm
from pymargin.accounts.batch import batch_margin
from pymargin.cli.app import app
from pymargin.market.bundled import demo_market, mixed_demo_market
from pymargin.models.deribit_pm import DeribitPMParams, deribit_pm_margin
from pymargin.models.params import ModelParameterError, version_in_force
from pymargin.risk.scenarios import scenario_label

ROOT = Path(__file__).resolve().parents[2]
MIXED_BOOK = ROOT / "examples" / "mixed_book.csv"
runner = CliRunner()


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def test_the_version_in_force_is_the_newest_dated_on_or_before_the_valuation_day():
    assert version_in_force("deribit_pm", _at("2025-12-05")) == "2024-06-17"
    assert version_in_force("deribit_pm", _at("2026-02-15")) == "2026-02-15"
    assert version_in_force("deribit_pm", _at("2026-02-14")) == "2024-06-17"
    # before every version: the earliest (callers flag it)
    assert version_in_force("deribit_pm", _at("2020-01-01")) == "2024-06-17"
    assert version_in_force("paradex_pm", _at("2026-05-01")) == "2026-04-06"
    assert version_in_force("paradex_pm", _at("2026-04-05")) == "2026-03-15"
    assert version_in_force("paradex_pm", _at("2026-06-01")) == "2026-05-25"
    assert version_in_force("paradex_pm", _at("2026-08-01")) == "2026-08"


def test_each_block_comes_from_its_own_version_and_a_later_one_is_flagged():
    p = DeribitPMParams.in_force(_at("2025-12-05"), {"btc_usd", "eth_usd"}, {"usdc"})
    assert dict(p.versions) == {
        "btc_usd": "2024-06-17",
        "eth_usd": "2026-02-15",
        "usd": "2024-06-17",
    }
    assert len(p.notes) == 1 and "eth_usd" in p.notes[0] and "2026-02-15" in p.notes[0]
    # the blocks are the shipped files' own
    assert p.pairs["btc_usd"] == DeribitPMParams.load("2024-06-17").pairs["btc_usd"]
    assert p.pairs["eth_usd"] == DeribitPMParams.load("2026-02-15").pairs["eth_usd"]
    assert p.currencies["usd"] == DeribitPMParams.load("2024-06-17").currencies["usd"]
    # on a day both are in force, nothing to flag
    later = DeribitPMParams.in_force(_at("2026-03-01"), {"eth_usd"}, {"eth"})
    assert later.notes == () and set(later.versions.values()) == {"2026-02-15"}
    with pytest.raises(ModelParameterError, match="no shipped Deribit PM parameters for sol_usd"):
        DeribitPMParams.in_force(_at("2026-03-01"), {"sol_usd"}, {"usdc"})


def test_a_forced_version_must_cover_the_book():
    with pytest.raises(ModelParameterError) as e:
        pm.margin(
            pm.Portfolio.from_csv(ROOT / "examples" / "btc_book.csv"),
            demo_market("BTC"),
            params_version="2026-02-15",
        )
    assert e.value.field == "params_version" and "btc_usd" in e.value.reason
    with pytest.raises(ModelParameterError, match="unknown version"):
        pm.margin({"BTC-PERPETUAL": 1.0}, demo_market("BTC"), params_version="1999-01-01")
    forced = pm.margin({"BTC-PERPETUAL": 1.0}, demo_market("BTC"), params_version="2024-06-17")
    assert forced.parameters == "btc_usd, btc: 2024-06-17"


@pytest.mark.parametrize("model", [pm.MarginModel.DERIBIT_PM, pm.MarginModel.DERIBIT_STANDARD])
def test_a_mixed_book_is_one_group_per_settlement_currency_summed_in_usd(model):
    market = mixed_demo_market()
    book = pm.Portfolio.from_csv(MIXED_BOOK)
    res = pm.margin(book, market, model)
    assert res.currency == "usd" and set(res.groups) == {"btc", "eth", "usdc"}
    table = market.table
    total_im = total_mm = 0.0
    for ccy, group in res.groups.items():
        sub = {
            n: s
            for n, s in book.positions.items()
            if table.codes[int(table.take([n], "settlement_currency")[1][0])] == ccy
        }
        alone = pm.margin(sub, market, model, currency=ccy)
        assert group.initial_margin == alone.initial_margin
        assert group.maintenance_margin == alone.maintenance_margin
        total_im += alone.initial_margin * market.usd_price(ccy)
        total_mm += alone.maintenance_margin * market.usd_price(ccy)
    assert res.initial_margin == pytest.approx(total_im, rel=1e-15)
    assert res.maintenance_margin == pytest.approx(total_mm, rel=1e-15)
    assert sum(res.components.values()) == pytest.approx(res.initial_margin, rel=1e-15)
    with pytest.raises(pm.InvalidInputError, match="one settlement currency"):
        pm.margin(book, market, model, open_orders_margin=0.1)


def test_the_eth_group_says_its_parameters_postdate_the_market():
    res = pm.margin(pm.Portfolio.from_csv(MIXED_BOOK), mixed_demo_market())
    assert "ETH: eth_usd, eth: 2026-02-15" in res.parameters
    assert any("eth_usd" in n and "2026-02-15" in n for n in res.notes)
    eth = res.groups["eth"].details
    assert isinstance(eth.params, DeribitPMParams)
    assert eth.params.versions["eth"] == "2026-02-15"


def test_mixed_market_is_the_btc_chain_with_the_eth_chain_carried_to_its_time():
    mixed, btc, eth = mixed_demo_market(), demo_market("BTC"), demo_market("ETH")
    assert mixed.valuation_time == btc.valuation_time
    assert mixed.index == {"BTC_USD": btc.index["BTC_USD"], "ETH_USD": eth.index["ETH_USD"]}
    for name, mark in btc.marks.items():
        assert mixed.marks[name] == mark
    kept = [n for n in mixed.marks if n.startswith("ETH-") and n.count("-") == 3]
    assert kept and all(
        mixed.table.rows([n]) is not None for n in kept
    )  # none expired at the valuation time
    scale = 69.48 / 80.53  # DVOL ETH closes of 2025-12-04 and 2025-11-21 (data/history)
    name = "ETH-26DEC25-3000-C"
    assert mixed.marks[name].mark_iv == pytest.approx(eth.marks[name].mark_iv * scale, rel=1e-15)
    assert mixed.marks[name].underlying_price == eth.marks[name].underlying_price
    assert "ETH-23NOV25-2300-C" not in mixed.marks  # expired before 2025-12-05


def test_scenarios_are_named_one_way_in_every_model():
    assert scenario_label("BTC_USD", -0.16, 1) == "BTC -16% vol up"
    assert scenario_label("eth_usd", 0.0, 0) == "ETH 0% vol unchanged"
    assert scenario_label("BTC_USD", 0.035, -1) == "BTC +3.5% vol down"
    assert scenario_label("BTC_USD", 0.15) == "BTC +15%"
    assert scenario_label("SOL_USD", -0.45, 1, 0.35) == "SOL -45% vol up (weight 0.35)"
    btc = demo_market("BTC")
    r = pm.margin({"BTC-26DEC25-100000-C": -1.0}, btc)
    assert r.scenario_labels[0] == "BTC -16% vol up" and r.scenario_labels[27] == "BTC -66% vol up"
    assert r.worst_scenario in r.scenario_labels
    finra = pm.margin({"BTC-26DEC25-100000-C": -1.0}, btc, pm.MarginModel.FINRA_PM)
    assert finra.scenario_labels[0] == "BTC -15%" and finra.worst_scenario in finra.scenario_labels


def test_the_batch_names_each_worst_scenario_as_the_model_does(usdc_market):
    """Two pairs in one settlement currency: the label must come from the right pair."""
    pos = pd.DataFrame(
        {
            "account": ["a", "a", "b", "b", "c"],
            "instrument": [
                "BTC_USDC-26JUN26-70000-C",
                "ETH_USDC-26JUN26-2000-P",
                "BTC_USDC-PERPETUAL",
                "ETH_USDC-26JUN26-2200-C",
                "ETH_USDC-PERPETUAL",
            ],
            "size": [-0.1, -30.0, 0.5, -10.0, -3.0],
        }
    )
    col = pd.DataFrame({"account": ["a", "b", "c"], "amount": [1e5, 1e5, 1e5]})
    r = batch_margin(pos, col, usdc_market)
    for k, acct in enumerate(r.accounts):
        book = dict(zip(*pos[pos["account"] == acct][["instrument", "size"]].T.to_numpy()))
        want = deribit_pm_margin(book, usdc_market)
        assert r.worst_scenario is not None and r.worst_scenario[k] == want.worst_scenario
    assert any(str(w).startswith("ETH") for w in r.worst_scenario)
    assert any(str(w).startswith("BTC") for w in r.worst_scenario)
    assert list(r.to_frame()["worst_scenario"]) == list(r.worst_scenario)


def test_margin_command_on_the_mixed_demo_book():
    r = runner.invoke(app, ["margin", str(MIXED_BOOK), "-m", "demo:MIXED", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    want = pm.margin(pm.Portfolio.from_csv(MIXED_BOOK), mixed_demo_market())
    assert out["initial_margin"] == want.initial_margin and out["currency"] == "usd"
    assert set(out["groups"]) == {"btc", "eth", "usdc"} and out["notes"] == want.notes
    assert all(
        " (BTC group)" in k or " (ETH group)" in k or " (USDC group)" in k for k in out["scenarios"]
    )
    text = runner.invoke(app, ["margin", str(MIXED_BOOK), "-m", "demo:MIXED"])
    assert text.exit_code == 0 and "note: eth_usd" in text.stdout and "USD" in text.stdout
    forced = runner.invoke(
        app, ["margin", str(MIXED_BOOK), "-m", "demo:MIXED", "--params-version", "2026-02-15"]
    )
    assert forced.exit_code == 2 and "params_version" in forced.output


def test_order_amounts_with_a_coin_unit_parse_for_every_coin():
    from pymargin.cli.inputs import parse_order

    m = mixed_demo_market()
    f = m.underlying_price(pm.parse_instrument("ETH-PERPETUAL"))
    assert parse_order("ETH-PERPETUAL:buy:10ETH", 0, m) == ("ETH-PERPETUAL", True, 10 * f)
    assert parse_order("ETH-PERPETUAL:sell:1e1ETH", 0, m)[2] == 10 * f
    assert parse_order("ETH-PERPETUAL:sell:2500USD", 0, m)[2] == 2500.0
    assert parse_order("ETH-26DEC25-3000-C:sell:.5", 0, m)[2] == 0.5
    for bad in ("ETH-PERPETUAL:buy:10", "ETH-PERPETUAL:buy:10BTC", "ETH-PERPETUAL:buy:1e1e1ETH"):
        with pytest.raises(pm.InvalidInputError):
            parse_order(bad, 0, m)
    assert np.isfinite(f)


def test_report_on_the_mixed_book_has_a_risk_matrix_per_margin_group(tmp_path):
    out = tmp_path / "r.html"
    r = runner.invoke(
        app,
        [
            "report",
            str(MIXED_BOOK),
            "-m",
            "demo:MIXED",
            "--collateral",
            "BTC=5,ETH=100",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    for key in ("btc_btc", "eth_eth", "btc_usdc"):
        assert f'alt="risk matrix {key}"' in page


def test_the_batch_and_the_engine_take_the_version_pm_margin_takes():
    """Paradex listed HYPE in its 2026-08 parameters, not in 2026-04: on 2026-04-01 the model,
    the venue batch and the pre-trade engine all refuse a HYPE book; on 2026-09-01 all three
    margin it alike."""
    from pymargin.accounts.engine import Side

    book = {"HYPE_USDC-PERPETUAL": -100.0}
    pos = pd.DataFrame({"account": ["a"], "instrument": list(book), "size": list(book.values())})
    col = pd.DataFrame({"account": ["a"], "amount": [1e6]})
    model = pm.MarginModel.PARADEX_PM
    for day, covered in (("2026-04-01", False), ("2026-09-01", True)):
        m = pm.Market(
            _at(day), {"HYPE_USD": 40.0}, {"HYPE_USDC-PERPETUAL": pm.Mark(mark_price=40.0)}
        )
        if not covered:
            for run in (
                lambda m=m: pm.margin(book, m, model),
                lambda m=m: batch_margin(pos, col, m, model=model),
                lambda m=m: pm.PreTradeEngine(m, list(book), model=model),
            ):
                with pytest.raises(ModelParameterError, match="HYPE"):
                    run()
            continue
        want = pm.margin(book, m, model)
        assert want.parameters == "2026-08"
        got = batch_margin(pos, col, m, model=model)
        assert got.initial_margin[0] == pytest.approx(want.initial_margin, rel=1e-12)
        eng = pm.PreTradeEngine(m, list(book), model=model)
        acct = eng.add_account({"usdc": 1e6})
        eng.fill(acct, "HYPE_USDC-PERPETUAL", Side.SELL, 100.0, 40.0)
        assert eng.margin(acct).initial_margin == pytest.approx(want.initial_margin, rel=1e-9)
