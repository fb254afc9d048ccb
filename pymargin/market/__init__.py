# SPDX-License-Identifier: Apache-2.0
"""Market layer: instruments and their names, market snapshots and instrument tables,
portfolios, venue adapters, bundled data and historical series.

Imports only the foundation modules (``pymargin.exceptions``, ``enums``, ``files``,
``pricing``, ``conventions``) and this package. See ``docs/architecture.md``.
"""
