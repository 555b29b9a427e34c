"""Seed a Salesforce sandbox with the demo seeder of whichever LedgerLink is on ``PYTHONPATH``: a benchmark runs
it as a subprocess in a ``_code.Code``'s environment, so a baseline's phase is seeded by the baseline's seeder.

    python benchmarks/_seed_demo.py SPEC_JSON --accounts N --opportunities N --won-share X --seed N
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", help="the Salesforce sandbox's connection spec, as JSON")
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--opportunities", type=int, required=True)
    parser.add_argument("--won-share", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    from ledgerlink.connections.build import build_crm
    from ledgerlink.demo.seed import seed

    user = build_crm(json.loads(args.spec), client_tag="benchmark-seed")
    try:
        seed(user, accounts=args.accounts, opportunities=args.opportunities, won_share=args.won_share, seed=args.seed)
    finally:
        user.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
