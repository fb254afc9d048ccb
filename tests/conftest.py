"""Shared fixtures."""

from datetime import datetime, timezone

import pytest

import pymargin as pm


@pytest.fixture
def usdc_market() -> pm.Market:
    """A USDC-settled BTC and ETH market (perpetuals and a June expiry of calls and puts) on
    2026-04-01: the grid venues margin USD-settled instruments only."""
    t0 = datetime(2026, 4, 1, 8, tzinfo=timezone.utc)
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
