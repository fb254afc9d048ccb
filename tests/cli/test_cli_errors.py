"""Fail closed at the command line (issue 12): every class of bad input ends in exit code 2 and
ONE line on stderr naming the file, the field and the row (no traceback, no exit 1, no
misleading message); inputs Excel writes (a UTF-8 byte-order mark) are accepted; ``--json`` is
strict JSON; CSV written for spreadsheets cannot carry formulas; and the library entry points
behind them raise pymargin's typed errors."""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pymargin as pm
import pymargin.accounts.batch as pm_batch
from pymargin.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
BOOK = str(ROOT / "examples" / "btc_book.csv")
VENUE_POS = str(ROOT / "examples" / "venue_positions.csv")
VENUE_COL = str(ROOT / "examples" / "venue_collateral.csv")
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def one_line_exit_2(r, *needles: str) -> str:
    """The command failed with exit 2 and one stderr line holding every needle."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return str(p)


def _raise(token: str):
    raise ValueError(f"non-standard JSON token {token}")


def strict_json(text: str):
    return json.loads(text, parse_constant=_raise)


# --- one test per error class ---------------------------------------------------------------


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json(tmp_path, opener, closer):
    p = write(tmp_path, "deep.json", opener * 100_000 + "1" + closer * 100_000)
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "nested")
    one_line_exit_2(run("venues", p, "-m", "demo:BTC"), p, "nested")
    one_line_exit_2(run("margin", BOOK, "-m", p), p, "nested")


def test_a_5000_digit_integer(tmp_path):
    p = write(tmp_path, "big.json", '{"BTC-PERPETUAL": ' + "9" * 5000 + "}")
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "size[0]", "finite")
    acct = '{"name": "a", "model": "deribit-pm", "positions": {"BTC-PERPETUAL": 1%s}}'
    v = write(tmp_path, "venues.json", '{"accounts": [' + acct % ("0" * 5000) + "]}")
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "accounts", "[0]", "finite")
    # 400 digits: a Python int beyond any double (OverflowError before)
    v = write(tmp_path, "venues400.json", '{"accounts": [' + acct % ("0" * 400) + "]}")
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "accounts", "[0]", "finite")


def test_a_1e400_literal_is_refused_as_non_finite(tmp_path):
    p = write(tmp_path, "inf.json", '{"BTC-PERPETUAL": 1e400}')
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "size[0]", "finite")
    doc = {
        "accounts": [{"name": "a", "model": "deribit-pm", "positions": {"BTC-PERPETUAL": 1}}],
        "placements": [{"name": "p", "size": 1.0, "venues": {"a": "BTC-PERPETUAL"}}],
    }
    text = json.dumps(doc).replace('"size": 1.0', '"size": 1e400')
    v = write(tmp_path, "venues.json", text)
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "placements.size[0]", "finite")


def test_a_list_where_an_object_belongs_and_the_reverse(tmp_path):
    p = write(tmp_path, "pos.json", "[1, 2]")
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "record[0]")
    v = write(tmp_path, "venues.json", "[]")
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "accounts")
    v = write(tmp_path, "venues2.json", '{"accounts": {"a": 1}}')
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "accounts")
    acct = {"name": "a", "model": "deribit-pm", "positions": {"BTC-PERPETUAL": 1}}
    v = write(
        tmp_path,
        "venues3.json",
        json.dumps({"accounts": [acct], "placements": [{"name": "p", "size": 1, "venues": [1]}]}),
    )
    one_line_exit_2(run("venues", v, "-m", "demo:BTC"), v, "placements.venues[0]")


def test_a_non_parquet_parquet_file(tmp_path):
    p = write(tmp_path, "pos.parquet", "account,instrument,size\na,BTC-PERPETUAL,1\n")
    one_line_exit_2(run("venue", p, VENUE_COL, "-m", "demo:BTC"), p, "Parquet")
    c = write(tmp_path, "col.parquet", b"PAR1 not really")
    one_line_exit_2(run("venue", VENUE_POS, c, "-m", "demo:BTC"), c, "Parquet")
    one_line_exit_2(run("cascade", p, VENUE_COL, "-m", "demo:BTC", "--shock", "-0.1"), p, "Parquet")


@pytest.mark.parametrize(
    "column,row",
    [
        ([b"BTC-PERPETUAL", b"BTC-26DEC25"], 0),  # a binary column (Parquet BYTE_ARRAY)
        (["BTC-PERPETUAL", None], 1),
        (["BTC-PERPETUAL", ""], 1),
    ],
)
def test_a_bytes_or_null_instrument_column(tmp_path, column, row):
    pos = pd.DataFrame({"account": ["a", "a"], "instrument": column, "size": [1.0, 2.0]})
    p = str(tmp_path / "pos.parquet")
    pos.to_parquet(p)
    c = write(tmp_path, "col.csv", "account,amount\na,1\n")
    one_line_exit_2(run("venue", p, c, "-m", "demo:BTC"), p, f"instrument[{row}]")
    with pytest.raises(pm.InvalidInputError) as e:
        pm_batch.venue_input(pos, pd.DataFrame({"account": ["a"], "amount": [1.0]}))
    assert (e.value.field, e.value.index) == ("instrument", row)


def test_an_unbalanced_csv_quote(tmp_path):
    p = write(tmp_path, "pos.csv", 'instrument,size\nBTC-PERPETUAL,1\n"BTC-26DEC25,2\n')
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "row[1]", "quote")
    v = write(tmp_path, "vpos.csv", 'account,instrument,size\n"a,BTC-PERPETUAL,1\n')
    one_line_exit_2(run("venue", v, VENUE_COL, "-m", "demo:BTC"), v, "row[0]", "quote")
    m = write(tmp_path, "chain.csv", 'instrument_name,mark_iv_pct\n"BTC-PERPETUAL,50\n')
    one_line_exit_2(run("margin", BOOK, "-m", m), m, "row[0]", "quote")


def test_a_missing_input_file(tmp_path):
    gone = str(tmp_path / "gone.csv")
    one_line_exit_2(run("margin", gone, "-m", "demo:BTC"), gone, "no such file")
    one_line_exit_2(run("venue", gone, VENUE_COL, "-m", "demo:BTC"), gone, "no such file")
    one_line_exit_2(run("venue", VENUE_POS, gone, "-m", "demo:BTC"), gone, "no such file")
    one_line_exit_2(
        run("cascade", gone, VENUE_COL, "-m", "demo:BTC", "--shock", "-0.1"), gone, "no such file"
    )
    one_line_exit_2(
        run("compare", BOOK, "-m", "demo:BTC", "--collateral", gone), gone, "no such file"
    )
    one_line_exit_2(run("margin", BOOK, "-m", "demo:BTC", "--params", gone), gone, "no such")
    one_line_exit_2(run("margin", str(tmp_path), "-m", "demo:BTC"), str(tmp_path), "not a file")


def test_output_into_a_missing_folder(tmp_path):
    out = str(tmp_path / "nowhere" / "out.csv")
    line = one_line_exit_2(
        run("venue", VENUE_POS, VENUE_COL, "-m", "demo:BTC", "-o", out), "--output", out
    )
    assert "no such folder" in line
    html = str(tmp_path / "nowhere" / "r.html")
    one_line_exit_2(run("report", BOOK, "-m", "demo:BTC", "-o", html), "--output", html)
    png = str(tmp_path / "nowhere" / "p.png")
    one_line_exit_2(run("var", BOOK, "-m", "demo:BTC", "--plot", png), "--plot", png)
    one_line_exit_2(
        run("cascade", VENUE_POS, VENUE_COL, "-m", "demo:BTC", "--shock", "-0.1", "--plot", png),
        "--plot",
        png,
    )


def test_an_expired_instrument_names_the_file_and_row(tmp_path):
    p = write(tmp_path, "pos.csv", "instrument,size\nBTC-PERPETUAL,1\nBTC-26DEC20-100000-C,1\n")
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "instrument[1]", "expired")
    one_line_exit_2(run("greeks", p, "-m", "demo:BTC"), p, "instrument[1]", "expired")
    v = write(tmp_path, "vpos.csv", "account,instrument,size\na,BTC-PERPETUAL,1\nb,BTC-26DEC20,1\n")
    c = write(tmp_path, "vcol.csv", "account,amount\na,1\nb,1\n")
    one_line_exit_2(run("venue", v, c, "-m", "demo:BTC"), v, "instrument[1]", "expired")


@pytest.mark.parametrize(
    "name,content",
    [("empty.csv", ""), ("blank.json", "\n  \n"), ("header.csv", "instrument,size\n")],
)
def test_an_empty_file_names_the_file(tmp_path, name, content):
    p = write(tmp_path, name, content)
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p)
    one_line_exit_2(run("var", p, "-m", "demo:BTC"), p)
    one_line_exit_2(run("stress", p, "-m", "demo:BTC"), p)
    one_line_exit_2(run("optimize", p, "-m", "demo:BTC"), p)


def test_an_empty_venue_file_names_the_file(tmp_path):
    p = write(tmp_path, "vpos.csv", "")
    one_line_exit_2(run("venue", p, VENUE_COL, "-m", "demo:BTC"), p, "empty")
    h = write(tmp_path, "vhead.csv", "account,instrument,size\n")
    one_line_exit_2(run("venue", h, VENUE_COL, "-m", "demo:BTC"), h, "no positions")
    m = write(tmp_path, "chain.csv", "")
    one_line_exit_2(run("margin", BOOK, "-m", m), m, "empty")


def test_files_saved_with_a_utf8_bom_are_accepted(tmp_path):
    bom = b"\xef\xbb\xbf"
    want = json.loads(run("margin", BOOK, "-m", "demo:BTC", "--json").stdout)
    body = Path(BOOK).read_bytes()
    c = write(tmp_path, "bom.csv", bom + body)
    r = run("margin", c, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["initial_margin"] == want["initial_margin"]
    rows = list(csv.DictReader(body.decode().splitlines()))
    doc = {x["instrument"]: float(x["size"]) for x in rows}
    j = write(tmp_path, "bom.json", bom + json.dumps(doc).encode())
    r = run("margin", j, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["initial_margin"] == want["initial_margin"]
    vp = write(tmp_path, "vpos.csv", bom + Path(VENUE_POS).read_bytes())
    vc = write(tmp_path, "vcol.csv", bom + Path(VENUE_COL).read_bytes())
    r = run("venue", vp, vc, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accounts"] == 300
    ven = write(tmp_path, "venues.json", bom + (ROOT / "examples" / "venues.json").read_bytes())
    r = run("venues", ven, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output


# --- item 2: rows with more or fewer fields than the header -----------------------------------


@pytest.mark.parametrize(
    "content,row",
    [
        # an unquoted thousands separator: was read as size -1
        ("instrument,size\nBTC-26DEC25-100000-C,-1,500\n", "row[0]"),
        ("instrument,size\nBTC-PERPETUAL,1\nBTC-26DEC25-100000-C\n", "row[1]"),
        ("instrument,size,size\nBTC-PERPETUAL,1,2\n", "header[2]"),
    ],
)
def test_csv_rows_must_match_the_header(tmp_path, content, row):
    p = write(tmp_path, "pos.csv", content)
    one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, row)
    from pymargin.cli.inputs import read_positions

    with pytest.raises(pm.InvalidInputError) as e:
        read_positions(p)
    assert p in str(e.value)


def test_venue_and_chain_csv_rows_must_match_the_header(tmp_path):
    v = write(tmp_path, "vpos.csv", "account,instrument,size\na,BTC-PERPETUAL,-1,500\n")
    one_line_exit_2(run("venue", v, VENUE_COL, "-m", "demo:BTC"), v, "row[0]", "fields")
    m = write(
        tmp_path,
        "chain.csv",
        "instrument_name,mark_iv_pct,underlying_price,snapshot_utc\n"
        "BTC-26DEC25-100000-C,50,90000,2025-12-05T00:00:00,extra\n",
    )
    one_line_exit_2(run("margin", BOOK, "-m", m), m, "row[0]", "fields")


# --- item 1: account ids are strings, nothing merged ------------------------------------------


def test_venue_account_ids_that_look_like_numbers_are_not_merged(tmp_path):
    from pymargin.accounts.batch import venue_input

    pos = write(
        tmp_path,
        "pos.csv",
        "account,instrument,size\n007,BTC-PERPETUAL,1\n7,BTC-PERPETUAL,2\n7.0,BTC-PERPETUAL,4\n",
    )
    col = write(tmp_path, "col.csv", "account,amount\n007,1\n7,2\n7.0,3\n")
    v = venue_input(pos, col)
    assert list(v.accounts) == ["007", "7", "7.0"]
    assert list(np.diff(v.offsets)) == [1, 1, 1]
    assert list(v.amount) == [1.0, 2.0, 4.0] and list(v.collateral) == [1.0, 2.0, 3.0]
    r = run("venue", pos, col, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["accounts"] == 3
    # a DataFrame keeps the caller's types; ids of two types that read the same are refused
    mixed = pd.DataFrame({"account": [7, "7"], "instrument": ["BTC-PERPETUAL"] * 2, "size": 1.0})
    with pytest.raises(pm.InvalidInputError) as e:
        venue_input(mixed, pd.DataFrame({"account": [7], "amount": [1.0]}))
    assert (e.value.field, e.value.index) == ("account", 1)
    ints = pd.DataFrame({"account": [7, 8], "instrument": ["BTC-PERPETUAL"] * 2, "size": 1.0})
    assert list(venue_input(ints, pd.DataFrame({"account": [8], "amount": [1.0]})).accounts) == [
        7,
        8,
    ]


def test_cross_venue_names_and_placements_are_not_merged(tmp_path):
    from pymargin.cli.inputs import read_venues

    acct = {"model": "deribit-pm", "positions": {"BTC-PERPETUAL": 1.0}}
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"accounts": [dict(acct, name="007"), dict(acct, name=7)]}))
    accounts, _ = read_venues(f)
    assert [a.name for a in accounts] == ["007", "7"]
    f.write_text(json.dumps({"accounts": [dict(acct, name="7"), dict(acct, name=7)]}))
    with pytest.raises(pm.InvalidInputError) as e:
        read_venues(f)
    assert (e.value.field, e.value.index) == ("accounts.name", 1)
    f.write_text(json.dumps({"accounts": [dict(acct, name="a", collateral={"btc": 1, "BTC": 2})]}))
    with pytest.raises(pm.InvalidInputError) as e:
        read_venues(f)
    assert e.value.field == "accounts.collateral" and e.value.index == 0
    place = {"name": "p", "size": 1.0, "venues": {"a": "BTC-PERPETUAL"}}
    f.write_text(json.dumps({"accounts": [dict(acct, name="a")], "placements": [place, place]}))
    with pytest.raises(pm.InvalidInputError) as e:
        read_venues(f)
    assert (e.value.field, e.value.index) == ("placements.name", 1)


# --- item 3: duplicate key=value entries ------------------------------------------------------


@pytest.mark.parametrize("spec", ["BTC=5,BTC=3", "BTC=5,btc=3", "BTC=5, BTC =5"])
def test_duplicate_collateral_keys_are_refused(spec):
    from pymargin.cli.inputs import read_collateral

    for cmd in ("compare", "stress", "liquidation"):
        one_line_exit_2(
            run(cmd, BOOK, "-m", "demo:BTC", "--collateral", spec), "collateral[1]", "twice"
        )
    with pytest.raises(pm.InvalidInputError) as e:
        read_collateral(spec)
    assert (e.value.field, e.value.index) == ("collateral", 1)
    assert read_collateral("BTC=5,ETH=3") == {"BTC": 5.0, "ETH": 3.0}


# --- item 5: strict JSON and CSV that cannot become formulas ----------------------------------


def test_json_output_is_strict_when_a_margin_is_undefined(tmp_path):
    # an account past the delta-shock threshold is "not covered" (NaN margins)
    pos = write(
        tmp_path,
        "pos.csv",
        "account,instrument,size\nbig,BTC-PERPETUAL,2000\nsmall,BTC-PERPETUAL,0.5\n",
    )
    col = write(tmp_path, "col.csv", "account,amount\nbig,10\nsmall,1\n")
    r = run("venue", pos, col, "-m", "demo:BTC", "--json")
    assert r.exit_code == 0, r.output
    out = strict_json(r.stdout)
    assert out["status"]["not covered"] == 1 and out["accounts"] == 2
    assert np.isfinite(out["initial_margin_total"]) and out["totals_over"] != "all accounts"


def test_json_printer_writes_null_and_says_why(capsys):
    from pymargin.cli.common import print_json as _print_json

    _print_json({"a": float("nan"), "b": [1.0, float("inf")], "c": np.float64(-np.inf), "d": 2})
    out = strict_json(capsys.readouterr().out)
    assert out["a"] is None and out["b"] == [1.0, None] and out["c"] is None and out["d"] == 2
    assert out["non_finite"] == {"/a": "NaN", "/b/1": "Infinity", "/c": "-Infinity"}
    _print_json([{"x": float("nan")}, {"x": 1.0}])
    out = strict_json(capsys.readouterr().out)
    assert out == [{"x": None, "non_finite": {"/x": "NaN"}}, {"x": 1.0}]


def test_every_json_command_prints_strict_json(tmp_path):
    for args in (
        ("margin", BOOK, "-m", "demo:BTC", "--json"),
        ("greeks", BOOK, "-m", "demo:BTC", "--json"),
        ("compare", BOOK, "-m", "demo:BTC", "--collateral", "BTC=5", "--json"),
        ("liquidation", BOOK, "-m", "demo:BTC", "--collateral", "BTC=5", "--json"),
        ("var", BOOK, "-m", "demo:BTC", "--json"),
        ("venue", VENUE_POS, VENUE_COL, "-m", "demo:BTC", "--json"),
    ):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
        strict_json(r.stdout)


def test_csv_output_cannot_carry_spreadsheet_formulas(tmp_path):
    ids = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "plain"]
    rows = "".join(f'"{a}",BTC-PERPETUAL,1\n' for a in ids)
    pos = write(tmp_path, "pos.csv", "account,instrument,size\n" + rows)
    col = write(tmp_path, "col.csv", "account,amount\n" + "".join(f'"{a}",1\n' for a in ids))
    out = tmp_path / "out.csv"
    r = run("venue", pos, col, "-m", "demo:BTC", "-o", str(out))
    assert r.exit_code == 0, r.output
    with out.open(newline="") as fh:
        got = [row["account"] for row in csv.DictReader(fh)]
    assert sorted(got) == sorted(["'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "plain"])
    from pymargin.accounts.batch import batch_margin
    from pymargin.market.bundled import demo_market

    lib = tmp_path / "lib.csv"
    batch_margin(pos, col, demo_market("BTC")).to_csv(str(lib))
    with lib.open(newline="") as fh:
        cells = [x["account"] for x in csv.DictReader(fh)]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)


# --- item 6: typed errors from Python ---------------------------------------------------------


def test_historical_var_of_an_empty_book_is_a_typed_error(tmp_path):
    from pymargin import var
    from pymargin.market.bundled import demo_market

    m = demo_market("BTC")
    for fn in (var.historical_var, var.parametric_var):
        with pytest.raises(pm.InvalidInputError) as e:
            fn(pm.Portfolio({}), m)
        assert e.value.field == "portfolio"
    with pytest.raises(pm.InvalidInputError):
        var.monte_carlo_var({}, m, paths=100)
    p = write(tmp_path, "header.csv", "instrument,size\n")
    one_line_exit_2(run("var", p, "-m", "demo:BTC"), p, "no positions")


@pytest.mark.parametrize("index", [1e308, 1.7e308, 1e300, 1e200])
def test_delta_margin_with_a_huge_index_is_typed_or_finite(index):
    from pymargin.market.bundled import demo_market
    from pymargin.market.market import Market

    d = demo_market("BTC")
    m = Market(d.valuation_time, {**d.index, "BTC_USD": index}, d.marks)
    with np.errstate(all="ignore"):
        for book in (pm.Portfolio.from_csv(BOOK), pm.Portfolio({"BTC-PERPETUAL": 1.0})):
            try:
                r = pm.margin(book, m, pm.MarginModel.DELTA_MARGIN)
            except pm.PymarginError:
                continue
            assert np.isfinite(r.initial_margin) and r.initial_margin >= 0
            assert all(np.isfinite(v) for v in r.components.values())
            if len(book.positions) == 1:  # one coin of the perpetual: 16 % of the index
                assert r.initial_margin == pytest.approx(0.16 * index, rel=1e-12)
    # 1e308: the book's delta in USD overflows, one coin does not (its +16 % scenario does
    # not either)
    m = Market(d.valuation_time, {**d.index, "BTC_USD": 1e308}, d.marks)
    with np.errstate(all="ignore"):
        assert pm.margin(
            {"BTC-PERPETUAL": 1.0}, m, pm.MarginModel.DELTA_MARGIN
        ).initial_margin == pytest.approx(1.6e307, rel=1e-12)


# --- item 7: the same classes in the other options ---------------------------------------------


@pytest.mark.parametrize(
    "args,needles",
    [
        (("whatif", "--order", "BTC-PERPETUAL:buy:nan"), ("order[0]", "finite")),
        (("whatif", "--order", "BTC-PERPETUAL:buy:-1"), ("order[0]",)),
        (("whatif", "--order", "BTC-26DEC20:sell:1"), ("order[0]", "expired")),
        (("optimize", "--candidates", "BTC-PERPETUAL,BTC-PERPETUAL"), ("candidates[1]", "twice")),
        (("hedge", "--min-variance", "BTC-PERPETUAL,BTC-PERPETUAL"), ("min_variance[1]",)),
        (("hedge-cost", "--realised-vol", "0.5", "--intervals", "1,1"), ("intervals[1]",)),
        (("hedge-cost", "--realised-vol", "0.5", "--intervals", "inf"), ("intervals[0]",)),
        (("stress", "--top", "-1"), ("--top",)),
    ],
)
def test_other_options_fail_closed(args, needles):
    one_line_exit_2(run(args[0], BOOK, "-m", "demo:BTC", *args[1:]), *needles)


def test_messages_stay_one_line_whatever_the_input_holds(tmp_path):
    p = write(tmp_path, "pos.csv", 'instrument,size\n"BTC-[bold]X\nY[/]",1\n')
    line = one_line_exit_2(run("margin", p, "-m", "demo:BTC"), p, "instrument[0]")
    assert "[bold]" in line or "X" in line


def test_margin_checks_collateral_even_where_the_model_ignores_it():
    # S:PM does not use collateral, but a duplicate key is still a mistake to report.
    r = CliRunner().invoke(app, ["margin", BOOK, "-m", "demo:BTC", "--collateral", "BTC=5,BTC=3"])
    assert r.exit_code == 2
    assert "twice" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["var", BOOK, "-m", "demo:BTC", "--confidence", "abc"],  # not a number
        ["var"],  # missing argument
        ["--no-such-option"],
        ["margin", BOOK, "-m", "demo:BTC", "--model", "no-such-model"],
    ],
)
def test_usage_errors_of_the_console_script_are_one_line_exit_2(args, tmp_path):
    import subprocess
    import sys

    # Run outside the source tree, so that the installed package (with its compiled core) is
    # the one imported, as a user's shell would.
    r = subprocess.run(
        [sys.executable, "-m", "pymargin", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pymargin: error:"), r.stderr
