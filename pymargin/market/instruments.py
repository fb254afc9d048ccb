# SPDX-License-Identifier: Apache-2.0
"""Instruments and the venue instrument-name parser.

Deribit names its instruments ``<BASE>[_<QUOTE>]-<expiry>[-<strike>-<C|P>]``:

* ``BTC-PERPETUAL``: inverse (coin-settled) perpetual on BTC;
* ``BTC_USDC-PERPETUAL``: linear perpetual settled in USDC;
* ``ETH-28JUN24``: inverse future expiring 28 June 2024;
* ``BTC-27DEC24-60000-C``: inverse (BTC-settled) call, strike 60,000 USD;
* ``SOL_USDC-27DEC24-150-P``: linear (USDC-settled) put; strikes may use ``d`` as the
  decimal point (``XRP_USDC-30JUN23-0d625-C`` is strike 0.625);
* ``BTC_USDC``: the spot pair (a position is a holding of the coin, valued in the quote).

Expiries are at 08:00 UTC on the named day (Deribit's convention).
"""

from __future__ import annotations

import enum
import functools
import itertools
import operator
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..conventions import is_linear_quote
from ..enums import OptionType
from ..exceptions import InvalidInputError, InvalidInstrumentError

__all__ = [
    "Instrument",
    "InstrumentKind",
    "InvalidInstrumentError",
    "Settlement",
    "parse_instrument",
]

EXPIRY_HOUR_UTC = 8  # Deribit: all futures and options expire at 08:00 UTC

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}


class InstrumentKind(enum.IntEnum):
    """What an instrument is (values match the C++ kernel's ``Kind``)."""

    SPOT = 0
    FUTURE = 1
    PERPETUAL = 2
    OPTION = 3


class Settlement(enum.IntEnum):
    """Linear: settled in the quote currency (USD, USDC, USDT). Inverse: settled in the coin."""

    LINEAR = 0
    INVERSE = 1


@dataclass(frozen=True)
class Instrument:
    """One tradable instrument.

    ``settlement_currency`` is the coin for inverse instruments and the quote currency for
    linear ones; positions are counted in units of the underlying coin (``contract_size`` coins
    per contract).
    """

    name: str
    kind: InstrumentKind
    base: str
    quote: str
    settlement: Settlement
    expiry: datetime | None = None
    strike: float | None = None
    option_type: OptionType | None = None
    contract_size: float = 1.0

    @property
    def settlement_currency(self) -> str:
        return self.base if self.settlement is Settlement.INVERSE else self.quote

    @property
    def underlying(self) -> str:
        """The price the instrument depends on, e.g. ``BTC_USD``."""
        return f"{self.base}_USD"

    def time_to_expiry(self, valuation_time: datetime) -> float:
        """Years (365-day) from ``valuation_time`` to expiry; 0 for perpetuals and spot."""
        if self.expiry is None:
            return 0.0
        _require_utc(valuation_time, "valuation_time")
        return max((self.expiry - valuation_time).total_seconds(), 0.0) / (365.0 * 86400.0)


def _require_utc(t: datetime, field: str) -> None:
    if t.tzinfo is None:
        raise InvalidInputError("must be timezone-aware (UTC)", field)


_SPOT = re.compile(r"^(?P<base>[A-Z0-9]+)_(?P<quote>[A-Z]+)$")
_NAME = re.compile(
    r"^(?P<base>[A-Z0-9]+)(?:_(?P<quote>[A-Z]+))?-"
    r"(?P<tail>PERPETUAL|(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})"
    r"(?:-(?P<strike>[0-9]+(?:D[0-9]+)?)-(?P<cp>[CP]))?)$"
)


