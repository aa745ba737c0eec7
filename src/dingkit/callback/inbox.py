"""The durable inbox between the receiver and the handlers.

The receiver answers ``success`` only after an event is committed here; handlers run from
here, with retries, so a crash between the two loses nothing. Deduplication drops only what
is provably the same event: an event with an ``eventId`` (an ``id:`` key) is a duplicate of
that id alone, so two events with the same fields but different ids are two events. Its
content key (``content:``) is kept too, for :data:`DEFAULT_CONTENT_WINDOW`, so that a copy
without an id (its failed-list item, §7.5) or an id-less classic push re-pushed by DingTalk
finds it and is dropped; past that window the same fields are a new event.

An event moves ``pending`` → ``running`` (claimed by one worker under a lease) → ``done``;
a handler failure puts it back to ``pending`` with a later ``due`` time, and after
``max_attempts`` it is ``failed`` (the dead-letter list) until someone replays it. A worker
renews its leases while its handlers run; when a process dies, its leases lapse and another
worker (or the same one, restarted) claims the events again. So delivery to handlers is at
least once: a handler that finished but whose process died before recording it runs again.

Retention: a ``done`` event, and the deduplication keys of events that are done (or gone),
are kept for :data:`DEFAULT_RETENTION` (7 days: DingTalk re-pushes a failed event for days,
§7.5) after they settled or were taken, then :meth:`Inbox.prune` removes them; the
dispatcher prunes hourly (``retention`` on the receiver, ``--retention-days`` on the CLI,
``dingkit callback events --prune`` by hand). ``failed`` events stay until replayed: they
are waiting for a person. Both inboxes apply the same rule.

Two implementations: :class:`SQLiteInbox` (here; the default, one host) and
``RedisInbox`` (``redis_inbox.py``; several receivers behind a load balancer).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "DEFAULT_CONTENT_WINDOW",
    "DEFAULT_RETENTION",
    "STATES",
    "Inbox",
    "InboxEntry",
    "NewEvent",
    "Pruned",
    "SQLiteInbox",
    "State",
    "split_keys",
]

State = Literal["pending", "running", "done", "failed"]
STATES: tuple[State, ...] = ("pending", "running", "done", "failed")


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One event in the inbox; ``payload`` is the decrypted message, as received."""

    id: str
    event_type: str
    payload: bytes
    source: str  # "push" or "failed-list"
    state: State
    attempts: int
    received_at: float
    due_at: float
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event on its way into the inbox."""

    event_type: str
    payload: bytes
    keys: Sequence[str]
    source: str = "push"


class Inbox(Protocol):
    """What the receiver and the dispatcher need from an inbox."""

    def add(
        self, event_type: str, payload: bytes, keys: Sequence[str], *, source: str = "push"
    ) -> str | None:
        """Store a new event, durably; its id, or ``None`` when one of ``keys`` is known."""
        ...

    def add_many(self, events: Sequence[NewEvent]) -> list[str | None]:
        """:meth:`add` for several events in one commit (what concurrent pushes share)."""
        ...

    def claim(self, owner: str, lease: float) -> InboxEntry | None:
        """The next due event, now ``running`` for ``owner`` until the lease lapses."""
        ...

    def renew(self, owner: str, ids: Sequence[str], lease: float) -> None: ...

    def complete(self, entry_id: str, owner: str) -> None: ...

    def retry(self, entry_id: str, owner: str, error: str, delay: float) -> None: ...

    def fail(self, entry_id: str, owner: str, error: str) -> None: ...

    def replay(self, entry_id: str) -> bool:
        """Make a ``failed`` (or ``done``) event ``pending`` again, attempts reset."""
        ...

    def get(self, entry_id: str) -> InboxEntry | None: ...

    def entries(self, state: State | None = None, limit: int = 100) -> list[InboxEntry]: ...

    def counts(self) -> dict[State, int]: ...

    def next_due(self) -> float | None:
        """When the earliest pending event (or lapsing lease) is due; ``None``: nothing."""
        ...

    def prune(self, before: float) -> Pruned:
        """Remove ``done`` events settled before ``before`` and the deduplication keys taken
        before it whose event is done or gone; failed and in-flight events keep theirs."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Pruned:
    """What :meth:`Inbox.prune` removed."""

    events: int
    keys: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    source TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    due_at REAL NOT NULL,
    owner TEXT,
    last_error TEXT,
    settled_at REAL
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox (state, due_at);
CREATE TABLE IF NOT EXISTS inbox_keys (
    key TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    at REAL NOT NULL DEFAULT 0
);
"""

_COLUMNS = "id, event_type, payload, source, state, attempts, received_at, due_at, last_error"


def _entry(row: Any) -> InboxEntry:
    entry_id, event_type, payload, source, state, attempts, received, due, error = row
    return InboxEntry(
        str(entry_id),
        str(event_type),
        bytes(payload),
        str(source),
        state,
        int(attempts),
        float(received),
        float(due),
        None if error is None else str(error),
    )


#: Seconds a content key stands in for an event without an id: DingTalk re-pushes within a
#: minute and lists failed events for a while (§7.5); the same fields a day later are a new
#: event (a person added again), not a duplicate [I: the reference gives no window].
DEFAULT_CONTENT_WINDOW = 86_400.0
#: Seconds done events and their deduplication keys are kept (see the module's docstring).
DEFAULT_RETENTION = 7 * 86_400.0
_ID_PREFIX = "id:"


def split_keys(keys: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An event's identity keys, and the keys to look it up by: its ids when it has any (an
    event is a duplicate of its own id alone), else its content keys."""
    ids = tuple(key for key in keys if key.startswith(_ID_PREFIX))
    return ids, ids or tuple(keys)


