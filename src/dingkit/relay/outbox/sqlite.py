"""The relay's outbox in one SQLite file (WAL): the default, for one relay on one host.

Guarantees:

- Every method that changes something has committed when it returns, in one transaction:
  a ``SIGKILL`` of the relay right after loses nothing, and with ``synchronous=FULL`` (see
  :class:`SQLiteOutbox`) neither does a power cut.
- :meth:`SQLiteOutbox.claim` is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock,
  which every process on the file shares): no two claimers, threads or processes, ever
  get one envelope under a lease. A lease is the ``claimed_until`` column, on the relay's
  clock; when it has passed, the envelope is due again.
- Safe for the threads of one process (one connection behind a lock: the server calls in
  through ``asyncio.to_thread``) and for several processes on one file (they wait for each
  other's write lock up to ``busy_timeout``).
- Storage that cannot be used (a full disk, a read-only file, a lock held for longer than
  ``busy_timeout``, the outbox closed) raises :class:`OutboxUnavailable` saying what and
  what to do, never a raw ``sqlite3`` error.
- Deduplication keys are kept :data:`DEDUP_WINDOW`; recent deliveries and rejects the
  newest :data:`KEPT`; both pruned as new ones are written. Dead letters stay until
  replayed: they wait for a person.

The schema's version is SQLite's ``user_version``; a file from a newer dingkit is refused
rather than misread.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .base import (
    DEDUP_WINDOW,
    KEPT,
    Delivery,
    Envelope,
    Hold,
    OutboxUnavailable,
    Outcome,
    Reject,
)

__all__ = ["SCHEMA_VERSION", "SQLiteOutbox"]

SCHEMA_VERSION = 1

# An envelope's fixed fields are one JSON ``body``; what changes while it waits has columns.
# ``dead_at`` NULL: in the outbox; set: a dead letter. ``carries``: envelopes a digest
# stands for (1 for an ordinary one), for the recorded delivery.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS envelopes (
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
CREATE INDEX IF NOT EXISTS envelopes_queue ON envelopes (robot, id) WHERE dead_at IS NULL;
CREATE INDEX IF NOT EXISTS envelopes_dead ON envelopes (dead_at) WHERE dead_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS dedup_keys (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dedup_keys_at ON dedup_keys (at);
CREATE TABLE IF NOT EXISTS deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejects (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holds (robot TEXT PRIMARY KEY, body TEXT NOT NULL);
PRAGMA user_version = {SCHEMA_VERSION};
"""

_MUTABLE = ("robot", "attempts", "not_before", "last_error")
_ENVELOPE_COLUMNS = "body, robot, attempts, not_before, last_error"
_IN_OUTBOX = "dead_at IS NULL"


def _body(envelope: Envelope) -> str:
    fixed = {k: v for k, v in envelope.to_json().items() if k not in _MUTABLE}
    return json.dumps(fixed, ensure_ascii=False, separators=(",", ":"))


def _envelope(row: Sequence[Any]) -> Envelope:
    body, robot, attempts, not_before, last_error = row
    return Envelope.from_json(
        {
            **json.loads(body),
            "robot": robot,
            "attempts": int(attempts),
            "not_before": float(not_before),
            "last_error": last_error,
        }
    )


def _json(record: Delivery | Reject | Hold) -> str:
    return json.dumps(dataclasses.asdict(record), ensure_ascii=False)


def _unavailable(error: sqlite3.Error, path: str, busy_timeout: float) -> OutboxUnavailable:
    """What went wrong with the file, in words an operator can act on."""
    text = str(error)
    lowered = text.lower()
    if isinstance(error, sqlite3.ProgrammingError) and "closed" in lowered:
        what = f"the outbox {path} is closed (the relay is shutting down); nothing was stored"
    elif "full" in lowered:
        what = f"the disk holding the outbox {path} is full ({text}): free some space"
    elif "readonly" in lowered or "read-only" in lowered:
        what = f"the outbox {path} is read-only ({text}): give the relay write access to it"
    elif "locked" in lowered or "busy" in lowered:
        what = (
            f"the outbox {path} stayed locked by another process for more than "
            f"{busy_timeout:g} s ({text}): is another program holding it open?"
        )
    elif "unable to open" in lowered:
        what = f"cannot open the outbox {path} ({text}): check the data directory"
    else:
        what = f"the outbox {path} cannot be used ({text}): check the disk and the file"
    return OutboxUnavailable(f"{what}; the relay answers 503 until then, so senders retry")


