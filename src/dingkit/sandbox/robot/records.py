"""A robot's world in the sandbox: groups, the custom robots in them, the messages they
accepted and the requests they refused (§2). Stored in the sandbox's database.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import GroupConfig, RobotConfig
from ..store import Table, now_iso

__all__ = ["Rejection", "RobotRecords", "StoredMessage", "StoredRobot"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    dissolved INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS robots (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    secret TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    ip_allowlist TEXT NOT NULL DEFAULT '[]',
    group_id TEXT NOT NULL REFERENCES groups(id),
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    robot TEXT NOT NULL,
    group_id TEXT NOT NULL,
    msgtype TEXT NOT NULL,
    msg_uuid TEXT,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_group ON messages (group_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_uuid ON messages (robot, msg_uuid)
    WHERE msg_uuid IS NOT NULL;
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    robot TEXT,
    group_id TEXT,
    errcode INTEGER NOT NULL,
    errmsg TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""
# Enough of a rejected body to see what was wrong, without storing megabytes of garbage.
_REJECTED_BODY_KEEP = 2000


@dataclass(frozen=True, slots=True)
class StoredRobot:
    name: str
    token: str
    secret: str | None
    keywords: tuple[str, ...]
    ip_allowlist: tuple[str, ...]
    group: str
    disabled: bool
    group_dissolved: bool


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    robot: str
    group: str
    msgtype: str
    msg_uuid: str | None
    payload: dict[str, Any]
    received_at: str


@dataclass(frozen=True, slots=True)
class Rejection:
    id: int
    robot: str | None
    group: str | None
    errcode: int
    errmsg: str
    reason: str
    body: str
    received_at: str


class RobotRecords(Table):
    """Groups, robots, accepted messages and rejected requests."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def has_robots(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM robots LIMIT 1").fetchone() is not None

    def upsert_group(self, group: GroupConfig) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO groups (id, name) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                (group.id, group.name or group.id),
            )

    def upsert_robot(self, robot: RobotConfig) -> None:
        with self._lock:
            # A token moved to another name replaces the old robot of that token.
            self._db.execute(
                "DELETE FROM robots WHERE token = ? AND name != ?", (robot.token, robot.name)
            )
            self._db.execute(
                "INSERT INTO robots (name, token, secret, keywords, ip_allowlist, group_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "token = excluded.token, secret = excluded.secret, keywords = excluded.keywords, "
                "ip_allowlist = excluded.ip_allowlist, group_id = excluded.group_id",
                (
                    robot.name,
                    robot.token,
                    robot.secret,
                    json.dumps(list(robot.keywords)),
                    json.dumps(list(robot.ip_allowlist)),
                    robot.group,
                ),
            )

    def robot_by_token(self, token: str) -> StoredRobot | None:
        rows = self._robots("WHERE r.token = ?", (token,))
        return rows[0] if rows else None

    def robot_by_name(self, name: str) -> StoredRobot | None:
        rows = self._robots("WHERE r.name = ?", (name,))
        return rows[0] if rows else None

    def robots(self) -> list[StoredRobot]:
        return self._robots("ORDER BY r.name", ())

    def _robots(self, where: str, args: tuple[Any, ...]) -> list[StoredRobot]:
        with self._lock:
            rows = self._db.execute(
                "SELECT r.*, g.dissolved FROM robots r JOIN groups g ON g.id = r.group_id " + where,
                args,
            ).fetchall()
        return [
            StoredRobot(
                name=row["name"],
                token=row["token"],
                secret=row["secret"],
                keywords=tuple(json.loads(row["keywords"])),
                ip_allowlist=tuple(json.loads(row["ip_allowlist"])),
                group=row["group_id"],
                disabled=bool(row["disabled"]),
                group_dissolved=bool(row["dissolved"]),
            )
            for row in rows
        ]

    def set_robot_disabled(self, name: str, disabled: bool) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE robots SET disabled = ? WHERE name = ?", (int(disabled), name)
            )
        return cursor.rowcount > 0

    def set_group_dissolved(self, group_id: str, dissolved: bool) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE groups SET dissolved = ? WHERE id = ?", (int(dissolved), group_id)
            )
        return cursor.rowcount > 0

    def groups(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT g.id, g.name, g.dissolved, "
                "(SELECT COUNT(*) FROM messages m WHERE m.group_id = g.id) AS message_count, "
                "(SELECT MAX(id) FROM messages m WHERE m.group_id = g.id) AS last_id "
                "FROM groups g ORDER BY g.id"
            ).fetchall()
            robots = self._db.execute("SELECT name, group_id FROM robots ORDER BY name").fetchall()
        return [
            {
                "id": row["id"],
                "name": row["name"],
                "dissolved": bool(row["dissolved"]),
                "robots": [r["name"] for r in robots if r["group_id"] == row["id"]],
                "message_count": row["message_count"],
                "last_id": row["last_id"],
            }
            for row in rows
        ]

    # -- messages and rejections -------------------------------------------------------

    def add_message(
        self, robot: StoredRobot, msgtype: str, msg_uuid: str | None, payload: dict[str, Any]
    ) -> StoredMessage | None:
        """Record an accepted message; ``None`` if this robot already sent that ``msgUuid``."""
        received_at = now_iso()
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO messages (robot, group_id, msgtype, msg_uuid, payload, "
                    "received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        robot.name,
                        robot.group,
                        msgtype,
                        msg_uuid,
                        json.dumps(payload, ensure_ascii=False),
                        received_at,
                    ),
                )
            except sqlite3.IntegrityError:
                return None
        assert cursor.lastrowid is not None
        return StoredMessage(
            cursor.lastrowid, robot.name, robot.group, msgtype, msg_uuid, payload, received_at
        )

    def has_message(self, robot: str, msg_uuid: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM messages WHERE robot = ? AND msg_uuid = ?", (robot, msg_uuid)
            ).fetchone()
        return row is not None

    def messages(
        self,
        *,
        group: str | None = None,
        robot: str | None = None,
        after: int = 0,
        limit: int = 500,
    ) -> list[StoredMessage]:
        clauses, args = ["id > ?"], list[Any]([after])
        if group is not None:
            clauses.append("group_id = ?")
            args.append(group)
        if robot is not None:
            clauses.append("robot = ?")
            args.append(robot)
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM messages WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [
            StoredMessage(
                row["id"],
                row["robot"],
                row["group_id"],
                row["msgtype"],
                row["msg_uuid"],
                json.loads(row["payload"]),
                row["received_at"],
            )
            for row in rows
        ]

    def add_rejection(
        self, *, robot: StoredRobot | None, errcode: int, errmsg: str, reason: str, body: bytes
    ) -> None:
        text = body[:_REJECTED_BODY_KEEP].decode("utf-8", errors="replace")
        with self._lock:
            self._db.execute(
                "INSERT INTO rejections (robot, group_id, errcode, errmsg, reason, body, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    robot.name if robot else None,
                    robot.group if robot else None,
                    errcode,
                    errmsg,
                    reason,
                    text,
                    now_iso(),
                ),
            )

    def rejections(
        self, *, robot: str | None = None, after: int = 0, limit: int = 500
    ) -> list[Rejection]:
        clauses, args = ["id > ?"], list[Any]([after])
        if robot is not None:
            clauses.append("robot = ?")
            args.append(robot)
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM rejections WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [
            Rejection(
                row["id"],
                row["robot"],
                row["group_id"],
                row["errcode"],
                row["errmsg"],
                row["reason"],
                row["body"],
                row["received_at"],
            )
            for row in rows
        ]

    def clear_history(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM messages")
            self._db.execute("DELETE FROM rejections")
