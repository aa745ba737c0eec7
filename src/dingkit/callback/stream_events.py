"""Events that arrive over Stream mode (§8.2) read into the same typed events HTTP callbacks
produce (§7.6), so one set of handlers serves both. No I/O.

An EVENT frame carries the envelope in its headers (``eventType``, ``eventId``,
``eventCorpId``, ``eventBornTime`` in ms as a string, ``eventUnifiedAppId``) and the event's
own fields, camelCase, as the JSON text of ``data`` (§8.2, ``PEDIA``). Those fields are the
ones the new HTTP format puts beside its envelope (§7.6: ``{"timeStamp", "userId": [...]}``
for ``user_add_org``), so the frame is rewritten as that plaintext::

    {"EventType": eventType, "EventTime": eventBornTime, "CorpId": eventCorpId,
     "eventId": eventId, ...data}

and read by :func:`~dingkit.callback.events.parse_event`. The plaintext is also what the
inbox keeps, so the dispatcher reads a Stream event exactly as it reads a pushed one. The
headers win over a ``data`` field of the same name: they are the gateway's, ``data`` is the
event's [I]. ``eventUnifiedAppId`` has no place in the HTTP format and is kept under that
name, like any field :class:`~dingkit.callback.events.CallbackEvent` does not type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._exceptions import CallbackPayloadError
from .._wire import parse_json_strict
from .events import CallbackEvent, parse_event

__all__ = ["event_from_stream", "plaintext_from_stream", "stream_data_from_plaintext"]

#: The plaintext's envelope, which a frame carries in its headers instead (§8.2).
_ENVELOPE = ("EventType", "EventTime", "CorpId", "eventId", "eventUnifiedAppId")


def plaintext_from_stream(headers: Mapping[str, Any], data: str | Mapping[str, Any]) -> bytes:
    """The new-HTTP-format plaintext (§7.6) of an EVENT frame's ``headers`` and ``data``.

    Raises:
        CallbackPayloadError: no string ``eventType`` header, or ``data`` that is not a JSON
            object (strict JSON, as DingTalk writes it).
    """
    event_type = headers.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise CallbackPayloadError("the EVENT frame has no eventType header")
    if isinstance(data, str):
        try:
            fields = parse_json_strict(data) if data.strip() else {}
        except ValueError as error:
            raise CallbackPayloadError(f"the EVENT frame's data is not JSON: {error}") from None
    else:
        fields = data
    if not isinstance(fields, Mapping):
        raise CallbackPayloadError(
            f"the EVENT frame's data is a JSON {type(fields).__name__}, not an object"
        )
    envelope: dict[str, Any] = {"EventType": event_type}
    born = headers.get("eventBornTime")
    if isinstance(born, int) and not isinstance(born, bool):
        envelope["EventTime"] = born
    elif isinstance(born, str) and born.isascii() and born.isdigit() and len(born) <= 18:
        envelope["EventTime"] = int(born)  # at most 18 digits: ms now are 13
    for header, name in (("eventCorpId", "CorpId"), ("eventId", "eventId")):
        value = headers.get(header)
        if isinstance(value, str) and value:
            envelope[name] = value
    app = headers.get("eventUnifiedAppId")
    if isinstance(app, str) and app:
        envelope["eventUnifiedAppId"] = app
    message = {**fields, **envelope}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def stream_data_from_plaintext(message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``data`` of the EVENT frame that carries a new-format plaintext: its fields without
    the envelope (what :func:`plaintext_from_stream` puts back from the headers)."""
    return {key: value for key, value in message.items() if key not in _ENVELOPE}


def event_from_stream(
    headers: Mapping[str, Any], data: str | Mapping[str, Any]
) -> tuple[CallbackEvent, bytes]:
    """The typed event in an EVENT frame, and the plaintext it was read from (what an inbox
    keeps). See :func:`plaintext_from_stream` for the errors."""
    plaintext = plaintext_from_stream(headers, data)
    return parse_event(plaintext), plaintext
