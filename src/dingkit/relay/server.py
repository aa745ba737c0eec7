"""A relay served by uvicorn on a background thread (``dingkit demo``, tests); ``dingkit
relay serve`` serves it in the foreground instead."""

from __future__ import annotations

import socket
from types import TracebackType

import uvicorn

from .._admin_guard import LOOPBACK_NAMES
from .._background_server import BackgroundServer
from .app import create_app
from .service import Relay

__all__ = ["RelayServer"]


class RelayServer:
    """``relay`` on ``127.0.0.1:port`` (0: a free one), its courier delivering meanwhile.

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, relay: Relay, *, port: int = 0) -> None:
        self.relay = relay
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            raise
        self.port: int = listener.getsockname()[1]
        config = uvicorn.Config(
            create_app(relay, allowed_hosts=LOOPBACK_NAMES),
            log_level="warning",
            lifespan="on",
            access_log=False,
            http="h11",  # it bounds the request head (issue 10, defect 10)
        )
        self._background = BackgroundServer(config, listener, name="dingkit-relay")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RelayServer:
        self._background.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._background.stop()
