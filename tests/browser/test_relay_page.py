"""The relay's page in headless Chromium (issue 13, section 3): a real relay on a loopback
port delivering to a sandbox; the page shows each robot's queue and what it sent in the last
minute, recent deliveries with DingTalk's answer, a robot held for a wrong secret with the
reason, dead letters whose replay button puts them back in the queue, and refused webhooks.
Webhook bodies, alert labels and dead letters' errors carrying script payloads show as text
(browser/xss.py). Bound beyond loopback, the page reads the admin token from its fragment."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from browser.xss import PAYLOADS, WAIT_MS, Watched, shows_every_payload
from callback.conftest import Served
from dingkit._admin_guard import ADMIN_TOKEN_HEADER, LOOPBACK_NAMES
from dingkit._exceptions import ConfigurationError
from dingkit.relay.app import create_app
from dingkit.relay.config import parse_config
from dingkit.relay.delivery import new_letter_id
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.outbox.base import Hold, Letter
from dingkit.relay.service import Relay
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig
from relay.payloads import load
from reliability import figures

pytestmark = pytest.mark.browser

OPS = RobotConfig(name="ops", token="relayops0001")
# The sandbox's pager robot signs with one secret, the relay's config has another: DingTalk
# answers 310000 (sign not match) and the relay holds the robot's queue.
PAGER = RobotConfig(name="pager", token="relaypager01", secret="SECright-secret-0001")
SANDBOX = SandboxConfig(limits=False, robots=(OPS, PAGER))
CONFIG = f"""
[[robot]]
name = "ops"
token = "{OPS.token}"

[[robot]]
name = "pager"
token = "{PAGER.token}"
secret = "SECwrong-secret-0001"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["ops"]

[[route]]
name = "page"
source = "alertmanager"
robots = ["pager"]
"""
ADMIN_TOKEN = "relay-page-admin-token-0001"
#: Longest wait for the relay to do what a test waits on (its courier passes once a second).
DEADLINE = 30.0


@dataclass
class RelayUnderTest:
    relay: Relay
    server: Served
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def state(self) -> dict[str, Any]:
        answer = self.http.get("/api/state")
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def robot(self, name: str) -> dict[str, Any]:
        [found] = [robot for robot in self.state()["robots"] if robot["name"] == name]
        return found

    def until(self, what: str, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The relay's state once ``condition`` holds for it (polled; fails after DEADLINE)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            state = self.state()
            if condition(state):
                return state
            assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}; {state}"
            time.sleep(0.05)

    def put(self, robot: str, route: str, message: dict[str, Any]) -> str:
        """A letter straight into the outbox, as if a webhook had made it."""
        now = time.time()
        letter = Letter(
            id=new_letter_id(now),
            robot=robot,
            route=route,
            source="alertmanager",
            severity="warning",
            group=f"{route}/test",
            message=message,
            created=now,
        )
        self.relay.outbox.put([letter])
        return letter.id


@contextmanager
def relay_served(tmp_path: Path, *, admin_token: str | None = None) -> Iterator[RelayUnderTest]:
    """A relay delivering to a sandbox, served on a loopback port as ``dingkit relay serve``
    serves it: on loopback (its Host names, no token), or with ``admin_token`` as it is
    when bound to every interface (any Host, the token required)."""
    sandbox = Sandbox.from_settings(config=SANDBOX)
    with SandboxServer(sandbox) as sandbox_server:
        relay = Relay(
            parse_config(CONFIG, environ={}),
            SQLiteOutbox(tmp_path / "outbox.sqlite3"),
            base_url=sandbox_server.url,
            environ={},
        )
        allowed = None if admin_token else {*LOOPBACK_NAMES}
        server = Served(create_app(relay, allowed_hosts=allowed, admin_token=admin_token))
        headers = {ADMIN_TOKEN_HEADER: admin_token} if admin_token else {}
        try:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
                yield RelayUnderTest(relay, server, http)
        finally:
            server.stop()
            relay.outbox.close()
    sandbox.close()


def row(page: Page, table: str, text: str) -> Locator:
    """The rows of a table with ``text`` somewhere in them."""
    return page.locator(f"#{table} tbody tr", has_text=text)


def robot_row(page: Page, table: str, robot: str) -> Locator:
    """The rows of a table whose robot column is ``robot``."""
    return page.locator(f"#{table} tbody tr").filter(
        has=page.get_by_role("cell", name=robot, exact=True)
    )


def cell(page: Page, robot: str, index: int) -> Locator:
    """A cell of ``robot``'s row in the robots table."""
    return robot_row(page, "robots", robot).locator("td").nth(index)


