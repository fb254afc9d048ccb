# SPDX-License-Identifier: Apache-2.0
"""The pre-trade margin engine from Python: the C++ engine (cpp/include/pymargin/engine/
pretrade.hpp) behind names, enums and market snapshots, for research loops and what-if
questions ("which of these candidate orders can the account carry?").

The engine keeps an account's margin incrementally under one of the core's scenario models: a
check adds one scaled risk row to the account's scenario vector and re-takes the worst case,
with no revaluation. ``model=``:

* ``MarginModel.DERIBIT_PM`` (the default): Deribit segregated portfolio margin, the model of
  :func:`pymargin.models.deribit_pm_margin`; ``params`` a DeribitPMParams.
* ``MarginModel.DERIBIT_XPM``: Deribit cross portfolio margin, the model of
  :func:`pymargin.models.deribit_xpm_margin`: the account is one margin group in USD, every
  currency's equity counted (a positive one less its haircut) and a coin's equity shocked with
  its price; ``params`` a DeribitPMParams covering every settlement and collateral currency.
  The engine's currencies are the settlement currencies and the coins of its pairs; the coin
  equity it shocks is the balance plus the cash flows of fills plus the positions' mark value
  (the exact USD change of a coin account), where ``deribit_xpm_margin`` takes balances.
* ``MarginModel.PARADEX_PM``: Paradex SCAN-24 and the minimum delta requirement (the model of
  :func:`pymargin.models.paradex_pm_margin`); ``params`` a parameter version (str) or None.
* ``MarginModel.FINRA_PM``: the FINRA/Cboe grid with the per-contract minimum (the model of
  :func:`pymargin.models.finra_pm_margin`); ``params`` a dict of its keyword arguments.
* ``MarginModel.SCENARIO_GRID``: any grid venue from its parameter file
  (:mod:`pymargin.models.grid_file`); ``params`` the file, its document or a GridModel.
* ``MarginModel.DERIBIT_STANDARD``: Deribit standard margin, each position its own IM and
  MM (the model of :func:`pymargin.models.deribit_standard_margin`); ``params`` a
  DeribitStandardParams or None. Options take the market's mark price where it has one.
* ``MarginModel.DELTA_MARGIN``: the Greek-netting model (the model of
  :func:`pymargin.models.delta_margin.delta_margin`), USD-settled instruments; ``params`` a
  DeltaMarginParams or None.
* ``MarginModel.SPAN16``: SPAN (the model of :func:`pymargin.models.span.span_margin`),
  USD-settled instruments; ``params`` a SpanParams.
* ``MarginModel.DERIVE_PM``: Derive portfolio margin (the model of
  :func:`pymargin.models.derive_market.derive_pm_margin`), USDC-settled options and
  perpetuals, each underlying of a margin group a Derive portfolio of its own; ``params`` a
  DerivePMParams, a shipped version (str) or None (the version in force). The market is taken
  as pm.margin takes it (each expiry's forward and rate from its first option, whole seconds
  to expiry, feed confidences 1).

The grid models margin USD-settled (linear) instruments, one margin group per settlement
currency, a charge per underlying, summed.

Amounts are in the venue's units (Deribit's ``amount``): USD notional for inverse futures and
perpetuals, coins of the underlying for options and linear instruments. Prices in fills: the
option premium per unit in the settlement currency (coin for inverse options), the futures
price in USD.

Fail closed: every acceptance is a positive test on finite values; fills, orders, deposits,
withdrawals and market updates that would make any balance or margin non-finite are refused
before anything changes (``Reason.NON_FINITE_STATE``). Fills complete an order when they add
up to its amount within a relative 1e-9 (0.1 + 0.2 completes an order of 0.3). Snapshots are
integrity-checked (checksums), not authenticated: restore re-validates every count and value.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import _core
from ..exceptions import InputTypeError, InvalidInputError, PymarginError
from ..market.market import Market
from ..models.registry import MarginModel
from .engine_setup import EngineSetup, check_names_match, name_tables, unique_in_order

__all__ = [
    "ENGINE_MODELS",
    "CheckBatch",
    "CheckResult",
    "EngineMargin",
    "OrderRejected",
    "PreTradeEngine",
    "Reason",
    "Side",
    "book_at_marks",
    "engine_amount",
    "mark_fill_price",
]


def engine_amount(market: Market, name: str, coins: float) -> float:
    """An amount in coins in the engine's unit: USD notional (at the forward) for inverse
    futures and perpetuals, Deribit's unit; coins for everything else."""
    from ..market.instruments import InstrumentKind, Settlement, parse_instrument

    inst = parse_instrument(name)
    if inst.kind is not InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE:
        return coins * market.underlying_price(inst)
    return coins


