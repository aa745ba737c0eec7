"""The plaintext objects DingTalk pushes, built from an event's fields: what the sandbox
sends, in either format (§7.6), and the failed-list items it hands out (§7.5). No I/O.

The read side (:mod:`.events`) and this write side share the wire descriptions of each type,
so the sandbox pushes exactly what the receiver reads.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from .events import ENVELOPE, EVENT_TYPES, CallbackEvent

__all__ = ["to_failed_item", "to_payload"]


def to_payload(
    event_type: str,
    fields: Mapping[str, Any],
    *,
    style: Literal["new", "classic"] = "new",
    corp_id: str,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """The plaintext DingTalk pushes for one event, in the new or the classic format (§7.6).

    Args:
        event_type: the ``EventType``.
        fields: the event's own fields in the new format's names (``userId``, ``deptId``,
            ``processInstanceId``, ``taskId``...); renamed for the classic format.
        style: ``"new"`` (``EventTime``, ``CorpId``, ``BizId``, ``eventId``) or ``"classic"``
            (``TimeStamp``, ``UserId``/``DeptId``, ``CorpId``; ``corpId`` for approvals).
        corp_id: the organisation.
        event_id: the new format's ``eventId``, a fresh one when not given.
        event_time: milliseconds, now when not given.

    Only what DingTalk sends is written: URL checks are ``EventType`` and their own fields
    alone (§7.4), classic pushes have no ``eventId``, classic approvals no ``TimeStamp``.
    """
    if style not in ("new", "classic"):
        raise ValueError(f"style must be 'new' or 'classic', not {style!r}")
    wire = EVENT_TYPES.get(event_type, CallbackEvent)._wire
    if wire.bare:
        return {"EventType": event_type, **fields}
    when = event_time if event_time is not None else time.time_ns() // 1_000_000
    body = dict(fields)
    payload: dict[str, Any] = {"EventType": event_type}
    if style == "new":
        payload |= {"EventTime": when, "CorpId": corp_id}
        biz_id = _biz_id(fields)
        if biz_id is not None:
            payload["BizId"] = biz_id
        payload["eventId"] = event_id or uuid.uuid4().hex
        if wire.stamp:
            payload["timeStamp"] = str(when)
    else:
        if wire.classic_time:
            payload["TimeStamp"] = when
        payload[wire.classic_corp] = corp_id
        body.pop("timeStamp", None)
        if wire.ids and wire.ids[0] in body:
            body[wire.ids[1]] = body.pop(wire.ids[0])
    payload.update(body)
    return payload


def _biz_id(fields: Mapping[str, Any]) -> str | None:
    """The new format's ``BizId``: the id of what the event is about (§7.6 lists the field,
    not its value) [I: the approval instance; the first person or department otherwise]."""
    if fields.get("processInstanceId"):
        return str(fields["processInstanceId"])
    for name in ("userId", "deptId"):
        ids = fields.get(name)
        if isinstance(ids, list) and ids:
            return str(ids[0])
    return None


def to_failed_item(event: CallbackEvent) -> dict[str, Any]:
    """The ``failed_list`` item (§7.5) ``get_call_back_failed_result`` would return for
    ``event``: the fields under the tag's key, approvals wrapped in ``bpmsCallBackData``."""
    # The class it was read into, not the registry's: a known type kept as a generic
    # CallbackEvent then reads back from its item to the same content key.
    wire = type(event)._wire
    body = {k: v for k, v in event._message.items() if k not in ENVELOPE and k != "EventType"}
    if wire.ids:
        present = [body.pop(name) for name in wire.ids if name in body]
        if present:
            body[wire.ids[2]] = present[0]
    if wire.wrapper:
        body = {wire.wrapper: body}
    if event.corp_id is not None:
        body["corpid"] = event.corp_id
    item: dict[str, Any] = {"call_back_tag": event.event_type}
    if event.event_time is not None:
        item["event_time"] = event.event_time
    item[event.event_type] = body
    return item