class SQLiteInbox:
    """The inbox in a SQLite file (WAL), safe for the threads of one process and for several
    processes on one host.

    Args:
        path: the database file (``":memory:"`` for tests that need no durability).
        clock: wall-clock seconds; tests pass a fake one.
        content_window: seconds a content key stands in for an event without an id.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        content_window: float = DEFAULT_CONTENT_WINDOW,
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._clock = clock
        self._content_window = content_window
        self._lock = threading.Lock()
        # One connection guarded by a lock: the receiver's commits are short, and SQLite
        # serialises writers anyway. check_same_thread is off because handlers finish in
        # worker threads.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        # WAL with synchronous=NORMAL: a commit survives the process dying (what "ack after
        # commit" needs); an OS crash may lose the last few, as with any WAL database.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(inbox_keys)")}
        if "at" not in columns:  # an inbox from before keys had times: old content keys lapse
            self._db.execute("ALTER TABLE inbox_keys ADD COLUMN at REAL NOT NULL DEFAULT 0")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(inbox)")}
        if "settled_at" not in columns:  # from before retention: prune by receipt time
            self._db.execute("ALTER TABLE inbox ADD COLUMN settled_at REAL")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(
        self, event_type: str, payload: bytes, keys: Sequence[str], *, source: str = "push"
    ) -> str | None:
        return self.add_many([NewEvent(event_type, payload, keys, source)])[0]

    def add_many(self, events: Sequence[NewEvent]) -> list[str | None]:
        now = self._clock()
        ids: list[str | None] = []
        with self._transaction() as db:
            for event in events:
                ids.append(self._insert(db, event, now))
        return ids

    def _insert(self, db: sqlite3.Connection, event: NewEvent, now: float) -> str | None:
        keys = tuple(dict.fromkeys(event.keys))
        ids, lookup = split_keys(keys)
        marks = ",".join("?" * len(lookup))
        if ids:
            sql = f"SELECT 1 FROM inbox_keys WHERE key IN ({marks}) LIMIT 1"
            args: tuple[Any, ...] = lookup
        else:
            sql = f"SELECT 1 FROM inbox_keys WHERE key IN ({marks}) AND at >= ? LIMIT 1"
            args = (*lookup, now - self._content_window)
        if lookup and db.execute(sql, args).fetchone():
            return None
        entry_id = uuid.uuid4().hex
        db.execute(
            "INSERT INTO inbox (id, event_type, payload, source, state, received_at, due_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (entry_id, event.event_type, event.payload, event.source, now, now),
        )
        db.executemany(
            "INSERT INTO inbox_keys (key, entry_id, at) VALUES (?, ?, ?) ON CONFLICT (key) "
            "DO UPDATE SET entry_id = excluded.entry_id, at = excluded.at",
            [(key, entry_id, now) for key in keys],
        )
        return entry_id

    def claim(self, owner: str, lease: float) -> InboxEntry | None:
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM inbox"
                " WHERE state IN ('pending', 'running') AND due_at <= ?"
                " ORDER BY due_at LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            entry = _entry(row)
            db.execute(
                "UPDATE inbox SET state = 'running', owner = ?, due_at = ?,"
                " attempts = attempts + 1 WHERE id = ?",
                (owner, now + lease, entry.id),
            )
        return InboxEntry(
            entry.id,
            entry.event_type,
            entry.payload,
            entry.source,
            "running",
            entry.attempts + 1,
            entry.received_at,
            now + lease,
            entry.last_error,
        )

    def renew(self, owner: str, ids: Sequence[str], lease: float) -> None:
        if not ids:
            return
        due = self._clock() + lease
        with self._transaction() as db:
            db.executemany(
                "UPDATE inbox SET due_at = ? WHERE id = ? AND owner = ? AND state = 'running'",
                [(due, entry_id, owner) for entry_id in ids],
            )

    def _settle(self, entry_id: str, owner: str, sql: str, args: tuple[object, ...]) -> None:
        # Only the current owner settles an event: a worker whose lease lapsed (and whose
        # event another worker took over) must not overwrite the newer outcome.
        with self._transaction() as db:
            where = " WHERE id = ? AND owner = ? AND state = 'running'"
            db.execute(sql + where, (*args, entry_id, owner))

    def complete(self, entry_id: str, owner: str) -> None:
        self._settle(
            entry_id,
            owner,
            "UPDATE inbox SET state = 'done', owner = NULL, settled_at = ?",
            (self._clock(),),
        )

    def retry(self, entry_id: str, owner: str, error: str, delay: float) -> None:
        self._settle(
            entry_id,
            owner,
            "UPDATE inbox SET state = 'pending', owner = NULL, due_at = ?, last_error = ?",
            (self._clock() + delay, error),
        )

    def fail(self, entry_id: str, owner: str, error: str) -> None:
        self._settle(
            entry_id,
            owner,
            "UPDATE inbox SET state = 'failed', owner = NULL, last_error = ?",
            (error,),
        )

    def replay(self, entry_id: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE inbox SET state = 'pending', owner = NULL, attempts = 0, due_at = ?"
                " WHERE id = ? AND state IN ('failed', 'done')",
                (self._clock(), entry_id),
            )
            return cursor.rowcount == 1

    def get(self, entry_id: str) -> InboxEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM inbox WHERE id = ?",
                (entry_id,),
            ).fetchone()
        return None if row is None else _entry(row)

    def entries(self, state: State | None = None, limit: int = 100) -> list[InboxEntry]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM inbox {where} ORDER BY received_at DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    def counts(self) -> dict[State, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall()
        counts: dict[State, int] = dict.fromkeys(STATES, 0)
        counts.update({state: int(n) for state, n in rows})
        return counts

    def next_due(self) -> float | None:
        with self._lock:
            (due,) = self._db.execute(
                "SELECT MIN(due_at) FROM inbox WHERE state IN ('pending', 'running')"
            ).fetchone()
        return None if due is None else float(due)

    def prune(self, before: float) -> Pruned:
        with self._transaction() as db:
            events = db.execute(
                "DELETE FROM inbox WHERE state = 'done' AND COALESCE(settled_at, received_at) < ?",
                (before,),
            ).rowcount
            keys = db.execute(
                "DELETE FROM inbox_keys WHERE at < ? AND entry_id NOT IN "
                "(SELECT id FROM inbox WHERE state != 'done')",
                (before,),
            ).rowcount
        return Pruned(events, keys)

    def close(self) -> None:
        with self._lock:
            self._db.close()
