"""Connections: add, list, test, rotate credentials. Secrets go in sealed and only ever come out to a connector."""

from __future__ import annotations

import json
import os
import re
import secrets as pysecrets
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from ledgerlink.alerts.senders import SmtpSettings
from ledgerlink.store import Ledger
from ledgerlink.store.console_tables import Connection, MetricSample
from ledgerlink.store.tables import utcnow
from ledgerlink.systems import registry
from ledgerlink.systems.changefeed import note_name
from ledgerlink.systems.registry import get_system
from ledgerlink.systems.spec import CredentialsError, Role, check_credentials
from ledgerlink.vault import Vault

# Alert e-mail goes out through an SMTP connection: not a system (no records flow through it), kept here beside them.
SMTP = "smtp"
SMTP_FIELDS = ("username", "password")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")  # \Z: "$" would let a trailing newline through


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
    # What the service did with the connector's change feed, as a worker or the last test found it
    # (``ChangeFeed.status``: parameter, state, mode, reason, since); None until one has read it.
    change_feed: dict[str, str] | None = None


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


# What a connection's settings may not say: these are checked on their own (or are the secrets themselves).
CHECKED_FIELDS = frozenset({"name", "system", "base_url", "credentials"})
MAX_SETTINGS_BYTES = 16_384


def _check_settings(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    clash = sorted(CHECKED_FIELDS & set(settings))
    if clash:
        raise ConnectionError_(f"settings may not set {', '.join(clash)}: give them as the connection's own fields")
    if len(json.dumps(settings, default=str)) > MAX_SETTINGS_BYTES:
        raise ConnectionError_(f"settings are limited to {MAX_SETTINGS_BYTES} bytes")
    options_model = None if kind == SMTP else get_system(kind).options
    if "options" in settings and options_model is not None:
        try:
            options_model.model_validate(settings["options"])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConnectionError_(f"options.{where}: {first['msg']}") from None
    return settings


def kinds() -> list[str]:
    """What a connection may be to: every registered system, and SMTP for alert e-mail."""
    return [*registry.names(), SMTP]


def credential_fields(kind: str) -> list[str]:
    """The credential fields a connection of ``kind`` takes (what the CLI and the console's form ask for)."""
    if kind == SMTP:
        return list(SMTP_FIELDS)
    return get_system(kind).credentials.field_names()


def required_fields(kind: str) -> list[str]:
    return [] if kind == SMTP else get_system(kind).credentials.required_fields()


# A credential written "env:NAME" is read from the server's environment by the connector. Only names the operator
# meant for that may be used: LEDGERLINK_SECRET_* by default, more through LEDGERLINK_ALLOWED_SECRET_ENV
# (comma-separated names, a trailing * for a prefix). The vault's own keys and the database URL never.
DEFAULT_SECRET_ENV = ("LEDGERLINK_SECRET_*",)
NEVER_FROM_ENV = frozenset({"LEDGERLINK_MASTER_KEY", "LEDGERLINK_NEW_MASTER_KEY", "LEDGERLINK_DATABASE_URL"})


def allowed_secret_env() -> tuple[str, ...]:
    extra = [p.strip() for p in os.environ.get("LEDGERLINK_ALLOWED_SECRET_ENV", "").split(",") if p.strip()]
    return (*DEFAULT_SECRET_ENV, *extra)


def env_name_allowed(name: str) -> bool:
    if name in NEVER_FROM_ENV or not name:
        return False
    return any(name.startswith(p[:-1]) if p.endswith("*") else name == p for p in allowed_secret_env())


def check_env_references(values: dict[str, str]) -> None:
    for field_name, value in values.items():
        if isinstance(value, str) and value.startswith("env:") and not env_name_allowed(value[4:]):
            raise ConnectionError_(
                f"credential {field_name!r} names an environment variable that connections may not read; "
                "use LEDGERLINK_SECRET_<NAME> or allow it in LEDGERLINK_ALLOWED_SECRET_ENV"
            )


def _check_secrets(kind: str, values: dict[str, str]) -> dict[str, str]:
    # Only the system's own credential fields are kept (what a sandbox prints carries more), as the form asks.
    wanted = credential_fields(kind)
    given = {name: value for name, value in values.items() if name in wanted and value not in (None, "")}
    check_env_references(given)
    if kind == SMTP:  # a local relay may take mail without signing in
        return {name: str(given.get(name, "")) for name in SMTP_FIELDS}
    try:
        return check_credentials(get_system(kind).credentials, given, kind).plain()
    except CredentialsError as exc:
        raise ConnectionError_(str(exc)) from None


def _with_feeds(ledger: Ledger, views: list[ConnectionView]) -> list[ConnectionView]:
    """Each connection with its change feed's state, noted by workers (or a test) under the service's URL."""
    names = {v.name: note_name(v.system, v.base_url) for v in views}
    notes = ledger.get_watermarks(names.values()) if names else {}
    out = []
    for v in views:
        try:
            status = json.loads(notes[names[v.name]]) if names[v.name] in notes else None
        except ValueError:
            status = None
        feed = {str(k): str(val) for k, val in status.items()} if isinstance(status, dict) else None
        out.append(replace(v, change_feed=feed))
    return out


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
        if system not in kinds():
            raise ConnectionError_(f"system must be one of {', '.join(kinds())}")
        schemes = ("smtp://", "smtps://") if system == SMTP else ("http://", "https://")
        if not base_url.startswith(schemes) or len(base_url) > 500:
            raise ConnectionError_(f"base_url must start with {' or '.join(schemes)}")
        clean = _check_secrets(system, secrets)
        settings = _check_settings(system, settings or {})
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
            views = [_view(r) for r in s.scalars(select(Connection).order_by(Connection.name))]
        return _with_feeds(self.ledger, views)

    def get(self, name: str) -> ConnectionView | None:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            view = _view(row) if row else None
        return _with_feeds(self.ledger, [view])[0] if view else None

    def record_change_feed(self, name: str, status: dict[str, str]) -> None:
        """A test's reading of the change feed, noted where workers note theirs."""
        view = self.get(name)
        if view is not None:
            self.ledger.set_watermark(note_name(view.system, view.base_url), json.dumps(status))

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
            check_env_references(creds)  # also for rows stored before the rule
            settings = {k: v for k, v in (row.settings or {}).items() if k not in CHECKED_FIELDS}
            return {**settings, "system": row.system, "base_url": row.base_url, "credentials": creds}

    def webhook_secret(self, name: str) -> str | None:
        with self.ledger.session() as s:
            row = s.scalar(select(Connection).where(Connection.name == name))
            if row is None or row.webhook_secret_sealed is None:
                return None
            return self.vault.open_webhook_secret(name, row.webhook_secret_sealed)

    def first_of(self, system: str) -> str | None:
        with self.ledger.session() as s:
            return s.scalar(select(Connection.name).where(Connection.system == system).order_by(Connection.pk).limit(1))

    def first_in_role(self, role: Role) -> str | None:
        """The oldest connection to a system in ``role`` (the CRM, or the books)."""
        systems = registry.names(role)
        with self.ledger.session() as s:
            query = select(Connection.name).where(Connection.system.in_(systems)).order_by(Connection.pk).limit(1)
            return s.scalar(query)

    def smtp_settings(self) -> SmtpSettings | None:
        """The first SMTP connection, for alert e-mails; None when there is none."""
        name = self.first_of(SMTP)
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
