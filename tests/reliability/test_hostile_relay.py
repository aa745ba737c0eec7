"""Every route of the relay's HTTP face under hostile requests (issue 10's suite, issue 13's
app): the webhook routes of a real config (each source, each kind of inbound auth), sent
hostile bodies, headers and paths, and the sources' own payloads correctly signed and hostile
within; ``/send/{robot}`` with and without its token; the page, ``/api`` and the rest.
Never a 5xx (the 503 of a storage outage cannot happen here: the outbox is up), never a
traceback in a body or in the log, every 4xx saying what is wrong; afterwards the relay
still takes a webhook, its state still loads and its metrics stay bounded."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dingkit.relay.app import create_app
from dingkit.relay.config import load_config
from dingkit.relay.delivery import Policy, new_letter_id
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.outbox.base import Letter
from dingkit.relay.service import Relay
from dingkit.relay.sources import SOURCES
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig
from relay.payloads import fixture_paths, headers_for, load

from . import figures
from .hostile import (
    RouteUnderTest,
    bodies,
    content_types,
    encode_query,
    examples,
    fill,
    header_values,
    headers,
    json_values,
    objects,
    path_parts,
    queries,
    routes_of,
)
from .test_hostile_routes import _SETTINGS, _raw, served, tracebacks

ROBOT_TOKEN = "fuzzrelay0001"
SEND_TOKEN = "fuzz-send-token-0001"
AM_TOKEN = "fuzz-am-token-0001"
GH_SECRET = "fuzz-github-secret-0001"
GL_TOKEN = "fuzz-gitlab-token-0001"
GRAFANA_SECRET = "fuzz-grafana-secret-0001"
HMAC_SECRET = "fuzz-hmac-secret-0001"
CONFIG = f"""
[[robot]]
name = "ops"
token = "{ROBOT_TOKEN}"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["ops"]
rules = [{{ match = {{ severity = "critical" }}, robots = ["ops"], at_all = true }}]

[[route]]
name = "locked"
source = "alertmanager"
robots = ["ops"]
auth = {{ kind = "bearer", token = "{AM_TOKEN}" }}

[[route]]
name = "graf"
source = "grafana"
robots = ["ops"]
auth = {{ kind = "grafana", secret = "{GRAFANA_SECRET}" }}

[[route]]
name = "gh"
source = "github"
robots = ["ops"]
auth = {{ kind = "github", secret = "{GH_SECRET}" }}

[[route]]
name = "gl"
source = "gitlab"
robots = ["ops"]
auth = {{ kind = "gitlab", token = "{GL_TOKEN}" }}

[[route]]
name = "jk"
source = "jenkins"
robots = ["ops"]

[[route]]
name = "gen"
source = "generic"
robots = ["ops"]
auth = {{ kind = "hmac", secret = "{HMAC_SECRET}", header = "X-Signature" }}
"""


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Webhook:
    """A configured route: its path, the fixtures of its source, and what its sender adds."""

    path: str
    source: str
    sign: Callable[[bytes], dict[str, str]]

    def fixtures(self) -> list[str]:
        return [name for name in fixture_paths() if name.startswith(f"{self.source}/")]


WEBHOOKS = [
    Webhook("/alertmanager/prod", "alertmanager", lambda body: {}),
    Webhook(
        "/alertmanager/locked", "alertmanager", lambda body: {"Authorization": f"Bearer {AM_TOKEN}"}
    ),
    Webhook(
        "/grafana/graf",
        "grafana",
        lambda body: {"X-Grafana-Alerting-Signature": _hex(GRAFANA_SECRET, body)},
    ),
    Webhook(
        "/github/gh",
        "github",
        lambda body: {"X-Hub-Signature-256": "sha256=" + _hex(GH_SECRET, body)},
    ),
    Webhook("/gitlab/gl", "gitlab", lambda body: {"X-Gitlab-Token": GL_TOKEN}),
    Webhook("/jenkins/jk", "jenkins", lambda body: {}),
    Webhook("/generic/gen", "generic", lambda body: {"X-Signature": _hex(HMAC_SECRET, body)}),
]
BY_PATH = {webhook.path: webhook for webhook in WEBHOOKS}

#: Bodies every source must refuse with a 4xx, signed or not (hostile.py's ``bodies`` draws
#: them too, among many others; here each reaches every route, past its auth).
NASTY_BODIES = [
    b"",
    b" ",
    b"{",
    b"null",
    b"true",
    b"0",
    b"-1e999",
    b'"text"',
    b"[]",
    b"[{}]",
    b"[1, 2]",
    b"{}",
    b'{"a": NaN}',
    b'{"a": -Infinity}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"status": "\\ud800"}',
    b'{"status": "\xed\xa0\x80"}',
    b'{"n": ' + b"9" * 5000 + b"}",
    b"\xff\xfe\x00garbage",
    b'{"a": 1, "a": 2}',
    b"payload=%7B%7D",
    b"payload=" + b"%5B" * 3000,
    b"a=1&" * 200,
]


class Unlimited:
    """A budget that always has a slot (the sandbox keeps no limits either): the courier
    sends what a route's cases queued at once, so that whatever delivery makes of a hostile
    message (digests included) happens within that route's test."""

    def reserve(self, key: str, limit: int, period: float) -> float:
        return 0.0

    def try_acquire(self, key: str, limit: int, period: float) -> float:
        return 0.0


