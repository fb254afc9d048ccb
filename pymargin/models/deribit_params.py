# SPDX-License-Identifier: Apache-2.0
"""Deribit portfolio margin parameters: a ``model_params`` block read and checked, and the
shipped versions chosen by date (each block from the version in force at the valuation time)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..conventions import is_usd_stablecoin
from ..risk.scenarios import VolShockKind, VolShockRule
from .params import (
    ModelParameterError,
    available_versions,
    later_than,
    load_params,
    number,
    version_in_force,
)

__all__ = ["CurrencyParams", "DeribitPMParams", "PairParams"]


@dataclass(frozen=True)
class PairParams:
    price_range: float
    volatility_range_up: float
    volatility_range_down: float
    min_volatility_for_shock_up: float
    short_term_vega_power: float
    long_term_vega_power: float
    extended_table_factor: float
    max_delta_shock: float
    delta_total_liq_shock_threshold: float
    m_inc: float

    def vol_rule(self) -> VolShockRule:
        """The pair's vol shock: relative, (30 / DTE)^power scaled, the up shock floored."""
        return VolShockRule(
            VolShockKind.RELATIVE,
            self.volatility_range_up,
            self.volatility_range_down,
            self.min_volatility_for_shock_up,
            0.0,
            self.short_term_vega_power,
            self.long_term_vega_power,
        )


@dataclass(frozen=True)
class CurrencyParams:
    annualised_move_risk: float
    min_annualised_move: float
    extended_dampener: float
    pnl_offset: float
    max_offsetable_pnl: float
    haircut: float
    equity_side_impact: str
    correlation_set: bool


@dataclass(frozen=True)
class DeribitPMParams:
    """A Deribit PM parameter set (the ``model_params`` block of ``pme/simulate``)."""

    pairs: Mapping[str, PairParams]  # read-only views: a loaded set is shared
    currencies: Mapping[str, CurrencyParams]
    mm_factor: float
    buckets_count: int
    vol_scenarios_count: int
    timestamp: datetime
    source: str = ""
    raw: Any = None
    # which shipped version each block (pair or currency) comes from, and what a reader must
    # know about the choice (a version dated after the valuation time, say)
    versions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @classmethod
    def from_model_params(cls, mp: dict[str, Any], source: str = "") -> DeribitPMParams:
        """Validates and reads a ``model_params`` block (a file's or a venue response's)."""
        if not isinstance(mp, dict):
            raise ModelParameterError("must be a mapping", "model_params")
        for key in ("currency_pair", "currency", "general"):
            if not isinstance(mp.get(key), dict):
                raise ModelParameterError("missing or not a mapping", f"model_params.{key}")
        pairs = {}
        for name, b in mp["currency_pair"].items():
            p = f"model_params.currency_pair.{name}"
            if not isinstance(b, dict):
                raise ModelParameterError("must be a mapping", p)
            pairs[name] = PairParams(
                price_range=number(b, "price_range", p, 1e-6, 0.99),
                volatility_range_up=number(b, "volatility_range_up", p, 0, 10),
                volatility_range_down=number(b, "volatility_range_down", p, 0, 1),
                min_volatility_for_shock_up=number(b, "min_volatility_for_shock_up", p, 0, 10),
                short_term_vega_power=number(b, "short_term_vega_power", p, 0, 5),
                long_term_vega_power=number(b, "long_term_vega_power", p, 0, 5),
                extended_table_factor=number(b, "extended_table_factor", p, 0, 100),
                max_delta_shock=number(b, "max_delta_shock", p, 0, 1),
                delta_total_liq_shock_threshold=number(b, "delta_total_liq_shock_threshold", p, 0),
                m_inc=number(b, "m_inc", p, 0, 1),
            )
        currencies = {}
        for name, b in mp["currency"].items():
            p = f"model_params.currency.{name}"
            if not isinstance(b, dict):
                raise ModelParameterError("must be a mapping", p)
            side = b.get("equity_side_impact")
            if side not in ("both", "none", "positive", "negative"):
                raise ModelParameterError(f"unexpected value {side!r}", f"{p}.equity_side_impact")
            corr = b.get("correlation_set")
            if not isinstance(corr, bool):
                raise ModelParameterError("must be true or false", f"{p}.correlation_set")
            currencies[name] = CurrencyParams(
                annualised_move_risk=number(b, "annualised_move_risk", p, 0, 10),
                min_annualised_move=number(b, "min_annualised_move", p, 0, 1),
                extended_dampener=number(b, "extended_dampener", p, 0),
                pnl_offset=number(b, "pnl_offset", p, 0, 1),
                max_offsetable_pnl=number(b, "max_offsetable_pnl", p, 0),
                haircut=number(b, "haircut", p, 0, 1),
                equity_side_impact=side,
                correlation_set=corr,
            )
        g = mp["general"]
        buckets = number(g, "buckets_count", "model_params.general", 1, 100)
        vols = number(g, "vol_scenarios_count", "model_params.general", 3, 3)
        if buckets != int(buckets):
            raise ModelParameterError("must be an integer", "model_params.general.buckets_count")
        # milliseconds since 1970, before 2100
        stamp = number(g, "timestamp", "model_params.general", 0, 4_102_444_800_000)
        return cls(
            _ReadOnly(pairs),
            _ReadOnly(currencies),
            number(g, "mm_factor", "model_params.general", 0, 1),
            int(buckets),
            int(vols),
            datetime.fromtimestamp(stamp / 1000.0, tz=timezone.utc),
            source,
            mp,
        )

    def currency_params(self, currency: str) -> CurrencyParams | None:
        """Parameters of a settlement or collateral currency; USDC and USDT fall back to the
        ``usd`` block (the parameter sets name the stablecoin segment ``usd``)."""
        c = currency.lower()
        if c in self.currencies:
            return self.currencies[c]
        if is_usd_stablecoin(c) and "usd" in self.currencies:
            return self.currencies["usd"]
        return None

    def has(self, block: str) -> bool:
        """The set has a pair block (``btc_usd``) or a currency block (``eth``, ``usdc``)."""
        return block in self.pairs or self.currency_params(block) is not None

    def version_text(self) -> str:
        """Which shipped version each block comes from, in words ("btc_usd, btc: 2024-06-17");
        empty for a set given by the caller."""
        by: dict[str, list[str]] = {}
        for block, v in self.versions.items():
            by.setdefault(v, []).append(block)
        return "; ".join(f"{', '.join(b)}: {v}" for v, b in sorted(by.items()))

    @classmethod
    def load(cls, version: str | None = None) -> DeribitPMParams:
        """A shipped parameter version (``pymargin.models.available_versions('deribit_pm')``).
        Each version is read and checked once; the set is immutable, so it is shared."""
        key = version if version is not None else available_versions("deribit_pm")[-1]
        got = _LOADED.get(key)
        if got is None:
            doc = load_params("deribit_pm", key)
            got = cls.from_model_params(doc["model_params"], doc.get("source", ""))
            blocks = [*got.pairs, *got.currencies]
            got = _LOADED[key] = dataclasses.replace(got, versions=dict.fromkeys(blocks, key))
        return got

    @classmethod
    def in_force(
        cls,
        when: datetime,
        pairs: set[str],
        currencies: set[str],
        version: str | None = None,
    ) -> DeribitPMParams:
        """The parameters in force at ``when`` for ``pairs`` and ``currencies``: each block
        from the newest shipped version dated on or before ``when`` that has it (the shipped
        files are venue snapshots, each holding the blocks of the currency it was captured
        for). Where every version holding a block is later, the earliest is used and the set's
        ``notes`` say so. ``version`` forces one version for every block instead."""
        blocks = sorted(pairs) + sorted({_block_name(c) for c in currencies})
        if version is not None:
            p = cls.load(version)
            missing = [b for b in blocks if not p.has(b)]
            if missing:
                raise ModelParameterError(
                    f"version {version} of the Deribit PM parameters has no {missing}",
                    "params_version",
                )
            return dataclasses.replace(p, versions=dict.fromkeys(blocks, version))
        chosen: dict[str, str] = {}
        notes: list[str] = []
        for block in blocks:
            have = [v for v in available_versions("deribit_pm") if cls.load(v).has(block)]
            if not have:
                raise ModelParameterError(
                    f"no shipped Deribit PM parameters for {block}; pass params= (e.g. "
                    "DeribitPMParams.from_model_params(pme_simulate_result['model_params']))",
                    "params",
                )
            v = chosen[block] = version_in_force("deribit_pm", when, have)
            if later_than(v, when):
                notes.append(
                    f"{block}: no shipped version was in force on {when:%Y-%m-%d}; "
                    f"used {v}, the earliest"
                )
        return _composed(chosen, tuple(notes))


