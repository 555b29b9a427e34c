"""Finding 1: mapping preview is bounded. An alias bomb is refused before it is compiled, a JSONata call that
builds a huge value is stopped in the preview worker (a separate process with memory and time limits), and the
console keeps answering meanwhile."""

from __future__ import annotations

import threading
import time

import httpx

from ledgerlink.mapping.errors import MappingLoadError
from ledgerlink.mapping.yaml_source import load_yaml_document
from ledgerlink.store.tables import FailedRecord
from ledgerlink.web.services.mappings import read_text
from tests.web.console_helpers import VIEWER, Served, signed_in

NAME = "salesforce/opportunity_to_canonical"
RECORD = {
    "Id": "006PREVIEW000001",
    "Name": "Deal",
    "StageName": "Closed Won",
    "Amount": 10,
    "CloseDate": "2026-12-01",
    "AccountId": "001PREVIEW000001",
    "CurrencyIsoCode": "GBP",
    "OpportunityLineItems": {"records": [{"Description": "Widget", "Quantity": 1, "UnitPrice": 10}]},
}


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines)


def _template(served: Served) -> str:
    found = read_text(served.console.settings.mappings_dir, NAME)
    assert found is not None
    return found[0]


def _with_rule(served: Served, rule: str) -> str:
    return _template(served).replace("fields:\n", "fields:\n" + rule, 1)


def _store_sample(served: Served) -> None:
    if served.console.ledger.failed_records(search=RECORD["Id"], status=None):
        return
    with served.console.ledger.session() as s:
        s.add(
            FailedRecord(
                flow="opportunity_to_invoice",
                source_system="salesforce",
                source_object="Opportunity",
                source_id=RECORD["Id"],
                status="open",
                errors=[{"at": "x", "error": "sample", "field": None}],
                input={**RECORD, "NextStep": "not for viewers"},
            )
        )


def _preview(served: Served, text: str) -> tuple[httpx.Response, float]:
    client, csrf = signed_in(served.url, VIEWER)
    with client:
        started = time.monotonic()
        response = client.post(
            f"/api/mappings/{NAME}/preview",
            json={"yaml": text, "record_id": RECORD["Id"]},
            headers={"X-CSRF-Token": csrf},
            timeout=60,
        )
        return response, time.monotonic() - started


def test_aliases_are_refused_by_the_mapping_loader() -> None:
    try:
        load_yaml_document(_bomb(), "bomb.yaml")
    except MappingLoadError as exc:
        assert "aliases" in exc.message
    else:
        raise AssertionError("an alias bomb was accepted")


def test_an_alias_bomb_in_a_rule_default_is_refused_quickly(served: Served) -> None:
    _store_sample(served)
    text = _bomb() + "\n" + _with_rule(served, "  number: {from: Name, default: *a8}\n")
    response, _seconds = _preview(served, text)
    assert response.status_code == 200
    body = response.json()
    assert not body["valid"] and "aliases" in body["problems"][0]["message"]
    assert len(response.content) < 10_000


def test_a_huge_jsonata_value_is_stopped_and_the_console_keeps_answering(served: Served) -> None:
    _store_sample(served)
    text = _with_rule(served, "  number: {expr: \"$pad('x', 300000000)\"}\n")
    health: list[int] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            health.append(httpx.get(f"{served.url}/healthz", timeout=10).status_code)
            time.sleep(0.2)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        response, _seconds = _preview(served, text)
    finally:
        done.set()
        poller.join()
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["valid"] and body["values"] is None
    assert len(response.content) < 10_000  # it used to be 300 MB
    assert health and set(health) == {200}


def test_a_normal_preview_still_works_in_the_worker(served: Served) -> None:
    _store_sample(served)
    response, _seconds = _preview(served, _template(served))
    body = response.json()
    assert response.status_code == 200 and body["values"], body
    assert body["values"]["reference"] == RECORD["Id"]
