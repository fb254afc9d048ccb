"""pymargin.PreTradeEngine under the grid models (Paradex, FINRA, a venue from its parameter
file): the engine's margin against pm.margin() of the same book (the model functions, which
assemble their inputs independently of the engine), check() against doing it, incremental
against recompute, snapshots, and what the engine refuses."""

from pathlib import Path

import numpy as np
import pytest

import pymargin as pm
from pymargin.accounts.engine import OrderRejected, PreTradeEngine, Reason, Side
from pymargin.exceptions import InputTypeError, InvalidInputError
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams
from pymargin.models.params import ModelParameterError

GRID_FILE = str(Path(__file__).parents[1] / "data/grid_models/example_venue.json")
MODELS = [
    (pm.MarginModel.PARADEX_PM, None),
    (pm.MarginModel.FINRA_PM, None),
    (pm.MarginModel.FINRA_PM, {"move": 0.2, "points": 8, "minimum_per_contract": 40.0}),
    (pm.MarginModel.SCENARIO_GRID, GRID_FILE),
]
IDS = ["paradex", "finra", "finra-custom", "grid-file"]
M = demo_market()
NAMES = [
    n.replace("BTC-", "BTC_USDC-", 1)
    for n in M.marks
    if n.startswith(("BTC-26DEC25", "BTC-27MAR26", "BTC-12DEC25"))
] + ["BTC_USDC-PERPETUAL"]


def _book(seed: int, n: int = 40) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {
        str(name): float(rng.choice([-3.0, -1.0, 0.5, 2.0, 4.0]))
        for name in rng.choice(NAMES, n, replace=False)
    }


def _fill(eng: PreTradeEngine, acct: int, book: dict[str, float]) -> None:
    for name, q in book.items():
        eng.fill(acct, name, Side.BUY if q > 0 else Side.SELL, abs(q), 25.0)


@pytest.mark.parametrize(("model", "params"), MODELS, ids=IDS)
def test_engine_margin_is_pm_margin_of_the_book(model, params):
    eng = PreTradeEngine(M, NAMES, params, model=model)
    assert eng.model is model
    for seed in range(4):
        acct = eng.add_account({"USDC": 1e7})
        book = _book(seed)
        _fill(eng, acct, book)
        got = eng.margin(acct, "usdc")
        want = pm.margin(book, M, model, params=params)
        assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12)
        assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
        assert got.roll_shock == 0.0
        assert got == eng.margin_from_scratch(acct, "usdc")


@pytest.mark.parametrize(("model", "params"), MODELS, ids=IDS)
def test_open_orders_count_as_the_worse_side_filling(model, params):
    eng = PreTradeEngine(M, NAMES, params, model=model)
    acct = eng.add_account({"USDC": 1e7})
    book = _book(7, 20)
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
    want = max(pm.margin(b, M, model, params=params).initial_margin for b in states)
    got = eng.margin(acct, "usdc")
    assert got.initial_margin == pytest.approx(want, rel=1e-12)
    assert got == eng.margin_from_scratch(acct, "usdc")


@pytest.mark.parametrize(("model", "params"), MODELS, ids=IDS)
def test_check_is_what_resting_the_order_does_and_incremental_is_recompute(model, params):
    eng = PreTradeEngine(M, NAMES, params, model=model)
    acct = eng.add_account({"USDC": 2e5})
    rng = np.random.default_rng(5)
    open_ids = []
    for k in range(400):
        name = str(rng.choice(NAMES))
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        q = float(rng.uniform(0.1, 3.0))
        r = rng.random()
        if r < 0.4:
            c = eng.check(acct, name, side, q)
            if not c.accept:
                assert c.reason is Reason.INSUFFICIENT_FUNDS and c.available_after < 0
                continue
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
    assert eng.margin(acct, "usdc") == eng.margin_from_scratch(acct, "usdc")


