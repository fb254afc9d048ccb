"""How every benchmark here times its cases, and the numpy/scipy baselines they compare with.

The rules (README, "Benchmark rules"):

* both sides run in one process, in rounds: each round calls every case once, in turn
  (:func:`interleaved`), so a slow spell of the machine hits all of them alike;
* each case reports its best and its median over the rounds;
* the baseline is what a competent numpy user writes: vectorised, in place (``out=``), every
  buffer allocated once and reused (:class:`InverseGrid`);
* ratios per core compare equal thread counts (numpy's BLAS pinned to one thread before numpy
  is imported: :func:`pin_blas`); multi-thread figures are reported beside them;
* each script prints the machine (:func:`machine`) and its ratios.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from typing import Any


def pin_blas(threads: int = 1) -> None:
    """Limit numpy's BLAS/OpenMP to ``threads`` (call before numpy is imported)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


pin_blas()

import numpy as np  # noqa: E402  (after the BLAS thread count is set)
from scipy.special import ndtr  # noqa: E402

Case = Callable[[], Any] | tuple[Callable[[], Any], Callable[[], Any]]


def interleaved(cases: dict[str, Case], repeats: int) -> dict[str, tuple[float, float]]:
    """Best and median seconds per case; each round calls every case once, in turn. A case is
    a function, or (function, setup) with setup run untimed just before it."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            fn, setup = case if isinstance(case, tuple) else (case, None)
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (min(ts), float(np.median(ts))) for name, ts in times.items()}


def fmt(t: tuple[float, float], scale: float = 1e3) -> str:
    """``best / median`` in ms (or ``scale``'s unit)."""
    return f"{t[0] * scale:8.3f} / {t[1] * scale:8.3f}"


def ratio(slow: tuple[float, float], fast: tuple[float, float]) -> str:
    """How many times faster ``fast`` is, at the best and at the median."""
    return f"{slow[0] / fast[0]:.1f}x (best) / {slow[1] / fast[1]:.1f}x (median)"


def machine() -> str:
    """CPU model, cores, and the versions that matter for the figures."""
    import scipy

    from pymargin import _core

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}, pymargin SIMD {_core.simd_level()}"
    )


class InverseGrid:
    """Coin P&L per unit of inverse (coin-settled) Black-76 options over scenarios of the
    forward and vol, ``value(F', vol') - value(F, vol)``, as a competent numpy user writes it:
    every (options x scenarios) temporary allocated once per shape and reused, ufuncs with
    ``out=``, scipy's ``ndtr`` for the normal distribution."""

    def __init__(self, n: int, s: int) -> None:
        self.fs = np.empty((n, s))
        self.vol = np.empty((n, s))
        self.sd = np.empty((n, s))
        self.d1 = np.empty((n, s))
        self.d2 = np.empty((n, s))

    def value(self, K: np.ndarray, T: np.ndarray, th: np.ndarray, out: np.ndarray) -> None:
        """Coin values at forwards ``self.fs`` and vols ``self.vol`` into ``out``."""
        fs, d1, d2, sd = self.fs, self.d1, self.d2, self.sd
        k = K[:, None]
        np.multiply(self.vol, np.sqrt(T)[:, None], out=sd)
        np.divide(fs, k, out=d1)
        np.log(d1, out=d1)
        np.divide(d1, sd, out=d1)
        np.multiply(sd, 0.5, out=d2)
        np.add(d1, d2, out=d1)  # d1
        np.subtract(d1, sd, out=d2)  # d2
        np.multiply(d1, th, out=d1)
        ndtr(d1, out=d1)
        np.multiply(d2, th, out=d2)
        ndtr(d2, out=d2)
        np.multiply(d1, fs, out=d1)
        np.multiply(d2, k, out=d2)
        np.subtract(d1, d2, out=out)
        np.multiply(out, th, out=out)
        np.divide(out, fs, out=out)

    def deribit(
        self,
        F: np.ndarray,
        K: np.ndarray,
        T: np.ndarray,
        v: np.ndarray,
        cp: np.ndarray,
        moves: np.ndarray,
        vstate: np.ndarray,
        up: float,
        dn: float,
        floor_up: float,
        out: np.ndarray,
    ) -> np.ndarray:
        """Risk arrays under Deribit's grid: each scenario a forward move and a vol state
        (+1 up, 0, -1 down) shocked by the relative rule with (30/DTE)^p tenor scaling."""
        dte = np.maximum(T * 365.0, 1.0)
        mult = (30.0 / dte) ** np.where(dte < 30.0, 0.30, 0.13)
        vol3 = np.stack(
            [np.maximum(v * (1 - dn * mult), 0.0), v, np.maximum(v * (1 + up * mult), floor_up)],
            axis=1,
        )
        np.take(vol3, vstate + 1, axis=1, out=self.vol)
        np.multiply(F[:, None], 1.0 + moves[None, :], out=self.fs)
        th = np.where(cp, 1.0, -1.0)[:, None]
        self.value(K, T, th, out)
        out -= base_value(F, K, T, v, cp)[:, None]
        return out


