# SPDX-License-Identifier: Apache-2.0
"""Deribit-style scenario risk vectors, shared by the scenario models (S:PM, X:PM, Paradex,
grid files), the venue batch, the pre-trade engine's Python side and the optimiser: the
extended table's moves, per-position and summed vectors over the table's kept risk arrays,
the roll shock's terms, coin deltas, and where a worst entry sits in Deribit's grid."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _core
from ..market.instruments import Settlement
from ..market.market import Market
from ..risk.revaluation import risk_matrix_for_rows
from ..risk.scenarios import ScenarioSet, VolState

if TYPE_CHECKING:
    from .deribit_params import CurrencyParams, PairParams

__all__ = [
    "EXTENDED_MOVES",
    "UNCHANGED_SLOT",
    "VOL_STATE_ORDER",
    "RiskVectors",
    "bucket_of",
    "codes_in_order",
    "coin_deltas",
    "distinct_codes",
    "extended_dampeners",
    "position_vectors",
    "roll_terms",
    "summed_vectors",
]

# Tail moves of the extended table, evaluated with vol up (Deribit's support article lists
# -66 %, -33 %, +50 %, +100 %, +200 %, +300 %, +400 %, +500 %).
EXTENDED_MOVES = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
# Assumed order of the three vol states inside a price bucket (not identifiable from the
# published examples, which hold futures only).
VOL_STATE_ORDER = (VolState.UP, VolState.UNCHANGED, VolState.DOWN)
UNCHANGED_SLOT = VOL_STATE_ORDER.index(VolState.UNCHANGED)


class RiskVectors(Mapping[str, dict[str, np.ndarray]]):
    """Per-instrument risk vectors (``initial_risk_vectors`` of the response), held as the
    matrices they are computed in, each built when first read (a large account's margin does
    not pay for them); the name index likewise."""

    def __init__(self) -> None:
        self._blocks: list[
            tuple[list[str], np.ndarray, np.ndarray | Callable[[], np.ndarray], int]
        ] = []
        self._where: dict[str, tuple[int, int]] | None = None

    def add(
        self,
        names: list[str],
        sel: np.ndarray,
        vectors: np.ndarray | Callable[[], np.ndarray],
        n_std: int,
    ) -> None:
        self._blocks.append((names, sel, vectors, n_std))
        self._where = None

    def _index(self) -> dict[str, tuple[int, int]]:
        if self._where is None:
            self._where = {
                names[i]: (b, k)
                for b, (names, sel, _, _) in enumerate(self._blocks)
                for k, i in enumerate(sel.tolist())
            }
        return self._where

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        b, k = self._index()[name]
        names, sel, vectors, n_std = self._blocks[b]
        if callable(vectors):
            vectors = vectors()
            self._blocks[b] = (names, sel, vectors, n_std)
        return {"standard": vectors[k, :n_std].copy(), "extended": vectors[k, n_std:].copy()}

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return sum(len(sel) for _, sel, _, _ in self._blocks)


def distinct_codes(codes: np.ndarray) -> np.ndarray:
    """The distinct values of a code column (sorted); one comparison when there is one."""
    if len(codes) and (codes == codes[0]).all():
        return codes[:1]
    return np.unique(codes)


def codes_in_order(codes: np.ndarray) -> np.ndarray:
    """The distinct values in order of first appearance."""
    if len(codes) and (codes == codes[0]).all():
        return codes[:1]
    _, first = np.unique(codes, return_index=True)
    return codes[np.sort(first)]


def position_vectors(
    market: Market,
    rows: np.ndarray,
    sizes: np.ndarray,
    scen: ScenarioSet,
    pp: PairParams,
    n_std: int,
    threads: int | None,
) -> np.ndarray:
    """Risk vectors of positions (rows x scenarios, settlement currency): revaluation times
    size, the extended entries scaled by extended_table_factor x range/|M| (inverse instruments
    also by (1 + M)/(1 + sign(M) range))."""
    return _vectors_of(_scaled(market, rows, sizes, scen, pp, n_std, threads))


def summed_vectors(
    market: Market,
    rows: np.ndarray,
    sizes: np.ndarray,
    scen: ScenarioSet,
    pp: PairParams,
    n_std: int,
    threads: int | None,
) -> tuple[np.ndarray, Callable[[], np.ndarray]]:
    """The sum of :func:`position_vectors` over the positions, bit for bit (the same products
    in the same order, summed in position order, with no positions x scenarios array), and a
    function that builds the per-position vectors when they are read."""
    run = _scaled(market, rows, sizes, scen, pp, n_std, threads)
    return run(False)[0], lambda: _vectors_of(run)


def _vectors_of(run: Callable[[bool], tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    vectors = run(True)[1]
    assert vectors is not None  # asked for
    return vectors


def _scaled(
    market: Market,
    rows: np.ndarray,
    sizes: np.ndarray,
    scen: ScenarioSet,
    pp: PairParams,
    n_std: int,
    threads: int | None,
) -> Callable[[bool], tuple[np.ndarray, np.ndarray | None]]:
    """The core's scaled_vectors over the table's kept risk arrays of ``rows``: a function
    returning the summed vector and, when asked, the per-position vectors (one pass)."""
    ext_moves = np.array(EXTENDED_MOVES)
    matrix, index = risk_matrix_for_rows(market, rows, scen, threads=threads)
    scale = pp.extended_table_factor * pp.price_range / np.abs(ext_moves)
    settlement = market.table.column("settlement")[rows]
    inverse = (settlement == int(Settlement.INVERSE)).view(np.uint8)
    edge = (1.0 + ext_moves) / (1.0 + np.sign(ext_moves) * pp.price_range)
    edge_or_none = edge if inverse.any() else None
    q = np.ascontiguousarray(sizes, dtype=np.float64)
    ns = matrix.shape[1]

    def run(with_vectors: bool) -> tuple[np.ndarray, np.ndarray | None]:
        summed = np.empty(ns)
        vectors = np.empty((len(index), ns)) if with_vectors else None
        _core.scaled_vectors(matrix, index, q, inverse, scale, edge_or_none, n_std, summed, vectors)
        return summed, vectors

    return run


def extended_dampeners(
    pp: PairParams, cp: CurrencyParams, index: float, usd_settled: bool
) -> np.ndarray:
    """The dampener of each extended entry, in the settlement currency:
    (|M| / price_range - 1) x extended_dampener. The dampener is a USD amount; for a coin
    margin group Deribit converts it to coin at the edge price of the move's side,
    (1 + sign(M) price_range) x index (the published coin formula). For a USD-settled group
    there is nothing to convert, and pymargin follows that plain reading: no division (the
    venue publishes no separate USDC formula)."""
    moves = np.array(EXTENDED_MOVES)
    usd = (np.abs(moves) / pp.price_range - 1.0) * cp.extended_dampener
    if usd_settled:
        return usd
    return usd / ((1.0 + np.sign(moves) * pp.price_range) * index)


def bucket_of(j: int, n_std: int, buckets: int) -> dict[str, Any]:
    """The bucket, side and source of scenario entry ``j`` (standard entries first, then the
    extended ones), as Deribit's response names the worst one."""
    if j < n_std:
        kk = j // 3 - buckets
        return {
            "bucket": j // 3 + 1,
            "side": "left" if kk < 0 else ("right" if kk > 0 else "center"),
            "source": "standard",
            "index": j,
        }
    j -= n_std
    return {
        "bucket": None,
        "side": "left" if EXTENDED_MOVES[j] < 0 else "right",
        "source": "extended",
        "index": j,
    }


