"""Expired sessions and the daily API allocation, each on a fresh org."""

from __future__ import annotations

import pytest

from ledgerlink.systems.errors import ApiLimitExhausted

from .admin import admin
from .drivers import Driver, LedgerLinkDriver


def test_expired_session(fresh: Driver) -> None:
    record_id = fresh.create("Account", {"Name": "Before expiry"})
    admin(fresh.box, "POST", "expire-tokens")
    if fresh.renews_expired_session:
        assert fresh.get("Account", record_id)["Name"] == "Before expiry"  # renewed transparently
        assert fresh.create("Account", {"Name": "After expiry"}).startswith("001")
    else:
        assert fresh.expired_session is not None
        with pytest.raises(fresh.expired_session):
            fresh.get("Account", record_id)


def test_usage_is_reported_from_sforce_limit_info_and_limits(fresh: Driver) -> None:
    fresh.cheap_call()
    used, limit = fresh.api_usage()
    assert limit == 15_000 and used >= 1
    limits = fresh.limits()
    assert limits["DailyApiRequests"]["Max"] == 15_000
    assert limits["DailyApiRequests"]["Remaining"] == 15_000 - (used + 1)


def test_request_limit_exceeded_stops_the_client(fresh: Driver) -> None:
    fresh.cheap_call()
    used, _ = fresh.api_usage()
    admin(fresh.box, "POST", "daily-limit", json={"limit": used + 30})
    calls = 0
    with pytest.raises(fresh.limit_exceeded) as caught:
        for calls in range(1, 100):  # noqa: B007
            fresh.cheap_call()
    assert calls <= 31
    if isinstance(fresh, LedgerLinkDriver):
        # The connector stops at its reserve, before Salesforce has to refuse anything.
        assert isinstance(caught.value, ApiLimitExhausted)
        assert caught.value.code == "REQUEST_LIMIT_RESERVE"
        assert "daily API allocation" in caught.value.message
        server = admin(fresh.box, "GET", "api-usage")
        assert server["used"] < server["limit"]
    else:
        assert "REQUEST_LIMIT_EXCEEDED" in str(caught.value)
