"""What the sandbox keeps about event subscriptions (§7): the organisation's registration made
with ``register_call_back``, the URL checks (handshakes, §7.4) that registering and updating
make, every push with its attempts, and the failed-event list that
``get_call_back_failed_result`` drains. Stored in the sandbox's SQLite database
(``store.callbacks``); the rules are in :mod:`.callbacks`.

A push row carries everything needed to send it again (URL, token, key, receiver id and the
plaintext), so a push survives a restart, and a later change of the subscription does not
alter what was already queued. ``seq`` grows with every change to a push, so a reader can ask
for what changed since its last look (``changed_since``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..store import Table

__all__ = ["Attempt", "CallbackRecords", "Handshake", "Push", "Registration"]

#: URL checks kept: the newest; a check is only ever looked at while setting a receiver up.
MAX_HANDSHAKES = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_registrations (
    corp_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    token TEXT NOT NULL,
    aes_key TEXT NOT NULL,
    tags TEXT NOT NULL,
    app_key TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS callback_pushes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subscription TEXT NOT NULL,
    url TEXT NOT NULL,
    token TEXT NOT NULL,
    aes_key TEXT NOT NULL,
    receiver_id TEXT NOT NULL,
    style TEXT NOT NULL,
    plaintext TEXT NOT NULL,
    failed_item TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    next_ms INTEGER,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callback_pushes_due ON callback_pushes (next_ms)
    WHERE next_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS callback_pushes_seq ON callback_pushes (seq);
CREATE TABLE IF NOT EXISTS callback_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    push_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    http_status INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS callback_attempts_by_push ON callback_attempts (push_id, id);
CREATE TABLE IF NOT EXISTS callback_handshakes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    url TEXT NOT NULL,
    ok INTEGER NOT NULL,
    http_status INTEGER,
    reason TEXT,
    errcode INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS callback_failed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    push_id INTEGER NOT NULL,
    item TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Registration:
    """The organisation's subscription made through the API (§7.1)."""

    url: str
    token: str
    aes_key: str
    tags: tuple[str, ...]
    app_key: str  # the app whose token registered it
    updated_ms: int


@dataclass(frozen=True, slots=True)
class Handshake:
    """One URL check (§7.4) made by ``register_call_back`` or ``update_call_back``."""

    id: int
    at_ms: int
    action: str  # "register" or "update"
    url: str
    ok: bool
    http_status: int | None  # None: no reply at all
    reason: str | None  # why it failed, the receiver's own words included; None when ok
    errcode: int  # what the registration answered: 0, or 71009, 71011, 71012


@dataclass(frozen=True, slots=True)
class Attempt:
    at_ms: int
    ok: bool
    http_status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Push:
    """One event on its way to one subscription."""

    id: int
    seq: int
    event_id: str
    event_type: str
    subscription: str
    url: str
    token: str
    aes_key: str
    receiver_id: str
    style: str
    plaintext: str
    failed_item: dict[str, Any]
    created_ms: int
    next_ms: int | None  # when it is due; None once delivered or failed
    state: str  # pending, retrying, delivered, failed
    attempts: tuple[Attempt, ...] = ()


