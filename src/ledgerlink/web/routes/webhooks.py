"""``POST /webhooks/{connection}``: for systems that push. Authenticated by HMAC signature, not by sign-in."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from ledgerlink.store.console_tables import WebhookReceipt
from ledgerlink.web.console import console
from ledgerlink.web.services import webhooks as svc

router = APIRouter(include_in_schema=False)
log = logging.getLogger("ledgerlink.web.webhooks")


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes, refusing early: a huge body is never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and (not (declared.isascii() and declared.isdigit()) or int(declared) > limit):
        raise _TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/{connection}", name="webhook_receive")
async def webhook_receive(request: Request, connection: str) -> JSONResponse:
    c = console(request)
    try:
        body = await _read_capped(request, c.settings.webhook_max_bytes)
    except _TooLarge:
        return JSONResponse({"detail": f"body larger than {c.settings.webhook_max_bytes} bytes"}, 413)
    secret = c.connections.webhook_secret(connection) if len(connection) <= 64 else None
    signature = request.headers.get(svc.SIGNATURE_HEADER)
    verdict = svc.verify(
        secret, request.headers.get(svc.TIMESTAMP_HEADER), signature, body, c.settings.webhook_tolerance_seconds
    )
    if not verdict.ok:
        log.warning("webhook refused", extra={"connection": connection[:64]})
        return JSONResponse({"detail": verdict.reason}, verdict.status)
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: a body nested thousands deep
        return JSONResponse({"detail": "body is not JSON (or nested too deeply)"}, 400)
    if not isinstance(payload, dict):
        return JSONResponse({"detail": "body must be a JSON object"}, 400)
    event_type = payload.get("type")
    try:
        with c.ledger.session() as s:
            receipt = WebhookReceipt(
                connection=connection,
                signature_hash=svc.receipt_key(connection, request.headers.get(svc.TIMESTAMP_HEADER, ""), body),
                event_type=str(event_type)[:100] if event_type else None,
                body=payload,
            )
            s.add(receipt)
            s.flush()
            receipt_id = int(receipt.pk)
    except IntegrityError:
        return JSONResponse({"detail": "this request was already received (replay)"}, 409)
    log.info("webhook accepted", extra={"connection": connection})
    return JSONResponse({"accepted": True, "id": receipt_id}, 202)