class SQLiteOutbox:
    """The outbox in a SQLite file.

        >>> outbox = SQLiteOutbox(data_dir / "relay-outbox.sqlite3")  # doctest: +SKIP
        >>> outbox.put([envelope], dedup_key="github:1f2e...")  # doctest: +SKIP
        True

    Args:
        path: the database file (its directory is created); ``":memory:"`` for tests that
            need no durability.
        clock: the relay's clock, epoch seconds, for what has no ``now`` argument (the
            deduplication window, a reassignment's record); tests pass a fake one.
        busy_timeout: seconds to wait for another process's write lock before giving up
            with :class:`OutboxUnavailable`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # One connection behind a lock: commits are short and SQLite serialises writers
            # anyway. check_same_thread is off because calls come from to_thread's workers.
            self._db = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is fsynced before put returns. The relay acknowledges a webhook
            # once put returns, and senders never resend an acknowledged one, so a commit
            # must outlive a power cut too, not only SIGKILL (which NORMAL would survive as
            # well: the WAL is in the OS's cache). NORMAL would fsync only at checkpoints, and
            # a power cut could roll back the last acknowledged alerts.
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except OSError as exc:
            raise OutboxUnavailable(
                f"cannot create the outbox {self.path} ({exc}): check the data directory; "
                "the relay cannot accept webhooks without it"
            ) from exc
        except sqlite3.Error as exc:
            raise _unavailable(exc, self.path, busy_timeout) from exc

    def _migrate(self) -> None:
        with self._transaction() as db:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise OutboxUnavailable(
                    f"the outbox {self.path} was written by a newer dingkit (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}): upgrade dingkit, or use another "
                    "--data-dir"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise _unavailable(exc, self.path, self._busy_timeout) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at BEGIN: a claim's read and update are one step
        # for every process on the file, not only for this one's threads.
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # a failed COMMIT on a full disk may have ended it
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- accepting --------------------------------------------------------------------------

    def put(self, envelopes: Sequence[Envelope], *, dedup_key: str | None = None) -> bool:
        now = self._clock()
        with self._transaction() as db:
            if dedup_key is not None:
                db.execute("DELETE FROM dedup_keys WHERE at <= ?", (now - DEDUP_WINDOW,))
                taken = db.execute(
                    "INSERT INTO dedup_keys (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    (dedup_key, now),
                )
                if taken.rowcount == 0:
                    return False
            # An id already stored is the same envelope put again (a caller retrying after
            # an error it could not read): kept once.
            db.executemany(
                "INSERT INTO envelopes (id, robot, route, body, attempts, not_before,"
                " last_error) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                [
                    (e.id, e.robot, e.route, _body(e), e.attempts, e.not_before, e.last_error)
                    for e in envelopes
                ],
            )
        return True

    def reject(self, reject: Reject) -> None:
        with self._transaction() as db:
            self._append(db, "rejects", _json(reject))

    def rejects(self, limit: int = 100) -> list[Reject]:
        return [Reject(**body) for body in self._newest("rejects", limit)]

    @staticmethod
    def _append(db: sqlite3.Connection, table: str, body: str) -> None:
        seq = db.execute(f"INSERT INTO {table} (body) VALUES (?)", (body,)).lastrowid
        db.execute(f"DELETE FROM {table} WHERE seq <= ?", (int(seq or 0) - KEPT,))

    def _newest(self, table: str, limit: int) -> list[dict[str, Any]]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT body FROM {table} ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    # -- delivering -------------------------------------------------------------------------

    def backlog(self, now: float) -> dict[str, int]:
        return self._count_per_robot(_IN_OUTBOX, ())

    def due(self, now: float) -> dict[str, int]:
        return self._count_per_robot(
            f"{_IN_OUTBOX} AND claimed_until <= ? AND not_before <= ?", (now, now)
        )

    def _count_per_robot(self, where: str, args: tuple[float, ...]) -> dict[str, int]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT robot, COUNT(*) FROM envelopes WHERE {where} GROUP BY robot", args
            ).fetchall()
        return {str(robot): int(n) for robot, n in rows}

    def claim(self, robot: str, *, now: float, lease: float, limit: int) -> list[Envelope]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT id, {_ENVELOPE_COLUMNS} FROM envelopes WHERE robot = ? AND {_IN_OUTBOX}"
                " AND claimed_until <= ? AND not_before <= ? ORDER BY id LIMIT ?",
                (robot, now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE envelopes SET claimed_until = ? WHERE id = ?",
                [(now + lease, row[0]) for row in rows],
            )
        return [_envelope(row[1:]) for row in rows]

    def delivered(self, ids: Sequence[str], *, answer: str, now: float) -> None:
        with self._transaction() as db:
            found = self._present(db, ids)
            if not found:
                return
            db.executemany("DELETE FROM envelopes WHERE id = ?", [(row[0],) for row in found])
            carried = sum(int(row[3]) for row in found)
            self._record(db, found[0], "delivered", answer, now, carried)

    def retry(self, envelope_id: str, *, not_before: float, error: str, now: float) -> None:
        with self._transaction() as db:
            for row in self._present(db, [envelope_id]):
                db.execute(
                    "UPDATE envelopes SET attempts = attempts + 1, not_before = ?,"
                    " last_error = ?, claimed_until = 0 WHERE id = ?",
                    (not_before, error, envelope_id),
                )
                self._record(db, row, "retry", error, now, int(row[3]))

    def dead(self, envelope_id: str, *, error: str, now: float) -> None:
        with self._transaction() as db:
            for row in self._present(db, [envelope_id]):
                db.execute(
                    "UPDATE envelopes SET attempts = attempts + 1, last_error = ?,"
                    " claimed_until = 0, dead_at = ? WHERE id = ?",
                    (error, now, envelope_id),
                )
                self._record(db, row, "dead", error, now, int(row[3]))

    def release(self, ids: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                f"UPDATE envelopes SET claimed_until = 0 WHERE id = ? AND {_IN_OUTBOX}",
                [(envelope_id,) for envelope_id in ids],
            )

    def reassign(self, ids: Sequence[str], robot: str) -> None:
        now = self._clock()
        with self._transaction() as db:
            found = self._present(db, ids)
            if not found:
                return
            db.executemany(
                "UPDATE envelopes SET robot = ?, not_before = 0, claimed_until = 0 WHERE id = ?",
                [(robot, row[0]) for row in found],
            )
            self._record(db, found[0], "reassigned", f"to {robot}", now, len(found))

    def merge(self, ids: Sequence[str], digest: Envelope, *, now: float, lease: float) -> None:
        with self._transaction() as db:
            found = self._present(db, ids)
            db.executemany("DELETE FROM envelopes WHERE id = ?", [(row[0],) for row in found])
            carried = sum(int(row[3]) for row in found) or 1
            db.execute(
                "INSERT INTO envelopes (id, robot, route, body, attempts, not_before,"
                " last_error, claimed_until, carries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (
                    digest.id,
                    digest.robot,
                    digest.route,
                    _body(digest),
                    digest.attempts,
                    digest.not_before,
                    digest.last_error,
                    now + lease,
                    carried,
                ),
            )
            digest_row = (digest.id, digest.robot, digest.route, carried)
            self._record(db, digest_row, "merged", f"{len(found)} merged", now, len(found))

    @staticmethod
    def _present(db: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """``(id, robot, route, carries)`` of those of ``ids`` still in the outbox, in the
        order given (settling skips what is gone: see the contract)."""
        rows = []
        for envelope_id in dict.fromkeys(ids):
            row = db.execute(
                f"SELECT id, robot, route, carries FROM envelopes WHERE id = ? AND {_IN_OUTBOX}",
                (envelope_id,),
            ).fetchone()
            if row is not None:
                rows.append(tuple(row))
        return rows

    def _record(
        self,
        db: sqlite3.Connection,
        row: Sequence[Any],
        outcome: Outcome,
        answer: str,
        now: float,
        merged: int,
    ) -> None:
        envelope_id, robot, route = row[0], row[1], row[2]
        self._append(
            db,
            "deliveries",
            _json(Delivery(envelope_id, robot, route, outcome, answer, now, merged)),
        )

    # -- robots held or paused --------------------------------------------------------------

    def hold(self, hold: Hold) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO holds (robot, body) VALUES (?, ?)"
                " ON CONFLICT (robot) DO UPDATE SET body = excluded.body",
                (hold.robot, _json(hold)),
            )

    def unhold(self, robot: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM holds WHERE robot = ?", (robot,))

    def holds(self, now: float) -> dict[str, Hold]:
        with self._connection() as db:
            rows = db.execute("SELECT body FROM holds").fetchall()
        held = [Hold(**json.loads(body)) for (body,) in rows]
        return {h.robot: h for h in held if h.until is None or h.until > now}

    # -- operating --------------------------------------------------------------------------

    def recent(self, limit: int = 50) -> list[Delivery]:
        return [Delivery(**body) for body in self._newest("deliveries", limit)]

    def dead_letters(self, limit: int = 100) -> list[Envelope]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_ENVELOPE_COLUMNS} FROM envelopes WHERE dead_at IS NOT NULL"
                " ORDER BY dead_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_envelope(row) for row in rows]

    def replay(self, envelope_id: str, *, now: float) -> bool:
        with self._transaction() as db:
            replayed = db.execute(
                "UPDATE envelopes SET dead_at = NULL, attempts = 0, not_before = 0,"
                " claimed_until = 0 WHERE id = ? AND dead_at IS NOT NULL",
                (envelope_id,),
            )
            return replayed.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
