"""A scripted DingTalk behind ``httpx.MockTransport``, and one driver for both clients.

``fake`` answers the token endpoint by itself and every other request from the routes a test
gives it, recording what it received. ``dingtalk`` runs the same test through ``DingTalk``
and ``AsyncDingTalk``: ``dingtalk.run(lambda c: c.approval.get("id"))`` returns the result,
awaiting it or listing a pager as needed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dingkit import RetryPolicy
from dingkit._client import AsyncDingTalk, DingTalk
from dingkit._pagination import AsyncPager, SyncPager

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.001)
TOKEN = "tok-secret-value"


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    json: Any
    headers: httpx.Headers


Answer = dict[str, Any] | tuple[int, Any] | None
Handler = Callable[[Call], Answer]


@dataclass
class FakeDingTalk:
    """Routes ``(method, path)`` to handlers; ``calls`` lists every non-token request."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    token_requests: int = 0

    def route(self, method: str, path: str, handler: Handler | Answer) -> None:
        self.routes[(method, path)] = handler if callable(handler) else (lambda _c: handler)

    def on(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.route(method, path, handler)
            return handler

        return register

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def bodies(self, path: str | None = None) -> list[Any]:
        return [call.json for call in self.calls if path is None or call.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1.0/oauth2/accessToken":
            self.token_requests += 1
            return httpx.Response(200, json={"accessToken": TOKEN, "expireIn": 7200})
        body = json.loads(request.content) if request.content else None
        call = Call(request.method, path, dict(request.url.params), body, request.headers)
        self.calls.append(call)
        handler = self.routes.get((request.method, path))
        if handler is None:
            return httpx.Response(404, json={"code": "notFound", "message": f"no route {path}"})
        answer = handler(call)
        if answer is None:
            return httpx.Response(200)
        status, data = answer if isinstance(answer, tuple) else (200, answer)
        return httpx.Response(status, json=data)


@pytest.fixture
def fake() -> FakeDingTalk:
    return FakeDingTalk()


SETTINGS: dict[str, Any] = {
    "oapi_base": "https://oapi.test",
    "api_base": "https://api.test",
    "qps": None,
    "retry": FAST,
    "environ": {},
}


class Driver:
    """One of the two clients, with a way to get a result whichever it is."""

    def __init__(self, kind: str, fake: FakeDingTalk, **settings: Any) -> None:
        self.kind = kind
        options = {**SETTINGS, **settings}
        transport = httpx.MockTransport(fake)
        self.client: DingTalk | AsyncDingTalk
        if kind == "sync":
            self.client = DingTalk(
                "key", "secret", http_client=httpx.Client(transport=transport), **options
            )
        else:
            self.client = AsyncDingTalk(
                "key", "secret", http_client=httpx.AsyncClient(transport=transport), **options
            )

    def run(self, action: Callable[[Any], Any]) -> Any:
        """``action(client)``: a value, an awaitable, or a pager (listed)."""
        if self.kind == "sync":
            result = action(self.client)
            return result.to_list() if isinstance(result, SyncPager) else result
        return asyncio.run(self._arun(action))

    async def _arun(self, action: Callable[[Any], Any]) -> Any:
        result = action(self.client)
        if isinstance(result, AsyncPager):
            return await result.to_list()
        if inspect.isawaitable(result):
            return await result
        return result

    def pages(self, action: Callable[[Any], Any]) -> list[Any]:
        """The pages of the pager ``action(client)`` returns."""
        pager = action(self.client)
        if self.kind == "sync":
            return list(pager.iter_pages())

        async def collect() -> list[Any]:
            return [page async for page in pager.iter_pages()]

        return asyncio.run(collect())


@pytest.fixture(params=["sync", "async"])
def dingtalk(request: pytest.FixtureRequest, fake: FakeDingTalk) -> Driver:
    return Driver(request.param, fake)


@pytest.fixture
def make_driver(fake: FakeDingTalk) -> Callable[..., Driver]:
    return lambda kind="sync", **settings: Driver(kind, fake, **settings)
