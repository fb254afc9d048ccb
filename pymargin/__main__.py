# SPDX-License-Identifier: Apache-2.0
"""``python -m pymargin``: the command line (see pymargin.cli.app)."""

from .cli.app import main

if __name__ == "__main__":
    main()
