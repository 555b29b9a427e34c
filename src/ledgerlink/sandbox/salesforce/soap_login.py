"""SOAP API ``login()`` and ``logout()`` on the partner endpoint ``/services/Soap/u/{version}`` (nothing else of
the SOAP API is served).

jsforce's ``Connection.login()`` uses SOAP when it has no OAuth client secret, and so does
salesforce-pubsub-api-client's ``username-password`` mode. What Salesforce documents, and the sandbox does:

- ``login()`` "is disabled by default for orgs created in Winter '26 and later" until an admin enables it
  (https://developer.salesforce.com/docs/platform/api/guide/sforce-api-calls-login.html), so it is off unless the
  org's ``soap_login_enabled`` is set; a disabled login is the fault ``INVALID_OPERATION: SOAP API login() is
  disabled by default in this org. Contact the org administrator to enable SOAP API login().`` (as reported in
  jsforce/jsforce#1771 and OpenFn/adaptors#1715);
- it "remains available in API version 64.0 and earlier" (same page): later versions get ``INVALID_OPERATION`` too
  (Salesforce publishes no code for that case);
- bad credentials: ``INVALID_LOGIN: Invalid username, password, security token; or user locked out.``;
- the ``LoginResult``: ``metadataServerUrl``, ``passwordExpired``, ``sandbox``, ``serverUrl``, ``sessionId``,
  ``userId``, ``userInfo`` (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_login_loginresult.htm).
  The session id is an ordinary access token: REST calls take it as a Bearer token.

Faults are HTTP 500 SOAP 1.1 faults. Bodies are bounded and may not carry a document type declaration (SOAP 1.1,
section 3: "A SOAP message MUST NOT contain a Document Type Declaration").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from .org import SalesforceOrg

MAX_BODY_BYTES = 64 * 1024
LAST_LOGIN_VERSION = 64.0
SOAP_CLIENT = "SOAP API login()"
XML_TYPE = "text/xml; charset=utf-8"
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
)
DISABLED = (
    "INVALID_OPERATION",
    "SOAP API login() is disabled by default in this org. Contact the org administrator to enable SOAP API login().",
)
INVALID_LOGIN = ("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.")


def fault(code: str, message: str) -> tuple[int, str]:
    body = (
        "<soapenv:Fault>"
        f"<faultcode>sf:{escape(code)}</faultcode>"
        f"<faultstring>{escape(code)}: {escape(message)}</faultstring>"
        "</soapenv:Fault>"
    )
    return 500, _ENVELOPE.format(body=body)


def handle(org: SalesforceOrg, version: str, body: bytes, base_url: str) -> tuple[int, str]:
    """(HTTP status, XML) for one SOAP request."""
    if len(body) > MAX_BODY_BYTES:
        return fault("INVALID_OPERATION", "The request body is too large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        return fault("INVALID_OPERATION", "A SOAP message must not contain a document type declaration")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return fault("INVALID_OPERATION", "The request body is not well-formed XML")
    call = next((el for el in root.iter() if _local(el.tag) in ("login", "logout")), None)
    if call is None:
        return fault("INVALID_OPERATION", "Only login() and logout() are served by this sandbox's SOAP API")
    if _local(call.tag) == "logout":
        return _logout(org, root)
    return _login(org, version, call, base_url)


def _login(org: SalesforceOrg, version: str, call: ET.Element, base_url: str) -> tuple[int, str]:
    if not org.config.soap_login_enabled:
        return fault(*DISABLED)
    if float(version) > LAST_LOGIN_VERSION:
        return fault("INVALID_OPERATION", f"SOAP API login() is not available in API version {version}")
    username, password = _text(call, "username"), _text(call, "password")
    cfg = org.config
    if username != cfg.username or password != cfg.password:
        return fault(*INVALID_LOGIN)
    session = org.tokens.issue("access", SOAP_CLIENT, username)
    org15 = cfg.org_id[:15]
    user = org.records.get(cfg.user_id) or {}
    result = (
        "<loginResponse><result>"
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>false</sandbox>"
        f"<serverUrl>{base_url}/services/Soap/u/{version}/{org15}</serverUrl>"
        f"<sessionId>{escape(session.token)}</sessionId>"
        f"<userId>{cfg.user_id}</userId>"
        "<userInfo>"
        f"<organizationId>{cfg.org_id}</organizationId>"
        f"<organizationName>LedgerLink Sandbox</organizationName>"
        f"<profileId>00e5g0000000001AAA</profileId>"
        f"<sessionSecondsValid>{cfg.token_ttl_seconds}</sessionSecondsValid>"
        f"<userEmail>{escape(str(user.get('Email') or username))}</userEmail>"
        f"<userFullName>{escape(str(user.get('Name') or ''))}</userFullName>"
        f"<userId>{cfg.user_id}</userId>"
        f"<userName>{escape(username)}</userName>"
        "<userTimeZone>GMT</userTimeZone>"
        "</userInfo>"
        "</result></loginResponse>"
    )
    return 200, _ENVELOPE.format(body=result)


def _logout(org: SalesforceOrg, root: ET.Element) -> tuple[int, str]:
    """``logout()`` ends the session named in the ``SessionHeader``."""
    header = next((el for el in root.iter() if _local(el.tag) == "SessionHeader"), None)
    token = _text(header, "sessionId") if header is not None else ""
    if not token or org.tokens.validate(token) is None:
        return fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session")
    org.tokens.revoke(token)
    return 200, _ENVELOPE.format(body="<logoutResponse/>")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(parent: ET.Element, name: str) -> str:
    child = next((el for el in parent if _local(el.tag) == name), None)
    return (child.text or "") if child is not None else ""
