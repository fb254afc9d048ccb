"""The streaming monitor against an in-process websocket server serving Deribit's message
formats: subscription, index and option-mark notifications, a heartbeat test request, a
message that is not JSON and one with a bad price (both skipped and counted), a dropped
connection (reopened, channels subscribed again) and an error answer (a typed error)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from websockets.sync.server import serve

import pymargin as pm
from pymargin.live import VenueError
from pymargin.live.stream import MarginWatcher
from pymargin.market.bundled import SNAPSHOTS, demo_market

ROOT = Path(__file__).resolve().parents[2]
STAMP = int(SNAPSHOTS["BTC"].timestamp() * 1000)
BOOK = {"BTC-26DEC25-90000-P": -2.0, "BTC-PERPETUAL": 0.5}


def _note(channel, data):
    return json.dumps(
        {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}
    )


class _Server:
    """Serves ``scripts[k]`` on the k-th connection, then closes it."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.subscriptions: list[list[str]] = []
        self.tests = 0
        self.server = serve(self.handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handler(self, ws):
        k = len(self.subscriptions)
        req = json.loads(ws.recv())
        self.subscriptions.append(req["params"]["channels"])
        for msg in self.scripts[min(k, len(self.scripts) - 1)]:
            if msg == "EXPECT_TEST":
                assert json.loads(ws.recv())["method"] == "public/test"
                self.tests += 1
                continue
            ws.send(msg)

    def close(self):
        self.server.shutdown()


def test_updates_flow_into_the_margin_the_engine_and_the_liquidation_distance():
    m = demo_market("BTC")
    start = m.index["BTC_USD"]
    ok = json.dumps({"jsonrpc": "2.0", "id": 1, "result": ["deribit_price_index.btc_usd"]})
    first = [
        ok,
        _note(
            "deribit_price_index.btc_usd",
            {"price": start * 0.95, "timestamp": STAMP + 1000, "index_name": "btc_usd"},
        ),
        "this is not json",
        json.dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}),
        "EXPECT_TEST",
        _note("deribit_price_index.btc_usd", {"price": "NaN", "timestamp": STAMP + 1500}),
        _note(
            "markprice.options.btc_usd",
            [
                {
                    "instrument_name": "BTC-26DEC25-90000-P",
                    "mark_price": 0.05,
                    "iv": 0.6,
                    "timestamp": STAMP + 2000,
                }
            ],
        ),
    ]
    second = [
        ok,
        _note(
            "ticker.BTC-PERPETUAL.100ms",
            {
                "instrument_name": "BTC-PERPETUAL",
                "mark_price": start * 0.9,
                "timestamp": STAMP + 3000,
            },
        ),
    ]
    srv = _Server([first, second])
    waits: list[float] = []
    try:
        w = MarginWatcher(BOOK, m, {"BTC": 2.0}, url=srv.url, sleep=waits.append)
        before = w.snapshot()
        got = list(w.updates(max_updates=3))
    finally:
        srv.close()
    assert [u.channel for u in got] == [
        "deribit_price_index.btc_usd",
        "markprice.options.btc_usd",
        "ticker.BTC-PERPETUAL.100ms",
    ]
    assert set(srv.subscriptions[0]) == {
        "deribit_price_index.btc_usd",
        "markprice.options.btc_usd",
        "ticker.BTC-PERPETUAL.100ms",
    }
    assert srv.subscriptions[1] == srv.subscriptions[0]  # subscribed again after the drop
    assert w.stats.malformed == 2 and w.stats.reconnects == 1 and srv.tests == 1 and waits == [0.5]
    # each update is the account re-margined on the new market, the engine moved with it
    u0, u1, u2 = got
    assert u0.index["BTC_USD"] == pytest.approx(start * 0.95)
    # the same as the market shifted 5 % (forwards with the index, basis kept) at its time
    # the inverse perpetual is USD contracts: 0.5 BTC at the start is 0.5 / 0.95 BTC after
    s5 = m.shifted({"BTC_USD": -0.05})
    held = {**BOOK, "BTC-PERPETUAL": BOOK["BTC-PERPETUAL"] / 0.95}
    want = pm.margin(
        held, pm.Market(u0.time, s5.index, {n: s5.marks[n] for n in BOOK if n in s5.marks})
    )
    assert u0.initial_margin == pytest.approx(want.initial_margin, rel=1e-12)
    assert u0.initial_margin != before.initial_margin and u0.engine_initial_margin is not None
    assert u1.initial_margin != u0.initial_margin  # the put's new mark and iv
    assert u2.equity < u1.equity  # the long perpetual marked 10 % down
    assert u2.time > u1.time > u0.time
    assert all(u.liquidation_move is None or -0.8 <= u.liquidation_move <= 1.5 for u in got)


def test_an_error_answer_to_the_subscription_is_a_typed_error():
    err = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 11050, "message": "bad_request"}}
    )
    srv = _Server([[err]])
    try:
        w = MarginWatcher(BOOK, demo_market("BTC"), url=srv.url, sleep=lambda s: None)
        with pytest.raises(VenueError) as e:
            list(w.updates(max_updates=1))
    finally:
        srv.close()
    assert e.value.code == 11050 and "bad_request" in str(e.value)


def test_a_server_that_keeps_dropping_ends_in_a_typed_error():
    srv = _Server([[]])  # accepts, reads the subscription, closes
    try:
        w = MarginWatcher(BOOK, demo_market("BTC"), url=srv.url, retries=2, sleep=lambda s: None)
        with pytest.raises(VenueError, match="connection lost after 3 attempts"):
            list(w.updates(max_updates=1))
    finally:
        srv.close()
    assert w.stats.reconnects == 2


def test_watch_command_prints_a_json_line_per_update(monkeypatch):
    from typer.testing import CliRunner

    from pymargin.cli.app import app

    m = demo_market("BTC")
    ok = json.dumps({"jsonrpc": "2.0", "id": 1, "result": []})
    srv = _Server(
        [
            [
                ok,
                _note(
                    "deribit_price_index.btc_usd",
                    {"price": m.index["BTC_USD"] * 1.02, "timestamp": STAMP + 1},
                ),
            ]
        ]
    )
    try:
        book = str(ROOT / "examples" / "btc_book.csv")
        r = CliRunner().invoke(
            app,
            [
                "watch",
                book,
                "-m",
                "demo:BTC",
                "--collateral",
                "BTC=5",
                "--url",
                srv.url,
                "--updates",
                "1",
                "--json",
            ],
        )
    finally:
        srv.close()
    assert r.exit_code == 0, r.output
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert line["currency"] == "btc" and line["index"]["BTC_USD"] == pytest.approx(
        m.index["BTC_USD"] * 1.02
    )
