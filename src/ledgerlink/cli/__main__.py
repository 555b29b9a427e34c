"""``python -m ledgerlink.cli``: the same command line as ``ledgerlink``."""

from ledgerlink.cli.entry import main

main()
