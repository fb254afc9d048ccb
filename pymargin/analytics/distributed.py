# SPDX-License-Identifier: Apache-2.0
"""Scale-out on dask.distributed: batch margin, venue-level stress and Monte Carlo VaR split into
partitions, each computed by the C++ kernel on a worker, the results gathered in order.

Results equal the single-process functions exactly: accounts are independent (batch margin,
stress), Monte Carlo paths are drawn once on the client and cut at the same chunk boundaries the
single-process revaluation uses, and every total is summed on the client in the single-process
order.

A local cluster is started when no client or address is given. On a real cluster::

    from dask.distributed import Client
    client = Client("tcp://scheduler-host:8786")   # workers need pymargin installed
    res = pymargin.analytics.distributed.batch_margin(positions, collateral, market, client=client)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..extras import optional
from ..market.market import Market
from ..market.portfolio import as_portfolio

__all__ = ["batch_margin", "local_client", "monte_carlo_var", "stress_accounts"]


@contextlib.contextmanager
def local_client(workers: int = 2, processes: bool = False) -> Iterator[Any]:
    """A local dask cluster (threads by default: no pickling, fast start) and its client."""
    dd = optional("dask.distributed", "venue")
    cluster = dd.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=":0"
    )
    client = dd.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@contextlib.contextmanager
def _client(client: Any, address: str | None) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    if address is not None:
        c = optional("dask.distributed", "venue").Client(address)
        try:
            yield c
        finally:
            c.close()
        return
    with local_client() as c:
        yield c


def _bounds(n: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    if n == 0:
        return []
    step = max(align, -(-n // max(parts, 1)))
    step = -(-step // align) * align
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def _batch_part(
    risk: Any, offsets: np.ndarray, inst: np.ndarray, amount: np.ndarray, coll: np.ndarray
) -> dict[str, np.ndarray]:
    from ..accounts.batch import batch_margin_csr

    return batch_margin_csr(risk, offsets - offsets[0], inst, amount, coll, threads=1)


def batch_margin(
    positions: Any,
    collateral: Any,
    market: Market,
    params: Any = None,
    *,
    currency: str | None = None,
    client: Any = None,
    address: str | None = None,
    partitions: int | None = None,
) -> Any:
    """:func:`pymargin.accounts.batch.batch_margin` with the accounts split into ``partitions``
    (default: 2 per worker) computed on the cluster; same result."""
    from ..accounts.batch import BatchResult, collateral_for, venue_input

    b = venue_input(positions, collateral)
    risk = b.risk(market, params, currency)
    coll, notes = collateral_for(b, risk.currency, market)
    with _client(client, address) as c:
        parts = partitions or 2 * max(len(c.scheduler_info()["workers"]), 1)
        shared = c.scatter(risk, broadcast=True)
        futures = []
        for lo_acc, hi_acc in _bounds(len(b.accounts), parts):
            lo, hi = int(b.offsets[lo_acc]), int(b.offsets[hi_acc])
            futures.append(
                c.submit(
                    _batch_part,
                    shared,
                    b.offsets[lo_acc : hi_acc + 1],
                    b.instrument[lo:hi],
                    b.amount[lo:hi],
                    coll[lo_acc:hi_acc],
                    pure=False,
                )
            )
        results = c.gather(futures)
    cat = {k: np.concatenate([r[k] for r in results]) for k in results[0]}
    res = BatchResult.from_columns(b.accounts, cat, risk.currency, getattr(risk, "labels", None))
    res.notes = notes
    return res


def _stress_part(accounts: list[Any], market: Market, scenario: Any) -> list[dict[str, Any]]:
    from .stress import stress_accounts

    return list(stress_accounts(accounts, market, scenario)["accounts"])


def stress_accounts(
    accounts: list[Any],
    market: Market,
    scenario: Any,
    *,
    client: Any = None,
    address: str | None = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    """:func:`pymargin.analytics.stress.stress_accounts` over the cluster; same result."""
    with _client(client, address) as c:
        parts = partitions or 2 * max(len(c.scheduler_info()["workers"]), 1)
        futures = [
            c.submit(_stress_part, accounts[a:b], market, scenario, pure=False)
            for a, b in _bounds(len(accounts), parts)
        ]
        chunks = c.gather(futures)
    rows = []
    for start, chunk in zip((a for a, _ in _bounds(len(accounts), parts)), chunks):
        for r in chunk:
            rows.append({**r, "account": start + r["account"]})
    return {
        "scenario": scenario.name,
        "accounts": rows,
        "under_maintenance": sum(r["under_maintenance"] for r in rows),
        "total_shortfall": sum(r["shortfall"] for r in rows),
    }


def _mc_part(
    pf: Any, market: Market, unds: tuple[str, ...], spot: np.ndarray, vol: np.ndarray
) -> np.ndarray:
    from ..risk.pnl import scenario_pnl

    return scenario_pnl(pf, market, unds, spot, vol, threads=1)


def monte_carlo_var(
    portfolio: Any,
    market: Market,
    cov: np.ndarray | None = None,
    *,
    paths: int = 100_000,
    confidence: float = 0.99,
    horizon_days: int = 1,
    dist: Any = "normal",
    dof: float = 5.0,
    seed: int = 0,
    client: Any = None,
    address: str | None = None,
    partitions: int | None = None,
) -> Any:
    """:func:`pymargin.analytics.var.monte_carlo_var` with the paths revalued on the cluster; same
    result (the paths are drawn here and cut at the single-process chunk boundaries)."""
    from .var import (
        VaRMethod,
        VaRResult,
        check_monte_carlo,
        coins_of,
        describe_shock,
        mc_setup,
        mc_shocks,
        var_es,
    )

    law = check_monte_carlo(paths, confidence, dist, dof, seed)
    pf = as_portfolio(portfolio)
    unds, chol = mc_setup(pf, market, cov, horizon_days)
    spot, vol = mc_shocks(chol, len(unds), paths, law, dof, seed)
    with _client(client, address) as c:
        parts = partitions or 2 * max(len(c.scheduler_info()["workers"]), 1)
        futures = [
            c.submit(_mc_part, pf, market, unds, spot[a:b], vol[a:b], pure=False)
            for a, b in _bounds(paths, parts, align=4096)
        ]
        pnl = np.concatenate(c.gather(futures))
    v, es, j = var_es(pnl, confidence)
    worst = int(np.argmin(pnl))
    coins = coins_of(unds)
    return VaRResult(
        VaRMethod.MONTE_CARLO,
        confidence,
        horizon_days,
        v,
        es,
        f"path {j} ({describe_shock(coins, spot[j], vol[j])})",
        f"path {worst} ({describe_shock(coins, spot[worst], vol[worst])})",
        pnl,
        {"paths": paths, "dist": law.value, "partitions": parts},
    )
