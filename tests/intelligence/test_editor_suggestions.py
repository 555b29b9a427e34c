"""Mapping suggestions in the console's editor, over HTTP: offered for the fields a mapping doesn't read yet,
accepted one by one or all at once into the editor (not saved until the user saves)."""

from __future__ import annotations

import html
from pathlib import Path

from tests.web.console_helpers import ADMIN, VIEWER, serve_console, signed_in

NAME = "salesforce/opportunity_to_canonical"


def test_offer_and_accept_suggestions(tmp_path: Path) -> None:
    with serve_console(tmp_path) as served:
        client, csrf = signed_in(served.url, ADMIN)
        with client:
            offers = client.get(f"/api/mappings/{NAME}/suggestions").json()
            assert offers, "the template leaves some Opportunity fields unread"
            assert all(0.5 <= o["confidence"] <= 1 for o in offers)
            fragment = client.get(f"/mappings/{NAME}/suggestions").text
            assert 'id="accept-all"' in fragment and offers[0]["source"] in fragment
            yaml_text = client.get(f"/api/mappings/{NAME}").json()["yaml"]
            first = f"{offers[0]['target']}={offers[0]['source']}"
            one = client.post(
                f"/mappings/{NAME}/suggestions/accept", data={"yaml": yaml_text, "pick": first, "csrf_token": csrf}
            )
            assert one.status_code == 200, one.text
            page = html.unescape(one.text)
            assert f"{offers[0]['target']}: {offers[0]['source']}  # suggested" in page
            assert "Added 1 suggested rule" in page
            picks = [f"{o['target']}={o['source']}" for o in offers]
            every = client.post(
                f"/mappings/{NAME}/suggestions/accept",
                data={"yaml": yaml_text, "pick": "*", "all_picks": picks, "csrf_token": csrf},
            )
            assert f"Added {len(offers)} suggested rule" in html.unescape(every.text)
            bad = client.post(
                f"/mappings/{NAME}/suggestions/accept",
                data={"yaml": yaml_text, "pick": "x: !!python/object=y", "csrf_token": csrf},
            )
            assert "Not added: not a field name" in html.unescape(bad.text)
            assert client.get(f"/api/mappings/{NAME}").json()["overridden"] is False  # nothing saved
        viewer, viewer_csrf = signed_in(served.url, VIEWER)
        with viewer:
            refused = viewer.post(
                f"/mappings/{NAME}/suggestions/accept", data={"yaml": "x", "pick": first, "csrf_token": viewer_csrf}
            )
            assert refused.status_code == 403
