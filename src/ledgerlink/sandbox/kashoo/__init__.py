"""Kashoo REST API sandbox, served under ``/api`` (a client's base URL is ``http://127.0.0.1:PORT/api``).

Faithful to ``reference/kashoo.md``. Kashoo's public material is thin, so most details below are this
sandbox's choices, made as a careful vendor would; connectors may rely on them.

Authentication
    ``POST /api/authTokens`` with form fields ``email``/``password`` (JSON or HTTP Basic also work;
    optional ``duration`` in ms may shorten, never lengthen, the life) answers 200 with
    ``{authenticationCode, expiryDate (epoch ms), locale, myUserId, restriction, site}``. Calls send
    ``Authorization: TOKEN json:<that JSON>`` or ``TOKEN uuid:<authenticationCode>``; only the server's
    expiry counts (``token_ttl_seconds``, 3600). Errors are 401 with ``errorCode`` ``INVALID_CREDENTIALS``,
    ``UNAUTHORIZED`` (no/garbled header), ``INVALID_TOKEN`` or ``TOKEN_EXPIRED``. ``DELETE
    /api/authTokens/{code}`` revokes (204). Tokens live in memory; data persists across restarts.

Shape
    ``GET /api/users/me/businesses`` lists the one business (``business_id``, stable, default 314159265);
    everything else is under ``/api/businesses/{id}/``: ``contacts``, ``items``, ``accounts``, ``taxes``,
    ``records/invoices``, ``records/invoicePayments``, ``records/{id}`` (any record) and
    ``records/{id}/pdf`` (an invoice as application/pdf). Another business id answers 404.
    Errors: ``{"errorCode", "message", "field"}``; validation is 400 ``INVALID_FIELD`` naming the field
    (``lines[0].unitPrice``, 0-based); also ``DUPLICATE``, ``READ_ONLY``, ``IN_USE``, 404 ``NOT_FOUND``,
    and ``/__admin/behaviour`` switches (below).

Ids, create, update, delete
    Ids are positive 64-bit integers, unique across all entity kinds. POST creates (201, entity and
    ``Location``). An ``id`` the client sends is ignored, as Kashoo's REST conventions say ("IDs provided
    should be ignored"): every POST makes a new entity, so a repeated POST makes a second one. Contacts and
    items keep a ``code`` (items refuse a duplicate active code with 400 ``DUPLICATE``). PUT merges (absent fields
    keep their value). ``removed: true`` by PUT, or DELETE
    (204), removes softly: the entity stays readable by id with ``removed: true`` and can be restored by
    PUT ``removed: false``. Lists omit removed entities unless ``includeRemoved=true`` — or
    ``modifiedSince`` is given (see below). Every write sets ``modified`` (epoch ms, strictly increasing).

Amounts, dates
    Amounts are integers in cents (1999 = 19.99); a fractional amount is refused, never rounded.
    ``quantity`` may be fractional. Dates are ``yyyy-MM-dd`` (an ISO timestamp is cut to its date), in
    UTC. Tax ``rate`` is a percentage number (5, 13, 9.975). Contact/invoice ``terms`` are whole days.

Lists and "changed since"
    ``?limit`` (default 100, at most 1000) and ``?offset`` (default 0): page until an empty array.
    Records also take ``startDate``/``endDate`` (inclusive, on ``date``) and ``contact``. Order: records by
    ``date`` then creation; other kinds by creation. ``?modifiedSince=<epoch ms | ISO timestamp>`` keeps
    entities with ``modified >= modifiedSince`` (inclusive), orders them by ``modified``, and *includes
    removed ones* so deletions propagate. A payment added or removed also bumps its invoice's ``modified``.

Invoices
    ``lines: [{item, description, quantity, unitPrice (cents), taxes: [taxId], account}]``; ``item`` fills
    the other fields' defaults. Per line: ``amount = quantity × unitPrice`` and, for each tax,
    ``amount × rate / 100``, each rounded to the cent ROUND_HALF_UP. ``subTotal`` = Σ line amounts,
    ``taxTotal`` = Σ line taxes, ``amount`` = ``totalDue`` = subTotal + taxTotal, ``balanceDue`` = amount −
    active payments; ``taxSummary`` totals per tax. ``number`` (a string) defaults to the next number
    from 1001; numbers are unique among active invoices. ``dueDate`` defaults to ``date`` + terms (the
    contact's, default 30). ``readOnly`` is true once a payment is applied: then contact, currency, date
    and lines cannot change and the invoice cannot be removed.

Invoice payments
    ``{invoice, amount (cents > 0), date, depositAccount (a BANK account; default the seeded Bank), memo}``;
    ``contact`` and ``currency`` come from the invoice. An amount above the invoice's ``balanceDue``
    answers 400 naming ``amount``. Removing a payment restores the balance.

Seeds: accounts Sales revenue (4000), Accounts receivable (1200), Bank (1000), Sales tax payable (2200);
taxes GST 5 %, HST (Ontario) 13 %, PST (BC) 7 %.

Rate limit: ``RateLimit(10, 1.0)`` by default (configurable, e.g. ``RateLimit(500, 3600)``), per token
authentication code (per Basic user or caller address otherwise), with the exact semantics in
:mod:`ledgerlink.sandbox._ratelimit`; 429 with ``Retry-After`` and ``{"errorCode": "TOO_MANY_REQUESTS"}``.

Unverified behaviours (no public Kashoo source; ``GET|PUT /__admin/behaviour``): ``change_feed`` honoured |
ignored (``modifiedSince`` has no effect) | rejected (400 naming it); ``pdf_route`` present | missing (404);
``credit_notes`` served | missing (``records/creditNotes`` answers 404); ``refunds`` served | missing
(``records/refunds``, a stand-in, answers 404). See ``docs/vendors/kashoo.md`` and ``docs/vendors/kashoo-refunds.md``.

Admin (never rate limited or faulted): ``POST /__admin/advance-clock {"seconds": n}``, ``GET
/__admin/clock``, ``POST /__admin/expire-tokens``, ``GET|PUT /__admin/behaviour``, ``GET|PUT /__admin/ratelimit``,
``GET|PUT
/__admin/faults``. Layering: ``RateLimiter(FaultInjector(api))``.

Not emulated: bills, bill payments, transfers, vendors' records, OAuth 2.0.
"""

from ledgerlink.sandbox.kashoo.app import create_app
from ledgerlink.sandbox.kashoo.config import KashooSandboxConfig, credentials

__all__ = ["KashooSandboxConfig", "create_app", "credentials"]
