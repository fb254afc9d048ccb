# SPDX-License-Identifier: Apache-2.0
"""The command line (``pymargin``) and the inputs it reads: the top layer, which may import
every other. See ``docs/architecture.md``.
"""
