"""The customer sync's probe (``Flow.probe``): each of the trigger's three sources alone wakes it, over HTTP against
both books' sandboxes."""

from __future__ import annotations

import time

from ledgerlink.engine.flows import registered_flows
from ledgerlink.flows import customer_sync
from tests.sync.conftest import SyncEnv


def test_the_customer_probe_sees_each_of_its_three_sources_alone(any_env: SyncEnv) -> None:
    """An Account, a Contact, a customer edited in the books: each alone makes the probe say yes; settled, no."""
    env = any_env
    flow = registered_flows()[customer_sync.FLOW]
    assert flow.probe is not None
    account = env.make_account("Probe Sources Ltd", code="PRB-SRC")
    contact = env.user.create("Contact", {"LastName": "Probe", "AccountId": account})
    env.sync_customers()
    books_id = env.books_id(account)
    assert books_id is not None

    def settled() -> bool:
        for _ in range(4):  # our own writes on either side are news until read once
            if not flow.probe(0.0):  # type: ignore[misc]
                return True
            env.sync_customers()
        return False

    assert settled()
    changes = {
        "Account": lambda: env.user.update("Account", account, {"Phone": "0113 496 0001"}),
        "Contact": lambda: env.user.update("Contact", contact, {"LastName": "Probed"}),
        "books": lambda: env.edit_books_customer(books_id, website="https://probe.example"),
    }
    for source, change in changes.items():
        if source == "books":
            # KashFlow's change feed counts in whole seconds: a row changed again within the second the watermark
            # names is left to the trigger's next full run (at most a minute); a later second the probe sees.
            time.sleep(1.1)
        change()
        assert flow.probe(0.0), f"a change to the {source} side went unseen"
        assert settled()
