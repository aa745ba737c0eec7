"""The sandbox's memory: one SQLite connection that every concept keeps its tables in.

The store knows no concept. Each concept's records class (``robot.records``,
``approval.records``...) is a :class:`Table` that brings its own ``SCHEMA``; creating it
registers the schema with the store, which creates the tables if they are missing::

    class NoteRecords(Table):
        SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT);"

    notes = NoteRecords(store)

One connection guarded by a lock: every statement is short, and SQLite serialises writers
anyway. ``":memory:"`` gives a store for in-process tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Store", "Table", "now_iso", "to_json"]


class Store:
    """One SQLite database; ``path`` is a file or ``":memory:"``."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        self.schemas: list[str] = []
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
        self.register(_SEQUENCES)

    def register(self, schema: str) -> None:
        """Create a concept's tables (``CREATE ... IF NOT EXISTS``), once per schema."""
        if schema in self.schemas:
            return
        with self.lock:
            self.db.executescript(schema)
        self.schemas.append(schema)

    def close(self) -> None:
        with self.lock:
            self.db.close()


_SEQUENCES = """
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class Table:
    """A concept's tables in the store: subclasses set ``SCHEMA`` and add their queries."""

    SCHEMA: ClassVar[str] = ""

    def __init__(self, store: Store) -> None:
        if self.SCHEMA:
            store.register(self.SCHEMA)
        self._store = store
        self._db = store.db
        self._lock = store.lock

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


def to_json(data: Any) -> str:
    """Compact JSON of a stored object (non-ASCII kept as is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
