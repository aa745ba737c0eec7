"""Stream mode's frames (§8.2) as the client reads and answers them, and its reconnect policy.
No I/O.

A downstream frame is JSON text::

    {"specVersion": "1.0", "type": "SYSTEM" | "EVENT" | "CALLBACK",
     "headers": {"topic", "messageId", "contentType", "time", ...}, "data": "<JSON text>"}

and every frame with a ``messageId`` is answered with an ACK (§8.2)::

    {"code": 200, "headers": {"messageId", "contentType": "application/json"},
     "message": "OK", "data": "<JSON text>"}

``data`` per frame: a SYSTEM ping's ``{"opaque"}`` echoed; an EVENT's ``{"status": "SUCCESS"
| "LATER", "message"}`` (``LATER``: push again; the Go SDK sends it with code 500,
``GOSTREAM:event/frame_handler.go``); a robot message's ``{"response": null}``, which the
server ignores (``PYSTREAM:dingtalk_stream/handlers.py`` ``CallbackHandler.raw_process``).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._wire import parse_json_strict

__all__ = [
    "ACK_BAD_REQUEST",
    "ACK_LATER",
    "ACK_NOT_FOUND",
    "ACK_OK",
    "Backoff",
    "BadFrameError",
    "Frame",
    "OnceLog",
    "ack",
    "event_ack",
    "read_frame",
]

#: ACK codes: 200 success, 404 topic not supported, 500 internal error (§8.2, ``PEDIA``);
#: 400 is the Python SDK's too (``PYSTREAM:dingtalk_stream/frames.py`` ``AckMessage``).
ACK_OK, ACK_BAD_REQUEST, ACK_NOT_FOUND, ACK_LATER = 200, 400, 404, 500
_JSON = "application/json"


class BadFrameError(ValueError):
    """A frame that is not one (not JSON, not an object, no type): logged and skipped; with
    ``message_id`` when the frame named one, so that it can still be answered."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.message_id = message_id


@dataclass(frozen=True, slots=True)
class Frame:
    """One downstream frame; ``data`` is still the JSON text (each kind reads its own)."""

    type: str
    headers: dict[str, Any]
    data: str

    @property
    def topic(self) -> str:
        topic = self.headers.get("topic")
        return topic if isinstance(topic, str) else ""

    @property
    def message_id(self) -> str | None:
        value = self.headers.get("messageId")
        return value if isinstance(value, str) and value else None

    def data_object(self) -> dict[str, Any]:
        """``data`` read as a JSON object ({} when empty).

        Raises:
            BadFrameError: not JSON, or not an object.
        """
        if not self.data.strip():
            return {}
        try:
            value = parse_json_strict(self.data)
        except ValueError as error:
            raise BadFrameError(f"data is not JSON ({error})", message_id=self.message_id) from None
        if not isinstance(value, dict):
            raise BadFrameError(
                f"data is a JSON {type(value).__name__}, not an object",
                message_id=self.message_id,
            )
        return value


def read_frame(text: str | bytes) -> Frame:
    """The frame in a text message.

    Raises:
        BadFrameError: not strict JSON, not an object, no string ``type``, ``headers`` not an
            object or ``data`` neither a string nor absent. One official example spells
            ``headers`` as ``header`` (§8.2, a typo in ``PEDIA``): read as well.
    """
    try:
        value = parse_json_strict(text)
    except ValueError as error:
        raise BadFrameError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise BadFrameError(f"a JSON {type(value).__name__}, not an object")
    headers = value.get("headers", value.get("header", {}))
    if not isinstance(headers, dict):
        raise BadFrameError("headers is not an object")
    message_id = headers.get("messageId")
    message_id = message_id if isinstance(message_id, str) and message_id else None
    kind = value.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadFrameError("no type", message_id=message_id)
    data = value.get("data", "")
    if isinstance(data, dict | list):
        # [I] the wire carries data as JSON text; an object given as is is read the same.
        data = json.dumps(data, ensure_ascii=False)
    if not isinstance(data, str):
        raise BadFrameError("data is not JSON text", message_id=message_id)
    return Frame(kind, headers, data)


def ack(message_id: str, data: Any, *, code: int = ACK_OK, message: str = "OK") -> str:
    """The ACK frame's text (§8.2)."""
    return json.dumps(
        {
            "code": code,
            "headers": {"messageId": message_id, "contentType": _JSON},
            "message": message,
            "data": json.dumps(data, ensure_ascii=False),
        },
        ensure_ascii=False,
    )


def event_ack(message_id: str, *, committed: bool, reason: str = "") -> str:
    """An EVENT's ACK: SUCCESS once it is durably committed, else LATER with code 500 so
    that DingTalk pushes it again (§8.2; ``GOSTREAM:event/frame_handler.go``)."""
    if committed:
        return ack(message_id, {"status": "SUCCESS", "message": "success"})
    return ack(
        message_id,
        {"status": "LATER", "message": reason or "later"},
        code=ACK_LATER,
        message=reason or "later",
    )


@dataclass
class Backoff:
    """Waits between connection attempts: ``initial`` doubling to ``cap``, each drawn in
    ``[delay / 2, delay]`` (jitter, so that many clients do not reconnect in lockstep), back
    to ``initial`` once a connection stayed up ``healthy_after`` seconds. The official Python
    SDK reconnects after 3 s or 10 s flat (``PYSTREAM:dingtalk_stream/stream.py`` ``start``);
    §8.2 reports 1 s → 60 s with jitter for it, the Go SDK 3 s → 60 s.
    """

    initial: float = 1.0
    cap: float = 60.0
    healthy_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt, after a failed one (or a lost connection)."""
        self.failures += 1
        top = min(self.cap, self.initial * 2.0 ** (self.failures - 1))
        return self.rng.uniform(top / 2, top)

    def connected_for(self, seconds: float) -> None:
        """A connection ended after ``seconds``: a healthy one resets the backoff."""
        if seconds >= self.healthy_after:
            self.failures = 0


class OnceLog:
    """Logs the first occurrence of each kind of trouble as a warning, the rest at debug, and
    counts them all (a hostile server must not flood the log)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.counts: dict[str, int] = {}

    def log(self, kind: str, text: str, *args: object) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        first = self.counts[kind] == 1
        suffix = " (logged once; later ones at debug level)" if first else ""
        self.logger.log(logging.WARNING if first else logging.DEBUG, text + suffix, *args)

    def total(self, kinds: Mapping[str, int] | None = None) -> int:
        return sum((kinds or self.counts).values())
