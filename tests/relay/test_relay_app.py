"""The relay's HTTP face in process, delivering to an in-process sandbox: every fixture is taken
and arrives; bad input is a 4xx naming what is wrong and is kept; no outbox is a 503; the
page's API, the admin guard, /healthz, /metrics, dead-letter replay and /send/{robot}."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from dingkit._ratelimit import MemoryRateLimitStore
from dingkit.relay.app import create_app
from dingkit.relay.config import parse_config
from dingkit.relay.delivery import Policy
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.outbox.base import Letter
from dingkit.relay.service import Relay
from dingkit.sandbox import Sandbox
from dingkit.sandbox.app import create_app as sandbox_app
from dingkit.sandbox.config import RobotConfig, SandboxConfig

from .payloads import fixture_paths, headers_for, load

pytestmark = pytest.mark.anyio

GH_SECRET = "gh-webhook-secret"
CONFIG = f"""
[[robot]]
name = "ops"
token = "opstoken0001"

[[route]]
name = "am"
source = "alertmanager"
robots = ["ops"]

[[route]]
name = "locked"
source = "alertmanager"
robots = ["ops"]
auth = {{ kind = "bearer", token = "am-token-1234" }}

[[route]]
name = "grafana"
source = "grafana"
robots = ["ops"]

[[route]]
name = "github"
source = "github"
robots = ["ops"]
auth = {{ kind = "github", secret = "{GH_SECRET}" }}

[[route]]
name = "gitlab"
source = "gitlab"
robots = ["ops"]

