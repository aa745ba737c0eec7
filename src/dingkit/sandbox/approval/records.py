"""Approval instances as the sandbox keeps them (§3), in its database."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ..store import Table, to_json
from .instances import Instance

__all__ = ["ApprovalRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_instances (
    id TEXT PRIMARY KEY,
    process_code TEXT NOT NULL,
    originator TEXT NOT NULL,
    status TEXT NOT NULL,
    create_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_code ON approval_instances (process_code, create_ms);
"""


class ApprovalRecords(Table):
    """Approval instances, each kept whole as JSON beside the columns queries use."""

    SCHEMA: ClassVar[str] = _SCHEMA

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
                to_json(instance.to_json()),
            ),
        )

    def save(self, instance: Instance) -> None:
        self._run(
            "UPDATE approval_instances SET status = ?, data = ? WHERE id = ?",
            (instance.status, to_json(instance.to_json()), instance.instance_id),
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
