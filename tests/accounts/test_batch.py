"""Batch margin of many accounts against the per-account Python model, from DataFrames, CSV
and Parquet, with bad rows named."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pymargin as pm
from pymargin.accounts.batch import batch_margin, batch_margin_csr, venue_risk
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams, deribit_pm_margin

ROOT = Path(__file__).resolve().parents[2]
M = demo_market("BTC")
P = DeribitPMParams.load("2024-06-17")
NAMES = [n for n in M.marks if n.startswith(("BTC-26DEC25", "BTC-27MAR26"))] + ["BTC-PERPETUAL"]


def _book(n_accounts=40, per=8, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_accounts):
        for n in rng.choice(NAMES, per, replace=False):
            rows.append((f"acct-{a:03d}", str(n), float(rng.choice([-2.0, -1.0, 1.0, 2.0]))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 3.0})
    return pos, col


def test_every_account_equals_the_python_model():
    pos, col = _book()
    r = batch_margin(pos, col, M, P)
    for k, acct in enumerate(r.accounts):
        book = dict(zip(*pos[pos["account"] == acct][["instrument", "size"]].T.to_numpy()))
        want = deribit_pm_margin(book, M, P)
        # round9 of the worst case in C++ and in Python may differ in the last (9th) decimal
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, abs=2e-9)
        assert r.maintenance_margin[k] == pytest.approx(want.maintenance_margin, abs=2e-9)
        # the scenario the model names, tie-breaks included
        assert r.worst_scenario[k] == want.worst_scenario
    frame = r.to_frame()
    assert list(frame.columns) == [
        "account",
        "initial_margin",
        "maintenance_margin",
        "equity",
        "mm_ratio",
        "status",
        "worst_scenario",
    ]
    assert set(frame["status"]) <= {"healthy", "margin call", "liquidation"}


def test_results_do_not_depend_on_the_thread_split():
    risk = venue_risk(M, NAMES, P)
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 30, 5000)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    inst = rng.integers(0, len(NAMES), offsets[-1])
    amount = rng.normal(size=offsets[-1])
    coll = rng.uniform(0, 5, 5000)
    one = batch_margin_csr(risk, offsets, inst, amount, coll, threads=1)
    two = batch_margin_csr(risk, offsets, inst, amount, coll, threads=2)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
    assert one["initial_margin"][counts == 0].max() == 0.0


def test_csv_and_parquet_inputs_and_outputs(tmp_path):
    pos, col = _book(10, 5, seed=3)
    pos.to_csv(tmp_path / "pos.csv", index=False)
    pos.to_parquet(tmp_path / "pos.parquet")
    col.to_csv(tmp_path / "col.csv", index=False)
    a = batch_margin(str(tmp_path / "pos.csv"), str(tmp_path / "col.csv"), M, P)
    b = batch_margin(str(tmp_path / "pos.parquet"), col, M, P)
    np.testing.assert_array_equal(a.initial_margin, b.initial_margin)
    a.to_parquet(str(tmp_path / "out.parquet"))
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 10


def test_bad_rows_are_named():
    pos, col = _book(5, 3)
    bad = pos.astype({"size": object})
    bad.loc[4, "size"] = "x"
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(bad, col, M, P)
    assert (e.value.field, e.value.index) == ("size", 4)
    bad = pos.copy()
    bad.loc[5, "instrument"] = "BTC-99ZZZ25"
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(bad, col, M, P)
    assert (e.value.field, e.value.index) == ("instrument", 5)
    assert "BTC-99ZZZ25" in str(e.value)
    missing = pos.astype({"account": object})
    missing.loc[3, "account"] = None
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(missing, col, M, P)
    assert (e.value.field, e.value.index) == ("account", 3)
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(pos.iloc[:0], col, M, P)
    assert e.value.field == "positions"
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(pos.drop(columns="size"), col, M, P)
    assert e.value.field == "positions"
    stranger = pd.concat([col, pd.DataFrame({"account": ["nobody"], "amount": [1.0]})])
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(pos, stranger, M, P)
    assert (e.value.field, e.value.index) == ("account", 5)


def test_usdc_pairs_sharing_an_expiry_keep_separate_roll_shocks():
    """BTC_USDC and ETH_USDC options of the same expiry: each pair's net delta is rolled on
    its own (a regression: the batch rows once merged them into one expiry group)."""
    import copy

    from pymargin.market.market import Market

    eth = demo_market("ETH")
    both = Market(M.valuation_time, {**M.index, **eth.index}, {**M.marks, **eth.marks})
    raw = copy.deepcopy(DeribitPMParams.load("2024-06-17").raw)
    raw["currency_pair"].update(DeribitPMParams.load("2026-02-15").raw["currency_pair"])
    params = DeribitPMParams.from_model_params(raw)
    pos = {
        "BTC_USDC-PERPETUAL": 0.2,
        "ETH_USDC-PERPETUAL": -3.0,
        "BTC_USDC-26DEC25-100000-C": -0.3,
        "ETH_USDC-26DEC25-3000-C": 4.0,
    }
    want = deribit_pm_margin(pos, both, params)
    assert want.roll_shock > 0
    frame = pd.DataFrame({"account": "a", "instrument": list(pos), "size": list(pos.values())})
    got = batch_margin(frame, pd.DataFrame({"account": ["a"], "amount": [1e6]}), both, params)
    assert got.initial_margin[0] == pytest.approx(want.initial_margin, rel=1e-12)


def test_accounts_beyond_the_delta_shock_threshold_are_not_covered():
    """The model refuses a net delta past delta_total_liq_shock_threshold (its formula is not
    published); the batch marks such an account 'not covered' with NaN margins."""
    from pymargin.models.params import ModelCoverageError

    pos = pd.DataFrame(
        {
            "account": ["big", "small", "small"],
            "instrument": ["BTC-PERPETUAL", "BTC-PERPETUAL", "BTC-26DEC25-88000-C"],
            "size": [2000.0, 0.5, -1.0],
        }
    )
    col = pd.DataFrame({"account": ["big", "small"], "amount": [10.0, 1.0]})
    with pytest.raises(ModelCoverageError):
        deribit_pm_margin({"BTC-PERPETUAL": 2000.0}, M, P)
    r = batch_margin(pos, col, M, P)
    frame = r.to_frame().set_index("account")
    assert frame.loc["big", "status"] == "not covered"
    assert np.isnan(frame.loc["big", "initial_margin"]) and np.isnan(r.ratio[0])
    want = deribit_pm_margin({"BTC-PERPETUAL": 0.5, "BTC-26DEC25-88000-C": -1.0}, M, P)
    assert frame.loc["small", "initial_margin"] == pytest.approx(want.initial_margin, abs=2e-9)


def test_a_correlation_set_is_refused_like_the_model():
    import copy

    from pymargin.models.params import ModelCoverageError

    raw = copy.deepcopy(P.raw)
    raw["currency"]["btc"]["correlation_set"] = True
    params = DeribitPMParams.from_model_params(raw)
    with pytest.raises(ModelCoverageError):
        deribit_pm_margin({"BTC-PERPETUAL": 1.0}, M, params)
    pos, col = _book(3, 2)
    with pytest.raises(ModelCoverageError):
        batch_margin(pos, col, M, params)


def test_csr_indices_are_checked_before_any_cast():
    risk = venue_risk(M, NAMES[:3], P)
    offsets = np.array([0, 2])
    coll = np.array([1.0])
    for inst, field in (
        (np.array([0, 2**32]), "instrument"),
        (np.array([0.0, 1.7]), "instrument"),
        (np.array([0, -1]), "instrument"),
    ):
        with pytest.raises(pm.PymarginError) as e:
            batch_margin_csr(risk, offsets, inst, np.ones(2), coll)
        assert e.value.field == field
    with pytest.raises(pm.PymarginError) as e:
        batch_margin_csr(risk, np.array([0, 1.5, 2]), np.array([0, 1]), np.ones(2), np.ones(2))
    assert e.value.field == "offsets"
    with pytest.raises(pm.PymarginError) as e:
        batch_margin_csr(risk, offsets, np.array([0, 1]), np.array(["x", "y"]), coll)
    assert e.value.field == "amount"


def _usdc_book(market, n_accounts=60, seed=4):
    rng = np.random.default_rng(seed)
    names = sorted(market.marks)
    rows = []
    for a in range(n_accounts):
        for n in rng.choice(names, int(rng.integers(1, 7)), replace=False):
            rows.append((f"a{a:03d}", str(n), float(rng.choice([-3.0, -1.0, 0.5, 2.0]))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 5_000.0})
    return pos, col


def _per_account(pos, acct):
    return dict(zip(*pos[pos["account"] == acct][["instrument", "size"]].T.to_numpy()))


@pytest.mark.parametrize(
    "model,params",
    [
        (pm.MarginModel.PARADEX_PM, None),
        (pm.MarginModel.FINRA_PM, {}),
        (pm.MarginModel.FINRA_PM, {"move": 0.2, "points": 8, "minimum_per_contract": 50.0}),
        (pm.MarginModel.SCENARIO_GRID, "tests/data/grid_models/example_venue.json"),
    ],
)
def test_every_account_under_other_venues_equals_pm_margin(model, params, usdc_market):
    # The batch kernel runs the same core model as pm.margin(): Paradex (weights, minimum
    # delta per underlying), the FINRA grid (per-contract minimum) and a parameter-file venue.
    from pathlib import Path

    mkt = usdc_market
    pos, col = _usdc_book(mkt)
    if isinstance(params, str):
        params = str(Path(__file__).parents[2] / params)
    r = batch_margin(pos, col, mkt, params, model=model, threads=2)
    for k, acct in enumerate(r.accounts):
        want = pm.margin(_per_account(pos, acct), mkt, model, params=params)
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)
        assert r.maintenance_margin[k] == pytest.approx(
            want.maintenance_margin, rel=1e-12, abs=1e-9
        )
    assert set(r.status) <= {0, 1, 2}


def test_xpm_accounts_equal_pm_margin_of_their_book_and_coin_equity():
    # X:PM over BTC-settled and USDC-settled books with BTC and USDC balances per account. The
    # batch shocks each coin's equity (balance + the mark value of its positions), so the
    # reference is pm.margin's X:PM with that equity as the collateral.
    from pymargin.risk.revaluation import mark_values

    names = [n for n in M.marks if n.startswith("BTC-26DEC25")]
    names += [n.replace("BTC-", "BTC_USDC-", 1) for n in names if n.count("-") == 3]
    names += ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL"]
    value = dict(zip(names, mark_values(M, names, usd=False)))
    rng = np.random.default_rng(5)
    rows, coll = [], []
    for a in range(30):
        for n in rng.choice(names, int(rng.integers(1, 9)), replace=False):
            rows.append((f"x{a:02d}", str(n), float(rng.choice([-2.0, -0.5, 0.4, 1.5]))))
        coll.append((f"x{a:02d}", "BTC", float(rng.uniform(2.0, 20.0))))
        coll.append((f"x{a:02d}", "usdc", float(rng.uniform(2e5, 5e5))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame(coll, columns=["account", "currency", "amount"])
    r = batch_margin(pos, col, M, P, model=pm.MarginModel.DERIBIT_XPM, threads=2)
    index = M.index_price("BTC_USD")
    for k, acct in enumerate(r.accounts):
        book = _per_account(pos, acct)
        bal = {c.lower(): v for _, c, v in col[col["account"] == acct].itertuples(index=False)}
        equity = dict(bal)
        for n, q in book.items():
            ccy = "usdc" if n.startswith("BTC_USDC") else "btc"
            equity[ccy] = equity.get(ccy, 0.0) + q * value[n]
        want = pm.margin(book, M, pm.MarginModel.DERIBIT_XPM, params=P, collateral=equity)
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-9)
        assert r.maintenance_margin[k] == pytest.approx(want.maintenance_margin, rel=1e-9)
        usd = equity.get("btc", 0.0) * index + equity.get("usdc", 0.0)  # no haircut here
        assert r.equity[k] == pytest.approx(usd, rel=1e-12)
    assert r.currency == "usd"
    # X:PM needs the currency of each balance; S:PM takes one currency only
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(pos, col.drop(columns="currency"), M, P, model=pm.MarginModel.DERIBIT_XPM)
    assert e.value.field == "collateral"
    with pytest.raises(pm.InvalidInputError) as e:
        batch_margin(pos, col, M, P)
    assert e.value.field == "currency"


def test_the_batch_refuses_what_is_not_a_model():
    pos, col = _book(3)
    with pytest.raises(pm.InputTypeError):
        batch_margin(pos, col, M, None, model="paradex_pm")


def test_every_account_under_span_equals_span_margin():
    # The SPAN batch kernel runs the core's span_requirement per account: scan risk over the
    # weighted 16 scenarios, the intra-commodity (calendar) charge per tier pair, the short
    # option minimum; here on the bundled BTC chain (inverse options and futures, 3 tiers).
    from pymargin.models.span import SpanParams, span_margin

    doc = {
        "version": "test",
        "source": "test parameters",
        "commodities": {
            "BTC_USD": {
                "price_scan": 0.2,
                "vol_scan": 0.1,
                "tier_days": [14, 60],
                "intra_rates": [[0, 1, 300.0], [1, 2, 200.0], [0, 2, 500.0]],
                "short_option_minimum": 150.0,
            }
        },
    }
    p = SpanParams.from_document(doc)
    names = [n for n in M.marks if n.startswith("BTC-")][:300]
    rng = np.random.default_rng(12)
    rows = []
    for a in range(120):
        for n in rng.choice(names, int(rng.integers(1, 9)), replace=False):
            rows.append((f"s{a:03d}", str(n), float(rng.choice([-3.0, -1.0, 0.5, 2.0]))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 1e6})
    r = batch_margin(pos, col, M, p, model=pm.MarginModel.SPAN16, threads=2)
    assert r.currency == "usd"
    for k, acct in enumerate(r.accounts):
        want = span_margin(_per_account(pos, acct), M, p)
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)
        assert r.maintenance_margin[k] == r.initial_margin[k]
    assert set(r.status) <= {0, 2}


def test_span_batch_takes_the_inter_commodity_credit_of_accounts_holding_both_legs(
    span_doc, span_market
):
    from pymargin.models.span import SpanParams, span_margin

    # The SPAN parameters and market of tests/conftest.py (BTC and ETH, one inter-commodity spread).
    DOC = span_doc
    mkt = span_market
    p = SpanParams.from_document(DOC)
    names = ["BTC-26DEC25", "BTC_USDC-26DEC25", "BTC_USDC-27MAR26", "ETH-PERPETUAL"]
    rng = np.random.default_rng(3)
    rows = []
    for a in range(60):
        for n in rng.choice(names, int(rng.integers(1, 5)), replace=False):
            q = float(rng.choice([-2.0, -1.0, 1.0, 3.0])) * (20.0 if n.startswith("ETH") else 1.0)
            rows.append((f"x{a:02d}", n, q))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 1e6})
    r = batch_margin(pos, col, mkt, p, model=pm.MarginModel.SPAN16)
    credited = 0
    for k, acct in enumerate(r.accounts):
        want = span_margin(_per_account(pos, acct), mkt, p)
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)
        credited += any(c.inter_credit > 0 for c in want.per_commodity.values())
    assert credited > 5  # the test exercises the credit
    with pytest.raises(pm.InputTypeError):
        batch_margin(pos, col, mkt, None, model=pm.MarginModel.SPAN16)


@pytest.mark.parametrize(
    ("model", "params"),
    [(pm.MarginModel.PARADEX_PM, None), (pm.MarginModel.FINRA_PM, {"minimum_per_contract": 500.0})],
)
def test_rows_repeating_a_position_are_netted_as_one(model, params, usdc_market):
    # Paradex's gross delta and FINRA's per-contract minimum are per position: two rows of one
    # instrument (+5 and -4.9) are the position +0.1, not two positions (counted apart, the
    # hedged minimum delta or the per-contract minimum would bind at 30x the margin).
    mkt = usdc_market
    call, perp = "BTC_USDC-26JUN26-80000-C", "BTC_USDC-PERPETUAL"
    pos = pd.DataFrame(
        [("a", perp, 5.0), ("a", call, 0.2), ("a", perp, -4.9), ("b", perp, 0.3)],
        columns=["account", "instrument", "size"],
    )
    col = pd.DataFrame({"account": ["a", "b"], "amount": 1e5})
    r = batch_margin(pos, col, mkt, params, model=model)
    want = pm.margin({perp: 0.1, call: 0.2}, mkt, model, params=params)
    assert r.initial_margin[0] == pytest.approx(want.initial_margin, rel=1e-12)
    want_b = pm.margin({perp: 0.3}, mkt, model, params=params)
    assert r.initial_margin[1] == pytest.approx(want_b.initial_margin, rel=1e-12)


def test_every_account_under_standard_margin_equals_the_model():
    # The standard-margin batch sums the core's per-position rule, as
    # deribit_standard_margin does, on the bundled chain's inverse options and the perpetual.
    from pymargin.models import deribit_standard_margin

    names = [n for n in M.marks if n.startswith("BTC-") and n.count("-") == 3][:200]
    names.append("BTC-PERPETUAL")
    rng = np.random.default_rng(8)
    rows = []
    for a in range(150):
        for n in rng.choice(names, int(rng.integers(1, 8)), replace=False):
            rows.append((f"d{a:03d}", str(n), float(rng.choice([-3.0, -1.0, 0.5, 2.0]))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 2.0})
    r = batch_margin(pos, col, M, None, model=pm.MarginModel.DERIBIT_STANDARD, threads=2)
    assert r.currency == "btc"
    for k, acct in enumerate(r.accounts):
        per = deribit_standard_margin(_per_account(pos, acct), M)
        im = sum(p.initial_margin for p in per)
        mm = sum(p.maintenance_margin for p in per)
        assert r.initial_margin[k] == pytest.approx(im, rel=1e-12, abs=1e-15)
        assert r.maintenance_margin[k] == pytest.approx(mm, rel=1e-12, abs=1e-15)
    assert {0, 1, 2} & set(r.status.tolist())  # collateral of 2 BTC: some accounts are short


def test_every_account_under_the_greek_netting_model_equals_delta_margin():
    # The Greek-netting batch sums each underlying's USD delta, weighted vega by tenor bucket
    # and P&L at +-the risk weight over the account's positions, then runs the core's
    # sensitivity_margin, as delta_margin does for one portfolio.
    from pymargin.models.delta_margin import delta_margin

    names = [n for n in M.marks if n.startswith("BTC-")][:250] + ["BTC-PERPETUAL"]
    rng = np.random.default_rng(14)
    rows = []
    for a in range(80):
        for n in rng.choice(names, int(rng.integers(1, 8)), replace=False):
            rows.append((f"g{a:02d}", str(n), float(rng.choice([-3.0, -1.0, 0.5, 2.0]))))
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    col = pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 5e4})
    r = batch_margin(pos, col, M, None, model=pm.MarginModel.DELTA_MARGIN, threads=2)
    assert r.currency == "usd"
    for k, acct in enumerate(r.accounts):
        want = delta_margin(_per_account(pos, acct), M)
        assert r.initial_margin[k] == pytest.approx(want.initial_margin, rel=1e-12, abs=1e-9)


def test_collateral_is_counted_in_the_models_currency():
    """Coin collateral under a USD model is valued at the index (and said so); under a
    segregated coin model collateral in another currency is refused, never read as coins."""
    pos = pd.read_csv(ROOT / "examples" / "venue_positions.csv")
    col = pd.read_csv(ROOT / "examples" / "venue_collateral.csv")
    assert set(col["currency"]) == {"BTC"}
    bare = col.drop(columns="currency")
    spm = batch_margin(pos, col, M)
    assert spm.notes == [] and list(spm.status) == list(batch_margin(pos, bare, M).status)
    finra = batch_margin(pos, col, M, model=pm.MarginModel.FINRA_PM)
    index = M.index_price("BTC_USD")
    usd = bare.assign(amount=bare["amount"] * index)
    want = batch_margin(pos, usd, M, model=pm.MarginModel.FINRA_PM)
    assert list(finra.status) == list(want.status) and "without a haircut" in finra.notes[0]
    with pytest.raises(pm.InvalidInputError, match="does not back a BTC margin group"):
        batch_margin(pos, col.assign(currency="USDC"), M)
    with pytest.raises(pm.InvalidInputError, match="only X:PM"):
        two = pd.concat([col, col.assign(currency="ETH")])
        batch_margin(pos, two, M)
