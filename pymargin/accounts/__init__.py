# SPDX-License-Identifier: Apache-2.0
"""Accounts layer: accounts and margin modes, liquidation, the pre-trade engine, the venue
batch and liquidation cascades.

Imports the foundation, :mod:`pymargin.market.market`, :mod:`pymargin.risk.revaluation` and
:mod:`pymargin.models`. See ``docs/architecture.md``.
"""
