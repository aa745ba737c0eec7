"""The SDK against the sandbox, end to end: ``DingTalk`` over a live uvicorn server (real
sockets; one ``SandboxServer`` for the session, handing each request to the running test's
sandbox) and ``AsyncDingTalk`` over ``httpx.ASGITransport``; sandbox and SDK share a fake clock.

``open_e2e(kind, **sandbox_settings)`` gives an :class:`E2E`: a sandbox with one plain app and
one app per failure mode (``expired-``, ``throttled-``, ``busy-``, ``flaky-``), a new-family
echo endpoint built on the sandbox's own gateway (the sandbox serves no other new-family API
that fails the way these tests need), and ``connect(...)`` for an SDK client whose transport
records every exchange. ``e2e`` is the same, parametrized over both kinds.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from dingkit import AsyncDingTalk, DingTalk, RetryPolicy
from dingkit._pagination import AsyncPager, Page, SyncPager
from dingkit._request import Endpoint
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox import server as server_module
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.gateway.pipeline import Call, Gateway

#: A new-family endpoint on the sandbox's gateway: token header, QPS, failure modes, §0.3.
ECHO = "/v1.0/e2e/echo"
SECRET = "e2e-secret-0001"
#: The plain app, and one twin per failure mode the tests use (same secret).
APPS = {
    "plain": AppConfig(name="e2e", app_key="dinge2e0001", app_secret=SECRET),
    **{
        mode: AppConfig(name=f"e2e-{mode}", app_key=f"{mode}-dinge2e0001", app_secret=SECRET)
        for mode in ("expired", "throttled", "busy", "flaky")
    },
}
#: Seeds the default retry policy's jitter, so that each client's delays repeat run to run.
JITTER_SEED = 20240501
TOKEN_PATHS = ("/gettoken", "/v1.0/oauth2/accessToken")


def with_echo(sandbox: Sandbox) -> Starlette:
    """The sandbox's app plus :data:`ECHO`, answering ``{"app": <name>, "body": ...}``."""

    def echo(call: Call) -> dict[str, Any]:
        return {"app": call.app.name, "body": call.body}

    app = create_app(sandbox)
    app.router.routes[:0] = Gateway(sandbox).routes([(Endpoint("POST", ECHO), echo)])
    return app


@dataclass(frozen=True)
class Exchange:
    """One HTTP request the SDK made, with the answer it got."""

    method: str
    path: str
    status: int
    body: Any

    @property
    def errcode(self) -> Any:
        return self.body.get("errcode") if isinstance(self.body, dict) else None

    @property
    def refused(self) -> bool:
        """The answer was an error of either family."""
        if self.status != 200:
            return True
        return self.errcode not in (None, 0)


def _exchange(request: httpx.Request, response: httpx.Response) -> Exchange:
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = response.text
    return Exchange(request.method, request.url.path, response.status_code, body)


class _Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, log: list[Exchange]) -> None:
        self.inner, self.log = inner, log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.log.append(_exchange(request, response))
        return response

    def close(self) -> None:
        self.inner.close()


