"""The invoice's PDF → one ContentVersion on the Opportunity, over HTTP, run twice."""

from __future__ import annotations

from dbos import DBOS

from ledgerlink.engine.runtime import shard_key
from ledgerlink.flows import invoice_pdf
from tests.flows_payments.conftest import BooksEnv, result


def _poll(env: BooksEnv) -> list[invoice_pdf.Outcome]:
    return [result(h) for h in invoice_pdf.poll(lag_seconds=0)]


def _files(env: BooksEnv, opportunity: str) -> list[dict[str, object]]:
    return list(
        env.user.query(
            "SELECT Id, Title, PathOnClient, FirstPublishLocationId, ContentDocumentId FROM ContentVersion "
            f"WHERE FirstPublishLocationId = '{opportunity}'"
        )
    )


def _bytes(env: BooksEnv, version_id: str) -> bytes:
    return env.user.request("GET", f"sobjects/ContentVersion/{version_id}/VersionData").content


def test_pdf_is_attached_once_and_a_rerun_attaches_nothing(books_env: BooksEnv) -> None:
    env = books_env
    _account, opp, number = env.invoiced_opportunity("Filed Ltd", 80.0)

    # The invoice run chains the PDF run as soon as the invoice exists.
    outcome = result(DBOS.retrieve_workflow(invoice_pdf.workflow_id(opp, "invoiced")))
    assert outcome["status"] == "attached" and outcome["invoice_number"] == number
    assert outcome["rendered"] is False  # both sandboxes serve their own PDF
    [file] = _files(env, opp)
    assert file["Id"] == outcome["content_version"]
    assert file["Title"] == f"Invoice {number}"
    assert _bytes(env, outcome["content_version"]).startswith(b"%PDF-")
    links = list(env.user.query(f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '{opp}'"))
    assert len(links) == 1

    writes = env.ledger.count_audit(flow=invoice_pdf.FLOW)
    assert result(invoice_pdf.replay(opp))["status"] == "already_attached"
    assert _poll(env) == []  # the watermark moved on, and the ledger knows the file
    assert len(_files(env, opp)) == 1
    assert env.ledger.count_audit(flow=invoice_pdf.FLOW) == writes


def test_rendered_pdf_when_asked_and_a_file_made_before_a_crash_is_found_not_doubled(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    env.runtime.settings.flows.invoice_pdf_source = "render"
    _account, opp, number = env.invoiced_opportunity("Rendered Ltd", 40.0, chain_pdf=False)
    outcome = result(invoice_pdf.replay(opp))
    assert outcome["status"] == "attached" and outcome["rendered"] is True
    body = _bytes(env, outcome["content_version"])
    assert body.startswith(b"%PDF-") and f"Invoice {number}".encode() in body

    # A second opportunity whose file was created but whose ledger write was lost: found by SOQL, not re-created.
    _account, opp2, number2 = env.invoiced_opportunity("Crashed Ltd", 30.0, chain_pdf=False)
    env.user.create(
        "ContentVersion",
        {
            "Title": f"Invoice {number2}",
            "PathOnClient": f"invoice-{number2}.pdf",
            "VersionData": "JVBERi0xLjQK",  # "%PDF-1.4\n"
            "FirstPublishLocationId": opp2,
        },
    )
    assert result(invoice_pdf.replay(opp2))["status"] == "already_attached"
    assert len(_files(env, opp2)) == 1


def test_opportunity_without_a_ledgerlink_invoice_is_a_failed_record(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    account = env.make_account("No Invoice Ltd", "NOINV")
    opp = env.make_opportunity(stage="Prospecting", account_id=account, lines=[])
    outcome = result(invoice_pdf.replay(opp))
    assert outcome["status"] == "failed" and outcome["field"] == "Accounting_Invoice_Number__c"
    [failed] = env.ledger.failed_records(flow=invoice_pdf.FLOW)
    assert failed.source_id == opp
    assert opp in failed.errors[-1]["error"] and failed.errors[-1]["field"] == "Accounting_Invoice_Number__c"
    assert _files(env, opp) == []


@DBOS.workflow(name="test_invoice_then_pdf")
def _invoice_workflow_calling_the_hook(opportunity_id: str) -> str:
    # What opportunity_to_invoice would do after its write-back: one line.
    invoice_pdf.after_invoice([opportunity_id])
    return opportunity_id


def test_chained_from_a_workflow_after_the_invoice(kashflow_env: BooksEnv) -> None:
    env = kashflow_env
    _account, opp, number = env.invoiced_opportunity("Chained Ltd", 25.0, chain_pdf=False)
    result(DBOS.start_workflow(_invoice_workflow_calling_the_hook, opp))
    chained = DBOS.retrieve_workflow(invoice_pdf.workflow_id(opp, "invoiced"))
    outcome = result(chained)
    assert outcome["status"] == "attached" and outcome["invoice_number"] == number
    assert _poll(env) == []  # the poll finds the file already recorded
    assert len(_files(env, opp)) == 1


def test_a_batch_files_in_one_call_and_a_lost_reply_makes_no_second_file(kashflow_env: BooksEnv) -> None:
    """A run's files go to Salesforce in one sObject Collections insert; when the reply to that call is lost after
    Salesforce made the files, the retry finds them by SOQL and makes none twice."""
    env = kashflow_env
    crm = env.runtime.crm

    def composite_calls() -> int:  # answered calls (a call whose reply is cut is not counted)
        return crm.usage.by_kind.get("composite", 0)

    first = [env.invoiced_opportunity(f"Batch {n} Ltd", 10.0 + n, chain_pdf=False)[1] for n in range(3)]
    before = composite_calls()
    outcomes = result(DBOS.start_workflow(invoice_pdf.invoice_pdf_batch, first))
    assert [o["status"] for o in outcomes] == ["attached"] * 3
    assert composite_calls() - before == 1  # three files, one call

    second = [env.invoiced_opportunity(f"Cut {n} Ltd", 20.0 + n, chain_pdf=False)[1] for n in range(3)]
    before = composite_calls()
    env.set_faults("salesforce", paths=[f"{crm.base_path}/composite/sobjects"], methods=["POST"], drop_after_next=1)
    try:
        outcomes = result(DBOS.start_workflow(invoice_pdf.invoice_pdf_batch, second))
    finally:
        env.set_faults("salesforce", paths=[], methods=[], drop_after_next=0)
    # The first call made the three files and its reply was cut; the retry looked, found them and inserted nothing.
    assert [o["status"] for o in outcomes] == ["already_attached"] * 3
    assert composite_calls() == before
    for opportunity, outcome in zip(second, outcomes, strict=True):
        [file] = _files(env, opportunity)
        assert file["Id"] == outcome["content_version"]
    assert env.ledger.failed_records(flow=invoice_pdf.FLOW) == []


def test_pdf_runs_go_to_the_background_lane(kashflow_env: BooksEnv) -> None:
    """Nobody waits on a PDF: its runs queue on the CRM connection's background lane, not beside the invoice runs."""
    env = kashflow_env
    _account, opp, _number = env.invoiced_opportunity("Lane Ltd", 12.0)
    [status] = DBOS.list_workflows(workflow_ids=[invoice_pdf.workflow_id(opp, "invoiced")])
    assert status.queue_name == env.runtime.queue_name("crm", "background")
    assert status.queue_name != env.runtime.queue_name("crm")
    result(DBOS.retrieve_workflow(status.workflow_id))
    assert len(_files(env, opp)) == 1


def test_a_run_takes_the_waiting_pdfs_of_its_shard_and_their_own_runs_only_read(kashflow_env: BooksEnv) -> None:
    """After a flood the lane's backlog drains in big runs: a PDF run also makes the files of its shard's other
    opportunities whose chained run is waiting, and those runs then find their files in the ledger."""
    env = kashflow_env
    crm = env.runtime.crm
    shards: dict[str, list[str]] = {}
    n = 0
    while not any(len(ids) >= 3 for ids in shards.values()):  # three invoiced deals that share a shard
        opp = env.invoiced_opportunity(f"Shard {n} Ltd", 10.0 + n, chain_pdf=False)[1]
        shards.setdefault(shard_key(invoice_pdf.FLOW, opp), []).append(opp)
        n += 1
    first, *others = next(ids for ids in shards.values() if len(ids) >= 3)[:3]
    invoice_pdf.note_pending([first, *others])  # as after_invoice does once their runs are enqueued
    inserts = crm.usage.by_kind.get("composite", 0)

    outcome = result(invoice_pdf.replay(first))
    assert outcome["status"] == "attached"
    assert crm.usage.by_kind.get("composite", 0) - inserts == 1  # the three files in one insert
    for opp in others:
        [file] = _files(env, opp)  # made by the first opportunity's run
        assert result(invoice_pdf.replay(opp)) == {
            "opportunity": opp,
            "status": "already_attached",
            "invoice_number": file["Title"].removeprefix("Invoice "),  # type: ignore[union-attr]
            "content_version": file["Id"],
            "rendered": False,
        }
        assert len(_files(env, opp)) == 1
    assert crm.usage.by_kind.get("composite", 0) - inserts == 1
    assert invoice_pdf.take_pending([first]) == []  # nothing of theirs is left waiting
