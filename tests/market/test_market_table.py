"""The market's columnar instrument table and the smile used for options without a mark IV."""

from datetime import datetime, timezone

import numpy as np
import pytest

import pymargin as pm
from pymargin.market.bundled import demo_market, load_demo_chain
from pymargin.market.market import Mark, Market, MarketDataError

T0 = datetime(2025, 12, 5, 9, tzinfo=timezone.utc)


def _market():
    marks = {
        "BTC-26DEC25-80000-P": Mark(mark_iv=0.62, underlying_price=90500.0),
        "BTC-26DEC25-90000-C": Mark(mark_iv=0.50, underlying_price=90500.0),
        "BTC-26DEC25-100000-C": Mark(mark_iv=0.55, underlying_price=90500.0),
        "BTC-26DEC25-120000-C": Mark(mark_iv=0.70, underlying_price=90500.0),
        "BTC-26DEC25": Mark(mark_price=90480.0),
    }
    return Market(T0, {"BTC_USD": 90000.0}, marks)


def test_rows_are_stable_and_columns_match_the_instruments():
    m = _market()
    names = ["BTC-26DEC25-90000-C", "BTC-PERPETUAL", "BTC-26DEC25", "BTC-26DEC25-90000-C"]
    rows = m.table.rows(names)
    assert rows.tolist() == [0, 1, 2, 0]
    assert m.table.rows(["BTC-PERPETUAL"]).tolist() == [1]
    col = m.table.column
    assert col("kind").tolist() == [3, 2, 1]
    assert col("forward").tolist() == [90500.0, 90000.0, 90480.0]
    assert col("vol")[0] == 0.50 and col("is_call")[0] == 1
    inst = pm.parse_instrument("BTC-26DEC25-90000-C")
    assert col("time")[0] == inst.time_to_expiry(T0)
    with pytest.raises(ValueError):
        col("strike")[0] = 1.0  # read-only views


def test_a_bad_name_names_its_row_and_adds_nothing():
    m = _market()
    m.table.rows(["BTC-PERPETUAL"])
    with pytest.raises(pm.InvalidInputError) as e:
        m.table.rows(["BTC-26DEC25-90000-C", "BTC-31FEB26-1-C"])
    assert (e.value.field, e.value.index) == ("expiry", 1)
    assert len(m.table) == 1  # the good name of the failing call was not added
    with pytest.raises(pm.InvalidInputError) as e:
        m.table.rows(["BTC-PERPETUAL", "BTC-1DEC25-90000-C"])  # expired
    assert e.value.index == 1
    with pytest.raises(MarketDataError) as e:
        m.table.rows(["ETH-PERPETUAL"])  # no index for ETH
    assert e.value.field == "index"


def test_smile_is_exact_at_marks_monotone_between_and_flat_outside():
    m = _market()
    f = 90500.0
    at = {k: m.smile_vol(pm.parse_instrument(f"BTC-26DEC25-{k}-C")) for k in (80000, 100000)}
    assert at[80000] == pytest.approx(0.62, abs=1e-15)
    assert at[100000] == pytest.approx(0.55, abs=1e-15)
    strikes = np.linspace(90000, 100000, 41)
    vols = [m.smile_vol(pm.parse_instrument(f"BTC-26DEC25-{int(k)}-P")) for k in strikes]
    assert np.all(np.diff(vols) >= -1e-15)  # the marks rise from 0.50 to 0.55: no dip between
    assert m.smile_vol(pm.parse_instrument("BTC-26DEC25-200000-C")) == 0.70
    assert m.smile_vol(pm.parse_instrument("BTC-26DEC25-20000-P")) == 0.62
    # the smile is read against each option's own forward (its expiry's underlying price)
    assert m.underlying_price(pm.parse_instrument("BTC-26DEC25-95000-C")) == f


def test_without_enough_marks_the_vol_error_names_the_field():
    m = Market(T0, {"BTC_USD": 90000.0}, {"BTC-26DEC25-90000-C": Mark(mark_iv=0.5)})
    with pytest.raises(MarketDataError) as e:
        m.table.rows(["BTC-26DEC25-95000-C"])
    assert (e.value.field, e.value.index) == ("mark_iv", 0)


def test_smile_reproduces_left_out_marks_of_the_real_chain():
    """Leave every third strike of each expiry of the real 2025-12-05 chain out (call and
    put): the smile built from the other strikes gives their Deribit mark IVs in the body of
    the smile (|ln K/F| < 0.3, three days or more) with a median error of 0.09 vol points and
    1.8 at worst (measured; bounds 0.2 and 2.5)."""
    chain = load_demo_chain()
    full = demo_market()
    dropped = set()
    for e in set(chain.expiry):
        ks = sorted({k for k, x in zip(chain.strike, chain.expiry) if x == e})
        dropped |= {(e, k) for k in ks[1:-1:3]}
    keep = {
        n: mk
        for n, mk, e, k in zip(chain.name, full.marks.values(), chain.expiry, chain.strike)
        if (e, k) not in dropped
    }
    m = Market(full.valuation_time, full.index, keep)
    errs = []
    for i, name in enumerate(chain.name):
        if (chain.expiry[i], chain.strike[i]) not in dropped:
            continue
        inst = pm.parse_instrument(name)
        if abs(np.log(inst.strike / chain.forward[i])) > 0.3 or chain.time[i] < 3 / 365:
            continue
        errs.append(abs(m.implied_vol(inst) - chain.mark_iv[i]))
    assert len(errs) > 50
    assert np.median(errs) < 0.002 and max(errs) < 0.025


