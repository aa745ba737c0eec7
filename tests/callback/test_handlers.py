"""Which handlers run for an event (issue 11): those of its type, by name or by class; the
``on()`` fallback only when none takes it; ``on_every()`` always. A handler registered by
class never receives another class."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dingkit import RetryPolicy
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.events import (
    BpmsInstanceChange,
    BpmsTaskChange,
    CallbackEvent,
    UserAddOrg,
    parse_event,
)
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.payloads import to_failed_item
from dingkit.callback.receiver import CallbackReceiver

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01, jitter=0)
CORP = "dingcorp0001"
JOINED = {"EventType": "user_add_org", "eventId": "u1", "CorpId": CORP, "userId": ["u9"]}
FINISHED = {
    "EventType": "bpms_instance_change",
    "eventId": "i1",
    "CorpId": CORP,
    "processInstanceId": "inst-1",
    "type": "finish",
    "result": "agree",
}
TASK = {"EventType": "bpms_task_change", "eventId": "t1", "processInstanceId": "inst-1"}
UNKNOWN = {"EventType": "chat_update_title", "eventId": "c1", "ChatId": "chat1"}
# A known type with a field out of shape: it reads as a plain CallbackEvent.
MALFORMED = {**FINISHED, "eventId": "i2", "createTime": "soon"}


@pytest.fixture
def receiver(tmp_path: Path) -> CallbackReceiver:
    return CallbackReceiver(
        "token",
        new_aes_key(),
        CORP,
        inbox=SQLiteInbox(tmp_path / "inbox.sqlite3"),
        handler_retry=FAST,
        dispatch=False,
    )


def commit(receiver: CallbackReceiver, message: dict[str, Any], *, failed: bool = False) -> None:
    """Into the inbox as the receiver commits a push, or as ``pull-failed`` its list item."""
    event = parse_event(message)
    if failed:
        payload = json.dumps(to_failed_item(event)).encode()
        receiver.inbox.add(event.event_type, payload, event.dedup_keys, source="failed-list")
    else:
        receiver.inbox.add(event.event_type, json.dumps(message).encode(), event.dedup_keys)


class Calls:
    """What each handler got: (handler, event type, event class), from any thread."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, type[CallbackEvent]]] = []
        self._lock = threading.Lock()

    def sync(self, name: str) -> Callable[[CallbackEvent], None]:
        def handler(event: CallbackEvent) -> None:
            with self._lock:
                self.got.append((name, event.event_type, type(event)))

        return handler

    def async_(self, name: str) -> Callable[[CallbackEvent], Any]:
        async def handler(event: CallbackEvent) -> None:
            self.got.append((name, event.event_type, type(event)))

        return handler

    def by(self, name: str) -> list[tuple[str, type[CallbackEvent]]]:
        return sorted((t, c) for n, t, c in self.got if n == name)


async def test_the_fallback_runs_only_for_events_no_typed_handler_takes(
    receiver: CallbackReceiver,
) -> None:
    calls = Calls()
    receiver.on("user_add_org")(calls.sync("by-name"))
    receiver.on(BpmsInstanceChange)(calls.async_("by-class"))
    receiver.on()(calls.sync("fallback-sync"))
    receiver.on()(calls.async_("fallback-async"))
    for message in (JOINED, FINISHED, UNKNOWN, TASK):
        commit(receiver, message)
    await receiver.dispatcher.drain()
    assert calls.by("by-name") == [("user_add_org", UserAddOrg)]
    assert calls.by("by-class") == [("bpms_instance_change", BpmsInstanceChange)]
    others = [("bpms_task_change", BpmsTaskChange), ("chat_update_title", CallbackEvent)]
    assert calls.by("fallback-sync") == calls.by("fallback-async") == others
    assert receiver.inbox.counts()["done"] == 4


async def test_on_every_runs_for_every_event_beside_the_others(
    receiver: CallbackReceiver,
) -> None:
    calls = Calls()
    receiver.on(UserAddOrg)(calls.sync("typed"))
    receiver.on()(calls.sync("fallback"))
    receiver.on_every()(calls.sync("every-sync"))
    receiver.on_every()(calls.async_("every-async"))
    for message in (JOINED, FINISHED, UNKNOWN):
        commit(receiver, message)
    await receiver.dispatcher.drain()
    every = [
        ("bpms_instance_change", BpmsInstanceChange),
        ("chat_update_title", CallbackEvent),
        ("user_add_org", UserAddOrg),
    ]
    assert calls.by("every-sync") == calls.by("every-async") == every
    assert calls.by("typed") == [("user_add_org", UserAddOrg)]
    assert calls.by("fallback") == every[:2]


async def test_every_handler_alone_is_not_a_typed_one(receiver: CallbackReceiver) -> None:
    calls = Calls()
    receiver.on_every()(calls.sync("every"))
    receiver.on()(calls.sync("fallback"))
    commit(receiver, JOINED)
    await receiver.dispatcher.drain()
    assert calls.by("every") == calls.by("fallback") == [("user_add_org", UserAddOrg)]


