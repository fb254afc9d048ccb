"""Golden test against real Deribit (mainnet) option-chain snapshots.

Data: tests/data/ and pymargin/data/ (provenance in their README.md files).  Files:

* deribit_btc_chain_20200521.csv -- per-instrument `ticker` dump, 2020-05-21
  ~23:20 UTC, each row with its own `snapshot_utc`, plus Deribit's published
  Greeks (delta, gamma, vega, theta; 5 decimals).
* deribit_btc_chain_20251205.csv -- `get_book_summary_by_currency`, no
  timestamp; snapshot ~2025-12-05 01:10:39..01:11:05 UTC (README), we use
  01:10:52 +- 15 s.
* deribit_eth_chain_20251122.csv -- same endpoint, snapshot 02:15:13 UTC.

Conventions established (first with scipy/mpmath, independently of pymargin):

* T = (expiry_utc - snapshot) in seconds / (365 * 86400).  Alternatives are
  clearly worse: on the 2025 BTC chain the median |price error| is 1.4e-6 BTC
  with /365 vs 9.8e-6 with /365.25 and 1.7e-4 with /360.
* r = 0 (the `interest_rate` column is 0.0 everywhere), F = the row's
  `underlying_price` (future or synthetic forward, *not* the index:
  using index_price gives errors up to 0.07 BTC).
* mark_price (coin) = Black-76 USD value on F, undiscounted, / F.
* Residuals: 2025 BTC -- every row within IV-rounding (mark_iv has 2 decimals,
  i.e. +-0.005 vol points) + 8-dp price rounding + 1e-5 relative forward
  jitter + 30 s of theta (max 0.95 of that budget); median 1.4e-6 BTC.
  2020 BTC -- rows were fetched one by one over ~3 minutes, so the underlying
  moves; needs 2e-4 relative forward jitter (max error 2.4e-4 BTC on deep-ITM
  short-dated rows whose mark lies *below* intrinsic at the printed F, i.e.
  priced off a forward ~5 USD higher).  2025 ETH -- marks are consistent
  with a forward offset by about +-9e-5 (sign alternating by expiry) from the
  printed underlying_price: put-call parity on the marks gives e.g.
  2758.81 vs 2759.04 for 23NOV25; with the parity forward 80 % of rows are
  within IV-rounding alone.  We allow 5e-4 relative forward jitter there.
* Deribit's published per-instrument Greeks (2020 file) are USD Black-76
  Greeks on the forward, NOT coin Greeks:
    delta = N(d1) (call) / N(d1)-1 (put)  == pymargin inverse_greeks().delta_forward
            (max |diff| 1.0e-4, median 3.9e-6 on 5-dp prints); the
            "N(d1) - mark price" convention is Deribit's *portfolio*
            net-transaction delta (pymargin inverse .delta), which is off by
            the coin price (up to 2.93) and is rejected here;
    gamma = dDelta_usd/dF per 1 USD = n(d1)/(F sigma sqrt T)  (black76 gamma);
    vega  = USD per 1 vol point = F n(d1) sqrt(T) / 100       (black76 vega/100);
    theta = USD per calendar day = -F n(d1) sigma/(2 sqrt T)/365 (black76 theta/365)
            for T >= 1 day (median ratio 1.0000 on every such expiry); on the
            last day (22MAY20, 8.6 h left) Deribit instead prints the whole
            remaining time value, V(T=0) - V(T) (median ratio 1.0016 but large
            per-row scatter; the analytic theta/365 would be 2.8x larger), and
            the 23MAY20 expiry (1.36 days) is mixed: median ratio 0.9999 but
            some rows up to 30 % off. Per-row theta is checked for T >= 2 days.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

import pymargin as pm

YEAR = 365 * 86400.0


_DIRS = [Path(__file__).resolve().parents[1] / "data", Path(pm.__file__).resolve().parent / "data"]


def _path(name):
    for d in _DIRS:
        if (d / name).exists():
            return d / name
    pytest.fail(f"{name} is missing from {', '.join(map(str, _DIRS))}")


# name: (price column, snapshot override, price print half-unit, forward jitter, time jitter [s])
FILES = {
    "deribit_btc_chain_20251205.csv": (
        "mark_price_btc",
        "2025-12-05T01:10:52Z",
        0.5e-8,
        2e-5,
        15.0,
    ),
    "deribit_eth_chain_20251122.csv": ("mark_price_eth", None, 0.5e-6, 5e-4, 1.0),
    "deribit_btc_chain_20200521.csv": ("mark_price_btc", None, 0.5e-8, 2e-4, 1.0),
}


def _load(name):
    col, snap, pr, relF, dT = FILES[name]
    d = pd.read_csv(_path(name))
    s = pd.to_datetime(snap if snap else d["snapshot_utc"], utc=True)
    secs = (pd.to_datetime(d["expiry_utc"], utc=True) - s) / pd.Timedelta(seconds=1)
    T = np.broadcast_to(np.asarray(secs, dtype=float), (len(d),)) / YEAR
    F = d["underlying_price"].to_numpy(float)
    K = d["strike"].to_numpy(float)
    iv = d["mark_iv_pct"].to_numpy(float) / 100.0
    cp = (d["option_type"] == "call").to_numpy()
    mark = d[col].to_numpy(float)
    return d, F, K, np.ascontiguousarray(T), iv, cp, mark, pr, relF, dT


def _budget(F, K, T, iv, cp, pr, relF, dT):
    """Independent (scipy) error budget in coin for one row, excluding model error."""
    s = iv * np.sqrt(T)
    d1 = np.log(F / K) / s + s / 2
    n1 = np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)
    coin = (np.where(cp, F * ndtr(d1) - K * ndtr(d1 - s), K * ndtr(s - d1) - F * ndtr(-d1))) / F
    vega_coin = n1 * np.sqrt(T)
    delta_coin = np.where(cp, ndtr(d1), ndtr(d1) - 1) - coin
    theta_coin = n1 * iv / (2 * np.sqrt(T))
    iv_round = 0.5e-4 * vega_coin  # mark_iv printed with 2 decimals in percent
    other = pr + np.abs(delta_coin) * relF + theta_coin * dT / YEAR
    return iv_round, other, vega_coin


@pytest.mark.parametrize("name", list(FILES))
def test_inverse_price_reproduces_mark_price(name):
    d, F, K, T, iv, cp, mark, pr, relF, dT = _load(name)
    got = pm.inverse_price(F, K, T, iv, 0.0, cp)
    iv_round, other, _ = _budget(F, K, T, iv, cp, pr, relF, dT)
    err = np.abs(got - mark)
    bad = err > iv_round + other
    assert not bad.any(), (
        d.loc[bad, ["instrument_name", FILES[name][0], "mark_iv_pct"]]
        .assign(pymargin=got[bad], err=err[bad])
        .to_string()
    )
    assert np.median(err) < {"deribit_eth_chain_20251122.csv": 1e-4}.get(name, 1e-5)


def test_convention_365_day_year_and_forward_beat_alternatives():
    d, F, K, T, iv, cp, mark, *_ = _load("deribit_btc_chain_20251205.csv")
    med = lambda p: np.median(np.abs(p - mark))  # noqa: E731
    base = med(pm.inverse_price(F, K, T, iv, 0.0, cp))
    assert base < 2e-6
    assert med(pm.inverse_price(F, K, T * 365 / 365.25, iv, 0.0, cp)) > 3 * base
    assert med(pm.inverse_price(F, K, T * 365 / 360, iv, 0.0, cp)) > 30 * base
    # the 2020 file carries both the forward and the index: the forward wins
    d, F, K, T, iv, cp, mark, *_ = _load("deribit_btc_chain_20200521.csv")
    idx = d["index_price"].to_numpy(float)
    e_fwd = np.abs(pm.inverse_price(F, K, T, iv, 0.0, cp) - mark)
    e_idx = np.abs(pm.inverse_price(idx, K, T, iv, 0.0, cp) - mark)
    assert e_fwd.max() < 3e-4 < 0.01 < e_idx.max()
    # coin = Black-76 USD value / F exactly (r = 0)
    np.testing.assert_allclose(
        pm.inverse_price(F, K, T, iv, 0.0, cp),
        pm.black76_price(F, K, T, iv, 0.0, cp) / F,
        rtol=1e-13,
        atol=1e-300,
    )


@pytest.mark.parametrize("name", list(FILES))
def test_inverse_implied_vol_reproduces_mark_iv(name):
    d, F, K, T, iv, cp, mark, pr, relF, dT = _load(name)
    iv_round, other, vega_coin = _budget(F, K, T, iv, cp, pr, relF, dT)
    intrinsic = np.where(cp, np.maximum(F - K, 0), np.maximum(K - F, 0)) / F
    use = (vega_coin > 1e-3) & (mark > intrinsic + other)  # vega not tiny, mark above intrinsic
    assert use.sum() > 0.7 * len(d)
    got = pm.inverse_implied_vol(mark[use], F[use], K[use], T[use], 0.0, cp[use]) * 100
    tol_pct = 0.005 + 100 * other[use] / vega_coin[use] + 1e-9
    err = np.abs(got - iv[use] * 100)
    bad = err > tol_pct
    assert not bad.any(), (
        d.loc[use]
        .loc[bad, ["instrument_name", "mark_iv_pct"]]
        .assign(pymargin=got[bad], tol=tol_pct[bad])
        .to_string()
    )
    if name == "deribit_btc_chain_20251205.csv":
        # the cleanest snapshot: most rows agree within the pure 2-decimal rounding
        assert np.mean(err <= 0.005 + 1e-9) > 0.75


@pytest.fixture(scope="module")
def chain2020():
    d, F, K, T, iv, cp, mark, pr, relF, dT = _load("deribit_btc_chain_20200521.csv")
    live = (d["gamma"] > 0).to_numpy() & (T > 0)
    return d[live].reset_index(drop=True), F[live], K[live], T[live], iv[live], cp[live], mark[live]


def test_deribit_delta_is_usd_black_delta_not_net_of_premium(chain2020):
    d, F, K, T, iv, cp, mark = chain2020
    g = pm.inverse_greeks(F, K, T, iv, 0.0, cp)
    pub = d["delta"].to_numpy(float)
    gamma_usd = np.asarray(pm.black76_greeks(F, K, T, iv, 0.0, cp).gamma)
    tol = 0.5e-5 + gamma_usd * F * 2e-4 + 1e-6  # 5-dp print + forward jitter of the 2020 dump
    assert np.all(np.abs(pub - g.delta_forward) <= tol)
    big = mark > 1e-3
    # Deribit's instrument delta is NOT the premium-adjusted coin delta N(d1) - price
    assert np.all(np.abs(pub[big] - g.delta[big]) > 0.5 * mark[big])
    np.testing.assert_allclose(g.delta, g.delta_forward - g.price, rtol=1e-12, atol=1e-14)


def test_deribit_gamma_vega_theta_units(chain2020):
    d, F, K, T, iv, cp, mark = chain2020
    gu = pm.black76_greeks(F, K, T, iv, 0.0, cp)
    last_day = T < 1 / 365
    decay = pm.black76_price(F, K, 0.0, iv, 0.0, cp) - pm.black76_price(F, K, T, iv, 0.0, cp)
    theta_day = np.where(last_day, decay, gu.theta / 365.0)
    ratio = d["theta"].to_numpy(float)[last_day] / decay[last_day]
    assert last_day.sum() >= 15 and abs(np.median(ratio) - 1) < 0.01
    for col, mine, rel in (
        ("gamma", gu.gamma, 2e-3),
        ("vega", gu.vega / 100.0, 2e-3),  # USD per vol point
        ("theta", theta_day, 2e-3),
    ):  # USD per calendar day
        pub = d[col].to_numpy(float)
        mine = np.asarray(mine)
        ok = np.abs(pub - mine) <= 0.5e-5 + rel * np.abs(mine) + 1e-9
        if col == "theta":
            # last-day rows: only the median relation above holds (per-row scatter is large,
            # the 2020 dump's rows were fetched at different moments); not checked per row
            ok |= T < 2 / 365  # 22MAY/23MAY20 expiries: see docstring
        assert ok.mean() > 0.97, (
            col,
            d.loc[~ok, ["instrument_name", col]].assign(mine=mine[~ok]).head().to_string(),
        )
        # the coin-denominated inverse vega (per 1.00 vol) would be off by a factor F/100
    gi = pm.inverse_greeks(F, K, T, iv, 0.0, cp)
    np.testing.assert_allclose(gi.vega * F / 100.0, gu.vega / 100.0, rtol=1e-12)
    np.testing.assert_allclose(gi.theta_per_day * F, gu.theta / 365.0, rtol=1e-12, atol=1e-300)
