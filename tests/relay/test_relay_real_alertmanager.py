"""A real Alertmanager HA pair (Debian's ``prometheus-alertmanager``) in front of a real
``dingkit relay serve``, delivering to a live sandbox: alerts posted to both Alertmanagers, as
Prometheus posts them, arrive grouped, once per group state, and resolved after firing.

Two Alertmanagers of a cluster both evaluate every group; the one at position 1 waits
``--cluster.peer-timeout`` and skips the notification when the gossiped notification log
shows position 0 already sent it. When gossip is slower than that wait (a slow receiver, a
lost packet, ``peer_timeout`` set low), both send: the relay must store one. Both cases run
here: a pair that coordinates, and one whose peers notify at once (``peer_timeout`` 0).

What Alertmanager 0.25 does that the assertions allow for: a new group waits ``group_wait``
for the rest of a batch, unless an alert's startsAt is already older than that (a rule with
``for:``); then the group flushes as its first alert goes in, and may send part of the batch,
the rest one ``group_interval`` later. The members may send different parts: each part is a
group state of its own, to be delivered once. A batch of resolved alerts can likewise meet a
``group_interval`` tick half way in. Alerts are posted with their startsAt, as Prometheus
posts them: without one, each member stamps its own clock, the copies differ in startsAt by
milliseconds, and the relay (whose key holds each alert's startsAt) delivers both.

Without ``/usr/bin/prometheus-alertmanager`` the tests are skipped, unless
``DINGKIT_REQUIRE_ALERTMANAGER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

from .processes import (
    ALERTMANAGER,
    Alertmanager,
    Process,
    RelayProcess,
    answers,
    clean_env,
    free_ports,
    get_json,
    metric,
    wait_for,
    wait_quiet,
)

ROBOT = RobotConfig(
    name="oncall", token="amhapairtoken0001", secret="SECamhapairsigning0001", group="ops"
)
ROUTE = "prod"
GROUP_WAIT, GROUP_INTERVAL = 1, 2  # seconds
#: The longest a notification's way from a state change to the sandbox takes here.
DELIVERY_TIMEOUT = 30.0

RELAY_CONFIG = f"""
[[robot]]
name = "{ROBOT.name}"
token = "{ROBOT.token}"
secret = "{ROBOT.secret}"

[[route]]
name = "{ROUTE}"
source = "alertmanager"
robots = ["{ROBOT.name}"]
"""

# send_resolved is the webhook's default; said here because the test depends on it.
ALERTMANAGER_CONFIG = """
global:
  resolve_timeout: 5m
route:
  receiver: relay
  group_by: [alertname, cluster]
  group_wait: {group_wait}s
  group_interval: {group_interval}s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: {relay}/alertmanager/{route}
        send_resolved: true
"""

#: Two groups (by alertname and cluster): three disks, two latencies.
GROUPS: dict[str, list[str]] = {
    "DiskFull": ["db-1", "db-2", "db-3"],
    "HighLatency": ["api-1", "api-2"],
}
SEVERITY = {"DiskFull": "critical", "HighLatency": "warning"}


@pytest.fixture(scope="module")
def alertmanager_binary() -> Path:
    # Module scope: it runs before the autouse _clean_environ, which removes DINGKIT_* vars.
    if not ALERTMANAGER.exists():
        message = f"{ALERTMANAGER} is missing; install Debian's prometheus-alertmanager (apt)"
        if os.environ.get("DINGKIT_REQUIRE_ALERTMANAGER") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_ALERTMANAGER=1 but {message}", pytrace=False)
        pytest.skip(message)
    return ALERTMANAGER


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(ROBOT,)))
    with SandboxServer(sandbox) as server:
        yield server
    sandbox.close()


@pytest.fixture
def relay(tmp_path: Path, sandbox_server: SandboxServer) -> Iterator[RelayProcess]:
    env = clean_env(tmp_path / "home", {"DINGTALK_OAPI_BASE_URL": sandbox_server.url})
    process = RelayProcess(tmp_path / "relay", RELAY_CONFIG, env=env)
    try:
        yield process.wait_ready()
    finally:
        process.stop()


@dataclass
class Pair:
    """Two Alertmanagers peered with each other, both notifying the relay."""

    members: tuple[Alertmanager, Alertmanager]
    peer_timeout: float

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """The same alerts to both at once, as Prometheus sends to each Alertmanager."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda member: member.post_alerts(alerts), self.members))

    def counters(self) -> tuple[float, ...]:
        """Per member: nflog queries (one per group flush, sent or skipped) and webhook
        notifications sent."""
        found: list[float] = []
        for member in self.members:
            text = member.metrics()
            found.append(metric(text, "alertmanager_nflog_queries_total"))
            found.append(metric(text, "alertmanager_notifications_total", integration="webhook"))
        return tuple(found)

    def notifications(self) -> list[float]:
        return [
            metric(m.metrics(), "alertmanager_notifications_total", integration="webhook")
            for m in self.members
        ]

    def failed(self) -> float:
        return sum(
            metric(m.metrics(), "alertmanager_notifications_failed_total", integration="webhook")
            for m in self.members
        )


