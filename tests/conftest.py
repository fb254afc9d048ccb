"""Shared fixtures."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

import pymargin as pm


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """The command line reads a user's config file: the tests run without one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture
def usdc_market() -> pm.Market:
    """A USDC-settled BTC and ETH market (perpetuals and a June expiry of calls and puts) on
    2026-06-01 (when Paradex listed both): the grid venues margin USD-settled instruments only."""
    t0 = datetime(2026, 6, 1, 8, tzinfo=timezone.utc)
    marks = {
        "BTC_USDC-PERPETUAL": pm.Mark(mark_price=70_000.0),
        "ETH_USDC-PERPETUAL": pm.Mark(mark_price=2_000.0),
    }
    for k in (60_000, 70_000, 80_000):
        for cp in "CP":
            marks[f"BTC_USDC-26JUN26-{k}-{cp}"] = pm.Mark(underlying_price=70_500.0, mark_iv=0.55)
    for k in (1_800, 2_000, 2_200):
        for cp in "CP":
            marks[f"ETH_USDC-26JUN26-{k}-{cp}"] = pm.Mark(underlying_price=2_010.0, mark_iv=0.7)
    return pm.Market(t0, {"BTC_USD": 70_000.0, "ETH_USD": 2_000.0}, marks)


@pytest.fixture
def span_doc() -> dict:
    """SPAN parameters for a BTC and ETH book (tiers, intra rates, one inter-commodity spread):
    tests/data/span/crypto_test_parameters.json (test values, not a clearing house's)."""
    path = Path(__file__).resolve().parent / "data" / "span" / "crypto_test_parameters.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def span_market() -> pm.Market:
    """Futures and a perpetual on BTC and ETH, 2025-12-05, for the SPAN parameters above."""
    marks = {
        "BTC-26DEC25": pm.Mark(mark_price=90_500.0),
        "BTC_USDC-26DEC25": pm.Mark(mark_price=90_500.0),
        "BTC_USDC-27MAR26": pm.Mark(mark_price=91_800.0),
        "ETH-PERPETUAL": pm.Mark(mark_price=3_050.0),
    }
    t0 = datetime(2025, 12, 5, 9, tzinfo=timezone.utc)
    return pm.Market(t0, {"BTC_USD": 90_000.0, "ETH_USD": 3_040.0}, marks)
