"""A local Salesforce org: REST API, SOQL, composite, OAuth 2.0 and a change-event log, served over real HTTP.

Emulated (API v31.0 to the configured version, 68.0 by default):

- OAuth 2.0 token endpoint: client credentials (body or Basic auth), JWT bearer (RS256, checked against
  ``jwt_certificate_pem``), username-password (which issues refresh tokens) and refresh token; revocation; the
  Identity URL ``/id/{org}/{user}`` and ``/services/oauth2/userinfo`` (``identity.py``); SOAP ``login()`` and
  ``logout()``, off unless ``soap_login_enabled`` as in orgs created since Winter '26 (``soap_login.py``).
- REST: sObject create/read/update/delete (soft delete, IsDeleted), upsert by external id or Id (201/200/300,
  ``updateOnly``), describe (global and per object), ``updated/`` and ``deleted/``, ``limits/``, file bytes at
  ``sobjects/ContentVersion/{id}/VersionData``; Salesforce's error codes in list-shaped bodies; 18-character ids
  with the case-safe checksum; ``Sforce-Limit-Info`` on every response but ``GET /services/data/``.
- SOQL (``query``/``queryAll``): a real lexer, parser and evaluator; relationship fields, child subqueries,
  semi-joins, AND/OR/NOT, IN/NOT IN, LIKE, INCLUDES/EXCLUDES, date and datetime literals, relative date literals,
  ORDER BY with NULLS FIRST/LAST, LIMIT, OFFSET, COUNT()/COUNT(field)/SUM/AVG/MIN/MAX with GROUP BY,
  FIELDS(ALL|STANDARD|CUSTOM); pages of 2,000 with server-side query locators.
- Composite: sObject Collections (create/update/delete/upsert/read, allOrNone) and ``composite`` with
  ``@{ref.path}`` references and allOrNone; each counts as one API call. ``recent`` (recently changed records stand
  in for recently viewed ones). Bulk API 2.0 ingest and query jobs (``bulk_ingest.py``, ``bulk_query.py``).
- SOSL at ``search?q=FIND {…}`` (``sosl.py``): terms, phrases, wildcards, AND/OR/AND NOT, IN … FIELDS, RETURNING
  with fields, WHERE, ORDER BY, LIMIT and OFFSET.
- Tooling API: ``ManagedEventSubscription`` only, for the Pub/Sub API's managed subscriptions (``tooling.py``).
- Daily API allocation (403 REQUEST_LIMIT_EXCEEDED past it), Sforce-Call-Options client ids recorded on every change,
  a change-event log for CDC (``events.py``), derived fields and roll-ups (``derivations.py``).
- Faults (latency, 5xx, dropped connections) through ``ledgerlink.sandbox._faults.FaultInjector``.

Deliberate simplifications: one user (the admin) and no sharing or field-level security; the org time zone is UTC;
the API allocation resets every 24 h since the counter started instead of rolling; access tokens expire a fixed
``token_ttl_seconds`` after issue (not after inactivity); undelete is a Python/admin call only; no triggers,
validation rules, record types, formula fields or Bulk API 1.0; SOQL has no HAVING, TYPEOF, or date functions;
SOSL (``sosl.py``) has no relevance ranking.
"""

from .app import create_app
from .config import SalesforceSandboxConfig, credentials
from .events import ChangeEvent, ChangeEventLog
from .org import SalesforceOrg

__all__ = ["ChangeEvent", "ChangeEventLog", "SalesforceOrg", "SalesforceSandboxConfig", "create_app", "credentials"]
