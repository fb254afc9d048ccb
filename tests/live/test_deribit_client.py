"""The Deribit client, snapshots and verify against a local HTTP server (pytest-httpserver)
serving payloads in Deribit's documented JSON-RPC formats, including errors, rate-limit
answers, a dropped connection and malformed bodies. The machines have no internet access:
nothing here talks to the venue."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pymargin as pm
from pymargin.cli.app import app
from pymargin.live import DeribitClient, VenueError, fetch_snapshot, live_market, read_snapshot
from pymargin.market.bundled import SNAPSHOTS, load_demo_chain

pytest.importorskip("pytest_httpserver")

ROOT = Path(__file__).resolve().parents[2]
STAMP = int(SNAPSHOTS["BTC"].timestamp() * 1000)
API = "/api/v2/"


def _rpc(result, id_=1):
    return {"jsonrpc": "2.0", "id": id_, "result": result, "usIn": 1, "usOut": 2, "usDiff": 1}


def _book_options() -> list[dict]:
    """The bundled BTC chain as public/get_book_summary_by_currency (kind=option) rows."""
    c = load_demo_chain("BTC")
    return [
        {
            "instrument_name": n,
            "mark_price": float(p),
            "mark_iv": float(v) * 100.0,
            "underlying_price": float(f),
            "underlying_index": "SYN." + n.split("-")[1],
            "estimated_delivery_price": 92529.81,
            "creation_timestamp": STAMP,
            "base_currency": "BTC",
            "quote_currency": "BTC",
        }
        for n, p, v, f in zip(c.name, c.mark_price, c.mark_iv, c.forward)
    ]


def _book_futures() -> list[dict]:
    return [
        {
            "instrument_name": "BTC-PERPETUAL",
            "mark_price": 92540.5,
            "estimated_delivery_price": 92529.81,
            "creation_timestamp": STAMP,
        },
        {
            "instrument_name": "BTC-26DEC25",
            "mark_price": 92950.0,
            "estimated_delivery_price": 92529.81,
            "creation_timestamp": STAMP,
        },
    ]


def _serve_market(httpserver) -> None:
    q = "public/get_book_summary_by_currency"
    httpserver.expect_request(
        API + q, query_string={"currency": "BTC", "kind": "option"}
    ).respond_with_json(_rpc(_book_options()))
    httpserver.expect_request(
        API + q, query_string={"currency": "BTC", "kind": "future"}
    ).respond_with_json(_rpc(_book_futures()))
    httpserver.expect_request(
        API + "public/get_index_price", query_string={"index_name": "btc_usd"}
    ).respond_with_json(_rpc({"index_price": 92529.81, "estimated_delivery_price": 92529.81}))
    httpserver.expect_request(
        API + "public/get_instruments", query_string={"currency": "BTC"}
    ).respond_with_json(_rpc([]))


class _Clock:
    """A clock the injected sleep advances: pacing and backoff without waiting."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def _client(httpserver, **kw) -> DeribitClient:
    clock = _Clock()
    kw.setdefault("sleep", clock.sleep)
    kw.setdefault("clock", clock)
    c = DeribitClient(httpserver.url_for("/api/v2"), **kw)
    c.test_clock = clock  # type: ignore[attr-defined]
    return c


def test_a_live_market_from_book_summaries_and_the_index(httpserver):
    _serve_market(httpserver)
    with _client(httpserver) as client:
        m = live_market(client, "BTC")
    assert m.index == {"BTC_USD": 92529.81}
    assert m.valuation_time == SNAPSHOTS["BTC"].replace(microsecond=0)
    chain = load_demo_chain("BTC")
    name = chain.name[10]
    assert m.marks[name].mark_iv == pytest.approx(chain.mark_iv[10], rel=1e-15)
    assert m.marks["BTC-PERPETUAL"].mark_price == 92540.5
    # a book margined on it equals the same book on the bundled market at the same marks
    r = pm.margin({name: -1.0, "BTC-PERPETUAL": 0.2}, m)
    assert r.initial_margin > 0 and r.currency == "btc"


def test_rate_limits_and_server_errors_are_retried_with_backoff_and_counted(httpserver):
    method = API + "public/get_index_price"
    httpserver.expect_ordered_request(method).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"}
    )
    httpserver.expect_ordered_request(method).respond_with_json(
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 10028, "message": "too_many_requests"}}
    )
    httpserver.expect_ordered_request(method).respond_with_data("bad gateway", status=502)
    httpserver.expect_ordered_request(method).respond_with_json(_rpc({"index_price": 3000.5}))
    events: list[str] = []
    with _client(httpserver, log=events.append, backoff=0.25) as client:
        assert client.index_price("eth_usd") == 3000.5
        s = client.stats
    assert (s.requests, s.retries, s.rate_limited) == (4, 3, 2)
    assert (
        "rate limited" in events[0] and "retry 1/4" in events[0] and "in 2." in events[0]
    )  # Retry-After
    assert "HTTP 502" in events[2]
    waits = client.test_clock.slept  # type: ignore[attr-defined]
    # Retry-After first, then the backoff doubling from 0.25 s (retry k waits 0.25 x 2^k, +10 %)
    assert len(waits) == 3
    assert 2.0 <= waits[0] <= 2.2 and 0.5 <= waits[1] <= 0.55 and 1.0 <= waits[2] <= 1.1