@pytest.fixture
def start_pair(
    tmp_path: Path, alertmanager_binary: Path, relay: RelayProcess
) -> Iterator[Callable[[float], Pair]]:
    """``start_pair(peer_timeout)``: an HA pair on free loopback ports, ready and peered."""
    started: list[Process] = []

    def start(peer_timeout: float) -> Pair:
        config = ALERTMANAGER_CONFIG.format(
            group_wait=GROUP_WAIT, group_interval=GROUP_INTERVAL, relay=relay.url, route=ROUTE
        )
        web = free_ports(2)
        cluster = free_ports(2, udp=True)
        flags = [
            f"--cluster.peer-timeout={peer_timeout:g}s",
            # Notifications wait for the gossip to settle: at most this long, not a minute.
            "--cluster.settle-timeout=2s",
            "--cluster.reconnect-interval=1s",
        ]
        members: list[Alertmanager] = []
        for index in range(2):
            member = Alertmanager(
                tmp_path / f"alertmanager-{index}",
                config,
                web_port=web[index],
                cluster_port=cluster[index],
                peers=[f"127.0.0.1:{cluster[1 - index]}"],
                flags=flags,
            )
            started.append(member)
            members.append(member)
            # The first is listening before the second starts, so the second's join succeeds
            # at once rather than after a reconnect interval.
            wait_for(
                lambda m=member: answers(f"{m.url}/-/ready"),
                f"{member.name} /-/ready",
                processes=[member],
            )
        for member in members:
            wait_for(
                lambda m=member: _peered(m, len(members)),
                f"{member.name} to be settled with {len(members)} peers",
                processes=[*members, relay],
            )
        return Pair((members[0], members[1]), peer_timeout)

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


def _peered(member: Alertmanager, count: int) -> bool:
    cluster = member.status()["cluster"]
    return cluster["status"] == "ready" and len(cluster.get("peers") or []) == count


def alerts(status: str, started: datetime) -> list[dict[str, Any]]:
    """Every alert of :data:`GROUPS` as Prometheus posts it: its own startsAt, and an endsAt
    ahead while firing, now once resolved."""
    ends = started + timedelta(hours=1) if status == "firing" else datetime.now(UTC)
    return [
        {
            "labels": {
                "alertname": name,
                "cluster": "prod-a",
                "instance": instance,
                "severity": SEVERITY[name],
            },
            "annotations": {"summary": f"{name} on {instance}"},
            "startsAt": started.isoformat(),
            "endsAt": ends.isoformat(),
            "generatorURL": f"http://prometheus.example/graph?g0.expr={name}",
        }
        for name, instances in GROUPS.items()
        for instance in instances
    ]


def messages(server: SandboxServer) -> list[str]:
    """The markdown the robot's group received, oldest first."""
    found = get_json(f"{server.url}/_sandbox/messages?robot={ROBOT.name}&limit=1000")
    ordered = sorted(found["messages"], key=lambda m: m["id"])
    return [str(m["payload"]["markdown"]["text"]) for m in ordered]


_SUMMARY = re.compile(r"^> (\w+) on ([\w-]+)$", re.MULTILINE)

State = frozenset[tuple[str, str]]


def group_state(text: str) -> tuple[str, State]:
    """A message's group and its alerts' states, ``{(instance, "firing"|"resolved")}``: the
    default template gives each alert a ``####`` heading (``RESOLVED`` once resolved) and
    its summary."""
    states: set[tuple[str, str]] = set()
    names: set[str] = set()
    for block in text.split("\n#### ")[1:]:
        heading = block.partition("\n")[0]
        found = _SUMMARY.search(block)
        assert found is not None, f"no alert summary in {block!r}"
        names.add(found.group(1))
        states.add((found.group(2), "resolved" if "RESOLVED" in heading else "firing"))
    assert len(names) == 1, f"one group per message, got {sorted(names)}:\n{text}"
    return names.pop(), frozenset(states)


def everything(name: str, status: str) -> State:
    return frozenset((instance, status) for instance in GROUPS[name])


@dataclass
class Outcome:
    sent_by_each: list[float]  # webhook notifications per Alertmanager
    received: float  # by the relay
    duplicates: float  # recognised by the relay
    superseded: int  # stored, then replaced by a later state of the group before being sent
    states: dict[str, list[State]]  # per group, what its messages showed, in order


