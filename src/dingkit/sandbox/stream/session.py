"""One Stream connection (§8.2, step 2): ``GET /connect?ticket=...`` upgraded to a WebSocket.

A missing, unknown, expired or already used ticket is refused before the upgrade: the
handshake is answered HTTP 403 (uvicorn's answer to an ASGI close before accept), which every
WebSocket client reports as a failed connect and the official SDK follows with a new ticket
(``PYSTREAM:dingtalk_stream/stream.py`` ``start``: any exception, then a retry). [I] what the
live server answers is not documented; 403 is also what a policy refusal looks like to a
browser.

Once open, three tasks share the socket: the reader (ACKs and anything else the client
sends, handed to :meth:`.hub.StreamHub.received`), the writer (frames queued by the hub,
from any thread; ``None`` closes the socket with 1000) and the pinger (a SYSTEM ping every
``stream_ping_interval`` seconds; ``0`` sends none). A frame past the server's
``ws_max_size`` is refused by uvicorn with close code 1009; that connection ends, the others
are untouched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from .hub import Connection, StreamHub

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["POLICY_VIOLATION", "serve_connection"]

logger = logging.getLogger("dingkit.sandbox.stream")

#: The close code of a refused ticket (RFC 6455 1008 policy violation); before the upgrade
#: uvicorn turns the close into HTTP 403.
POLICY_VIOLATION = 1008
_NORMAL_CLOSURE = 1000


async def serve_connection(websocket: WebSocket, sandbox: Sandbox) -> None:
    hub: StreamHub = sandbox.stream
    grant = hub.tickets.take(websocket.query_params.get("ticket", ""))
    if grant is None:
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    connection = Connection(grant, asyncio.get_running_loop(), sandbox.now_ms())
    hub.attach(connection)
    writer = asyncio.create_task(_write(websocket, connection))
    pinger = asyncio.create_task(_ping(hub, connection, sandbox.config.stream_ping_interval))
    try:
        await _read(websocket, hub, connection)
    finally:
        hub.detach(connection)
        for task in (writer, pinger):
            task.cancel()
        await asyncio.gather(writer, pinger, return_exceptions=True)


async def _read(websocket: WebSocket, hub: StreamHub, connection: Connection) -> None:
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the socket is gone (or closed by the writer)
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        hub.received(connection, text if isinstance(text, str) else None)


async def _write(websocket: WebSocket, connection: Connection) -> None:
    while True:
        item = await connection.outbox.get()
        try:
            if item is None:
                await websocket.close(code=_NORMAL_CLOSURE, reason="disconnect")
                return
            await websocket.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # The client went away between the frame being queued and sent.
            logger.debug("stream connection %s: not sent (%s)", connection.id, exc)
            return


async def _ping(hub: StreamHub, connection: Connection, interval: float) -> None:
    if interval <= 0:
        return
    while not connection.closing:
        await asyncio.sleep(interval)
        if not connection.closing:
            hub.ping(connection)
