# SPDX-License-Identifier: Apache-2.0
"""pymargin.PreTradeEngine under Derive portfolio margin: the engine's margin against
pm.margin() of the same book (which assembles the model's inputs independently), with open
orders, checks against resting the order, incremental against recompute, market updates,
snapshots; the venue's own portfolio cases that the engine's inputs can express run through
the core engine against derive_pm_account (itself checked against the venue's results in
tests/models/test_derive_pm.py); and what the engine refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import pymargin as pm
from pymargin import _core
from pymargin.accounts.engine import PreTradeEngine, Reason, Side
from pymargin.exceptions import InputTypeError, InvalidInputError, ModelCoverageError
from pymargin.market.bundled import demo_market

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
import test_derive_pm as venue

DERIVE = pm.MarginModel.DERIVE_PM
M = demo_market()
NAMES = [
    n.replace("BTC-", "BTC_USDC-", 1)
    for n in M.marks
    if n.startswith(("BTC-26DEC25-", "BTC-27MAR26-", "BTC-12DEC25-"))
] + ["BTC_USDC-PERPETUAL"]


def _book(seed: int, n: int = 30) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {
        str(name): float(rng.choice([-3.0, -1.0, 0.5, 2.0, 4.0]))
        for name in rng.choice(NAMES, n, replace=False)
    }


def _fill(eng: PreTradeEngine, acct: int, book: dict[str, float]) -> None:
    for name, q in book.items():
        eng.fill(acct, name, Side.BUY if q > 0 else Side.SELL, abs(q), 25.0)


def test_engine_margin_is_pm_margin_of_the_book():
    eng = PreTradeEngine(M, NAMES, model=DERIVE)
    assert eng.model is DERIVE
    for seed in range(6):
        acct = eng.add_account({"USDC": 1e7})
        book = _book(seed)
        _fill(eng, acct, book)
        got = eng.margin(acct, "usdc")
        want = pm.margin(book, M, DERIVE)
        assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12)
        assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
        assert got == eng.margin_from_scratch(acct, "usdc")


def test_open_orders_count_as_the_worse_side_filling():
    eng = PreTradeEngine(M, NAMES, "2025-05-01", model=DERIVE)
    acct = eng.add_account({"USDC": 1e7})
    book = _book(7, 15)
    _fill(eng, acct, book)
    buys, sells = _book(8, 6), _book(9, 6)
    oid = 0
    for orders, side in ((buys, Side.BUY), (sells, Side.SELL)):
        for name, q in orders.items():
            oid += 1
            eng.add_order(acct, oid, name, side, abs(q))
    states = [dict(book)]
    for orders, sign in ((buys, 1.0), (sells, -1.0)):
        b = dict(book)
        for name, q in orders.items():
            b[name] = b.get(name, 0.0) + sign * abs(q)
        states.append({k: v for k, v in b.items() if v != 0.0})
    want = max(pm.margin(b, M, DERIVE).initial_margin for b in states)
    got = eng.margin(acct, "usdc")
    assert got.initial_margin == pytest.approx(want, rel=1e-12)
    assert got.maintenance_margin == pytest.approx(
        pm.margin(book, M, DERIVE).maintenance_margin, rel=1e-12
    )


def test_check_is_what_resting_the_order_does_and_incremental_is_recompute():
    eng = PreTradeEngine(M, NAMES, model=DERIVE)
    acct = eng.add_account({"USDC": 6e5})
    rng = np.random.default_rng(5)
    open_ids: list[int] = []
    accepted = refused = 0
    for k in range(400):
        name = str(rng.choice(NAMES))
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        q = float(rng.uniform(0.1, 3.0))
        r = rng.random()
        if r < 0.4:
            c = eng.check(acct, name, side, q)
            if not c.accept:
                assert c.reason is Reason.INSUFFICIENT_FUNDS and c.available_after < 0
                refused += 1
                continue
            accepted += 1
            assert c.available_after >= 0
            eng.add_order(acct, k, name, side, q)
            after = eng.margin(acct, "usdc")
            assert c.im_after == pytest.approx(after.initial_margin, rel=1e-9, abs=1e-9)
            open_ids.append(k)
        elif r < 0.6 and open_ids:
            eng.cancel_order(acct, open_ids.pop(int(rng.integers(len(open_ids)))))
        elif eng.check(acct, name, side, q).accept:
            eng.fill(acct, name, side, q, 30.0)
        if k % 25 == 0:
            assert eng.margin(acct, "usdc") == eng.margin_from_scratch(acct, "usdc")
    assert accepted > 10 and refused > 10  # both outcomes exercised
    assert eng.margin(acct, "usdc") == eng.margin_from_scratch(acct, "usdc")


def test_market_updates_and_snapshots():
    eng = PreTradeEngine(M, NAMES, model=DERIVE)
    acct = eng.add_account({"USDC": 1e7})
    book = _book(11)
    _fill(eng, acct, book)
    eng.add_order(acct, 1, NAMES[4], Side.SELL, 2.0)
    moved = M.shifted({"BTC_USD": 0.04}, {"BTC_USD": 1.1})
    eng.on_market_update(moved)
    want = pm.margin(book, moved, DERIVE)
    got = eng.margin(acct, "usdc")
    assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is DERIVE
    assert back.margin(acct, "usdc") == got
    assert back.check(acct, NAMES[9], Side.BUY, 1.0) == eng.check(acct, NAMES[9], Side.BUY, 1.0)


def test_what_derive_does_not_cover_is_refused_by_name():
    future = "BTC_USDC-26DEC25"
    with pytest.raises(ModelCoverageError, match=future):
        PreTradeEngine(M, [*NAMES, future], model=DERIVE)
    inverse = "BTC-26DEC25-100000-C"
    with pytest.raises(ModelCoverageError, match=inverse):
        PreTradeEngine(M, [*NAMES, inverse], model=DERIVE)
    with pytest.raises(InputTypeError):
        PreTradeEngine(M, NAMES, 3.5, model=DERIVE)
    with pytest.raises(InvalidInputError):  # no such shipped version
        PreTradeEngine(M, NAMES, "1999-01-01", model=DERIVE)


# --- the venue's portfolio cases the engine's inputs express -----------------------------------

YEAR = 31_536_000.0


def _expressible(case: dict) -> bool:
    """No collateral, the stable coin at or above its peg threshold, every confidence at or
    above the threshold, no settlement-fixed forward: the engine's neutral values."""
    sc, other = case["Scenario"], case["Parameters"]["OtherContingency"]
    thr = float(other["CONF_THRESHOLD"])
    ok = not sc["Collaterals"] and float(sc["StablePrice"]) >= float(other["PEG_LOSS_THRESHOLD"])
    ok = ok and float(sc["SpotConfidence"]) >= thr
    ok = ok and (float(sc["NumPerps"]) == 0 or float(sc["PerpConfidence"]) >= thr)
    for f in sc["OptionFeeds"]:
        conf = min(
            float(f["ForwardConfidence"]),
            float(f["RateConfidence"]),
            float(f["OptionVolConfidences"]),
        )
        ok = ok and int(f["FeedExpiry"]) >= 1800 and conf >= thr
    return ok