def parse_instrument(name: str, contract_size: float = 1.0) -> Instrument:
    """Parses a Deribit instrument name. Raises :class:`InvalidInstrumentError` naming the
    part of the name that is wrong. Results are cached (instruments are immutable)."""
    if not isinstance(name, str):
        raise InvalidInstrumentError(f"expected a string, got {type(name).__name__}", "name")
    if isinstance(contract_size, bool) or not isinstance(contract_size, (int, float)):
        raise InvalidInstrumentError("must be a number", "contract_size")
    return _parse_cached(name, float(contract_size))


def parse_instruments(names: list[str]) -> list[Instrument]:
    """:func:`parse_instrument` of each name (contract size 1): dictionary lookups for the
    names seen before, the parser for the rest; the typed error names the first bad name's
    row (field ``instrument``)."""
    got = list(map(_SEEN.get, names))
    # Identity tests in C (``None in got`` would call Instrument.__eq__ for every entry).
    if not any(map(operator.is_, got, itertools.repeat(None))):
        return got  # type: ignore[return-value]  # no None in it
    out = []
    for row, name in enumerate(names):
        try:
            inst = parse_instrument(name)
        except InvalidInstrumentError as e:
            raise InvalidInstrumentError(f"{name!r}: {e.reason}", "instrument", row) from None
        if len(_SEEN) >= 1 << 16:
            _SEEN.clear()  # bounded, like the parser's own cache
        _SEEN[name] = inst
        out.append(inst)
    return out


# Names parsed by parse_instruments (contract size 1), for the lookups of its fast path.
_SEEN: dict[str, Instrument] = {}


@functools.lru_cache(maxsize=1 << 16)
def _parse_cached(name: str, contract_size: float) -> Instrument:
    spot = _SPOT.match(name.strip().upper())
    if spot:
        if not is_linear_quote(spot["quote"]):
            raise InvalidInstrumentError(f"unknown quote currency {spot['quote']!r}", "quote")
        return Instrument(
            name,
            InstrumentKind.SPOT,
            spot["base"],
            spot["quote"],
            Settlement.LINEAR,
            contract_size=contract_size,
        )
    m = _NAME.match(name.strip().upper())
    if not m:
        raise InvalidInstrumentError(
            f"{name!r} is not BASE_QUOTE (spot), BASE[_QUOTE]-PERPETUAL, BASE[_QUOTE]-DDMMMYY "
            "or BASE[_QUOTE]-DDMMMYY-STRIKE-C|P",
            "name",
        )
    base = m["base"]
    quote = m["quote"] or "USD"
    if m["quote"] and not is_linear_quote(quote):
        raise InvalidInstrumentError(f"unknown quote currency {quote!r} in {name!r}", "quote")
    settlement = Settlement.LINEAR if m["quote"] else Settlement.INVERSE
    if not (contract_size > 0):
        raise InvalidInstrumentError("must be > 0", "contract_size")
    if m["tail"] == "PERPETUAL":
        return Instrument(
            name, InstrumentKind.PERPETUAL, base, quote, settlement, contract_size=contract_size
        )
    mon = _MONTHS.get(m["mon"])
    if mon is None:
        raise InvalidInstrumentError(f"unknown month {m['mon']!r} in {name!r}", "expiry")
    try:
        expiry = datetime(
            2000 + int(m["yy"]), mon, int(m["day"]), EXPIRY_HOUR_UTC, tzinfo=timezone.utc
        )
    except ValueError:
        raise InvalidInstrumentError(f"no such date in {name!r}", "expiry") from None
    if m["strike"] is None:
        return Instrument(
            name,
            InstrumentKind.FUTURE,
            base,
            quote,
            settlement,
            expiry,
            contract_size=contract_size,
        )
    strike = float(m["strike"].replace("D", "."))
    if not strike > 0:
        raise InvalidInstrumentError(f"strike must be > 0 in {name!r}", "strike")
    option_type = OptionType.CALL if m["cp"] == "C" else OptionType.PUT
    return Instrument(
        name,
        InstrumentKind.OPTION,
        base,
        quote,
        settlement,
        expiry,
        strike,
        option_type,
        contract_size,
    )
