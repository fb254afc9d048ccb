# SPDX-License-Identifier: Apache-2.0
"""Batch margin: every account of a venue margined at once (Deribit S:PM of one settlement
currency), risk arrays computed once per instrument, accounts held sparsely (CSR), the
per-account work done by the C++ kernel (``cpp/include/pymargin/kernel/batch_margin.hpp``),
multi-threaded with the GIL released, with no accounts x scenarios matrix in memory.

Positions are in coins of the underlying (as :class:`pymargin.Portfolio`); collateral in the
settlement currency. Equity = collateral + the mark value of the options (futures' P&L is taken
as settled into the collateral, as the venue does daily).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from .._validate import float_array, index_array
from ..exceptions import FileInputError, InputTypeError, InvalidInputError, PymarginError
from ..extras import optional
from ..files import csv_table, open_file
from ..market.market import Market
from ..pricing import threads_argument
from .venue_models import short_floor_addons
from .venue_risk import venue_risk, venue_risk_for
from .venue_types import SensitivityVenueRisk, SpanVenueRisk, StandardVenueRisk, VenueRisk

__all__ = [
    "BatchResult",
    "SensitivityVenueRisk",
    "SpanVenueRisk",
    "StandardVenueRisk",
    "VenueInput",
    "VenueRisk",
    "batch_margin",
    "batch_margin_csr",
    "venue_input",
    "venue_risk",
    "venue_risk_for",
]

STATUS = ("healthy", "margin call", "liquidation", "not covered")


@dataclass
class BatchResult:
    accounts: np.ndarray
    initial_margin: np.ndarray
    maintenance_margin: np.ndarray
    equity: np.ndarray
    ratio: np.ndarray
    status: np.ndarray  # 0 healthy, 1 margin call, 2 liquidation, 3 not covered (NaN margins:
    # a net delta beyond the model's threshold, or sums that overflow)
    currency: str
    # each account's worst scenario, labelled as everywhere else ("BTC -16% vol up"; "" when
    # the account has none); None for models without scenarios
    worst_scenario: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)  # what a reader must know (conversions)

    @classmethod
    def from_columns(
        cls,
        accounts: np.ndarray,
        out: dict[str, np.ndarray],
        currency: str,
        labels: list[tuple[str, ...]] | None = None,
    ) -> BatchResult:
        """A result from the kernel's output columns (``initial_margin``, ``maintenance_margin``,
        ``equity``, ``ratio``, ``status``, optionally ``worst_index`` and ``worst_group``),
        the worst scenario named from ``labels`` (per group, its scenarios')."""
        worst = None
        if labels is not None and "worst_group" in out:
            names = [""] + [x for group in labels for x in group]
            sizes = np.array([len(x) for x in labels] or [0])
            start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            g, j = out["worst_group"], out["worst_index"]
            ok = (g >= 0) & (g < len(labels)) & (j >= 0)
            gg = np.where(ok, g, 0)
            ok &= j < sizes[gg]
            worst = np.array(names, dtype=object)[np.where(ok, start[gg] + j + 1, 0)]
        return cls(
            accounts,
            out["initial_margin"],
            out["maintenance_margin"],
            out["equity"],
            out["ratio"],
            out["status"],
            currency,
            worst,
        )

    def to_frame(self) -> Any:
        pd = optional("pandas", "venue")

        return pd.DataFrame(
            {
                "account": self.accounts,
                "initial_margin": self.initial_margin,
                "maintenance_margin": self.maintenance_margin,
                "equity": self.equity,
                "mm_ratio": self.ratio,
                "status": pd.Categorical.from_codes(self.status, STATUS),
                **({} if self.worst_scenario is None else {"worst_scenario": self.worst_scenario}),
            }
        )

    def to_parquet(self, path: str) -> None:
        optional("pyarrow", "venue")
        self.to_frame().to_parquet(path)

    def to_csv(self, path: str) -> None:
        """The per-account table as CSV; an account id a spreadsheet would run as a formula
        (starting ``= + - @``, tab or CR) is written with a leading ``'`` (OWASP)."""
        frame = self.to_frame()
        frame["account"] = [csv_cell(v) for v in frame["account"]]
        frame.to_csv(path, index=False)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v: Any) -> Any:
    """A text cell made safe for spreadsheets: text that would start a formula gets a leading
    single quote (the OWASP convention for CSV injection); other values are unchanged."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def batch_margin_csr(
    risk: VenueRisk | SpanVenueRisk | StandardVenueRisk | SensitivityVenueRisk,
    offsets: np.ndarray,
    instrument: np.ndarray,
    amount: np.ndarray,
    collateral: np.ndarray,
    *,
    threads: int | None = None,
    balances: np.ndarray | None = None,
    addons: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The kernel on CSR arrays: account a holds ``amount[offsets[a]:offsets[a+1]]`` of
    instruments ``instrument[...]`` (indices into ``risk.instruments``). Accounts whose net
    delta on a pair passes the model's delta-shock threshold get status 3 (not covered) and NaN
    margins: Deribit does not publish that part of the model. Under X:PM (a risk from
    :func:`xpm_venue_risk`) ``balances`` [accounts, currencies] holds each account's balance per
    currency in ``risk.venue["cross"]["currency_names"]`` order, and ``collateral`` is USD cash
    beside them (not shocked)."""
    offs = index_array(offsets, "offsets", 2**62)
    inst = index_array(instrument, "instrument", len(risk.instruments) - 1)
    accounts = (
        np.ascontiguousarray(offs, dtype=np.int64),
        np.ascontiguousarray(inst, dtype=np.int32),
        float_array(amount, "amount"),
        float_array(collateral, "collateral"),
    )
    if isinstance(risk, SensitivityVenueRisk):
        return dict(
            _core.batch_sensitivity(
                risk.underlying,
                risk.bucket,
                risk.delta_usd,
                risk.weighted_vega,
                risk.pnl_up,
                risk.pnl_down,
                risk.value,
                *accounts,
                risk.tenor_corr,
                risk.delta_corr,
                risk.vega_corr,
                risk.delta_rw,
                threads_argument(threads),
            )
        )
    if isinstance(risk, StandardVenueRisk):
        return dict(
            _core.batch_standard(
                risk.terms,
                risk.value,
                *accounts,
                threads_argument(threads),
            )
        )
    if isinstance(risk, SpanVenueRisk):
        return dict(
            _core.batch_span(
                risk.rows,
                risk.commodity,
                risk.tier,
                risk.delta,
                risk.option,
                risk.value,
                *accounts,
                risk.commodities,
                np.ascontiguousarray(risk.spread_legs.ravel()),
                np.ascontiguousarray(risk.spread_terms.ravel()),
                threads_argument(threads),
            )
        )
    venue = risk.venue or {}
    if "cross" in venue:
        n_ccy = int(venue["cross"]["currencies"])
        if balances is None:
            raise InvalidInputError(
                "X:PM margins each currency's balance: pass balances=", "balances"
            )
        bal = np.ascontiguousarray(balances, dtype=np.float64)
        if bal.shape != (len(offs) - 1, n_ccy):
            raise InvalidInputError(
                f"must be [accounts, currencies] = [{len(offs) - 1}, {n_ccy}]", "balances"
            )
        venue = {**venue, "cross": {**venue["cross"], "balance": bal.ravel()}}
    elif balances is not None:
        raise InvalidInputError(
            "balances per currency are X:PM's; this model takes collateral", "balances"
        )
    if addons is not None:  # each account's add-ons to IM and MM (a grid's short floor)
        venue = {
            **venue,
            **{k: float_array(v, k) for k, v in zip(("im_addon", "mm_addon"), addons)},
        }
    return dict(
        _core.batch_margin(
            risk.rows,
            risk.pair,
            risk.expiry,
            risk.delta,
            risk.value,
            *accounts,
            risk.n_std,
            len(risk.cap),
            len(risk.roll_k),
            risk.pnl_offset,
            risk.cap,
            None if risk.damp is None else risk.damp.ravel(),
            risk.roll_k,
            risk.mm_factor,
            risk.delta_limit,
            threads_argument(threads),
            venue,
        )
    )


