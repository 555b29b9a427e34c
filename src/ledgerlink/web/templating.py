"""Jinja2 set-up and the one helper every page uses to render with the signed-in user and CSRF token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ledgerlink.web.console import console
from ledgerlink.web.security import csrf_token_for

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
templates.env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    csrf = ""
    if principal is not None and principal.session_id:
        csrf = csrf_token_for(console(request).csrf_key, principal.session_id)
    base = {"user": principal, "csrf": csrf, "nonce": getattr(request.state, "nonce", "")}
    return templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)
