"""The actions' way to the systems, through the roles: the CRM's client and the books (``flows.deps.Deps``),
the ledger keeping every write idempotent, the alert channels for notifications.

``DepsPorts`` calls them directly (the builder's dry run reads through it); ``StepPorts`` sends each call through
one durable step, so a published flow's run is checkpointed action by action and a recovered run does not
repeat an action it finished (a notification is sent once)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dbos import DBOS

from ledgerlink.alerts import channels
from ledgerlink.alerts.senders import SmtpSettings
from ledgerlink.engine.retry import durable_step
from ledgerlink.flows import invoicing
from ledgerlink.flows._errors import FLOW_ERRORS, describe
from ledgerlink.flows.defined.run import StepFailed
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync.common import transform_context
from ledgerlink.mapping import load_mapping
from ledgerlink.model import Invoice
from ledgerlink.systems import registry

KEY_OBJECT = "flow_key"  # the ledger's "object" for an action's idempotency key


def crm_system() -> str:
    names = registry.names("crm")
    if not names:
        raise StepFailed("no CRM system is registered")
    return names[0]


def _typed(values: dict[str, str]) -> dict[str, Any]:
    """Template output is text; a checkbox wants a boolean."""
    return {k: (v.lower() == "true") if v.lower() in ("true", "false") else v for k, v in values.items()}


@dataclass
class DepsPorts:
    deps: Deps
    flow: str  # the ledger's name for the flow: "defined.<name>"
    source_object: str  # the trigger's object: ledger links and audit entries name it
    run_id: str = ""
    smtp: SmtpSettings | None = None
    allow_private: bool | None = None
    lines_relation: str | None = None

    def _fail(self, exc: BaseException, record: str) -> StepFailed:
        message, field, _ = describe(exc, record=record)
        return StepFailed(message, field)

    def build_invoice(self, mapping: str, record: dict[str, Any]) -> dict[str, Any]:
        try:
            template = load_mapping(f"{crm_system()}/{mapping}")
            values = template.apply(record, transform_context(self.deps)).values
            return Invoice.model_validate(values).model_dump(mode="json")
        except FLOW_ERRORS as exc:
            raise self._fail(exc, f"{self.source_object} {record.get('Id')}") from None
        except FileNotFoundError:
            raise StepFailed(f"no mapping named {mapping!r}", "mapping") from None

    def lines_of(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.lines_relation:
            return []
        return list((record.get(self.lines_relation) or {}).get("records") or [])

    def existing_invoice(self, reference: str) -> str | None:
        books = self.deps.books
        return self.deps.ledger.lookup(crm_system(), self.source_object, reference, books.name, books.invoice_object)

    def create_invoice(self, record: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
        deps, books, crm = self.deps, self.deps.books, crm_system()
        reference = str(draft["reference"])
        known = self.existing_invoice(reference)
        if known:
            return {"number": known, "created": False}
        source = (self.source_object, str(record.get("Id")))
        try:
            account = record.get("AccountId")
            if not account:
                raise StepFailed("the record has no Account (AccountId is empty)", "AccountId")
            customer = invoicing.ensure_customer(
                deps, self.flow, source, str(account), str(draft["customer_code"]), self.run_id
            )
            products = [str(li["Product2Id"]) for li in self.lines_of(record) if li.get("Product2Id")]
            if products:
                invoicing.ensure_products(deps, self.flow, source, products, self.run_id)
            invoice = Invoice.model_validate({**draft, "customer_code": customer})
            made = books.create_invoice(invoice, customer, transform_context(deps), look_first=True)
        except FLOW_ERRORS as exc:
            raise self._fail(exc, f"{self.source_object} {source[1]}") from None
        deps.ledger.link((crm, self.source_object, reference), (books.name, books.invoice_object, made.number))
        deps.ledger.audit(
            flow=self.flow,
            system=books.name,
            obj=books.invoice_object,
            record_id=made.number,
            action="created" if made.created else "matched",
            run_id=self.run_id,
            source_id=source[1],
            detail={"reference": reference, "lines": len(invoice.lines)},
        )
        return {"number": made.number, "created": made.created}

    def update_record(self, role: str, obj: str, record_id: str, values: dict[str, str]) -> None:
        if role != "crm":
            raise StepFailed("updating a record in the books is not in the action catalogue yet", "role")
        try:
            self.deps.crm.update(obj, record_id, _typed(values))
        except FLOW_ERRORS as exc:
            raise self._fail(exc, f"{obj} {record_id}") from None
        self.deps.ledger.audit(
            flow=self.flow,
            system=crm_system(),
            obj=obj,
            record_id=record_id,
            action="updated",
            run_id=self.run_id,
            source_id=record_id,
            detail=values,
        )

    def existing_record(self, role: str, obj: str, key: str) -> str | None:
        return self.deps.ledger.lookup(crm_system(), KEY_OBJECT, key, crm_system(), obj)

    def create_record(
        self, role: str, obj: str, key: str, values: dict[str, str], key_field: str | None = None
    ) -> dict[str, Any]:
        """Idempotent by ``key``: an upsert on ``key_field`` when given (the CRM keeps the key), else looked up in
        the ledger first (a crash between the create and its link could make a second one: give a key_field)."""
        if role != "crm":
            raise StepFailed("creating a record in the books other than an invoice is not in the catalogue", "role")
        known = self.existing_record(role, obj, key)
        if known:
            return {"id": known, "created": False}
        try:
            if key_field:
                external = hashlib.sha256(key.encode()).hexdigest()[:40]  # URL-safe, and the same every attempt
                made, created = self.deps.crm.upsert(obj, key_field, external, {**_typed(values)})
            else:
                made, created = self.deps.crm.create(obj, _typed(values)), True
        except FLOW_ERRORS as exc:
            raise self._fail(exc, f"{obj} for {key}") from None
        crm = crm_system()
        self.deps.ledger.link((crm, KEY_OBJECT, key), (crm, obj, made))
        self.deps.ledger.audit(
            flow=self.flow,
            system=crm,
            obj=obj,
            record_id=made,
            action="created" if created else "matched",
            run_id=self.run_id,
            source_id=key.rsplit(":", 1)[-1],
            detail=values,
        )
        return {"id": made, "created": created}

    def notify(self, channel: str, to: str, message: channels.Message) -> str:
        return channels.send(channel, to, message, smtp=self.smtp, allow_private=self.allow_private)  # type: ignore[arg-type]

    def webhook(self, url: str, payload: dict[str, Any]) -> str:
        return channels.post_json(url, payload, allow_private=self.allow_private)

    def check_destination(self, url: str) -> str | None:
        try:
            channels.check_destination(url, allow_private=self.allow_private)
        except channels.DestinationRefused as exc:
            return str(exc)
        return None

    def wait(self, seconds: int) -> None:
        raise StepFailed("a wait runs only inside a published flow's run")


@durable_step
def port_call(ports: DepsPorts, method: str, args: tuple[Any, ...]) -> Any:
    """One action's call to the outside, checkpointed: a recovered run gets its recorded result back."""
    return getattr(ports, method)(*args)


class StepPorts:
    """``DepsPorts`` with every call a durable step, and ``wait`` a durable sleep (for a run in a workflow)."""

    def __init__(self, inner: DepsPorts) -> None:
        self.inner = inner

    def lines_of(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return self.inner.lines_of(record)  # pure: no step needed

    def wait(self, seconds: int) -> None:
        DBOS.sleep(seconds)

    def __getattr__(self, method: str) -> Any:
        return lambda *args: port_call(self.inner, method, args)
