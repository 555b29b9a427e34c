"""Connections: add, list, test, rotate credentials. Secrets go in sealed and only ever come out to a connector."""

from __future__ import annotations

import re
import secrets as pysecrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ledgerlink.alerts.senders import SmtpSettings
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import Connection, MetricSample
from ledgerlink.store.tables import utcnow
from ledgerlink.vault import Vault

# The secrets each system needs; everything else about a connection is not secret.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "salesforce": ("client_id", "client_secret"),
    "kashflow": ("username", "password", "memorable_word"),
    "kashoo": ("username", "password"),
    "smtp": ("username", "password"),
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ConnectionError_(ValueError):
    """Bad input for a connection; the message never contains a secret value."""


@dataclass(frozen=True)
class ConnectionView:
    """What pages and the API may show about a connection: never a secret, only which ones are set."""

    name: str
    system: str
    base_url: str
    settings: dict[str, Any]
    secret_names: list[str]
    has_webhook_secret: bool
    created_at: Any
    rotated_at: Any
    last_test_at: Any
    last_test_ok: bool | None
    last_test_message: str | None


def _view(row: Connection) -> ConnectionView:
    return ConnectionView(
        name=row.name,
        system=row.system,
        base_url=row.base_url,
        settings=dict(row.settings or {}),
        secret_names=list(row.secret_names or []),
        has_webhook_secret=row.webhook_secret_sealed is not None,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        last_test_at=row.last_test_at,
        last_test_ok=None if row.last_test_ok is None else bool(row.last_test_ok),
        last_test_message=row.last_test_message,
    )


OPTIONAL_SECRETS = {"smtp"}  # a local relay may take mail without signing in


def _check_secrets(system: str, values: dict[str, str]) -> dict[str, str]:
    wanted = SECRET_FIELDS[system]
    missing = [] if system in OPTIONAL_SECRETS else [name for name in wanted if not values.get(name)]
    if missing:
        raise ConnectionError_(f"{system} needs: {', '.join(missing)}")
    return {name: values.get(name, "") for name in wanted}


class Connections:
    def __init__(self, ledger: Ledger, vault: Vault) -> None:
        self.ledger = ledger
        self.vault = vault

    def add(
        self, name: str, system: str, base_url: str, secrets: dict[str, str], settings: dict[str, Any] | None = None
    ) -> tuple[ConnectionView, str]:
        """Create a connection; returns it and its new inbound-webhook secret (shown once, then sealed)."""
        if not NAME_RE.match(name):
            raise ConnectionError_("a connection name is lower-case letters, digits, '-' or '_' (max 64)")
        if system not in SECRET_FIELDS:
            raise ConnectionError_(f"system must be one of {', '.join(SECRET_FIELDS)}")
        schemes = ("smtp://", "smtps://") if system == "smtp" else ("http://", "https://")
        if not base_url.startswith(schemes) or len(base_url) > 500:
            raise ConnectionError_(f"base_url must start with {' or '.join(schemes)}")
        clean = _check_secrets(system, secrets)
        webhook_secret = pysecrets.token_urlsafe(32)
        with self.ledger.session() as s:
            if s.scalar(select(Connection).where(Connection.name == name)) is not None:
                raise ConnectionError_(f"a connection named {name!r} exists already")
            row = Connection(
                name=name,
                system=system,
                base_url=base_url,
                settings=settings or {},
                secret_names=sorted(clean),
                secrets_sealed=self.vault.seal_secrets(name, clean),
                webhook_secret_sealed=self.vault.seal_webhook_secret(name, webhook_secret),
            )
            s.add(row)
            s.flush()
            return _view(row), webhook_secret

    def list(self) -> list[ConnectionView]:
        with self.ledger.session() as s:
            return [_view(r) for r in s.scalars(select(Connection).order_by(Connection.name))]

    def get(self, name: str) -> ConnectionView | None:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            return _view(row) if row else None

    def rotate(self, name: str, secrets: dict[str, str]) -> ConnectionView:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None:
                raise KeyError(name)
            clean = _check_secrets(row.system, secrets)
            row.secrets_sealed = self.vault.seal_secrets(name, clean)
            row.secret_names = sorted(clean)
            row.rotated_at = utcnow()
            return _view(row)

    def new_webhook_secret(self, name: str) -> str:
        secret = pysecrets.token_urlsafe(32)
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None:
                raise KeyError(name)
            row.webhook_secret_sealed = self.vault.seal_webhook_secret(name, secret)
        return secret

    def delete(self, name: str) -> bool:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None:
                return False
            s.delete(row)
            return True

    # --- for connectors only ----------------------------------------------------------------------------

    def spec(self, name: str) -> dict[str, Any]:
        """The connection description the engine's connector builders take, secrets opened. Never render this."""
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None:
                raise KeyError(name)
            creds = self.vault.open_secrets(name, row.secrets_sealed)
            return {"system": row.system, "base_url": row.base_url, "credentials": creds, **(row.settings or {})}

    def webhook_secret(self, name: str) -> str | None:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None or row.webhook_secret_sealed is None:
                return None
            return self.vault.open_webhook_secret(name, row.webhook_secret_sealed)

    def first_of(self, system: str) -> str | None:
        with self.ledger.session() as s:
            return s.scalar(select(Connection.name).where(Connection.system == system).order_by(Connection.pk).limit(1))

    def smtp_settings(self) -> SmtpSettings | None:
        """The first SMTP connection, for alert e-mails; None when there is none."""
        name = self.first_of("smtp")
        if name is None:
            return None
        spec = self.spec(name)
        creds = spec["credentials"]
        return SmtpSettings(
            url=spec["base_url"],
            sender=str(spec.get("sender") or "ledgerlink@localhost"),
            username=creds.get("username") or None,
            password=creds.get("password") or None,
            ca_file=spec.get("ca_file"),
        )

    def record_test(self, name: str, ok: bool, message: str) -> None:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is not None:
                row.last_test_at = utcnow()
                row.last_test_ok = int(ok)
                row.last_test_message = message[:500]

    def sample(self, subject: str, name: str, value: float) -> None:
        with self.ledger.session() as s:
            s.add(MetricSample(subject=subject, name=name, value=value))
