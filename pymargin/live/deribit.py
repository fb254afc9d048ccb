# SPDX-License-Identifier: Apache-2.0
"""A Deribit API v2 client (JSON-RPC over HTTP, httpx): the public market data pymargin
needs and, with API keys, the account's positions, balances and ``private/pme/simulate``.

Requests are paced per method (Deribit's limits are credit based; ``pme/simulate`` allows
about one call a second) and retried with exponential backoff on what is transient: a
connection that fails or drops, HTTP 429 and 5xx, and JSON-RPC error 10028
(``too_many_requests``), honouring ``Retry-After``. Everything the client waits for or
retries is counted in :attr:`DeribitClient.stats` and passed to ``log``. Any other JSON-RPC
error, or a body that is not a JSON-RPC response, raises :class:`VenueError` at once, with the
method, the code and the venue's message.

The build and test machines have no internet access: the client is tested against a local
HTTP server serving payloads in Deribit's documented formats (tests/live), not the venue.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import InputTypeError, InvalidInputError, PymarginError
from ..extras import optional

__all__ = ["DERIBIT_MAINNET", "ClientStats", "DeribitClient", "VenueError"]

DERIBIT_MAINNET = "https://www.deribit.com/api/v2"
DERIBIT_TESTNET = "https://test.deribit.com/api/v2"
_RETRY_CODES = {10028}  # too_many_requests
# seconds between calls of a method (the default for the others: 1 / max_rate)
_METHOD_SPACING = {"private/pme/simulate": 1.0}


class VenueError(PymarginError):
    """The venue refused a request or answered with something that is not a JSON-RPC
    response. ``code`` is the JSON-RPC error code (or the HTTP status), ``method`` the call."""

    def __init__(self, method: str, reason: str, code: int | None = None) -> None:
        super().__init__(f"{method}: {reason}" + (f" (code {code})" if code is not None else ""))
        self.method = method
        self.code = code


@dataclass
class ClientStats:
    """What the client did: requests sent, retries, rate-limit answers, seconds waited."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    events: list[str] = field(default_factory=list)


