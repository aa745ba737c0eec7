"""The sandbox page's events tab in headless Chromium: pushes to a working receiver and to a
dead URL, with their attempts and outcome, against a sandbox served by uvicorn whose worker
sends the pushes."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import DEFAULT_CORP_ID, CallbackConfig, SandboxConfig

pytestmark = pytest.mark.browser

TOKEN = "token123"
AES_KEY = new_aes_key()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def receiver_url() -> Iterator[str]:
    """A receiver built only from the callback crypto: it opens each push, replies success."""
    crypto = CallbackCrypto(TOKEN, AES_KEY, DEFAULT_CORP_ID)

    async def callback(request: Request) -> Response:
        query = request.query_params
        body = await request.json()
        json.loads(
            crypto.open(query["signature"], query["timestamp"], query["nonce"], body["encrypt"])
        )
        return JSONResponse(crypto.success())

    app = Starlette(routes=[Route("/callback", callback, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/callback"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_the_events_tab_shows_pushes_and_their_outcome(browser: Browser, receiver_url: str) -> None:
    dead_url = f"http://127.0.0.1:{_free_port()}/callback"
    config = SandboxConfig(
        limits=False,
        callback_retry_delays=(0.05, 0.1),
        callbacks=(
            CallbackConfig(url=receiver_url, token=TOKEN, aes_key=AES_KEY),
            CallbackConfig(url=dead_url, token=TOKEN, aes_key=AES_KEY, tags=("org_dept_create",)),
        ),
    )
    sandbox = Sandbox.from_settings(config=config)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with SandboxServer(sandbox) as server:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.get_by_test_id("events-tab").click()
            expect(page.get_by_text("No events pushed yet.")).to_be_visible()
            expect(page.get_by_test_id("subscription")).to_have_count(2)

            created = httpx.post(server.url + "/_sandbox/org/departments", json={"name": "实验室"})
            assert created.status_code == 201, created.text

            pushes = page.get_by_test_id("push")
            expect(pushes).to_have_count(2)  # came by polling
            delivered = pushes.filter(has_text=receiver_url)
            expect(delivered.get_by_test_id("push-state")).to_have_text("delivered")
            expect(delivered.get_by_test_id("push-attempt")).to_have_count(1)
            expect(delivered).to_contain_text("HTTP 200")
            failed = pushes.filter(has_text=dead_url)
            expect(failed.get_by_test_id("push-state")).to_have_text("failed")
            expect(failed.get_by_test_id("push-attempt")).to_have_count(3)
            expect(failed).to_contain_text("cannot connect")
            expect(page.get_by_test_id("events-tab")).to_contain_text("1")
            assert errors == []
    finally:
        context.close()
        sandbox.close()
