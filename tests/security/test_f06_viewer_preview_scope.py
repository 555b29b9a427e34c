"""Finding 6: a viewer's preview can't read other objects or fields than the saved mapping reads: a hand-written
``source:`` is refused, and fields the saved mapping doesn't read are not in the record the preview sees."""

from __future__ import annotations

from tests.security.test_f01_preview_bounds import NAME, RECORD, _preview, _store_sample, _template, _with_rule
from tests.web.console_helpers import Served


def test_a_hand_written_source_object_is_refused(served: Served) -> None:
    _store_sample(served)
    text = _template(served).replace(
        "source: {system: salesforce, object: Opportunity}", "source: {system: salesforce, object: User}"
    )
    assert "object: User" in text
    response, _seconds = _preview(served, text)
    body = response.json()
    assert response.status_code == 200 and not body["valid"] and body["values"] is None
    assert "can't change its source" in body["problems"][0]["message"]


def test_a_viewer_sees_only_the_fields_the_saved_mapping_reads(served: Served) -> None:
    _store_sample(served)  # the stored input carries NextStep, which the saved mapping does not read
    text = _with_rule(served, "  number: NextStep\n")
    response, _seconds = _preview(served, text)
    body = response.json()
    assert response.status_code == 200, body
    assert "not for viewers" not in response.text
    assert body["values"] is None or body["values"].get("number") is None
    assert NAME.startswith("salesforce/") and body["values"]["reference"] == RECORD["Id"]  # what it reads shows
