"""The relay's delivery against the sandbox, on one fake clock for both: a burst of 2,000 alerts
arrives whole, within the budget and within ten minutes; busy answers and 503s are retried
until everything is delivered; a robot with a wrong secret is held without holding the others;
a rate-limited robot rests and its pool sibling takes its queue; a message DingTalk refuses is
a dead letter; what a silence held arrives as one digest when the window ends."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit._ratelimit import MemoryRateLimitStore
from dingkit.relay.config import RelayConfig, parse_config
from dingkit.relay.delivery import Courier, Policy
from dingkit.relay.intake import accept
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.outbox.base import Letter
from dingkit.sandbox import Sandbox
from dingkit.sandbox.app import create_app
from dingkit.sandbox.config import RobotConfig, SandboxConfig

from .payloads import load

pytestmark = pytest.mark.anyio

SANDBOX_ROBOTS = (
    RobotConfig(name="ops", token="opstoken0001", group="demo"),
    RobotConfig(name="ops2", token="ops2token001", group="demo"),
    RobotConfig(name="team", token="teamtoken001", secret="SECteamsecret-right", group="demo"),
)

RELAY_TOML = """
[[robot]]
name = "ops"
token = "opstoken0001"
pool = "ops"

[[robot]]
name = "ops2"
token = "ops2token001"
pool = "ops"

[[robot]]
name = "team"
token = "teamtoken001"
secret = "{team_secret}"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["ops"]

[[route]]
name = "team"
source = "alertmanager"
robots = ["team"]

[[route]]
name = "ci"
source = "github"
robots = ["ops"]

[[silence]]
comment = "planned database work"
match = {{ alertname = "~Maint.*" }}
start = "{start}"
end = "{end}"
"""


class Clock:
    """The relay's and the sandbox's time: starts now (signatures stay valid), moves only
    when a test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    clock: Clock
    sandbox: Sandbox
    config: RelayConfig
    outbox: SQLiteOutbox
    courier: Courier
    http: httpx.AsyncClient
    sent_alerts: list[str] = field(default_factory=list)

    def post(self, route: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        found = self.config.route(route)
        assert found is not None
        return accept(self.config, found, headers or {}, body, self.outbox, now=self.clock())

    def recorded_text(self, robot: str | None = None) -> str:
        messages = self.sandbox.robot.messages(robot=robot, limit=100_000)
        return "\n".join(str(m.payload) for m in messages)

    async def drain(self, *, within: float) -> float:
        """Deliver until the outbox is empty, moving the clock to each wake-up; the fake
        seconds it took."""
        start = self.clock.now
        while self.outbox.backlog(self.clock.now):
            wait = await self.courier.deliver()
            self.clock.now += wait if wait is not None and wait > 0 else 1.0
            assert self.clock.now - start <= within, (
                f"backlog {self.outbox.backlog(self.clock.now)} after {within} s: "
                f"holds {self.outbox.holds(self.clock.now)}"
            )
        return self.clock.now - start


def relay_config(clock: Clock, *, team_secret: str = "SECteamsecret-right") -> RelayConfig:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now - 60))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 1800))
    return parse_config(
        RELAY_TOML.format(team_secret=team_secret, start=start, end=end), environ={}
    )


POOLS = {"ops": ["ops2"], "ops2": ["ops"]}


def targets(config: RelayConfig) -> dict[str, Any]:
    return {robot.name: robot.target(base_url="http://sandbox") for robot in config.robots}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = Clock()
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=SANDBOX_ROBOTS), clock=clock)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://sandbox"
    )
    config = relay_config(clock)
    outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3", clock=clock)
    courier = Courier(
        outbox,
        targets(config),
        budget=MemoryRateLimitStore(clock=clock),
        pools=POOLS,
        policy=Policy(backoff=1.0, backoff_cap=30.0, max_attempts=30),
        clock=clock,
        http_client=http,
        rng=random.Random(7),
    )
    yield World(clock, sandbox, config, outbox, courier, http)
    await courier.aclose()
    await http.aclose()
    outbox.close()