EXPRESSIBLE = [c for c in venue.ASSERTED if _expressible(c)]


def test_enough_venue_cases_are_expressible():
    assert len(EXPRESSIBLE) == 34


@pytest.mark.parametrize("case", EXPRESSIBLE, ids=[c["name"] for c in EXPRESSIBLE])
def test_venue_case_through_the_engine(case):
    sc = case["Scenario"]
    params = venue.params_of(case)
    feeds = {int(f["FeedExpiry"]): f for f in sc["OptionFeeds"]}
    rows = {}  # (seconds, strike, call) -> amount, the instruments the case holds
    for o in sc["Options"]:
        key = (int(o["Expiry"]), float(o["Strike"]), int(o["IsCall"]))
        rows[key] = rows.get(key, 0.0) + float(o["Amount"])
    keys = list(rows)
    perp = float(sc["NumPerps"])
    n = len(keys) + 1
    kind = np.array([3] * len(keys) + [2], np.uint8)
    strike = np.array([k[1] for k in keys] + [0.0])
    call = np.array([k[2] for k in keys] + [0], np.uint8)
    expiry = np.array([k[0] for k in keys] + [-1], np.int64)
    perp_price = float(sc["PerpPrice"]) if perp != 0.0 else float(sc["SpotPrice"])  # unheld
    fwd = np.array([float(feeds[k[0]]["Forward"]) for k in keys] + [perp_price])
    vol = np.array(
        [venue.svi_vol(k[1], *[float(x) for x in feeds[k[0]]["SVIparam"]]) for k in keys] + [0.0]
    )
    time = np.array([k[0] / YEAR for k in keys] + [0.0])
    rate = np.array([float(feeds[k[0]]["Rate"]) for k in keys] + [0.0])
    core = _core.PreTradeEngine.derive(
        4,
        np.array([[0, 0, 0, 0, 0, 1.0]]),
        params._core_params(),
        *params._core_scenarios(),
        kind,
        np.zeros(n, np.uint8),
        call,
        np.zeros(n, np.int32),
        np.zeros(n, np.int32),
        strike,
        expiry,
        fwd,
        vol,
        time,
        rate,
        np.array([float(sc["SpotPrice"])]),
    )
    acct = core.add_account()
    for i, k in enumerate(keys):
        if rows[k] != 0.0:
            assert core.apply_fill(acct, -1, i, 0 if rows[k] > 0 else 1, abs(rows[k]), 1.0) == 0
    if perp != 0.0:
        assert core.apply_fill(acct, -1, n - 1, 0 if perp > 0 else 1, abs(perp), 1.0) == 0
    got = core.margin(acct, 0)
    want = venue.run(case)
    scale = max(abs(want.initial_margin), 1.0)
    assert got[1] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-12 * scale)
    assert got[2] == pytest.approx(want.maintenance_margin, rel=1e-12, abs=1e-12 * scale)
