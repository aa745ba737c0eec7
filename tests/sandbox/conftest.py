"""Fixtures for the sandbox's server APIs: a sandbox on a fake clock with a known app, and a
raw client that speaks both API families to it over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from dingkit.sandbox.app import Sandbox, create_app
from dingkit.sandbox.config import AppConfig, SandboxConfig

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
