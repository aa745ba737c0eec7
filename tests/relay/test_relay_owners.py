"""Owners named by an alert's label, found in the organisation's contacts when the relay has an
app (``[relay] contacts = true``): read once, matched by userId, job number, e-mail name or
name, mentioned in the robot message; an owner nobody matches is left unresolved, the alert
still delivered."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dingkit.relay.config import validate_config
from dingkit.relay.intake import accept
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.service import Relay
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, RobotConfig, SandboxConfig

from .test_relay_delivery import alert_group

pytestmark = pytest.mark.anyio

APP = AppConfig(name="relay", app_key="dingrelayowners", app_secret="relay-owners-secret")


@pytest.fixture
def served() -> Iterator[tuple[SandboxServer, RobotConfig]]:
    robot = RobotConfig(name="ops", token=secrets.token_hex(16), group="ops")
    config = SandboxConfig(robots=(robot,), apps=(APP,), limits=False, org_size=40, seed=3)
    with SandboxServer(Sandbox.from_settings(config=config)) as server:
        yield server, robot


def owned(n: int, owner: str) -> dict[str, Any]:
    body = alert_group(n, alerts=1)
    body["alerts"][0]["labels"]["owner"] = owner
    return body


async def test_owners_are_found_in_the_contacts_and_mentioned(
    tmp_path: Path, served: tuple[SandboxServer, RobotConfig]
) -> None:
    server, robot = served
    people = server.sandbox.org.users
    by_name, by_id = people[5], people[7]
    config = validate_config(
        {
            "relay": {"contacts": True, "mention_label": "owner"},
            "owners": {"mapped": "u-from-the-map"},
            "robot": [{"name": "ops", "token": robot.token}],
            "route": [{"name": "prod", "source": "alertmanager", "robots": ["ops"]}],
        },
        environ={},
    )
    environ = {"DINGTALK_APP_KEY": APP.app_key, "DINGTALK_APP_SECRET": APP.app_secret}
    outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
    relay = Relay(config, outbox, base_url=server.url, environ=environ)
    assert relay.lookup is not None
    route = config.routes[0]
    for n, owner in enumerate([by_name.name, by_id.userid, "mapped", "nobody-at-all"]):
        accepted = accept(
            config, route, {}, owned(n, owner), outbox, now=time.time(), lookup=relay.lookup
        )
        assert accepted.unresolved == (("nobody-at-all",) if owner == "nobody-at-all" else ())
    for _ in range(20):
        if not outbox.backlog(time.time()):
            break
        await relay.courier.deliver()
    await relay.stop()
    outbox.close()
    sent = [
        tuple(m.payload.get("at", {}).get("atUserIds", ()))
        for m in server.sandbox.robot.messages(robot="ops")
    ]
    assert len(sent) == 4  # the unresolved owner's alert too
    assert (by_name.userid,) in sent
    assert (by_id.userid,) in sent
    assert ("u-from-the-map",) in sent
    assert () in sent


def test_the_contacts_are_read_once() -> None:
    from dingkit.relay.owners import ContactsLookup

    class Contacts:
        reads = 0

        def walk(self) -> list[Any]:
            Contacts.reads += 1
            return []

        def users(self, dept_id: int) -> list[Any]:
            from dingkit.resources.contacts import User

            return [
                User(userid="u1", name="Alice Wang", email="alice@example.com", job_number="J7")
            ]

    class Client:
        contacts = Contacts()

    lookup = ContactsLookup(Client())  # type: ignore[arg-type]
    assert list(lookup("alice")) == ["u1"]
    assert list(lookup("Alice Wang")) == ["u1"]
    assert list(lookup("j7")) == ["u1"]
    assert list(lookup("bob")) == []
    assert Contacts.reads == 1