def alert_group(n: int, alerts: int = 5, *, name: str = "HighLatency") -> dict[str, Any]:
    """An Alertmanager v4 notification with ``alerts`` firing alerts of its own."""
    body = copy.deepcopy(load("alertmanager/single-firing.json"))
    template = body["alerts"][0]
    body["alerts"] = []
    for k in range(alerts):
        alert = copy.deepcopy(template)
        alert["labels"] = {**alert["labels"], "alertname": name, "instance": f"web-{n}-{k}"}
        alert["fingerprint"] = f"fp{n:04d}{k}"
        # What an alert's message shows, one by one or in a digest: its summary.
        alert["annotations"] = {**alert.get("annotations", {}), "summary": f"fp{n:04d}{k}"}
        body["alerts"].append(alert)
    body["groupKey"] = f'{{}}:{{alertname="{name}", group="{n}"}}'
    body["commonLabels"] = {"alertname": name}
    body["groupLabels"] = {"alertname": name}
    body["status"] = "firing"
    return body


async def test_a_burst_of_2000_alerts_arrives_whole_within_budget_and_ten_minutes(
    world: World,
) -> None:
    for n in range(400):
        world.post("prod", alert_group(n, name=f"Alert{n % 9}"))
    assert world.outbox.backlog(world.clock.now) == {"ops": 400}
    took = await world.drain(within=600)
    text = world.recorded_text("ops")
    missing = [f"fp{n:04d}{k}" for n in range(400) for k in range(5) if f"fp{n:04d}{k}" not in text]
    assert missing == []  # every alert arrived
    assert world.sandbox.robot.rejections(robot="ops") == []  # never over the budget
    assert took <= 600
    assert world.courier.counters.merged == 400


async def test_busy_answers_and_503s_are_retried_until_everything_is_delivered(
    world: World,
) -> None:
    world.sandbox.judge.faults.set("ops", 0.3, seed=11)
    for n in range(15):
        world.post("prod", alert_group(n, alerts=1))
    await world.drain(within=3600)
    drawn = world.sandbox.judge.faults.drawn("ops")
    assert drawn["busy"] > 0
    assert drawn["unavailable"] > 0
    assert world.courier.counters.retried == drawn["busy"] + drawn["unavailable"]
    text = world.recorded_text("ops")
    assert all(f"fp{n:04d}0" in text for n in range(15))
    uuids = [m.msg_uuid for m in world.sandbox.robot.messages(robot="ops", limit=1000)]
    assert len(uuids) == len(set(uuids)) == 15  # each once


async def test_a_wrong_secret_holds_that_robot_only_until_its_config_is_fixed(
    world: World,
) -> None:
    wrong = relay_config(world.clock, team_secret="SECteamsecret-WRONG")
    await world.courier.reload(targets(wrong), POOLS)
    for n in range(3):
        world.post("team", alert_group(n, alerts=1, name="TeamAlert"))
        world.post("prod", alert_group(100 + n, alerts=1))
    for _ in range(5):
        await world.courier.deliver()
        world.clock.now += 5
    holds = world.outbox.holds(world.clock.now)
    assert list(holds) == ["team"]
    assert holds["team"].until is None
    assert "SecurityCheckError" in holds["team"].reason
    assert world.outbox.backlog(world.clock.now) == {"team": 3}  # kept, not dropped
    assert "fp01000" in world.recorded_text("ops")  # the others are unaffected
    # The operator fixes the secret and reloads: the held queue goes out.
    await world.courier.reload(targets(world.config), POOLS)
    await world.drain(within=120)
    assert all(f"fp{n:04d}0" in world.recorded_text("team") for n in range(3))


async def test_a_rate_limited_robot_rests_and_its_pool_sibling_takes_its_queue(
    world: World,
) -> None:
    # Someone else used the robot's minute (another tool on the same webhook): DingTalk
    # answers the relay's first send with the rate-limit code.
    for n in range(20):
        answer = await world.http.post(
            "/robot/send",
            params={"access_token": "opstoken0001"},
            json={"msgtype": "text", "text": {"content": f"other tool {n}"}},
        )
        assert answer.json()["errcode"] == 0
    for n in range(6):
        world.post("prod", alert_group(n, alerts=1))
    await world.drain(within=300)
    hold = world.outbox.holds(world.clock.now).get("ops")
    assert hold is not None
    assert hold.until is not None
    assert hold.until - hold.since == pytest.approx(600)
    assert world.courier.counters.moved >= 5
    text = world.recorded_text("ops2")
    assert all(f"fp{n:04d}0" in text for n in range(6))