def test_a_refusal_that_persists_ends_in_a_typed_error(httpserver):
    httpserver.expect_request(API + "public/get_index_price").respond_with_data("", status=429)
    with _client(httpserver, retries=2) as client, pytest.raises(VenueError) as e:
        client.index_price("btc_usd")
    assert e.value.code == 429 and "3 attempts" in str(e.value) and client.stats.requests == 3


def test_venue_errors_and_malformed_bodies_are_not_retried(httpserver):
    httpserver.expect_request(API + "public/ticker").respond_with_json(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": 10009, "message": "not_enough_funds", "data": {"reason": "x"}},
        }
    )
    httpserver.expect_request(API + "public/get_instruments").respond_with_data(
        "<html>maintenance</html>", status=200
    )
    httpserver.expect_request(API + "public/get_index_price").respond_with_json(
        _rpc({"index_price": "NaN"})
    )
    with _client(httpserver) as client:
        with pytest.raises(VenueError) as e:
            client.ticker("BTC-PERPETUAL")
        assert (
            e.value.code == 10009
            and "not_enough_funds" in str(e.value)
            and e.value.method == "public/ticker"
        )
        with pytest.raises(VenueError, match="not a JSON-RPC response"):
            client.instruments("BTC")
        with pytest.raises(VenueError, match="no valid index_price"):
            client.index_price("btc_usd")
        assert client.stats.retries == 0
        with pytest.raises(pm.InvalidInputError):
            client.book_summary("BTC; DROP")
        with pytest.raises(pm.InvalidInputError):
            client.call("ftp/x")


def test_a_dropped_connection_is_retried_then_reported():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    accepted = []

    def drop() -> None:  # accepts and closes every connection: no HTTP answer at all
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=drop, daemon=True).start()
    clock = _Clock()
    client = DeribitClient(
        f"http://127.0.0.1:{port}/api/v2", retries=3, sleep=clock.sleep, clock=clock
    )
    with client, pytest.raises(VenueError, match="no answer after 4 attempts"):
        client.index_price("btc_usd")
    srv.close()
    assert client.stats.retries == 3 and len(accepted) >= 4
    assert all("connection failed" in e for e in client.stats.events)


