"""The Stream client's network: a connection that goes silent (no frame, no pong) is given
up and re-opened (§8.2: the SDKs ping and reconnect), shown with a TCP relay between client
and sandbox that stops carrying bytes, as a dead NAT entry or a stalled peer would; and the
WebSocket goes through the HTTP CONNECT proxy the environment names."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from dingkit import NO_RETRY, AsyncDingTalk
from dingkit.bot import Bot
from dingkit.bot.stream import _PROXY_SUPPORTED, StreamClient
from dingkit.bot.stream_frames import Backoff
from dingkit.callback import UserAddOrg
from dingkit.callback.dispatcher import Handlers
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import SandboxConfig

from .test_stream_mode import APP, TIMINGS, until

pytestmark = pytest.mark.anyio


class Relay:
    """Carries TCP between its port and ``upstream``; :meth:`freeze` makes the WebSocket
    connections open now silent (bytes read and dropped both ways); new ones, and the HTTP
    ones the tickets are asked on, flow."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.links: list[dict[str, bool]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Relay:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def freeze(self) -> None:
        for link in self.links:
            link["frozen"] = link["websocket"]

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        link = {"frozen": False, "websocket": False}
        self.links.append(link)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while chunk := await source.read(65536):
                    link["websocket"] |= b"upgrade: websocket" in chunk.lower()
                    if not link["frozen"]:
                        sink.write(chunk)
                        await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def relay_world(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(limits=False, apps=(APP,), **TIMINGS))
    server = SandboxServer(sandbox).start()
    relay = await Relay(server.port).start()
    base = f"http://127.0.0.1:{relay.port}"
    client = AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base=base, api_base=base, retry=NO_RETRY, environ={}
    )
    try:
        yield {"sandbox": sandbox, "relay": relay, "client": client, "data": tmp_path}
    finally:
        await client.aclose()
        await relay.close()
        server.stop()
        sandbox.close()


async def test_a_silent_connection_is_given_up_and_reopened(relay_world: dict[str, Any]) -> None:
    sandbox, relay = relay_world["sandbox"], relay_world["relay"]
    handled: list[str | None] = []
    events = Handlers()

    @events.on(UserAddOrg)
    async def joined(event: UserAddOrg) -> None:
        handled.append(event.event_id)

    stream = StreamClient(
        Bot(),
        events=events,
        client=relay_world["client"],
        data_dir=relay_world["data"],
        ping_interval=0.2,
        ping_timeout=0.3,
        close_timeout=0.2,
        backoff=Backoff(initial=0.05, cap=0.5),
    )
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: stream.stats.get("connections") == 1, "the connection")
        relay.freeze()
        await until(lambda: stream.stats.get("connections") == 2, "a new connection", seconds=5)
        sandbox.stream.push_event(APP.app_key, "user_add_org", {"userId": ["u"]}, event_id="ev")
        await until(lambda: handled == ["ev"], "the event over the new connection")
    finally:
        await stream.stop()
        await asyncio.wait_for(task, 10)


class ConnectProxy:
    """An HTTP CONNECT proxy that records where it was asked to connect."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> ConnectProxy:
        self.server = await asyncio.start_server(self._tunnel, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method, target, _ = head.split(" ", 2)
        self.asked.append(f"{method} {target}")
        host, port = target.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.skipif(not _PROXY_SUPPORTED, reason="websockets < 15 has no proxy support")
async def test_the_websocket_goes_through_the_environment_proxy(
    relay_world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = await ConnectProxy().start()
    for name in ("NO_PROXY", "no_proxy", "WS_PROXY", "ws_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    # websockets prefers HTTPS_PROXY for ws:// too; httpx uses it for https:// only, so the
    # ticket (http:// here) goes straight to the sandbox.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    relay = relay_world["relay"]
    bot = Bot()
    stream = StreamClient(bot, client=relay_world["client"], data_dir=relay_world["data"])
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: stream.stats.get("connections") == 1, "the connection")
        assert proxy.asked == [f"CONNECT 127.0.0.1:{relay.port}"]
    finally:
        await stream.stop()
        await asyncio.wait_for(task, 10)
        assert proxy.server is not None
        proxy.server.close()
