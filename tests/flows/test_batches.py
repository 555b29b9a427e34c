"""A batch run (what the change-event trigger enqueues per shard): several deals, one read, one write-back call, one
PDF run; a deal that fails fails alone; a batch run again (or a per-record run of one of its deals) makes nothing."""

from __future__ import annotations

from collections import Counter

from dbos import DBOS

from ledgerlink.engine import polling
from ledgerlink.engine import runtime as engine
from ledgerlink.flows import invoice_pdf
from ledgerlink.flows import opportunity_to_invoice as o2i
from tests.flows.conftest import FlowEnv


def _same_shard(env: FlowEnv, account: str, entry: str, count: int) -> list[str]:
    """Won deals until ``count`` of them share a shard (the trigger batches by shard)."""
    by_shard: dict[str, list[str]] = {}
    while True:
        opp = env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 30.0)])
        group = by_shard.setdefault(engine.shard_key(o2i.FLOW, opp), [])
        group.append(opp)
        if len(group) == count:
            return group


def test_a_batch_invoices_each_deal_once_and_one_bad_deal_fails_alone(flow_env: FlowEnv) -> None:
    env = flow_env
    account = env.make_account("Batch Ltd", "BATCH-1")
    _product, entry = env.make_product("BT-1", 30.0)
    deals = _same_shard(env, account, entry, 4)
    # One of them loses its Account: the books can't be given a customer for it.
    bad = deals[1]
    env.user.update("Opportunity", bad, {"AccountId": None})
    changes = [(opp, env.user.get("Opportunity", opp)["SystemModstamp"]) for opp in deals]

    handle = polling.enqueue(o2i.FLOW, changes)
    outcomes = engine.wait_for(handle)

    assert [o["opportunity"] for o in outcomes] == deals
    assert {o["opportunity"]: o["status"] for o in outcomes} == {
        **{opp: "invoiced" for opp in deals if opp != bad},
        bad: "failed",
    }
    assert next(o for o in outcomes if o["opportunity"] == bad)["field"] == "AccountId"
    [failed] = env.ledger.failed_records(flow=o2i.FLOW)
    assert failed.source_id == bad and failed.errors[-1]["field"] == "AccountId"

    # One customer for the shared Account, one invoice per good deal, each number written back.
    invoices = env.kashflow_invoices()
    assert Counter(inv["CustomerReference"] for inv in invoices) == {opp: 1 for opp in deals if opp != bad}
    assert env.ledger.count_links("salesforce", "Account", "kashflow", "Customer") == 1
    for outcome in outcomes:
        if outcome["status"] == "invoiced":
            written = env.user.get("Opportunity", outcome["opportunity"])[o2i.INVOICE_NUMBER_FIELD]
            assert written == outcome["invoice_number"]

    # The PDFs: one chained run for the batch, a file for each invoiced deal.
    pdf_run = DBOS.retrieve_workflow(f"{invoice_pdf.FLOW}:{handle.workflow_id}")
    files = engine.wait_for(pdf_run)
    assert sorted(f["opportunity"] for f in files) == sorted(opp for opp in deals if opp != bad)
    assert {f["status"] for f in files} == {"attached"}

    # The same batch again, or one deal on its own: nothing new is made.
    again = engine.wait_for(polling.enqueue(o2i.FLOW, [(opp, f"{version}-again") for opp, version in changes]))
    assert Counter(o["status"] for o in again) == {"already_invoiced": 3, "failed": 1}
    assert engine.wait_for(o2i.replay(deals[0]))["status"] == "already_invoiced"
    assert len(env.kashflow_invoices()) == 3


def test_a_batch_must_share_a_shard(flow_env: FlowEnv) -> None:
    env = flow_env
    account = env.make_account("Two Shards Ltd", "SHARD-2")
    _product, entry = env.make_product("SH-2", 10.0)
    opps = [env.make_opportunity(stage="Closed Won", account_id=account, lines=[(entry, 1, 10.0)]) for _ in range(12)]
    shards = {engine.shard_key(o2i.FLOW, opp): opp for opp in opps}
    assert len(shards) > 1
    first, second = list(shards.values())[:2]
    try:
        polling.enqueue(o2i.FLOW, [(first, "v1"), (second, "v1")])
    except ValueError as exc:
        assert "one shard" in str(exc)
    else:
        raise AssertionError("a batch across shards was enqueued")