def _relay(tmp_path: Path, sandbox_url: str = "http://127.0.0.1:9") -> Relay:
    config_file = tmp_path / "relay.toml"
    config_file.write_text(CONFIG, encoding="utf-8")
    return Relay(
        load_config(config_file, environ={}),
        SQLiteOutbox(tmp_path / "outbox.sqlite3"),
        config_path=config_file,  # so that /api/reload reads it again
        budget=Unlimited(),
        send_token=SEND_TOKEN,
        base_url=sandbox_url,
        policy=Policy(backoff=0.05, backoff_cap=0.2, max_attempts=2),
        environ={},
    )


def _routes() -> list[RouteUnderTest]:
    """The app's own routes, and each configured webhook and robot as a route of its own."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        relay = _relay(Path(folder))
        found = routes_of(create_app(relay))
        relay.outbox.close()
    assert any(route.path == "/{source}/{route}" for route in found)
    assert any(route.path == "/send/{robot}" for route in found)
    return [
        *found,
        *(RouteUnderTest(webhook.path, ("POST",)) for webhook in WEBHOOKS),
        RouteUnderTest("/send/ops", ("POST",)),
    ]


RELAY_ROUTES = _routes()
#: Read at import: the suite's autouse fixture clears DINGKIT_* variables around each test.
EXAMPLES = examples()
#: Seconds the courier may take to empty the outbox after a route's cases.
DRAIN_WITHIN = 30.0
#: Routes that only read (the page, its script, /healthz, /metrics, /api/state) take no
#: input but the request's head: fewer cases for them keep the suite quick.
READ_ONLY_SHARE = 8


# ---- hostile payloads of the sources themselves ----------------------------------------------


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*at, index))


def _replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


def _dropped(value: Any, at: tuple[Any, ...]) -> Any:
    parent = value
    for step in at[:-1]:
        parent = parent[step]
    if isinstance(parent, dict):
        return _replaced(value, at[:-1], {k: v for k, v in parent.items() if k != at[-1]})
    return _replaced(value, at[:-1], [v for i, v in enumerate(parent) if i != at[-1]])


#: What a hostile field holds: text mostly (what templates and pages show), or anything.
field_values = st.one_of(st.text(max_size=60), json_values)


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """``template`` with one to three of its fields hostile or gone."""
    body = template
    for _ in range(draw(st.integers(1, 3), label="changes")):
        at = draw(st.sampled_from([at for at in _paths(body) if at]), label="at")
        if draw(st.integers(0, 4), label="drop") == 4:
            body = _dropped(body, at)
        else:
            body = _replaced(body, at, draw(field_values, label="value"))
        if not isinstance(body, dict) or not body:
            break
    return body


def _encoded(draw: st.DrawFn, body: Any) -> bytes:
    # Raw UTF-8 sometimes (lone surrogates written as such), as a careless encoder sends it.
    raw = json.dumps(body, ensure_ascii=draw(st.booleans(), label="ascii"))
    return raw.encode("utf-8", "surrogatepass")


@st.composite
def payloads(draw: st.DrawFn, webhook: Webhook) -> tuple[bytes, dict[str, str]]:
    """A body the route's sender could have sent, hostile within, or any hostile body at
    all, with the headers its sender adds and signed correctly (so that it passes the
    route's auth and reaches the source's parser)."""
    names = webhook.fixtures()
    name = draw(st.sampled_from(names), label="fixture") if names else ""
    sent = headers_for(name, load(name)) if name else {}
    if draw(st.integers(0, 2), label="from the fixture") == 2:
        encoded = draw(st.one_of(st.sampled_from(NASTY_BODIES), bodies), label="raw body")
    elif name:
        encoded = _encoded(draw, draw(mutated(load(name)), label="body"))
    else:  # generic: any object
        encoded = _encoded(draw, draw(objects, label="object"))
    for key in list(sent):  # the event and delivery headers are the sender's too
        if draw(st.integers(0, 3), label=f"hostile {key}") == 0:
            sent[key] = draw(header_values, label=key)
    return encoded, {**sent, **webhook.sign(encoded), "content-type": "application/json"}


#: Robot messages for /send/{robot}, one of each type.
MESSAGES = [
    {"msgtype": "text", "text": {"content": "build 7 passed"}, "at": {"atUserIds": ["u1"]}},
    {"msgtype": "markdown", "markdown": {"title": "deploy", "text": "# deploy\n- ok"}},
    {
        "msgtype": "link",
        "link": {"title": "t", "text": "x", "messageUrl": "https://example.com", "picUrl": ""},
    },
    {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "t",
            "text": "x",
            "btns": [{"title": "open", "actionURL": "https://example.com"}],
        },
    },
    {
        "msgtype": "feedCard",
        "feedCard": {"links": [{"title": "a", "messageURL": "https://example.com", "picURL": ""}]},
    },
]


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A robot message hostile within, as ``dingkit send --via-relay`` would post it."""
    template = draw(st.sampled_from(MESSAGES), label="message")
    return _encoded(draw, draw(mutated(template), label="mutated"))


