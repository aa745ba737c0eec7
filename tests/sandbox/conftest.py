"""Fixtures for the sandbox's server APIs: a sandbox on a fake clock with a known app, a raw
client that speaks both API families to it over ASGI, and a callback receiver for its event
pushes."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.sandbox import Sandbox, create_app
from dingkit.sandbox.config import DEFAULT_CORP_ID, AppConfig, SandboxConfig

#: The app every server-API test uses unless it says otherwise.
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")


class OpenApi:
    """Raw requests to a sandbox's server APIs, with the status checks every test repeats."""

    def __init__(self, sandbox: Sandbox, http: httpx.AsyncClient) -> None:
        self.sandbox = sandbox
        self.http = http

    async def token(self, app: AppConfig = APP) -> str:
        response = await self.http.get(
            "/gettoken", params={"appkey": app.app_key, "appsecret": app.app_secret}
        )
        body = response.json()
        assert body["errcode"] == 0, body
        token: str = body["access_token"]
        return token

    async def oapi(
        self,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        app: AppConfig = APP,
        content: bytes | None = None,
    ) -> dict[str, Any]:
        """POST to an old-family API with the app's token; the JSON answer (always HTTP 200)."""
        token = token if token is not None else await self.token(app)
        response = await self.http.post(
            path,
            params={"access_token": token} if token else {},
            content=content,
            json=body if content is None else None,
        )
        assert response.status_code == 200, response.text  # old family: always 200 (§0.3)
        answer: dict[str, Any] = response.json()
        return answer

    async def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        app: AppConfig = APP,
    ) -> httpx.Response:
        """A new-family call with the app's token in the header; the raw response."""
        token = token if token is not None else await self.token(app)
        return await self.http.request(
            method,
            path,
            json=body,
            params=params,
            headers={"x-acs-dingtalk-access-token": token, **(headers or {})},
        )

    async def ok(self, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        answer = await self.oapi(path, body, **kwargs)
        assert (answer["errcode"], answer["errmsg"]) == (0, "ok"), answer
        return answer


@pytest.fixture
def open_sandbox(
    make_sandbox: Callable[..., Sandbox], fake_clock: Callable[[], float]
) -> Callable[..., Sandbox]:
    """``open_sandbox(**settings)``: an in-memory sandbox on the fake clock, with :data:`APP`."""

    def make(**settings: Any) -> Sandbox:
        sandbox = make_sandbox(config=SandboxConfig(**settings), clock=fake_clock)
        sandbox.add_app(APP)
        return sandbox

    return make


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., OpenApi]]:
    """``connect(sandbox, app=None)``: an :class:`OpenApi` client for the sandbox's ASGI app
    (or for ``app``, e.g. a test-only Starlette app built on the sandbox's gateway)."""
    async with AsyncExitStack() as stack:

        def make(sandbox: Sandbox, app: Starlette | None = None) -> OpenApi:
            transport = httpx.ASGITransport(app=app or create_app(sandbox))
            http = httpx.AsyncClient(transport=transport, base_url="http://sandbox")
            stack.push_async_callback(http.aclose)
            return OpenApi(sandbox, http)

        yield make


@pytest.fixture
def test_app() -> AppConfig:
    """The credentials of the app :func:`open_sandbox` adds."""
    return APP


class Receiver:
    """A tiny callback receiver built only from :mod:`dingkit.callback.crypto`, at its own path
    of a :class:`ReceiverHost`: it verifies and decrypts every push, records it, and replies
    as ``mode`` says: ``ok`` (the encrypted ``success``), ``wrong`` (an encrypted
    ``failure``), ``error`` (HTTP 500), ``slow`` (``success`` after ``delay`` seconds) or
    ``plain`` (the bare text ``success``, unencrypted); or with ``reply`` when it is set."""

    def __init__(self, token: str, aes_key: str, receiver_id: str, *, url: str) -> None:
        self.crypto = CallbackCrypto(token, aes_key, receiver_id)
        self.token, self.aes_key = token, aes_key
        self.url = url
        self.mode = "ok"
        self.reply: Response | None = None
        self.delay = 1.0
        self.events: list[dict[str, Any]] = []
        self.queries: list[dict[str, str]] = []

    async def handle(self, request: Request) -> Response:
        query = dict(request.query_params)
        assert query["msg_signature"] == query["signature"]
        body = await request.json()
        text = self.crypto.open(
            query["signature"], query["timestamp"], query["nonce"], body["encrypt"]
        )
        self.queries.append(query)
        self.events.append(json.loads(text))
        if self.reply is not None:
            return self.reply
        if self.mode == "error":
            return JSONResponse({"error": "boom"}, status_code=500)
        if self.mode == "wrong":
            return JSONResponse(self.crypto.seal("failure").as_reply())
        if self.mode == "plain":
            return PlainTextResponse("success")
        if self.mode == "slow":
            await anyio.sleep(self.delay)
        return JSONResponse(self.crypto.success())

    def types(self) -> list[tuple[str, str | None]]:
        """``(EventType, type)`` of every push received, check_url included."""
        return [(e["EventType"], e.get("type")) for e in self.events]


class ReceiverHost:
    """One uvicorn server on 127.0.0.1 for the session's receivers, each at its own path:
    starting and stopping a server for every test cost a fifth of a second each time."""

    def __init__(self) -> None:
        self.receivers: dict[str, Receiver] = {}
        app = Starlette(routes=[Route("/callback/{key}", self._endpoint, methods=["POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._keys = itertools.count(1)

    async def _endpoint(self, request: Request) -> Response:
        receiver = self.receivers.get(request.path_params["key"])
        if receiver is None:
            return JSONResponse({"error": "no receiver at this path"}, status_code=404)
        return await receiver.handle(request)

    def receiver(self, token: str, aes_key: str, receiver_id: str) -> Receiver:
        key = str(next(self._keys))
        receiver = Receiver(token, aes_key, receiver_id, url=f"{self.base}/callback/{key}")
        self.receivers[key] = receiver
        return receiver

    def start(self) -> ReceiverHost:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the receiver host did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture(scope="session")
def receiver_host() -> Iterator[ReceiverHost]:
    host = ReceiverHost().start()
    yield host
    host.stop()


@pytest.fixture
def receiver_for(receiver_host: ReceiverHost) -> Iterator[Callable[..., Receiver]]:
    """``receiver_for(receiver_id, token=..., aes_key=...)``: a :class:`Receiver` of its own
    (a path of the session's host), gone after the test."""
    keys: list[str] = []

    def make(
        receiver_id: str = DEFAULT_CORP_ID, token: str = "token123", aes_key: str | None = None
    ) -> Receiver:
        receiver = receiver_host.receiver(token, aes_key or new_aes_key(), receiver_id)
        keys.append(receiver.url.rsplit("/", 1)[1])
        return receiver

    yield make
    for key in keys:
        receiver_host.receivers.pop(key, None)
