"""One event shape for handlers (issue 11): an event fetched from the failed list reaches
Python handlers and ``--exec`` commands as its push does, the list's item kept under
``failed_item``. What may differ is documented: ``source``, ``failed_item``, and the envelope
fields the list does not carry (the ``eventId``, ``BizId`` and ``timeStamp`` of a push)."""

from __future__ import annotations

import json
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from dingkit import RetryPolicy
from dingkit.callback.dispatcher import Dispatcher
from dingkit.callback.events import CallbackEvent, parse_event
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.payloads import to_failed_item, to_payload
from dingkit.cli.callback_serve import build_handlers, event_json

from .test_events import CORP, FIELDS, T

pytestmark = pytest.mark.anyio

#: What a new-format push carries and a failed-list item does not (§7.5, §7.6).
PUSH_ONLY = frozenset({"eventId", "BizId", "timeStamp"})
KEYS = {"event_type", "event_id", "event_time", "corp_id", "source", "event", "failed_item"}
# URL checks are answered, never stored or handled; the unknown type stands for all others.
CASES = {
    **{name: fields for name, fields in FIELDS.items() if not name.startswith("check_")},
    "chat_update_title": {"ChatId": "chat1", "Title": "新群名"},
}
# The --exec command: writes what it read to <folder>/<source>.json.
RECORDER = r"""
import json, sys
from pathlib import Path
event = json.load(sys.stdin)
Path(sys.argv[1], event["source"] + ".json").write_text(json.dumps(event, ensure_ascii=False))
"""


async def handle_both_ways(
    message: dict[str, Any], folder: Path
) -> tuple[dict[str, CallbackEvent], dict[str, dict[str, Any]], dict[str, Any]]:
    """Commits ``message`` as the receiver commits a push, and its failed-list item as
    ``pull-failed`` does, each to its own inbox (one inbox would take the second for the
    duplicate it is); handles both with ``--exec`` and a Python handler. Returns what the
    handler got and what the command read, by source, and the item."""
    script = folder / "record.py"
    script.write_text(RECORDER)
    handlers = build_handlers(f"{shlex.quote(sys.executable)} {script} {folder}", None)
    got: dict[str, CallbackEvent] = {}
    lock = threading.Lock()

    @handlers.on_every()
    def record(event: CallbackEvent) -> None:
        with lock:
            got["push" if event.failed_item is None else "failed-list"] = event

    pushed = parse_event(message)
    item = to_failed_item(pushed)
    stored = {
        "push": json.dumps(message).encode(),
        "failed-list": json.dumps(item).encode(),
    }
    for source, payload in stored.items():
        inbox = SQLiteInbox(folder / f"{source}.sqlite3")
        try:
            assert inbox.add(pushed.event_type, payload, pushed.dedup_keys, source=source)
            once = RetryPolicy(max_attempts=1)
            await Dispatcher(inbox, handlers, retry=once, concurrency=1).drain(within=30)
            assert inbox.counts()["done"] == 1, inbox.entries()
        finally:
            inbox.close()
    read = {s: json.loads((folder / f"{s}.json").read_text()) for s in stored}
    return got, read, item


def without(data: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


@pytest.mark.parametrize("event_type", sorted(CASES))
async def test_a_failed_list_event_reaches_handlers_and_exec_as_its_push_does(
    event_type: str, tmp_path: Path
) -> None:
    message = to_payload(event_type, CASES[event_type], corp_id=CORP, event_id="ev-1", event_time=T)
    got, read, item = await handle_both_ways(message, tmp_path)

    push, failed = got["push"], got["failed-list"]
    assert type(push) is type(failed)
    assert (push.failed_item, failed.failed_item) == (None, item)
    assert push.raw == message
    assert failed.raw == without(message, PUSH_ONLY)
    assert (push.event_id, failed.event_id) == ("ev-1", None)
    different = frozenset({"event_id", "biz_id", "timeStamp"})
    assert without(push.model_dump(), different) == without(failed.model_dump(), different)

    pushed, listed = read["push"], read["failed-list"]
    assert set(pushed) == set(listed) == KEYS
    assert pushed == event_json(push)
    assert listed == event_json(failed)
    assert (pushed["source"], listed["source"]) == ("push", "failed-list")
    assert (pushed["failed_item"], listed["failed_item"]) == (None, item)
    assert (pushed["event_id"], listed["event_id"]) == ("ev-1", None)
    for key in ("event_type", "event_time", "corp_id"):
        assert pushed[key] == listed[key]
    assert (pushed["event_type"], pushed["event_time"], pushed["corp_id"]) == (event_type, T, CORP)
    assert without(pushed["event"], PUSH_ONLY) == listed["event"]
