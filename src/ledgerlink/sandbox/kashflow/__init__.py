"""KashFlow REST API v2 sandbox, served under ``/v2`` (a client's base URL is ``http://127.0.0.1:PORT/v2``).

Faithful to ``reference/kashflow.md``. Where that and KashFlow's public pages are silent, the choices
below are this sandbox's, made as a careful vendor would; connectors may rely on them.

Authentication
    ``POST /v2/sessiontoken {UserName, Password}`` → ``TemporaryToken`` and three distinct 1-based
    ``MemorableWordList`` positions; ``PUT /v2/sessiontoken {TemporaryToken, MemorableWordList:[{Position,
    Value}]}`` (letters case-insensitive) → ``SessionToken``; then ``Authorization: KfToken {token}``.
    A temporary token lives 5 minutes and is single use: wrong letters answer 400 ``InvalidMemorableWord``
    and burn it (start again at step 1); a used/unknown/expired one answers 400 ``InvalidTemporaryToken``.
    ``max_login_failures`` (5) consecutive bad passwords or bad letters lock the account: 400
    ``AccountLocked`` for ``lockout_minutes`` (30) of sandbox time, or until ``POST /__admin/unlock``.
    Sessions expire after ``session_idle_minutes`` (60) without use; every authenticated call resets the
    timer. Sessions live in memory: a restarted sandbox wants a new login (data persists). ``DELETE
    /v2/sessiontoken/{token}`` answers 204 even for an unknown token (logging out twice is not an error).

Wire format
    Amounts are JSON *numbers* printed with exactly four decimals (``46.0000``); parse them with
    ``parse_float=Decimal`` to stay exact. Input amounts may be numbers or strings. JSON keys and query
    parameter names are matched case-insensitively. Dates are served as ``2012-06-28 12:00:00`` in UTC
    (the account's time zone); input is lenient ISO 8601 (``T`` or space, fractions, ``Z``, offsets,
    bare dates) and offsets are converted to UTC. A malformed value answers 400 with ``{"Error":
    "ValidationError", "Message": "<Field>: …", "Field": "<Field>"}``; line errors name the line,
    1-based: ``LineItems[2].VATLevel``. Other errors: 401 ``InvalidSessionToken``, 404 ``NotFound``,
    400 ``DuplicateCustomerCode``, ``CustomerHasTransactions``, ``InvoiceHasPayments``, ``InvoiceIsDraft``.
    Creates answer 201 with the entity and a ``Location``; deletes answer 204.

Lists
    ``{Data, MetaData{FirstPageUrl, LastPageUrl, NextPageUrl, PreviousPageUrl, TotalRecords}}`` with
    absolute page URLs; ``page`` (1-based), ``perpage`` (default 100, 1..500, else 400), ``sortby`` (any
    field of the row, ties broken by Id), ``order`` (Asc/Desc); ``filterby`` is a case-insensitive
    substring search (customers: Code, Name, Email; invoices: Number, CustomerName, CustomerReference).
    Rows of invoice lists are summaries: ``LineItems`` and ``PaymentLines`` are null.

Changed since (watermarks)
    ``?updatedsince=<date>`` on ``/customers``, ``/invoices`` and ``/products`` keeps rows whose
    ``LastUpdatedDate >= updatedsince``. It is inclusive at one-second precision (the precision dates are
    served with), so a poller re-reading from its last watermark sees the boundary rows again and must
    de-duplicate. Read with ``sortby=LastUpdatedDate&order=Asc``. Adding or deleting a payment updates
    the invoice's ``LastUpdatedDate``; an invoice turning ``Overdue`` by the passing of time does not.
    ``/invoices/bulk/payments?updatedsince=`` filters payments on their ``CreatedDate``.

Customers
    ``Code`` is the key, unique ignoring case (``/customers/acme`` finds ``ACME``); if absent one is made
    from the name (``BRIGHT01``); a duplicate answers 400 unless ``CreateCustomerCodeIfDuplicate`` is true,
    when a free code is made from it. PUT merges (absent fields keep their value; the code cannot change).
    ``PaymentTerms`` is an object ``{"Days": n, "Type": "Days"|"AfterMonthEnd"|…}`` as KashFlow's example
    shows it (a bare number of days is accepted on input), default 30 days. ``VATNumber`` and contacts'
    ``Firstname``/``Telephone``/``Mobile`` are spelled as in that example. ``OutstandingBalance`` and
    ``TotalPaidAmount`` are derived from issued (non-draft) invoices. A customer with invoices cannot be
    deleted (archive it with ``IsArchived``). ``/customers/search``: ``name`` is a substring match,
    ``email`` and ``code`` exact, all ignoring case.

Invoices
    Per line: net = Quantity × Rate, VAT = net × VATLevel / 100, each rounded to the penny ROUND_HALF_UP;
    totals are sums of the rounded lines. ``VATLevel`` must be one of ``vat_rates`` (default: the highest,
    or the product's rate); ``VATExempt`` zeroes the VAT; a client may send a line ``VATAmount`` within one
    penny of the computed one (the rounding guard for VAT-inclusive sources). ``NominalCode`` defaults to
    4000 and must exist; a ``ProductCode`` must exist and fills Description/Rate/VATLevel/NominalCode.
    ``Number`` is honoured when free, else the next free number (``max + 1``, also what
    ``/nextavailableinvoicenumber`` answers, as a bare JSON integer). ``DueDate`` defaults to IssuedDate
    plus the customer's PaymentTerms. Status: ``Draft`` (only when the client sends ``Status: "Draft"``;
    any other status value issues it), else ``Paid`` when nothing is due, else ``Overdue`` when DueDate is
    before today on the sandbox clock (even if part-paid), else ``PartPaid`` or ``Unpaid``. PUT merges;
    ``LineItems`` given replace all lines; the gross may not fall below what has been paid. An invoice
    with payments cannot be deleted. ``Permalink`` is a public (no session) PDF document,
    ``/v2/documents/invoice/{guid}``; ``GET /v2/invoices/{number}/pdf`` (unverified) needs a session.

Payments
    Only bulk payments, as documented: ``POST /v2/invoices/bulk/payments`` with a ``BulkPayment``
    ``{Number, Date, Comment, AccountId, Method, Reconciled, PaymentItems[{ObjectNumber, Amount, Note}]}``
    (all items applied or none; errors name the item, ``PaymentItems[2].Amount``), ``GET
    /v2/invoices/bulk/payments[/{number}]``, ``DELETE /v2/invoices/bulk/payments/{number}``. ``Amount`` (> 0,
    whole pennies, at most the amount due), ``Method`` (one of the account's own method ids,
    ``config.payment_methods``, e.g. 409844) and ``AccountId`` (an existing bank account; the seeded one is
    55166) are required; ``Date`` defaults to now. There is no ``/v2/invoices/{number}/payments``. Each payment
    posts a bank transaction
    (PaidIn, ``ResourceNumber`` = invoice number) that its deletion removes. ``PaidDate`` is the latest
    payment's date once the invoice is paid.

Also: products ``/v2/products[/{nominalCode}/{code}]``, nominals ``/v2/nominals`` (seeded UK chart: 1100,
1200 Bank, 2200 VAT, 4000 Sales, …), bank accounts ``/v2/bankaccounts`` (one seeded current account, Id 55166)
with ``/transactions``, and ``/v2/vatrates``. Not emulated: suppliers, purchases, quotes, notes, PUT on
bulk payments.

Rate limit: none by default (KashFlow publishes none); when configured, per session token (per caller
address before login), with the semantics in :mod:`ledgerlink.sandbox._ratelimit`; 429 body
``{"Error": "TooManyRequests", …}`` with ``Retry-After``.

Unverified behaviours (no public KashFlow source; ``GET|PUT /__admin/behaviour``): ``change_feed`` honoured |
ignored (``updatedsince`` has no effect) | rejected (400 naming ``UpdatedSince``); ``pdf_route`` present | missing
(``/invoices/{n}/pdf`` answers 404); ``credit_notes`` served | missing (``/internal/invoices/{id}/credits``, marked
internal by KashFlow, answers 404); ``refunds`` served | missing (a refund is a negative payment on a credit note, as
KashFlow's help describes its refunds; missing: refused as any negative payment). See ``docs/vendors/kashflow.md`` and
``docs/vendors/kashflow-refunds.md``.

Admin (never rate limited or faulted): ``POST /__admin/advance-clock {"seconds": n}``, ``GET
/__admin/clock``, ``GET|PUT /__admin/behaviour``, ``POST /__admin/expire-sessions``, ``POST /__admin/unlock``, ``GET|PUT
/__admin/ratelimit``, ``GET|PUT /__admin/faults``. Layering: ``RateLimiter(FaultInjector(api))``.
"""

from ledgerlink.sandbox.kashflow.app import create_app
from ledgerlink.sandbox.kashflow.config import KashFlowSandboxConfig, credentials

__all__ = ["KashFlowSandboxConfig", "create_app", "credentials"]
