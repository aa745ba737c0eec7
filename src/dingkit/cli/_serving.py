"""Running one of dingkit's servers from the command line (``callback serve``, ``bot serve``):
the user's object named as ``module:attribute``, the listening socket bound before anything
starts, and uvicorn in the foreground with the settings every such server needs."""

from __future__ import annotations

import contextlib
import importlib
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from .._exceptions import ConfigurationError

__all__ = ["bind", "import_target", "log_to_stderr", "serve_forever"]


def import_target(target: str, option: str) -> Any:
    """The object ``module:attribute`` names, imported from the current directory first (as
    ``python -m`` would find the user's module)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"{option} {target!r}: write it as module:attribute")
    sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"{option} {target!r}: {error}") from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``0``: a free port, read from the socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        # Listening now, before uvicorn starts: requests that arrive meanwhile wait in the
        # backlog instead of being refused.
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {error.strerror or error}; pick another --port"
        ) from None
    return listener


def serve_forever(app: Any, listener: socket.socket) -> None:
    """Serve ``app`` on ``listener`` until Ctrl-C or SIGTERM."""
    import uvicorn

    # h11 bounds the request head (16 KiB, then 400 and close); httptools, which uvicorn
    # would pick if installed, has no such bound (issue 10, defect 10).
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, http="h11")
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn handles SIGINT; this is a net
        server.run(sockets=[listener])


def log_to_stderr(*names: str) -> None:
    """The INFO lines of the loggers ``names`` on stderr, with their time: what an operator of
    a server must see (dingkit's servers log no secret, token or payload). A logger that has
    a handler already (the user's, ``--verbose``) is left as it is."""
    for name in names:
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