# Columns of the robots table: robot, pool, queued, sent in the last minute, delivered, state.
QUEUED, SENT, DELIVERED, STATE = 2, 3, 4, 5


def test_the_page_shows_queues_deliveries_holds_dead_letters_and_refusals(
    watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    with relay_served(tmp_path, admin_token=ADMIN_TOKEN) as relay:
        # A message the pager robot can never send: a dead letter before it is ever held.
        never = {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "ftp://x"}}
        bad = relay.put("pager", "page", never)
        relay.until("a dead letter", lambda s: [d["id"] for d in s["dead"]] == [bad])
        alert = load("alertmanager/single-firing.json")
        assert relay.http.post("/alertmanager/prod", json=alert).status_code == 200
        nightly = {"msgtype": "text", "text": {"content": "nightly build passed"}}
        assert relay.http.post("/send/ops", json=nightly).status_code == 200
        assert relay.http.post("/alertmanager/page", json=alert).status_code == 200
        refused = relay.http.post(
            "/alertmanager/prod", content=b"{not json", headers={"Content-Type": "text/plain"}
        )
        assert refused.status_code == 400
        relay.until(
            "two sent by ops, pager held",
            lambda s: (
                [(r["delivered"], r["queued"], bool(r["held"])) for r in s["robots"]]
                == [(2, 0, False), (0, 1, True)]
            ),
        )

        # Beyond loopback the page needs the token its link carries.
        page.goto(relay.url + "/")
        expect(page.locator("#updated")).to_have_text("cannot read the relay's state (HTTP 401)")
        expect(page.locator("#robots tbody tr")).to_have_count(0)
        page.goto("about:blank")
        page.goto(f"{relay.url}/#admin={ADMIN_TOKEN}")

        expect(cell(page, "ops", QUEUED)).to_have_text("0", timeout=WAIT_MS)
        expect(cell(page, "ops", SENT)).to_have_text("2")
        expect(cell(page, "ops", DELIVERED)).to_have_text("2")
        expect(cell(page, "ops", STATE)).to_have_text("ok")
        expect(cell(page, "pager", QUEUED)).to_have_text("1")
        expect(cell(page, "pager", SENT)).to_have_text("0")
        held = cell(page, "pager", STATE)
        expect(held).to_have_class("held")
        expect(held).to_contain_text("held: SecurityCheckError")
        expect(held).to_contain_text("310000")
        expect(held).to_contain_text("sign not match")

        expect(row(page, "recent", "errcode 0: ok")).to_have_count(2)
        expect(robot_row(page, "recent", "ops")).to_have_count(2)
        expect(row(page, "recent", bad)).to_contain_text("not a well-formed URL")

        dead = row(page, "dead", bad)
        expect(dead).to_contain_text("pager")
        expect(dead).to_contain_text("not a message DingTalk takes")
        expect(row(page, "rejects", "the body is not JSON")).to_contain_text("{not json")
        expect(row(page, "rejects", "the body is not JSON")).to_contain_text("prod")

        # Replayed, the letter is queued for its robot again (held still, so it stays).
        dead.get_by_role("button", name="replay").click()
        state = relay.until("the letter replayed", lambda s: s["dead"] == [])
        assert relay.robot("pager")["queued"] == 2
        assert state["robots"][1]["held"] is not None
        expect(row(page, "dead", "no dead letters")).to_have_count(1)
        expect(cell(page, "pager", QUEUED)).to_have_text("2")
        assert watched.dialogs == []  # a failed replay alerts
        assert watched.errors == []

        # Paused after a rate-limit code (as the courier pauses it): until when, and why.
        now = time.time()
        reason = "rate limited by DingTalk: errcode 130101: send too fast"
        relay.relay.outbox.hold(Hold("ops", reason, now, now + 600))
        paused = cell(page, "ops", STATE)
        expect(paused).to_have_class("paused", timeout=WAIT_MS)
        expect(paused).to_contain_text("paused until ")
        expect(paused).to_contain_text(reason)

        # The relay gone, the page says so rather than showing its last state as current.
        relay.server.stop()
        expect(page.locator("#updated")).to_contain_text("cannot reach the relay", timeout=WAIT_MS)
        assert watched.errors == []


