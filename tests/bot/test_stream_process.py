"""``dingkit bot run`` as a real process against a live sandbox's Stream gateway: an event
acked before a SIGKILL (its handler blocked) is handled once after the restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import INBOX_FILE
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig
from reliability import secrets_scan

APP = AppConfig(name="stream-run", app_key="dingstreamrun01", app_secret="stream-run-secret-0001")
DINGKIT = [sys.executable, "-m", "dingkit"]

# The user's module: one handler that records each event id in handled.txt; with a "hang"
# file present it first says so in started.txt and then blocks (the test kills it meanwhile).
APP_MODULE = r"""
import os, time
from pathlib import Path
from dingkit.callback import UserAddOrg
from dingkit.callback.dispatcher import Handlers

folder = Path(os.environ["STREAM_TEST_DIR"])
events = Handlers()

@events.on(UserAddOrg)
def joined(event):
    if (folder / "hang").exists():
        (folder / "started.txt").write_text(event.event_id)
        time.sleep(120)
    with open(folder / "handled.txt", "a") as handled:
        handled.write(event.event_id + "\n")
"""


def wait_for(condition: Callable[[], object], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(limits=False, apps=(APP,), stream_ping_interval=0)
    sandbox = Sandbox.from_settings(config=config)
    with SandboxServer(sandbox) as served:
        yield served
    sandbox.close()


class Runner:
    """One `dingkit bot run` in its own session; stderr to a file."""

    def __init__(self, folder: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [*DINGKIT, "bot", "run", "app:events", "--data-dir", str(folder / "data"),
                 "--lease", "1"],
                cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        secrets_scan.collect(["bot", "run"], "", self.log.read_text())


def run_env(server: SandboxServer, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    return env | {
        "DINGTALK_APP_KEY": APP.app_key,
        "DINGTALK_APP_SECRET": APP.app_secret,
        "DINGTALK_API_BASE_URL": server.url,
        "DINGTALK_OAPI_BASE_URL": server.url,
        "STREAM_TEST_DIR": str(folder),
    }


def handled(folder: Path) -> list[str]:
    path = folder / "handled.txt"
    return path.read_text().split() if path.exists() else []


def test_an_event_acked_before_a_sigkill_is_handled_once_after_the_restart(
    tmp_path: Path, server: SandboxServer
) -> None:
    (tmp_path / "app.py").write_text(APP_MODULE)
    env = run_env(server, tmp_path)
    hub = server.sandbox.stream
    runners: list[Runner] = []

    def start() -> Runner:
        runner = Runner(tmp_path, env, tmp_path / f"run-{len(runners)}.log")
        runners.append(runner)
        wait_for(lambda: len(hub.connections(APP.app_key)) == 1, "the connection")
        return runner

    try:
        (tmp_path / "hang").touch()
        first = start()
        hub.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]}, event_id="ev-killed")
        wait_for(lambda: (tmp_path / "started.txt").exists(), "the handler to start")
        assert hub.pending_events() == []  # acked: DingTalk will not push it again
        first.kill()
        wait_for(lambda: not hub.connections(APP.app_key), "the connection to drop")
        assert handled(tmp_path) == []
        (tmp_path / "hang").unlink()
        second = start()  # the same data dir: the inbox survived
        wait_for(lambda: handled(tmp_path) == ["ev-killed"], "the handler after the restart")
        inbox = SQLiteInbox(tmp_path / "data" / INBOX_FILE)
        try:
            wait_for(lambda: inbox.counts()["done"] == 1, "the event settled")
            assert inbox.counts()["pending"] + inbox.counts()["running"] == 0
        finally:
            inbox.close()
        assert handled(tmp_path) == ["ev-killed"]
        second.stop()
        assert second.process.returncode == 0, second.log.read_text()
        assert "Traceback" not in second.log.read_text()
    finally:
        for runner in runners:
            runner.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_second_signal_ends_a_process_whose_handler_blocks(
    tmp_path: Path, server: SandboxServer, sig: signal.Signals
) -> None:
    (tmp_path / "app.py").write_text(APP_MODULE)
    (tmp_path / "hang").touch()
    runner = Runner(tmp_path, run_env(server, tmp_path), tmp_path / "run.log")
    hub = server.sandbox.stream
    try:
        wait_for(lambda: len(hub.connections(APP.app_key)) == 1, "the connection")
        hub.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]}, event_id="ev-blocked")
        wait_for(lambda: (tmp_path / "started.txt").exists(), "the handler to start")
        os.kill(runner.process.pid, sig)
        wait_for(lambda: not hub.connections(APP.app_key), "the connection closed")
        assert runner.process.poll() is None  # the blocked handler holds the exit
        os.kill(runner.process.pid, sig)
        assert runner.process.wait(timeout=10) == -sig
    finally:
        runner.stop()


@pytest.mark.parametrize(
    ("target", "said"),
    [("app:nothing", "has no attribute"), ("app:folder", "not a dingkit Bot"), ("app", "module:")],
)
def test_a_target_that_is_no_bot_is_a_clear_error(tmp_path: Path, target: str, said: str) -> None:
    (tmp_path / "app.py").write_text("from pathlib import Path\nfolder = Path('.')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env |= {"DINGTALK_APP_KEY": APP.app_key, "DINGTALK_APP_SECRET": APP.app_secret}
    result = subprocess.run(
        [*DINGKIT, "bot", "run", target], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    secrets_scan.collect(["bot", "run", target], result.stdout, result.stderr)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