def run_firing_then_resolved(
    pair: Pair, relay: RelayProcess, server: SandboxServer, *, active_for: timedelta
) -> Outcome:
    """Fire both groups (alerts active since ``active_for`` ago) and wait until each shows
    all its alerts firing in one message; resolve them and wait until each shows them all
    resolved; wait until neither Alertmanager flushes any more; then check that no group
    state arrived twice and that the relay's and the Alertmanagers' counts agree."""
    processes = [*pair.members, relay]

    def shown() -> dict[str, list[State]]:
        states: dict[str, list[State]] = {name: [] for name in GROUPS}
        for text in messages(server):
            name, state = group_state(text)
            states[name].append(state)
        return states

    started = datetime.now(UTC) - active_for
    pair.post(alerts("firing", started))
    wait_for(
        lambda: all(everything(n, "firing") in s for n, s in shown().items()),
        "each group's alerts firing, together in one message",
        seconds=DELIVERY_TIMEOUT,
        processes=processes,
    )
    pair.post(alerts("resolved", started))
    wait_for(
        lambda: all(everything(n, "resolved") in s for n, s in shown().items()),
        "each group's alerts resolved, together in one message",
        seconds=DELIVERY_TIMEOUT,
        processes=processes,
    )
    # A group with alerts in it is flushed (its notification log queried) every
    # group_interval, the second member's after peer_timeout more; once both Alertmanagers
    # have dropped the resolved alerts they notified, their counters stop.
    wait_quiet(
        pair.counters,
        "both Alertmanagers to stop flushing",
        quiet=GROUP_INTERVAL + pair.peer_timeout + 1.5,
        seconds=DELIVERY_TIMEOUT,
        processes=processes,
    )
    text = relay.metrics()
    outcomes = Counter(d["outcome"] for d in get_json(f"{relay.url}/api/state")["recent"])
    outcome = Outcome(
        sent_by_each=pair.notifications(),
        received=metric(text, "dingkit_relay_received_total", route=ROUTE),
        duplicates=metric(text, "dingkit_relay_duplicates_total", route=ROUTE),
        superseded=outcomes["superseded"],
        states=shown(),
    )
    delivered = sum(len(states) for states in outcome.states.values())
    assert outcomes["delivered"] == delivered, outcomes

    for name, states in outcome.states.items():
        # Exactly one message per group state: the other member's copy was dropped.
        assert len(set(states)) == len(states), (name, outcome)
        # Firing first, resolved last. A state in between (a flush while a batch was half
        # in: see the module's notes) is another state, and allowed.
        assert {status for _, status in states[0]} == {"firing"}, (name, outcome)
        assert states[-1] == everything(name, "resolved"), (name, outcome)

    # Every notification either Alertmanager sent reached the relay and was taken (no 4xx,
    # no failed notification); each was recognised as a duplicate, or stored and then sent
    # as one message, or superseded while queued by a later state of its group that carried
    # all its alerts (the relay's resolved = "update", its default).
    assert pair.failed() == 0, outcome
    assert metric(text, "dingkit_relay_refused_total") == 0, text
    assert outcome.received == sum(outcome.sent_by_each), outcome
    assert outcome.received - outcome.duplicates == delivered + outcome.superseded, outcome
    assert metric(text, "dingkit_relay_delivered_total", robot=ROBOT.name) == delivered, text
    rejected = get_json(f"{server.url}/_sandbox/rejections?robot={ROBOT.name}")["rejections"]
    assert rejected == [], rejected
    return outcome


def first_states(outcome: Outcome) -> dict[str, State]:
    return {name: states[0] for name, states in outcome.states.items()}


#: Fresh alerts: their group waits group_wait for the rest of the batch.
NEW = timedelta(0)


def test_a_coordinating_ha_pair_s_groups_arrive_once_each_then_resolved(
    start_pair: Callable[[float], Pair], relay: RelayProcess, sandbox_server: SandboxServer
) -> None:
    # peer_timeout 1 s: five gossip intervals for the first member's log entry to arrive.
    outcome = run_firing_then_resolved(start_pair(1.0), relay, sandbox_server, active_for=NEW)
    assert first_states(outcome) == {name: everything(name, "firing") for name in GROUPS}


def test_both_peers_notifying_still_gives_one_message_per_group_state(
    start_pair: Callable[[float], Pair], relay: RelayProcess, sandbox_server: SandboxServer
) -> None:
    # peer_timeout 0: both members send at once, before either's log entry is gossiped.
    outcome = run_firing_then_resolved(start_pair(0.0), relay, sandbox_server, active_for=NEW)
    assert first_states(outcome) == {name: everything(name, "firing") for name in GROUPS}
    assert min(outcome.sent_by_each) >= 1, outcome
    assert outcome.duplicates >= 1, outcome


def test_alerts_active_before_group_wait_may_arrive_in_parts_but_no_state_twice(
    start_pair: Callable[[float], Pair], relay: RelayProcess, sandbox_server: SandboxServer
) -> None:
    # As Prometheus sends an alert of a rule with `for: 5m`: startsAt five minutes ago.
    run_firing_then_resolved(
        start_pair(0.0), relay, sandbox_server, active_for=timedelta(minutes=5)
    )