[[route]]
name = "jenkins"
source = "jenkins"
robots = ["ops"]
"""


@dataclass
class Served:
    relay: Relay
    sandbox: Sandbox
    web: httpx.AsyncClient
    outbox: SQLiteOutbox

    async def deliver(self) -> None:
        for _ in range(50):
            if not self.outbox.backlog(self.relay.clock()):
                return
            await self.relay.courier.deliver()
        raise AssertionError(f"still queued: {self.outbox.backlog(self.relay.clock())}")

    def recorded(self) -> str:
        return "\n".join(str(m.payload) for m in self.sandbox.robot.messages(limit=10_000))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    sandbox = Sandbox.from_settings(
        config=SandboxConfig(robots=(RobotConfig(name="ops", token="opstoken0001"),), limits=False)
    )
    to_sandbox = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox_app(sandbox)), base_url="http://sandbox"
    )
    outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
    relay = Relay(
        parse_config(CONFIG, environ={}),
        outbox,
        budget=MemoryRateLimitStore(),
        base_url="http://sandbox",
        http_client=to_sandbox,
        send_token="send-token-5678",
        policy=Policy(merge_above=1000),
    )
    web = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(relay, allowed_hosts={"relay"})),
        base_url="http://relay",
    )
    yield Served(relay, sandbox, web, outbox)
    await relay.stop()
    await web.aclose()
    await to_sandbox.aclose()
    outbox.close()


def route_for(fixture: str) -> str:
    return {"alertmanager": "am"}.get(fixture.split("/")[0], fixture.split("/")[0])


def github_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("fixture", fixture_paths())
async def test_every_fixture_is_taken_and_delivered(served: Served, fixture: str) -> None:
    body = json.dumps(load(fixture)).encode()
    headers = {"Content-Type": "application/json", **headers_for(fixture, load(fixture))}
    if fixture.startswith("github/"):
        headers["X-Hub-Signature-256"] = github_signature(body)
    source = fixture.split("/")[0]
    answer = await served.web.post(f"/{source}/{route_for(fixture)}", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["robots"] == ["ops"]
    await served.deliver()
    assert len(served.sandbox.robot.messages(robot="ops", limit=10)) == 1
    assert served.sandbox.robot.rejections() == []


async def test_a_github_form_body_and_a_redelivery_are_taken_once(served: Served) -> None:
    form = urlencode({"payload": json.dumps(load("github/ping.json"))}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": github_signature(form),
    }
    first = await served.web.post("/github/github", content=form, headers=headers)
    again = await served.web.post("/github/github", content=form, headers=headers)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    await served.deliver()
    assert len(served.sandbox.robot.messages(robot="ops", limit=10)) == 1


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "says"),
    [
        ("/nagios/am", b"{}", {}, 404, "no source"),
        ("/alertmanager/nope", b"{}", {}, 404, "no alertmanager route"),
        ("/grafana/am", b"{}", {}, 404, "no grafana route"),  # a route of another source
        ("/alertmanager/am", b"{not json", {}, 400, "not JSON"),
        ("/alertmanager/am", b"", {}, 400, "empty"),
        ("/alertmanager/am", b"[" * 5000 + b"]" * 5000, {}, 400, "deeper"),
        ("/alertmanager/am", b'{"alerts": "many"}', {}, 422, "status is missing"),
        ("/alertmanager/am", b"{}", {"Content-Length": str(9 * 1024 * 1024)}, 413, "over"),
        ("/alertmanager/locked", b"{}", {}, 401, "Authorization"),
        ("/alertmanager/locked", b"{}", {"Authorization": "Bearer wrong"}, 403, ""),
        ("/github/github", b"{}", {"X-GitHub-Event": "ping"}, 401, "X-Hub-Signature-256"),
    ],
)
async def test_bad_input_is_a_4xx_naming_what_is_wrong(
    served: Served, path: str, body: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    answer = await served.web.post(path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["message"]
    assert not served.outbox.backlog(served.relay.clock())
    if status in (400, 422):
        [kept] = served.outbox.rejects()
        assert kept.route == path.split("/")[2]


async def test_no_outbox_is_a_503_and_healthz_says_so(served: Served) -> None:
    served.outbox.close()
    answer = await served.web.post("/alertmanager/am", json=load("alertmanager/single-firing.json"))
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert (await served.web.get("/healthz")).status_code == 503


async def test_metrics_count_what_came_and_went(served: Served) -> None:
    await served.web.post("/alertmanager/am", json=load("alertmanager/single-firing.json"))
    await served.web.post("/alertmanager/am", content=b"nope")
    before = (await served.web.get("/metrics")).text
    assert 'dingkit_relay_received_total{source="alertmanager",route="am"} 2' in before
    assert 'dingkit_relay_queued{robot="ops"} 1' in before
    assert 'reason="json"} 1' in before
    await served.deliver()
    after = (await served.web.get("/metrics")).text
    assert 'dingkit_relay_queued{robot="ops"} 0' in after
    assert 'dingkit_relay_delivered_total{robot="ops"} 1' in after
    assert 'dingkit_relay_budget_used{robot="ops"} 1' in after


async def test_the_page_api_lists_robots_deliveries_and_dead_letters_which_can_be_replayed(
    served: Served,
) -> None:
    bad = Letter(
        id="0000000000001deadletter00",
        robot="ops",
        route="am",
        source="alertmanager",
        severity="info",
        group="am/x",
        message={"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "ftp://x"}},
    )
    served.outbox.put([bad])
    await served.web.post("/alertmanager/am", json=load("alertmanager/single-firing.json"))
    await served.deliver()
    state = (await served.web.get("/api/state")).json()
    assert state["robots"][0]["name"] == "ops"
    assert [d["id"] for d in state["dead"]] == [bad.id]
    assert any(d["outcome"] == "delivered" for d in state["recent"])
    replayed = await served.web.post(f"/api/dead/{bad.id}/replay", json={})
    assert replayed.json() == {"replayed": bad.id}
    assert served.outbox.backlog(served.relay.clock()) == {"ops": 1}
    missing = await served.web.post("/api/dead/nothing/replay", json={})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 403),
        ({"Origin": "http://evil.example"}, 403),
        ({"Content-Type": "text/plain"}, 415),
    ],
)
async def test_the_admin_routes_refuse_other_sites(
    served: Served, headers: dict[str, str], status: int
) -> None:
    answer = await served.web.post("/api/reload", content=b"{}", headers=headers)
    assert answer.status_code == status


async def test_send_needs_the_send_token_and_delivers(served: Served) -> None:
    message = {"msgtype": "text", "text": {"content": "nightly build passed"}}
    assert (await served.web.post("/send/ops", json=message)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await served.web.post("/send/ops", json=message, headers=wrong)).status_code == 403
    right = {"Authorization": "Bearer send-token-5678"}
    taken = await served.web.post("/send/ops", json=message, headers=right)
    assert taken.json()["robot"] == "ops"
    assert (await served.web.post("/send/nobody", json=message, headers=right)).status_code == 404
    bad = await served.web.post("/send/ops", json={"msgtype": "nope"}, headers=right)
    assert bad.status_code == 400
    await served.deliver()
    assert "nightly build passed" in served.recorded()


async def test_a_flood_of_random_bodies_gets_no_5xx(served: Served) -> None:
    rng = random.Random(5)
    for _ in range(200):
        size = rng.randrange(0, 300)
        body = bytes(rng.randrange(256) for _ in range(size))
        for path in ("/alertmanager/am", "/grafana/grafana", "/gitlab/gitlab", "/jenkins/jenkins"):
            answer = await served.web.post(path, content=body)
            assert answer.status_code < 500, (path, body, answer.text)
