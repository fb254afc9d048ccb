"""The local margin service: Deribit's published pme/simulate request answered with its
published response entry by entry, typed 400s for bad input (never a 500), the size limit,
the API key, the logs, and accounts that share no state under concurrent requests (a real
uvicorn server on a free port)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from fastapi.testclient import TestClient

from pymargin.live.service import AccountState, ServiceState, create_app
from pymargin.market.bundled import demo_market

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads(
    (ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json").read_text()
)


def _same(got, want, path=""):
    """Every entry of ``want`` is in ``got`` with the same value (numbers to 1e-15 relative,
    or 5e-13 absolute: the published figures' own rounding)."""
    if isinstance(want, dict):
        for k, v in want.items():
            assert k in got, f"missing {path}/{k}"
            _same(got[k], v, f"{path}/{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert abs(got - want) <= max(1e-15 * max(abs(got), abs(want)), 5e-13), (path, got, want)
    else:
        assert got == want, (path, got, want)


@pytest.fixture
def client():
    return TestClient(create_app(ServiceState.from_simulate(EXAMPLE["response"])))


def test_the_published_request_returns_the_published_response(client):
    """Deribit's API documentation, private/pme/simulate example (tests/data/README.md)."""
    r = client.post("/api/v2", json=EXAMPLE["request"])
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == EXAMPLE["request"]["id"] and body["jsonrpc"] == "2.0"
    _same(body["result"], EXAMPLE["response"]["result"])
    # the method in the path, as Deribit's HTTP API takes it
    r2 = client.post("/api/v2/private/pme/simulate", json=EXAMPLE["request"])
    _same(r2.json()["result"], EXAMPLE["response"]["result"])


def test_simulated_positions_are_added_to_the_account(client):
    req = dict(
        EXAMPLE["request"],
        params={"currency": "BTC", "simulated_positions": {"BTC-PERPETUAL": 0.5}},
    )
    got = client.post("/api/v2", json=req).json()["result"]
    pos = EXAMPLE["response"]["result"]["portfolio"]["position"]
    assert got["portfolio"]["position"]["BTC-PERPETUAL"] == pytest.approx(
        pos["BTC-PERPETUAL"] + 0.5
    )
    assert (
        got["margins"]["btc"]["initial_margin"]
        != EXAMPLE["response"]["result"]["margins"]["btc"]["initial_margin"]
    )


@pytest.mark.parametrize(
    "body, code, field",
    [
        (b"{not json", -32700, None),
        (b"[]", -32602, "body"),
        (
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "private/buy", "params": {}}).encode(),
            -32602,
            "method",
        ),
        (
            json.dumps(
                {"id": 1, "method": "private/pme/simulate", "params": {"currency": "B T C"}}
            ).encode(),
            -32602,
            "params.currency",
        ),
        (
            json.dumps(
                {
                    "id": 1,
                    "method": "private/pme/simulate",
                    "params": {"currency": "BTC", "account": "nobody"},
                }
            ).encode(),
            -32602,
            "account",
        ),
        (
            b'{"id": 1, "method": "private/pme/simulate", "params": {"currency": "BTC", '
            b'"simulated_positions": {"BTC-PERPETUAL": NaN}}}',
            -32602,
            "params.simulated_positions",
        ),
        (
            json.dumps(
                {
                    "id": 1,
                    "method": "private/pme/simulate",
                    "params": {"currency": "BTC", "simulated_positions": {"BTC-1JAN20": 1}},
                }
            ).encode(),
            -32602,
            "instrument",
        ),
    ],
)
def test_bad_rpc_requests_get_typed_errors(client, body, code, field):
    r = client.post("/api/v2", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == code
    if field is not None:
        assert err["data"]["field"] == field


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/margin", {"positions": {"BTC-PERPETUAL": "x"}}, "positions.BTC-PERPETUAL"),
        ("/margin", {"positions": {"BTC-PERPETUAL": 1}, "model": "cme"}, "model"),
        ("/margin", {"positions": {"NOPE": 1}}, "instrument"),
        ("/margin", {}, "positions"),
        (
            "/accounts/default/check",
            {"instrument": "BTC-PERPETUAL", "side": "hold", "amount": 1},
            "side",
        ),
        (
            "/accounts/default/check",
            {"instrument": "BTC-PERPETUAL", "side": "buy", "amount": -1},
            "amount",
        ),
        (
            "/accounts/ghost/check",
            {"instrument": "BTC-PERPETUAL", "side": "buy", "amount": 1},
            "account",
        ),
        (
            "/stress",
            {"positions": {"BTC-PERPETUAL": 1}, "scenarios": [{"moves": {"BTC_USD": -2}}]},
            "scenarios.moves",
        ),
        ("/var", {"positions": {"BTC-PERPETUAL": 1}, "confidence": 2}, "confidence"),
    ],
)
def test_bad_rest_requests_get_typed_400s_never_500(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == field


def test_margin_whatif_stress_var_and_openapi(client):
    m = client.post(
        "/margin", json={"positions": {"BTC-PERPETUAL": 1.0}, "model": "finra_pm"}
    ).json()
    assert m["currency"] == "usd" and m["initial_margin"] > 0
    before = client.get("/accounts/default").json()
    chk = client.post(
        "/accounts/default/check",
        json={"instrument": "BTC-PERPETUAL", "side": "buy", "amount": 0.1},
    ).json()
    assert chk["accept"] is False and chk["reason"] == "insufficient_funds"  # no collateral
    assert client.get("/accounts/default").json() == before  # a check changes nothing
    st = client.post(
        "/stress",
        json={
            "positions": {"BTC-PERPETUAL": 1.0},
            "scenarios": [{"name": "down", "moves": {"BTC_USD": -0.2}}],
        },
    ).json()
    assert st[0]["name"] == "down" and st[0]["pnl_usd"] < 0
    schema = client.get("/openapi.json").json()
    assert {"/margin", "/api/v2", "/health", "/stress", "/var"} <= set(schema["paths"])
    assert client.get("/health").json()["status"] == "ok"


def test_size_limit_api_key_and_logs(caplog):
    app = create_app(ServiceState.from_simulate(EXAMPLE["response"]), api_key="k3y", max_body=2_000)
    c = TestClient(app)
    with caplog.at_level(logging.INFO, logger="pymargin.service"):
        assert c.get("/health").status_code == 200  # open without a key
        assert c.post("/api/v2", json=EXAMPLE["request"]).status_code == 401
        assert (
            c.post("/api/v2", json=EXAMPLE["request"], headers={"X-API-Key": "nope"}).status_code
            == 401
        )
        ok = c.post("/api/v2", json=EXAMPLE["request"], headers={"X-API-Key": "k3y"})
        assert ok.status_code == 200
        big = {"positions": {f"BTC-PERPETUAL{i}": 1 for i in range(200)}}
        r = c.post("/margin", json=big, headers={"X-API-Key": "k3y"})
        assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLarge"
    lines = [
        json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "pymargin.service"
    ]
    assert [x["status"] for x in lines] == [200, 401, 401, 200, 413]
    assert all(x["ms"] >= 0 and x["path"] for x in lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accounts_share_no_state_under_concurrent_requests():
    """A real server; two accounts filled and checked from 8 threads at once."""
    import httpx
    import uvicorn

    m = demo_market("BTC")
    state = ServiceState(
        m,
        {
            "a": AccountState({"BTC-PERPETUAL": 0.1}, {"BTC": 50.0}),
            "b": AccountState({"BTC-26DEC25-90000-P": -1.0}, {"BTC": 50.0}),
        },
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="error")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    b_before = httpx.get(f"{base}/accounts/b").json()

    def work(k: int) -> tuple[str, float]:
        with httpx.Client(base_url=base, timeout=30) as h:
            if k % 2 == 0:
                r = h.post(
                    "/accounts/a/fill",
                    json={"instrument": "BTC-PERPETUAL", "side": "buy", "amount": 0.01},
                )
                return "fill", r.json()["initial_margin"]
            r = h.post(
                "/accounts/b/check",
                json={"instrument": "BTC-26DEC25-90000-P", "side": "sell", "amount": 1},
            )
            return "check", r.json()["im_after"]

    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(work, range(80)))
    a = httpx.get(f"{base}/accounts/a").json()
    b = httpx.get(f"{base}/accounts/b").json()
    server.should_exit = True
    t.join(timeout=10)
    assert a["positions"]["BTC-PERPETUAL"] == pytest.approx(0.1 + 40 * 0.01, abs=1e-12)
    assert b == b_before  # checks on b and fills on a never touched b
    checks = {v for kind, v in out if kind == "check"}
    assert len(checks) == 1  # every check of b saw the same b
    assert not t.is_alive()  # the server stopped cleanly


def test_pymargin_serve_starts_answers_and_stops_cleanly(tmp_path):
    """The command as a user runs it: health, the published request, an accounts file, the
    API key from the environment; SIGTERM shuts it down cleanly."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    accounts = tmp_path / "accounts.json"
    accounts.write_text(
        json.dumps({"alice": {"positions": {"BTC-PERPETUAL": 0.1}, "collateral": {"BTC": 1}}})
    )
    port = _free_port()
    env = dict(os.environ, PYMARGIN_TEST_KEY="k", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pymargin",
            "serve",
            "--simulate",
            str(ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json"),
            "--accounts",
            str(accounts),
            "--port",
            str(port),
            "--api-key-env",
            "PYMARGIN_TEST_KEY",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,  # outside the source tree: the installed package runs
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120  # a cold start on a busy CI machine is slow
        while time.time() < deadline:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert httpx.get(base + "/health").json()["accounts"] == 2
        r = httpx.post(base + "/api/v2", json=EXAMPLE["request"], headers={"X-API-Key": "k"})
        _same(r.json()["result"], EXAMPLE["response"]["result"])
        assert httpx.get(base + "/accounts/alice", headers={"X-API-Key": "k"}).json()[
            "positions"
        ] == {"BTC-PERPETUAL": 0.1}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    # uvicorn finishes the shutdown, then re-raises the signal it caught (exit by SIGTERM)
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()[-2000:]
    assert "Application shutdown complete" in err.decode()
    logs = [json.loads(x) for x in err.decode().splitlines() if x.startswith("{")]
    assert any(x["path"] == "/api/v2" and x["status"] == 200 for x in logs)
