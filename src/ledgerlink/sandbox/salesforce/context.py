"""Who is calling and how: what every write needs to stamp audit fields and change events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallContext:
    user_id: str
    api_version: str = "59.0"
    client_id: str = ""  # from the Sforce-Call-Options header: client=<id>
    base_url: str = ""
    api: str = "rest"

    @property
    def change_origin(self) -> str:
        """CDC ``changeOrigin``: ``com/salesforce/api/<api>/<version>;client=<id>``, and without ``;client=…`` when
        the caller sent no Sforce-Call-Options client ("If the client ID isn't set in the API call,
        client=<Client_ID> isn't appended": ChangeEventHeader Class, Apex Reference,
        https://developer.salesforce.com/docs/platform/apex-ref/references/apex-ref/apex-class-eventbus-changeeventheader.html)."""
        origin = f"com/salesforce/api/{self.api}/{self.api_version}"
        return f"{origin};client={self.client_id}" if self.client_id else origin


def parse_call_options(header: str | None) -> str:
    """The ``client`` value of ``Sforce-Call-Options: client=ledgerlink, defaultNamespace=x``."""
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "client":
            return value.strip()
    return ""