@dataclass(frozen=True)
class VenueInput:
    """Validated venue input: accounts sorted, instrument names, positions in CSR order
    (``instrument`` indexes ``instruments``), collateral per account."""

    accounts: np.ndarray
    instruments: list[str]
    offsets: np.ndarray
    instrument: np.ndarray
    amount: np.ndarray
    collateral: np.ndarray
    first_row: np.ndarray  # per instrument, its first row in the positions input
    source: str | None = None  # the positions file, when read from one
    # per currency (lower case) each account's balance, when the collateral names currencies
    balances: dict[str, np.ndarray] | None = None

    def risk(
        self,
        market: Market,
        params: Any,
        currency: str | None,
        model: Any = None,
        *,
        collateral_currencies: list[str] | None = None,
    ) -> VenueRisk | SpanVenueRisk | StandardVenueRisk | SensitivityVenueRisk:
        """:func:`venue_risk_for` of the instruments (Deribit S:PM by default); an
        instrument's error names its first row of the positions input (and the file)."""
        from ..models.registry import MarginModel

        try:
            return venue_risk_for(
                MarginModel.DERIBIT_PM if model is None else model,
                market,
                self.instruments,
                params,
                currency=currency,
                collateral_currencies=collateral_currencies,
            )
        except PymarginError as e:
            if e.index is None or not 0 <= e.index < len(self.instruments):
                raise
            name = self.instruments[e.index]
            err = type(e)(f"{name}: {e.reason}", "instrument", int(self.first_row[e.index]))
            if self.source is None:
                raise err from None

            raise FileInputError(self.source, err) from None


