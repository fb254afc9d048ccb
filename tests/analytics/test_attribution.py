"""What drives the margin: contributions that sum to IM and equal each position's loss in
the binding scenario, marginal and incremental IM against direct re-margining, the nearest
scenarios and the joint vs independent worst loss; from Python and the command line."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pymargin as pm
from pymargin.analytics.attribution import (
    incremental_margin,
    margin_attribution,
    scenario_ranking,
)
from pymargin.cli.app import app
from pymargin.market.bundled import demo_market, mixed_demo_market

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "btc_book.csv"
MIXED = ROOT / "examples" / "mixed_book.csv"


@pytest.fixture(scope="module")
def btc():
    return demo_market("BTC")


def test_finra_contributions_are_each_positions_loss_in_the_binding_move(btc):
    """FINRA's grid has no credit, dampener or roll shock: the Euler contribution of a
    position is exactly its own loss in the binding move (each position's P&L vector from
    its own margin result)."""
    book = {"BTC-26DEC25-85000-P": -10.0, "BTC-27MAR26-100000-C": 5.0, "BTC-PERPETUAL": 0.8}
    res = pm.margin(book, btc, pm.MarginModel.FINRA_PM)
    j = res.scenario_labels.index(res.worst_scenario)
    a = margin_attribution(book, btc, pm.MarginModel.FINRA_PM)
    assert not any(p.at_kink for p in a.positions)
    for p in a.positions:
        alone = pm.margin({p.instrument: p.size}, btc, pm.MarginModel.FINRA_PM)
        assert p.contribution == pytest.approx(-alone.scenario_pnl[j], rel=1e-7)
    assert a.unallocated == pytest.approx(0.0, abs=1e-7 * a.initial_margin)


def test_deribit_contributions_sum_to_im_and_follow_the_binding_scenario(btc):
    pf = pm.Portfolio.from_csv(BOOK)
    res = pm.margin(pf, btc)
    a = margin_attribution(pf, btc)
    assert a.currency == "btc" and a.initial_margin == res.initial_margin
    # the 9-decimal rounding of the worst case is all that is left over
    assert abs(a.unallocated) < 1e-6
    # contribution = loss in the binding entry + share of the roll shock; the roll shares
    # sum to the roll shock
    j = res.scenario_labels.index(res.worst_scenario)
    loss = {
        n: -np.concatenate(list(res.details.initial_risk_vectors[n].values()))[j]
        for n in pf.positions
    }
    roll_shares = sum(p.contribution - loss[p.instrument] for p in a.positions)
    assert roll_shares + a.unallocated == pytest.approx(res.details.roll_shock, abs=1e-6)


def test_marginal_and_incremental_im_equal_direct_re_margining(btc):
    pf = pm.Portfolio.from_csv(BOOK)
    im = pm.margin(pf, btc).initial_margin
    a = margin_attribution(pf, btc)
    for p in a.positions:
        without = {n: s for n, s in pf.positions.items() if n != p.instrument}
        assert p.marginal == im - pm.margin(without, btc).initial_margin
    inc = incremental_margin(pf, btc, {"BTC-26DEC25-90000-P": -2.0})
    after = {**pf.positions, "BTC-26DEC25-90000-P": -2.0}
    assert inc.before == im and inc.after == pm.margin(after, btc).initial_margin
    assert inc.change == inc.after - inc.before and inc.currency == "btc"
    # closing a position entirely removes it
    closed = incremental_margin(pf, btc, {"BTC-PERPETUAL": -0.8})
    assert closed.after == im - a.positions[3].marginal
    with pytest.raises(pm.InvalidInputError):
        incremental_margin(pf, btc, {})
    with pytest.raises(pm.InvalidInputError):
        incremental_margin(pf, btc, {"BTC-PERPETUAL": float("nan")})


def test_a_position_at_a_tie_is_flagged(btc):
    """A perpetual against a future of the same size: no net P&L, so the worst case is
    |size difference| x loss, which changes side at zero: a kink."""
    a = margin_attribution({"BTC-PERPETUAL": 1.0, "BTC-26DEC25": -1.0}, btc)
    assert all(p.at_kink for p in a.positions)
    assert a.unallocated == pytest.approx(0.0, abs=1e-12)


def test_mixed_book_attribution_is_in_usd_and_sums_to_im():
    m = mixed_demo_market()
    a = margin_attribution(pm.Portfolio.from_csv(MIXED), m)
    assert a.currency == "usd"
    assert abs(a.unallocated) < 1e-6 * a.initial_margin
    rows = a.rows()
    assert rows[0]["contribution"] == max(r["contribution"] for r in rows)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-6)


def test_scenario_ranking_top_gap_and_coins_together(btc):
    res = pm.margin(pm.Portfolio.from_csv(BOOK), btc)
    r = scenario_ranking(res, 3)
    losses = sorted(-res.scenario_pnl)[::-1]
    assert [v for _, v in r.top] == losses[:3] and r.top[0][0] == res.worst_scenario
    assert r.gap == losses[0] - losses[1]
    assert r.together is None  # one coin
    mixed = pm.margin(pm.Portfolio.from_csv(MIXED), mixed_demo_market())
    r = scenario_ranking(mixed)
    # each coin's worst from its groups' entries (the BTC group and the USDC group's BTC pair)
    btc_entries = {}
    for lab, v in zip(mixed.scenario_labels, mixed.scenario_pnl):
        if lab.startswith("BTC "):
            key = lab.rsplit(" (", 1)[0]
            btc_entries[key] = btc_entries.get(key, 0.0) + v
    assert r.per_coin["BTC"] == pytest.approx(-min(btc_entries.values()), rel=1e-12)
    assert r.independent == pytest.approx(sum(r.per_coin.values()), rel=1e-12)
    assert r.together <= r.independent + 1e-9
    with pytest.raises(pm.InvalidInputError):
        scenario_ranking(res, 0)


def test_margin_command_by_position_and_nearest_scenarios():
    runner = CliRunner()
    r = runner.invoke(app, ["margin", str(BOOK), "-m", "demo:BTC", "--by-position", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    want = margin_attribution(pm.Portfolio.from_csv(BOOK), demo_market("BTC"))
    assert [x["instrument"] for x in out["by_position"]] == [x["instrument"] for x in want.rows()]
    assert out["by_position"][0]["contribution"] == want.rows()[0]["contribution"]
    assert (
        len(out["top_scenarios"]) == 5
        and out["top_scenarios"][0]["scenario"] == out["worst_scenario"]
    )
    text = runner.invoke(
        app, ["margin", str(MIXED), "-m", "demo:MIXED", "--by-position", "--top", "3"]
    )
    assert text.exit_code == 0, text.output
    assert "IM by position (USD)" in text.stdout and "coins moving together" in text.stdout
