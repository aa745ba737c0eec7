"""Calendar events as the sandbox keeps them (§4), in its database."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

from ..store import Table, to_json

__all__ = ["CalendarRecords", "StoredCalendarEvent"]

_SCHEMA = """
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
"""


@dataclass(frozen=True, slots=True)
class StoredCalendarEvent:
    id: str
    owner: str  # the organiser's unionId
    start_ms: int
    created_ms: int
    updated_ms: int
    deleted: bool
    data: dict[str, Any]


def _calendar_event(row: sqlite3.Row) -> StoredCalendarEvent:
    return StoredCalendarEvent(
        row["id"],
        row["owner"],
        row["start_ms"],
        row["created_ms"],
        row["updated_ms"],
        bool(row["deleted"]),
        json.loads(row["data"]),
    )


class CalendarRecords(Table):
    """Calendar events of everyone's primary calendar, deleted ones kept (marked)."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def add(self, event: StoredCalendarEvent, client_token: str | None = None) -> None:
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
                to_json(event.data),
            ),
        )

    def save(self, event: StoredCalendarEvent) -> None:
        self._run(
            "UPDATE calendar_events SET start_ms = ?, updated_ms = ?, deleted = ?, data = ? "
            "WHERE id = ?",
            (event.start_ms, event.updated_ms, int(event.deleted), to_json(event.data), event.id),
        )

    def get(self, owner: str, event_id: str) -> StoredCalendarEvent | None:
        rows = self._rows(
            "SELECT * FROM calendar_events WHERE owner = ? AND id = ?", (owner, event_id)
        )
        return _calendar_event(rows[0]) if rows else None

    def by_client_token(self, owner: str, token: str, since_ms: int) -> StoredCalendarEvent | None:
        rows = self._rows(
            "SELECT * FROM calendar_events WHERE owner = ? AND client_token = ? "
            "AND created_ms >= ? ORDER BY created_ms DESC LIMIT 1",
            (owner, token, since_ms),
        )
        return _calendar_event(rows[0]) if rows else None

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
    ) -> list[StoredCalendarEvent]:
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
        return [_calendar_event(row) for row in self._rows(sql, (*args, limit, offset))]

    def everyone(self, owner: str | None, *, limit: int) -> list[StoredCalendarEvent]:
        """Events of ``owner`` (of everyone when ``None``), deleted ones too, by start."""
        where, args = ("WHERE owner = ?", [owner]) if owner is not None else ("", [])
        sql = f"SELECT * FROM calendar_events {where} ORDER BY start_ms, rowid LIMIT ?"
        return [_calendar_event(row) for row in self._rows(sql, (*args, limit))]
