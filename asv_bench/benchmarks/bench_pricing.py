"""asv benchmarks: batch pricing, Greeks, implied vol, scalar latency; numpy/scipy baseline."""

import numpy as np

import pymargin as pm


def _inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.uniform(50.0, 150.0, n)
    K = F * np.exp(rng.uniform(-0.5, 0.5, n))
    T = rng.uniform(1 / 365, 2.0, n)
    v = rng.uniform(0.2, 1.5, n)
    cp = rng.integers(0, 2, n).astype(bool)
    return F, K, T, v, cp


class Black76:
    params = ([1_000, 100_000, 1_000_000], [1, 2])
    param_names = ["n", "threads"]

    def setup(self, n, threads):
        self.F, self.K, self.T, self.v, self.cp = _inputs(n)
        self.out = np.empty(n)
        self.price = pm.black76_price(self.F, self.K, self.T, self.v, 0.0, self.cp)

    def time_price(self, n, threads):
        pm.black76_price(
            self.F, self.K, self.T, self.v, 0.0, self.cp, out=self.out, threads=threads
        )

    def time_price_greeks(self, n, threads):
        pm.black76_greeks(self.F, self.K, self.T, self.v, 0.0, self.cp, threads=threads)

    def time_implied_vol(self, n, threads):
        pm.black76_implied_vol(
            self.price, self.F, self.K, self.T, 0.0, self.cp, out=self.out, threads=threads
        )


class NumpyScipyBaseline:
    """The baseline next to Black76: numpy and scipy's ndtr in place, buffers reused
    (benchmarks/timing.py, ScipyBlack), one thread."""

    params = [1_000, 100_000, 1_000_000]
    param_names = ["n"]

    def setup(self, n):
        import sys
        from pathlib import Path

        path = str(Path(__file__).resolve().parents[2] / "benchmarks")
        if path not in sys.path:
            sys.path.insert(0, path)
        from timing import ScipyBlack

        self.F, self.K, self.T, self.v, self.cp = _inputs(n)
        self.r = np.zeros(n)
        self.sb = ScipyBlack(n)
        self.out = [np.empty(n) for _ in range(5)]

    def time_price(self, n):
        self.sb.price(self.F, self.K, self.T, self.v, self.r, self.cp, self.out[0])

    def time_price_greeks(self, n):
        self.sb.greeks(self.F, self.K, self.T, self.v, self.r, self.cp, *self.out)


class Inverse:
    params = ([1_000, 100_000, 1_000_000], [1, 2])
    param_names = ["n", "threads"]

    def setup(self, n, threads):
        F, K, self.T, self.v, self.cp = _inputs(n, seed=1)
        self.F, self.K = F * 900.0, K * 900.0  # BTC-like levels
        self.out = np.empty(n)
        self.coin = pm.inverse_price(self.F, self.K, self.T, self.v, 0.0, self.cp)

    def time_price(self, n, threads):
        pm.inverse_price(
            self.F, self.K, self.T, self.v, 0.0, self.cp, out=self.out, threads=threads
        )

    def time_price_greeks(self, n, threads):
        pm.inverse_greeks(self.F, self.K, self.T, self.v, 0.0, self.cp, threads=threads)

    def time_implied_vol(self, n, threads):
        pm.inverse_implied_vol(
            self.coin, self.F, self.K, self.T, 0.0, self.cp, out=self.out, threads=threads
        )


class ScalarCall:
    def time_scalar_call(self):
        pm.scalar.black76_greeks(100.0, 105.0, 0.5, 0.3, 0.01, True)

    def time_scalar_price(self):
        pm.scalar.black76_price(100.0, 105.0, 0.5, 0.3, 0.01, True)

    def time_scalar_implied_vol(self):
        pm.scalar.black76_implied_vol(7.5, 100.0, 105.0, 0.5, 0.01, True)
