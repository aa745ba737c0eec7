"""A sandbox served on a loopback port with short Stream timings, and a raw WebSocket
client for its Stream gateway (the `websockets` library, as the official SDK uses)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from dingkit.resources.stream import BOT_MESSAGE_TOPIC, OPEN_CONNECTION
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig

APP = AppConfig(name="bot", app_key="dingstream0001", app_secret="stream-secret-0001")
OTHER = AppConfig(name="other", app_key="dingstream0002", app_secret="stream-secret-0002")
EVERYTHING = [{"type": "EVENT", "topic": "*"}, {"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC}]
#: Short enough for a fast suite, long enough for a busy 2-core machine to keep up.
TIMINGS: dict[str, Any] = {
    "stream_ping_interval": 0,
    "stream_disconnect_grace": 0.3,
    "stream_event_timeout": 0.4,
}
DEADLINE = 10.0


def stream_config(**settings: Any) -> SandboxConfig:
    return SandboxConfig(apps=(APP, OTHER), **{**TIMINGS, **settings})


@pytest.fixture
def serve(make_sandbox: Callable[..., Sandbox]) -> Iterator[Callable[..., SandboxServer]]:
    """``serve(clock=..., **settings)``: a sandbox with :data:`APP` and :data:`OTHER` under
    uvicorn; stopped afterwards."""
    servers: list[SandboxServer] = []

    def start(clock: Callable[[], float] = time.time, **settings: Any) -> SandboxServer:
        sandbox = make_sandbox(config=stream_config(**settings), clock=clock)
        server = SandboxServer(sandbox).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _ticket_body(app: AppConfig, subscriptions: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": app.app_key,
        "clientSecret": app.app_secret,
        "subscriptions": EVERYTHING if subscriptions is None else subscriptions,
        "ua": "dingkit-tests",
        "localIp": "127.0.0.1",
        **extra,
    }


def open_ticket(
    server: SandboxServer, app: AppConfig = APP, subscriptions: Any = None, **extra: Any
) -> httpx.Response:
    body = _ticket_body(app, subscriptions, extra)
    return httpx.post(server.url + OPEN_CONNECTION.path, json=body, timeout=DEADLINE)


async def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        return await http.request(method, url, **kwargs)


async def ticket_url(
    server: SandboxServer, app: AppConfig = APP, subscriptions: Any = None, **extra: Any
) -> str:
    body = _ticket_body(app, subscriptions, extra)
    answer = await request("POST", server.url + OPEN_CONNECTION.path, json=body)
    assert answer.status_code == 200, answer.text
    ticket = answer.json()
    return f"{ticket['endpoint']}?ticket={ticket['ticket']}"


async def wait_until(condition: Callable[[], object], what: str) -> None:
    """Poll ``condition`` until true, failing after :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.01)


async def open_stream(server: SandboxServer, app: AppConfig = APP, **kwargs: Any) -> Any:
    """A connected raw client, once the sandbox counts the connection."""
    before = len(server.sandbox.stream.connections(app.app_key))
    ws = await connect(await ticket_url(server, app, **kwargs), open_timeout=DEADLINE)
    await wait_until(
        lambda: len(server.sandbox.stream.connections(app.app_key)) > before, "the connection"
    )
    return ws


async def next_frame(
    ws: ClientConnection, kind: str | None = None, topic: str | None = None
) -> dict[str, Any]:
    """The next frame of ``kind`` (and ``topic``), skipping others; fails after the deadline."""
    with anyio.fail_after(DEADLINE):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if kind in (None, frame["type"]) and topic in (None, frame["headers"]["topic"]):
                return frame


async def ack(ws: ClientConnection, frame: dict[str, Any], data: Any, *, code: int = 200) -> None:
    message_id = frame["headers"]["messageId"]
    await ws.send(
        json.dumps(
            {
                "code": code,
                "headers": {"messageId": message_id, "contentType": "application/json"},
                "message": "OK",
                "data": json.dumps(data),
            }
        )
    )


@contextmanager
def tracebacks() -> Iterator[list[str]]:
    """Log records with a traceback, from the root logger and uvicorn's (which does not
    propagate)."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info or "Traceback" in record.getMessage():
                seen.append(self.format(record))

    handler = Catch(level=logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield seen
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
