"""Stream frames (§8.2) as the server writes and reads them. No I/O.

Downstream (server → client)::

    {"specVersion": "1.0", "type": "SYSTEM" | "EVENT" | "CALLBACK",
     "headers": {"topic", "messageId", "contentType", "time", ...}, "data": "<JSON string>"}

Every header value is a string (``GOSTREAM:payload/data_frame.go`` models them as
``map[string]string``). Upstream, the client's ACK::

    {"code": 200, "headers": {"messageId": ...}, "message": "OK", "data": "<JSON string>"}
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from ..._wire import parse_json_strict
from ...resources.stream import SPEC_VERSION

__all__ = [
    "Ack",
    "FrameType",
    "ack_of",
    "downstream",
    "event_settled",
    "new_message_id",
]

FrameType = Literal["SYSTEM", "EVENT", "CALLBACK"]
_CONTENT_TYPE = "application/json"


def new_message_id() -> str:
    # [I] live ids are opaque strings; a uuid is as good as any.
    return str(uuid.uuid4())


def downstream(
    kind: FrameType,
    topic: str,
    data: Any,
    *,
    message_id: str,
    now_ms: int,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One server → client frame; ``data`` is sent as its JSON text."""
    all_headers = {
        "topic": topic,
        "messageId": message_id,
        "contentType": _CONTENT_TYPE,
        "time": str(now_ms),
        **(headers or {}),
    }
    return {
        "specVersion": SPEC_VERSION,
        "type": kind,
        "headers": all_headers,
        "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
    }


@dataclass(frozen=True, slots=True)
class Ack:
    """A client's ACK frame, read leniently where the SDKs differ (§8.2)."""

    message_id: str
    code: int | None
    message: str
    data: Any  # the decoded ``data`` (a JSON string on the wire); the raw value if not JSON


def ack_of(text: str) -> Ack | None:
    """The ACK in a client's text frame; ``None`` when it is not one (bad JSON, no
    ``headers.messageId``). Never raises."""
    try:
        frame = parse_json_strict(text)
    except ValueError:
        return None
    if not isinstance(frame, dict):
        return None
    headers = frame.get("headers")
    message_id = headers.get("messageId") if isinstance(headers, dict) else None
    if not isinstance(message_id, str) or not message_id:
        return None
    code = frame.get("code")
    data = frame.get("data")
    if isinstance(data, str):
        with contextlib.suppress(ValueError):  # else kept as the string it was
            data = parse_json_strict(data)
    message = frame.get("message")
    return Ack(
        message_id=message_id,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) else "",
        data=data,
    )


def event_settled(ack: Ack) -> bool:
    """Whether an EVENT's ACK ends its re-pushes: code 200 with ``status`` SUCCESS, or with no
    ``status`` at all. The Python SDK sends no status (it echoes the event's data,
    ``PYSTREAM:dingtalk_stream/handlers.py`` ``EventHandler.raw_process``), so a missing one
    with code 200 counts as success [I]; ``LATER`` (or any other code) asks for a re-push
    (``GOSTREAM:event/frame_handler.go`` acks a failure with 500 and LATER)."""
    if ack.code != 200:
        return False
    status = ack.data.get("status") if isinstance(ack.data, dict) else None
    return status is None or status == "SUCCESS"
