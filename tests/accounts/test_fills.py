"""Positions from a trade log: the harmonic entry of inverse futures, realised and
unrealised P&L against the coin arithmetic they stand for, flips, fees, funding, the
account built from it, and bad records named before anything is booked."""

from __future__ import annotations

import math

import pytest

import pymargin as pm
from pymargin.accounts.account import account_summary
from pymargin.accounts.fills import ledger_from_trades
from pymargin.market.bundled import demo_market


def _t(name, side, amount, price, **kw):
    return {"instrument_name": name, "direction": side, "amount": amount, "price": price, **kw}


def test_inverse_futures_average_harmonically_and_realise_in_coins():
    """USD 10,000 bought at 50,000 (0.2 BTC) and at 100,000 (0.1 BTC): the entry that keeps
    the coin P&L is 20,000 / 0.3 = 66,666.67, not the arithmetic 75,000. Selling USD 20,000
    at 80,000 repays 0.25 BTC of the 0.3 bought: +0.05 BTC."""
    led = ledger_from_trades(
        [
            _t("BTC-PERPETUAL", "buy", 10_000, 50_000.0),
            _t("BTC-PERPETUAL", "buy", 10_000, 100_000.0),
        ]
    )
    p = led.positions["BTC-PERPETUAL"]
    assert p.average_price == pytest.approx(20_000 / 0.3, rel=1e-15)
    assert p.unrealised_pnl(80_000.0) == pytest.approx(0.3 - 20_000 / 80_000, rel=1e-13)
    led = ledger_from_trades(
        [
            _t("BTC-PERPETUAL", "buy", 10_000, 50_000.0),
            _t("BTC-PERPETUAL", "buy", 10_000, 100_000.0),
            _t("BTC-PERPETUAL", "sell", 20_000, 80_000.0),
        ]
    )
    p = led.positions["BTC-PERPETUAL"]
    assert p.amount == 0.0 and math.isnan(p.average_price)
    assert p.realised_pnl == pytest.approx(0.05, rel=1e-12) and p.currency == "btc"


def test_linear_and_option_positions_average_arithmetically_and_flip():
    led = ledger_from_trades(
        [
            _t("BTC_USDC-PERPETUAL", "buy", 1.0, 100.0),
            _t("BTC_USDC-PERPETUAL", "buy", 1.0, 200.0),
            _t("BTC_USDC-PERPETUAL", "sell", 3.0, 300.0),  # closes 2 (+300), opens 1 short
            _t("BTC-26DEC25-90000-P", "sell", 2.0, 0.02),
            _t("BTC-26DEC25-90000-P", "buy", 1.0, 0.015),
        ]
    )
    lin = led.positions["BTC_USDC-PERPETUAL"]
    assert lin.realised_pnl == pytest.approx(2 * (300 - 150))
    assert lin.amount == -1.0 and lin.average_price == 300.0
    assert lin.unrealised_pnl(250.0) == pytest.approx(50.0) and lin.currency == "usdc"
    opt = led.positions["BTC-26DEC25-90000-P"]
    assert opt.amount == -1.0 and opt.average_price == 0.02
    assert opt.realised_pnl == pytest.approx(0.005) and opt.currency == "btc"


