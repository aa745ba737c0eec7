"""``dingkit send ... --via-relay URL --robot NAME``: 30 CI jobs (separate processes) hand their
messages to one relay, which stores them at once and delivers them all within the robot's
budget: the sandbox, enforcing DingTalk's limit, refuses none."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from callback.conftest import Served
from cli.conftest import CLI, SandboxClient
from dingkit.relay.app import create_app
from dingkit.relay.config import parse_config
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.service import Relay
from dingkit.robot.limits import TEST_PERIOD_ENV
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

SEND_TOKEN = "ci-send-token-0001"


@dataclass
class World:
    sandbox: SandboxClient
    relay_url: str
    robot: RobotConfig

    def delivered(self) -> str:
        return "\n".join(str(m["payload"]) for m in self.sandbox.messages(self.robot.name))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # DingTalk's minute shortened to 6 s for the sandbox and the relay (read when each is
    # built): the 21st to 30th messages wait seconds for a slot, not a minute.
    monkeypatch.setenv(TEST_PERIOD_ENV, "6")
    robot = RobotConfig(name="ci", token=secrets.token_hex(20), group="builds")
    config = SandboxConfig(errcodes="doc", limits=True, robots=(robot,))
    with SandboxServer(Sandbox.from_settings(config=config)) as server:
        relay_config = parse_config(
            f'[[robot]]\nname = "builds"\ntoken = "{robot.token}"\n', environ={}
        )
        outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
        relay = Relay(relay_config, outbox, base_url=server.url, send_token=SEND_TOKEN)
        served = Served(create_app(relay))
        try:
            yield World(SandboxClient(server), served.url, robot)
        finally:
            served.stop()
            outbox.close()


def test_many_jobs_share_one_relay_and_every_message_arrives_within_the_budget(
    home: Path, world: World
) -> None:
    cli = CLI(home, {"DINGKIT_RELAY_SEND_TOKEN": SEND_TOKEN})

    def job(index: int) -> object:
        return cli.run(
            "send",
            "text",
            f"build {index} passed",
            "--via-relay",
            world.relay_url,
            "--robot",
            "builds",
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(job, range(30)))
    for result in results:
        result.assert_ok()  # type: ignore[attr-defined]
        assert "queued text message at the relay" in result.stdout  # type: ignore[attr-defined]
        result.assert_no_secrets(world.robot.token)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while not all(f"build {i} passed" in world.delivered() for i in range(30)):
        assert time.monotonic() < deadline, world.delivered()
        time.sleep(0.2)
    assert world.sandbox.rejections() == []  # 30 messages, none over the robot's budget


def test_without_the_send_token_the_relay_refuses_and_the_job_fails(
    home: Path, world: World
) -> None:
    result = CLI(home).run("send", "text", "x", "--via-relay", world.relay_url, "--robot", "builds")
    result.assert_failure(2, "DINGKIT_RELAY_SEND_TOKEN")
    unknown = CLI(home, {"DINGKIT_RELAY_SEND_TOKEN": SEND_TOKEN}).run(
        "send", "text", "x", "--via-relay", world.relay_url, "--robot", "nobody", "--json"
    )
    assert unknown.returncode == 2
    assert "no robot named 'nobody'" in unknown.stdout
