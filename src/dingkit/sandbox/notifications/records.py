"""Work-notification tasks as the sandbox keeps them (§12), in its database."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, ClassVar

from ..store import Table, to_json

__all__ = ["NotificationRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS work_notifications (
    task_id INTEGER PRIMARY KEY,
    app_key TEXT NOT NULL,
    agent_id INTEGER NOT NULL,
    sent_ms INTEGER NOT NULL,
    digest TEXT NOT NULL,
    recalled_ms INTEGER,
    data TEXT NOT NULL
);
"""


class NotificationRecords(Table):
    """Sent work notifications (tasks), with who got them, for results, recall and the page."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def add(
        self, task_id: int, *, app_key: str, agent_id: int, sent_ms: int, digest: str, data: Any
    ) -> None:
        self._run(
            "INSERT INTO work_notifications (task_id, app_key, agent_id, sent_ms, digest, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, app_key, agent_id, sent_ms, digest, to_json(data)),
        )

    def get(self, task_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM work_notifications WHERE task_id = ?", (task_id,))
        return _notification(rows[0]) if rows else None

    def recall(self, task_id: int, now_ms: int) -> None:
        self._run(
            "UPDATE work_notifications SET recalled_ms = COALESCE(recalled_ms, ?) "
            "WHERE task_id = ?",
            (now_ms, task_id),
        )

    def delivered_since(self, agent_id: int, digest: str, since_ms: int) -> set[str]:
        """Users who got a message with this digest from this app since ``since_ms``."""
        rows = self._rows(
            "SELECT data FROM work_notifications WHERE agent_id = ? AND digest = ? "
            "AND sent_ms >= ?",
            (agent_id, digest, since_ms),
        )
        return {userid for row in rows for userid in json.loads(row["data"])["delivered"]}

    def recent(self, limit: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT * FROM work_notifications ORDER BY task_id DESC LIMIT ?", (limit,)
        )
        return [_notification(row) for row in rows]


def _notification(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "task_id": row["task_id"],
        "app_key": row["app_key"],
        "agent_id": row["agent_id"],
        "sent_ms": row["sent_ms"],
        "recalled_ms": row["recalled_ms"],
        **json.loads(row["data"]),
    }