def test_fees_and_funding_and_the_account_they_build():
    m = demo_market("BTC")
    log = [
        _t("BTC-PERPETUAL", "buy", 50_000, 90_000.0, fee=0.0001, fee_currency="BTC"),
        _t("BTC-26DEC25-90000-P", "sell", 2.0, 0.03, fee=0.0006, fee_currency="BTC"),
        {"type": "funding", "instrument_name": "BTC-PERPETUAL", "amount": -0.0002},
        _t("BTC-PERPETUAL", "sell", 10_000, 95_000.0),
    ]
    led = ledger_from_trades({"result": {"trades": log}})  # a Deribit-shaped answer
    realised = 10_000 * (1 / 90_000 - 1 / 95_000)
    assert led.realised()["btc"] == pytest.approx(realised - 0.0002 - 0.0007, rel=1e-12)
    acct = led.account(m, {"BTC": 1.0})
    f = m.underlying_price(pm.parse_instrument("BTC-PERPETUAL"))
    assert acct.portfolio.positions == pytest.approx(
        {"BTC-PERPETUAL": 40_000 / f, "BTC-26DEC25-90000-P": -2.0}
    )
    premium = 2.0 * 0.03  # received for the puts sold
    balance = {k.lower(): v for k, v in acct.collateral.items()}["btc"]
    assert balance == pytest.approx(1.0 + realised + premium - 0.0002 - 0.0007, rel=1e-12)
    assert led.cash()["btc"] == pytest.approx(balance - 1.0, rel=1e-12)
    assert acct.average_price == {"BTC-PERPETUAL": 90_000.0}
    # the account summary's equity includes the futures' unrealised P&L at the forward
    s = account_summary(acct, m)
    by_hand = account_summary(
        pm.Account(pm.Portfolio(dict(acct.portfolio.positions)), dict(acct.collateral)), m
    )
    gain = led.unrealised(m)["btc"] - (-2.0) * (m.marks["BTC-26DEC25-90000-P"].mark_price - 0.03)
    assert s.per_currency["btc"]["equity"] - by_hand.per_currency["btc"]["equity"] == pytest.approx(
        gain, rel=1e-9
    )
    bought = ledger_from_trades([_t("BTC-26DEC25-90000-P", "buy", 1.0, 0.05)])
    with pytest.raises(pm.InvalidInputError, match="balance after the trade log"):
        bought.account(m, {})  # a premium paid from nothing


@pytest.mark.parametrize(
    "bad, field, row",
    [
        (_t("BTC-PERPETUAL", "hold", 1, 90_000.0), "direction", 1),
        (_t("BTC-PERPETUAL", "buy", 0, 90_000.0), "amount", 1),
        (_t("BTC-PERPETUAL", "buy", 1, float("nan")), "price", 1),
        (_t("BTC-PERPETUAL", "buy", 1, 0.0), "price", 1),
        (_t("BTC-26DEC25-90000-P", "buy", 1, -0.01), "price", 1),
        (_t("NOT-AN-INSTRUMENT", "buy", 1, 1.0), "instrument_name", 1),
        (
            {"type": "funding", "instrument_name": "BTC-26DEC25", "amount": 0.1},
            "instrument_name",
            1,
        ),
        ("x", "trades", 1),
    ],
)
def test_a_bad_record_is_named_before_anything_is_booked(bad, field, row):
    with pytest.raises(pm.InvalidInputError) as e:
        ledger_from_trades([_t("BTC-PERPETUAL", "buy", 10, 90_000.0), bad])
    assert e.value.field == field and e.value.index == row


def test_ledger_command_shows_the_positions_and_the_account(tmp_path):
    import json

    from typer.testing import CliRunner

    from pymargin.cli.app import app

    log = [
        _t("BTC-PERPETUAL", "buy", 50_000, 90_000.0, fee=0.0001, fee_currency="BTC"),
        _t("BTC-26DEC25-90000-P", "sell", 2.0, 0.03),
    ]
    f = tmp_path / "trades.json"
    f.write_text(json.dumps({"result": {"trades": log}}))
    r = CliRunner().invoke(
        app, ["ledger", str(f), "-m", "demo:BTC", "--collateral", "BTC=1", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    m = demo_market("BTC")
    led = ledger_from_trades(log)
    want = account_summary(led.account(m, {"BTC": 1.0}), m).as_row()
    assert out["account"]["initial_margin_usd"] == want["initial_margin_usd"]
    perp = next(p for p in out["positions"] if p["instrument"] == "BTC-PERPETUAL")
    assert (
        perp["amount"] == 50_000
        and perp["amount_unit"] == "USD"
        and perp["average_price"] == 90_000.0
    )
    f.write_text(json.dumps([log[0], _t("BTC-PERPETUAL", "buy", -1, 90_000.0)]))
    bad = CliRunner().invoke(app, ["ledger", str(f), "-m", "demo:BTC"])
    assert bad.exit_code == 2 and "trades.json" in bad.output and "amount[1]" in bad.output
