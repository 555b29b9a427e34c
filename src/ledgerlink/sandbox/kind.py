"""What a sandbox declares about itself, so the runner (and the conformance kit) find every sandbox through the
``ledgerlink.sandboxes`` entry points instead of a list of names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class BooksFacts:
    """What an accounting sandbox's books hold, for the conformance kit: a tax rate they have, their currency, and
    where its admin endpoints and collections are (fault filters name paths)."""

    tax_rate: Decimal
    currency: str
    expire_auth_path: str  # POST here ends every session, so the next call must sign in again
    # "invoices", "customers", "payments" -> the path prefix a fault filter needs ({config.<attr>} is filled in)
    collection_paths: dict[str, str] = field(default_factory=dict)
    # The connection options that fit these books (their own payment method ids, …): ``describe()`` carries them.
    options: dict[str, Any] = field(default_factory=dict)

    def collection_path(self, collection: str, config: Any) -> str:
        template = self.collection_paths[collection]
        return template.format(config=config)


@dataclass(frozen=True)
class SandboxKind:
    system: str  # the system it emulates (its name in the systems registry)
    config: type[Any]  # the sandbox's config class; takes data_path= and its own options
    create_app: Callable[[Any], Any]  # config -> ASGI app
    credentials: Callable[[Any], dict[str, str]]  # config -> the credentials a connection uses
    api_path: str = ""  # appended to the server's URL to make a connection's base URL
    books: BooksFacts | None = None  # accounting sandboxes only