def _account_keys(values: np.ndarray, what: str) -> np.ndarray:
    """Account identifiers as given (a file's are its text: ``007`` and ``7`` are two
    accounts): none missing or empty; never two different ids merged. A column mixing types
    is compared as text, and refused if two different ids read the same as text."""
    pd = optional("pandas", "venue")

    missing = pd.isna(values)
    if values.dtype == object:
        missing = missing | np.fromiter(
            (isinstance(v, str) and not v.strip() for v in values), bool, len(values)
        )
    if missing.any():
        raise InvalidInputError(f"missing account in {what}", "account", int(np.argmax(missing)))
    if values.dtype == object and len({type(v) for v in values}) > 1:
        text = values.astype(str)
        first: dict[str, Any] = {}
        for row, (v, t) in enumerate(zip(values, text)):
            other = first.setdefault(t, v)
            if type(other) is not type(v) or other != v:
                raise InvalidInputError(
                    f"account {v!r} and account {other!r} read the same as text: "
                    "give ids of one type",
                    "account",
                    row,
                )
        return text
    return values


def _instrument_names(values: np.ndarray) -> np.ndarray:
    """Instrument names: non-empty strings (a bytes or null cell is refused, not read as the
    text ``"b'...'"`` or ``"None"``)."""
    ok = np.fromiter((isinstance(v, str) and bool(v.strip()) for v in values), bool, len(values))
    if not ok.all():
        row = int(np.argmax(~ok))
        v = values[row]
        shown = repr(v) if len(repr(v)) <= 60 else repr(v)[:57] + "..."
        raise InvalidInputError(
            f"must be an instrument name (text), got {shown}", "instrument", row
        )
    return values.astype(str)


