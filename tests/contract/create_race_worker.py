"""One worker of the create-race proof: an accounting connection built as the engine builds it (sharing the ledger's
database, or not), making one customer when told to start.

Usage: python -m tests.contract.create_race_worker '<json config>'. It signs in and reads the customer listing, prints
"ready", reads the shared start time (epoch seconds) from stdin, then finds-or-creates the customer as the customer
step does and prints {"id": ..., "calls": n}.
"""

from __future__ import annotations

import json
import sys
import time

from ledgerlink.connections.build import build_accounting
from ledgerlink.model import Customer
from ledgerlink.systems.registry import load_systems


def main(config: dict[str, object]) -> dict[str, object]:
    load_systems()
    spec = config["spec"]
    assert isinstance(spec, dict)
    url = config.get("ledger_url")
    books = build_accounting(spec, ledger_url=str(url) if url else None)
    try:
        books.find_customer("WARM-UP")  # sign in and read the listing before the start, as a busy worker has
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        time.sleep(max(0.0, start - time.time()))
        code = str(config["code"])
        customer = Customer(code=code, name=f"{code} Ltd", email=f"{code.lower()}@example.com")
        made = books.find_customer(code) or books.create_customer(customer)
        return {"id": made, "calls": books.api_calls()}
    finally:
        books.close()


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
