"""A minimal accounting system, registered from outside the package the way a third party's plugin would be: the
registry, the CLI, the console and the conformance kit must find it without anything naming it."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from ledgerlink.systems.spec import BuildOptions, Capabilities, ConnectionSpec, Credentials, ProbeResult, SystemSpec


class FakeBooksCredentials(Credentials):
    account: str
    api_key: SecretStr


def build(spec: ConnectionSpec, options: BuildOptions) -> Any:
    raise NotImplementedError("the fake books only register; they have no API to build a client for")


def probe(spec: ConnectionSpec) -> ProbeResult:
    return ProbeResult(False, "the fake books have no API")


SPEC = SystemSpec(
    name="fakebooks",
    title="Fake Books",
    role="accounting",
    package="tests.plugins",  # no templates folder: nothing to register for the mappings
    credentials=FakeBooksCredentials,
    build=build,
    probe=probe,
    capabilities=Capabilities(),
)