@pytest.mark.parametrize(("model", "params"), MODELS, ids=IDS)
def test_snapshot_keeps_the_model(model, params):
    eng = PreTradeEngine(M, NAMES, params, model=model)
    acct = eng.add_account({"USDC": 1e6})
    _fill(eng, acct, _book(3, 15))
    eng.add_order(acct, 1, NAMES[4], Side.SELL, 2.0)
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is model
    assert back.margin(acct, "usdc") == eng.margin(acct, "usdc")
    assert back.check(acct, NAMES[9], Side.BUY, 1.0) == eng.check(acct, NAMES[9], Side.BUY, 1.0)


def test_market_updates_move_grid_accounts_like_pm_margin():
    eng = PreTradeEngine(M, NAMES, model=pm.MarginModel.PARADEX_PM)
    acct = eng.add_account({"USDC": 1e6})
    book = _book(11)
    _fill(eng, acct, book)
    moved = M.shifted({"BTC_USD": 0.04}, {"BTC_USD": 1.1})
    eng.on_market_update(moved)
    want = pm.margin(book, moved, pm.MarginModel.PARADEX_PM)
    assert eng.margin(acct, "usdc").initial_margin == pytest.approx(want.initial_margin, rel=1e-12)


def test_what_the_engine_does_not_run_is_refused_by_name():
    with pytest.raises(InputTypeError):
        PreTradeEngine(M, NAMES, model="paradex_pm")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as e:
        PreTradeEngine(M, ["BTC-26DEC25-90000-P", *NAMES], model=pm.MarginModel.PARADEX_PM)
    assert e.value.field == "instruments" and e.value.index == 0
    with pytest.raises(InvalidInputError) as e:
        PreTradeEngine(M, NAMES, model=pm.MarginModel.SCENARIO_GRID)
    assert e.value.field == "params"
    with pytest.raises(InputTypeError):
        PreTradeEngine(M, NAMES, 3.5, model=pm.MarginModel.PARADEX_PM)
    with pytest.raises(InputTypeError):
        PreTradeEngine(M, NAMES, {"moves": 0.1}, model=pm.MarginModel.FINRA_PM)


# --- Deribit standard margin ------------------------------------------------------------------

STD_NAMES = [n for n in M.marks if n.startswith(("BTC-26DEC25", "BTC-12DEC25", "BTC-27MAR26"))]
STD_NAMES += ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL"]


def _engine_amount(name: str, coins: float) -> float:
    inst = pm.parse_instrument(name)
    if inst.kind is not pm.InstrumentKind.OPTION and inst.settlement is pm.Settlement.INVERSE:
        return coins * M.underlying_price(inst)  # inverse futures: USD amounts
    return coins


def _standard_sum(book: dict[str, float], currency: str) -> tuple[float, float]:
    from pymargin.models import deribit_standard_margin

    per = [p for p in deribit_standard_margin(book, M) if p.currency.lower() == currency]
    return sum(p.initial_margin for p in per), sum(p.maintenance_margin for p in per)


def test_standard_engine_is_the_standard_model_of_the_book():
    eng = PreTradeEngine(M, STD_NAMES, model=pm.MarginModel.DERIBIT_STANDARD)
    assert eng.model is pm.MarginModel.DERIBIT_STANDARD and eng.scenarios == 0
    rng = np.random.default_rng(4)
    for _ in range(3):
        acct = eng.add_account({"BTC": 50.0, "USDC": 1e6})
        book = {}
        for name in rng.choice(STD_NAMES, 30, replace=False):
            q = float(rng.choice([-2.0, -1.0, 0.5, 1.5]))
            eng.fill(
                acct,
                str(name),
                Side.BUY if q > 0 else Side.SELL,
                _engine_amount(name, abs(q)),
                0.01,
            )
            book[str(name)] = q
        for ccy in ("btc", "usdc"):
            sub = {n: q for n, q in book.items() if ("USDC" in n) == (ccy == "usdc")}
            im, mm = _standard_sum(sub, ccy) if sub else (0.0, 0.0)
            got = eng.margin(acct, ccy)
            assert got.initial_margin == pytest.approx(im, rel=1e-12, abs=1e-15)
            assert got.maintenance_margin == pytest.approx(mm, rel=1e-12, abs=1e-15)
            assert got == eng.margin_from_scratch(acct, ccy)


