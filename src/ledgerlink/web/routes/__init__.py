"""Every route the console serves, registered in one place (the security tests enumerate them from the app)."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

# Each module exposes some of: ``router`` (public), ``pages`` and ``api`` (both behind sign-in).
MODULES = (
    "public",
    "session",
    "overview",
    "records",
    "failed",
    "connections",
    "mappings",
    "alerts",
    "webhooks",
    "flow_builder",
    "intelligence",
    "settings_page",
)


def register_routes(app: FastAPI) -> None:
    for name in MODULES:
        module = importlib.import_module(f"ledgerlink.web.routes.{name}")
        for attr in ("router", "pages", "api"):
            router = getattr(module, attr, None)
            if router is not None:
                app.include_router(router)
