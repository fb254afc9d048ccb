"""pymargin.PreTradeEngine: the C++ pre-trade engine from Python, checked against the
independent Python implementation of the same model (pymargin.models.deribit_pm_margin)."""

import numpy as np
import pytest

import pymargin as pm
import pymargin.accounts.engine as pm_engine
from pymargin.accounts.engine import OrderRejected, PreTradeEngine, Reason, Side
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams, deribit_pm_margin

PARAMS = DeribitPMParams.load("2024-06-17")


def _universe(market):
    names = [n for n in market.marks if n.startswith("BTC-26DEC25") or n.startswith("BTC-6DEC25")]
    return [*names, "BTC-PERPETUAL"]


def _coin_size(market, name, amount):
    inst = pm.parse_instrument(name)
    if inst.kind is not pm.InstrumentKind.OPTION and inst.settlement is pm.Settlement.INVERSE:
        return amount / market.underlying_price(inst)  # USD notional -> coin exposure
    return amount


def test_engine_margin_equals_the_python_model():
    m = demo_market()
    names = _universe(m)
    eng = PreTradeEngine(m, names, PARAMS)
    acct = eng.add_account({"BTC": 10.0})
    rng = np.random.default_rng(3)
    book = {}
    for name in rng.choice(names[:-1], 25, replace=False):
        q = float(rng.choice([-3.0, -1.0, 0.5, 2.0]))
        eng.fill(acct, name, Side.BUY if q > 0 else Side.SELL, abs(q), 0.01)
        book[name] = q
    eng.fill(acct, "BTC-PERPETUAL", Side.BUY, 50_000.0, 92_000.0)  # USD notional
    book["BTC-PERPETUAL"] = 50_000.0
    want = deribit_pm_margin({n: _coin_size(m, n, q) for n, q in book.items()}, m, PARAMS)
    got = eng.margin(acct, "btc")
    assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-12)
    assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
    assert got.roll_shock == pytest.approx(want.roll_shock, rel=1e-12)
    assert got.worst_case == pytest.approx(want.worst_case, rel=1e-12)
    # The incremental state equals a recompute from scratch.
    assert got == eng.margin_from_scratch(acct, "btc")


def test_check_is_what_adding_the_order_would_do_and_bursts_cannot_overcommit():
    m = demo_market()
    eng = PreTradeEngine(m, _universe(m), PARAMS)
    acct = eng.add_account({"BTC": 1.0})
    put = "BTC-26DEC25-80000-P"
    r = eng.check(acct, put, Side.SELL, 2.0)
    assert r.accept and r.reason is Reason.ACCEPTED and r.currency == "btc"
    eng.add_order(acct, 1, put, Side.SELL, 2.0)
    assert eng.margin(acct, "btc").initial_margin == pytest.approx(r.im_after, rel=1e-15)
    accepted = 0
    for k in range(2, 200):
        c = eng.check(acct, put, Side.SELL, 2.0)
        if not c.accept:
            assert c.reason is Reason.INSUFFICIENT_FUNDS and c.available_after < 0
            break
        eng.add_order(acct, k, put, Side.SELL, 2.0)
        accepted += 1
    assert 0 < accepted < 198
    assert eng.margin(acct, "btc").available_funds >= 0
    batch = eng.check_many(acct, [put, put], [Side.BUY, Side.SELL], [2.0, 2.0])
    assert batch.accept.tolist() == [True, False]  # buying reduces the short exposure
    with pytest.raises(OrderRejected) as e:
        eng.withdraw(acct, "btc", 1.0)
    assert e.value.rejection is Reason.INSUFFICIENT_FUNDS


