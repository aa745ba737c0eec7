"""Every inbound route of the sandbox and the callback receiver, under hostile requests
(issue 10, part 2): no 5xx, no sandbox bug (the autouse check in tests/conftest.py), no
traceback in the log, the server still answers, and its stored state still loads, reopened
from disk. Routes are read from the apps, so a new one is fuzzed by being declared.

Each test run's figures go to ``tests/reliability/.figures/`` for the report
(``python -m tests.reliability.report``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callback.conftest import Served
from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.app import create_app
from dingkit.sandbox.bots.conversations import open_group, open_session
from dingkit.sandbox.config import AppConfig, RobotConfig, SandboxConfig

from . import figures
from .hostile import (
    RouteUnderTest,
    bodies,
    content_types,
    encode_query,
    examples,
    fill,
    headers,
    json_values,
    objects,
    path_parts,
    queries,
    routes_of,
)

APP = AppConfig(name="fuzz", app_key="dingfuzz0001", app_secret="fuzz-secret-0001")
ROBOT = RobotConfig(name="plain", token="fuzzrobot0001")
CONFIG = SandboxConfig(apps=(APP,), robots=(ROBOT,), callback_timeout=0.5)
SANDBOX_ROUTES = routes_of(create_app(Sandbox.from_settings(config=CONFIG)))

_SETTINGS = settings(
    max_examples=examples(),
    derandomize=True,  # the same cases on every run: a failure in CI reproduces locally
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def tracebacks() -> Iterator[list[str]]:
    """Log records (any logger, any level) that carry a traceback; uvicorn's own included (its
    "Exception in ASGI application" goes to the ``uvicorn`` logger, which does not propagate
    to the root one)."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.exc_info or "Traceback" in text:
                seen.append(self.format(record))

    handler = Catch(level=logging.DEBUG)
    root = logging.getLogger()
    server = logging.getLogger("uvicorn")
    propagated, server.propagate = server.propagate, True
    root.addHandler(handler)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        server.propagate = propagated


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as bytes, so that any Latin-1 value goes on the wire as drawn."""
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


@contextmanager
def served(app: Any) -> Iterator[httpx.Client]:
    """``app`` under uvicorn on a loopback port, and a keep-alive client for it."""
    server = Served(app)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client
    finally:
        server.stop()


def _placeholders(template: str) -> int:
    return len(re.findall(r"\{[^}]+\}", template))


@pytest.mark.parametrize("route", SANDBOX_ROUTES, ids=lambda route: route.id)
def test_no_hostile_request_breaks_the_sandbox(route: RouteUnderTest, tmp_path: Path) -> None:
    sandbox = Sandbox.from_settings(config=CONFIG, data_dir=tmp_path)
    # An app robot's group and a live session webhook, so that hostile values reach the
    # rules behind the session check and the conversation views.
    group = open_group(sandbox, "fuzz", members=["manager0001"], robot_codes=[APP.app_key])
    url, _ = open_session(sandbox, group, robot_code=APP.app_key)
    known = {"session": url.rpartition("session=")[2], "conversation": group.id}
    with SandboxServer(sandbox) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        _fuzz_sandbox(route, client, known)
        _state_loads(client)
    sandbox.close()
    reopened = Sandbox.from_settings(config=CONFIG, data_dir=tmp_path)
    try:
        with SandboxServer(reopened) as server, httpx.Client(base_url=server.url) as client:
            _state_loads(client)
    finally:
        reopened.close()


def _fuzz_sandbox(route: RouteUnderTest, client: httpx.Client, known: dict[str, str]) -> None:
    token = client.get(
        "/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret}
    ).json()["access_token"]
    answers: list[int] = []

    @_SETTINGS
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        method = data.draw(st.sampled_from(route.methods), label="method")
        values = [data.draw(path_parts) for _ in range(_placeholders(route.path))]
        query = data.draw(queries, label="query")
        sent = data.draw(headers, label="headers")
        if data.draw(st.booleans(), label="with credentials"):
            # Past the token check, so that hostile values reach the rules behind it.
            query["access_token"] = ROBOT.token if route.path == "/robot/send" else token
            query["session"] = known["session"]
            sent["x-acs-dingtalk-access-token"] = token
            if route.path.startswith("/_sandbox/conversations/"):
                values = [known["conversation"]]
        path = fill(route.path, values)
        sent["content-type"] = data.draw(content_types, label="content-type")
        body = data.draw(bodies, label="body")
        response = client.request(
            method, f"{path}?{encode_query(query)}", content=body, headers=_raw(sent)
        )
        answers.append(response.status_code)
        assert response.status_code < 500, (method, path, response.text[:500])

    with tracebacks() as seen:
        case()
        assert client.get("/_sandbox/health").status_code == 200  # still answers
    assert seen == [], seen[0]
    figures.record("sandbox", route.id, answers)


def _state_loads(client: httpx.Client) -> None:
    """Every view of the stored state answers 200 JSON: a hostile row stored by a case must
    not break the page (it is flagged, the rest shown)."""
    for route in SANDBOX_ROUTES:
        if route.path.startswith("/_sandbox/") and "{" not in route.path and "GET" in route.methods:
            response = client.get(route.path)
            assert response.status_code == 200, (route.path, response.text[:300])
            json.loads(response.text)
    for group in client.get("/_sandbox/groups").json()["groups"]:
        response = client.get("/_sandbox/messages", params={"group": group["id"]})
        assert response.status_code == 200, response.text[:300]
    for conversation in client.get("/_sandbox/conversations").json()["conversations"]:
        response = client.get(f"/_sandbox/conversations/{conversation['id']}/messages")
        assert response.status_code == 200, response.text[:300]


# ---- the callback receiver -----------------------------------------------------------------

TOKEN = "fuzz-callback-token"
AES_KEY = new_aes_key()
CORP_ID = "dingfuzzcorp"
_receiver_for_routes = CallbackReceiver(
    TOKEN, AES_KEY, CORP_ID, inbox=SQLiteInbox(":memory:"), dispatch=False
)
RECEIVER_ROUTES = [
    RouteUnderTest(path, (method,)) for path, method in _receiver_for_routes.routes.items()
]
_receiver_for_routes.inbox.close()

# Plaintexts that decrypt fine and are hostile inside: what a holder of the key could send.
plaintexts = st.one_of(
    objects.map(lambda value: json.dumps(value)),
    json_values.map(lambda value: json.dumps(value)),
    st.sampled_from(['{"EventType": NaN}', "[" * 3000 + "]" * 3000, "not json", ""]),
    objects.map(lambda value: json.dumps({"EventType": "user_add_org", **value})),
)


@pytest.mark.parametrize("route", RECEIVER_ROUTES, ids=lambda route: route.id)
def test_no_hostile_push_breaks_the_receiver(route: RouteUnderTest, tmp_path: Path) -> None:
    inbox_file = tmp_path / "inbox.sqlite3"
    receiver = CallbackReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=SQLiteInbox(inbox_file), dispatch=False
    )
    with served(receiver) as client:
        answers = _fuzz_receiver(route, client)
    receiver.inbox.close()
    reopened = SQLiteInbox(inbox_file)
    try:
        for entry in reopened.entries(limit=10_000):  # every stored event still loads
            assert entry.payload is not None
    finally:
        reopened.close()
    figures.record("receiver", route.id, answers)


def _fuzz_receiver(route: RouteUnderTest, client: httpx.Client) -> list[int]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    answers: list[int] = []

    @_SETTINGS
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        method = data.draw(st.sampled_from([*route.methods, "GET", "PUT"]), label="method")
        sent = data.draw(headers, label="headers")
        sent["content-type"] = data.draw(content_types, label="content-type")
        if data.draw(st.booleans(), label="sealed"):
            # Signed and encrypted correctly, hostile within.
            sealed = crypto.seal(data.draw(plaintexts, label="plaintext"))
            query: dict[str, Any] = {
                "signature": sealed.signature,
                "timestamp": sealed.timestamp,
                "nonce": sealed.nonce,
            }
            body = json.dumps({"encrypt": sealed.encrypt}).encode()
        else:
            query = data.draw(queries, label="query")
            body = data.draw(bodies, label="body")
        response = client.request(
            method, f"{route.path}?{encode_query(query)}", content=body, headers=_raw(sent)
        )
        answers.append(response.status_code)
        assert response.status_code < 500, (method, response.text[:500])

    with tracebacks() as seen:
        case()
        assert client.get("/healthz").status_code == 200
    assert seen == [], seen[0]
    assert client.get("/metrics").status_code == 200
    return answers


@pytest.mark.parametrize(
    "path",
    ["/_sandbox/org/departments/" + "9" * 5000, "/_sandbox/approvals/x/tasks/" + "9" * 5000],
)
def test_a_path_number_past_the_int_limit_matches_no_route(path: str) -> None:
    # Found by the tests above: Starlette's {x:int} crashed on 4,300+ digits (a sandbox bug).
    sandbox = Sandbox.from_settings(config=CONFIG)
    with SandboxServer(sandbox) as server:
        response = httpx.request("PATCH" if "org" in path else "POST", server.url + path, json={})
    assert response.status_code == 404
    assert "error" in response.json() or "errcode" in response.json()
