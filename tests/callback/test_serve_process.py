"""``dingkit callback serve`` as real processes: an ack survives SIGKILL, and two receivers
sharing a Redis inbox handle each event exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from reliability import secrets_scan

from .conftest import REDIS_URL, wait_for

TOKEN = "serve-token"
RECEIVER_ID = "dingcorpserve"
DINGKIT = [sys.executable, "-m", "dingkit"]

# The --exec handler: records each event id in handled.txt; with a "hang" file present it
# first says so in started.txt and then hangs (the test kills the receiver meanwhile).
HANDLER = r"""
import json, os, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
event = json.load(sys.stdin)
if (folder / "hang").exists():
    (folder / "started.txt").write_text(event["event_id"])
    time.sleep(120)
with open(folder / "handled.txt", "a") as handled:
    handled.write(event["event_id"] + "\n")
"""


class Receiver:
    """One `dingkit callback serve` process in its own session (so its children die too);
    its stderr goes to a file, read for the address it announces."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [*DINGKIT, "callback", "serve", "--port", "0", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while "receiving DingTalk events at" not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the receiver did not start: {log.read_text()}")
            time.sleep(0.05)
        line = next(x for x in log.read_text().splitlines() if "receiving" in x)
        self.url = line.split(" at ", 1)[1].split()[0]

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


@pytest.fixture
def keys() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGTALK_")}
    return {
        **env,
        "DINGTALK_CALLBACK_TOKEN": TOKEN,
        "DINGTALK_CALLBACK_AES_KEY": new_aes_key(),
        "DINGTALK_CORP_ID": RECEIVER_ID,
    }


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(args: list[str], env: dict[str, str]) -> Receiver:
        receiver = Receiver(args, env, tmp_path / f"receiver-{len(started)}.log")
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def push(url: str, env: dict[str, str], event: dict[str, Any]) -> httpx.Response:
    crypto = CallbackCrypto(TOKEN, env["DINGTALK_CALLBACK_AES_KEY"], RECEIVER_ID)
    sealed = crypto.seal(json.dumps(event))
    query = {"signature": sealed.signature, "timestamp": sealed.timestamp, "nonce": sealed.nonce}
    response = httpx.post(url, params=query, json={"encrypt": sealed.encrypt}, timeout=10)
    assert response.status_code == 200, response.text
    reply = response.json()
    acked = crypto.open(
        reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )
    assert acked == b"success"
    return response


def handled(folder: Path) -> list[str]:
    path = folder / "handled.txt"
    return path.read_text().split() if path.exists() else []


def user_event(event_id: str) -> dict[str, Any]:
    return {"EventType": "user_add_org", "eventId": event_id, "userId": [event_id]}


def test_an_event_acked_before_a_sigkill_is_handled_after_the_restart(
    tmp_path: Path, keys: dict[str, str], receivers: Callable[..., Receiver]
) -> None:
    script = tmp_path / "handler.py"
    script.write_text(HANDLER)
    args = [
        "--data-dir", str(tmp_path / "data"),
        "--exec", f"{sys.executable} {script} {tmp_path}",
        "--lease", "1",
    ]  # fmt: skip
    (tmp_path / "hang").touch()
    first = receivers(args, keys)
    push(first.url, keys, user_event("ev-killed"))
    wait_for(lambda: (tmp_path / "started.txt").exists())  # acked, and its handler running
    first.kill()
    assert handled(tmp_path) == []
    (tmp_path / "hang").unlink()
    receivers(args, keys)  # the same data dir: the inbox survived
    wait_for(lambda: handled(tmp_path) == ["ev-killed"], seconds=20)
    time.sleep(1.5)  # longer than a lease: still once
    assert handled(tmp_path) == ["ev-killed"]


def test_two_receivers_sharing_a_redis_inbox_handle_each_event_once(
    tmp_path: Path,
    keys: dict[str, str],
    receivers: Callable[..., Receiver],
    redis_server: Any,
) -> None:
    script = tmp_path / "handler.py"
    script.write_text(HANDLER)
    name = uuid.uuid4().hex
    args = [
        "--redis", REDIS_URL,
        "--inbox-name", name,
        "--exec", f"{sys.executable} {script} {tmp_path}",
    ]  # fmt: skip
    try:
        a, b = receivers(args, keys), receivers(args, keys)
        ids = [f"ev-{n}" for n in range(30)]
        for n, event_id in enumerate(ids):
            # Each event reaches one receiver, and a third of them are re-pushed to the other
            # (as DingTalk does when an ack is slow): each must still run once.
            first, second = (a, b) if n % 2 else (b, a)
            push(first.url, keys, user_event(event_id))
            if n % 3 == 0:
                push(second.url, keys, user_event(event_id))
        wait_for(lambda: len(handled(tmp_path)) >= len(ids), seconds=20)
        time.sleep(0.5)
        assert sorted(handled(tmp_path)) == sorted(ids)
    finally:
        for key in redis_server.scan_iter(match=f"dingkit:callback-inbox:{name}:*"):
            redis_server.delete(key)


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, keys: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*DINGKIT, "callback", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
            env=keys,
            capture_output=True,
            text=True,
            timeout=30,
        )
    secrets_scan.collect(["callback", "serve"], result.stdout, result.stderr)
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_keys_are_a_clear_error(tmp_path: Path, keys: dict[str, str]) -> None:
    env = {k: v for k, v in keys.items() if k != "DINGTALK_CALLBACK_AES_KEY"}
    result = subprocess.run(
        [*DINGKIT, "callback", "serve", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    secrets_scan.collect(["callback", "serve"], result.stdout, result.stderr)
    assert result.returncode == 2
    assert "DINGTALK_CALLBACK_AES_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_exec_handler_dies_with_a_sigkilled_receiver(
    tmp_path: Path, keys: dict[str, str], receivers: Callable[..., Receiver]
) -> None:
    # Issue 10, defect 8: a handler in its own process group outlived a receiver killed
    # outright (and then ran beside the restarted receiver's second run of its event).
    script = tmp_path / "hang.py"
    script.write_text(
        "import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    pid_file = tmp_path / "handler.pid"
    args = [
        "--data-dir", str(tmp_path / "data"),
        "--exec", f"{sys.executable} {script} {pid_file}",
    ]  # fmt: skip
    receiver = receivers(args, keys)
    push(receiver.url, keys, user_event("ev-hang"))
    wait_for(lambda: pid_file.exists() and pid_file.read_text().isdigit())
    handler = int(pid_file.read_text())
    receiver.kill()
    wait_for(lambda: not _alive(handler), seconds=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent, the killed receiver, is gone; init reaps it).
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())
