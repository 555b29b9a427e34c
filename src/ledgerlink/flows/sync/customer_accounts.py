"""The customer sync, Account side: a page of Accounts settled against the books' customers (matched, linked,
created in the books a few at once, or merged by the conflict rules), and the page's flush (Salesforce writes in
Collections calls, then links, bases and versions)."""

from __future__ import annotations

from typing import Any

from ledgerlink.engine.retry import BATCH_WRITE_RETRY, with_retries
from ledgerlink.flows.deps import Deps
from ledgerlink.flows.sync import golden
from ledgerlink.flows.sync.common import (
    RECORD_ERRORS,
    transform_context,
)
from ledgerlink.flows.sync.conflicts import Resolution, Side, merge
from ledgerlink.flows.sync.customer_page import (
    ACCOUNT,
    ENTITY,
    FLOW,
    SF,
    Page,
    accounts_by_id,
    as_json,
    as_read,
    books_pool,
    same,
    stamp_of,
)
from ledgerlink.flows.sync.state import save_bases
from ledgerlink.intelligence import review
from ledgerlink.intelligence.matching import Decision, DuplicateAction
from ledgerlink.mapping import TransformContext, load_mapping
from ledgerlink.model import Customer
from ledgerlink.model import fields as F
from ledgerlink.systems.accounting import with_nulls
from ledgerlink.systems.errors import PermanentError
from ledgerlink.systems.salesforce import fields as crm_fields
from ledgerlink.systems.salesforce import soql as literal


def account_payload(customer: Customer, ctx: TransformContext) -> dict[str, Any]:
    payload = load_mapping("salesforce/account_from_canonical").apply(as_json(customer), ctx).values
    return {k: v for k, v in payload.items() if v not in (None, "")}


