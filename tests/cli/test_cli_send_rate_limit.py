"""Issue 11: one robot's 20-a-minute window is shared by separate ``dingkit send`` processes
(a file beside the token cache on one host, Redis across hosts), against a sandbox that
enforces DingTalk's limit and would block the robot for 10 minutes over it.

The commands are real processes (forked by the fork server, or started by ``subprocess``); all
they share is the window store.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from cli.conftest import CLI, Result, SandboxClient
from dingkit import RedisRateLimitStore
from dingkit.robot.client import window_key
from dingkit.robot.limits import TEST_PERIOD_ENV, client_window
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

REDIS_URL = "redis://127.0.0.1:6379/0"
#: The window the waiting test shortens DingTalk's minute to, for the sandbox and the CLI.
TEST_PERIOD = "8"


def serve_limited() -> tuple[SandboxServer, RobotConfig]:
    """A sandbox with DingTalk's limits on and a robot nobody has sent through yet."""
    robot = RobotConfig(name="limited", token=secrets.token_hex(20), group="limits")
    config = SandboxConfig(errcodes="doc", limits=True, robots=(robot,))
    return SandboxServer(Sandbox.from_settings(config=config)), robot


@pytest.fixture
def limited() -> Iterator[tuple[SandboxClient, RobotConfig]]:
    server, robot = serve_limited()
    with server:
        assert server.sandbox.judge.limits
        yield SandboxClient(server), robot


def send_env(sandbox: SandboxClient, robot: RobotConfig) -> dict[str, str]:
    return {"DINGTALK_OAPI_BASE_URL": sandbox.url, **SandboxClient.env(robot)}


def delivered(sandbox: SandboxClient, robot: RobotConfig) -> list[str]:
    return [m["payload"]["text"]["content"] for m in sandbox.messages(robot.name)]


def check_split(
    results: Sequence[Result], robot: RobotConfig, *, sent: int, refused: int
) -> list[float]:
    """``sent`` succeeded and ``refused`` failed locally in one line with ``retry_after``;
    the ``retry_after`` values."""
    ok = [result for result in results if result.returncode == 0]
    failed = [result for result in results if result.returncode != 0]
    assert (len(ok), len(failed)) == (sent, refused), results
    for result in ok:
        result.assert_ok()
        result.assert_no_secrets(robot.token)
    waits = []
    for result in failed:
        line = result.assert_failure(1, "20 messages", "retry_after=")
        assert "errcode" not in line  # refused by the client, not by the sandbox
        result.assert_no_secrets(robot.token)
        found = re.search(r"retry_after=(\d+(?:\.\d+)?)", line)
        assert found is not None, line
        waits.append(float(found[1]))
    assert all(0 < wait <= 61 for wait in waits), waits
    return waits


def test_25_processes_without_waiting_send_20_and_5_fail_locally(
    home: Path, limited: tuple[SandboxClient, RobotConfig]
) -> None:
    sandbox, robot = limited
    cli = CLI(home, send_env(sandbox, robot))
    results = cli.run_many(
        *(["send", "text", f"message {index}", "--no-wait"] for index in range(25))
    )
    check_split(results, robot, sent=20, refused=5)
    sent = {f"message {i}" for i, result in enumerate(results) if result.returncode == 0}
    assert sorted(delivered(sandbox, robot)) == sorted(sent)
    assert sandbox.rejections() == []  # DingTalk would have blocked nothing

    more = cli.run("send", "text", "one more", "--no-wait", "--json")
    assert more.returncode == 1, more
    answer = more.json()
    assert (answer["ok"], answer["error"]) == (False, "RateLimitError")
    assert 0 < answer["retry_after"] <= 61
    assert len(delivered(sandbox, robot)) == 20


