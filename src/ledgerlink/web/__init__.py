"""The operations console: FastAPI pages (Jinja2 + HTMX) and a JSON API, behind sign-in."""

from ledgerlink.web.app import create_app
from ledgerlink.web.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]
