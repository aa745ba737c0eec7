"""The bot's session-webhook poster against a scripted HTTP server: the answers and errors are
the client's (the catalogue), connections are kept, and a reply that may have arrived is never
sent twice; proxies and a caller's own httpx client send it through ``client.request``."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dingkit import APIConnectionError, APITimeoutError, AsyncDingTalk, SessionExpiredError
from dingkit.bot import session_post
from dingkit.bot.session_post import SessionPoster
from dingkit.robot.messages import Text

pytestmark = pytest.mark.anyio

OK = b'{"errcode":0,"errmsg":"ok"}'


def answer(body: bytes = OK, *, status: str = "200 OK", head: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    chunks = b"".join(
        f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
    )
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


class Closing(bytes):
    """An answer after which the server closes the connection."""


@dataclass
class Script:
    """A server answering each request with the next scripted answer: bytes, or ``None`` to
    close the connection without answering, or ``...`` to never answer."""

    answers: list[bytes | type[Ellipsis] | None]
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode().split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((lines[0], headers, json.loads(body)))
                scripted = self.answers.pop(0) if self.answers else answer()
                if scripted is None:
                    return
                if scripted is Ellipsis:
                    await asyncio.sleep(3600)
                    return
                assert isinstance(scripted, bytes)
                writer.write(scripted)
                await writer.drain()
                if isinstance(scripted, Closing):
                    return
        finally:
            writer.close()

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/robot/sendBySession?session=0123abcd"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[asyncio.Server] = []

    async def start(*answers: bytes | type[Ellipsis] | None) -> Script:
        script = Script(list(answers))
        server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
        servers.append(server)
        script.port = server.sockets[0].getsockname()[1]
        return script

    yield start
    for server in servers:
        server.close()


async def _no_sleep(_: float) -> None:
    return None


def client_for(script: Script, **settings: Any) -> AsyncDingTalk:
    return AsyncDingTalk(
        "dingpostkey",
        "post-secret",
        oapi_base=f"http://127.0.0.1:{script.port}",
        environ={},
        sleep=_no_sleep,
        **settings,
    )


async def test_replies_reuse_one_kept_alive_connection_and_send_the_robot_body(serve: Any) -> None:
    script = await serve()
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        first = await poster.reply(script.webhook, Text(content="one"))
        await poster.reply(script.webhook, "two")
    finally:
        await poster.aclose()
        await client.aclose()
    assert first == {"errcode": 0, "errmsg": "ok"}
    assert script.connections == 1
    (line, headers, body), (_, _, second) = script.requests
    assert line == "POST /robot/sendBySession?session=0123abcd HTTP/1.1"
    assert headers["host"] == f"127.0.0.1:{script.port}"
    assert headers["content-type"].startswith("application/json")
    assert "access_token" not in line  # the session is the credential (auth=False)
    assert body == {"msgtype": "text", "text": {"content": "one"}}
    assert second == {"msgtype": "text", "text": {"content": "two"}}


async def test_a_chunked_answer_is_read_and_connection_close_is_honoured(serve: Any) -> None:
    script = await serve(chunked(OK), answer(head="Connection: close\r\n"), answer())
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        for text in ("a", "b", "c"):
            assert (await poster.reply(script.webhook, text))["errcode"] == 0
    finally:
        await poster.aclose()
        await client.aclose()
    assert len(script.requests) == 3
    assert script.connections == 2  # the second answer said close: the third one reconnects


async def test_an_expired_session_raises_session_expired_once(serve: Any) -> None:
    expired = json.dumps({"errcode": 300001, "errmsg": "session 不存在"}).encode()
    script = await serve(answer(expired))
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        with pytest.raises(SessionExpiredError):
            await poster.reply(script.webhook, "late")
    finally:
        await poster.aclose()
        await client.aclose()
    assert len(script.requests) == 1


async def test_an_answer_the_catalogue_retries_is_retried_through_the_client(serve: Any) -> None:
    busy = json.dumps({"errcode": -1, "errmsg": "系统繁忙"}).encode()
    script = await serve(answer(busy), answer())
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        assert (await poster.reply(script.webhook, "again"))["errcode"] == 0
    finally:
        await poster.aclose()
        await client.aclose()
    assert [body for _, _, body in script.requests] == [
        {"msgtype": "text", "text": {"content": "again"}}
    ] * 2


@pytest.mark.parametrize(
    "scripted",
    [None, b"hello there\r\n\r\n", Closing(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}")],
    ids=["closed-without-answer", "not-http", "cut-short"],
)
async def test_no_whole_answer_after_sending_is_a_connection_error_and_never_resent(
    serve: Any, scripted: bytes | None
) -> None:
    script = await serve(scripted, answer())
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        with pytest.raises(APIConnectionError) as caught:
            await poster.reply(script.webhook, "maybe delivered")
    finally:
        await poster.aclose()
        await client.aclose()
    assert len(script.requests) == 1  # it may have been carried out: not repeated
    assert "DINGTALK_OAPI_BASE_URL" in str(caught.value.setting or "") + str(caught.value)


async def test_an_answer_that_never_comes_times_out_after_the_client_s_timeout(
    serve: Any,
) -> None:
    script = await serve(...)
    client = client_for(script, timeout=0.5)
    poster = SessionPoster(client, environ={})
    try:
        with pytest.raises(APITimeoutError):
            await poster.reply(script.webhook, "slow")
    finally:
        await poster.aclose()
        await client.aclose()
    assert len(script.requests) == 1


async def test_a_refused_connection_goes_to_the_client_which_reports_the_base_url() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AsyncDingTalk(
        "k", "s", oapi_base=f"http://127.0.0.1:{port}", environ={}, sleep=_no_sleep
    )
    poster = SessionPoster(client, environ={})
    calls: list[object] = []
    request = client.request

    async def counting(req: Any) -> Any:
        calls.append(req)
        return await request(req)

    client.request = counting  # type: ignore[method-assign]
    try:
        with pytest.raises(APIConnectionError) as caught:
            await poster.reply(
                f"http://127.0.0.1:{port}/robot/sendBySession?session=ab", "nobody home"
            )
    finally:
        await poster.aclose()
        await client.aclose()
    assert len(calls) == 1  # handed over: the client retries connects that sent nothing
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_a_connection_idle_too_long_is_not_reused(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_post, "IDLE_FOR", 0.0)
    script = await serve()
    client = client_for(script)
    poster = SessionPoster(client, environ={})
    try:
        await poster.reply(script.webhook, "one")
        await poster.reply(script.webhook, "two")
    finally:
        await poster.aclose()
        await client.aclose()
    assert script.connections == 2


@pytest.mark.parametrize(
    ("environ", "direct"),
    [
        ({"HTTP_PROXY": "http://proxy.invalid:3128"}, False),
        ({"all_proxy": "http://proxy.invalid:3128"}, False),
        ({"HTTPS_PROXY": "http://proxy.invalid:3128"}, True),  # the webhook here is http
        ({"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "127.0.0.1"}, True),
    ],
)
async def test_a_proxy_for_the_webhook_s_host_sends_it_through_the_client(
    serve: Any, environ: dict[str, str], direct: bool
) -> None:
    script = await serve()
    client = client_for(script)
    poster = SessionPoster(client, environ=environ)
    delegated: list[object] = []

    async def through_client(request: Any) -> Any:
        delegated.append(request)
        return {"errcode": 0, "errmsg": "ok"}

    client.request = through_client  # type: ignore[method-assign]
    try:
        await poster.reply(script.webhook, "via?")
    finally:
        await poster.aclose()
        await client.aclose()
    assert (len(script.requests), len(delegated)) == ((1, 0) if direct else (0, 1))


async def test_a_client_on_the_caller_s_own_httpx_client_is_used_as_it_is(serve: Any) -> None:
    script = await serve()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = client_for(script, http_client=http)
    poster = SessionPoster(client, environ={})
    try:
        await poster.reply(script.webhook, "mocked")
    finally:
        await poster.aclose()
        await http.aclose()
    assert len(seen) == 1
    assert not script.requests