def base_value(F: np.ndarray, K: np.ndarray, T: np.ndarray, v: np.ndarray, cp: np.ndarray):
    """Today's coin value of inverse Black-76 options (one per option: no grid)."""
    th = np.where(cp, 1.0, -1.0)
    s = v * np.sqrt(T)
    d1 = np.log(F / K) / s + 0.5 * s
    return th * (F * ndtr(th * d1) - K * ndtr(th * (d1 - s))) / F


class ScipyBlack:
    """Black-76 price (and Greeks) with numpy and scipy's ``ndtr``, as a careful user writes
    it: the n-sized temporaries allocated once and reused, every ufunc with ``out=``."""

    def __init__(self, n):
        self.s, self.d1, self.d2, self.a, self.b, self.df, self.th = (np.empty(n) for _ in range(7))

    def _d(self, F, K, T, v, r, cp):
        s, d1, d2, df, th = self.s, self.d1, self.d2, self.df, self.th
        np.sqrt(T, out=s)
        np.multiply(s, v, out=s)
        np.divide(F, K, out=d1)
        np.log(d1, out=d1)
        np.divide(d1, s, out=d1)
        np.multiply(s, 0.5, out=d2)
        np.add(d1, d2, out=d1)
        np.subtract(d1, s, out=d2)
        np.multiply(r, T, out=df)
        np.negative(df, out=df)
        np.exp(df, out=df)
        np.subtract(np.multiply(cp, 2.0, out=th), 1.0, out=th)  # +1 call, -1 put

    def price(self, F, K, T, v, r, cp, out):
        self._d(F, K, T, v, r, cp)
        a, b, th = self.a, self.b, self.th
        np.multiply(self.d1, th, out=a)
        ndtr(a, out=a)
        np.multiply(a, F, out=a)
        np.multiply(self.d2, th, out=b)
        ndtr(b, out=b)
        np.multiply(b, K, out=b)
        np.subtract(a, b, out=out)
        np.multiply(out, th, out=out)
        np.multiply(out, self.df, out=out)
        return out

    def greeks(self, F, K, T, v, r, cp, price, delta, gamma, vega, theta):
        self.price(F, K, T, v, r, cp, price)
        d1, df, th, s, a = self.d1, self.df, self.th, self.s, self.a
        # delta = df (N(d1) - (1 - th) / 2); pdf(d1) once, into gamma
        ndtr(d1, out=delta)
        np.subtract(th, 1.0, out=a)
        np.multiply(a, 0.5, out=a)
        np.add(delta, a, out=delta)
        np.multiply(delta, df, out=delta)
        np.multiply(d1, d1, out=gamma)
        np.multiply(gamma, -0.5, out=gamma)
        np.exp(gamma, out=gamma)
        np.multiply(gamma, 1.0 / math.sqrt(2.0 * math.pi), out=gamma)  # pdf(d1)
        np.multiply(gamma, F, out=vega)
        np.multiply(vega, df, out=vega)  # df F pdf
        np.divide(vega, s, out=theta)
        np.multiply(theta, v, out=theta)
        np.multiply(theta, v, out=theta)
        np.multiply(theta, -0.5, out=theta)  # -df F pdf v / (2 sqrt T)
        np.multiply(r, price, out=a)
        np.add(theta, a, out=theta)
        np.divide(s, v, out=a)  # sqrt T
        np.multiply(vega, a, out=vega)
        np.multiply(F, s, out=a)
        np.divide(gamma, a, out=gamma)
        np.multiply(gamma, df, out=gamma)
        return price, delta, gamma, vega, theta