def test_standard_engine_checks_restores_and_follows_the_market():
    eng = PreTradeEngine(M, STD_NAMES, model=pm.MarginModel.DERIBIT_STANDARD)
    acct = eng.add_account({"BTC": 3.0})
    put = "BTC-26DEC25-80000-P"
    c = eng.check(acct, put, Side.SELL, 4.0)
    eng.add_order(acct, 1, put, Side.SELL, 4.0)
    assert eng.margin(acct, "btc").initial_margin == pytest.approx(c.im_after, rel=1e-12)
    assert c.im_after == pytest.approx(_standard_sum({put: -4.0}, "btc")[0], rel=1e-12)
    eng.fill(acct, put, Side.SELL, 4.0, 0.01, order_id=1)
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is pm.MarginModel.DERIBIT_STANDARD
    assert back.margin(acct, "btc") == eng.margin(acct, "btc")
    moved = M.shifted({"BTC_USD": -0.05}, {"BTC_USD": 1.2})  # marks dropped: model values
    eng.on_market_update(moved)
    from pymargin.models import deribit_standard_margin

    want = deribit_standard_margin({put: -4.0}, moved)[0]
    got = eng.margin(acct, "btc")
    assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-12)
    assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-12)
    # A deep drop makes the short put need more than the account holds: refused.
    big = eng.check(acct, put, Side.SELL, 100.0)
    assert not big.accept and big.reason is Reason.INSUFFICIENT_FUNDS


def test_standard_engine_refuses_instruments_without_parameters():
    from pymargin.models.params import ModelParameterError

    with pytest.raises(ModelParameterError):
        PreTradeEngine(M, ["BTC_USDC-26DEC25-90000-P"], model=pm.MarginModel.DERIBIT_STANDARD)
    with pytest.raises(InputTypeError):
        PreTradeEngine(M, STD_NAMES, "2025-12-01", model=pm.MarginModel.DERIBIT_STANDARD)


# --- the Greek-netting model ------------------------------------------------------------------


def test_greek_netting_engine_is_delta_margin_of_the_book():
    from pymargin.models.delta_margin import delta_margin

    eng = PreTradeEngine(M, NAMES, model=pm.MarginModel.DELTA_MARGIN)
    assert eng.model is pm.MarginModel.DELTA_MARGIN
    for seed in range(3):
        acct = eng.add_account({"USDC": 1e7})
        book = _book(20 + seed, 25)
        _fill(eng, acct, book)
        got = eng.margin(acct, "usdc")
        want = delta_margin(book, M).initial_margin
        assert got.initial_margin == pytest.approx(want, rel=1e-10)
        assert got.maintenance_margin == got.initial_margin
        assert got == eng.margin_from_scratch(acct, "usdc")
    # Open orders: the worse side filling, as for every model.
    acct = eng.add_account({"USDC": 1e7})
    book = _book(30, 10)
    _fill(eng, acct, book)
    eng.add_order(acct, 1, NAMES[3], Side.SELL, 5.0)
    c = eng.check(acct, NAMES[7], Side.SELL, 3.0)
    eng.add_order(acct, 2, NAMES[7], Side.SELL, 3.0)
    assert eng.margin(acct, "usdc").initial_margin == pytest.approx(c.im_after, rel=1e-12)
    sold = dict(book)
    for name, q in ((NAMES[3], 5.0), (NAMES[7], 3.0)):
        sold[name] = sold.get(name, 0.0) - q
    want = max(delta_margin(book, M).initial_margin, delta_margin(sold, M).initial_margin)
    assert c.im_after == pytest.approx(want, rel=1e-10)
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is pm.MarginModel.DELTA_MARGIN
    assert back.margin(acct, "usdc") == eng.margin(acct, "usdc")


