"""Salesforce API errors as Python exceptions, rendered as the list-shaped JSON bodies Salesforce sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiError(Exception):
    """One REST error: ``[{"message", "errorCode", "fields"?}]`` with an HTTP status."""

    status: int
    code: str
    message: str
    fields: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        item.update(self.extra)
        return item

    def body(self) -> list[dict[str, Any]]:
        return [self.as_item()]

    def as_status_item(self) -> dict[str, Any]:
        """The per-record shape used by sObject Collections, which say ``statusCode`` instead of ``errorCode``."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


def bad_request(code: str, message: str, fields: list[str] | None = None) -> ApiError:
    return ApiError(400, code, message, fields)


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def invalid_session() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def entity_is_deleted() -> ApiError:
    return ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")


def invalid_field(name: str, sobject: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}")


def method_not_allowed(method: str, allowed: list[str]) -> ApiError:
    return ApiError(
        405,
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
    )


def request_limit_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