def _push(row: sqlite3.Row, attempts: Sequence[Attempt] = ()) -> Push:
    return Push(
        id=row["id"],
        seq=row["seq"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        subscription=row["subscription"],
        url=row["url"],
        token=row["token"],
        aes_key=row["aes_key"],
        receiver_id=row["receiver_id"],
        style=row["style"],
        plaintext=row["plaintext"],
        failed_item=json.loads(row["failed_item"]),
        created_ms=row["created_ms"],
        next_ms=row["next_ms"],
        state=row["state"],
        attempts=tuple(attempts),
    )


class CallbackRecords(Table):
    SCHEMA: ClassVar[str] = _SCHEMA

    _NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM callback_pushes)"

    # -- the API registration ----------------------------------------------------------

    def registration(self, corp_id: str) -> Registration | None:
        rows = self._rows("SELECT * FROM callback_registrations WHERE corp_id = ?", (corp_id,))
        if not rows:
            return None
        row = rows[0]
        return Registration(
            row["url"],
            row["token"],
            row["aes_key"],
            tuple(json.loads(row["tags"])),
            row["app_key"],
            row["updated_ms"],
        )

    def register(self, corp_id: str, registration: Registration) -> None:
        self._run(
            "INSERT INTO callback_registrations (corp_id, url, token, aes_key, tags, app_key, "
            "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (corp_id) DO UPDATE SET "
            "url = excluded.url, token = excluded.token, aes_key = excluded.aes_key, "
            "tags = excluded.tags, app_key = excluded.app_key, updated_ms = excluded.updated_ms",
            (
                corp_id,
                registration.url,
                registration.token,
                registration.aes_key,
                json.dumps(list(registration.tags)),
                registration.app_key,
                registration.updated_ms,
            ),
        )

    def unregister(self, corp_id: str) -> bool:
        return self._run("DELETE FROM callback_registrations WHERE corp_id = ?", (corp_id,)) > 0

    # -- URL checks --------------------------------------------------------------------

    def add_handshake(
        self,
        *,
        at_ms: int,
        action: str,
        url: str,
        http_status: int | None,
        reason: str | None,
        errcode: int,
    ) -> int:
        """Keep a URL check (only the newest :data:`MAX_HANDSHAKES`); its id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO callback_handshakes (at_ms, action, url, ok, http_status, reason, "
                "errcode) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at_ms, action, url, int(reason is None), http_status, reason, errcode),
            )
            assert cursor.lastrowid is not None
            self._db.execute(
                "DELETE FROM callback_handshakes WHERE id <= ?",
                (cursor.lastrowid - MAX_HANDSHAKES,),
            )
        return cursor.lastrowid

    def handshakes_since(self, after: int, limit: int = 200) -> list[Handshake]:
        """URL checks made after the one with id ``after``, oldest first."""
        rows = self._rows(
            "SELECT * FROM callback_handshakes WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        )
        return [
            Handshake(
                id=row["id"],
                at_ms=row["at_ms"],
                action=row["action"],
                url=row["url"],
                ok=bool(row["ok"]),
                http_status=row["http_status"],
                reason=row["reason"],
                errcode=row["errcode"],
            )
            for row in rows
        ]

    # -- pushes ------------------------------------------------------------------------

    def add_push(
        self,
        *,
        event_id: str,
        event_type: str,
        subscription: str,
        url: str,
        token: str,
        aes_key: str,
        receiver_id: str,
        style: str,
        plaintext: str,
        failed_item: dict[str, Any],
        now_ms: int,
    ) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO callback_pushes (seq, event_id, event_type, subscription, url, "
                "token, aes_key, receiver_id, style, plaintext, failed_item, created_ms, "
                f"next_ms, state) VALUES ({self._NEXT_SEQ}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "'pending')",
                (
                    event_id,
                    event_type,
                    subscription,
                    url,
                    token,
                    aes_key,
                    receiver_id,
                    style,
                    plaintext,
                    json.dumps(failed_item, ensure_ascii=False),
                    now_ms,
                    now_ms,
                ),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def due(self, now_ms: int, limit: int = 100) -> list[Push]:
        """Pushes whose next attempt is due, oldest first (a subscription's events stay in
        order)."""
        rows = self._rows(
            "SELECT * FROM callback_pushes WHERE next_ms IS NOT NULL AND next_ms <= ? "
            "ORDER BY next_ms, id LIMIT ?",
            (now_ms, limit),
        )
        return self._with_attempts(rows)

    def next_due_ms(self) -> int | None:
        rows = self._rows("SELECT MIN(next_ms) FROM callback_pushes WHERE next_ms IS NOT NULL")
        value = rows[0][0] if rows else None
        return None if value is None else int(value)

    def record_attempt(
        self,
        push: Push,
        attempt: Attempt,
        *,
        state: str,
        next_ms: int | None,
    ) -> None:
        """Keep an attempt and the push's new state; a push that ``failed`` joins the failed
        list."""
        with self._lock:
            self._db.execute(
                "INSERT INTO callback_attempts (push_id, at_ms, ok, http_status, error) "
                "VALUES (?, ?, ?, ?, ?)",
                (push.id, attempt.at_ms, int(attempt.ok), attempt.http_status, attempt.error),
            )
            self._db.execute(
                f"UPDATE callback_pushes SET state = ?, next_ms = ?, seq = {self._NEXT_SEQ} "
                "WHERE id = ?",
                (state, next_ms, push.id),
            )
            if state == "failed":
                self._db.execute(
                    "INSERT INTO callback_failed (push_id, item) VALUES (?, ?)",
                    (push.id, json.dumps(push.failed_item, ensure_ascii=False)),
                )

    def changed_since(self, seq: int, limit: int = 200) -> list[Push]:
        """Pushes changed after ``seq``, with their attempts, in the order they changed."""
        rows = self._rows(
            "SELECT * FROM callback_pushes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        )
        return self._with_attempts(rows)

    def get(self, push_id: int) -> Push | None:
        found = self._with_attempts(
            self._rows("SELECT * FROM callback_pushes WHERE id = ?", (push_id,))
        )
        return found[0] if found else None

    def _with_attempts(self, rows: list[sqlite3.Row]) -> list[Push]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ", ".join("?" * len(ids))
        attempts: dict[int, list[Attempt]] = {}
        for row in self._rows(
            f"SELECT * FROM callback_attempts WHERE push_id IN ({marks}) ORDER BY id", ids
        ):
            attempts.setdefault(row["push_id"], []).append(
                Attempt(row["at_ms"], bool(row["ok"]), row["http_status"], row["error"])
            )
        return [_push(row, attempts.get(row["id"], ())) for row in rows]

    # -- the failed list ---------------------------------------------------------------

    def take_failed(self, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` failed events, oldest first, removed as they are returned (§7.5:
        each call clears what it returned); and whether more remain."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, item FROM callback_failed ORDER BY id LIMIT ?", (limit + 1,)
            ).fetchall()
            taken = rows[:limit]
            if taken:
                self._db.execute("DELETE FROM callback_failed WHERE id <= ?", (taken[-1]["id"],))
        return [json.loads(row["item"]) for row in taken], len(rows) > limit
