"""The SQLite outbox's tables, and the row-level steps its transactions are made of (each
runs inside a transaction the caller holds; none commits)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from ._codec import fixed_body, stored_letter
from .base import KEPT, Delivery, Hold, Letter, Outcome, Reject

SCHEMA_VERSION = 1

# A letter's fixed fields are one JSON ``body``; what changes while it waits has columns.
# ``dead_at`` NULL: in the outbox; set: a dead letter. ``carries``: letters a digest
# stands for (1 for an ordinary one), for the recorded delivery.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS letters (
    id TEXT PRIMARY KEY,
    robot TEXT NOT NULL,
    route TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    not_before REAL NOT NULL,
    last_error TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    carries INTEGER NOT NULL DEFAULT 1,
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS letters_queue ON letters (robot, id) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS letters_dead ON letters (dead_at) WHERE dead_at IS NOT NULL;
-- supersede() finds a robot's letters of one thread through this (an expression index: the
-- query must say json_extract(body, '$.thread') exactly so).
CREATE INDEX IF NOT EXISTS letters_thread ON letters (robot, json_extract(body, '$.thread'))
    WHERE dead_at IS NULL;
CREATE TABLE IF NOT EXISTS dedup_keys (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dedup_keys_at ON dedup_keys (at);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejects (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holds (robot TEXT PRIMARY KEY, body TEXT NOT NULL);
PRAGMA user_version = {SCHEMA_VERSION};
"""

LETTER_COLUMNS = "body, robot, attempts, not_before, last_error"
IN_OUTBOX = "dead_at IS NULL"


def letter_of(row: Sequence[Any], *, lapsed: bool = False) -> Letter:
    """The letter of a row of :data:`LETTER_COLUMNS`."""
    body, robot, attempts, not_before, last_error = row
    return stored_letter(body, robot, attempts, not_before, last_error, lapsed=lapsed)


def record_json(record: Delivery | Reject | Hold) -> str:
    return json.dumps(dataclasses.asdict(record), ensure_ascii=False)


class Stored(NamedTuple):
    """What settling needs of a letter still in the outbox."""

    id: str
    robot: str
    route: str
    carries: int


def present(db: sqlite3.Connection, ids: Sequence[str]) -> list[Stored]:
    """Those of ``ids`` still in the outbox, in the order given (settling skips what is
    gone: see the contract)."""
    found = []
    for letter_id in dict.fromkeys(ids):
        row = db.execute(
            f"SELECT id, robot, route, carries FROM letters WHERE id = ? AND {IN_OUTBOX}",
            (letter_id,),
        ).fetchone()
        if row is not None:
            found.append(Stored(str(row[0]), str(row[1]), str(row[2]), int(row[3])))
    return found


def insert(
    db: sqlite3.Connection, letter: Letter, *, claimed_until: float = 0.0, carries: int = 1
) -> None:
    db.execute(
        "INSERT INTO letters (id, robot, route, body, attempts, not_before, last_error,"
        " claimed_until, carries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            letter.id,
            letter.robot,
            letter.route,
            fixed_body(letter),
            letter.attempts,
            letter.not_before,
            letter.last_error,
            claimed_until,
            carries,
        ),
    )


def append(db: sqlite3.Connection, table: str, body: str) -> None:
    """A row of a list kept to its newest :data:`KEPT`."""
    seq = db.execute(f"INSERT INTO {table} (body) VALUES (?)", (body,)).lastrowid
    db.execute(f"DELETE FROM {table} WHERE seq <= ?", (int(seq or 0) - KEPT,))


def record(
    db: sqlite3.Connection,
    stored: Stored,
    outcome: Outcome,
    answer: str,
    now: float,
    merged: int,
) -> None:
    delivery = Delivery(stored.id, stored.robot, stored.route, outcome, answer, float(now), merged)
    append(db, "deliveries", record_json(delivery))
