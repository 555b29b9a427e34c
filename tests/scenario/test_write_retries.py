"""A sync page with many updates gets through a few percent of server errors.

Found by the reliability scenario at full size: a page settles up to 200 records and each KashFlow update was one
PUT tried once, so under 5% errors a page with a few dozen updates almost never got through whole, and the step
used up its six attempts (the polling run then failed outright). Updates (KashFlow PUT, Salesforce PATCH) set a
record by its key: each is retried where it is made (the engine's one retry level), and a page's Salesforce write-back
as a whole, with more attempts than a single call, before the page fails."""

from __future__ import annotations

import httpx

from tests.sync.conftest import SyncEnv


def _faults(env: SyncEnv, system: str, **settings: object) -> dict[str, int]:
    url = f"{env.sandboxes[system].base_url}/__admin/faults"
    httpx.put(url, json=settings).raise_for_status()
    return dict(httpx.get(url).json()["injected"])


def test_forty_books_updates_in_one_page_get_through_20_percent_errors(env: SyncEnv) -> None:
    accounts = [env.make_account(f"Many {n} Ltd", code=f"MANY{n:02d}") for n in range(40)]
    env.sync_customers()
    for n, account in enumerate(accounts):
        env.user.update("Account", account, {"Phone": f"0113 496 {n:04d}"})
    _faults(env, "kashflow", error_rate=0.2, methods=["PUT"], paths=["/v2/customers"], seed=3)
    outcome = env.sync_customers()
    injected = _faults(env, "kashflow", error_rate=0.0)
    assert injected["errors"] >= 4
    assert outcome["status"] == "synced", outcome
    assert [env.books_customer(f"MANY{n:02d}").phone for n in range(40)] == [f"0113 496 {n:04d}" for n in range(40)]


def test_a_salesforce_collections_update_outlasts_six_failures_in_a_row(env: SyncEnv) -> None:
    account = env.make_account("Stubborn Ltd", code="STUB1")
    env.sync_customers()
    env.edit_books_customer("STUB1", website="https://stubborn.test")
    prefix = f"{env.runtime.crm.base_path}/composite/sobjects"
    _faults(env, "salesforce", paths=[prefix], methods=["PATCH"], fail_next=6)
    outcome = env.sync_customers()
    assert _faults(env, "salesforce")["errors"] == 6
    assert outcome["status"] == "synced", outcome
    assert env.account(account)["Website"] == "https://stubborn.test"
