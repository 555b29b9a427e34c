"""Kashoo's entry in the systems registry: credentials, options, how to build it, how to test a connection."""

from __future__ import annotations

import time
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from ledgerlink.store.claims import CreateClaims
from ledgerlink.systems.changefeed import ledger_publisher
from ledgerlink.systems.kashoo.books import KashooBooks, KashooOptions
from ledgerlink.systems.kashoo.client import SYSTEM, KashooClient, KashooSettings
from ledgerlink.systems.kashoo.fields import CAPABILITIES
from ledgerlink.systems.kashoo.invoice_life import KashooInvoiceLife
from ledgerlink.systems.ratelimit import NoPacing
from ledgerlink.systems.spec import (
    BuildOptions,
    ConnectionSpec,
    Credentials,
    ProbeResult,
    SystemSpec,
    check_credentials,
)


class KashooCredentials(Credentials):
    # Kashoo signs in with an e-mail address; connections stored as "username" before it had a name of its own
    # are read the same.
    email: str = Field(validation_alias=AliasChoices("email", "username"))
    password: SecretStr


class KashooConnectionOptions(BaseModel):
    """A Kashoo connection's ``options``."""

    model_config = ConfigDict(extra="forbid")

    tax_codes: dict[str, list[str]] = Field(default_factory=dict)  # percentage -> the codes of the taxes making it
    create_missing_taxes: bool = False  # else a rate the books lack is a refused record
    # The BANK account payments go into, as the books name it (id, number or name); unset: the books' only one.
    deposit_account: str | None = None


def build(spec: ConnectionSpec, options: BuildOptions) -> KashooBooks:
    creds = check_credentials(KashooCredentials, spec.get("credentials") or {}, SYSTEM).plain()
    choices = KashooConnectionOptions.model_validate(spec.get("options") or {})
    # Workers sharing a ledger claim a new code there before creating it (Kashoo would keep two with one code).
    books_key = f"{SYSTEM}:{creds['email']}@{spec['base_url']}"
    claims = CreateClaims(options.ledger_url, books_key) if options.ledger_url else None
    books = KashooInvoiceLife(  # the adapter with invoice updates, credit notes and history
        KashooClient(
            KashooSettings(
                base_url=str(spec["base_url"]),
                email=creds["email"],
                password=creds["password"],
                verify=str(spec["ca_file"]) if spec.get("ca_file") else True,
                pacer=options.pacer,
            )
        ),
        KashooOptions(
            tax_codes=choices.tax_codes,
            create_missing_taxes=choices.create_missing_taxes,
            deposit_account=choices.deposit_account,
        ),
        claims,
    )
    books.feed.publish = ledger_publisher(options.ledger_url, SYSTEM, str(spec["base_url"]))
    return books


def probe(spec: ConnectionSpec) -> ProbeResult:
    books = build(spec, BuildOptions(pacer=NoPacing()))
    try:
        books.find_customer("LEDGERLINK-CONNECTION-TEST")  # signs in and finds the business first
        # One read of the (unverified) change feed from now, so the console can say what Kashoo does with it.
        books.customers_changed_since(str(int(time.time() * 1000)))
        return ProbeResult(
            True,
            "signed in and read contacts",
            {"api_calls": float(books.api_calls())},
            change_feed=books.feed.status(),
        )
    finally:
        books.close()


def _identity(creds: dict[str, Any]) -> str:
    return str(creds.get("email") or creds.get("username") or "")


SPEC = SystemSpec(
    name=SYSTEM,
    title="Kashoo",
    role="accounting",
    package="ledgerlink.systems.kashoo",
    credentials=KashooCredentials,
    build=build,
    probe=probe,
    capabilities=CAPABILITIES,
    default_rate_limit="10/s",  # one integrator documents 10 requests a second per client
    options=KashooConnectionOptions,
    rate_limit_identity=_identity,
)
