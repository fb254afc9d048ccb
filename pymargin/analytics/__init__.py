# SPDX-License-Identifier: Apache-2.0
"""Analytics layer: VaR and Expected Shortfall, stress tests, distributed venue runs.

Imports every layer below it (foundation, market, risk, models, accounts). See
``docs/architecture.md``.
"""