def test_spot_rates_and_collateral_prices():
    spot = pm.parse_instrument("BTC_USDC")
    assert (spot.kind, spot.settlement, spot.quote) == (
        pm.InstrumentKind.SPOT,
        pm.Settlement.LINEAR,
        "USDC",
    )
    with pytest.raises(pm.InvalidInstrumentError) as e:
        pm.parse_instrument("BTC_XYZ")
    assert e.value.field == "quote"
    m = Market(
        T0,
        {"BTC_USD": 90000.0, "USDT_USD": 0.998},
        {"BTC-26DEC25-90000-C": Mark(mark_iv=0.5, underlying_price=90500.0)},
        rates={"BTC_USD": 0.05},
    )
    rows = m.table.rows(["BTC-26DEC25-90000-C", "BTC_USDC"])
    assert m.table.column("rate")[rows].tolist() == [0.05, 0.0]
    assert m.table.column("forward")[rows[1]] == 90000.0
    assert (m.usd_price("usdc"), m.usd_price("USDT"), m.usd_price("btc")) == (1.0, 0.998, 90000.0)
    with pytest.raises(MarketDataError):
        m.usd_price("eth")
    # The rate reaches the kernel: risk arrays are the discounted Black-76 value changes.
    inst = pm.parse_instrument("BTC-26DEC25-90000-C")
    t = inst.time_to_expiry(T0)
    scen = pm.ScenarioSet(
        ("BTC_USD",), np.array([[0.0], [0.1]]), np.array([0, 0]), (pm.VolShockRule(),)
    )
    risk = pm.risk.risk_arrays_for_rows(m, rows[:1], scen)[0]
    v0 = pm.inverse_price(90500.0, 90000.0, t, 0.5, 0.05, True)
    v1 = pm.inverse_price(90500.0 * 1.1, 90000.0, t, 0.5, 0.05, True)
    assert risk[0] == 0.0
    assert risk[1] == pytest.approx(v1 - v0, rel=1e-13)


def test_risk_arrays_kept_per_snapshot_and_scenario_set_equal_the_kernel_bit_for_bit():
    import threading

    from pymargin.models import DeribitPMParams
    from pymargin.models import deribit_pm as dpm
    from pymargin.models.scan import finra_grid
    from pymargin.risk.revaluation import _revalue, risk_arrays_for_rows

    m = demo_market()
    names = list(m.marks)
    table = m.table
    p = DeribitPMParams.load("2024-06-17")
    import dataclasses

    wider = dataclasses.replace(p.pairs["btc_usd"], volatility_range_up=0.7)
    sets = [
        dpm.pair_scenarios("BTC_USD", p.pairs["btc_usd"], 4),
        dpm.pair_scenarios("BTC_USD", wider, 4),  # same moves and states, other vol rule
        finra_grid("BTC_USD"),
        finra_grid("BTC_USD", 0.2, 8),
    ]
    rng = np.random.default_rng(2)
    for _ in range(20):
        scen = sets[int(rng.integers(len(sets)))]
        book = rng.choice(names, 50, replace=True)  # repeats: each row read back as asked
        rows = table.rows(list(book))
        got = risk_arrays_for_rows(m, rows, scen)
        want = _revalue(m, rows, scen, None, 0.0)
        assert np.array_equal(got, want)
        got[:] = 0.0  # a fresh array: changing it changes nothing kept
        assert np.array_equal(risk_arrays_for_rows(m, rows, scen), want)
    # Rows added to the table after a set was kept (new strikes): computed on first use.
    extra = ["BTC-26DEC25-91500-C", "BTC-26DEC25-93500-P"]
    rows = table.rows(extra + names[:3])
    for scen in sets:
        assert np.array_equal(
            risk_arrays_for_rows(m, rows, scen), _revalue(m, rows, scen, None, 0.0)
        )
    # Threads sharing the snapshot get the kernel's numbers.
    table.drop_risk_arrays()
    out: list[np.ndarray] = []

    def work(seed: int) -> None:
        r = np.random.default_rng(seed)
        rows = table.rows(list(r.choice(names, 200)))
        out.append(risk_arrays_for_rows(m, rows, sets[0]) - _revalue(m, rows, sets[0], 1, 0.0))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 8 and all(not d.any() for d in out)


def test_margin_is_the_same_from_kept_risk_arrays():
    from pymargin.models import deribit_pm_margin

    m = demo_market()
    book = {n: (-1.0) ** k * (1 + k % 3) * 0.1 for k, n in enumerate(list(m.marks)[:300])}
    first = deribit_pm_margin(book, m)
    again = deribit_pm_margin(book, m)
    m.table.drop_risk_arrays()
    fresh = deribit_pm_margin(book, m)
    assert first.initial_margin == again.initial_margin == fresh.initial_margin
    assert np.array_equal(
        first.aggregated_risk_vectors["btc_btc"]["standard"],
        fresh.aggregated_risk_vectors["btc_btc"]["standard"],
    )
