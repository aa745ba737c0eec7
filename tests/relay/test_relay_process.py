"""``dingkit relay serve`` as a process. SIGKILL in the middle of a burst of 2,000 alerts, then
a restart on the same data dir: every alert the relay acknowledged arrives, none twice, and the
sandbox (enforcing DingTalk's limit) refuses none; unacknowledged posts are sent again, as
Alertmanager retries a failed notification. A robot's wrong secret holds that robot until the
config is fixed and ``kill -HUP`` reloads it."""

from __future__ import annotations

import copy
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit.robot.limits import TEST_PERIOD_ENV
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

from .payloads import load

PERIOD = "4"  # DingTalk's minute, shortened for the sandbox and the relay alike
NOTIFICATIONS, ALERTS = 200, 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def body(n: int) -> dict[str, Any]:
    group = copy.deepcopy(load("alertmanager/single-firing.json"))
    template = group["alerts"][0]
    group["alerts"] = []
    for k in range(ALERTS):
        alert = copy.deepcopy(template)
        alert["labels"] = {**alert["labels"], "alertname": f"Burst{n % 7}", "instance": f"i{n}-{k}"}
        alert["annotations"] = {"summary": marker(n, k)}
        alert["fingerprint"] = f"{n:04d}{k}"
        group["alerts"].append(alert)
    group["groupKey"] = f'{{}}:{{group="{n}"}}'
    return group


def marker(n: int, k: int) -> str:
    return f"burst-{n:04d}-{k}"


class RelayProcess:
    def __init__(self, config: Path, data: Path, port: int, env: dict[str, str]) -> None:
        self.args = [
            sys.executable, "-m", "dingkit", "relay", "serve", "--config", str(config),
            "--port", str(port), "--data-dir", str(data), "--lease", "3",
        ]  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        self.env, self.log = env, data.parent / f"relay-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, RobotConfig]]:
    monkeypatch.setenv(TEST_PERIOD_ENV, PERIOD)
    robot = RobotConfig(name="ops", token=secrets.token_hex(16), group="ops")
    config = SandboxConfig(robots=(robot,), limits=True)
    with SandboxServer(Sandbox.from_settings(config=config)) as server:
        yield server, robot


def test_sigkill_in_the_middle_of_a_burst_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, sandbox: tuple[SandboxServer, RobotConfig]
) -> None:
    server, robot = sandbox
    config = tmp_path / "relay.toml"
    config.write_text(
        f'[[robot]]\nname = "ops"\ntoken = "{robot.token}"\n\n'
        '[[route]]\nname = "prod"\nsource = "alertmanager"\nrobots = ["ops"]\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env |= {
        "DINGTALK_OAPI_BASE_URL": server.url,
        TEST_PERIOD_ENV: PERIOD,
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "home" / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / "config"),
    }
    relay = RelayProcess(config, tmp_path / "relay-data", free_port(), env).start()
    acked: set[int] = set()

    def post(n: int) -> None:
        try:
            answer = httpx.post(f"{relay.url}/alertmanager/prod", json=body(n), timeout=10)
        except httpx.HTTPError:
            return  # not acknowledged: the sender tries again later
        if answer.status_code == 200:
            acked.add(n)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(post, n) for n in range(NOTIFICATIONS)]
            deadline = time.monotonic() + 120
            while len(acked) < NOTIFICATIONS // 3:
                assert time.monotonic() < deadline, "the relay took too few posts"
                time.sleep(0.01)
            relay.kill()  # mid-burst: posts in flight fail, some delivery half done
            for future in futures:
                future.result()
        acked_before_kill = set(acked)
        assert NOTIFICATIONS // 3 <= len(acked_before_kill) < NOTIFICATIONS
        relay.start()
        deadline = time.monotonic() + 120
        while len(acked) < NOTIFICATIONS:  # the senders retry what was not acknowledged
            for n in sorted(set(range(NOTIFICATIONS)) - acked):
                post(n)
            assert time.monotonic() < deadline
        wanted = [marker(n, k) for n in range(NOTIFICATIONS) for k in range(ALERTS)]
        deadline = time.monotonic() + 180
        while True:
            texts = [
                str(m.payload) for m in server.sandbox.robot.messages(robot="ops", limit=100_000)
            ]
            everything = "\n".join(texts)
            missing = [w for w in wanted if w not in everything]
            if not missing:
                break
            assert time.monotonic() < deadline, f"{len(missing)} alerts never arrived"
            time.sleep(0.2)
    finally:
        relay.stop()
    # Nothing sent twice, however the kill fell: each alert is in one message (a message may
    # name an alert twice: the group's summary is its first alert's).
    twice = [w for w in wanted if sum(1 for text in texts if w in text) > 1]
    assert twice == []
    assert server.sandbox.robot.rejections(robot="ops") == []  # never over the budget


def test_a_wrong_secret_holds_the_robot_until_the_config_is_fixed_and_reloaded_by_sighup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = RobotConfig(name="signed", token=secrets.token_hex(16), secret="SEC" + "1" * 40)
    plain = RobotConfig(name="plain", token=secrets.token_hex(16))
    config = SandboxConfig(robots=(signed, plain), limits=False)
    with SandboxServer(Sandbox.from_settings(config=config)) as server:
        relay_toml = tmp_path / "relay.toml"

        def write(secret: str) -> None:
            relay_toml.write_text(
                f'[[robot]]\nname = "signed"\ntoken = "{signed.token}"\nsecret = "{secret}"\n\n'
                f'[[robot]]\nname = "plain"\ntoken = "{plain.token}"\n\n'
                '[[route]]\nname = "a"\nsource = "alertmanager"\nrobots = ["signed"]\n\n'
                '[[route]]\nname = "b"\nsource = "alertmanager"\nrobots = ["plain"]\n',
                encoding="utf-8",
            )

        write("SEC" + "2" * 40)  # the wrong one
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
        env |= {"DINGTALK_OAPI_BASE_URL": server.url, "HOME": str(tmp_path / "home")}
        relay = RelayProcess(relay_toml, tmp_path / "data", free_port(), env).start()
        try:
            for route, n in (("a", 1), ("b", 2)):
                answer = httpx.post(f"{relay.url}/alertmanager/{route}", json=body(n), timeout=10)
                assert answer.status_code == 200

            def metrics() -> str:
                return httpx.get(f"{relay.url}/metrics", timeout=10).text

            deadline = time.monotonic() + 60
            while 'dingkit_relay_held{robot="signed",why="config"} 1' not in metrics():
                assert time.monotonic() < deadline, metrics()
                time.sleep(0.1)
            assert 'dingkit_relay_queued{robot="signed"} 1' in metrics()  # kept, not dropped
            while not server.sandbox.robot.messages(robot="plain"):  # the other is unaffected
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert "310000" in relay.log.read_text()  # the operator is told, in the log
            write(signed.secret or "")
            assert relay.process is not None
            relay.process.send_signal(signal.SIGHUP)
            while not server.sandbox.robot.messages(robot="signed"):
                assert time.monotonic() < deadline, metrics()
                time.sleep(0.1)
            assert 'dingkit_relay_held{robot="signed"' not in metrics()
        finally:
            relay.stop()
