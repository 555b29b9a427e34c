"""KashFlow's entry in the systems registry: credentials, how to build it, how to test a connection."""

from __future__ import annotations

from pydantic import SecretStr

from ledgerlink.systems.kashflow.books import KashFlowBooks
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


def build(spec: ConnectionSpec, options: BuildOptions) -> KashFlowBooks:
    creds = check_credentials(KashFlowCredentials, spec.get("credentials") or {}, SYSTEM).plain()
    return KashFlowInvoiceLife(  # the adapter with invoice updates, credit notes and history
        KashFlowClient(
            KashFlowSettings(
                base_url=str(spec["base_url"]),
                username=creds["username"],
                password=creds["password"],
                memorable_word=creds["memorable_word"],
                verify=str(spec["ca_file"]) if spec.get("ca_file") else True,
                pacer=options.pacer,
            )
        )
    )


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
)
