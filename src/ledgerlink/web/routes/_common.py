"""Routers every protected area builds on: the sign-in guard is attached here, never per route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ledgerlink.web.schemas import ErrorOut
from ledgerlink.web.security import authenticate

API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the request could not be used (e.g. a body that does not parse)"},
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "not allowed (role or CSRF)"},
    413: {"model": ErrorOut, "description": "the request body is larger than the console accepts"},
}


def page_router() -> APIRouter:
    return APIRouter(dependencies=[Depends(authenticate)], include_in_schema=False)


def api_router(tag: str) -> APIRouter:
    return APIRouter(prefix="/api", tags=[tag], dependencies=[Depends(authenticate)], responses=API_ERRORS)