# --- SPAN -----------------------------------------------------------------------------------

SPAN_DOC = {
    "version": "test",
    "source": "test parameters",
    "commodities": {
        "BTC_USD": {
            "price_scan": 0.2,
            "vol_scan": 0.1,
            "tier_days": [14, 60],
            "intra_rates": [[0, 1, 300.0], [1, 2, 200.0], [0, 2, 500.0]],
            "short_option_minimum": 150.0,
        },
        "ETH_USD": {
            "price_scan": 0.25,
            "vol_scan": 0.12,
            "tier_days": [30],
            "intra_rates": [[0, 1, 20.0]],
            "short_option_minimum": 5.0,
        },
    },
    "inter_spreads": [{"a": "BTC_USD", "b": "ETH_USD", "ratio_a": 1, "ratio_b": 30, "rate": 0.5}],
}


def test_span_engine_is_span_margin_of_the_book(usdc_market):
    # The engine's SPAN (scan risk over the look-ahead, intra-commodity charges, the
    # inter-commodity credit, the short option minimum) against span_margin, whose assembly
    # (commodity_rows, span_requirement) is pymargin's Python path.
    from pymargin.models.span import SpanParams, span_margin

    mkt = usdc_market
    p = SpanParams.from_document(SPAN_DOC)
    names = sorted(n for n in mkt.marks if "USDC" in n)
    eng = PreTradeEngine(mkt, names, p, model=pm.MarginModel.SPAN16)
    assert eng.model is pm.MarginModel.SPAN16
    rng = np.random.default_rng(6)
    credited = 0
    for _ in range(6):
        acct = eng.add_account({"USDC": 1e7})
        book = {
            str(n): float(rng.choice([-3.0, -1.0, 1.0, 2.0])) * (10.0 if "ETH" in n else 1.0)
            for n in rng.choice(names, 6, replace=False)
        }
        for name, q in book.items():
            eng.fill(acct, name, Side.BUY if q > 0 else Side.SELL, abs(q), 25.0)
        want = span_margin(book, mkt, p)
        got = eng.margin(acct, "usdc")
        assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-10)
        assert got.maintenance_margin == got.initial_margin
        assert got == eng.margin_from_scratch(acct, "usdc")
        credited += any(c.inter_credit > 0 for c in want.per_commodity.values())
    assert credited >= 1  # the books exercise the inter-commodity credit
    c = eng.check(acct, names[0], Side.SELL, 2.0)
    eng.add_order(acct, 1, names[0], Side.SELL, 2.0)
    assert eng.margin(acct, "usdc").initial_margin == pytest.approx(c.im_after, rel=1e-12)
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is pm.MarginModel.SPAN16
    assert back.margin(acct, "usdc") == eng.margin(acct, "usdc")
    with pytest.raises(InputTypeError):
        PreTradeEngine(mkt, names, None, model=pm.MarginModel.SPAN16)


# --- Deribit X:PM -----------------------------------------------------------------------------

# inverse options and futures (BTC), their linear twins (USDC), both perpetuals
XPM_NAMES = [n for n in M.marks if n.startswith(("BTC-26DEC25", "BTC-12DEC25"))]
XPM_NAMES += [n.replace("BTC-", "BTC_USDC-", 1) for n in XPM_NAMES if n.count("-") == 3]
XPM_NAMES += ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL"]


def _xpm_book(seed: int, n: int = 30) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {
        str(name): float(rng.choice([-2.0, -0.5, 0.3, 1.0, 2.5]))
        for name in rng.choice(XPM_NAMES, n, replace=False)
    }


