# SPDX-License-Identifier: Apache-2.0
"""Load on the local margin service: requests per second and latency percentiles for
Deribit-sized ``private/pme/simulate`` requests (the published example: two positions, the
venue's parameters) and for ``/margin`` of a 20-option book.

The server is ``pymargin serve`` in its own process (one uvicorn worker); the load generator is
this process, ``--clients`` threads each with its own HTTP connection, sending requests back
to back. On this 2-core machine both share the two cores, so the figures are a floor for
a server with cores of its own.

    python benchmarks/serve_load.py --requests 2000 --clients 4
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load(url: str, body: dict, n: int, clients: int) -> tuple[float, np.ndarray]:
    per = n // clients

    def one(_: int) -> list[float]:
        out = []
        with httpx.Client(timeout=30) as h:
            for _ in range(per):
                t0 = time.perf_counter()
                r = h.post(url, json=body)
                out.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"HTTP {r.status_code}: {r.text[:200]}")
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = np.concatenate([np.array(x) for x in pool.map(one, range(clients))])
    return (per * clients) / (time.perf_counter() - t0), lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pymargin",
            "serve",
            "--simulate",
            str(EXAMPLE),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=Path.home(),  # outside the source tree: the installed package runs
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        request = json.loads(EXAMPLE.read_text())["request"]
        book = {"BTC-PERPETUAL": 0.3, "BTC-28JUN24": -0.1}
        cases = {
            "pme/simulate (published example)": (f"{base}/api/v2", request),
            "/margin (2 futures, S:PM)": (f"{base}/margin", {"positions": book}),
        }
        run_load(f"{base}/api/v2", request, 200, args.clients)  # warm up
        for name, (url, body) in cases.items():
            rps, lat = run_load(url, body, args.requests, args.clients)
            p50, p99 = np.percentile(lat, [50, 99]) * 1e3
            print(
                f"{name}: {rps:,.0f} requests/s with {args.clients} clients; latency p50 "
                f"{p50:.2f} ms, p99 {p99:.2f} ms ({len(lat)} requests)"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
