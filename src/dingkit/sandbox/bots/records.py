"""App robots' conversations, the messages they sent and the session webhooks they were
given, as the sandbox keeps them (§8.1, §12.3), in its database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ..store import Table, to_json

__all__ = ["BotMessage", "BotRecords", "Conversation", "Session"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_conversations (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    members TEXT NOT NULL,
    robot_codes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bot_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    robot_code TEXT NOT NULL,
    via TEXT NOT NULL,
    process_query_key TEXT,
    sent_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_messages_by_conversation
    ON bot_messages (conversation_id, id);
CREATE TABLE IF NOT EXISTS bot_sessions (
    session TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    robot_code TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""

ConversationType = Literal["single", "group"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """A chat an app robot is in: ``single`` (one person and the robot) or ``group``.

    ``id`` is the ``openConversationId`` (``cid...==``) of §8.1's ``conversationId``.
    """

    id: str
    type: ConversationType
    title: str
    members: tuple[str, ...]
    robot_codes: tuple[str, ...]
    created_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "members": list(self.members),
            "robot_codes": list(self.robot_codes),
            "created_ms": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class BotMessage:
    """One message a robot sent into a conversation; ``via`` is ``oto`` (batchSend),
    ``group`` (groupMessages/send), ``session`` (a sessionWebhook reply) or ``card`` (an
    interactive card, rewritten as it changes). ``data`` holds ``msgKey``/``msgParam``
    (OpenAPI), the §2.1 ``payload`` (session) or ``card`` (its JSON shape:
    :mod:`dingkit.sandbox.cards.records`)."""

    id: int
    conversation_id: str
    robot_code: str
    via: str
    process_query_key: str | None
    sent_ms: int
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "robot_code": self.robot_code,
            "via": self.via,
            "process_query_key": self.process_query_key,
            "sent_ms": self.sent_ms,
            **self.data,
        }


@dataclass(frozen=True, slots=True)
class Session:
    session: str
    conversation_id: str
    robot_code: str
    expires_ms: int


class BotRecords(Table):
    """Conversations, robots' messages and session webhooks."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def upsert_conversation(self, conversation: Conversation) -> None:
        self._run(
            "INSERT INTO bot_conversations (id, type, title, members, robot_codes, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET type = excluded.type, "
            "title = excluded.title, members = excluded.members, "
            "robot_codes = excluded.robot_codes",
            (
                conversation.id,
                conversation.type,
                conversation.title,
                to_json(list(conversation.members)),
                to_json(list(conversation.robot_codes)),
                conversation.created_ms,
            ),
        )

    def conversation(self, conversation_id: str) -> Conversation | None:
        rows = self._rows("SELECT * FROM bot_conversations WHERE id = ?", (conversation_id,))
        return _conversation(rows[0]) if rows else None

    def conversations(self) -> list[Conversation]:
        rows = self._rows("SELECT * FROM bot_conversations ORDER BY created_ms, id")
        return [_conversation(row) for row in rows]

    def add_message(
        self,
        conversation_id: str,
        *,
        robot_code: str,
        via: str,
        sent_ms: int,
        data: dict[str, Any],
        process_query_key: str | None = None,
    ) -> int:
        """Keep a message; its id."""
        rows = self._rows(
            "INSERT INTO bot_messages (conversation_id, robot_code, via, process_query_key, "
            "sent_ms, data) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (conversation_id, robot_code, via, process_query_key, sent_ms, to_json(data)),
        )
        return int(rows[0]["id"])

    def set_message_data(self, message_id: int, data: dict[str, Any]) -> None:
        """Rewrite a message's ``data`` in place: a card shows its latest state."""
        self._run("UPDATE bot_messages SET data = ? WHERE id = ?", (to_json(data), message_id))

    def messages(
        self, conversation_id: str, *, after: int = 0, limit: int = 500
    ) -> list[BotMessage]:
        rows = self._rows(
            "SELECT * FROM bot_messages WHERE conversation_id = ? AND id > ? ORDER BY id LIMIT ?",
            (conversation_id, after, limit),
        )
        return [
            BotMessage(
                id=row["id"],
                conversation_id=row["conversation_id"],
                robot_code=row["robot_code"],
                via=row["via"],
                process_query_key=row["process_query_key"],
                sent_ms=row["sent_ms"],
                data=json.loads(row["data"]),
            )
            for row in rows
        ]

    def add_session(self, session: Session) -> None:
        self._run(
            "INSERT INTO bot_sessions (session, conversation_id, robot_code, expires_ms) "
            "VALUES (?, ?, ?, ?)",
            (session.session, session.conversation_id, session.robot_code, session.expires_ms),
        )

    def session(self, session: str) -> Session | None:
        rows = self._rows("SELECT * FROM bot_sessions WHERE session = ?", (session,))
        if not rows:
            return None
        row = rows[0]
        return Session(row["session"], row["conversation_id"], row["robot_code"], row["expires_ms"])


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        type=row["type"],
        title=row["title"],
        members=tuple(json.loads(row["members"])),
        robot_codes=tuple(json.loads(row["robot_codes"])),
        created_ms=row["created_ms"],
    )