def roll_terms(
    market: Market, rows: np.ndarray, deltas: np.ndarray, cp: CurrencyParams
) -> tuple[np.ndarray, np.ndarray]:
    """The roll shock's terms in coin: per expiry, the factor max(min_annualised_move,
    |exp(annualised_move_risk T) - 1|) and the expiry's net coin delta."""
    table = market.table
    # the expiries held, in expiry order (the table's rank of each row's expiry key)
    rank = table.column("expiry_rank")[rows]
    present = np.flatnonzero(np.bincount(rank))
    net = np.bincount(rank, weights=deltas)[present]
    t_all = np.zeros(len(present) and int(present[-1]) + 1)
    t_all[rank] = table.column("time")[rows]
    t_key = t_all[present]
    k = np.maximum(cp.min_annualised_move, np.abs(np.expm1(cp.annualised_move_risk * t_key)))
    return k, net


def coin_deltas(market: Market, rows: np.ndarray) -> np.ndarray:
    """Exposure in coin per unit position: 1 for futures, perpetuals and spot; the USD Black
    delta dV/dF for options (per coin of underlying): the table's ``delta_forward`` column,
    computed once per snapshot for every row (with the rate, as the risk arrays and the
    pre-trade engine price them)."""
    return market.table.column("delta_forward")[rows]