async def test_a_class_handler_gets_its_class_whether_pushed_or_from_the_failed_list(
    receiver: CallbackReceiver,
) -> None:
    calls = Calls()
    got: list[BpmsInstanceChange] = []

    @receiver.on(BpmsInstanceChange)
    async def finished(event: BpmsInstanceChange) -> None:
        got.append(event)

    receiver.on()(calls.sync("fallback"))
    commit(receiver, FINISHED)
    commit(receiver, {**FINISHED, "eventId": "i3", "processInstanceId": "inst-3"}, failed=True)
    await receiver.dispatcher.drain()
    assert [(type(e), e.process_instance_id, e.result) for e in got] == [
        (BpmsInstanceChange, "inst-1", "agree"),
        (BpmsInstanceChange, "inst-3", "agree"),
    ]
    assert calls.got == []


async def test_a_class_handler_never_receives_another_class(
    receiver: CallbackReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()
    receiver.on(BpmsInstanceChange)(calls.sync("by-class"))
    receiver.on()(calls.async_("fallback"))
    commit(receiver, MALFORMED)
    commit(receiver, FINISHED)
    await receiver.dispatcher.drain()
    assert calls.by("by-class") == [("bpms_instance_change", BpmsInstanceChange)]
    assert calls.by("fallback") == [("bpms_instance_change", CallbackEvent)]
    assert "did not read into BpmsInstanceChange" in caplog.text
    assert receiver.inbox.counts()["done"] == 2


async def test_a_name_handler_of_the_same_type_still_gets_the_plain_event(
    receiver: CallbackReceiver,
) -> None:
    calls = Calls()
    receiver.on(BpmsInstanceChange)(calls.sync("by-class"))
    receiver.on("bpms_instance_change")(calls.sync("by-name"))
    receiver.on()(calls.sync("fallback"))
    commit(receiver, MALFORMED)
    await receiver.dispatcher.drain()
    assert calls.by("by-name") == [("bpms_instance_change", CallbackEvent)]
    assert calls.by("by-class") == calls.by("fallback") == []


async def test_without_a_fallback_such_an_event_is_dead_lettered_not_passed_over(
    receiver: CallbackReceiver,
) -> None:
    calls = Calls()
    receiver.on(BpmsInstanceChange)(calls.sync("by-class"))
    receiver.on_every()(calls.sync("every"))
    commit(receiver, MALFORMED)
    await receiver.dispatcher.drain()
    assert calls.got == []  # nothing ran: a replay after the fix runs everything once
    (failed,) = receiver.inbox.entries("failed")
    assert failed.attempts == 1  # reading it again would change nothing: no retries
    assert "did not read into BpmsInstanceChange" in (failed.last_error or "")
    assert "no on() fallback" in (failed.last_error or "")
    receiver.on()(calls.sync("fallback"))
    assert receiver.inbox.replay(failed.id)
    await receiver.dispatcher.drain()
    assert calls.by("fallback") == calls.by("every") == [("bpms_instance_change", CallbackEvent)]


def test_a_class_stands_for_each_type_that_reads_into_it(receiver: CallbackReceiver) -> None:
    from dingkit.callback.events import _UserEvent

    receiver.on(_UserEvent)(lambda event: None)
    event = parse_event(JOINED)
    assert len(receiver.handlers.for_event(event)) == 1
    assert receiver.handlers.for_event(parse_event({**JOINED, "EventType": "user_leave_org"}))


class NotAnEventType(CallbackEvent):
    pass


@pytest.mark.parametrize(
    ("argument", "error", "message"),
    [
        (42, TypeError, "not 42"),
        (b"user_add_org", TypeError, "an event class"),
        (parse_event(JOINED), TypeError, "not UserAddOrg"),
        (dict, TypeError, "not <class 'dict'>"),
        (lambda event: None, TypeError, "with its parentheses"),
        (CallbackEvent, TypeError, "on_every"),
        (NotAnEventType, TypeError, "no event type reads into NotAnEventType"),
        ("", ValueError, "no event type"),
        ("*", ValueError, "on_every"),
    ],
    ids=["int", "bytes", "instance", "other-class", "bare-decorator", "base", "unknown", "", "*"],
)
def test_registering_for_something_that_is_no_event_type_is_a_clear_error(
    receiver: CallbackReceiver, argument: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        receiver.on(argument)
    with pytest.raises(error):
        receiver.handlers.add(argument, lambda event: None)
    assert receiver.handlers.for_event(parse_event(JOINED)) == []


def test_a_handler_must_be_callable(receiver: CallbackReceiver) -> None:
    with pytest.raises(TypeError, match="a handler must be a function"):
        receiver.on(UserAddOrg)("not a function")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a handler must be a function"):
        receiver.on_every()("not a function")  # type: ignore[type-var]