def test_25_processes_that_may_wait_are_all_delivered(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox reads the test period when it is built, the CLI when it builds the robot:
    # both keep 20 messages per 8 s (the CLI 9 s), so the 21st to 25th wait seconds, not a
    # minute.
    monkeypatch.setenv(TEST_PERIOD_ENV, TEST_PERIOD)
    server, robot = serve_limited()
    with server:
        sandbox = SandboxClient(server)
        cli = CLI(home, {**send_env(sandbox, robot), TEST_PERIOD_ENV: TEST_PERIOD})
        # More at once than the five that will wait, so that waiting holds up no one's start;
        # few enough that a busy machine does not delay a post long after its slot (the
        # client's margin over DingTalk's window is one second).
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(
                pool.map(lambda index: cli.run("send", "text", f"message {index}"), range(25))
            )
        check_split(results, robot, sent=25, refused=0)
        # Some waited for a slot (the 21st to 25th, unless the machine was so slow that the
        # window had moved on by the time they started): no process sends 21 of its own, so
        # only a shared window makes anyone wait.
        waited = [result for result in results if "for a send slot" in result.stderr]
        assert 1 <= len(waited) <= 5, results
        assert sorted(delivered(sandbox, robot)) == sorted(f"message {i}" for i in range(25))
        assert sandbox.rejections() == []


# Module scope: set up before the autouse fixture that clears DINGKIT_* from the environment.
@pytest.fixture(scope="module")
def redis_server() -> Iterator[redis.Redis]:
    """Redis on 127.0.0.1:6379; skipped without one, unless DINGKIT_REQUIRE_REDIS=1 (CI)."""
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        server.ping()
    except redis.RedisError as exc:
        server.close()
        message = f"no Redis server answers on 127.0.0.1:6379 ({exc})"
        if os.environ.get("DINGKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_REDIS=1 but {message}", pytrace=False)
        pytest.skip(message)
    yield server
    server.close()


def test_processes_on_three_hosts_share_the_window_through_redis(
    home: Path, redis_server: redis.Redis
) -> None:
    server, robot = serve_limited()
    window = client_window(f"{server.url}/robot/send", {})
    store = RedisRateLimitStore(REDIS_URL)
    try:
        with server:
            sandbox = SandboxClient(server)
            # A first host (this test) has sent 16 of the robot's 20 messages.
            for _ in range(16):
                assert store.try_acquire(window_key(robot.token), window.limit, window.period) == 0
            # Two more hosts: two homes, so two token caches and window files; one names
            # Redis in the environment, the other on the command line.
            hosts = [
                CLI(home / "two", {**send_env(sandbox, robot), "DINGKIT_REDIS_URL": REDIS_URL}),
                CLI(home / "three", send_env(sandbox, robot)),
            ]
            calls = []
            for index, host in enumerate(hosts * 3):
                host.home.mkdir(exist_ok=True)
                args = ["send", "text", f"message {index}", "--no-wait"]
                calls.append((host, args if host is hosts[0] else [*args, "--redis", REDIS_URL]))
            with ThreadPoolExecutor(max_workers=len(calls)) as pool:
                results = list(pool.map(lambda call: call[0].run(*call[1]), calls))
            check_split(results, robot, sent=4, refused=2)
            assert len(delivered(sandbox, robot)) == 4
            assert sandbox.rejections() == []
    finally:
        redis_server.delete(store.key(window_key(robot.token)))
        store.redis.close()


def test_an_unreachable_redis_or_a_bad_test_period_is_one_line(
    home: Path, limited: tuple[SandboxClient, RobotConfig]
) -> None:
    sandbox, robot = limited
    cli = CLI(home, send_env(sandbox, robot))
    unreachable, bad_period = cli.run_many(
        ["send", "text", "hello", "--redis", "redis://:hunter2secret@127.0.0.1:1/0"],
        CLI.call("send", "text", "hello", env={TEST_PERIOD_ENV: "soon"}),
    )
    line = unreachable.assert_failure(1, "Redis at 127.0.0.1:1", "nothing was sent")
    assert "DINGKIT_REDIS_URL" in line
    assert "sandbox" not in line
    unreachable.assert_no_secrets("hunter2secret", robot.token)
    bad_period.assert_failure(2, TEST_PERIOD_ENV, "'soon'")
    assert delivered(sandbox, robot) == []
