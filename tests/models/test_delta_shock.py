# SPDX-License-Identifier: Apache-2.0
"""Deribit's delta shock: refused by default above the threshold (its formula is not
published); on request, a public re-implementation's formula, labelled unverified. The
expected values are the formula by hand: D* the futures' and short options' coin delta,
offset but never flipped by long options; shock = |D*| min(max_delta_shock, m_inc (|D*| -
threshold / index)). Parameters: pymargin/data/models/deribit_pm/2024-06-17.json (btc_usd:
threshold 20,000,000 USD, max_delta_shock 0.1, m_inc 0.00005)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import pymargin as pm
from pymargin.models.params import ModelCoverageError

T0 = datetime(2025, 12, 5, 1, tzinfo=timezone.utc)
S = 90_000.0
CALL = "BTC-27MAR26-90000-C"


def market() -> pm.Market:
    return pm.Market(T0, {"BTC_USD": S}, {CALL: pm.Mark(mark_iv=0.5, underlying_price=S)})


def by_hand(d: float) -> float:
    excess = max(0.0, abs(d) - 20_000_000 / S)
    return abs(d) * min(0.1, 0.00005 * excess)


def test_refused_by_default_and_charged_on_request():
    book = {"BTC-PERPETUAL": 1_000.0}
    with pytest.raises(ModelCoverageError, match="delta-shock formula is not published"):
        pm.margin(book, market())
    r = pm.margin(book, market(), delta_shock=pm.DeltaShock.UNVERIFIED)
    shock = r.components["delta_shock"]
    assert shock == pytest.approx(by_hand(1_000.0), rel=1e-13)
    rmm = r.components["worst_case"] + r.components["roll_shock"] + shock
    # (the worst case is rounded to 9 decimals, as Deribit rounds it)
    assert r.components["risk_matrix_margin"] == pytest.approx(rmm, rel=1e-11)
    assert r.initial_margin == pytest.approx(rmm, rel=1e-11)
    assert r.maintenance_margin == pytest.approx(0.8 * rmm, rel=1e-11)
    assert any("UNVERIFIED" in n for n in r.notes)
    # capped at max_delta_shock: 10 % of the delta
    big = pm.margin({"BTC-PERPETUAL": 5_000.0}, market(), delta_shock=pm.DeltaShock.UNVERIFIED)
    assert big.components["delta_shock"] == pytest.approx(500.0, rel=1e-13)


def test_long_options_offset_the_shocked_delta_but_never_flip_it():
    m = market()
    # the at-the-money call's Black delta N(d1), d1 = sigma sqrt(T) / 2 (F = K, no rate)
    t = pm.parse_instrument(CALL).time_to_expiry(T0)
    delta = 0.5 * (1.0 + math.erf(0.5 * 0.5 * math.sqrt(t) / math.sqrt(2.0)))
    book = {"BTC-PERPETUAL": -1_000.0, CALL: 400.0}
    r = pm.margin(book, m, delta_shock=pm.DeltaShock.UNVERIFIED)
    assert r.components["delta_shock"] == pytest.approx(by_hand(-1_000.0 + 400.0 * delta), rel=1e-9)
    # long calls alone: nothing firm to shock
    alone = pm.margin({CALL: 2_000.0}, m, delta_shock=pm.DeltaShock.UNVERIFIED)
    assert alone.components["delta_shock"] == 0.0
    # below the threshold the opt-in changes nothing
    small = {"BTC-PERPETUAL": 10.0}
    assert pm.margin(small, m, delta_shock=pm.DeltaShock.UNVERIFIED).initial_margin == (
        pm.margin(small, m).initial_margin
    )


def test_only_deribit_pm_takes_it_and_the_cli_asks_for_it(tmp_path):
    with pytest.raises(pm.InvalidInputError):
        pm.margin(
            {"BTC-PERPETUAL": 1.0},
            market(),
            pm.MarginModel.FINRA_PM,
            delta_shock=pm.DeltaShock.UNVERIFIED,
        )
    book = tmp_path / "book.csv"
    book.write_text("instrument,size\nBTC-PERPETUAL,1000\n")
    base = [sys.executable, "-m", "pymargin", "margin", str(book), "-m", "demo:BTC", "--json"]
    refused = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode != 0 and "delta-shock" in refused.stderr
    ok = subprocess.run(
        base + ["--delta-shock", "unverified"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    out = json.loads(ok.stdout)
    assert out["components"]["delta_shock"] > 0 and any("UNVERIFIED" in n for n in out["notes"])
