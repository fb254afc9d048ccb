# SPDX-License-Identifier: Apache-2.0
"""The streaming margin monitor (``pymargin watch``): Deribit's websocket index and mark
channels feed an account's market; on each update the account is re-margined, the
pre-trade engine gets ``on_market_update``, and margin, equity, margin ratio and the spot
move to liquidation are emitted.

Channels (Deribit API v2, ``public/subscribe``): ``deribit_price_index.<index>`` (index
price; the forwards and futures marks move with it, their basis kept, until their own update),
``markprice.options.<index>`` (options' mark price and IV) and ``ticker.<instrument>.100ms``
(futures' marks). A message that is not JSON, or carries a
value that is not a finite positive number, is counted and skipped; a dropped connection
is reopened with exponential backoff and the channels subscribed again; an error answer to
the subscription raises :class:`~pymargin.live.deribit.VenueError`. Heartbeat test requests
are answered (``public/test``).

Tested against an in-process websocket server serving these message formats (tests/live),
not against the venue.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..accounts.account import Account, account_summary, moved_account
from ..accounts.engine import PreTradeEngine, book_at_marks
from ..accounts.liquidation import distance_to_liquidation
from ..exceptions import InvalidInputError
from ..extras import optional
from ..market.instruments import InstrumentKind, parse_instrument
from ..market.market import Mark, Market
from ..market.portfolio import Portfolio
from ..models.registry import margin
from .deribit import VenueError

__all__ = ["DERIBIT_WS", "MarginWatcher", "StreamStats", "WatchUpdate"]

DERIBIT_WS = "wss://www.deribit.com/ws/api/v2"


@dataclass(frozen=True)
class WatchUpdate:
    """The account after one market update (money in ``currency``; USD for a book across
    settlement currencies)."""

    time: datetime
    index: dict[str, float]
    currency: str
    initial_margin: float
    maintenance_margin: float
    engine_initial_margin: float | None
    equity: float
    margin_ratio: float | None
    liquidation_move: float | None
    channel: str


@dataclass
class StreamStats:
    messages: int = 0
    updates: int = 0
    malformed: int = 0
    reconnects: int = 0
    events: list[str] = field(default_factory=list)


def _positive(v: Any) -> float | None:
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0
    return float(v) if ok else None


class MarginWatcher:
    """Keeps ``positions`` (coins) and ``collateral`` margined on a live market, starting
    from ``market`` (a REST snapshot). ``url`` is the websocket endpoint."""

    def __init__(
        self,
        positions: dict[str, float],
        market: Market,
        collateral: dict[str, float] | None = None,
        *,
        url: str = DERIBIT_WS,
        params: Any = None,
        retries: int = 5,
        backoff: float = 0.5,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not positions:
            raise InvalidInputError("no positions", "positions")
        self.positions = dict(positions)
        self.collateral = dict(collateral or {})
        self.url = url
        self.params = params
        self.retries = retries
        self.backoff = backoff
        self.stats = StreamStats()
        self._log = log
        self._sleep = sleep
        table = market.table
        rows = table.rows(list(self.positions))  # every position valued before anything
        self._start = market  # the book's sizes are in coin at these marks
        self._index = dict(market.index)
        self._marks = {n: market.marks[n] for n in self.positions if n in market.marks}
        self._time = market.valuation_time
        unds = sorted(table.code_names(table.column("underlying")[rows]))
        self._index_names = [u.lower() for u in unds]
        self._entry = {
            n: market.underlying_price(parse_instrument(n))
            for n in self.positions
            if parse_instrument(n).kind is not InstrumentKind.OPTION
        }
        self.engine = PreTradeEngine(market, list(self.positions), params)
        self._acct = self.engine.add_account({k.lower(): v for k, v in self.collateral.items()})
        book_at_marks(self.engine, self._acct, self.positions, market)

    def channels(self) -> list[str]:
        out = [f"deribit_price_index.{i}" for i in self._index_names]
        if any(parse_instrument(n).kind is InstrumentKind.OPTION for n in self.positions):
            out += [f"markprice.options.{i}" for i in self._index_names]
        out += [f"ticker.{n}.100ms" for n in self._entry]
        return out

    def _event(self, text: str) -> None:
        self.stats.events.append(text)
        if self._log is not None:
            self._log(text)

    def market(self) -> Market:
        return Market(self._time, dict(self._index), dict(self._marks))

    def snapshot(self, channel: str = "") -> WatchUpdate:
        """The account on the current market: margin, the engine's IM, equity, ratio and the
        nearest spot move (all underlyings together) to liquidation."""
        m = self.market()
        # inverse futures keep their USD notional as the marks move (moved_account)
        account = moved_account(
            Account(Portfolio(self.positions), self.collateral, self._entry), self._start, m
        )
        book = account.portfolio
        res = margin(book, m, params=self.params)
        s = account_summary(account, m, pm_params=self.params)
        if res.currency == "usd":
            equity = s.equity_usd
        else:
            equity = s.per_currency.get(res.currency, {}).get("equity", 0.0)
        mm = res.maintenance_margin
        ratio = mm / equity if equity > 0 else None
        roots = distance_to_liquidation(account, m, vol_scales=(1.0,), points=21, lo=-0.8, hi=1.5)[
            1.0
        ]
        try:  # the engine's margin group of the same currency (a mixed book has none)
            eng = self.engine.margin(self._acct, res.currency)
        except InvalidInputError:
            eng = None
        return WatchUpdate(
            m.valuation_time,
            dict(m.index),
            res.currency,
            res.initial_margin,
            mm,
            None if eng is None else eng.initial_margin,
            equity,
            ratio,
            min(roots, key=abs) if roots else None,
            channel,
        )

    def apply(self, msg: Any) -> str | None:
        """Applies one notification to the market; returns its channel, or None when the
        message carried no update (confirmations, heartbeats) or was malformed."""
        if not isinstance(msg, dict) or msg.get("method") != "subscription":
            return None
        p = msg.get("params")
        channel = p.get("channel") if isinstance(p, dict) else None
        data = p.get("data") if isinstance(p, dict) else None
        if not isinstance(channel, str):
            return self._malformed("a subscription without a channel")
        changed = False
        if channel.startswith("deribit_price_index."):
            price = _positive(data.get("price")) if isinstance(data, dict) else None
            if price is None:
                return self._malformed(f"{channel}: no valid price")
            und = channel.split(".", 1)[1].upper()
            ratio = price / self._index.get(und, price)
            self._index[und] = price
            # forwards and futures marks follow the index, basis kept, until their own ticker
            for name in list(self._marks):
                inst = parse_instrument(name)
                if inst.underlying != und:
                    continue
                mk = self._marks[name]
                self._marks[name] = Mark(
                    mark_price=mk.mark_price * ratio
                    if mk.mark_price is not None and inst.kind is not InstrumentKind.OPTION
                    else mk.mark_price,
                    underlying_price=None
                    if mk.underlying_price is None
                    else mk.underlying_price * ratio,
                    mark_iv=mk.mark_iv,
                )
            changed = True
        elif channel.startswith("markprice.options."):
            if not isinstance(data, list):
                return self._malformed(f"{channel}: not a list")
            for r in data:
                opt = r.get("instrument_name") if isinstance(r, dict) else None
                if not isinstance(opt, str) or opt not in self.positions:
                    continue
                name = opt
                mark, iv = _positive(r.get("mark_price")), _positive(r.get("iv"))
                if mark is None or iv is None:
                    return self._malformed(f"{channel}: {name} without a valid mark and iv")
                old = self._marks.get(name)
                self._marks[name] = Mark(
                    mark_price=mark,
                    underlying_price=old.underlying_price if old else None,
                    mark_iv=iv,
                )
                changed = True
        elif channel.startswith("ticker."):
            name = channel.split(".")[1]
            mark = _positive(data.get("mark_price")) if isinstance(data, dict) else None
            if mark is None:
                return self._malformed(f"{channel}: no valid mark_price")
            self._marks[name] = Mark(mark_price=mark)
            changed = True
        else:
            return None
        rows = data if isinstance(data, list) else [data]
        stamps = [r.get("timestamp") for r in rows if isinstance(r, dict)]
        for stamp in stamps:  # the newest time any part of the update carries
            if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0:
                self._time = max(self._time, datetime.fromtimestamp(stamp / 1e3, tz=timezone.utc))
        return channel if changed else None

    def _malformed(self, why: str) -> str | None:
        self.stats.malformed += 1
        self._event(f"skipped a malformed message: {why}")
        return None

    def updates(self, max_updates: int | None = None) -> Iterator[WatchUpdate]:
        """Connects, subscribes and yields the account after every market update (at most
        ``max_updates``), reconnecting on a dropped connection."""
        ws_client = optional("websockets.sync.client", "live")
        exceptions = optional("websockets.exceptions", "live")
        attempt = 0
        while True:
            try:
                with ws_client.connect(self.url, open_timeout=10) as ws:
                    ws.send(
                        json.dumps(
                            {
                                "jsonrpc": "2.0",
                                "id": 1,
                                "method": "public/subscribe",
                                "params": {"channels": self.channels()},
                            }
                        )
                    )
                    for raw in ws:
                        self.stats.messages += 1
                        try:
                            msg = json.loads(raw)
                        except (ValueError, TypeError, RecursionError):
                            self._malformed("not JSON")
                            continue
                        if isinstance(msg, dict) and msg.get("id") == 1 and "result" in msg:
                            attempt = 0  # subscribed: a later drop starts the backoff anew
                        if isinstance(msg, dict) and msg.get("id") == 1 and "error" in msg:
                            err = msg["error"] if isinstance(msg["error"], dict) else {}
                            raise VenueError(
                                "public/subscribe", str(err.get("message")), err.get("code")
                            )
                        if isinstance(msg, dict) and msg.get("method") == "heartbeat":
                            ws.send(
                                json.dumps(
                                    {
                                        "jsonrpc": "2.0",
                                        "id": 2,
                                        "method": "public/test",
                                        "params": {},
                                    }
                                )
                            )
                            continue
                        channel = self.apply(msg)
                        if channel is None:
                            continue
                        self.engine.on_market_update(self.market())
                        self.stats.updates += 1
                        yield self.snapshot(channel)
                        if max_updates is not None and self.stats.updates >= max_updates:
                            return
                raise exceptions.ConnectionClosed(None, None)  # the server ended the stream
            except (OSError, exceptions.ConnectionClosed, exceptions.InvalidHandshake) as e:
                if attempt >= self.retries:
                    raise VenueError(
                        "websocket",
                        f"connection lost after {attempt + 1} attempts: {type(e).__name__}",
                    ) from None
                delay = self.backoff * 2.0**attempt
                attempt += 1
                self.stats.reconnects += 1
                self._event(
                    f"websocket: {type(e).__name__}; reconnecting in {delay:.2f} s "
                    f"({attempt}/{self.retries})"
                )
                self._sleep(delay)
