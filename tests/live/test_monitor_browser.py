"""The margin monitor in Debian's headless Chromium (selenium + chromium-driver): the page
loads and shows the published pme/simulate example's margin, a what-if order changes the
numbers, and a market update moves them (server-sent events). Skipped where no Chromium or
chromedriver is installed, unless PYMARGIN_REQUIRE_CHROMIUM=1 (CI)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads(
    (ROOT / "tests" / "data" / "deribit_pme_simulate_btc_example.json").read_text()
)


def _browser_or_skip():
    need = os.environ.get("PYMARGIN_REQUIRE_CHROMIUM") == "1"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        if need:
            raise
        pytest.skip("selenium is not installed")
    if not (chromium and driver):
        if need:
            pytest.fail("Chromium and chromedriver are required here (PYMARGIN_REQUIRE_CHROMIUM=1)")
        pytest.skip("no Chromium / chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver), options=opts)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(fn, timeout=20.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            v = fn()
        except Exception:  # the page is still drawing
            v = None
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("the page did not get there in time")


def test_monitor_page_shows_the_margin_and_follows_orders_and_marks():
    pytest.importorskip("fastapi")
    uvicorn = pytest.importorskip("uvicorn")
    import httpx

    from pymargin.live.service import ServiceState, create_app

    driver = _browser_or_skip()
    state = ServiceState.from_simulate(EXAMPLE["response"])
    state.accounts["default"].collateral = {"BTC": 0.2}
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started)
    base = f"http://127.0.0.1:{port}"
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        driver.get(base + "/")
        published = EXAMPLE["response"]["result"]["margins"]["btc"]["initial_margin"]
        im = _wait(
            lambda: driver.find_element(By.CSS_SELECTOR, 'tr[data-account="default"] td.im').text
        )
        assert im == f"{published:.9g}"  # the published example's margin, on the page
        assert "BTC -16% vol unchanged" in _wait(lambda: driver.find_element(By.ID, "worst").text)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#matrix td")) >= 27
        equity_before = driver.find_element(
            By.CSS_SELECTOR, 'tr[data-account="default"] td.equity'
        ).text
        move_before = driver.find_element(
            By.CSS_SELECTOR, 'tr[data-account="default"] td.move'
        ).text
        # a what-if order changes the numbers
        Select(driver.find_element(By.ID, "side")).select_by_visible_text("sell")
        amount = driver.find_element(By.ID, "amount")
        amount.clear()
        amount.send_keys("1")
        driver.find_element(By.ID, "check").click()
        result = _wait(lambda: driver.find_element(By.ID, "check-result").text)
        im_before, im_after = result.split("IM ")[1].split(" BTC")[0].split(" -> ")
        assert float(im_after) != float(im_before)
        # a market update moves them, pushed to the page
        httpx.post(base + "/market", json={"shift": {"BTC_USD": -0.2}}).raise_for_status()
        _wait(lambda: driver.find_element(By.ID, "version").text == "1")
        equity_after = _wait(
            lambda: (
                (
                    e := driver.find_element(
                        By.CSS_SELECTOR, 'tr[data-account="default"] td.equity'
                    ).text
                )
                != equity_before
                and e
            )
        )
        assert float(equity_after) < float(equity_before)  # the long perpetual lost
        assert (
            driver.find_element(By.CSS_SELECTOR, 'tr[data-account="default"] td.move').text
            != move_before
        )
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(timeout=10)