def alert_with(payload: str, index: int) -> dict[str, Any]:
    """Alertmanager's webhook with ``payload`` in its labels and annotations."""
    alert = load("alertmanager/single-firing.json")
    labels = {"alertname": payload, "severity": "critical", "instance": payload}
    for item in alert["alerts"]:
        item["labels"] |= labels
        item["annotations"] = {"summary": payload, "description": payload}
        item["generatorURL"] = payload
        item["fingerprint"] = f"xss{index:04d}"
    alert |= {"groupKey": f"xss-{index}", "commonLabels": labels, "groupLabels": labels}
    return alert


def test_no_payload_runs_or_lands_in_the_relay_page(watched: Watched, tmp_path: Path) -> None:
    for payload in PAYLOADS:  # names are checked at load: no page ever shows such a name
        for name in ('"ops"', '"prod"'):
            with pytest.raises(ConfigurationError, match="is not a name"):
                parse_config(CONFIG.replace(name, json.dumps(payload)), environ={})
    page = watched.page
    with relay_served(tmp_path) as relay:
        sent = 0
        for index, payload in enumerate(PAYLOADS):
            # Refused and kept: the body itself, and a status the source does not know.
            answer = relay.http.post(
                "/alertmanager/prod",
                content=payload.encode(),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 400, answer.text
            bad_status = {**load("alertmanager/single-firing.json"), "status": payload}
            assert relay.http.post("/alertmanager/prod", json=bad_status).status_code == 422
            # Not a route: a 404, and nothing kept.
            assert relay.http.post(f"/alertmanager/{payload}", json={}).status_code == 404
            # Taken and delivered: the payload in the alert's labels and annotations.
            taken = relay.http.post("/alertmanager/prod", json=alert_with(payload, index))
            assert taken.status_code == 200, taken.text
            sent += 1
            # Dead letters whose error quotes the payload.
            relay.put("ops", "prod", {"msgtype": payload})
            link = {"title": payload, "text": payload, "messageUrl": payload}
            relay.put("ops", "prod", {"msgtype": "link", "link": link})
        dead_letters = 2 * len(PAYLOADS)
        state = relay.until(
            "every alert delivered, every bad message dead",
            lambda s: s["robots"][0]["delivered"] == sent and len(s["dead"]) == dead_letters,
        )
        rejects = len(state["rejects"])
        assert rejects == 2 * len(PAYLOADS)

        page.goto(relay.url + "/")
        expect(page.locator("#rejects tbody tr")).to_have_count(rejects, timeout=WAIT_MS)
        expect(page.locator("#dead tbody tr")).to_have_count(dead_letters, timeout=WAIT_MS)
        expect(row(page, "recent", "errcode 0: ok")).to_have_count(sent, timeout=WAIT_MS)
        # A second refresh of every table (the page polls): what lands, lands again.
        updated = page.locator("#updated").inner_text()
        expect(page.locator("#updated")).not_to_have_text(updated, timeout=WAIT_MS)

        rejected_bodies = page.locator("#rejects").inner_text()
        dead_errors = page.locator("#dead").inner_text()
        # Shown as text: each payload as sent in a refused body, quoted in a dead letter.
        shown = shows_every_payload(rejected_bodies)
        quoted = shows_every_payload(dead_errors, repr)
        ran, bad = watched.scripts_run(), watched.disallowed()
        figures.record(
            "xss",
            "relay page",
            payloads=len(PAYLOADS),
            shown=page.locator("#rejects tbody tr, #dead tbody tr").count(),
            scripts_run=len(ran),
            disallowed=len(bad),
            delivered=sent,
        )
        assert ran == [], "payload scripts ran in the relay page"
        assert bad == [], "payload markup landed in the relay page"
        assert watched.errors == []
        assert (shown, quoted) == (len(PAYLOADS), len(PAYLOADS))