def mark_fill_price(market: Market, name: str) -> float:
    """The price an existing position is booked at: futures at their forward, options at
    their mark (at least 1e-8, the engine's smallest premium)."""
    from ..market.instruments import InstrumentKind, parse_instrument

    inst = parse_instrument(name)
    if inst.kind is not InstrumentKind.OPTION:
        return float(market.underlying_price(inst))
    mark = market.marks.get(name)
    return max((mark.mark_price if mark else None) or 1e-8, 1e-8)


def book_at_marks(
    engine: PreTradeEngine, account: int, positions: dict[str, float], market: Market
) -> None:
    """Books ``positions`` (coins, signed) into ``account`` at the market's marks."""
    for name, size in positions.items():
        engine.fill(
            account,
            name,
            Side.BUY if size > 0 else Side.SELL,
            engine_amount(market, name, abs(size)),
            mark_fill_price(market, name),
        )


# The engine's enums are the C++ engine's own (pymargin/engine/pretrade.hpp), bound as Python
# IntEnums by the extension: BUY / SELL, and why a request was refused (ACCEPTED when not).
Side = _core.Side
Reason = _core.Reason

_REASONS = tuple(Reason)  # by code: indexing is cheaper than the enum call on the check path


class OrderRejected(PymarginError):
    """A state change the engine refused; ``rejection`` (a :class:`Reason`) says why."""

    def __init__(self, rejection: Reason, what: str) -> None:
        super().__init__(rejection.name.lower().replace("_", " "), what)
        self.rejection = rejection


class CheckResult(NamedTuple):
    """The outcome of a pre-trade check, for the order's margin group (settlement currency);
    money in that currency's units (under X:PM the account's one group, ``usd``). A named
    tuple: immutable, and cheap to build on the check path (a frozen dataclass cost more than
    the C++ check itself)."""

    accept: bool
    reason: Reason
    currency: str
    im_before: float
    im_after: float
    mm_before: float
    mm_after: float
    available_after: float


@dataclass(frozen=True)
class CheckBatch:
    """Independent checks of many candidate orders against the same account state."""

    accept: np.ndarray
    reason: np.ndarray  # Reason values (uint8)
    im_after: np.ndarray
    available_after: np.ndarray


@dataclass(frozen=True)
class EngineMargin:
    """One account's margin group: equity, IM (open orders counted as the worse side
    filling), MM, available funds; worst case and roll shock of the positions."""

    equity: float
    initial_margin: float
    maintenance_margin: float
    available_funds: float
    worst_case: float
    roll_shock: float
    delta_shock_exceeded: bool


_MAGIC = b"PMPYENG1"
MAX_ACCOUNTS = 2**26  # the core's capacity limit (kMaxAccountsLimit)


