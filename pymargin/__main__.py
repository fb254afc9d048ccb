"""``python -m pymargin``: the command line (see pymargin.cli)."""

from .cli import main

if __name__ == "__main__":
    main()
