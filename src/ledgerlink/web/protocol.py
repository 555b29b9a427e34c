"""The console's HTTP protocol: uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn closes an idle keep-alive connection, but a client that opens a connection and trickles its request line and
headers (slowloris) holds it forever, and with ``limit_concurrency`` a few hundred such clients lock everyone out.
Here each request's line and headers must arrive within ``LEDGERLINK_HEADER_TIMEOUT_SECONDS`` [10] of the
connection opening or the previous response ending; else the connection is closed.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def header_timeout_seconds() -> float:
    return float(os.environ.get("LEDGERLINK_HEADER_TIMEOUT_SECONDS", "10"))


class HeaderDeadlineProtocol(H11Protocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a whole request line and headers arrived
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request on this connection gets the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(header_timeout_seconds(), self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
