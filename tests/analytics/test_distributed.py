"""pymargin.analytics.distributed on a local dask cluster: the same results as the single-process
functions, exactly."""

import numpy as np
import pytest

import pymargin as pm
from pymargin.accounts.batch import batch_margin
from pymargin.analytics import distributed, stress, var
from pymargin.cli.demo import demo_portfolios
from pymargin.exceptions import InvalidInputError
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams

# dask's own sockets and threads report resource warnings at shutdown; they are not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:distributed"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

M = demo_market("BTC")
NAMES = [n for n in M.marks if n.startswith(("BTC-26DEC25", "BTC-27MAR26"))] + ["BTC-PERPETUAL"]


def _book(n_accounts, per, seed):
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = [
        (f"acct-{a:03d}", str(n), float(rng.choice([-2.0, -1.0, 1.0, 2.0])))
        for a in range(n_accounts)
        for n in rng.choice(NAMES, per, replace=False)
    ]
    pos = pd.DataFrame(rows, columns=["account", "instrument", "size"])
    return pos, pd.DataFrame({"account": sorted(set(pos["account"])), "amount": 3.0})


@pytest.fixture(scope="module")
def client():
    with distributed.local_client(workers=2) as c:
        yield c


def test_batch_margin_equals_single_process(client):
    pos, col = _book(60, 6, seed=7)
    p = DeribitPMParams.load("2024-06-17")
    one = batch_margin(pos, col, M, p)
    dist = distributed.batch_margin(pos, col, M, p, client=client, partitions=5)
    np.testing.assert_array_equal(one.accounts, dist.accounts)
    for field in ("initial_margin", "maintenance_margin", "equity", "ratio", "status"):
        np.testing.assert_array_equal(getattr(one, field), getattr(dist, field))


def test_stress_and_monte_carlo_equal_single_process(client):
    accts = [pm.Account(d.portfolio, d.collateral) for d in demo_portfolios() if d.coin == "BTC"]
    covid = next(s for s in stress.historical_scenarios() if s.name == "COVID crash")
    one = stress.stress_accounts(accts, M, covid)
    dist = distributed.stress_accounts(accts, M, covid, client=client, partitions=3)
    assert one == dist
    book = next(d for d in demo_portfolios() if d.name == "market-maker book").portfolio
    a = var.monte_carlo_var(book, M, paths=10_000, seed=4)
    b = distributed.monte_carlo_var(book, M, paths=10_000, seed=4, client=client, partitions=3)
    np.testing.assert_array_equal(a.pnl, b.pnl)
    assert (a.var, a.es, a.scenario) == (b.var, b.es, b.scenario)


def test_process_workers_receive_everything_they_need():
    """Worker processes (as on a real cluster): the market, the risk rows and the kernel
    travel by pickling."""
    pos, col = _book(20, 4, seed=9)
    p = DeribitPMParams.load("2024-06-17")
    with distributed.local_client(workers=2, processes=True) as c:
        dist = distributed.batch_margin(pos, col, M, p, client=c)
    np.testing.assert_array_equal(batch_margin(pos, col, M, p).initial_margin, dist.initial_margin)


def test_monte_carlo_arguments_are_checked_before_any_work():
    """Same checks as the single-process function, before a cluster is even started."""
    book = {"BTC-26DEC25-100000-C": -1.0}
    for kw, field in (
        ({"dist": "bogus"}, "dist"),
        ({"dist": var.ShockDistribution.STUDENT_T, "dof": 1.5}, "dof"),
        ({"confidence": 1.5}, "confidence"),
        ({"paths": 10}, "paths"),
    ):
        for fn in (var.monte_carlo_var, distributed.monte_carlo_var):
            with pytest.raises(InvalidInputError) as e:
                fn(book, M, **kw)
            assert e.value.field == field
