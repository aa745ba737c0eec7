"""What the server APIs create and must keep: approval instances, calendar events and
work-notification tasks, in the sandbox's SQLite database (see :mod:`.store`).

Each row keeps its object as JSON beside the columns that queries filter and sort on. The
objects' rules live elsewhere (:mod:`.approvals`, :mod:`.calendar`, :mod:`.notifications`);
this module only stores and finds them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .approvals import Instance

__all__ = ["SCHEMA", "ApprovalRecords", "CalendarRecords", "NotificationRecords", "StoredEvent"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS approval_instances (
    id TEXT PRIMARY KEY,
    process_code TEXT NOT NULL,
    originator TEXT NOT NULL,
    status TEXT NOT NULL,
    create_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_code ON approval_instances (process_code, create_ms);
CREATE TABLE IF NOT EXISTS calendar_events (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    client_token TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_owner ON calendar_events (owner, start_ms);
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


class _Table:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _run(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(args)).rowcount

    def next_values(self, name: str, count: int = 1) -> list[int]:
        """``count`` fresh numbers of the sequence ``name`` (1, 2, 3... over the store's life)."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO sequences (name, value) VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET value = value + excluded.value RETURNING value",
                (name, count),
            ).fetchone()
        last = int(row[0])
        return list(range(last - count + 1, last + 1))


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class ApprovalRecords(_Table):
    def add(self, instance: Instance) -> None:
        self._run(
            "INSERT INTO approval_instances (id, process_code, originator, status, create_ms, "
            "data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                instance.instance_id,
                instance.process_code,
                instance.originator_userid,
                instance.status,
                instance.create_ms,
                _json(instance.to_json()),
            ),
        )

    def save(self, instance: Instance) -> None:
        self._run(
            "UPDATE approval_instances SET status = ?, data = ? WHERE id = ?",
            (instance.status, _json(instance.to_json()), instance.instance_id),
        )

    def get(self, instance_id: str) -> Instance | None:
        rows = self._rows("SELECT data FROM approval_instances WHERE id = ?", (instance_id,))
        return Instance.from_json(json.loads(rows[0]["data"])) if rows else None

    def ids(
        self,
        process_code: str,
        start_ms: int,
        end_ms: int,
        *,
        originators: Sequence[str] = (),
        statuses: Sequence[str] = (),
        offset: int,
        limit: int,
    ) -> list[str]:
        """Ids of ``process_code``'s instances created in ``[start_ms, end_ms]``, oldest first."""
        sql = (
            "SELECT id FROM approval_instances WHERE process_code = ? AND create_ms BETWEEN ? AND ?"
        )
        args: list[Any] = [process_code, start_ms, end_ms]
        for column, values in (("originator", originators), ("status", statuses)):
            if values:
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                args.extend(values)
        sql += " ORDER BY create_ms, rowid LIMIT ? OFFSET ?"
        rows = self._rows(sql, (*args, limit, offset))
        return [row["id"] for row in rows]

    def recent(self, limit: int) -> list[Instance]:
        """The newest instances first."""
        rows = self._rows(
            "SELECT data FROM approval_instances ORDER BY create_ms DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [Instance.from_json(json.loads(row["data"])) for row in rows]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    owner: str  # the organiser's unionId
    start_ms: int
    created_ms: int
    updated_ms: int
    deleted: bool
    data: dict[str, Any]


def _event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        row["id"],
        row["owner"],
        row["start_ms"],
        row["created_ms"],
        row["updated_ms"],
        bool(row["deleted"]),
        json.loads(row["data"]),
    )


class CalendarRecords(_Table):
    def add(self, event: StoredEvent, client_token: str | None = None) -> None:
        self._run(
            "INSERT INTO calendar_events (id, owner, start_ms, created_ms, updated_ms, deleted, "
            "client_token, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                event.owner,
                event.start_ms,
                event.created_ms,
                event.updated_ms,
                int(event.deleted),
                client_token,
                _json(event.data),
            ),
        )

    def save(self, event: StoredEvent) -> None:
        self._run(
            "UPDATE calendar_events SET start_ms = ?, updated_ms = ?, deleted = ?, data = ? "
            "WHERE id = ?",
            (event.start_ms, event.updated_ms, int(event.deleted), _json(event.data), event.id),
        )

    def get(self, owner: str, event_id: str) -> StoredEvent | None:
        rows = self._rows(
            "SELECT * FROM calendar_events WHERE owner = ? AND id = ?", (owner, event_id)
        )
        return _event(rows[0]) if rows else None

    def by_client_token(self, owner: str, token: str, since_ms: int) -> StoredEvent | None:
        rows = self._rows(
            "SELECT * FROM calendar_events WHERE owner = ? AND client_token = ? "
            "AND created_ms >= ? ORDER BY created_ms DESC LIMIT 1",
            (owner, token, since_ms),
        )
        return _event(rows[0]) if rows else None

    def created_since(self, owner: str, since_ms: int) -> int:
        rows = self._rows(
            "SELECT COUNT(*) FROM calendar_events WHERE owner = ? AND created_ms >= ?",
            (owner, since_ms),
        )
        return int(rows[0][0])

    def find(
        self,
        owner: str,
        *,
        start_min: int | None = None,
        start_max: int | None = None,
        deleted: bool = False,
        updated_after: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """``owner``'s events by start (``start_min <= start < start_max``), then creation."""
        sql, args = "SELECT * FROM calendar_events WHERE owner = ?", [owner]
        conditions: list[tuple[str, Any]] = [
            ("start_ms >= ?", start_min),
            ("start_ms < ?", start_max),
            ("updated_ms > ?", updated_after),
        ]
        for condition, value in conditions:
            if value is not None:
                sql += f" AND {condition}"
                args.append(value)
        if not deleted:
            sql += " AND deleted = 0"
        sql += " ORDER BY start_ms, created_ms, rowid LIMIT ? OFFSET ?"
        return [_event(row) for row in self._rows(sql, (*args, limit, offset))]

    def everyone(self, owner: str | None, *, limit: int) -> list[StoredEvent]:
        """Events of ``owner`` (of everyone when ``None``), deleted ones too, by start."""
        where, args = ("WHERE owner = ?", [owner]) if owner is not None else ("", [])
        sql = f"SELECT * FROM calendar_events {where} ORDER BY start_ms, rowid LIMIT ?"
        return [_event(row) for row in self._rows(sql, (*args, limit))]


class NotificationRecords(_Table):
    def add(
        self, task_id: int, *, app_key: str, agent_id: int, sent_ms: int, digest: str, data: Any
    ) -> None:
        self._run(
            "INSERT INTO work_notifications (task_id, app_key, agent_id, sent_ms, digest, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (task_id, app_key, agent_id, sent_ms, digest, _json(data)),
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
