"""An option the market does not list on an expiry it lists is a typo until the user says
otherwise (--allow-unlisted); options valued from the smile are named in the results; the
command line prints its version."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import pymargin as pm
from pymargin.cli.app import app


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