class DeribitClient:
    """Deribit API v2 over HTTP. ``client_id`` / ``client_secret`` (default: the environment's
    ``DERIBIT_CLIENT_ID`` / ``DERIBIT_CLIENT_SECRET``) unlock the private methods.
    ``max_rate``: requests per second at most; ``retries``: attempts after the first for a
    transient failure; ``backoff``: the first wait, doubled each retry (with jitter);
    ``transport``: an httpx transport (tests); ``sleep`` / ``clock``: injectable for tests."""

    def __init__(
        self,
        base_url: str = DERIBIT_MAINNET,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        max_rate: float = 5.0,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 10.0,
        transport: Any = None,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        httpx = optional("httpx", "live")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"not an http(s) URL: {base_url!r}", "base_url")
        for name, v in (("max_rate", max_rate), ("backoff", backoff), ("timeout", timeout)):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not (math.isfinite(v) and v > 0)
            ):
                raise InvalidInputError("must be a finite number > 0", name)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
            raise InvalidInputError("must be an integer in [0, 20]", "retries")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id if client_id is not None else os.environ.get("DERIBIT_CLIENT_ID")
        self.client_secret = (
            client_secret if client_secret is not None else os.environ.get("DERIBIT_CLIENT_SECRET")
        )
        self.max_rate = float(max_rate)
        self.retries = retries
        self.backoff = float(backoff)
        self.stats = ClientStats()
        self._log = log
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}
        self._token: str | None = None
        self._token_expiry = 0.0
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._httpx = httpx

    def __enter__(self) -> DeribitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        self.stats.events.append(text)
        if self._log is not None:
            self._log(text)

    def _pace(self, method: str) -> None:
        """Waits until ``method`` may be called again (per-method spacing, global rate)."""
        spacing = max(1.0 / self.max_rate, _METHOD_SPACING.get(method, 0.0))
        now = self._clock()
        ready = max(
            self._last.get(method, -math.inf) + spacing,
            self._last.get("", -math.inf) + 1.0 / self.max_rate,
        )
        if ready > now:
            self.stats.waited_seconds += ready - now
            self._sleep(ready - now)
        stamp = self._clock()
        self._last[method] = stamp
        self._last[""] = stamp

    def _wait_before_retry(
        self, attempt: int, method: str, why: str, retry_after: float | None
    ) -> None:
        delay = retry_after if retry_after is not None else self.backoff * 2.0**attempt
        delay *= 1.0 + 0.1 * random.random()  # jitter: retrying clients do not move in step
        self.stats.retries += 1
        self.stats.waited_seconds += delay
        self._event(f"{method}: {why}; retry {attempt + 1}/{self.retries} in {delay:.2f} s")
        self._sleep(delay)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The ``result`` of JSON-RPC ``method`` with ``params`` (see the module docstring for
        the retry and error rules)."""
        if not isinstance(method, str) or not method.startswith(("public/", "private/")):
            raise InvalidInputError(f"not a Deribit method: {method!r}", "method")
        if params is not None and not isinstance(params, dict):
            raise InputTypeError("must be a mapping", "params")
        headers = {}
        if method.startswith("private/"):
            headers["Authorization"] = f"Bearer {self._access_token()}"
        query = {
            k: (json.dumps(v) if isinstance(v, (dict, list, bool)) else v)
            for k, v in (params or {}).items()
        }
        for attempt in range(self.retries + 1):
            self._pace(method)
            self.stats.requests += 1
            try:
                resp = self._http.get(f"{self.base_url}/{method}", params=query, headers=headers)
            except self._httpx.TransportError as e:
                if attempt == self.retries:
                    raise VenueError(
                        method, f"no answer after {attempt + 1} attempts: {type(e).__name__}"
                    ) from None
                self._wait_before_retry(
                    attempt, method, f"connection failed ({type(e).__name__})", None
                )
                continue
            retry_after = _retry_after(resp.headers.get("Retry-After"))
            body = _json_or_none(resp.content)
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            transient = resp.status_code == 429 or resp.status_code >= 500 or code in _RETRY_CODES
            if transient:
                if resp.status_code == 429 or code in _RETRY_CODES:
                    self.stats.rate_limited += 1
                if attempt == self.retries:
                    raise VenueError(
                        method,
                        f"still refused after {attempt + 1} attempts",
                        code if code is not None else resp.status_code,
                    )
                why = (
                    "rate limited"
                    if resp.status_code == 429 or code in _RETRY_CODES
                    else f"HTTP {resp.status_code}"
                )
                self._wait_before_retry(attempt, method, why, retry_after)
                continue
            if isinstance(error, dict):
                msg = error.get("message")
                data = error.get("data")
                raise VenueError(method, f"{msg}" + (f": {data}" if data else ""), code)
            if not isinstance(body, dict) or "result" not in body:
                raise VenueError(method, f"not a JSON-RPC response (HTTP {resp.status_code})")
            return body["result"]
        raise AssertionError("unreachable")  # pragma: no cover

    def _access_token(self) -> str:
        if self._token is not None and self._clock() < self._token_expiry:
            return self._token
        if not (self.client_id and self.client_secret):
            raise InvalidInputError(
                "private methods need API keys: set DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET "
                "(or give client_id= and client_secret=)",
                "client_id",
            )
        res = self.call(
            "public/auth",
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        if not isinstance(res, dict) or not isinstance(res.get("access_token"), str):
            raise VenueError("public/auth", "no access_token in the answer")
        expires = res.get("expires_in", 0)
        ttl = (
            float(expires)
            if isinstance(expires, (int, float)) and not isinstance(expires, bool)
            else 0.0
        )
        self._token = res["access_token"]
        self._token_expiry = self._clock() + max(ttl - 30.0, 0.0)  # renew before it lapses
        return self._token

    # -- the methods pymargin uses --------------------------------------------------------

    def book_summary(self, currency: str, kind: str | None = None) -> Any:
        """``public/get_book_summary_by_currency``: every instrument's mark, mark IV, underlying
        and delivery prices (``kind``: option, future, spot, ...)."""
        params: dict[str, Any] = {"currency": _ccy(currency)}
        if kind is not None:
            params["kind"] = kind
        return self.call("public/get_book_summary_by_currency", params)

    def index_price(self, index_name: str) -> float:
        """``public/get_index_price`` of ``btc_usd``, ``eth_usd``, ..."""
        res = self.call("public/get_index_price", {"index_name": index_name.lower()})
        price = res.get("index_price") if isinstance(res, dict) else None
        if (
            isinstance(price, bool)
            or not isinstance(price, (int, float))
            or not (math.isfinite(price) and price > 0)
        ):
            raise VenueError("public/get_index_price", f"no valid index_price for {index_name}")
        return float(price)

    def instruments(self, currency: str, kind: str | None = None) -> Any:
        """``public/get_instruments`` (contract sizes, minimum amounts, expiries)."""
        params: dict[str, Any] = {"currency": _ccy(currency)}
        if kind is not None:
            params["kind"] = kind
        return self.call("public/get_instruments", params)

    def ticker(self, instrument_name: str) -> Any:
        """``public/ticker`` of one instrument."""
        return self.call("public/ticker", {"instrument_name": instrument_name})

    def positions(self, currency: str) -> Any:
        """``private/get_positions`` (API keys)."""
        return self.call("private/get_positions", {"currency": _ccy(currency)})

    def account_summary(self, currency: str) -> Any:
        """``private/get_account_summary`` (API keys)."""
        return self.call("private/get_account_summary", {"currency": _ccy(currency)})

    def pme_simulate(
        self, currency: str, simulated_positions: dict[str, float] | None = None
    ) -> Any:
        """``private/pme/simulate``: the venue's own portfolio margin of the account (or of
        ``simulated_positions`` added to it), with its parameters and risk vectors."""
        params: dict[str, Any] = {"currency": _ccy(currency)}
        if simulated_positions is not None:
            params["simulated_positions"] = dict(simulated_positions)
        return self.call("private/pme/simulate", params)


def _ccy(currency: str) -> str:
    if not isinstance(currency, str) or not currency.isalnum():
        raise InvalidInputError(f"not a currency: {currency!r}", "currency")
    return currency.upper()


def _retry_after(value: str | None) -> float | None:
    try:
        v = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return v if math.isfinite(v) and 0 <= v <= 300 else None


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None
