"""Refunds in Salesforce: a ``Payment__c`` of ``Type__c`` ``Refund`` with a negative ``Amount__c``, upserted on
``External_Id__c`` = the refund's key (``systems.refunds.refund_key``: the books' own id for it), so the flow that made
it and the history import that reads it from the books write one record between them.

Why ``Payment__c`` and not an object of its own: a refund is money moving on the same invoice and deal as its
payments, so one related list ("Payments") shows the whole of it, summed in one column (payments positive, refunds
negative: the net received), and the reports, permission set and page layouts already in place keep working. A
record with no ``Type__c`` is a payment (records made before refunds were mapped). Refunds always carry
``External_Id__c``: ``payment_to_books`` only takes records without one (and refuses a negative amount), so a refund
LedgerLink wrote never comes back to the books as a payment (no echo).
"""

from __future__ import annotations

from typing import Any

from ledgerlink.model import Refund
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce.client import SalesforceClient

OBJECT = "Payment__c"
KEY_FIELD = "External_Id__c"
TYPE_FIELD = "Type__c"
REFUND = "Refund"


def refund_record(key: str, refund: Refund, *, invoice_record: str | None, opportunity: str | None) -> dict[str, Any]:
    """The ``Payment__c`` fields for a refund; a link not known is left out (an upsert never clears one)."""
    record: dict[str, Any] = {
        KEY_FIELD: key,
        TYPE_FIELD: REFUND,
        "Amount__c": -float(refund.amount),
        "Payment_Date__c": refund.paid_on.isoformat(),
        "Method__c": refund.method,
    }
    if invoice_record:
        record["Invoice__c"] = invoice_record
    if opportunity:
        record["Opportunity__c"] = opportunity
    return record


def upsert_refunds(crm: SalesforceClient, records: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Upsert the records on their key; (Payment__c id, created) for each, in order."""
    out = []
    for result in crm.upsert_many(OBJECT, KEY_FIELD, records):
        if not result.get("success", False):
            errors = "; ".join(str(e.get("message")) for e in result.get("errors") or [])
            raise PermanentError(f"{OBJECT}: Salesforce refused the refund: {errors}", system="salesforce")
        out.append((str(result.get("id") or ""), bool(result.get("created"))))
    return out
