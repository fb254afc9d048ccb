# SPDX-License-Identifier: Apache-2.0
"""Reporting layer: plots and HTML/JSON reports. matplotlib is imported lazily.

Imports every layer below it. See ``docs/architecture.md``.
"""