# ---- the test ----------------------------------------------------------------------------------


@contextmanager
def relay_served(tmp_path: Path) -> Iterator[tuple[Relay, httpx.Client]]:
    """A relay delivering to a sandbox, served as ``dingkit relay serve`` serves it on
    loopback (its Host names, no admin token), and a client for it."""
    robot = RobotConfig(name="ops", token=ROBOT_TOKEN)
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(robot,), limits=False))
    with SandboxServer(sandbox) as sandbox_server:
        relay = _relay(tmp_path, sandbox_server.url)
        app = create_app(relay, allowed_hosts={"127.0.0.1", "localhost", "::1"})
        try:
            with served(app) as client:
                yield relay, client
        finally:
            relay.outbox.close()
    sandbox.close()


def _dead_letter(relay: Relay) -> str:
    """A dead letter in the outbox, so that replaying a real id is among the cases."""
    now = relay.clock()
    letter = Letter(
        id=new_letter_id(now),
        robot="ops",
        route="prod",
        source="alertmanager",
        severity="info",
        group="prod/x",
        message={"msgtype": "text", "text": {"content": "never sent"}},
        created=now,
    )
    relay.outbox.put([letter])
    relay.outbox.dead(letter.id, error="made dead by the test", now=now)
    return letter.id


def _says_what_is_wrong(response: httpx.Response) -> str:
    """The reason a 4xx gives: a JSON ``message`` or ``error``, or Starlette's plain text
    ("Method Not Allowed"); empty when it gives none."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()
    if not isinstance(data, dict):
        return ""
    said = data.get("message") or data.get("error")
    return said.strip() if isinstance(said, str) else ""


@dataclass
class World:
    relay: Relay
    client: httpx.Client
    dead: str  # a dead letter's id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One relay for every route's cases (what one route's cases leave behind is the next
    one's state, as on a server under attack)."""
    with relay_served(tmp_path_factory.mktemp("relay")) as (relay, client):
        yield World(relay, client, _dead_letter(relay))