def test_market_update_and_snapshot_round_trip():
    m = demo_market()
    names = _universe(m)
    eng = PreTradeEngine(m, names, PARAMS)
    acct = eng.add_account({"BTC": 5.0})
    eng.fill(acct, "BTC-26DEC25-100000-C", Side.SELL, 3.0, 0.02)
    eng.add_order(acct, 7, "BTC-PERPETUAL", Side.BUY, 100_000.0)
    before = eng.margin(acct, "btc")
    moved = pm.Market(
        m.valuation_time,
        {"BTC_USD": m.index["BTC_USD"] * 1.05},
        {
            n: pm.Mark(mk.mark_price, (mk.underlying_price or 0) * 1.05, mk.mark_iv)
            for n, mk in m.marks.items()
        },
    )
    eng.on_market_update(moved)
    after = eng.margin(acct, "btc")
    assert after.initial_margin > before.initial_margin  # short call, market up
    assert after == eng.margin_from_scratch(acct, "btc")
    data = eng.snapshot()
    back = PreTradeEngine.restore(data)
    assert back.margin(acct, "btc") == after
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 1
    with pytest.raises(pm.InvalidInputError) as e:
        PreTradeEngine.restore(bytes(damaged))
    assert e.value.field == "snapshot"


def test_bad_input_is_refused_before_anything_changes():
    m = demo_market()
    eng = PreTradeEngine(m, _universe(m), PARAMS)
    acct = eng.add_account()
    with pytest.raises(pm.InvalidInputError) as e:
        eng.check(acct, "BTC-27MAR26-100000-C", Side.BUY, 1.0)
    assert e.value.field == "instrument"
    with pytest.raises(pm.InvalidInputError):
        eng.check(acct, "BTC-PERPETUAL", "buy", 1.0)  # enums, not strings
    assert eng.check(acct, "BTC-PERPETUAL", Side.BUY, float("nan")).reason is Reason.BAD_SIZE
    with pytest.raises(OrderRejected) as r:
        eng.cancel_order(acct, 12345)
    assert r.value.rejection is Reason.UNKNOWN_ORDER
    with pytest.raises(pm.InvalidInputError) as e:
        PreTradeEngine(m, ["BTC-PERPETUAL", "BTC-PERPETUAL"], PARAMS)
    assert e.value.field == "instruments"
    eng.fill(acct, "BTC-26DEC25-100000-C", Side.SELL, 1.0, 0.02)
    before = eng.margin(acct, "btc")
    no_vols = pm.Market(m.valuation_time, m.index, {})  # options without marks or a smile
    with pytest.raises(pm.MarketDataError) as e:
        eng.on_market_update(no_vols)
    assert e.value.field == "mark_iv"
    assert eng.margin(acct, "btc") == before


def test_ids_accounts_and_snapshots_that_do_not_belong_are_refused():
    import struct

    m = demo_market("BTC")
    c, f = "BTC-26DEC25-100000-C", "BTC-PERPETUAL"
    eng = PreTradeEngine(m, [c, "BTC-26DEC25-80000-P", f])
    a = eng.add_account({"BTC": 1.0})
    with pytest.raises(pm.InvalidInputError) as e:  # -1 is the engine's "no order"
        eng.add_order(a, -1, c, Side.SELL, 1.0)
    assert e.value.field == "order_id"
    with pytest.raises(pm.InvalidInputError) as e:
        eng.fill(a, c, Side.SELL, 1.0, 0.01, order_id=-1)
    assert e.value.field == "order_id"
    with pytest.raises(pm.InvalidInputError) as e:
        eng.margin(99, "btc")
    assert e.value.field == "account"
    with pytest.raises(pm.InputTypeError) as e:
        eng.add_account({"BTC": "x"})
    assert e.value.field == "collateral"
    other = PreTradeEngine(m, [f])
    other.add_account({"BTC": 1.0})
    sa, sb = eng.snapshot(), other.snapshot()
    na, nb = struct.unpack("<I", sa[8:12])[0], struct.unpack("<I", sb[8:12])[0]
    with pytest.raises(pm.InvalidInputError) as e:
        PreTradeEngine.restore(sa[: 16 + na] + sb[16 + nb :])
    assert e.value.field == "snapshot"


