"""asv benchmarks: scenario revaluation (risk arrays) and margin, each next to the same
computation written with numpy/scipy the way a user would (time ratios in one run)."""

import numpy as np

import pymargin as pm
from pymargin.market.bundled import demo_market
from pymargin.models import DeribitPMParams, deribit_pm_margin
from pymargin.models.deribit_pm import deribit_grid


def _options(n, seed=1):
    rng = np.random.default_rng(seed)
    F = np.full(n, 93_000.0)
    K = rng.uniform(50_000, 150_000, n)
    T = rng.choice([21, 56, 112, 203], n) / 365.0
    v = rng.uniform(0.4, 0.8, n)
    cp = rng.random(n) < 0.5
    return F, K, T, v, cp


def _benchmarks_dir():
    """The repository's benchmarks/ folder: its baselines are the ones these time against."""
    import sys
    from pathlib import Path

    path = str(Path(__file__).resolve().parents[2] / "benchmarks")
    if path not in sys.path:
        sys.path.insert(0, path)


class Revaluation:
    """Risk arrays of n inverse options x 33 scenarios (11 moves x 3 vol states): pm.revalue
    next to numpy/scipy written in place (benchmarks/timing.py, InverseGrid)."""

    params = ([1_000, 2_000], [1, 2])
    param_names = ["options", "threads"]

    def setup(self, n, threads):
        _benchmarks_dir()
        from timing import InverseGrid

        self.F, self.K, self.T, self.v, self.cp = _options(n)
        self.moves = np.repeat(np.linspace(-0.16, 0.16, 11), 3)
        self.vstate = np.tile(np.array([1, 0, -1], dtype=np.int8), 11)
        self.scen = pm.ScenarioSet(
            ("BTC_USD",),
            self.moves[:, None],
            self.vstate,
            (pm.VolShockRule(range_up=0.5, range_down=0.25, min_vol_up=0.5),),
        )
        self.out = np.empty((n, self.moves.size))
        self.ref = np.empty((n, self.moves.size))
        self.grid = InverseGrid(n, self.moves.size)
        self.state = self.vstate.astype(np.int64)

    def time_pymargin(self, n, threads):
        pm.revalue(
            self.scen,
            strike=self.K,
            forward=self.F,
            vol=self.v,
            time=self.T,
            is_call=self.cp,
            settlement=pm.Settlement.INVERSE,
            out=self.out,
            threads=threads,
        )

    def time_numpy_scipy(self, n, threads):
        self.grid.deribit(
            self.F,
            self.K,
            self.T,
            self.v,
            self.cp,
            self.moves,
            self.state,
            0.5,
            0.25,
            0.5,
            self.ref,
        )


class DeribitPortfolioMargin:
    """S:PM of a 1,000-option account on the bundled real chain: the whole model with the
    snapshot's instrument table built (warm), and from cached risk arrays."""

    def setup(self):
        chain_market = demo_market()
        names = list(chain_market.marks)[:600]
        rng = np.random.default_rng(5)
        self.positions = dict(zip(names, rng.uniform(-5, 5, len(names)).round(1)))
        self.params = DeribitPMParams.load("2024-06-17")
        self.market = chain_market
        deribit_pm_margin(self.positions, self.market, self.params)
        table = self.market.table
        self.rows = table.rows(list(self.positions))
        scen = deribit_grid("BTC_USD", self.params.pairs["btc_usd"])
        self.risk = pm.risk.risk_arrays_for_rows(self.market, np.arange(len(table)), scen)
        self.size = np.array(list(self.positions.values()))
        self.out = np.empty(scen.n)
        self.gathered = np.empty((len(self.rows), scen.n))
        self.pnl = np.empty(scen.n)

    def time_full_path(self):
        deribit_pm_margin(self.positions, self.market, self.params, threads=1)

    def time_cached_aggregate(self):
        pm.risk.aggregate(self.risk, self.rows, self.size, out=self.out).min()

    def time_cached_numpy(self):
        (self.size @ self.risk[self.rows]).min()

    def time_cached_numpy_out(self):
        np.take(self.risk, self.rows, axis=0, out=self.gathered)
        np.matmul(self.size, self.gathered, out=self.pnl).min()


