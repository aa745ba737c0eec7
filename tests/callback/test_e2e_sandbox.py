"""End to end: the sandbox pushes encrypted events to a receiver under uvicorn.

An approval created with the SDK and approved on the sandbox reaches the receiver's handlers
as ``bpms_task_change`` and ``bpms_instance_change`` with ``result`` ``agree``; the failed
list fills when the receiver is down and ``pull-failed`` feeds it into the same inbox,
skipping what already arrived.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dingkit import DingTalk
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.events import BpmsInstanceChange, BpmsTaskChange, Event
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver, inbox_path
from dingkit.sandbox.app import Sandbox
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.processes import EXPENSE_CODE
from dingkit.sandbox.server import SandboxServer
from dingkit.sandbox.store import SandboxStore

APP = AppConfig(name="events", app_key="dingevents0001", app_secret="events-secret-0001")
TOKEN = "e2e-callback-token"
AES_KEY = new_aes_key()
EXPENSE_FORM = {"报销类型": "交通费", "报销金额（元）": "35.5", "费用日期": "2026-11-20"}


class Served:
    """An ASGI app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    config = SandboxConfig(apps=(APP,), callback_retry_delays=(0.05, 0.1), callback_timeout=2.0)
    sandbox = Sandbox(config, SandboxStore(":memory:"))
    with SandboxServer(sandbox) as server:
        yield server


@pytest.fixture
def client(sandbox_server: SandboxServer) -> Iterator[DingTalk]:
    url = sandbox_server.url
    with DingTalk(APP.app_key, APP.app_secret, oapi_base=url, api_base=url, environ={}) as dingtalk:
        yield dingtalk


@pytest.fixture
def receiver(tmp_path: Path, sandbox_server: SandboxServer) -> CallbackReceiver:
    corp_id = sandbox_server.sandbox.config.corp_id
    return CallbackReceiver(TOKEN, AES_KEY, corp_id, inbox=SQLiteInbox(inbox_path(tmp_path)))


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_an_approval_approved_on_the_sandbox_reaches_the_handlers(
    client: DingTalk, receiver: CallbackReceiver, sandbox_server: SandboxServer
) -> None:
    got: list[Event] = []
    lock = threading.Lock()

    @receiver.on("bpms_task_change")
    @receiver.on("bpms_instance_change")
    def record(event: Event) -> None:
        with lock:
            got.append(event)

    served = Served(receiver)
    try:
        tags = ["bpms_task_change", "bpms_instance_change"]
        client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, tags)  # check_url first
        assert client.callbacks.get().url == f"{served.url}/"
        instance_id = client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
        while True:  # approve on the sandbox, as a person would on its approvals page
            instance = client.approval.get(instance_id)
            if instance.status != "RUNNING":
                break
            task = instance.running_tasks[0]
            answer = httpx.post(
                f"{sandbox_server.url}/_sandbox/approvals/{instance_id}/tasks/{task.task_id}",
                json={"result": "agree"},
            )
            assert answer.status_code == 200, answer.text
        wait_for(lambda: any(isinstance(e, BpmsInstanceChange) and e.type == "finish" for e in got))
    finally:
        served.stop()
    finished = [e for e in got if isinstance(e, BpmsInstanceChange) and e.type == "finish"]
    assert [(e.process_instance_id, e.result) for e in finished] == [(instance_id, "agree")]
    approved = [e for e in got if isinstance(e, BpmsTaskChange) and e.type == "finish"]
    assert approved
    assert {e.result for e in approved} == {"agree"}
    assert all(e.process_instance_id == instance_id for e in approved)
    started = [e for e in got if isinstance(e, BpmsInstanceChange) and e.type == "start"]
    assert len(started) == 1
    # Handled once each: no event id twice.
    ids = [e.event_id for e in got]
    assert len(ids) == len(set(ids))


def test_events_missed_while_the_receiver_was_down_come_back_through_pull_failed(
    client: DingTalk, receiver: CallbackReceiver, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    served = Served(receiver)
    client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["bpms_instance_change"])
    first = client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
    wait_for(lambda: receiver.inbox.counts()["done"] + receiver.inbox.counts()["pending"] >= 1)
    served.stop()  # down: the next pushes fail, are retried, then join the failed list
    second = client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)

    def failed_listed() -> bool:
        answer = httpx.get(f"{sandbox_server.url}/_sandbox/pushes").json()
        return any(p.get("state") == "failed" for p in answer.get("pushes", []))

    wait_for(failed_listed)
    env = {
        "PATH": "/usr/bin:/bin",
        "DINGTALK_APP_KEY": APP.app_key,
        "DINGTALK_APP_SECRET": APP.app_secret,
        "DINGTALK_OAPI_BASE_URL": sandbox_server.url,
        "DINGTALK_API_BASE_URL": sandbox_server.url,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path),
    }
    inbox_dir = tmp_path  # the receiver's inbox: `dingkit callback` finds it by --data-dir
    command = [sys.executable, "-m", "dingkit", "callback", "pull-failed", "--json"]
    result = subprocess.run(
        [*command, "--data-dir", str(inbox_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"added": 1' in result.stdout
    kinds = {(e.source, e.event_type) for e in receiver.inbox.entries()}
    assert ("failed-list", "bpms_instance_change") in kinds
    # The list was cleared by that call: a second pull finds nothing.
    again = subprocess.run(
        [*command, "--data-dir", str(inbox_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"fetched": 0' in again.stdout
    assert first != second