async def test_a_message_dingtalk_will_never_take_is_a_dead_letter_and_can_be_replayed(
    world: World,
) -> None:
    bad = Letter(
        id="0000000000001badbadbadbad",
        robot="ops",
        route="prod",
        source="generic",
        severity="info",
        group="prod/x",
        message={"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "ftp://x"}},
        created=world.clock.now,
    )
    world.outbox.put([bad])
    await world.drain(within=60)
    [dead] = world.outbox.dead_letters()
    assert dead.id == bad.id
    assert dead.last_error
    assert world.courier.counters.dead == 1


async def test_a_duplicate_delivery_is_stored_once(world: World) -> None:
    body = load("github/ping.json")
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1"}
    first = world.post("ci", body, headers)
    again = world.post("ci", body, headers)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert world.outbox.backlog(world.clock.now) == {"ops": 1}


async def test_what_a_silence_held_arrives_as_one_digest_when_its_window_ends(
    world: World,
) -> None:
    for n in range(4):
        accepted = world.post("prod", alert_group(n, alerts=2, name="MaintDisk"))
        assert accepted.held_until is not None
    world.post("prod", alert_group(50, alerts=1))  # not silenced: goes at once
    await world.courier.deliver()
    assert "fp00500" in world.recorded_text("ops")
    assert "fp00000" not in world.recorded_text("ops")
    world.clock.now += 1900  # the window ends
    await world.drain(within=120)
    held = [
        m
        for m in world.sandbox.robot.messages(robot="ops", limit=100)
        if "MaintDisk" in str(m.payload)
    ]
    assert len(held) == 1  # one digest
    assert all(f"fp{n:04d}{k}" in str(held[0].payload) for n in range(4) for k in range(2))


async def test_the_budget_is_used_whole_but_never_exceeded_as_work_keeps_arriving(
    world: World,
) -> None:
    sent_at: list[float] = []
    record = world.sandbox.robot.add_message

    def stamped(*args: Any, **kwargs: Any) -> Any:
        sent_at.append(world.clock.now)
        return record(*args, **kwargs)

    world.sandbox.robot.add_message = stamped  # type: ignore[method-assign]
    for batch in range(4):  # 15 every 10 s: 60 in 40 s, one by one (never 20 due at once)
        for n in range(15):
            world.post("prod", alert_group(batch * 100 + n, alerts=1))
        await world.courier.deliver()
        world.clock.now += 10
    await world.drain(within=600)
    assert world.sandbox.robot.rejections(robot="ops") == []
    assert len(sent_at) >= 20
    for first in sent_at:  # at most 20 in any minute ...
        assert sum(1 for t in sent_at if first <= t < first + 60) <= 20
    assert sent_at[19] - sent_at[0] < 15  # ... and the first 20 went at once


async def test_an_letter_whose_worker_died_is_sent_alone_never_merged(world: World) -> None:
    # A worker claimed a letter, posted it, and was killed before recording it.
    world.post("prod", alert_group(1, alerts=1))
    [claimed] = world.outbox.claim("ops", now=world.clock.now, lease=120, limit=10)
    posted = await world.http.post(
        "/robot/send",
        params={"access_token": "opstoken0001"},
        json={**claimed.message, "msgUuid": claimed.id},
    )
    assert posted.json()["errcode"] == 0
    world.clock.now += 121  # its lease runs out; meanwhile a backlog builds up
    for n in range(2, 40):
        world.post("prod", alert_group(n, alerts=1))
    await world.drain(within=600)
    shown = [
        m
        for m in world.sandbox.robot.messages(robot="ops", limit=100)
        if "fp00010" in str(m.payload)
    ]
    assert len(shown) == 1  # once: resent under its own msgUuid, not inside a digest
    assert all(f"fp{n:04d}0" in world.recorded_text("ops") for n in range(2, 40))
    assert world.courier.counters.merged == 38


def resolved_group(n: int, alerts: int) -> dict[str, Any]:
    body = alert_group(n, alerts=alerts)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2018-08-03T09:59:26.739Z"
    return body


async def test_a_resolution_supersedes_the_queued_firing_state_of_its_group(world: World) -> None:
    world.post("prod", alert_group(1, alerts=2))  # queued, not yet sent
    world.post("prod", resolved_group(1, alerts=2))  # the group resolved meanwhile
    world.post("prod", alert_group(2, alerts=2))
    world.post("prod", resolved_group(2, alerts=1))  # carries only one of the two: no
    assert world.outbox.backlog(world.clock.now) == {"ops": 3}
    await world.drain(within=60)
    texts = [str(m.payload) for m in world.sandbox.robot.messages(robot="ops", limit=100)]
    group_1 = [t for t in texts if "fp00010" in t]
    assert len(group_1) == 1  # one message, the resolution, not a stale firing one first
    assert "RESOLVED" in group_1[0].upper()
    assert sum("fp00020" in t for t in texts) == 2  # group 2: both kept
    assert any(r.outcome == "superseded" for r in world.outbox.recent())


async def test_with_repeat_every_state_is_sent(world: World) -> None:
    repeat = relay_config(world.clock).model_copy(
        update={"relay": world.config.relay.model_copy(update={"resolved": "repeat"})}
    )
    world.config = repeat
    world.post("prod", alert_group(1, alerts=2))
    world.post("prod", resolved_group(1, alerts=2))
    await world.drain(within=60)
    texts = [str(m.payload) for m in world.sandbox.robot.messages(robot="ops", limit=100)]
    assert sum("fp00010" in t for t in texts) == 2


async def test_a_backlog_that_keeps_growing_is_packed_into_few_digests_when_a_slot_frees(
    world: World,
) -> None:
    for n in range(20):  # the robot's minute used up
        world.post("prod", alert_group(n, alerts=1))
    await world.courier.deliver()
    assert len(world.sandbox.robot.messages(robot="ops", limit=100)) == 20
    for burst in range(30):  # 750 alerts trickle in while no slot is free
        for n in range(25):
            world.post("prod", alert_group(1000 + burst * 25 + n, alerts=1))
        await world.courier.deliver()
        world.clock.now += 1
    await world.drain(within=600)
    later = world.sandbox.robot.messages(robot="ops", limit=1000)[20:]
    assert len(later) <= 8  # packed by size, not one digest per pass
    text = "\n".join(str(m.payload) for m in later)
    assert all(f"fp{n:04d}0" in text for n in range(1000, 1750))
    assert world.sandbox.robot.rejections(robot="ops") == []


async def test_an_alertmanager_reminder_after_its_repeat_interval_is_sent_not_dropped(
    world: World,
) -> None:
    first = world.post("prod", alert_group(1, alerts=1))
    copy_ = world.post("prod", alert_group(1, alerts=1))  # the HA peer's copy, at once
    assert (first.duplicate, copy_.duplicate) == (False, True)
    await world.drain(within=60)
    world.clock.now += 4 * 3600  # repeat_interval: the group is still firing
    reminder = world.post("prod", alert_group(1, alerts=1))
    assert reminder.duplicate is False
    await world.drain(within=60)
    assert (
        sum(
            "fp00010" in t
            for t in (str(m.payload) for m in world.sandbox.robot.messages(robot="ops"))
        )
        == 2
    )


async def test_a_message_dingtalk_finds_too_long_goes_again_in_smaller_parts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dingkit import PayloadTooLargeError

    world.post("prod", alert_group(1, alerts=60))  # a long markdown message
    real_post = world.courier._post
    sizes: list[int] = []

    async def counting_post(robot: str, part: Any) -> Any:
        sizes.append(len(part.body))
        if len(part.body) > 12_000:  # DingTalk counts differently from us [I]: refused
            raise PayloadTooLargeError("errcode 460101: message too long", errcode=460101)
        return await real_post(robot, part)

    monkeypatch.setattr(world.courier, "_post", counting_post)
    await world.drain(within=120)
    stored = world.sandbox.robot.messages(robot="ops", limit=100)
    assert len(stored) >= 2  # in parts, each under half the limit
    assert sizes[0] > 12_000
    assert all(size <= 12_000 for size in sizes[1:])
    text = "\n".join(str(m.payload) for m in stored)
    assert all(f"fp0001{k}" in text for k in range(10))  # the alerts shown before the cut
    assert world.outbox.dead_letters() == []
