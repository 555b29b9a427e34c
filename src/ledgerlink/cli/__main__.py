"""``python -m ledgerlink.cli``: the same command line as ``ledgerlink``."""

from ledgerlink.cli import main

main()
