"""The sandbox page's events tab in headless Chromium: pushes to a working receiver and to a
dead URL, with their attempts and outcome, against a sandbox served by uvicorn whose worker
sends the pushes; and the URL checks (handshakes) of register_call_back with theirs."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from callback.conftest import Served
from dingkit import BadRequestError, DingTalk
from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.callback.receiver import CallbackReceiver
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import DEFAULT_CORP_ID, AppConfig, CallbackConfig, SandboxConfig

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


HOSTILE = '<img src=x onerror="window.__pwned = 1"> not today'


def test_the_events_tab_lists_url_checks_with_their_outcome(
    browser: Browser, receiver_url: str, tmp_path: Path
) -> None:
    app = AppConfig(name="events", app_key="dingevents0001", app_secret="events-secret-0001")
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(app,), limits=False))
    keys = {"DINGTALK_CALLBACK_TOKEN": TOKEN, "DINGTALK_CALLBACK_AES_KEY": AES_KEY}
    # dingkit's receiver, set up for another organisation: it refuses the check, saying why.
    wrong = Served(
        CallbackReceiver(
            environ={**keys, "DINGTALK_CORP_ID": "dingnotthecorp"},
            data_dir=tmp_path,
            dispatch=False,
        )
    )

    async def refuse(request: Request) -> Response:
        return PlainTextResponse(HOSTILE, status_code=403)

    hostile = Served(Starlette(routes=[Route("/", refuse, methods=["POST"])]))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        with SandboxServer(sandbox) as server:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.get_by_test_id("events-tab").click()
            expect(page.get_by_text("No events pushed yet.")).to_be_visible()
            expect(page.locator("#handshakes")).to_be_hidden()  # none made yet

            url = server.url
            with DingTalk(
                app.app_key, app.app_secret, oapi_base=url, api_base=url, environ={}
            ) as client:
                for refused_url in (f"{wrong.url}/", f"{hostile.url}/"):
                    with pytest.raises(BadRequestError) as refused:
                        client.callbacks.register(refused_url, TOKEN, AES_KEY, ["user_add_org"])
                    assert refused.value.errcode == 71009
                client.callbacks.register(receiver_url, TOKEN, AES_KEY, ["user_add_org"])

            checks = page.get_by_test_id("handshake")
            expect(checks).to_have_count(3)  # came by polling
            newest = checks.nth(0)  # newest first
            expect(newest.get_by_test_id("handshake-outcome")).to_have_text("ok")
            expect(newest).to_contain_text(receiver_url)
            expect(newest).to_contain_text("HTTP 200")
            mismatch = checks.filter(has_text=f"{wrong.url}/")
            expect(mismatch.get_by_test_id("handshake-outcome")).to_have_text("failed")
            expect(mismatch).to_contain_text("HTTP 400")
            expect(mismatch).to_contain_text("errcode 71009")
            expect(mismatch).to_contain_text(
                f"receiver id mismatch: API registration needs DINGTALK_CORP_ID={DEFAULT_CORP_ID}"
            )
            # A receiver's reason is shown as the text it is, never as markup.
            refusal = checks.filter(has_text=f"{hostile.url}/")
            expect(refusal.get_by_test_id("handshake-outcome")).to_have_text("failed")
            expect(refusal).to_contain_text(f"HTTP 403: {HOSTILE}")
            expect(page.locator("#handshake-list img")).to_have_count(0)
            assert page.evaluate("window.__pwned") is None
            assert AES_KEY not in page.content()
            assert errors == []
    finally:
        context.close()
        wrong.stop()
        hostile.stop()
        sandbox.close()
