"""The builder's routes over real HTTP (no browser): save, publish, roll back, refusals, the field mapper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerlink.flows.defined.store import Definitions
from ledgerlink.flows.defined.templates_catalogue import template_text
from tests.web.console_helpers import VIEWER, Served, api_token, serve_console, signed_in


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_console(tmp_path / "console") as s:
        yield s


def test_save_publish_and_roll_back(served: Served) -> None:
    client, csrf = signed_in(served.url)
    store = Definitions(served.console.ledger)
    text = template_text("approved_orders_invoice")
    store.save(text)
    store.save(text.replace("Approved, activated", "Approved"))
    with client:
        page = client.get("/flows/defined/approved_orders_invoice")
        assert page.status_code == 200 and "version 2" in page.text and 'id="diagram"' in page.text
        published = client.post(
            "/flows/defined/approved_orders_invoice/publish", data={"version": "2", "csrf_token": csrf}
        )
        assert published.status_code == 303
        page = client.get("/flows/defined/approved_orders_invoice")
        assert "Roll back to this" in page.text
        rolled = client.post(
            "/flows/defined/approved_orders_invoice/publish", data={"version": "1", "csrf_token": csrf}
        )
        assert rolled.status_code == 303
    assert store.published_version("approved_orders_invoice").version == 1  # type: ignore[union-attr]


def test_the_form_saves_and_a_bad_one_says_why(served: Served) -> None:
    client, csrf = signed_in(served.url)
    form = {
        "csrf_token": csrf,
        "mode": "form",
        "name": "won_deals",
        "trigger_object": "Opportunity",
        "trigger_event": "field_changed",
        "trigger_field": "StageName",
        "cab12_field": "StageName",
        "cab12_op": "eq",
        "cab12_value": "Closed Won",
        "a01_type": "map_invoice",
        "a01_mapping": "opportunity_to_canonical",
        "a02_type": "create_invoice",
        "a03_type": "notify",
        "a03_channel": "teams",
        "a03_to": "https://example.webhook.office.com/webhookb2/x",
        "a03_message": "{{ Name }} invoiced",
    }
    with client:
        saved = client.post("/flows/defined/save", data=form)
        assert saved.status_code == 303 and saved.headers["location"] == "/flows/defined/won_deals?saved=1"
        bad = client.post("/flows/defined/save", data={**form, "a02_type": "add_line"})
        assert bad.status_code == 422
        assert "Not saved: steps[1].description: Field required" in bad.text
        preview = client.post("/flows/defined/preview", data=form)
        assert "WHEN crm Opportunity StageName changes" in preview.text
        drawn = preview.text.split("<details>")[0]  # the diagram; the YAML below is the author's own text
        assert "(destination set)" in drawn and "webhookb2" not in drawn  # a webhook URL is a secret
    definition = Definitions(served.console.ledger).get("won_deals").definition  # type: ignore[union-attr]
    assert definition.when is not None and [s.action for s in definition.steps] == [  # type: ignore[union-attr]
        "map_invoice",
        "create_invoice",
        "notify",
    ]


def test_the_api_refuses_with_problems_and_a_viewer_may_not_publish(served: Served) -> None:
    import httpx

    token = api_token(served.url)
    headers = {"Authorization": f"Bearer {token}"}
    bad = httpx.post(f"{served.url}/api/flow-definitions", json={"yaml": "name: x\n"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["problems"]
    loop = "name: loop\ntrigger: {object: Order, event: updated}\nsteps: [{action: update_record, set: {A__c: x}}]\n"
    saved = httpx.post(f"{served.url}/api/flow-definitions", json={"yaml": loop}, headers=headers)
    assert saved.status_code == 201
    refused = httpx.post(f"{served.url}/api/flow-definitions/loop/publish", json={"version": 1}, headers=headers)
    assert refused.status_code == 409 and "cycle: loop → loop" in refused.json()["problems"][0]
    viewer, csrf = signed_in(served.url, VIEWER)
    with viewer:
        denied = viewer.post("/flows/defined/loop/publish", data={"version": "1", "csrf_token": csrf})
        assert denied.status_code == 403


def test_a_dry_run_without_connections_says_what_is_missing(served: Served) -> None:
    Definitions(served.console.ledger).save(template_text("split_by_project"))
    client, csrf = signed_in(served.url)
    with client:
        answer = client.post(
            "/flows/defined/split_by_project/dry-run",
            data={"record": "801000000000001AAA", "version": "1", "csrf_token": csrf},
        )
    assert "add them under Connections" in answer.text


def test_the_field_mapper_shows_both_sides_with_suggestions_and_saves_a_mapping(served: Served) -> None:
    client, csrf = signed_in(served.url)
    with client:
        page = client.get("/flows/mapper", params={"source": "salesforce/Account", "target": "canonical/Customer"})
        assert page.status_code == 200
        assert 'data-field="BillingCity"' in page.text and 'data-field="name"' in page.text
        assert 'data-suggested="' in page.text  # the offline suggestions mark their targets
        saved = client.post(
            "/flows/mapper/save",
            data={
                "csrf_token": csrf,
                "source": "salesforce/Account",
                "target": "canonical/Customer",
                "name": "salesforce/account_from_mapper",
                "from": ["Name", "ExternalID__c"],
                "to": ["name", "code"],
                "transform": ["strip", ""],
            },
        )
        assert saved.status_code == 303, saved.text
    written = (served.console.settings.mappings_dir / "salesforce" / "account_from_mapper.yaml").read_text()
    assert "from: Name" in written and "- strip" in written


def test_a_viewer_sees_no_webhook_url(served: Served) -> None:
    secret = "https://hooks.slack.com/services/T0/B0/s3cr3tpath"
    text = template_text("closed_won_invoice_notify").replace("https://hooks.slack.com/services/T000/B000/XXXX", secret)
    Definitions(served.console.ledger).save(text)
    viewer, _csrf = signed_in(served.url, VIEWER)
    with viewer:
        page = viewer.get("/flows/defined/closed_won_invoice_notify")
    assert page.status_code == 200 and "closed_won_invoice_notify" in page.text
    assert "s3cr3tpath" not in page.text and "shown to admins only" in page.text
    admin, _csrf = signed_in(served.url)
    with admin:
        assert "s3cr3tpath" in admin.get("/flows/defined/closed_won_invoice_notify").text
