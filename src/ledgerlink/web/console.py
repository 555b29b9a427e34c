"""The console's services, built once per app and reached from routes through ``console(request)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from itsdangerous import URLSafeTimedSerializer

from ledgerlink.store import Ledger
from ledgerlink.vault import Vault
from ledgerlink.web.settings import ConsoleSettings

if TYPE_CHECKING:
    from ledgerlink.connections.store import Connections
    from ledgerlink.web.services.replay import Replayer
    from ledgerlink.web.services.users import Users


@dataclass
class Console:
    settings: ConsoleSettings
    ledger: Ledger
    vault: Vault
    users: Users
    connections: Connections
    replayer: Replayer
    signer: URLSafeTimedSerializer = field(repr=False)
    csrf_key: bytes = field(repr=False)


def console(request: Request) -> Console:
    c: Console = request.app.state.console
    return c