def venue_input(positions: Any, collateral: Any) -> VenueInput:
    """Reads and checks a venue's positions (``account``, ``instrument``, ``size``) and
    collateral (``account``, ``amount``): DataFrames or CSV / Parquet paths. Account ids read
    from a CSV file are text as written (``007`` is not ``7``); from a DataFrame or Parquet
    file they keep the caller's type. A bad row raises :class:`InvalidInputError` naming the
    field, the row and (for a file) the file."""
    pos_src = _source(positions)
    col_src = _source(collateral)
    with _named(pos_src):
        pos = _frame(positions, ("account", "instrument", "size"), "positions")
        sizes = _numbers(pos["size"], "size")
        if len(pos) == 0:
            raise InvalidInputError("no positions", "positions")
        pos_acc = _account_keys(pos["account"].to_numpy(), "positions")
        inst_names = _instrument_names(pos["instrument"].to_numpy(dtype=object))
    with _named(col_src):
        col = _frame(collateral, ("account", "amount"), "collateral")
        amounts = _numbers(col["amount"], "amount")
        col_acc = _account_keys(col["account"].to_numpy(), "collateral")
        col_ccy = None
        if "currency" in col.columns:
            col_ccy = col["currency"].to_numpy(dtype=object)
            ok = np.fromiter(
                (isinstance(v, str) and bool(v.strip()) for v in col_ccy), bool, len(col_ccy)
            )
            if not ok.all():
                raise InvalidInputError("must be a currency name", "currency", int(np.argmax(~ok)))
            col_ccy = np.array([v.strip().lower() for v in col_ccy], dtype=object)
    if pos_acc.dtype.kind != col_acc.dtype.kind and len(col_acc):
        pos_acc, col_acc = pos_acc.astype(str), col_acc.astype(str)
    accounts, acc_code = np.unique(pos_acc, return_inverse=True)
    names, first, inst_code = np.unique(inst_names, return_index=True, return_inverse=True)
    coll = np.zeros(len(accounts))
    where = np.searchsorted(accounts, col_acc)
    known = (where < len(accounts)) & (accounts[np.minimum(where, len(accounts) - 1)] == col_acc)
    if not known.all():
        with _named(col_src):
            raise InvalidInputError(
                f"account {col_acc[int(np.argmax(~known))]!r} has no positions",
                "account",
                int(np.argmax(~known)),
            )
    np.add.at(coll, where, amounts)
    balances = None
    if col_ccy is not None:
        balances = {}
        for c in dict.fromkeys(col_ccy):
            b = np.zeros(len(accounts))
            sel = col_ccy == c
            np.add.at(b, where[sel], amounts[sel])
            balances[str(c)] = b
    # One position per (account, instrument): rows repeating one are summed, as the venue
    # nets them (the models' gross-delta and per-contract terms are per position).
    key = acc_code.astype(np.int64) * len(names) + inst_code
    pairs, pair_of = np.unique(key, return_inverse=True)  # sorted: by account, then instrument
    size = np.zeros(len(pairs))
    np.add.at(size, pair_of, sizes)
    pair_acc = pairs // len(names)
    offsets = np.zeros(len(accounts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_acc, minlength=len(accounts)), out=offsets[1:])
    return VenueInput(
        accounts,
        list(names),
        offsets,
        (pairs % len(names)).astype(np.int32),
        size,
        coll,
        first,
        pos_src,
        balances,
    )


def _numbers(column: Any, field: str) -> np.ndarray:
    pd = optional("pandas", "venue")

    values = column.to_numpy()
    if values.dtype == object:  # a bool or bytes cell is not a number
        bad = np.fromiter(
            (isinstance(v, (bool, np.bool_, bytes)) for v in values), bool, len(values)
        )
        if bad.any():
            raise InvalidInputError("must be a finite number", field, int(np.argmax(bad)))
    elif values.dtype.kind == "b":
        raise InvalidInputError("must be a finite number, not true/false", field, 0)
    with np.errstate(all="ignore"):
        out = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        raise InvalidInputError("must be a finite number", field, int(np.argmax(bad)))
    return out


def _source(obj: Any) -> str | None:
    return os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else None


