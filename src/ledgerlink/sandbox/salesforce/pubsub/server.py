"""Start and stop the Pub/Sub gRPC server for one sandbox org."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from ledgerlink.formats.pubsub import pubsub_api_pb2_grpc as pb_grpc
from ledgerlink.sandbox._server import TLSFiles

from ..org import SalesforceOrg
from .core import PubSubCore
from .service import PubSubService

DEFAULT_KEEPALIVE_SECONDS = 270.0
DEFAULT_IDLE_CLOSE_SECONDS = 60.0  # a stream with nothing requested closes this long after its last response


@dataclass
class PubSubServer:
    host: str
    port: int
    core: PubSubCore
    grpc_server: grpc.Server
    tls: bool = False

    @property
    def address(self) -> str:
        """``host:port``, what a gRPC channel is opened on."""
        return f"{self.host}:{self.port}"

    def inject_gap(self, count: int = 1, *, overflow: bool = False, entity: str | None = None) -> None:
        """Deliver the next ``count`` committed events (of ``entity``, if given) as GAP_* (or GAP_OVERFLOW) events."""
        self.core.gaps.inject(count, overflow=overflow, entity=entity)

    def stop(self, grace: float = 0.5) -> None:
        self.grpc_server.stop(grace).wait(5)
        self.core.close()


def serve_pubsub(
    org: SalesforceOrg,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS,
    idle_close_seconds: float = DEFAULT_IDLE_CLOSE_SECONDS,
    tls: TLSFiles | None = None,
    max_workers: int = 32,
) -> PubSubServer:
    """Serve ``eventbus.v1.PubSub`` for ``org`` on ``host:port`` (0 = a free port); each open Subscribe stream
    holds one of ``max_workers`` threads."""
    core = PubSubCore(org)
    server = grpc.server(ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="pubsub"))
    pb_grpc.add_PubSubServicer_to_server(PubSubService(core, keepalive_seconds, idle_close_seconds), server)
    if tls is not None:
        credentials = grpc.ssl_server_credentials([(tls.key_file.read_bytes(), tls.cert_file.read_bytes())])
        bound = server.add_secure_port(f"{host}:{port}", credentials)
    else:
        bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return PubSubServer(host=host, port=bound, core=core, grpc_server=server, tls=tls is not None)
