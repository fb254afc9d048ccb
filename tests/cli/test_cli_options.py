"""Command-line options of issue 16: a scenario file for stress, impact and dealer options for
cascade, tables that never cut a word, from the command line with their errors."""

import io
import json
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

import pymargin as pm
from pymargin.analytics.stress import StressScenario, read_scenarios, stress_test
from pymargin.cli.app import app
from pymargin.cli.common import WordSafeConsole
from pymargin.market.bundled import mixed_demo_market

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
runner = CliRunner()


def test_a_scenario_file_is_what_stress_runs(tmp_path):
    got = read_scenarios(EX / "stress_scenarios.csv")
    assert [s.name for s in got] == ["crash with vol spike", "ETH decouples", "squeeze"]
    assert got[0].moves == {"BTC_USD": -0.25, "ETH_USD": -0.35}
    assert got[0].vol_scale == {"BTC_USD": 1.5, "ETH_USD": 1.6}
    r = runner.invoke(
        app,
        [
            "stress",
            str(EX / "mixed_book.csv"),
            "-m",
            "demo:MIXED",
            "--scenarios",
            str(EX / "stress_scenarios.csv"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["scenarios"]
    want = stress_test(pm.Portfolio.from_csv(EX / "mixed_book.csv"), mixed_demo_market(), got)
    assert [(s["name"], s["pnl_usd"]) for s in out] == [(s.name, p) for s, p in want]
    # the same scenarios as JSON
    doc = [{"name": s.name, "moves": s.moves, "vol_scale": s.vol_scale} for s in got]
    (tmp_path / "s.json").write_text(json.dumps(doc))
    assert [s.moves for s in read_scenarios(tmp_path / "s.json")] == [s.moves for s in got]


@pytest.mark.parametrize(
    "text, field, row",
    [
        ("name,underlying,move\nx,BTC,-1.5\n", "move", 0),
        ("name,underlying,move\nx,BTC,-0.1\nx,BTC,-0.2\n", "underlying", 1),
        ("name,underlying,move,vol_scale\nx,BTC,-0.1,0\n", "vol_scale", 0),
        ("name,underlying,move\n,BTC,-0.1\n", "name", 0),
        ("name,underlying,move\nx,B T C,-0.1\n", "underlying", 0),
        ("name,underlying\nx,BTC\n", "header", None),
        ("name,underlying,move\nx,BTC,nan\n", "move", 0),
    ],
)
def test_a_bad_scenario_file_names_the_row_and_field(tmp_path, text, field, row):
    p = tmp_path / "s.csv"
    p.write_text(text)
    with pytest.raises(pm.InvalidInputError) as e:
        read_scenarios(p)
    assert e.value.field == field and e.value.index == row and str(p) in str(e.value)
    r = runner.invoke(
        app, ["stress", str(EX / "btc_book.csv"), "-m", "demo:BTC", "--scenarios", str(p)]
    )
    assert r.exit_code == 2 and field in r.output


def test_cascade_takes_the_impact_model_and_dealers():
    base = [
        "cascade",
        str(EX / "venue_positions.csv"),
        str(EX / "venue_collateral.csv"),
        "-m",
        "demo:BTC",
        "--shock",
        "-0.08",
        "--json",
    ]
    sqrt = json.loads(runner.invoke(app, base).stdout)
    none = json.loads(runner.invoke(app, [*base, "--impact-y", "0"]).stdout)
    linear = json.loads(
        runner.invoke(app, [*base, "--impact", "linear", "--depth", "20000"]).stdout
    )
    # no impact: the price stays at the shock; impact moves it further
    assert none["final_move"] == pytest.approx(-0.08, abs=1e-12)
    assert sqrt["final_move"] < -0.08 and linear["final_move"] < -0.08
    assert linear["final_move"] != sqrt["final_move"]
    r = runner.invoke(app, [*base, "--dealers", "nobody"])
    assert r.exit_code == 2 and "dealers[0]" in r.output
    r = runner.invoke(app, [*base, "--impact-y", "0", "--dealers", "acct0003"])
    assert r.exit_code == 0, r.output


def test_tables_never_cut_a_word_at_any_width():
    long = "ETH-PERPETUAL: no standard-margin parameters for perpetual (inverse) instruments"
    for width in (20, 40, 80):
        t = Table()
        t.add_column("mode")
        t.add_column("reason")
        t.add_row("S:SM", long + " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
        c = WordSafeConsole(width=width, file=io.StringIO(), record=True)
        c.print(t)
        cells = " ".join(
            line.strip("│┃ ").split("│")[-1].strip() for line in c.export_text().splitlines()
        ).split()
        for word in (long + " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").split():
            assert word in cells, (width, word)
    # a scenario's vol scale is printed with its move
    assert StressScenario("x", {"BTC_USD": -0.1}, {"BTC_USD": 1.5}).vol_scale["BTC_USD"] == 1.5


def test_every_command_reads_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    book = str(EX / "mixed_book.csv")
    (tmp_path / "pymargin.toml").write_text(
        'market = "demo:MIXED"\ncollateral = "BTC=5,ETH=100"\noutput = "json"\n[margin]\ntop = 2\n'
    )
    r = runner.invoke(app, ["margin", book])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    want = pm.margin(pm.Portfolio.from_csv(EX / "mixed_book.csv"), mixed_demo_market())
    assert out["initial_margin"] == want.initial_margin and len(out["top_scenarios"]) == 2
    compare = json.loads(runner.invoke(app, ["compare", book]).stdout)  # collateral from the file
    assert compare["S:PM"]["equity_usd"] > 0
    # the command line wins over the file
    r = runner.invoke(app, ["margin", str(EX / "btc_book.csv"), "-m", "demo:BTC", "--top", "4"])
    assert (
        json.loads(r.stdout)["currency"] == "btc"
        and len(json.loads(r.stdout)["top_scenarios"]) == 4
    )
    # a typo is an error naming the file and the key
    (tmp_path / "pymargin.toml").write_text('markt = "demo:BTC"\n')
    r = runner.invoke(app, ["margin", book])
    assert r.exit_code == 2 and "pymargin.toml" in r.output and "markt" in r.output
    (tmp_path / "pymargin.toml").write_text("[margin]\ntopp = 1\n")
    assert "margin.topp" in runner.invoke(app, ["margin", book]).output
    (tmp_path / "pymargin.toml").write_text('output = "yaml"\n')
    assert "output" in runner.invoke(app, ["margin", book]).output
    (tmp_path / "pymargin.toml").write_text("market = \n")
    assert "not valid TOML" in runner.invoke(app, ["margin", book]).output


def test_the_user_config_and_an_explicit_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "xdg" / "pymargin"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('market = "demo:BTC"\noutput = "json"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    r = runner.invoke(app, ["margin", str(EX / "btc_book.csv")])
    assert r.exit_code == 0 and json.loads(r.stdout)["currency"] == "btc"
    other = tmp_path / "other.toml"
    other.write_text('market = "demo:MIXED"\noutput = "table"\n')
    r = runner.invoke(app, ["--config", str(other), "margin", str(EX / "mixed_book.csv")])
    assert r.exit_code == 0 and "deribit_pm margin (USD)" in r.stdout
    r = runner.invoke(app, ["--config", str(tmp_path / "missing.toml"), "margin", "x"])
    assert r.exit_code == 2 and "no such file" in r.output


def test_span16_runs_on_the_bundled_example_and_says_so():
    r = runner.invoke(
        app,
        ["margin", str(EX / "mixed_book.csv"), "-m", "demo:MIXED", "--model", "span16", "--json"],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    from pymargin.models.span import SpanParams

    want = pm.margin(
        pm.Portfolio.from_csv(EX / "mixed_book.csv"),
        mixed_demo_market(),
        pm.MarginModel.SPAN16,
        params=SpanParams.example(),
    )
    assert out["initial_margin"] == want.initial_margin and out["parameters"] == "example"
    assert any("not a clearing house" in n for n in out["notes"])


def test_optimize_defaults_whole_contracts_an_expiry_floor_and_one_programme_per_group():
    from pymargin.market.instruments import parse_instrument
    from pymargin.strategy.programs import default_candidates

    m = mixed_demo_market()
    for days in (0.0, 7.0, 30.0):
        for name in default_candidates(m, "ETH_USD", min_days=days):
            inst = parse_instrument(name)
            if inst.expiry is not None:
                assert inst.time_to_expiry(m.valuation_time) * 365.0 >= days
    r = runner.invoke(
        app,
        ["optimize", str(EX / "mixed_book.csv"), "-m", "demo:MIXED", "--max-size", "5", "--json"],
    )
    assert r.exit_code == 0, r.output
    groups = {g["currency"]: g for g in json.loads(r.stdout)["groups"]}
    assert set(groups) == {"btc", "eth", "usdc"}
    for ccy, g in groups.items():
        assert g["whole_contracts"] and all(float(v).is_integer() for v in g["trades"].values())
        for name in g["trades"]:
            inst = parse_instrument(name)
            assert inst.expiry is None or inst.time_to_expiry(m.valuation_time) * 365.0 >= 7.0
            # each group trades its own settlement currency
            settles = m.table.codes[int(m.table.take([name], "settlement_currency")[1][0])]
            assert settles == ccy
        assert g["verified_margin"] <= g["margin_before"] + 1e-12
        assert g["margin_freed"] == pytest.approx(g["margin_before"] - g["verified_margin"])
    text = runner.invoke(
        app, ["optimize", str(EX / "btc_book.csv"), "-m", "demo:BTC", "--max-size", "5"]
    )
    assert text.exit_code == 0 and "it frees" in text.stdout and " you pay " in text.stdout
    both = runner.invoke(
        app, ["optimize", str(EX / "btc_book.csv"), "-m", "demo:BTC", "--lot", "1", "--fractional"]
    )
    assert both.exit_code == 2 and "--lot" in both.output


def test_params_version_on_every_command_that_margins(tmp_path):
    from pymargin.accounts.batch import batch_margin
    from pymargin.market.bundled import demo_market
    from pymargin.models.deribit_pm import DeribitPMParams

    pos, col = str(EX / "venue_positions.csv"), str(EX / "venue_collateral.csv")
    r = runner.invoke(
        app, ["venue", pos, col, "-m", "demo:BTC", "--params-version", "2024-06-17", "--json"]
    )
    assert r.exit_code == 0, r.output
    want = batch_margin(pos, col, demo_market("BTC"), DeribitPMParams.load("2024-06-17"))
    assert json.loads(r.stdout)["initial_margin_total"] == pytest.approx(
        float(want.initial_margin.sum())
    )
    # a version that does not cover BTC is refused by every command, naming what is missing
    for cmd in (
        ["venue", pos, col, "-m", "demo:BTC"],
        [
            "whatif",
            str(EX / "btc_book.csv"),
            "-m",
            "demo:BTC",
            "--order",
            "BTC-26DEC25-90000-P:sell:1",
        ],
        ["margin", str(EX / "btc_book.csv"), "-m", "demo:BTC"],
        ["report", str(EX / "btc_book.csv"), "-m", "demo:BTC", "-o", str(tmp_path / "r.html")],
    ):
        r = runner.invoke(app, [*cmd, "--params-version", "2026-02-15"])
        assert r.exit_code == 2 and "btc" in r.output.lower(), (cmd, r.output)
    r = runner.invoke(
        app,
        [
            "compare",
            str(EX / "btc_book.csv"),
            "-m",
            "demo:BTC",
            "--params-version",
            "2026-02-15",
            "--json",
        ],
    )
    assert r.exit_code == 0 and "not covered" not in json.dumps(json.loads(r.stdout)["S:SM"])
    assert isinstance(json.loads(r.stdout)["S:PM"], str)  # the PM modes: not covered, said why
    r = runner.invoke(
        app,
        [
            "margin",
            str(EX / "btc_book.csv"),
            "-m",
            "demo:BTC",
            "--model",
            "finra-pm",
            "--params-version",
            "2024-06-17",
        ],
    )
    assert r.exit_code == 2 and "params_version" in r.output