class _named:
    """Re-raises a pymargin error as one naming ``source`` (a file), when there is one."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:

        if (
            self.source is not None
            and isinstance(exc, PymarginError)
            and not isinstance(exc, FileInputError)
        ):
            raise FileInputError(self.source, exc) from None
        return None


def batch_margin(
    positions: Any,
    collateral: Any,
    market: Market,
    params: Any = None,
    *,
    currency: str | None = None,
    threads: int | None = None,
    model: Any = None,
) -> BatchResult:
    """Every account's margin under ``model`` (a :class:`pymargin.MarginModel`: Deribit S:PM,
    the default, Paradex PM, the FINRA grid or a grid venue's parameter file, with ``params``
    as :func:`venue_risk_for` takes them). ``positions``: a DataFrame (or a CSV / Parquet
    path) with columns ``account``, ``instrument``, ``size``; ``collateral``: one with
    ``account`` and ``amount`` (accounts without a row have none). Bad rows are named, before
    any work."""
    from ..models.registry import MarginModel

    if model is not None and not isinstance(model, MarginModel):
        raise InputTypeError("use a pymargin.MarginModel member", "model")
    b = venue_input(positions, collateral)
    if model is MarginModel.DERIBIT_XPM:
        if b.balances is None:
            raise InvalidInputError(
                "X:PM margins each currency's balance: give the collateral a currency column",
                "collateral",
            )
        risk = b.risk(market, params, None, model, collateral_currencies=list(b.balances))
        assert isinstance(risk, VenueRisk) and risk.venue is not None  # X:PM's
        names = risk.venue["cross"]["currency_names"]
        bal = np.zeros((len(b.accounts), len(names)))
        for k, c in enumerate(names):
            if c in b.balances:
                bal[:, k] = b.balances[c]
        out = batch_margin_csr(
            risk,
            b.offsets,
            b.instrument,
            b.amount,
            np.zeros(len(b.accounts)),
            threads=threads,
            balances=bal,
        )
        return BatchResult.from_columns(b.accounts, out, risk.currency, risk.labels)
    if model is MarginModel.DERIVE_PM:
        from .batch_derive import derive_batch

        return derive_batch(b, market, params, threads)
    risk = b.risk(market, params, currency, model)
    collateral_amounts, notes = collateral_for(b, risk.currency, market, model)
    addons = short_floor_addons(risk, b.offsets, b.instrument, b.amount)
    out = batch_margin_csr(
        risk, b.offsets, b.instrument, b.amount, collateral_amounts, threads=threads, addons=addons
    )
    res = BatchResult.from_columns(b.accounts, out, risk.currency, getattr(risk, "labels", None))
    res.notes = notes
    return res


def collateral_for(
    b: VenueInput, currency: str, market: Market, model: Any = None
) -> tuple[np.ndarray, list[str]]:
    """Each account's collateral in the model's ``currency``: as given when the collateral
    names no currency (it is then in the model's), else converted by :func:`_in_currency`,
    with a note when it was."""
    from ..models.registry import MarginModel

    if b.balances is None:
        return b.collateral, []
    if len(b.balances) > 1:
        raise InvalidInputError(
            f"collateral in {sorted(b.balances)}: only X:PM margins several currencies together",
            "currency",
        )
    ((ccy, amounts),) = b.balances.items()
    segregated = model in (None, MarginModel.DERIBIT_PM, MarginModel.DERIBIT_STANDARD)
    got, note = _in_currency(amounts, ccy, currency, market, segregated)
    return got, [note] if note else []


def _in_currency(
    amounts: np.ndarray, ccy: str, to: str, market: Market, segregated: bool
) -> tuple[np.ndarray, str]:
    """Collateral ``amounts`` of currency ``ccy`` in the model's currency ``to``: as they are
    when the same (USD stablecoins count as one); refused by a segregated model (another
    currency's collateral does not back the group); else at the index price, without a
    haircut (the note says so)."""
    from ..conventions import is_usd_stablecoin

    if ccy == to or (is_usd_stablecoin(ccy) and is_usd_stablecoin(to)):
        return amounts, ""
    if segregated:
        raise InvalidInputError(
            f"collateral in {ccy.upper()} does not back a {to.upper()} margin group under a "
            "segregated model: give it in that currency, or use X:PM",
            "currency",
        )
    rate = market.usd_price(ccy) / market.usd_price(to)
    return amounts * rate, (
        f"collateral in {ccy.upper()} valued in {to.upper()} at the index "
        f"({rate:,.6g} {to.upper()} per {ccy.upper()}), without a haircut"
    )


def _frame(obj: Any, cols: tuple[str, ...], what: str) -> Any:
    pd = optional("pandas", "venue")

    if isinstance(obj, (str, os.PathLike)):
        df = _read_table(os.fspath(obj))
    elif isinstance(obj, pd.DataFrame):
        df = obj
    else:
        try:
            df = pd.DataFrame(obj)
        except (TypeError, ValueError) as e:
            raise InputTypeError(f"not a table: {str(e).splitlines()[0][:80]}", what) from None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InvalidInputError(f"missing columns {missing}", what)
    return df.reset_index(drop=True)


def _read_table(path: str) -> Any:
    """A CSV (strictly: see :func:`pymargin.files.csv_table`; cells kept as text) or Parquet
    file as a DataFrame; anything unreadable is refused naming the file."""
    from pathlib import Path

    pd = optional("pandas", "venue")

    p = open_file(path)
    if path.lower().endswith(".parquet"):
        optional("pyarrow", "venue")
        try:
            return pd.read_parquet(path)
        except Exception as e:  # pyarrow raises its own classes (ArrowInvalid, ...)
            if isinstance(e, MemoryError):
                raise
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise FileInputError(path, f"not a readable Parquet file ({first[:120]})") from None
    header, rows = csv_table(Path(p))
    return pd.DataFrame(rows, columns=header, dtype=object)
