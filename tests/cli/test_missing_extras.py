"""A feature whose optional dependency is missing says which extra installs it: a typed
error from Python, one line and exit 2 from the command line (never a traceback), with the
extra's brackets printed as typed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pymargin as pm
from pymargin.cli.app import app
from pymargin.extras import optional
from pymargin.plotting import pyplot

ROOT = Path(__file__).resolve().parents[2]


def test_optional_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(pm.exceptions.MissingDependencyError) as e:
        optional("pandas", "venue")
    assert "pip install 'pymargin[venue]'" in str(e.value)
    assert isinstance(e.value, ImportError) and e.value.field == "pandas"


def test_venue_without_pandas_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    r = CliRunner().invoke(
        app,
        [
            "venue",
            str(ROOT / "examples/venue_positions.csv"),
            str(ROOT / "examples/venue_collateral.csv"),
            "-m",
            "demo:BTC",
        ],
    )
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'pymargin[venue]'" in lines[0], r.output


def test_plots_without_matplotlib_name_the_report_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(pm.exceptions.MissingDependencyError, match=r"pymargin\[report\]"):
        pyplot()
