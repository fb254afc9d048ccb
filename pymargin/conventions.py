# SPDX-License-Identifier: Apache-2.0
"""Definitions shared across the package, each written once.

* ``USD_STABLECOINS``: currencies pymargin values at one US dollar (USD itself, USDC, USDT).
  Margins settled in them are USD margins, and their balances are not shocked with a coin.
* ``LINEAR_QUOTE_CURRENCIES``: quote currencies whose instruments settle linearly in the quote
  (the USD stablecoins and Deribit's euro stablecoin EURR). EURR settles linearly, but it is
  not worth a dollar: it is not in ``USD_STABLECOINS``.

Names are lower case; :func:`is_usd_stablecoin` and :func:`is_linear_quote` take either case.
"""

from __future__ import annotations

__all__ = [
    "LINEAR_QUOTE_CURRENCIES",
    "USD_STABLECOINS",
    "is_linear_quote",
    "is_usd_stablecoin",
]

USD_STABLECOINS = frozenset({"usd", "usdc", "usdt"})
LINEAR_QUOTE_CURRENCIES = USD_STABLECOINS | {"eurr"}


def is_usd_stablecoin(currency: str) -> bool:
    """True for USD, USDC and USDT, in any case."""
    return currency.lower() in USD_STABLECOINS


def is_linear_quote(currency: str) -> bool:
    """True for the quote currencies of linearly settled instruments, in any case."""
    return currency.lower() in LINEAR_QUOTE_CURRENCIES
