"""Testing a connection: the system's own probe (sign in, one cheap read), reported without any secret in it."""

from __future__ import annotations

from typing import Any

from ledgerlink.logs import redact
from ledgerlink.systems.registry import UnknownSystem, get_system
from ledgerlink.systems.spec import ProbeResult


def probe(spec: dict[str, Any]) -> ProbeResult:
    secrets = [str(v) for v in (spec.get("credentials") or {}).values() if v]
    try:
        return get_system(spec["system"]).probe(spec)
    except UnknownSystem as exc:
        return ProbeResult(False, str(exc))
    except Exception as exc:  # any failure is the answer to "does it work?", reported not raised
        from ledgerlink.logs import register_secret

        for secret in secrets:
            register_secret(secret)
        return ProbeResult(False, redact(f"{type(exc).__name__}: {exc}")[:400])
