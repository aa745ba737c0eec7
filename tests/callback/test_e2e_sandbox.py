"""End to end: the sandbox pushes encrypted events to a receiver under uvicorn.

An approval created with the SDK and approved on the sandbox reaches the receiver's handlers
as ``bpms_task_change`` and ``bpms_instance_change`` with ``result`` ``agree``; the failed
list fills when the receiver is down and ``pull-failed`` feeds it into the same inbox,
skipping what already arrived; an event so recovered reaches handlers as its push did.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from dingkit import DingTalk, RetryPolicy
from dingkit.callback.dispatcher import Dispatcher
from dingkit.callback.events import BpmsInstanceChange, BpmsTaskChange, CallbackEvent
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver, inbox_path
from dingkit.cli.callback_serve import build_handlers
from dingkit.sandbox import SandboxServer
from dingkit.sandbox.approval.templates import EXPENSE_CODE

from .conftest import AES_KEY, EXPENSE_FORM, TOKEN, Served, cli_env, dingkit, wait_for
from .test_event_shape import RECORDER


def test_an_approval_approved_on_the_sandbox_reaches_the_handlers(
    client: DingTalk, live_receiver: CallbackReceiver, sandbox_server: SandboxServer
) -> None:
    got: list[CallbackEvent] = []
    lock = threading.Lock()

    @live_receiver.on("bpms_task_change")
    @live_receiver.on("bpms_instance_change")
    def record(event: CallbackEvent) -> None:
        with lock:
            got.append(event)

    served = Served(live_receiver)
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


def failed_listed(sandbox_url: str) -> bool:
    answer = httpx.get(f"{sandbox_url}/_sandbox/pushes").json()
    return any(push.get("state") == "failed" for push in answer.get("pushes", []))


def test_events_missed_while_the_receiver_was_down_come_back_through_pull_failed(
    client: DingTalk, live_receiver: CallbackReceiver, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    served = Served(live_receiver)
    client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["bpms_instance_change"])
    client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
    wait_for(lambda: len(live_receiver.inbox.entries()) == 1)
    served.stop()  # down: the next pushes fail, are retried, then join the failed list
    client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
    wait_for(lambda: failed_listed(sandbox_server.url))
    env = cli_env(sandbox_server.url, tmp_path)
    # The receiver's inbox is in tmp_path: `dingkit callback` finds it by --data-dir.
    pulled = dingkit("callback", "pull-failed", "--json", "--data-dir", str(tmp_path), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout) == {"fetched": 1, "added": 1, "duplicates": 0}
    sources = sorted(entry.source for entry in live_receiver.inbox.entries())
    assert sources == ["failed-list", "push"]
    # DingTalk cleared what it handed out: a second pull finds nothing.
    again = dingkit("callback", "pull-failed", "--json", "--data-dir", str(tmp_path), env=env)
    assert json.loads(again.stdout)["fetched"] == 0


def losing_answers(receiver: CallbackReceiver, lossy: threading.Event) -> Any:
    """The receiver behind a proxy that, once ``lossy`` is set, fails every answer: the
    receiver commits each push, DingTalk retries, gives up, and lists the event as failed
    although it arrived."""

    async def proxy(scope: Any, receive: Any, send: Any) -> None:
        async def maybe_lose(message: Any) -> None:
            if lossy.is_set() and message["type"] == "http.response.start":
                message = {**message, "status": 502}
            await send(message)

        await receiver(scope, receive, maybe_lose if scope["type"] == "http" else send)

    return proxy


def test_a_failed_event_that_had_arrived_is_not_stored_twice(
    client: DingTalk, live_receiver: CallbackReceiver, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    lossy = threading.Event()
    served = Served(losing_answers(live_receiver, lossy))
    try:
        client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["bpms_instance_change"])
        lossy.set()
        client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
        wait_for(lambda: failed_listed(sandbox_server.url))
    finally:
        served.stop()
    assert len(live_receiver.inbox.entries()) == 1  # it arrived, once, despite the retries
    env = cli_env(sandbox_server.url, tmp_path)
    pulled = dingkit("callback", "pull-failed", "--json", "--data-dir", str(tmp_path), env=env)
    assert json.loads(pulled.stdout) == {"fetched": 1, "added": 0, "duplicates": 1}
    assert len(live_receiver.inbox.entries()) == 1


SOURCES = ("push", "failed-list")


def test_an_event_pulled_from_the_failed_list_reaches_handlers_as_its_push_did(
    client: DingTalk, live_receiver: CallbackReceiver, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    # One approval event, pushed (and committed) and also listed as failed by the sandbox;
    # the list's copy is pulled into a second inbox, where it is no duplicate.
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    handlers = build_handlers(f"{shlex.quote(sys.executable)} {script} {tmp_path}", None)
    got: dict[str, CallbackEvent] = {}

    @handlers.on_every()
    def record(event: CallbackEvent) -> None:
        got["push" if event.failed_item is None else "failed-list"] = event

    live_receiver.handlers = handlers
    lossy = threading.Event()
    served = Served(losing_answers(live_receiver, lossy))
    try:
        client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["bpms_instance_change"])
        lossy.set()
        client.approval.create(EXPENSE_CODE, "manager0001", EXPENSE_FORM)
        wait_for(lambda: (tmp_path / "push.json").exists())  # the receiver's --exec ran
        wait_for(lambda: failed_listed(sandbox_server.url))
    finally:
        served.stop()
    env = cli_env(sandbox_server.url, tmp_path)
    other = tmp_path / "other"
    pulled = dingkit("callback", "pull-failed", "--json", "--data-dir", str(other), env=env)
    assert json.loads(pulled.stdout) == {"fetched": 1, "added": 1, "duplicates": 0}, pulled.stderr
    inbox = SQLiteInbox(inbox_path(other))
    try:
        once = RetryPolicy(max_attempts=1)
        asyncio.run(Dispatcher(inbox, handlers, retry=once).drain(within=30))
        assert inbox.counts()["done"] == 1
    finally:
        inbox.close()

    push, failed = got["push"], got["failed-list"]
    assert type(push) is type(failed) is BpmsInstanceChange
    assert failed.failed_item is not None
    assert failed.failed_item["call_back_tag"] == "bpms_instance_change"
    assert {k: v for k, v in push.raw.items() if k not in ("eventId", "BizId")} == failed.raw
    pushed, listed = (json.loads((tmp_path / f"{s}.json").read_text()) for s in SOURCES)
    assert set(pushed) == set(listed)
    assert (pushed["source"], listed["source"]) == ("push", "failed-list")
    assert (pushed["failed_item"], listed["failed_item"]) == (None, failed.failed_item)
    assert (pushed["event_id"], listed["event_id"]) == (push.event_id, None)
    for key in ("event_type", "event_time", "corp_id"):
        assert pushed[key] == listed[key] is not None
    assert {k: v for k, v in pushed["event"].items() if k not in ("eventId", "BizId")} == (
        listed["event"]
    )
