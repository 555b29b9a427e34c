"""salesforce-pubsub-api-client 5.5 (pozil) against the sandbox's Pub/Sub API over gRPC with TLS."""

from __future__ import annotations

from typing import Any

from ledgerlink.sandbox.salesforce.tooling import subscriptions_of

from .conftest import JsSandbox, key_pair

FAST = {"pubsub": True, "keepalive_seconds": 0.3, "idle_close_seconds": 1.0}


def test_change_events_replay_flow_control_and_errors(make_js_sandbox: Any) -> None:
    sandbox: JsSandbox = make_js_sandbox(**FAST)
    out = sandbox.run("pubsub_events.mjs")
    assert out["ok"], out
    r = out["result"]
    deal, account = r["dealId"], r["accountId"]

    # Live: CREATE, UPDATE, DELETE of the deal, decoded by the client from Avro with the schema it fetched. The
    # client may hand over events of back-to-back responses out of order while it fetches the schema (its data
    # handler awaits GetSchema), so order is checked on the replay ids, as the org logged them.
    live = sorted(r["live"]["events"], key=lambda e: e["replayId"])
    assert [(e["header"]["changeType"], e["header"]["recordIds"]) for e in live] == [
        ("CREATE", [deal]),
        ("UPDATE", [deal]),
        ("DELETE", [deal]),
    ]
    create, update, delete = live
    assert create["fields"]["Name"] == "Streamed deal" and create["fields"]["Amount"] == 1200
    assert create["fields"]["AccountId"] == account and create["fields"]["StageName"] == "Prospecting"
    assert create["header"]["changedFields"] == []  # empty for a create, as documented
    # The client decodes the changedFields bitmap into names.
    assert {"StageName", "Amount", "LastModifiedDate"} <= set(update["header"]["changedFields"])
    assert update["fields"]["StageName"] == "Closed Won" and update["fields"]["Amount"] == 1500
    assert "Name" not in update["fields"]  # unchanged fields are null in an update
    assert delete["fields"] == {}
    for event in live:
        assert event["header"]["changeOrigin"].endswith(";client=js-pubsub")
        assert event["header"]["commitUser"] == sandbox.box.config.user_id
    assert len({e["replayId"] for e in live}) == 3
    # lastEvent after the 3 asked for, then the server ends the idle stream (1 s in this sandbox, 60 s by default).
    assert r["live"]["types"] == ["event", "event", "event", "lastEvent", "grpcStatus", "end"]
    assert r["live"]["info"]["receivedEventCount"] == 3

    # The events the org logged are the ones the client got.
    logged = [e for e in sandbox.org.events.events_after(None, 100) if e.entity_name == "Opportunity"]
    assert [e.replay_id for e in logged] == [e["replayId"] for e in live]

    # Replay after the CREATE gives what followed it.
    assert sorted(r["replay"]) == [[live[1]["replayId"], "UPDATE"], [live[2]["replayId"], "DELETE"]]
    # One event at a time from the earliest, across topics, topped up with requestAdditionalEvents.
    assert r["all"] == [
        [live[0]["replayId"] - 1, "Account", "CREATE"],
        *[[e["replayId"], "Opportunity", e["header"]["changeType"]] for e in live],
    ]

    bad = r["badReplay"]
    assert bad["code"] == 3  # INVALID_ARGUMENT
    assert bad["metadata"]["error-code"] == "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"

    topic = r["topic"]
    assert topic["topicName"] == "/data/OpportunityChangeEvent" and topic["canSubscribe"] is True
    assert topic.get("canPublish", False) is False  # proto3 leaves a false bool out
    assert topic["schemaIdMatchesEvents"] is True
    assert topic["recordName"] == "com.sforce.eventbus.OpportunityChangeEvent"
    assert topic["fields"][0] == "ChangeEventHeader" and {"Name", "StageName", "Amount"} <= set(topic["fields"])
    assert r["unknownTopic"]["error"]["code"] == 5
    assert r["unknownSchema"]["error"]["code"] == 5
    assert r["badToken"]["error"]["code"] == 16
    assert r["badToken"]["error"]["metadata"]["error-code"] == "sfdc.platform.eventbus.grpc.service.auth.error"

    # Compound fields as Salesforce sends them ("Get Compound Fields in Change Events"): nested BillingAddress,
    # changedFields naming the component, decoded by the client from the "<position>-0x…" bitmap.
    first, second = r["addresses"]
    assert {"BillingAddress.Street", "BillingAddress.City"} <= set(first["changed"])
    assert first["billing"]["Street"] == "1 Quay St" and first["billing"]["City"] == "Leeds"
    assert {"BillingAddress.City", "BillingAddress.Street"} <= set(second["changed"])
    assert second["nulled"] == ["BillingAddress.Street"]
    assert second["billing"]["City"] == "York" and second["billing"]["Street"] is None
    assert "BillingCity" not in first["changed"] and "BillingAddress" not in first["changed"]

    # A session handed over from jsforce, the org id read from the token's prefix as the client does.
    assert r["handedOver"] == ["CREATE", "UPDATE", "DELETE"]


