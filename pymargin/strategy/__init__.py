# SPDX-License-Identifier: Apache-2.0
"""Strategy layer: hedging, margin optimisation, trading costs and cross-venue allocation.

Imports every layer below it (up to analytics). See ``docs/architecture.md``.
"""