def test_private_methods_authenticate_and_pace_pme_simulate(httpserver):
    httpserver.expect_request(
        API + "public/auth",
        query_string={
            "grant_type": "client_credentials",
            "client_id": "id1",
            "client_secret": "s3cret",
        },
    ).respond_with_json(_rpc({"access_token": "tok", "expires_in": 900, "token_type": "bearer"}))
    example = json.loads(
        (ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json").read_text()
    )
    httpserver.expect_request(
        API + "private/pme/simulate", headers={"Authorization": "Bearer tok"}
    ).respond_with_json(example["response"])
    httpserver.expect_request(
        API + "private/get_positions", headers={"Authorization": "Bearer tok"}
    ).respond_with_json(
        _rpc(
            [
                {
                    "instrument_name": "BTC-PERPETUAL",
                    "size": 10000.0,
                    "size_currency": 0.108,
                    "mark_price": 92540.5,
                    "kind": "future",
                }
            ]
        )
    )
    with _client(httpserver, client_id="id1", client_secret="s3cret", max_rate=20) as client:
        a = client.pme_simulate("BTC")
        b = client.pme_simulate("BTC")
        client.positions("BTC")
        assert a == b == example["response"]["result"]
        # pme/simulate: one call a second (the venue's limit), the token fetched once
        assert any(0.9 <= w <= 1.0 for w in client.test_clock.slept)  # type: ignore[attr-defined]
    auth_calls = [r for r, _ in httpserver.log if r.path.endswith("public/auth")]
    assert len(auth_calls) == 1
    with (
        pytest.raises(pm.InvalidInputError) as e,
        _client(httpserver, client_id="", client_secret="") as c,
    ):
        c.positions("BTC")
    assert e.value.field == "client_id"


def test_fetch_saves_a_snapshot_every_command_replays(httpserver, tmp_path, monkeypatch):
    _serve_market(httpserver)
    with _client(httpserver) as client:
        live = live_market(client, "BTC")
        folder = fetch_snapshot(client, "BTC", tmp_path, now=SNAPSHOTS["BTC"])
    assert folder.name == "deribit-20251205T011052Z"
    snap = read_snapshot(folder)
    assert snap.market.index == live.index and snap.market.marks == live.marks
    assert snap.positions is None and snap.simulate == {}
    book = str(ROOT / "examples" / "btc_book.csv")
    monkeypatch.setenv("DERIBIT_BASE_URL", httpserver.url_for("/api/v2"))
    runner = CliRunner()
    now = json.loads(runner.invoke(app, ["margin", book, "-m", "deribit:BTC", "--json"]).stdout)
    replay = json.loads(runner.invoke(app, ["margin", book, "-m", str(folder), "--json"]).stdout)
    assert (
        replay["initial_margin"]
        == now["initial_margin"]
        == pm.margin(pm.Portfolio.from_csv(book), snap.market).initial_margin
    )
    r = runner.invoke(app, ["fetch", "deribit:BTC", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 0 and "wrote" in r.stdout and "requests" in r.stdout
    # a snapshot whose files were damaged is refused, naming the file
    (folder / "book_summary_BTC_future.json").write_text(
        '[{"instrument_name": "BTC-PERPETUAL", "mark_price": -1}]'
    )
    with pytest.raises(pm.InvalidInputError) as e:
        read_snapshot(folder)
    assert "deribit-20251205T011052Z" in str(e.value)


def test_verify_margins_the_venues_inputs_and_diffs_line_by_line(tmp_path):
    example = ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json"
    runner = CliRunner()
    r = runner.invoke(app, ["verify", str(example), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["btc"]
    want = json.loads(example.read_text())["response"]["result"]["margins"]["btc"]
    assert out["initial_margin_pymargin"] == pytest.approx(want["initial_margin"], abs=5e-13)
    assert out["differences"] == []
    doc = json.loads(example.read_text())
    doc["response"]["result"]["margins"]["btc"]["initial_margin"] *= 1.001  # the venue disagrees
    bad = tmp_path / "sim.json"
    bad.write_text(json.dumps(doc))
    r = runner.invoke(app, ["verify", str(bad)])
    assert r.exit_code == 1 and "initial_margin" in r.stdout


def test_a_snapshot_with_the_account_and_the_venues_simulate_verifies(httpserver, tmp_path):
    _serve_market(httpserver)
    httpserver.expect_request(API + "public/auth").respond_with_json(
        _rpc({"access_token": "tok", "expires_in": 900})
    )
    example = json.loads(
        (ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json").read_text()
    )
    httpserver.expect_request(API + "private/pme/simulate").respond_with_json(example["response"])
    httpserver.expect_request(API + "private/get_positions").respond_with_json(
        _rpc([{"instrument_name": "BTC-26DEC25-90000-P", "size": -2.0, "kind": "option"}])
    )
    httpserver.expect_request(API + "private/get_account_summary").respond_with_json(
        _rpc({"currency": "BTC", "balance": 5.5, "equity": 5.4})
    )
    with _client(httpserver, client_id="a", client_secret="b") as client:
        folder = fetch_snapshot(
            client, "BTC", tmp_path, positions=True, simulate=True, now=SNAPSHOTS["BTC"]
        )
    snap = read_snapshot(folder)
    assert snap.positions is not None and snap.positions.positions == {"BTC-26DEC25-90000-P": -2.0}
    assert snap.collateral == {"BTC": 5.5} and set(snap.simulate) == {"btc"}
    runner = CliRunner()
    r = runner.invoke(app, ["verify", str(folder), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["btc"]["differences"] == []
    # the positions and collateral files of the snapshot feed the other commands
    r = runner.invoke(
        app,
        [
            "whatif",
            str(folder),
            "-m",
            str(folder),
            "--collateral",
            str(folder / "account_summary_BTC.json"),
            "--order",
            "BTC-26DEC25-90000-P:sell:1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["im_after"] > json.loads(r.stdout)[0]["im_before"]


def test_the_config_file_gives_the_venue_settings(httpserver, tmp_path, monkeypatch):
    _serve_market(httpserver)
    for k in ("DERIBIT_BASE_URL", "DERIBIT_CLIENT_ID", "DERIBIT_CLIENT_SECRET", "DERIBIT_WS_URL"):
        monkeypatch.delenv(k, raising=False)  # restored (removed) after the test
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pymargin.toml").write_text(
        f'[deribit]\nbase_url = "{httpserver.url_for("/api/v2")}"\nclient_id = "me"\n'
    )
    runner = CliRunner()
    book = str(ROOT / "examples" / "btc_book.csv")
    r = runner.invoke(app, ["margin", book, "-m", "deribit:BTC", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["currency"] == "btc"
    import os

    assert os.environ["DERIBIT_CLIENT_ID"] == "me"
    # the environment wins over the file
    monkeypatch.setenv("DERIBIT_BASE_URL", "http://127.0.0.1:9/api/v2")
    r = runner.invoke(app, ["margin", book, "-m", "deribit:BTC", "--json"])
    assert r.exit_code == 2 and "public/get_book_summary_by_currency" in r.output
    (tmp_path / "pymargin.toml").write_text('[deribit]\napi_key = "x"\n')
    r = runner.invoke(app, ["margin", book, "-m", "demo:BTC"])
    assert r.exit_code == 2 and "deribit.api_key" in r.output