def _signed_in(sandbox: JsSandbox, private_key: str) -> dict[str, Any]:
    out = sandbox.run("pubsub_auth.mjs", privateKey=private_key)
    assert out["ok"], out
    result: dict[str, Any] = out["result"]
    for mode in ("clientCredentials", "userSupplied"):  # OAuth token, then the UserInfo endpoint for the org id
        assert result[mode] == {"ok": True, "value": [result["accountId"]]}, mode
    return result


def test_sign_in_as_a_new_org_allows_it(make_js_sandbox: Any) -> None:
    """An org created today: SOAP login() is off (Winter '26 and later), and assertions may live 3 minutes."""
    private, public = key_pair()
    r = _signed_in(make_js_sandbox(jwt_certificate_pem=public, **FAST), private)
    # The client signs its JWT with exp 5 minutes ahead; the documented limit is 3.
    assert "too far in the future" in r["jwt"]["error"]["cause"]["message"]
    disabled = "INVALID_OPERATION: SOAP API login() is disabled by default in this org."
    assert r["usernamePassword"]["error"]["cause"]["message"].startswith(disabled)
    assert r["soapLogin"]["error"]["message"].startswith(disabled)
    assert r["soapWrongPassword"]["error"]["message"].startswith(disabled)


def test_sign_in_with_soap_login_enabled_and_five_minute_assertions(make_js_sandbox: Any) -> None:
    private, public = key_pair()
    sandbox: JsSandbox = make_js_sandbox(
        jwt_certificate_pem=public, jwt_max_lifetime_seconds=300, soap_login_enabled=True, **FAST
    )
    r = _signed_in(sandbox, private)
    assert r["jwt"] == {"ok": True, "value": [r["accountId"]]}
    assert r["usernamePassword"] == {"ok": True, "value": [r["accountId"]]}
    config = sandbox.box.config
    assert r["soapLogin"]["value"]["id"] == config.user_id
    assert r["soapLogin"]["value"]["organizationId"] == config.org_id
    assert r["soapQuery"] == ["Signed in"]  # the SOAP session id works as a REST bearer token
    assert r["afterLogout"]["error"]["errorCode"] == "INVALID_SESSION_ID"  # SOAP logout() ended it
    assert r["soapWrongPassword"]["error"]["message"].startswith("INVALID_LOGIN: Invalid username, password")


def test_managed_subscription_resumes_after_the_last_commit(make_js_sandbox: Any) -> None:
    sandbox: JsSandbox = make_js_sandbox(**FAST)
    out = sandbox.run("pubsub_managed.mjs")
    assert out["ok"], out
    r = out["result"]
    deals = r["deals"]
    sub_id = r["created"]["id"]
    assert sub_id.startswith("18x") and r["created"]["success"] is True

    tooling = r["toolingQuery"]
    assert (tooling["size"], tooling["totalSize"], tooling["entityTypeName"]) == (1, 1, "ManagedEventSubscription")
    assert tooling["record"]["Id"] == sub_id and tooling["record"]["DeveloperName"] == "Js_Deals"
    assert tooling["record"]["Metadata"]["topicName"] == "/data/OpportunityChangeEvent"
    assert tooling["record"]["Metadata"]["state"] == "RUN"
    assert r["badTopic"]["error"]["errorCode"] == "INVALID_INPUT"

    # defaultReplay EARLIEST: the first connection gets the first two deals, commits the second.
    assert [record for _, record in r["first"]["events"]] == deals[:2]
    assert r["first"]["info"]["isManaged"] is True and r["first"]["info"]["subscriptionId"] == sub_id
    # The second connection resumes right after that commit: deal 3, then deal 4 as it happens.
    assert [record for _, record in r["second"]["events"]] == [deals[2], r["fourthDeal"]]
    assert r["second"]["events"][0][0] > r["first"]["committed"]

    # The server kept the last good commit; the commit of a replay id it never issued was refused.
    stored = subscriptions_of(sandbox.org).get("Js_Deals")
    assert stored is not None and stored.committed_replay_id == r["second"]["lastGood"]
    assert stored.state == "STOP"

    assert "subscription is in STOP state" in r["stopped"]["error"]["message"]
    assert r["rawStopped"]["code"] == 9  # FAILED_PRECONDITION
    assert r["rawUnknown"]["code"] == 5  # NOT_FOUND
    assert r["afterDelete"] == 0
