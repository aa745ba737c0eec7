"""An ASGI app served by uvicorn on a background thread, on a socket bound before it starts
(so that port 0 resolves at once and a taken port fails early): the sandbox and the relay in
``dingkit demo``, tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """``uvicorn.Server(config)`` on ``listener``, in a daemon thread named ``name``."""

    def __init__(self, config: uvicorn.Config, listener: socket.socket, *, name: str) -> None:
        self.server = uvicorn.Server(config)
        self.listener = listener
        self.name = name
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> None:
        """Serve; return once uvicorn has started (``RuntimeError`` if it did not)."""
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True, name=self.name
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.listener.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self.running and self._thread is not None:
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
