"""KashFlow's entry in the systems registry: credentials, how to build it, how to test a connection."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ledgerlink.systems.changefeed import ledger_publisher
from ledgerlink.systems.kashflow.books import KashFlowBooks, KashFlowOptions
from ledgerlink.systems.kashflow.client import SYSTEM, KashFlowClient, KashFlowSettings
from ledgerlink.systems.kashflow.fields import CAPABILITIES
from ledgerlink.systems.kashflow.invoice_life import KashFlowInvoiceLife
from ledgerlink.systems.ratelimit import NoPacing
from ledgerlink.systems.spec import (
    BuildOptions,
    ConnectionSpec,
    Credentials,
    ProbeResult,
    SystemSpec,
    check_credentials,
)


class KashFlowCredentials(Credentials):
    username: str
    password: SecretStr
    memorable_word: SecretStr


class KashFlowConnectionOptions(BaseModel):
    """A KashFlow connection's ``options``: what payments use, chosen among the books' own."""

    model_config = ConfigDict(extra="forbid")

    bank_account: str | None = None  # id, code or name of a bank account in /bankaccounts; unset: the only one
    payment_methods: dict[str, int] = Field(default_factory=dict)  # method name -> the account's own method id
    default_payment_method: str | None = None  # the name used when a payment names no method


def build(spec: ConnectionSpec, options: BuildOptions) -> KashFlowBooks:
    creds = check_credentials(KashFlowCredentials, spec.get("credentials") or {}, SYSTEM).plain()
    choices = KashFlowConnectionOptions.model_validate(spec.get("options") or {})
    books = KashFlowInvoiceLife(  # the adapter with invoice updates, credit notes and history
        KashFlowClient(
            KashFlowSettings(
                base_url=str(spec["base_url"]),
                username=creds["username"],
                password=creds["password"],
                memorable_word=creds["memorable_word"],
                verify=str(spec["ca_file"]) if spec.get("ca_file") else True,
                pacer=options.pacer,
            )
        ),
        KashFlowOptions(
            bank_account=choices.bank_account,
            payment_methods=dict(choices.payment_methods),
            default_payment_method=choices.default_payment_method,
        ),
    )
    books.feed.publish = ledger_publisher(options.ledger_url, SYSTEM, str(spec["base_url"]))
    return books


def probe(spec: ConnectionSpec) -> ProbeResult:
    books = build(spec, BuildOptions(pacer=NoPacing()))
    try:
        books.find_customer("LEDGERLINK-CONNECTION-TEST")  # signs in first: a wrong URL or login fails there
        return ProbeResult(True, "signed in and read customers", {"api_calls": float(books.api_calls())})
    finally:
        books.close()


SPEC = SystemSpec(
    name=SYSTEM,
    title="KashFlow",
    role="accounting",
    package="ledgerlink.systems.kashflow",
    credentials=KashFlowCredentials,
    build=build,
    probe=probe,
    capabilities=CAPABILITIES,
    default_rate_limit=None,  # KashFlow publishes none
    options=KashFlowConnectionOptions,
)
