"""The operations console: FastAPI pages (Jinja2 + HTMX) and a JSON API, behind sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlink.web.app import create_app
    from ledgerlink.web.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]


def __getattr__(name: str) -> Any:
    """Imported on first use: the command line registers the console's commands (``ledgerlink.web.cli``), and
    importing the app with them (FastAPI, Starlette, every route) cost every command, the worker included, about
    a second of CPU at start."""
    if name == "create_app":
        from ledgerlink.web.app import create_app

        return create_app
    if name == "ConsoleSettings":
        from ledgerlink.web.settings import ConsoleSettings

        return ConsoleSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