@pytest.mark.parametrize("route", RELAY_ROUTES, ids=lambda route: route.id)
def test_no_hostile_request_breaks_the_relay(route: RouteUnderTest, world: World) -> None:
    webhook = BY_PATH.get(route.path)
    takes_input = "POST" in route.methods
    count = EXAMPLES if takes_input else max(EXAMPLES // READ_ONLY_SHARE, 10)
    answers: list[int] = []

    @settings(_SETTINGS, max_examples=count)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        answers.append(_one_case(data, route, webhook, world))

    with tracebacks() as seen:
        case()
        _still_works(world.client)
    assert seen == [], seen[0]
    figures.record("relay", route.id, answers)


def _one_case(
    data: st.DataObject, route: RouteUnderTest, webhook: Webhook | None, world: World
) -> int:
    method = data.draw(st.sampled_from([*route.methods * 6, "GET", "PUT"]), label="method")
    path = fill(route.path, [data.draw(path_parts) for _ in range(route.path.count("{"))])
    sent = data.draw(headers, label="headers")
    sent["content-type"] = data.draw(content_types, label="content-type")
    body = data.draw(bodies, label="body")
    if data.draw(st.integers(0, 3), label="with credentials") > 0:
        if webhook is not None:
            body, signed = data.draw(payloads(webhook), label="payload")
            sent |= signed
        elif route.path.startswith("/send/"):
            sent["Authorization"] = f"Bearer {SEND_TOKEN}"
            body = data.draw(messages(), label="robot message")
        elif route.path.startswith("/api/"):
            # Past the guard (same origin, JSON), so hostile values reach the handlers.
            sent.pop("Origin", None)
            sent["content-type"] = "application/json"
            if "{id}" in route.path and data.draw(st.booleans(), label="a real id"):
                path = route.path.replace("{id}", world.dead)
    query = encode_query(data.draw(queries, label="query"))
    response = world.client.request(
        method, f"{path}?{query}" if query else path, content=body, headers=_raw(sent)
    )
    said = (method, path, response.text[:500])
    assert response.status_code < 500, said
    assert "Traceback" not in response.text, said
    if response.status_code >= 400:
        assert _says_what_is_wrong(response), said
    return response.status_code


@pytest.mark.parametrize("path", [*BY_PATH, "/send/ops"])
def test_every_nasty_body_signed_is_a_4xx_naming_what_is_wrong(path: str, world: World) -> None:
    webhook = BY_PATH.get(path)
    fixtures = webhook.fixtures() if webhook else []
    sender = headers_for(fixtures[0], load(fixtures[0])) if fixtures else {}
    answers: list[int] = []
    with tracebacks() as seen:
        for body in NASTY_BODIES:
            signed = webhook.sign(body) if webhook else {"Authorization": f"Bearer {SEND_TOKEN}"}
            for kind in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
                sent = {**sender, **signed, "content-type": kind}
                response = world.client.post(path, content=body, headers=sent)
                answers.append(response.status_code)
                said = (kind, body[:40], response.text[:300])
                assert response.status_code < 500, said
                assert "Traceback" not in response.text, said
                if response.status_code >= 400:
                    assert _says_what_is_wrong(response), said
        _still_works(world.client)
    assert seen == [], seen[0]
    figures.record("relay", f"nasty bodies to {path}", answers)


def _still_works(client: httpx.Client) -> None:
    """After the cases: a webhook is still taken, everything queued leaves the outbox (sent,
    or a dead letter), the page's state and the metrics load, and the metrics did not grow a
    series per hostile path."""
    good = client.post("/alertmanager/prod", json=load("alertmanager/single-firing.json"))
    assert good.status_code == 200, good.text
    deadline = time.monotonic() + DRAIN_WITHIN
    while (health := client.get("/healthz")).json()["queued"]:
        assert health.status_code == 200, health.text
        assert time.monotonic() < deadline, f"still queued after {DRAIN_WITHIN} s: {health.text}"
        time.sleep(0.02)
    state = client.get("/api/state")
    assert state.status_code == 200, state.text[:300]
    assert [robot["name"] for robot in state.json()["robots"]] == ["ops"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200, metrics.text[:300]
    pairs = {
        tuple(re.findall(r'(?:source|route)="((?:[^"\\]|\\.)*)"', line))
        for line in metrics.text.split("\n")  # the format's only line break
        if line.startswith("dingkit_relay_refused_total{")
    }
    # The configured routes, and at most one series per source for unknown paths.
    assert len(pairs) <= len(WEBHOOKS) + len(SOURCES) + 1, sorted(pairs)[:20]


def test_unknown_paths_do_not_grow_the_metrics(tmp_path: Path) -> None:
    rng = random.Random(13)
    with relay_served(tmp_path) as (_, client):
        before = len(client.get("/metrics").text.splitlines())
        for _ in range(50):
            name = "".join(rng.choice("abcdefghij") for _ in range(12))
            assert client.post(f"/{name}/{name}", json={}).status_code == 404
            assert client.post(f"/alertmanager/{name}", json={}).status_code == 404
        after = len(client.get("/metrics").text.splitlines())
    assert after - before <= 2, "a series per unknown path: anyone can grow the metrics"