def _block_name(currency: str) -> str:
    """A currency's block name in the parameter files (stablecoins share ``usd``)."""
    c = currency.lower()
    return "usd" if is_usd_stablecoin(c) else c


def _composed(chosen: dict[str, str], notes: tuple[str, ...]) -> DeribitPMParams:
    """A parameter set of blocks from several shipped versions (``chosen``: block -> version),
    checked and cached once per choice. The versions must agree on the general block."""
    key = repr(sorted(chosen.items())) + repr(notes)
    got = _LOADED.get(key)
    if got is not None:
        return got
    docs = {v: load_params("deribit_pm", v) for v in set(chosen.values())}
    general: dict[str, Any] = {}
    for v, doc in sorted(docs.items()):
        g = doc["model_params"]["general"]
        for k in ("mm_factor", "buckets_count", "vol_scenarios_count"):
            if k in general and general[k] != g.get(k):
                raise ModelParameterError(
                    f"the versions in force differ in {k} ({general[k]} vs {g.get(k)} in {v}); "
                    "pass params_version=",
                    "params_version",
                )
            general[k] = g.get(k)
        general["timestamp"] = max(general.get("timestamp", 0), g.get("timestamp", 0))
    mp: dict[str, Any] = {"currency_pair": {}, "currency": {}, "general": general}
    for block, v in chosen.items():
        doc_mp = docs[v]["model_params"]
        if block in doc_mp["currency_pair"]:
            mp["currency_pair"][block] = doc_mp["currency_pair"][block]
        else:
            mp["currency"][block] = doc_mp["currency"][block]
    source = "; ".join(f"{v}: {d.get('source', '')}" for v, d in sorted(docs.items()))
    got = DeribitPMParams.from_model_params(mp, source)
    got = _LOADED[key] = dataclasses.replace(got, versions=dict(chosen), notes=notes)
    return got


_LOADED: dict[str, DeribitPMParams] = {}


class _ReadOnly(Mapping[str, Any]):
    """A read-only mapping (picklable, unlike MappingProxyType): a loaded parameter set is
    shared between callers, so nobody may change it under another."""

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = dict(d)

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return repr(self._d)