class PreTradeCheck:
    """pymargin.PreTradeEngine.check on the real chain, accounts of 10 / 100 / 600 positions,
    next to the full re-margining an engine without incremental state does per order."""

    params = [10, 100, 600]
    param_names = ["positions"]

    def setup(self, positions):
        from pymargin.accounts.engine import PreTradeEngine, Side

        self.Side = Side
        self.market = demo_market()
        self.params_pm = DeribitPMParams.load("2024-06-17")
        names = list(self.market.marks)
        self.engine = PreTradeEngine(self.market, names, self.params_pm)
        self.account = self.engine.add_account({"BTC": 1e4})
        rng = np.random.default_rng(2)
        self.book = {}
        for name in rng.choice(names, positions, replace=False):
            self.engine.fill(self.account, str(name), Side.SELL, 1.0, 0.01)
            self.book[str(name)] = -1.0
        self.candidate = names[len(names) // 2]
        self.handle = self.engine.handle(self.candidate)
        self.candidates = [str(n) for n in rng.choice(names, 1000)]
        self.handles = self.engine.handles(self.candidates)
        self.sells = np.ones(1000, np.uint8)
        deribit_pm_margin(self.book, self.market, self.params_pm)

    def time_check(self, positions):
        self.engine.check(self.account, self.candidate, self.Side.SELL, 1.0)

    def time_check_by_handle(self, positions):
        self.engine.check(self.account, self.handle, self.Side.SELL, 1.0)

    def time_check_many_1000_handles(self, positions):
        self.engine.check_many(self.account, self.handles, self.sells, np.ones(1000))

    def time_check_many_1000(self, positions):
        self.engine.check_many(
            self.account, self.candidates, [self.Side.SELL] * 1000, np.ones(1000)
        )

    def time_full_recompute_per_order(self, positions):
        trial = dict(self.book)
        trial[self.candidate] = trial.get(self.candidate, 0.0) - 1.0
        deribit_pm_margin(trial, self.market, self.params_pm, threads=1)


class BatchMarginVenue:
    """Every account of a venue (100,000 accounts x 20 positions over 2,000 instruments,
    Deribit S:PM, 35 scenarios) by the C++ kernel, next to the scipy.sparse product plus numpy
    model of benchmarks/batch_margin.py (the 1M-account version of this comparison)."""

    params = [1, 2]
    param_names = ["threads"]
    timeout = 300

    def setup(self, threads):
        _benchmarks_dir()
        from batch_margin import ScipyMargin, universe

        from pymargin.accounts.batch import venue_risk

        market = demo_market()
        self.risk = venue_risk(market, universe(2000), DeribitPMParams.load("2024-06-17"))
        rng = np.random.default_rng(3)
        counts = rng.integers(1, 40, 100_000)
        self.offsets = np.zeros(100_001, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        nnz = int(self.offsets[-1])
        self.inst = rng.integers(0, 2000, nnz).astype(np.int32)
        self.amount = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], nnz)
        self.collateral = rng.uniform(0.5, 20.0, 100_000)
        self.scipy_margin = ScipyMargin(self.risk, self.offsets, self.inst, self.amount)
        self.results = tuple(np.empty(100_000) for _ in range(3))

    def time_pymargin(self, threads):
        from pymargin.accounts.batch import batch_margin_csr

        batch_margin_csr(
            self.risk, self.offsets, self.inst, self.amount, self.collateral, threads=threads
        )

    def time_scipy_sparse_numpy(self, threads):
        self.scipy_margin(self.collateral, *self.results)


class MarginOptimiser:
    """minimize_margin (HiGHS LP, then the cheapest trade at the optimal margin) for a
    40-option book over 500 listed candidates (benchmarks/optimize_margin.py compares it with
    scipy's Powell on the engine's margin)."""

    timeout = 300

    def setup(self):
        from pymargin.strategy.optimize import default_candidates

        self.market = demo_market()
        listed = default_candidates(self.market, max_days=400, moneyness=(0.4, 2.5))
        rng = np.random.default_rng(1)
        options = [n for n in listed if n.count("-") == 3]
        self.book = {
            str(n): float(rng.choice([-5.0, -2.0, -1.0, 1.0]))
            for n in rng.choice(options, 40, replace=False)
        }
        self.names = [n for n in listed if n not in self.book][:500]

    def time_minimize_margin_500(self):
        from pymargin.strategy.optimize import minimize_margin

        minimize_margin(self.book, self.market, self.names, max_buy=2.0, max_sell=2.0)


class MonteCarloVaR:
    """P&L of a 1,000-option book over 10,000 joint paths of spot and vol with full
    revaluation (pymargin.analytics.var.scenario_pnl), next to numpy/scipy written in place
    (benchmarks/var_monte_carlo.py, NumpyPnl); benchmarks/var_monte_carlo.py runs 100,000."""

    timeout = 300

    def setup(self):
        _benchmarks_dir()
        from margin_full_path import account
        from var_monte_carlo import NumpyPnl

        self.market = demo_market()
        self.book = account(np.random.default_rng(5))
        rng = np.random.default_rng(7)
        x = rng.standard_normal((10_000, 2)) * [0.04, 0.05]
        self.spot, self.vol = np.expm1(x[:, :1]), np.exp(x[:, 1:])
        table = self.market.table
        rows = table.rows(list(self.book))
        col = table.column
        self.numpy_pnl = NumpyPnl(
            col("forward")[rows],
            col("strike")[rows],
            col("time")[rows],
            col("vol")[rows],
            col("is_call")[rows].astype(bool),
            np.array(list(self.book.values())),
            self.market.index["BTC_USD"],
            chunk=128,
        )
        self.out = np.empty(10_000)

    def time_pymargin(self):
        from pymargin import var

        var.scenario_pnl(self.book, self.market, ("BTC_USD",), self.spot, self.vol, threads=1)

    def time_numpy_scipy(self):
        self.numpy_pnl(self.spot, self.vol, self.out)