def _fill_at_mark(eng: PreTradeEngine, acct: int, book: dict[str, float]) -> None:
    """Fills at the instruments' own values (options at the model value, futures at the
    forward): cash flows and mark values cancel, so each currency's equity is its deposit."""
    from pymargin.risk.revaluation import mark_values

    names = list(book)
    value = mark_values(M, names, usd=False)
    for name, v in zip(names, value):
        q = book[name]
        inst = pm.parse_instrument(name)
        price = v if inst.kind is pm.InstrumentKind.OPTION else M.underlying_price(inst)
        side = Side.BUY if q > 0 else Side.SELL
        eng.fill(acct, name, side, _engine_amount(name, abs(q)), float(price))


def test_cross_engine_is_deribit_xpm_of_the_book_and_its_collateral():
    params = DeribitPMParams.load("2024-06-17")
    eng = PreTradeEngine(M, XPM_NAMES, params, model=pm.MarginModel.DERIBIT_XPM)
    assert eng.model is pm.MarginModel.DERIBIT_XPM
    assert set(eng.currencies) == {"btc", "usdc"}
    index = M.index_price("BTC_USD")
    for seed in range(4):
        coll = {"BTC": 5.0 + seed, "USDC": 2e5}
        acct = eng.add_account(coll)
        book = _xpm_book(seed)
        _fill_at_mark(eng, acct, book)
        got = eng.margin(acct)
        want = pm.margin(book, M, pm.MarginModel.DERIBIT_XPM, params=params, collateral=coll)
        assert got.initial_margin == pytest.approx(want.initial_margin, rel=1e-9)
        assert got.maintenance_margin == pytest.approx(want.maintenance_margin, rel=1e-9)
        assert got.roll_shock == pytest.approx(want.details.roll_shock, rel=1e-9)
        # one USD group: equity is the balances in USD (no haircut in these parameters)
        assert got.equity == pytest.approx(coll["BTC"] * index + coll["USDC"], rel=1e-9)
        assert eng.margin(acct, "btc") == got == eng.margin(acct, "usdc")
        assert got == eng.margin_from_scratch(acct)


def test_cross_engine_checks_orders_withdrawals_and_snapshots():
    params = DeribitPMParams.load("2024-06-17")
    eng = PreTradeEngine(M, XPM_NAMES, params, model=pm.MarginModel.DERIBIT_XPM)
    acct = eng.add_account({"BTC": 3.0, "USDC": 5e4})
    _fill_at_mark(eng, acct, _xpm_book(21, 12))
    for k, name in enumerate(["BTC_USDC-PERPETUAL", "BTC-PERPETUAL", XPM_NAMES[3]]):
        amount = _engine_amount(name, 0.7)
        c = eng.check(acct, name, Side.SELL, amount)
        eng.add_order(acct, 100 + k, name, Side.SELL, amount)
        after = eng.margin(acct)
        assert c.im_after == pytest.approx(after.initial_margin, rel=1e-12)
        assert after == eng.margin_from_scratch(acct)
    # a withdrawal the account cannot carry is refused, and nothing changes
    before = eng.margin(acct)
    with pytest.raises(OrderRejected) as e:
        eng.withdraw(acct, "btc", 2.99)
    assert e.value.rejection is Reason.INSUFFICIENT_FUNDS
    assert eng.margin(acct) == before
    back = PreTradeEngine.restore(eng.snapshot())
    assert back.model is pm.MarginModel.DERIBIT_XPM
    assert back.margin(acct) == before


def test_cross_engine_needs_every_currency_and_names_the_group_elsewhere():
    eth_only = DeribitPMParams.load("2026-02-15")
    with pytest.raises(ModelParameterError):
        PreTradeEngine(M, XPM_NAMES, eth_only, model=pm.MarginModel.DERIBIT_XPM)
    spm = PreTradeEngine(M, XPM_NAMES, DeribitPMParams.load("2024-06-17"))
    acct = spm.add_account({"BTC": 1.0})
    with pytest.raises(InvalidInputError) as e:
        spm.margin(acct)  # two margin groups under S:PM: which one?
    assert e.value.field == "currency"
