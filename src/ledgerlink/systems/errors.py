"""The errors every connector raises, so the engine can tell 'try again' from 'this record is wrong'."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class. ``field`` and ``record`` name what was wrong when the remote system said so."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        record: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.status = status
        self.code = code
        self.field = field
        self.record = record

    def __reduce__(self) -> tuple[object, ...]:
        # DBOS pickles step errors into its system database; keyword-only arguments need help to round-trip.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        parts = [f"{self.system}: {self.message}"]
        if self.code:
            parts.append(f"[{self.code}]")
        if self.record:
            parts.append(f"record={self.record}")
        if self.field:
            parts.append(f"field={self.field}")
        return " ".join(parts)


class TransientError(ConnectorError):
    """Worth retrying: 5xx, 429, dropped connections, timeouts."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Retrying the same request can't help: validation errors, unknown records, refused input."""


class AuthenticationError(PermanentError):
    """Credentials were refused (not merely an expired session, which connectors renew themselves)."""


class ApiLimitExhausted(PermanentError):
    """The system's API allocation is spent; going on would only draw more refusals."""


def _rebuild(cls: type[ConnectorError], message: str, state: dict[str, object]) -> ConnectorError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


def is_transient(exc: BaseException) -> bool:
    """The retry predicate the engine hands to DBOS steps."""
    return isinstance(exc, TransientError)
