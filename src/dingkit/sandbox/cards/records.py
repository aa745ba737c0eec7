"""Card instances as the sandbox keeps them: one row per app and ``outTrackId``.

A delivered card is also a message in each conversation it went to (``bot_messages``,
``via = "card"``), rewritten in place on every update, so the conversation's messages
(``GET /_sandbox/conversations/{id}/messages``) show it as it is now. Its JSON there::

    {"id": 12, "conversation_id": "cid...", "robot_code": "ding...", "via": "card",
     "process_query_key": null, "sent_ms": 1733450000000,
     "card": {
        "out_track_id": "3f2a...",          the caller's name for the card
        "template_id": "382e...schema",     the card template
        "data": {"content": "Hello", ...},  cardParamMap now (strings)
        "content_key": "content",           the variable last streamed into, else null
        "content": "Hello",                 the text to draw: that variable's value, else
                                            the first of content/markdown/msgContent/text
        "status": "inputing",               flowStatus by name (processing, inputing,
                                            executing, finished, failed) or "sent"
        "finished": false,                  true once streamed with isFinalize or isError,
                                            flowStatus 3/5, or a plain card (no flowStatus,
                                            never streamed)
        "failed": false,                    isError streamed, or flowStatus 5
        "updated_ms": 1733450001234}}

A page polling with ``after=`` sees new messages only: it re-reads the card messages it
shows (or the whole list) until each is ``finished``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from ...resources.cards import FLOW_STATUS
from ..store import Table, to_json

__all__ = ["Card", "CardRecords", "Delivery"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS card_instances (
    app_key TEXT NOT NULL,
    out_track_id TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (app_key, out_track_id)
);
"""

_STATUS_NAMES = {value: name for name, value in FLOW_STATUS.items()}
#: Where a card that was never streamed keeps its text [I: the official SDK's templates call
#: it ``markdown`` (MarkdownCardInstance) and ``msgContent`` (AIMarkdownCardInstance)].
_TEXT_KEYS = ("content", "markdown", "msgContent", "text")
#: Streaming guids remembered per card, to drop a repeated update [I].
MAX_GUIDS = 200


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a card went: the space and the conversation message that shows it."""

    space_type: str
    space_id: str
    conversation_id: str
    robot_code: str
    message_id: int


@dataclass(slots=True)
class Card:
    """One card instance of an app."""

    out_track_id: str
    app_key: str
    template_id: str
    data: dict[str, str]
    callback_type: str
    created_ms: int
    updated_ms: int
    deliveries: list[Delivery] = field(default_factory=list)
    stream_key: str | None = None
    finalized: bool = False
    failed: bool = False
    guids: list[str] = field(default_factory=list)

    @property
    def flow_status(self) -> str | None:
        return self.data.get("flowStatus")

    @property
    def is_failed(self) -> bool:
        return self.failed or self.flow_status == FLOW_STATUS["failed"]

    @property
    def is_finished(self) -> bool:
        if self.finalized or self.is_failed or self.flow_status == FLOW_STATUS["finished"]:
            return True
        return self.flow_status is None and self.stream_key is None

    def content(self) -> str | None:
        if self.stream_key is not None:
            return self.data.get(self.stream_key, "")
        return next((self.data[key] for key in _TEXT_KEYS if key in self.data), None)

    def view(self) -> dict[str, Any]:
        """The ``card`` object of its conversation message (see the module's docstring)."""
        if self.is_failed:
            status = "failed"
        elif self.finalized:
            status = "finished"
        else:
            flow = self.flow_status
            status = _STATUS_NAMES.get(flow or "", "inputing" if self.stream_key else "sent")
        return {
            "out_track_id": self.out_track_id,
            "template_id": self.template_id,
            "data": dict(self.data),
            "content_key": self.stream_key,
            "content": self.content(),
            "status": status,
            "finished": self.is_finished,
            "failed": self.is_failed,
            "updated_ms": self.updated_ms,
        }


class CardRecords(Table):
    """Card instances by app key and outTrackId."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def get(self, app_key: str, out_track_id: str) -> Card | None:
        rows = self._rows(
            "SELECT state FROM card_instances WHERE app_key = ? AND out_track_id = ?",
            (app_key, out_track_id),
        )
        if not rows:
            return None
        state = json.loads(rows[0]["state"])
        state["deliveries"] = [Delivery(**d) for d in state.get("deliveries", [])]
        return Card(**state)

    def put(self, card: Card) -> None:
        self._run(
            "INSERT INTO card_instances (app_key, out_track_id, state) VALUES (?, ?, ?) "
            "ON CONFLICT (app_key, out_track_id) DO UPDATE SET state = excluded.state",
            (card.app_key, card.out_track_id, to_json(asdict(card))),
        )

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM card_instances")[0]["n"])
