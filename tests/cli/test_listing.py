"""An option the market does not list on an expiry it lists is a typo until the user says
otherwise (--allow-unlisted); options valued from the smile are named in the results; the
command line prints its version."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import pymargin as pm
from pymargin.cli.app import app
from pymargin.market.bundled import demo_market


def _book(tmp_path, rows):
    p = tmp_path / "book.csv"
    p.write_text("instrument,size\n" + "".join(f"{n},{q}\n" for n, q in rows))
    return str(p)


def test_an_unlisted_strike_is_refused_naming_file_row_and_flag(tmp_path):
    book = _book(tmp_path, [("BTC-26DEC25-90000-C", -1), ("BTC-26DEC25-777-C", -1)])
    r = CliRunner().invoke(app, ["margin", book, "-m", "demo:BTC"])
    assert r.exit_code == 2
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "book.csv" in lines[0] and "instrument[1]" in lines[0]
    assert "BTC-26DEC25-777-C" in lines[0] and "--allow-unlisted" in lines[0]


def test_allow_unlisted_values_it_from_the_smile_and_says_so(tmp_path):
    book = _book(tmp_path, [("BTC-26DEC25-777-C", -1)])
    r = CliRunner().invoke(app, ["--allow-unlisted", "margin", book, "-m", "demo:BTC", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["unlisted_from_smile"] == ["BTC-26DEC25-777-C"]
    assert doc["initial_margin"] > 0
    table = CliRunner().invoke(app, ["--allow-unlisted", "margin", book, "-m", "demo:BTC"])
    assert "valued from its smile: BTC-26DEC25-777-C" in table.output
    # a listed book says nothing of the kind
    listed = _book(tmp_path, [("BTC-26DEC25-90000-C", -1)])
    doc = json.loads(CliRunner().invoke(app, ["margin", listed, "-m", "demo:BTC", "--json"]).output)
    assert doc["unlisted_from_smile"] == []


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip().startswith(f"pymargin {pm.__version__}")


def test_inverse_futures_orders_need_their_unit_and_coins_equal_usd_at_the_forward():
    book = "examples/btc_book.csv"
    base = ["whatif", book, "-m", "demo:BTC", "--collateral", "BTC=5", "--json"]
    r = CliRunner().invoke(app, [*base[:-1], "--order", "BTC-PERPETUAL:buy:1"])
    assert r.exit_code == 2
    assert "order[0]" in r.output and "1BTC (coins) or 1USD (USD notional)" in r.output
    mkt = demo_market("BTC")
    f = mkt.underlying_price(pm.parse_instrument("BTC-PERPETUAL"))
    orders = ["BTC-PERPETUAL:buy:1BTC", f"BTC-PERPETUAL:buy:{f!r}USD", "BTC-26DEC25-90000-P:sell:5"]
    args = [*base]
    for o in orders:
        args += ["--order", o]
    out = json.loads(CliRunner().invoke(app, args).output)
    assert out[0]["im_after"] == out[1]["im_after"] != out[0]["im_before"]  # 1 BTC = F USD
    assert out[2]["im_after"] > out[2]["im_before"]
    wrong = CliRunner().invoke(app, [*base[:-1], "--order", "BTC-26DEC25-90000-P:sell:5USD"])
    assert wrong.exit_code == 2 and "trades in BTC (coins), not USD" in wrong.output


def test_greeks_table_has_vanna_and_volga_equal_to_the_json():
    base = ["greeks", "examples/btc_book.csv", "-m", "demo:BTC"]
    doc = json.loads(CliRunner().invoke(app, [*base, "--json"]).output)
    total = doc["by_underlying"]["BTC_USD"]
    table = CliRunner().invoke(app, base).output
    assert "vanna/pt" in table and "volga/pt" in table
    row = next(line for line in table.splitlines() if "total" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[-2] == f"{total['vanna']:+,.0f}" and cells[-1] == f"{total['volga']:+,.1f}"


def test_every_command_flags_positions_valued_from_the_smile(tmp_path):
    book = _book(tmp_path, [("BTC-26DEC25-777-C", -1), ("BTC-PERPETUAL", 0.5)])
    for cmd in (
        ["greeks"],
        ["stress", "--top", "2"],
        ["var"],
        ["compare"],
        ["liquidation", "--collateral", "BTC=5"],
    ):
        args = ["--allow-unlisted", cmd[0], book, "-m", "demo:BTC", *cmd[1:]]
        text = CliRunner().invoke(app, args)
        assert text.exit_code == 0, (cmd, text.output)
        assert "valued from its smile: BTC-26DEC25-777-C" in text.output, cmd
        doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
        docs = doc if isinstance(doc, list) else [doc]
        assert all(d["unlisted_from_smile"] == ["BTC-26DEC25-777-C"] for d in docs), cmd
    listed = _book(tmp_path, [("BTC-PERPETUAL", 0.5)])
    out = CliRunner().invoke(app, ["greeks", listed, "-m", "demo:BTC", "--json"]).output
    assert "unlisted_from_smile" not in json.loads(out)