def test_the_fast_check_equals_the_checked_path_and_hands_on_what_it_cannot_take():
    # check() is a C function bound to the engine for well-typed arguments; anything else
    # goes through the checked path, which raises the typed error naming the field.
    m = demo_market()
    names = _universe(m)
    eng = PreTradeEngine(m, names, PARAMS)
    acct = eng.add_account({"BTC": 3.0})
    for name in names[:10]:
        eng.fill(acct, name, Side.SELL, 1.0, 0.01)
    for name in names[:40]:
        h = eng.handle(name)
        by_name = eng.check(acct, name, Side.SELL, 2.0)
        assert eng.check(acct, h, Side.SELL, 2.0) == by_name
        assert eng.check(acct, np.int64(h), Side.SELL, np.float64(2.0)) == by_name  # slow path
        assert eng._check(acct, name, Side.SELL, 2) == by_name
        assert isinstance(by_name, pm_engine.CheckResult) and by_name.currency == "btc"
    assert eng.check(999, names[0], Side.BUY, 1.0).reason is Reason.UNKNOWN_ACCOUNT
    assert eng.check(acct, names[0], Side.BUY, -1.0).reason is Reason.BAD_SIZE
    for h in (len(names), -1, np.int64(len(names))):  # a handle the engine does not have
        assert eng.check(acct, h, Side.BUY, 1.0).reason is Reason.UNKNOWN_INSTRUMENT
    cases = [
        ((acct, "NOPE-1", Side.BUY, 1.0), pm.InvalidInputError, "instrument"),
        ((acct, 2.5, Side.BUY, 1.0), pm.InputTypeError, "instrument"),
        ((acct, names[0], 0, 1.0), pm.InvalidInputError, "side"),
        ((acct, names[0], Side.BUY, "1"), pm.InputTypeError, "amount"),
        ((acct, names[0], Side.BUY, True), pm.InputTypeError, "amount"),
        (("a", names[0], Side.BUY, 1.0), pm.InputTypeError, "account"),
    ]
    for args, err, field in cases:
        with pytest.raises(err) as e:
            eng.check(*args)
        assert e.value.field == field, args
    # check_many takes handles as an int array and sides as a uint8 array, and equals check()
    hs = eng.handles(names[:40])
    batch = eng.check_many(acct, hs, np.ones(40, np.uint8), np.full(40, 2.0))
    by_names = eng.check_many(acct, names[:40], [Side.SELL] * 40, [2.0] * 40)
    one = [eng.check(acct, n, Side.SELL, 2.0) for n in names[:40]]
    for b in (batch, by_names):
        assert list(b.im_after) == [r.im_after for r in one]
        assert list(b.accept) == [r.accept for r in one]
    with pytest.raises(pm.InvalidInputError) as e:
        eng.check_many(acct, np.array([0, len(names)]), [Side.BUY] * 2, [1.0, 1.0])
    assert (e.value.field, e.value.index) == ("instruments", 1)
    with pytest.raises(pm.InvalidInputError) as e:
        eng.check_many(acct, hs[:2], np.array([0, 2], np.uint8), [1.0, 1.0])
    assert (e.value.field, e.value.index) == ("sides", 1)
    with pytest.raises(pm.InputTypeError) as e:
        eng.check_many(acct, names[:2], [Side.BUY, 1], [1.0, 1.0])
    assert (e.value.field, e.value.index) == ("sides", 1)
    with pytest.raises(pm.InvalidInputError) as e:
        eng.check_many(acct, [names[0], "NOPE-2"], [Side.BUY] * 2, [1.0, 1.0])
    assert (e.value.field, e.value.index) == ("instruments", 1)
    # a restored engine has its fast check too
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.check(acct, names[3], Side.BUY, 1.0) == eng.check(acct, names[3], Side.BUY, 1.0)


def test_side_and_reason_are_the_cores_enums():
    """Side and Reason are bound from the C++ engine's enums (one definition), real IntEnums."""
    import enum

    from pymargin import _core
    from pymargin.accounts.engine import Reason, Side

    assert Side is _core.Side and Reason is _core.Reason
    assert issubclass(Side, enum.IntEnum) and issubclass(Reason, enum.IntEnum)
    assert [m.value for m in Reason] == list(range(len(Reason)))
    assert Reason.ACCEPTED == 0 and Reason.NON_FINITE_STATE == 9 and Side.SELL == 1
