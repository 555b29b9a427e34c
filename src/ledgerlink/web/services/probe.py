"""Testing a connection: sign in and make one cheap read. Errors are reported without any secret in them."""

from __future__ import annotations

from typing import Any

from ledgerlink.web.logs import redact


def probe(spec: dict[str, Any]) -> tuple[bool, str, dict[str, float]]:
    """(ok, message, samples) — samples are API-budget readings to chart, when the system reports them."""
    system = spec["system"]
    secrets = [str(v) for v in spec.get("credentials", {}).values()]
    try:
        if system == "salesforce":
            return _salesforce(spec)
        if system == "kashflow":
            return _kashflow(spec)
        return False, f"testing {system} connections is not supported yet", {}
    except Exception as exc:  # any failure is the answer to "does it work?", reported not raised
        message = f"{type(exc).__name__}: {exc}"
        for secret in secrets:
            if secret:
                message = message.replace(secret, "[redacted]")
        return False, redact(message)[:400], {}


def _salesforce(spec: dict[str, Any]) -> tuple[bool, str, dict[str, float]]:
    from ledgerlink.engine.connections import build_salesforce

    client = build_salesforce(spec, client_tag="ledgerlink-console")
    try:
        list(client.query("SELECT Id FROM Account LIMIT 1"))
        usage = client.usage
        samples = {"api_used": float(usage.used), "api_limit": float(usage.limit)} if usage.limit else {}
        return True, f"signed in and queried ({usage.used}/{usage.limit} API calls used today)", samples
    finally:
        client.close()


def _kashflow(spec: dict[str, Any]) -> tuple[bool, str, dict[str, float]]:
    from ledgerlink.engine.connections import build_accounting

    books = build_accounting(spec)
    try:
        books.find_customer("LEDGERLINK-CONNECTION-TEST")
        return True, "signed in and read customers", {"api_calls": float(books.api_calls())}
    finally:
        books.close()
