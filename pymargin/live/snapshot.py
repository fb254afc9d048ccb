# SPDX-License-Identifier: Apache-2.0
"""Venue snapshots: what :class:`~pymargin.live.deribit.DeribitClient` fetched, saved as the
venue sent it (one JSON file per call) in a dated folder with a ``manifest.json``, and read
back into a :class:`~pymargin.market.market.Market`, positions and collateral. A live run is
replayed exactly by pointing any command at the folder (``-m SNAPSHOT_DIR``).

Layout of ``deribit-20251205T011052Z/``::

    manifest.json                      venue, base URL, fetch time, currencies, files
    book_summary_BTC_option.json       public/get_book_summary_by_currency (result)
    book_summary_BTC_future.json
    index_btc_usd.json                 public/get_index_price
    instruments_BTC.json               public/get_instruments
    positions_BTC.json                 private/get_positions        (with --positions)
    account_summary_BTC.json           private/get_account_summary  (with --positions)
    pme_simulate_BTC.json              private/pme/simulate         (with --simulate)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..exceptions import FileInputError, InvalidInputError, PymarginError
from ..files import load_json
from ..market.adapters import collateral_from_deribit, market_from_deribit, portfolio_from_deribit
from ..market.market import Market
from ..market.portfolio import Portfolio
from .deribit import DeribitClient

__all__ = ["Snapshot", "fetch_snapshot", "live_market", "read_snapshot"]

MANIFEST = "manifest.json"
# the currencies of "deribit:all": the coin-settled books and the linear (USDC) one
ALL = ("BTC", "ETH", "USDC")


def currencies_of(spec: str) -> tuple[str, ...]:
    """``BTC``, ``ETH``, ``USDC`` or ``all`` (the ``deribit:...`` market specs)."""
    c = spec.strip().upper()
    if c == "ALL":
        return ALL
    if not c.isalnum() or not c:
        raise InvalidInputError(
            f"not a currency: {spec!r} (e.g. deribit:BTC, deribit:all)", "market"
        )
    return (c,)


def _indexes(book_rows: list[Any]) -> set[str]:
    """The index names (``btc_usd``) of the instruments in book summaries."""
    out = set()
    for r in book_rows:
        name = r.get("instrument_name") if isinstance(r, dict) else None
        if isinstance(name, str) and name:
            out.add(name.split("-")[0].split("_")[0].lower() + "_usd")
    return out


def _market(books: list[Any], indexes: dict[str, float], when: datetime | None) -> Market:
    m = market_from_deribit(*[{"result": b} for b in books], valuation_time=when)
    index = dict(m.index)
    for name, price in indexes.items():  # the venue's index, where it was fetched
        index[name.upper()] = price
    return Market(m.valuation_time, index, m.marks)


def live_market(client: DeribitClient, spec: str) -> Market:
    """A market from the venue now: book summaries (options and futures) of the currencies of
    ``spec`` and their indexes."""
    books = []
    for c in currencies_of(spec):
        for kind in ("option", "future"):
            books.append(client.book_summary(c, kind))
    names = set().union(*(_indexes(b) for b in books if isinstance(b, list)))
    return _market(books, {n: client.index_price(n) for n in sorted(names)}, None)


@dataclass
class Snapshot:
    """A saved snapshot read back: the market, and what the account files hold (None where
    the snapshot has none)."""

    folder: Path
    manifest: dict[str, Any]
    market: Market
    positions: Portfolio | None
    collateral: dict[str, float] | None
    simulate: dict[str, Any]  # currency -> the pme/simulate result


def fetch_snapshot(
    client: DeribitClient,
    spec: str,
    folder: str | Path,
    *,
    positions: bool = False,
    simulate: bool = False,
    now: datetime | None = None,
) -> Path:
    """Fetches what a market (and, with ``positions`` / ``simulate``, the account) needs and
    saves each answer as sent into ``folder/deribit-<UTC time>/``; returns that folder. Nothing
    is written unless every call succeeded."""
    when = now or datetime.now(timezone.utc)
    calls: dict[str, Any] = {}
    books = []
    for c in currencies_of(spec):
        for kind in ("option", "future"):
            calls[f"book_summary_{c}_{kind}.json"] = res = client.book_summary(c, kind)
            books.append(res)
        calls[f"instruments_{c}.json"] = client.instruments(c)
        if positions:
            calls[f"positions_{c}.json"] = client.positions(c)
            calls[f"account_summary_{c}.json"] = client.account_summary(c)
        if simulate:
            calls[f"pme_simulate_{c}.json"] = client.pme_simulate(c)
    for name in sorted(set().union(*(_indexes(b) for b in books if isinstance(b, list)))):
        calls[f"index_{name}.json"] = client.call("public/get_index_price", {"index_name": name})
    out = Path(folder) / f"deribit-{when:%Y%m%dT%H%M%SZ}"
    out.mkdir(parents=True, exist_ok=False)
    for name, res in calls.items():
        (out / name).write_text(json.dumps(res), encoding="utf-8")
    manifest = {
        "venue": "deribit",
        "base_url": client.base_url,
        "fetched_at": when.isoformat(),
        "currencies": list(currencies_of(spec)),
        "files": sorted(calls),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out


def is_snapshot(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_snapshot(folder: str | Path) -> Snapshot:
    """A saved snapshot (see the module docstring); the market's valuation time is the
    fetch time of the manifest, so a replay values exactly what the live run valued."""
    root = Path(folder)
    if not is_snapshot(root):
        raise FileInputError(str(root), f"not a snapshot folder (no {MANIFEST})")
    manifest = load_json(root / MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise FileInputError(str(root / MANIFEST), "no files listed")
    try:
        when = datetime.fromisoformat(str(manifest.get("fetched_at")))
    except ValueError:
        raise FileInputError(str(root / MANIFEST), "fetched_at is not an ISO time") from None
    files = [f for f in manifest["files"] if isinstance(f, str) and "/" not in f and "\\" not in f]
    books, indexes, pos, acct, sim = [], {}, [], [], {}
    for name in files:
        doc = load_json(root / name)
        try:
            if name.startswith("book_summary_"):
                books.append(doc)
            elif name.startswith("index_"):
                price = doc.get("index_price") if isinstance(doc, dict) else None
                if isinstance(price, bool) or not isinstance(price, (int, float)) or not price > 0:
                    raise InvalidInputError("must be a number > 0", "index_price")
                indexes[name[len("index_") : -len(".json")]] = float(price)
            elif name.startswith("positions_"):
                pos.append(portfolio_from_deribit({"result": doc}))
            elif name.startswith("account_summary_"):
                acct.append(collateral_from_deribit({"result": doc}))
            elif name.startswith("pme_simulate_"):
                sim[name[len("pme_simulate_") : -len(".json")].lower()] = doc
        except PymarginError as e:
            raise FileInputError(str(root / name), e) from None
    try:
        market = _market(books, indexes, when)
    except PymarginError as e:
        raise FileInputError(str(root), e) from None
    positions = None
    if pos:
        merged: dict[str, float] = {}
        for p in pos:
            merged.update(p.positions)
        positions = Portfolio(merged)
    collateral = None
    if acct:
        collateral = {}
        for a in acct:
            collateral.update(a)
    return Snapshot(root, manifest, market, positions, collateral, sim)