class _AsyncRecording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, log: list[Exchange]) -> None:
        self.inner, self.log = inner, log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.log.append(_exchange(request, response))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class FakeClock:
    """Wall-clock seconds shared by the sandbox and the SDK; only sleeps and tests move it.

    Starts on a whole second, and every wait the QPS limiter asks for is a whole number of
    seconds apart, so the sums stay exact and the two sliding windows agree to the bit.
    """

    def __init__(self, start: float = 1_714_500_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class E2E:
    """A sandbox and SDK clients of one kind (``"sync"``: live server, ``"async"``: ASGI).

    Args:
        kind: ``"sync"`` or ``"async"``.
        sandbox: the sandbox, on ``clock``.
        clock: the fake clock (and fake sleep) every client gets.
        url: the live server's base URL (sync), or the ASGI app's (async).
    """

    def __init__(self, kind: str, sandbox: Sandbox, clock: FakeClock, url: str) -> None:
        self.kind = kind
        self.sandbox = sandbox
        self.clock = clock
        self.url = url
        self.apps = APPS
        self.echo = ECHO
        self.exchanges: list[Exchange] = []
        self.client: DingTalk | AsyncDingTalk | None = None
        #: The sandbox's ASGI app with the echo endpoint (the live server serves it too).
        self.app = with_echo(sandbox)
        self._closers: list[Callable[[], Any]] = []

    # -- clients -------------------------------------------------------------------------

    def connect(
        self, app: str = "plain", *, wrap: Callable[[Any], Any] | None = None, **settings: Any
    ) -> Any:
        """An SDK client for ``APPS[app]``: fake clock and sleep, client QPS limit off and the
        default retry policy unless ``settings`` say otherwise; it becomes ``self.client``.
        ``wrap`` wraps the HTTP transport (under the recording one)."""
        wrap = wrap or (lambda transport: transport)
        credentials = self.apps[app]
        options: dict[str, Any] = {
            "oapi_base": self.url,
            "api_base": self.url,
            "qps": None,
            "retry": RetryPolicy(rng=random.Random(JITTER_SEED)),
            "clock": self.clock,
            "environ": {},
            **settings,
        }
        client: DingTalk | AsyncDingTalk
        if self.kind == "sync":
            transport = _Recording(wrap(httpx.HTTPTransport()), self.exchanges)
            http = httpx.Client(transport=transport)
            self._closers.append(http.close)
            client = DingTalk(
                credentials.app_key,
                credentials.app_secret,
                http_client=http,
                sleep=self.clock.sleep,
                **options,
            )
        else:
            async_transport = _AsyncRecording(
                wrap(httpx.ASGITransport(app=self.app)), self.exchanges
            )
            async_http = httpx.AsyncClient(transport=async_transport)
            self._closers.append(async_http.aclose)
            client = AsyncDingTalk(
                credentials.app_key,
                credentials.app_secret,
                http_client=async_http,
                sleep=self.clock.asleep,
                **options,
            )
        self.client = client
        return client

    def run(self, action: Callable[[Any], Any]) -> Any:
        """``action(client)``: a value, an awaitable (awaited) or a pager (listed)."""
        client = self.client or self.connect()
        if self.kind == "sync":
            result = action(client)
            return result.to_list() if isinstance(result, SyncPager) else result
        return asyncio.run(self._arun(action, client))

    async def _arun(self, action: Callable[[Any], Any], client: Any) -> Any:
        result = action(client)
        if isinstance(result, AsyncPager):
            return await result.to_list()
        if inspect.isawaitable(result):
            return await result
        return result

    def pages(
        self, action: Callable[[Any], Any], between: Callable[[int], Any] | None = None
    ) -> list[Page[Any]]:
        """Every page of the pager ``action(client)``; ``between(n)`` runs after page ``n``
        (from 1) has arrived, before the next is asked for (awaited if it returns an
        awaitable)."""
        client = self.client or self.connect()
        pager = action(client)
        if self.kind == "sync":
            pages = []
            for page in pager.iter_pages():
                pages.append(page)
                if between is not None:
                    between(len(pages))
            return pages

        async def collect() -> list[Page[Any]]:
            pages = []
            async for page in pager.iter_pages():
                pages.append(page)
                if between is not None and inspect.isawaitable(outcome := between(len(pages))):
                    await outcome
            return pages

        return asyncio.run(collect())

    # -- the sandbox's own endpoints, over HTTP ------------------------------------------

    def expire_tokens(self) -> Any:
        """``POST /_sandbox/tokens/expire``: done (sync) or an awaitable to await (async)."""
        if self.kind == "sync":
            httpx.post(f"{self.url}/_sandbox/tokens/expire", json={}).raise_for_status()
            return None
        return self.asandbox("POST", "/_sandbox/tokens/expire")

    def token_counts(self) -> dict[str, Any]:
        """``GET /_sandbox/tokens``: token requests and tokens issued per app name."""
        if self.kind == "sync":
            response = httpx.get(f"{self.url}/_sandbox/tokens")
            response.raise_for_status()
            counts: dict[str, Any] = response.json()
            return counts
        return asyncio.run(self.asandbox("GET", "/_sandbox/tokens"))

    async def asandbox(self, method: str, path: str) -> Any:
        """A sandbox endpoint from inside a running event loop (async tests)."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.url) as http:
            response = await http.request(method, path, json={} if method == "POST" else None)
            response.raise_for_status()
            return response.json()

    # -- what the SDK sent ---------------------------------------------------------------

    def calls(self, path: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.path == path]

    def api_calls(self) -> list[Exchange]:
        """Every exchange but token requests."""
        return [exchange for exchange in self.exchanges if exchange.path not in TOKEN_PATHS]

    def token_requests(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.path in TOKEN_PATHS]

    def close(self) -> None:
        for close in reversed(self._closers):
            outcome = close()
            if inspect.isawaitable(outcome):
                asyncio.run(_await(outcome))


async def _await(awaitable: Any) -> None:
    await awaitable


class Switchboard:
    """An ASGI app that hands every request to the app of the test running now, so that one
    live server serves every test (stopping uvicorn takes a tenth of a second each time)."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            raise RuntimeError("no e2e test is using the live sandbox now")
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def live_server() -> Iterator[tuple[Switchboard, str]]:
    """One ``SandboxServer`` (uvicorn on 127.0.0.1) for the session, serving a switchboard."""
    board = Switchboard()
    placeholder = Sandbox.from_settings(config=SandboxConfig(apps=(APPS["plain"],)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_module, "create_app", lambda sandbox, **_: board)
        server = SandboxServer(placeholder).start()
    yield board, server.url
    server.stop()
    placeholder.close()


@pytest.fixture
def open_e2e(live_server: tuple[Switchboard, str]) -> Iterator[Callable[..., E2E]]:
    """``open_e2e(kind, **sandbox_settings)``: an :class:`E2E` over a fresh in-memory sandbox
    (limits off unless the settings turn them on); everything is shut down afterwards. A
    ``"sync"`` one is served by the live server; one of those per test."""
    board, url = live_server
    opened: list[E2E] = []

    def open_(kind: str, **settings: Any) -> E2E:
        clock = FakeClock()
        config = SandboxConfig(**{"limits": False, "apps": tuple(APPS.values()), **settings})
        sandbox = Sandbox.from_settings(config=config, clock=clock)
        harness = E2E(kind, sandbox, clock, url if kind == "sync" else "http://sandbox")
        if kind == "sync":
            assert board.app is None, "one live sandbox per test"
            board.app = harness.app
        opened.append(harness)
        return harness

    yield open_
    board.app = None
    for harness in opened:
        harness.close()
        harness.sandbox.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def e2e(open_e2e: Callable[..., E2E], kind: str) -> E2E:
    """The default sandbox (300 people, 3 levels of departments, seed 42), sync and async."""
    return open_e2e(kind)