def _amount(x: Any, field: str) -> float:
    """A number as the core takes it: a typed error for strings, bools and the like."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise InputTypeError(f"must be a number, got {type(x).__name__}", field)
    try:
        return float(x)
    except OverflowError:
        raise InvalidInputError("too large for a float", field) from None


# The models the engine runs (kept for callers that list them): every pymargin.MarginModel.
ENGINE_MODELS = tuple(MarginModel)


class PreTradeEngine(EngineSetup):
    """Pre-trade checks for ``instruments`` (names) valued in ``market`` under ``model`` (see
    the module docstring) with ``params`` (default: the newest shipped parameter set covering
    them, where the model has shipped sets).

    ``check`` costs O(scenarios) in C++ (0.1-0.2 us); from Python a check takes 0.5-0.8 us at
    the median (benchmarks/pretrade_latency.py), ``check_many`` about 0.3 us per order."""

    def __init__(
        self,
        market: Market,
        instruments: Sequence[str],
        params: Any = None,
        *,
        model: MarginModel = MarginModel.DERIBIT_PM,
        max_accounts: int = 1024,
    ) -> None:
        names = list(instruments)
        if not names:
            raise InvalidInputError("no instruments", "instruments")
        if len(set(names)) != len(names):
            raise InvalidInputError("instrument names must be unique", "instruments")
        if isinstance(max_accounts, bool) or not isinstance(max_accounts, int):
            raise InputTypeError("must be an integer", "max_accounts")
        if not 1 <= max_accounts <= MAX_ACCOUNTS:
            raise InvalidInputError(f"must be in [1, {MAX_ACCOUNTS}]", "max_accounts")
        if not isinstance(model, MarginModel):
            raise InputTypeError("use a pymargin.MarginModel member", "model")
        table = market.table
        rows = table.rows(names)
        pair_codes = table.column("pair")[rows]
        ccy_codes = table.column("settlement_currency")[rows]
        pairs = unique_in_order(table.codes[int(c)] for c in pair_codes)
        currencies = unique_in_order(table.codes[int(c)] for c in ccy_codes)
        self._model = model
        self._names = names
        self._id = {n: i for i, n in enumerate(names)}
        self._pairs = pairs
        self._currencies = currencies
        if model is MarginModel.DERIBIT_STANDARD:
            self._init_standard(market, rows, params, max_accounts)
        elif model is MarginModel.DELTA_MARGIN:
            self._init_sensitivity(market, rows, params, max_accounts)
        elif model is MarginModel.SPAN16:
            self._init_span(market, rows, params, max_accounts)
        elif model is MarginModel.DERIVE_PM:
            self._init_derive(market, rows, params, max_accounts)
        elif model not in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_XPM):
            self._init_grid(market, rows, params, max_accounts)
        else:
            self._init_deribit(market, rows, params, max_accounts)
        self._label_results()

    def _label_results(self) -> None:
        """The core builds each check's CheckResult itself (one allocation, no Python frame on
        the check path): its type, the reasons by code and each margin group's name."""
        groups = (
            ("usd",) * len(self._currencies)
            if self._model is MarginModel.DERIBIT_XPM
            else tuple(self._currencies)
        )
        self._core.set_result_labels(CheckResult, _REASONS, groups)
        # The hot path: a C function bound to this engine takes the common argument types
        # (int account, name or handle, a Side, a float) with no Python frame, and hands
        # anything else to the checked path below, which raises the typed error.
        self.__dict__["check"] = self._core.fast_check(self._id, Side, self._check)

    @property
    def model(self) -> MarginModel:
        return self._model

    # --- construction helpers --------------------------------------------------------------

    def _instrument(self, name: str, field: str = "instrument") -> int:
        i = self._id.get(name)
        if i is None:
            raise InvalidInputError(f"{name!r} is not in the engine's universe", field)
        return i

    def _currency(self, currency: str) -> int:
        if not isinstance(currency, str):
            raise InputTypeError("must be a currency name", "currency")
        c = currency.lower()
        if c not in self._currencies:
            raise InvalidInputError(
                f"{currency!r} is not a margin group of the engine ({self._currencies})",
                "currency",
            )
        return self._currencies.index(c)

    @staticmethod
    def _side(side: Side) -> int:
        if not isinstance(side, Side):
            raise InvalidInputError("use pymargin.accounts.engine.Side", "side")
        return int(side)

    # --- accounts and orders -----------------------------------------------------------------
    @property
    def instruments(self) -> list[str]:
        return list(self._names)

    @property
    def currencies(self) -> list[str]:
        return list(self._currencies)

    @property
    def scenarios(self) -> int:
        return int(self._core.scenarios)

    def add_account(self, collateral: dict[str, float] | None = None) -> int:
        """A new account (its id), with optional initial collateral per currency."""
        deposits: list[tuple[int, float]] = []
        for row, (ccy, v) in enumerate((collateral or {}).items()):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
                raise InputTypeError("must be a number", "collateral", row)
            if not (math.isfinite(v) and v >= 0):
                raise InvalidInputError("must be finite and >= 0", "collateral", row)
            deposits.append((self._currency(ccy), float(v)))
        account = int(self._core.add_account())
        for code, amount in deposits:
            if amount > 0:
                self._apply(self._core.deposit(account, code, amount), "deposit")
        return account

    def check(self, account: int, instrument: str | int, side: Side, amount: float) -> CheckResult:
        """Could ``account`` carry this order? Nothing changes. ``instrument``: a name or a
        handle (:meth:`handle`). (Each engine replaces this method with a C function that
        does the same for well-typed arguments.)"""
        return self._check(account, instrument, side, amount)

    def _check(self, account: Any, instrument: Any, side: Any, amount: Any) -> CheckResult:
        """The checked path: every argument validated, a typed error naming the field. An
        account or handle of the right type that the engine does not have is the result's
        reason (UNKNOWN_ACCOUNT, UNKNOWN_INSTRUMENT), as on the fast path."""
        if isinstance(account, bool) or not isinstance(account, (int, np.integer)):
            raise InputTypeError("must be an integer", "account")
        if not -(2**63) <= account < 2**63:
            raise InvalidInputError(f"no account {account}", "account")
        acct = int(account)
        if isinstance(instrument, (int, np.integer)) and not isinstance(instrument, bool):
            i = int(instrument) if 0 <= instrument < 2**31 else -1
        elif isinstance(instrument, str):
            i = self._instrument(instrument)
        else:
            raise InputTypeError("must be an instrument name or handle", "instrument")
        return self._core.check(acct, i, self._side(side), _amount(amount, "amount"))

    def check_many(
        self,
        account: int,
        instruments: Sequence[str] | np.ndarray,
        sides: Sequence[Side] | np.ndarray,
        amounts: Sequence[float] | np.ndarray,
    ) -> CheckBatch:
        """Each candidate checked on its own against the account as it is: one C++ call, the
        account locked once and each margin group's state computed once. ``instruments``:
        names, or an integer array of handles (:meth:`handles`); ``sides``: Side members, or a
        uint8 array of their values; ``amounts``: numbers."""
        account = self._account(account)
        if isinstance(instruments, str) or isinstance(sides, Side):
            raise InputTypeError("give sequences, one entry per candidate", "instruments")
        ids = self._handles_of(instruments)
        sd = self._sides_of(sides)
        try:
            am = np.asarray(amounts, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputTypeError("must be a sequence of numbers", "amounts") from None
        if am.ndim != 1:
            raise InputTypeError("must be a sequence of numbers, one per candidate", "amounts")
        am = np.ascontiguousarray(am)
        if not (len(ids) == len(sd) == len(am)):
            raise InvalidInputError("instruments, sides and amounts differ in length", "amounts")
        out = self._core.check_many(account, ids, sd, am)
        return CheckBatch(out["accept"], out["reason"], out["im_after"], out["available_after"])

    def handle(self, instrument: str) -> int:
        """The engine's integer handle of an instrument: ``check`` and ``check_many`` take it
        in place of the name (no name lookup per call)."""
        return self._instrument(instrument)

    def handles(self, instruments: Sequence[str]) -> np.ndarray:
        """Handles of many instruments (int32), for ``check_many``."""
        return self._handles_of(list(instruments))

    def _handles_of(self, instruments: Sequence[str] | np.ndarray) -> np.ndarray:
        n_inst = len(self._names)
        if isinstance(instruments, np.ndarray) and instruments.dtype.kind in "iu":
            if instruments.ndim != 1:
                raise InputTypeError("must be 1-D", "instruments")
            if instruments.size and (instruments.min() < 0 or instruments.max() >= n_inst):
                bad = (instruments < 0) | (instruments >= n_inst)
                raise InvalidInputError(
                    f"not a handle of this engine (0 .. {n_inst - 1})",
                    "instruments",
                    int(np.argmax(bad)),
                )
            return np.ascontiguousarray(instruments, dtype=np.int32)
        try:
            return np.fromiter(
                map(self._id.__getitem__, instruments), np.int32, count=len(instruments)
            )
        except (KeyError, TypeError):  # the slow path names the first bad one
            for row, name in enumerate(instruments):
                if not isinstance(name, str):
                    raise InputTypeError("must be an instrument name", "instruments", row) from None
                if name not in self._id:
                    raise InvalidInputError(
                        f"{name!r} is not in the engine's universe", "instruments", row
                    ) from None
            raise

    @staticmethod
    def _sides_of(sides: Sequence[Side] | np.ndarray) -> np.ndarray:
        if isinstance(sides, np.ndarray):
            if sides.dtype != np.uint8 or sides.ndim != 1:
                raise InputTypeError("a uint8 array of Side values, or Side members", "sides")
            if sides.size and sides.max() > 1:
                raise InvalidInputError(
                    "Side values are 0 (buy) and 1 (sell)", "sides", int(np.argmax(sides > 1))
                )
            return np.ascontiguousarray(sides)
        kinds = set(map(type, sides))
        if kinds - {Side}:
            row = next(k for k, x in enumerate(sides) if x.__class__ is not Side)
            raise InputTypeError("use pymargin.Side members", "sides", row)
        return np.fromiter(sides, np.uint8, count=len(sides))

    def _apply(self, code: int, what: str) -> None:
        if code != 0:
            raise OrderRejected(Reason(code), what)

    @staticmethod
    def _order_id(order_id: Any) -> int:
        if isinstance(order_id, bool) or not isinstance(order_id, (int, np.integer)):
            raise InputTypeError("must be an integer", "order_id")
        if not 0 <= int(order_id) < 2**63:
            raise InvalidInputError("must be in [0, 2**63)", "order_id")
        return int(order_id)

    def _account(self, account: Any) -> int:
        if isinstance(account, bool) or not isinstance(account, (int, np.integer)):
            raise InputTypeError("must be an integer", "account")
        if not 0 <= int(account) < self._core.accounts:
            raise InvalidInputError(f"no account {account}", "account")
        return int(account)

    def add_order(
        self, account: int, order_id: int, instrument: str, side: Side, amount: float
    ) -> None:
        """Rests an open order (after an accepted check)."""
        order_id = self._order_id(order_id)
        i = self._instrument(instrument)
        code = self._core.add_order(
            self._account(account), order_id, i, self._side(side), _amount(amount, "amount")
        )
        self._apply(code, "order")

    def cancel_order(self, account: int, order_id: int) -> None:
        order_id = self._order_id(order_id)
        self._apply(self._core.cancel_order(self._account(account), order_id), "cancel")

    def fill(
        self,
        account: int,
        instrument: str,
        side: Side,
        amount: float,
        price: float,
        *,
        order_id: int | None = None,
    ) -> None:
        """A trade: the position changes by ``amount`` on ``side`` at ``price``; with
        ``order_id`` the resting order is reduced by the fill."""
        i = self._instrument(instrument)
        oid = -1 if order_id is None else self._order_id(order_id)
        code = self._core.apply_fill(
            self._account(account),
            oid,
            i,
            self._side(side),
            _amount(amount, "amount"),
            _amount(price, "price"),
        )
        self._apply(code, "fill")

    def deposit(self, account: int, currency: str, amount: float) -> None:
        code = self._core.deposit(
            self._account(account), self._currency(currency), _amount(amount, "amount")
        )
        self._apply(code, "deposit")

    def withdraw(self, account: int, currency: str, amount: float) -> None:
        """Refused (OrderRejected, INSUFFICIENT_FUNDS) when it would leave available funds < 0."""
        code = self._core.withdraw(
            self._account(account), self._currency(currency), _amount(amount, "amount")
        )
        self._apply(code, "withdraw")

    def on_market_update(self, market: Market) -> None:
        """New marks and vols: risk arrays recomputed once per instrument, every account
        re-aggregated. Validated first; on error nothing changes."""
        marks = self._marks(market) if self._model is MarginModel.DERIBIT_STANDARD else None
        forward, vol, time, rate, index = self._market_columns(market)
        self._core.on_market_update(forward, vol, time, rate, index, marks)

    def margin(self, account: int, currency: str | None = None) -> EngineMargin:
        """The account's margin group of ``currency`` (money in its units); under X:PM the
        account is one USD group and ``currency`` may be left out (any currency names it)."""
        return EngineMargin(*self._core.margin(self._account(account), self._group(currency)))

    def margin_from_scratch(self, account: int, currency: str | None = None) -> EngineMargin:
        """The same recomputed from the account's positions and orders (the reference)."""
        return EngineMargin(
            *self._core.margin_from_scratch(self._account(account), self._group(currency))
        )

    def _group(self, currency: str | None) -> int:
        if currency is not None:
            return self._currency(currency)
        if self._model is MarginModel.DERIBIT_XPM or len(self._currencies) == 1:
            return 0
        raise InvalidInputError(f"name the margin group: one of {self._currencies}", "currency")

    # --- snapshots ----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """Everything needed to resume: the engine's own versioned, checksummed snapshot and
        the name tables of this wrapper (with their own CRC-32)."""
        meta = json.dumps(
            {
                "instruments": self._names,
                "pairs": self._pairs,
                "currencies": self._currencies,
                "model": self._model.name,
            }
        ).encode()
        core = bytes(self._core.snapshot())
        return _MAGIC + struct.pack("<II", len(meta), zlib.crc32(meta)) + meta + core

    @classmethod
    def restore(cls, data: bytes) -> PreTradeEngine:
        """An engine from :meth:`snapshot` bytes; damaged or foreign bytes raise
        InvalidInputError (field ``snapshot``) and build nothing. The checksums catch
        accidents, not intent: the core re-validates every count and value, and the name
        tables are checked by content (each name must parse to the instrument the engine
        state holds at its row)."""
        if not isinstance(data, (bytes, bytearray)) or data[:8] != _MAGIC or len(data) < 16:
            raise InvalidInputError("not a pymargin engine snapshot", "snapshot")
        n, crc = struct.unpack("<II", data[8:16])
        meta = bytes(data[16 : 16 + n])
        if len(meta) != n or zlib.crc32(meta) != crc:
            raise InvalidInputError("checksum mismatch in the name tables", "snapshot")
        try:
            names = json.loads(meta.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise InvalidInputError("the name tables are not valid JSON", "snapshot") from None
        core = _core.PreTradeEngine.restore(bytes(data[16 + n :]))
        instruments, pairs, currencies = name_tables(names)
        check_names_match(core, instruments, pairs, currencies)
        model_name = names.get("model", MarginModel.DERIBIT_PM.name)
        model = MarginModel.__members__.get(model_name) if isinstance(model_name, str) else None
        core_model = {
            0: MarginModel.DERIBIT_PM,
            2: MarginModel.DERIBIT_STANDARD,
            3: MarginModel.DELTA_MARGIN,
            4: MarginModel.SPAN16,
            5: MarginModel.DERIBIT_XPM,
            6: MarginModel.DERIVE_PM,
        }.get(core.model)
        grid_models = (MarginModel.PARADEX_PM, MarginModel.FINRA_PM, MarginModel.SCENARIO_GRID)
        grid = core.model == 1 and model in grid_models
        if not (grid or (core_model is not None and model is core_model)):
            raise InvalidInputError("the model named does not match the engine state", "snapshot")
        assert model is not None  # checked above
        self = cls.__new__(cls)
        self._model = model
        self._names = instruments
        self._id = {nm: i for i, nm in enumerate(self._names)}
        self._pairs = pairs
        self._currencies = currencies
        self._core = core
        self._label_results()
        return self
