"""The command line: every subcommand on real inputs (JSON output parsed), bad input ending in
exit code 2 with one line naming the file, the row and the field, and the HTML report rendered
by headless Chromium."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pymargin as pm
from pymargin.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "btc_book.csv"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_margin_json_matches_the_library():
    import pymargin as pm
    from pymargin.market.bundled import demo_market

    r = run("margin", str(BOOK), "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    want = pm.margin(pm.Portfolio.from_csv(BOOK), demo_market("BTC"))
    assert out["initial_margin"] == want.initial_margin
    assert out["currency"] == "btc" and len(out["scenarios"]) == 35
    r = run("margin", str(BOOK), "-m", "demo:BTC", "--model", "finra-pm", "--json")
    assert json.loads(r.stdout)["currency"] == "usd"


def test_whatif_under_derive_pm_starts_from_pm_margin(tmp_path):
    from pymargin.market.bundled import demo_market

    book = {"BTC_USDC-26DEC25-100000-C": -2.0, "BTC_USDC-PERPETUAL": 0.5}
    path = tmp_path / "book.csv"
    path.write_text("instrument,size\n" + "".join(f"{k},{v}\n" for k, v in book.items()))
    args = ["whatif", str(path), "-m", "demo:BTC", "--model", "derive-pm"]
    args += ["--collateral", "USDC=60000", "--json"]
    out = json.loads(
        run(
            *args,
            "--order",
            "BTC_USDC-26DEC25-100000-C:sell:1",
            "--order",
            "BTC_USDC-26DEC25-100000-C:sell:40",
        ).stdout
    )
    want = pm.margin(book, demo_market("BTC"), pm.MarginModel.DERIVE_PM)
    assert out[0]["im_before"] == pytest.approx(want.initial_margin, rel=1e-12)
    assert out[0]["accept"] and not out[1]["accept"]


def test_greeks_compare_whatif_and_demo():
    g = json.loads(run("greeks", str(BOOK), "-m", "demo:BTC", "--json").stdout)
    assert set(g["by_underlying"]) == {"BTC_USD"}
    c = json.loads(
        run("compare", str(BOOK), "-m", "demo:BTC", "--collateral", "BTC=5", "--json").stdout
    )
    assert set(c) == {"S:SM", "X:SM", "S:PM", "X:PM", "ISO", "other_venues"}
    assert set(c["other_venues"]) == {"Paradex PM", "Derive PM", "Aevo PM (grid)", "FINRA PM"}
    w = run(
        "whatif",
        str(BOOK),
        "-m",
        "demo:BTC",
        "--collateral",
        "BTC=5",
        "--order",
        "BTC-26DEC25-90000-P:sell:5",
        "--order",
        "BTC-26DEC25-90000-P:sell:500",
        "--json",
    )
    assert w.exit_code == 0, w.output
    checks = json.loads(w.stdout)
    assert [x["accept"] for x in checks] == [True, False]
    assert checks[0]["im_before"] == pytest.approx(
        c["S:PM"]["initial_margin_usd"] / 92529.80714285714, rel=1e-9
    )
    d = json.loads(run("demo", "--json").stdout)
    assert len(d["portfolios"]) == 7
    assert d["portfolios"]["USDC perp"]["paradex_usdc"] > 0


@pytest.mark.parametrize(
    "content,needle",
    [
        ("instrument,size\nBTC-26DEC25-100000-C,-1\nBTC-31FEB25-1-C,2\n", "instrument[1]"),
        ("instrument,size\nBTC-PERPETUAL,abc\n", "size[0]"),
        ("name,qty\nBTC-PERPETUAL,1\n", "record[0]"),
    ],
)
def test_bad_positions_give_one_line_and_exit_2(tmp_path, content, needle):
    p = tmp_path / "pos.csv"
    p.write_text(content)
    r = run("margin", str(p), "-m", "demo:BTC")
    assert r.exit_code == 2
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and str(p) in lines[0] and needle in lines[0], r.stderr


def test_bad_market_and_order_inputs(tmp_path):
    r = run("margin", str(BOOK), "-m", str(tmp_path / "missing.json"))
    assert r.exit_code == 2 and "no such file" in r.stderr
    bad = tmp_path / "book.json"
    bad.write_text('{"result": [{"instrument_name": "BTC-PERPETUAL", "mark_price": "x"}]}')
    r = run("margin", str(BOOK), "-m", str(bad))
    assert r.exit_code == 2 and "result.mark_price[0]" in r.stderr
    r = run("whatif", str(BOOK), "-m", "demo:BTC", "--order", "BTC-PERPETUAL:hold:1")
    assert r.exit_code == 2 and "order[0]" in r.stderr


def test_report_renders_in_headless_chromium(tmp_path):
    out = tmp_path / "report.html"
    r = run("report", str(BOOK), "-m", "demo:BTC", "--collateral", "BTC=5", "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "data:image/png;base64," in text and "<script" not in text
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("PYMARGIN_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required (PYMARGIN_REQUIRE_CHROMIUM is set)")
        pytest.skip("chromium not installed")
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,2400",
            f"--screenshot={shot}",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1000
    # Not a blank page: the embedded plots put colour and dark text on it.
    assert float(np.std(img[..., :3])) > 0.05


def test_var_stress_and_liquidation_commands(tmp_path):
    v = json.loads(run("var", str(BOOK), "-m", "demo:BTC", "--json").stdout)
    assert v["method"] == "historical" and v["es_usd"] >= v["var_usd"] > 0
    png = tmp_path / "pnl.png"
    r = run(
        "var",
        str(BOOK),
        "-m",
        "demo:BTC",
        "--method",
        "monte-carlo",
        "--paths",
        "5000",
        "--plot",
        str(png),
    )
    assert r.exit_code == 0 and png.stat().st_size > 10_000
    s = json.loads(
        run("stress", str(BOOK), "-m", "demo:BTC", "--collateral", "BTC=5", "--json").stdout
    )
    names = [x["name"] for x in s["scenarios"]]
    assert "FTX collapse" in names and "COVID crash" in names
    assert s["reverse"]["down"]["move"] < 0
    liq = json.loads(
        run("liquidation", str(BOOK), "-m", "demo:BTC", "--collateral", "BTC=5", "--json").stdout
    )
    assert liq["status"] == "healthy" and all(m < 0 for m in liq["liquidation_moves"]["1.0"])
    r = run("var", str(BOOK), "-m", "demo:BTC", "--confidence", "1.5")
    assert r.exit_code == 2 and "confidence" in r.stderr


def test_venue_and_cascade_commands(tmp_path):
    pos = str(ROOT / "examples" / "venue_positions.csv")
    col = str(ROOT / "examples" / "venue_collateral.csv")
    out = tmp_path / "venue.parquet"
    v = run("venue", pos, col, "-m", "demo:BTC", "-o", str(out), "--json")
    assert v.exit_code == 0, v.output
    summary = json.loads(v.stdout)
    assert summary["accounts"] == 300 and sum(summary["status"].values()) == 300
    import pandas as pd

    assert len(pd.read_parquet(out)) == 300
    c = json.loads(run("cascade", pos, col, "-m", "demo:BTC", "--shock", "-0.08", "--json").stdout)
    assert c["final_move"] <= -0.08 and c["liquidated"] >= summary["status"]["liquidation"]
    assert c["converged"]
    r = run("cascade", pos, col, "-m", "demo:BTC", "--shock", "-0.08", "--adv", "0")
    assert r.exit_code == 2 and "impact.adv" in r.output
    r = run("cascade", pos, col, "-m", "demo:BTC", "--shock", "0", "--max-rounds", "3")
    assert r.exit_code == 0 and "amplification n/a" in r.output
    bad = tmp_path / "bad_positions.csv"
    bad.write_text("account,instrument,size\na,BTC-PERPETUAL,1\n,BTC-PERPETUAL,2\n")
    r = run("venue", str(bad), col, "-m", "demo:BTC")
    assert r.exit_code == 2 and "account[1]" in r.output


def test_hedging_optimisation_and_cross_venue_commands(tmp_path):
    import pymargin as pm
    from pymargin.market.bundled import demo_market
    from pymargin.strategy.optimize import minimize_margin

    r = run(
        "hedge",
        str(BOOK),
        "-m",
        "demo:BTC",
        "--band",
        "0.5",
        "--json",
        "--min-variance",
        "BTC-PERPETUAL",
        "--estimator",
        "ewma",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["suggestions"][0]["cost"] <= out["suggestions"][-1]["cost"]
    assert out["drift"][0]["breached"] in (True, False)
    from pymargin.strategy.hedging import CovarianceEstimator, min_variance_hedge

    mv = min_variance_hedge(
        pm.Portfolio.from_csv(BOOK),
        demo_market("BTC"),
        ["BTC-PERPETUAL"],
        estimator=CovarianceEstimator.EWMA,
    )
    assert out["min_variance"]["sizes"] == pytest.approx(mv.sizes)
    assert out["min_variance"]["std_after"] < out["min_variance"]["std_before"]
    cands = "BTC-PERPETUAL,BTC-26DEC25,BTC-26DEC25-80000-P,BTC-26DEC25-110000-C"
    png = tmp_path / "opt.png"
    r = run(
        "optimize",
        str(BOOK),
        "-m",
        "demo:BTC",
        "--candidates",
        cands,
        "--max-size",
        "20",
        "--plot",
        str(png),
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    import pymargin as pm
    from pymargin.strategy.optimize import Objective

    # the command's defaults: margin plus trading cost, whole contracts (contract size 1)
    want = minimize_margin(
        pm.Portfolio.from_csv(BOOK),
        demo_market("BTC"),
        cands.split(","),
        objective=Objective.MARGIN_PLUS_COST,
        max_buy=20.0,
        max_sell=20.0,
        lot=dict.fromkeys(cands.split(","), 1.0),
    )
    assert out["verified_margin"] == pytest.approx(want.verified_margin, rel=1e-9, abs=1e-9)
    assert all(float(v).is_integer() for v in out["trades"].values()) and out["whole_contracts"]
    assert out["verified_margin"] < out["margin_before"] and png.stat().st_size > 5000
    r = run("protect", str(BOOK), "-m", "demo:BTC", "--max-loss", "150000", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert max(out["loss_after"].values()) <= 150000 * (1 + 1e-9)
    r = run(
        "hedge-cost",
        str(BOOK),
        "-m",
        "demo:BTC",
        "--realised-vol",
        "0.5",
        "--intervals",
        "1,4",
        "--bands",
        "0.5",
        "--paths",
        "500",
        "--json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["policy"] for x in rows] == ["every 1 h", "every 4 h", "band +-0.5"]
    assert rows[0]["cost_mc"] > rows[1]["cost_mc"]
    r = run("venues", str(ROOT / "examples" / "venues.json"), "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["allocated_initial_margin_usd"] < out["total_initial_margin_usd"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"accounts": [{"name": "a", "model": "nope"}]}))
    r = run("venues", str(bad), "-m", "demo:BTC")
    assert r.exit_code == 2 and "accounts.model[0]" in r.output and "bad.json" in r.output
    r = run("hedge-cost", str(BOOK), "-m", "demo:BTC", "--realised-vol", "0.5", "--intervals", "x")
    assert r.exit_code == 2 and "intervals[0]" in r.output
    r = run("venues", str(ROOT / "examples" / "venues.json"), "-m", "demo:BTC", "--time", "2025-13")
    assert r.exit_code == 2 and "--time" in r.output
    lin = tmp_path / "lin.csv"
    lin.write_text("instrument,size\nBTC_USDC-26DEC25-100000-C,-2\nBTC_USDC-PERPETUAL,1\n")
    r = run("optimize", str(lin), "-m", "demo:BTC", "--model", "paradex-pm", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["currency"] == "usdc" and out["verified_margin"] < out["margin_before"]


def test_venue_under_other_models(tmp_path):
    # The batch kernel under the FINRA grid (inverse BTC instruments valued in USD); Paradex
    # and grid files margin USD-settled instruments only: the BTC-settled book is refused.
    pos = str(ROOT / "examples" / "venue_positions.csv")
    col = str(ROOT / "examples" / "venue_collateral.csv")
    v = run("venue", pos, col, "-m", "demo:BTC", "--model", "finra-pm", "--json")
    assert v.exit_code == 0, v.output
    summary = json.loads(v.stdout)
    assert summary["accounts"] == 300 and summary["currency"] == "usd"
    assert summary["initial_margin_total"] > 0
    r = run("venue", pos, col, "-m", "demo:BTC", "--model", "paradex-pm")
    assert r.exit_code == 2 and "coin-settled" in r.output
    grid = str(ROOT / "tests" / "data" / "grid_models" / "example_venue.json")
    r = run("venue", pos, col, "-m", "demo:BTC", "--grid-file", grid)
    assert r.exit_code == 2 and "coin-settled" in r.output
    r = run("venue", pos, col, "-m", "demo:BTC", "--model", "finra-pm", "--grid-file", grid)
    assert r.exit_code == 2 and "--grid-file" in r.output
    # Deribit standard margin: the same totals as the library's batch under that model.
    v = run("venue", pos, col, "-m", "demo:BTC", "--model", "deribit-standard", "--json")
    assert v.exit_code == 0, v.output
    summary = json.loads(v.stdout)
    import pymargin as pm
    from pymargin.accounts.batch import batch_margin
    from pymargin.market.bundled import demo_market

    want = batch_margin(pos, col, demo_market("BTC"), model=pm.MarginModel.DERIBIT_STANDARD)
    assert summary["currency"] == "btc"
    assert summary["initial_margin_total"] == pytest.approx(float(want.initial_margin.sum()))
    # X:PM: the same balances named BTC, margined in USD; without the currency column refused
    coll = tmp_path / "coll.csv"
    coll.write_text(
        "account,currency,amount\n"
        + "".join(f"{a},BTC,{x}\n" for a, x in pd_read(col)[["account", "amount"]].to_numpy())
    )
    v = run("venue", pos, str(coll), "-m", "demo:BTC", "--model", "deribit-xpm", "--json")
    assert v.exit_code == 0, v.output
    summary = json.loads(v.stdout)
    want = batch_margin(pos, str(coll), demo_market("BTC"), model=pm.MarginModel.DERIBIT_XPM)
    assert summary["currency"] == "usd" and summary["accounts"] == 300
    covered = want.status != 3
    assert summary["initial_margin_total"] == pytest.approx(
        float(want.initial_margin[covered].sum())
    )
    bare = tmp_path / "bare.csv"  # amounts without their currency
    pd_read(col)[["account", "amount"]].to_csv(bare, index=False)
    r = run("venue", pos, str(bare), "-m", "demo:BTC", "--model", "deribit-xpm")
    assert r.exit_code == 2 and "currency column" in r.output


def pd_read(path):
    import pandas as pd

    return pd.read_csv(path, dtype={"account": str})


@pytest.mark.parametrize(
    ("flags", "model", "params"),
    [
        (("--model", "paradex-pm"), "PARADEX_PM", None),
        (("--model", "finra-pm"), "FINRA_PM", None),
        (
            ("--grid-file", str(ROOT / "tests/data/grid_models/example_venue.json")),
            "SCENARIO_GRID",
            str(ROOT / "tests/data/grid_models/example_venue.json"),
        ),
    ],
)
def test_whatif_under_a_grid_model_is_the_engine_under_that_model(tmp_path, flags, model, params):
    import pymargin as pm
    from pymargin.market.bundled import demo_market

    book = tmp_path / "usdc.csv"
    book.write_text(
        "instrument,size\nBTC_USDC-26DEC25-90000-P,-3\nBTC_USDC-26DEC25-100000-C,2\n"
        "BTC_USDC-PERPETUAL,0.5\n"
    )
    order = "BTC_USDC-26DEC25-80000-P:sell:4"
    w = run(
        "whatif",
        str(book),
        "-m",
        "demo:BTC",
        "--collateral",
        "USDC=50000",
        "--order",
        order,
        *flags,
        "--json",
    )
    assert w.exit_code == 0, w.output
    (out,) = json.loads(w.stdout)
    mkt = demo_market("BTC")
    m = pm.MarginModel[model]
    positions = pm.Portfolio.from_csv(book).positions
    before = pm.margin(positions, mkt, m, params=params).initial_margin
    after_book = {**positions, "BTC_USDC-26DEC25-80000-P": -4.0}
    # IM with the order resting = the larger of the book alone and the book with it filled.
    after = max(before, pm.margin(after_book, mkt, m, params=params).initial_margin)
    assert out["currency"] == "usdc"
    assert out["im_before"] == pytest.approx(before, rel=1e-12)
    assert out["im_after"] == pytest.approx(after, rel=1e-12)


def test_whatif_runs_the_engine_under_xpm_in_usd(tmp_path):
    # Futures are booked at their forwards, so the coin equity the engine shocks is the
    # collateral given: the engine's IM before the order is pm.margin's X:PM of the book.
    from pymargin.market.bundled import demo_market

    book = tmp_path / "book.csv"
    book.write_text("instrument,size\nBTC-PERPETUAL,0.8\nBTC_USDC-PERPETUAL,-1.5\n")
    r = run(
        "whatif",
        str(book),
        "-m",
        "demo:BTC",
        "--collateral",
        "BTC=2,USDC=10000",
        "--order",
        "BTC_USDC-PERPETUAL:sell:0.5",
        "--model",
        "deribit-xpm",
        "--json",
    )
    assert r.exit_code == 0, r.output
    (got,) = json.loads(r.output)
    want = pm.margin(
        {"BTC-PERPETUAL": 0.8, "BTC_USDC-PERPETUAL": -1.5},
        demo_market(),
        pm.MarginModel.DERIBIT_XPM,
        collateral={"BTC": 2.0, "USDC": 10000.0},
    )
    assert got["currency"] == "usd"
    assert got["im_before"] == pytest.approx(want.initial_margin, rel=1e-9)


def test_span_from_the_command_line_is_the_library_under_span(tmp_path):
    # --span-file selects SPAN-16 with that parameter file for margin (pm.margin), whatif (the
    # pre-trade engine) and venue (the batch kernel).
    import pymargin as pm
    from pymargin.market.bundled import demo_market
    from pymargin.models.span import SpanParams

    span = ROOT / "tests" / "data" / "span" / "test_params.json"
    p = SpanParams.from_file(span)
    mkt = demo_market("BTC")
    book = tmp_path / "usdc.csv"
    book.write_text(
        "instrument,size\nBTC_USDC-26DEC25-90000-P,-3\nBTC_USDC-27MAR26-100000-C,2\n"
        "BTC_USDC-PERPETUAL,0.5\n"
    )
    positions = pm.Portfolio.from_csv(book).positions
    m = run("margin", str(book), "-m", "demo:BTC", "--span-file", str(span), "--json")
    assert m.exit_code == 0, m.output
    want = pm.margin(positions, mkt, pm.MarginModel.SPAN16, params=p)
    assert json.loads(m.stdout)["initial_margin"] == pytest.approx(want.initial_margin, rel=1e-12)
    order = "BTC_USDC-26DEC25-80000-P:sell:4"
    w = run(
        "whatif",
        str(book),
        "-m",
        "demo:BTC",
        "--collateral",
        "USDC=1e6",
        "--order",
        order,
        "--span-file",
        str(span),
        "--json",
    )
    assert w.exit_code == 0, w.output
    (out,) = json.loads(w.stdout)
    assert out["im_before"] == pytest.approx(want.initial_margin, rel=1e-10)
    vpos = tmp_path / "venue.csv"
    vpos.write_text(
        "account,instrument,size\na,BTC_USDC-26DEC25-90000-P,-3\na,BTC_USDC-PERPETUAL,1\n"
        "b,BTC_USDC-27MAR26-100000-C,2\n"
    )
    vcol = tmp_path / "collateral.csv"
    vcol.write_text("account,amount\na,50000\nb,20000\n")
    v = run("venue", str(vpos), str(vcol), "-m", "demo:BTC", "--span-file", str(span), "--json")
    assert v.exit_code == 0, v.output
    from pymargin.accounts.batch import batch_margin

    want_v = batch_margin(str(vpos), str(vcol), mkt, p, model=pm.MarginModel.SPAN16)
    total = json.loads(v.stdout)["initial_margin_total"]
    assert total == pytest.approx(float(want_v.initial_margin.sum()), rel=1e-12)
    both = run(
        "margin", str(book), "-m", "demo:BTC", "--span-file", str(span), "--model", "finra-pm"
    )
    assert both.exit_code == 2 and "--span-file" in both.output
    missing = run("margin", str(book), "-m", "demo:BTC", "--span-file", str(tmp_path / "no.json"))
    assert missing.exit_code == 2 and "no.json" in missing.output
