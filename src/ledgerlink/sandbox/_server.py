"""Serve an ASGI app with uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp


@dataclass
class TLSFiles:
    """PEM files for serving https; ``ca_file`` is what clients must trust."""

    cert_file: Path
    key_file: Path
    ca_file: Path


@dataclass
class RunningServer:
    """A sandbox being served; ``stop()`` shuts it down and joins the thread."""

    base_url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    tls: TLSFiles | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class _QuietInjectedDrops(logging.Filter):
    """Injected dropped connections are the point of the exercise, not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "_DroppedConnection"


logging.getLogger("uvicorn.error").addFilter(_QuietInjectedDrops())


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port (racy by nature; used only where a socket can't be handed over)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_in_thread(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TLSFiles | None = None,
    name: str = "sandbox",
) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 = any free port) and return once it accepts connections."""
    # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY on accepted connections (else ~40 ms per request)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} sandbox failed to start on {host}:{bound_port}")
        time.sleep(0.01)
    scheme = "https" if tls else "http"
    return RunningServer(
        base_url=f"{scheme}://{host}:{bound_port}", port=bound_port, server=server, thread=thread, tls=tls
    )