def _contact_payload(person: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    return dict(load_mapping("salesforce/contact_from_canonical").apply(person, ctx).values)


def _contact_ops(page: Page, account_id: str, existing: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> None:
    """Make the Account's Contacts hold ``wanted``: matched by e-mail, else by name; updated or created, never
    deleted (a person removed in the books may still be someone's contact in Salesforce)."""
    left = list(existing)
    for person in wanted:
        email = (person.get("email") or "").casefold()
        name = ((person.get("first_name") or "").casefold(), (person.get("last_name") or "").casefold())
        match = next((c for c in left if email and (c.get("Email") or "").casefold() == email), None) or next(
            (c for c in left if ((c.get("FirstName") or "").casefold(), (c.get("LastName") or "").casefold()) == name),
            None,
        )
        payload = _contact_payload(person, page.ctx)
        if match is None:
            page.contacts.creates.append((account_id, {"AccountId": account_id, **payload}))
            continue
        left.remove(match)
        diff = {k: v for k, v in with_nulls({k: None for k in payload}, payload).items() if match.get(k) != v}
        if diff:
            page.contacts.updates.append((account_id, {"Id": match["Id"], **diff}))


def _send_contacts(page: Page, deps: Deps, doubtful: set[str]) -> None:
    """Send the page's Contact writes. A Contact has no key Salesforce could upsert on, so a create whose reply was
    lost (or made by an earlier run of this page) may already be there: before a retry, and for Accounts an earlier
    attempt made, the creates Salesforce already holds are dropped (matched as ``_contact_ops`` matches)."""
    attempts = 0

    def send() -> dict[str, tuple[str, bool]]:
        nonlocal attempts
        attempts += 1
        accounts = {key for key, _c in page.contacts.creates} if attempts > 1 else doubtful
        if accounts:
            _drop_made_creates(page, deps, accounts)
        return page.contacts.send(deps.crm, lambda key, exc: page.fail((SF, ACCOUNT, key), exc))

    with_retries(send, BATCH_WRITE_RETRY)()


def _drop_made_creates(page: Page, deps: Deps, accounts: set[str]) -> None:
    soql = (
        "SELECT Id, AccountId, Email, FirstName, LastName FROM Contact "
        f"WHERE AccountId IN ({literal.id_list(sorted(accounts))})"
    )
    held: dict[str, list[dict[str, Any]]] = {}
    for contact in deps.crm.query(soql):
        held.setdefault(str(contact["AccountId"]), []).append(contact)

    def made(account_id: str, create: dict[str, Any]) -> bool:
        email = (create.get("Email") or "").casefold()
        name = ((create.get("FirstName") or "").casefold(), (create.get("LastName") or "").casefold())
        for contact in held.get(account_id, []):
            same_name = ((contact.get("FirstName") or "").casefold(), (contact.get("LastName") or "").casefold())
            if (email and (contact.get("Email") or "").casefold() == email) or same_name == name:
                held[account_id].remove(contact)  # one Salesforce Contact answers for one create
                return True
        return False

    page.contacts.creates = [(a, c) for a, c in page.contacts.creates if a not in accounts or not made(a, c)]


def _to_salesforce(page: Page, record: dict[str, Any], customer: Customer, changes: dict[str, Any]) -> None:
    """Queue the Account (and Contacts) writes that bring Salesforce to ``changes``."""
    account_id = record["Id"]
    after = Customer.model_validate(F.unflatten(changes, as_json(customer)))
    before_payload = account_payload(customer, page.ctx)
    payload = with_nulls(before_payload, account_payload(after, page.ctx))
    payload.pop("ExternalID__c", None)  # the link key: never rewritten
    diff = {k: v for k, v in payload.items() if before_payload.get(k) != v}
    if diff:
        page.accounts.updates.append((account_id, {"Id": account_id, **diff}))
    if "contacts" in changes:
        existing = (record.get("Contacts") or {}).get("records") or []
        _contact_ops(page, account_id, existing, list(changes["contacts"] or []))
    page.written[account_id] = sorted(changes)
    page.expected[account_id] = _after_writes(page, record, diff)


def _after_writes(page: Page, record: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """The Account's projection as it will be once the page's writes to it are done, and nobody else's."""
    account_id = record["Id"]
    contacts = [dict(c) for c in (record.get("Contacts") or {}).get("records") or []]
    for key, update in page.contacts.updates:
        if key == account_id:
            for contact in contacts:
                if contact.get("Id") == update["Id"]:
                    contact.update(update)
    contacts += [dict(create) for key, create in page.contacts.creates if key == account_id]
    after = {**record, **diff, "Contacts": {"records": contacts}}
    return F.project(
        load_mapping("salesforce/account_to_canonical").apply(after, page.ctx).values, crm_fields.CUSTOMER_FIELDS
    )


def _settle(
    page: Page,
    record: dict[str, Any],
    customer: Customer,
    sf_values: dict[str, Any],
    books_id: str,
    books_customer: Customer | None,
    base: dict[str, Any] | None,
    policy: tuple[DuplicateAction, str] | None = None,
) -> None:
    """Three-way merge of one linked pair and the writes it calls for. ``policy``: the pair was just linked by
    matching (the duplicate policy, and the system the new record came from)."""
    sb, account_id = page.sb, record["Id"]
    if books_customer is None:
        books_customer = with_retries(sb.read_customer)(books_id, page.ctx)
    if books_customer is None:
        # Deleted in the books (some books delete customers that have no invoices): Salesforce keeps its Account.
        page.audit(sb.name, sb.customer_object, books_id, "missing_in_books", account_id)
        page.counts["missing_in_books"] += 1
        return
    books_values = F.project(as_json(books_customer), sb.customer_fields)
    settings = page.deps.settings
    if policy is not None:
        action, incoming = policy
        existing = books_values if incoming == SF else sf_values
        if action is DuplicateAction.SKIP:
            # Linked, nothing written: both sides are remembered as they are, the existing record's values agreed.
            stamp = stamp_of(books_customer)
            page.versions.remember(page.books_ref(books_id), books_values, ours=False, modified_at=stamp)
            page.audit(sb.name, sb.customer_object, books_id, "duplicate_skipped", account_id, policy=action.value)
            page.bases[account_id] = dict(existing)
            return
        if action is DuplicateAction.UPDATE:
            # A base equal to the existing record where the incoming one has a value: every such field then reads
            # as changed on the incoming side only and travels; the incoming record's gaps are filled as usual.
            mine = sf_values if incoming == SF else books_values
            base = {name: existing.get(name) for name in page.shared if mine.get(name) is not None}
    result: Resolution = merge(
        base,
        Side(SF, sf_values, crm_fields.CUSTOMER_FIELDS, customer.modified_at),
        Side(sb.name, books_values, sb.customer_fields, books_customer.modified_at),
        page.owners(),
        settings.source_priority,
    )
    for conflict in result.conflicts:
        page.audit(sb.name, sb.customer_object, books_id, "conflict", account_id, **conflict.as_detail())
    page.counts["conflicts"] += len(result.conflicts)
    if not result.in_sync:
        page.counts["drift"] += 1
    if result.to_books:
        after = Customer.model_validate(F.unflatten(result.to_books, as_json(books_customer)))
        written = with_retries(sb.update_customer)(books_id, books_customer, after, page.ctx)
        books_values = F.project(as_json(written), sb.customer_fields)
        page.versions.remember(page.books_ref(books_id), books_values, ours=True, modified_at=stamp_of(written))
        page.audit(sb.name, sb.customer_object, books_id, "updated", account_id, fields=sorted(result.to_books))
        page.counts["updated_books"] += 1
    else:
        page.versions.remember(page.books_ref(books_id), books_values, ours=False, modified_at=None)
    if result.to_salesforce:
        _to_salesforce(page, record, customer, result.to_salesforce)
    page.bases[account_id] = result.merged


def _set_archived(page: Page, books_id: str, *, archived: bool) -> None:
    """The books customer archived or restored (when it isn't already), remembered as our own write."""
    sb = page.sb
    books_customer = with_retries(sb.read_customer)(books_id, page.ctx)
    if books_customer is None or books_customer.archived == archived:
        return
    after = books_customer.model_copy(update={"archived": archived})
    written = with_retries(sb.update_customer)(books_id, books_customer, after, page.ctx)
    values = F.project(as_json(written), sb.customer_fields)
    page.versions.remember(page.books_ref(books_id), values, ours=True, modified_at=stamp_of(written))


def _deleted(page: Page, account_id: str, books_id: str, base: dict[str, Any] | None) -> None:
    if base is not None and base.get("_deleted"):
        return  # already handled
    sb = page.sb
    if page.deps.settings.delete_policy == "archive":
        _set_archived(page, books_id, archived=True)
        page.audit(sb.name, sb.customer_object, books_id, "archived", account_id, reason="Account deleted")
        page.counts["archived"] += 1
    else:
        page.audit(sb.name, sb.customer_object, books_id, "delete_ignored", account_id)
        page.counts["delete_ignored"] += 1
    page.bases[account_id] = {**(base or {}), "_deleted": True}


def _undeleted(page: Page, account_id: str, books_id: str) -> None:
    sb = page.sb
    if page.deps.settings.delete_policy == "archive":
        _set_archived(page, books_id, archived=False)
        page.audit(sb.name, sb.customer_object, books_id, "restored", account_id, reason="Account undeleted")
        page.counts["restored"] += 1


def _link_new(page: Page, record: dict[str, Any], customer: Customer, sf_values: dict[str, Any]) -> bool:
    """An Account with no customer yet: link it to the one golden-record matching finds (True); queue the pair for
    review when unsure, or queue its customer for creation with the page's others (False: remembered once made, at
    the flush, in ``_created``; a record in review is remembered once a person decides)."""
    sb, ledger, account_id = page.sb, page.deps.ledger, record["Id"]
    ref = (SF, ACCOUNT, account_id)
    decided = page.reviews_of(account_id)
    if any(r.status == review.PENDING and r.source == ref for r in decided):
        page.counts["in_review"] += 1
        return False
    rejected = frozenset(r.target[2] for r in decided if r.status == review.REJECTED and r.source == ref)
    pool = books_pool(page.deps, page.run_id, page.ctx)
    settings = page.deps.settings
    verdict = golden.decide(pool, customer, settings, rejected)
    if verdict.decision is Decision.LINK and verdict.target is not None:
        ledger.link(ref, page.books_ref(verdict.target))
        pool.taken.add(verdict.target)
        page.audit(
            sb.name, sb.customer_object, verdict.target, "matched", account_id, how=verdict.how, score=verdict.score
        )
        page.counts["matched"] += 1
        policy = (golden.policy(settings, SF), SF)
        _settle(page, record, customer, sf_values, verdict.target, None, None, policy)
        return True
    if verdict.decision is Decision.REVIEW and verdict.target is not None:
        review.queue(
            ledger,
            flow=FLOW,
            source=ref,
            target=page.books_ref(verdict.target),
            score=verdict.score,
            why=verdict.why,
            source_record=as_json(customer),
            target_record=as_json(pool.customers[verdict.target]),
        )
        pool.taken.add(verdict.target)
        page.counts["in_review"] += 1
        return False
    page.creates.add(
        lambda: sb.create_customer(customer, page.ctx),
        lambda books_id: _created(page, record, customer, sf_values, books_id),
        lambda exc: page.fail((SF, ACCOUNT, account_id), exc, {"Name": record.get("Name")}),
    )
    return False


def _created(page: Page, record: dict[str, Any], customer: Customer, sf_values: dict[str, Any], books_id: str) -> None:
    """The customer made in the books for a new Account: link the pair; the Account is now seen as it is."""
    sb, account_id = page.sb, record["Id"]
    page.links.append(((SF, ACCOUNT, account_id), page.books_ref(books_id)))  # written as soon as the creates are
    books_pool(page.deps, page.run_id, page.ctx).taken.add(books_id)
    page.audit(sb.name, sb.customer_object, books_id, "created", account_id, code=customer.code)
    page.counts["created_books"] += 1
    page.bases[account_id] = sf_values
    page.versions.remember((SF, ACCOUNT, account_id), sf_values, ours=False, modified_at=record.get("SystemModstamp"))
    # What we sent: the books pass takes the customer, when it reads it back unchanged, for our own echo at once.
    made = F.project(as_json(customer), sb.customer_fields)
    page.versions.remember(page.books_ref(books_id), made, ours=True, modified_at=None)


def _approved_policy(page: Page, account_id: str, books_id: str) -> tuple[DuplicateAction, str] | None:
    """A pair a person linked in the review queue settles, the first time, by the policy of its direction."""
    for r in page.reviews_of(account_id):
        if r.status == review.APPROVED and books_id in (r.source[2], r.target[2]):
            incoming = r.source[0]
            action = DuplicateAction(r.action) if r.action else golden.policy(page.deps.settings, incoming)
            return action, incoming
    return None


def settle_account(
    page: Page,
    record: dict[str, Any],
    books_customer: Customer | None = None,
    policy: tuple[DuplicateAction, str] | None = None,
) -> None:
    """One Account as Salesforce has it now (deleted or not), against its customer in the books. ``policy``: the
    pair was just linked by matching."""
    account_id = record["Id"]
    books_id, base = page.books_id(account_id), page.base(account_id)
    if record.get("IsDeleted"):
        if books_id:
            _deleted(page, account_id, books_id, base)
        return
    if books_id and base is not None and base.get("_deleted"):
        _undeleted(page, account_id, books_id)
        base = {k: v for k, v in base.items() if k != "_deleted"}
        page.bases[account_id] = base
    values = page.account_mapping.apply(record, page.ctx).values
    customer = Customer.model_validate(values)
    sf_values = F.project(as_json(customer), crm_fields.CUSTOMER_FIELDS)
    sf_ref = (SF, ACCOUNT, account_id)
    if books_id is None:
        if not _link_new(page, record, customer, sf_values):
            return  # remembered once its customer is made (_created)
    elif books_customer is None and not page.full and page.unchanged(account_id, sf_values):
        page.counts["unchanged"] += 1  # nothing new since we last saw or wrote it (our own echo, typically)
        return
    elif books_customer is None and base is not None and same(sf_values, base, page.shared):
        page.counts["unchanged"] += 1  # a change to nothing the books hold: nothing to send
    else:
        if base is None and policy is None:
            policy = _approved_policy(page, account_id, books_id)
        _settle(page, record, customer, sf_values, books_id, books_customer, base, policy)
    page.versions.remember(sf_ref, sf_values, ours=False, modified_at=record.get("SystemModstamp"))


def flush(page: Page) -> None:
    """Create the page's new customers in the books; send its Salesforce writes, link what was created,
    remember what Salesforce now holds."""
    try:
        page.creates.send()
    finally:
        page.save()
    rt = page.deps
    ledger, sb = rt.ledger, page.sb

    def account_failed(key: str, exc: PermanentError) -> None:
        source = page.books_ref(page.new_accounts[key][0]) if key in page.new_accounts else (SF, ACCOUNT, key)
        page.fail(source, exc)
        page.bases.pop(key, None)

    done = with_retries(page.accounts.send, BATCH_WRITE_RETRY)(rt.crm, account_failed) if page.accounts else {}
    doubtful: set[str] = set()
    for code, (books_id, customer) in page.new_accounts.items():
        if code not in done:
            continue
        account_id, created = done[code]
        ledger.link((SF, ACCOUNT, account_id), page.books_ref(books_id))
        page.audit(SF, ACCOUNT, account_id, "created" if created else "matched", books_id, code=code)
        page.counts["created_salesforce"] += 1
        if not created:  # an Account made by an earlier attempt of this page: its Contacts may be there too
            doubtful.add(account_id)
        for person in customer.contacts:
            contact = _contact_payload(person.model_dump(mode="json"), page.ctx)
            page.contacts.creates.append((account_id, {"AccountId": account_id, **contact}))
        page.written[account_id] = ["created"]
        values = F.project(as_json(customer), sb.customer_fields)
        page.versions.remember(page.books_ref(books_id), values, ours=False, modified_at=stamp_of(customer))
    if page.contacts:
        _send_contacts(page, rt, doubtful)
    written = [a for a in page.written if a not in page.failed]
    for record in accounts_by_id(rt, written):
        values = load_mapping("salesforce/account_to_canonical").apply(record, page.ctx).values
        sf_values = F.project(values, crm_fields.CUSTOMER_FIELDS)
        expected = page.expected.get(record["Id"])
        if expected is not None and expected != sf_values:
            # Someone changed the Account or a Contact between our read and now. Taking what Salesforce holds for
            # our own write would hide their change (skipped as our echo, then reverted by reconciliation): keep
            # what we wrote, so their change differs from it and is synced next time.
            sf_values = expected
        page.versions.remember(
            (SF, ACCOUNT, record["Id"]), sf_values, ours=True, modified_at=record.get("SystemModstamp")
        )
        base = page.bases.setdefault(record["Id"], dict(sf_values))
        if "contacts" in sf_values:
            base["contacts"] = sf_values["contacts"]  # what Salesforce holds now (contacts are never deleted)
        action = "created" if page.written[record["Id"]] == ["created"] else "updated"
        if action == "updated":
            page.audit(SF, ACCOUNT, record["Id"], action, record["Id"], fields=page.written[record["Id"]])
            page.counts["updated_salesforce"] += 1
    save_bases(ledger, ENTITY, {a: base for a, base in page.bases.items() if a not in page.failed})
    page.save()
    page.versions.save(ledger)  # last: only now is every write of the page out


def sync_account_records(deps: Deps, records: list[dict[str, Any]], run_id: str, *, full: bool) -> dict[str, int]:
    """Settle a page of Accounts (as read with ``ACCOUNT_FIELDS``) with the books."""
    page = Page(deps, run_id, full, transform_context(deps))
    page.prefetch([record["Id"] for record in records])
    for record in records:
        try:
            settle_account(page, record)
        except RECORD_ERRORS as exc:
            page.fail((SF, ACCOUNT, record["Id"]), exc, as_read(record))
    flush(page)
    return dict(page.counts)
