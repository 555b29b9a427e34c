"""Who the token belongs to: the Identity URL (``/id/{orgId}/{userId}``) and the OpenID Connect UserInfo endpoint.

Both are OAuth endpoints on the login host, outside ``/services/data``: they take the access token as a Bearer
header or as an ``oauth_token`` / ``access_token`` parameter, do not count against the API allocation, and answer
an invalid token with 403 ``Bad_OAuth_Token`` (not the REST API's 401). Sources:

- Identity URLs: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm&type=5 and
  https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-using-identity-urls.html (parameters
  ``format``, ``version``; ``{version}`` stays literal in ``urls`` when no version is asked for);
- UserInfo: https://help.salesforce.com/s/articleView?id=remoteaccess_using_userinfo_endpoint.htm&type=5
  (``https://login.salesforce.com/services/oauth2/userinfo``, OpenID Connect claims ``sub``, ``user_id``,
  ``organization_id``, ``preferred_username``, …);
- the 403 for a bad token: jsforce/jsforce#736 and forcedotcom/SalesforceMobileSDK-Android#2430.

jsforce's ``Connection.identity()`` reads the Identity URL; salesforce-pubsub-api-client reads UserInfo after its
OAuth client-credentials and JWT logins.
"""

from __future__ import annotations

from typing import Any

from . import ids
from .org import SalesforceOrg
from .tokens import TokenInfo

BAD_TOKEN = "Bad_OAuth_Token"


def access_token(authorization: str | None, params: dict[str, str]) -> str:
    """The token from ``Authorization: Bearer …`` or, as the Identity URL also allows, a query parameter."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return params.get("oauth_token") or params.get("access_token") or ""


def identity_url(org: SalesforceOrg, base_url: str) -> str:
    return f"{base_url}/id/{org.config.org_id}/{org.config.user_id}"


def _urls(org: SalesforceOrg, base_url: str, version: str | None) -> dict[str, str]:
    v = version or "{version}"
    org15 = org.config.org_id[:15]
    data = f"{base_url}/services/data/v{v}"
    return {
        "enterprise": f"{base_url}/services/Soap/c/{v}/{org15}",
        "metadata": f"{base_url}/services/Soap/m/{v}/{org15}",
        "partner": f"{base_url}/services/Soap/u/{v}/{org15}",
        "rest": f"{data}/",
        "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/",
        "query": f"{data}/query/",
        "recent": f"{data}/recent/",
        "tooling_soap": f"{base_url}/services/Soap/T/{v}/{org15}",
        "tooling_rest": f"{data}/tooling/",
        "profile": f"{base_url}/{org.config.user_id}",
        "custom_domain": base_url,
    }


def _version(org: SalesforceOrg, requested: str | None) -> str | None:
    """The ``version`` parameter: a number, ``latest`` (the newest served), or absent (``{version}`` stays)."""
    if not requested:
        return None
    if requested == "latest":
        return org.config.supported_versions[-1]
    return requested if requested in org.config.supported_versions else None


def _user(org: SalesforceOrg, user_id: str) -> dict[str, Any] | None:
    record = org.records.get(user_id)
    return dict(record) if record else None


def identity_body(
    org: SalesforceOrg, token: TokenInfo, user_id: str, base_url: str, version: str | None
) -> dict[str, Any] | None:
    """The Identity URL's JSON for ``user_id`` (None when the org has no such user)."""
    normalized = ids.normalize(user_id)
    user = _user(org, normalized) if normalized and normalized.startswith("005") else None
    if user is None or user.get("IsDeleted"):
        return None
    first, last = user.get("FirstName") or "", user.get("LastName") or ""
    return {
        "id": f"{base_url}/id/{org.config.org_id}/{user['Id']}",
        "asserted_user": user["Id"] == org.config.user_id and token.username == org.config.username,
        "user_id": user["Id"],
        "organization_id": org.config.org_id,
        "username": user.get("Username"),
        "nick_name": (user.get("Username") or "").partition("@")[0],
        "display_name": user.get("Name") or f"{first} {last}".strip(),
        "email": user.get("Email"),
        "email_verified": True,
        "first_name": first or None,
        "last_name": last,
        "timezone": "GMT",
        "photos": {
            "picture": f"{base_url}/profilephoto/005/F",
            "thumbnail": f"{base_url}/profilephoto/005/T",
        },
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": None,
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(org, base_url, _version(org, version)),
        "active": bool(user.get("IsActive", True)),
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_GB",
        "utcOffset": 0,
        "last_modified_date": user.get("LastModifiedDate"),
        "is_app_installed": True,
    }


def userinfo_body(org: SalesforceOrg, token: TokenInfo, base_url: str, version: str | None) -> dict[str, Any]:
    """OpenID Connect UserInfo for the token's user: the identity facts under the OIDC claim names."""
    identity = identity_body(org, token, org.config.user_id, base_url, version)
    assert identity is not None, "the admin user is seeded with the org"
    return {
        "sub": identity["id"],
        "user_id": identity["user_id"],
        "organization_id": identity["organization_id"],
        "preferred_username": identity["username"],
        "nickname": identity["nick_name"],
        "name": identity["display_name"],
        "email": identity["email"],
        "email_verified": identity["email_verified"],
        "given_name": identity["first_name"],
        "family_name": identity["last_name"],
        "zoneinfo": identity["timezone"],
        "photos": identity["photos"],
        "profile": identity["urls"]["profile"],
        "picture": identity["photos"]["picture"],
        "address": {},
        "urls": identity["urls"],
        "active": identity["active"],
        "user_type": identity["user_type"],
        "language": identity["language"],
        "locale": identity["locale"],
        "utcOffset": identity["utcOffset"],
        "updated_at": identity["last_modified_date"],
        "is_app_installed": identity["is_app_installed"],
    }
