"""The relay's outbox in one SQLite file (WAL): the default, for one relay on one host.

Guarantees:

- Every method that changes something has committed when it returns, in one transaction:
  a ``SIGKILL`` of the relay right after loses nothing, and with ``synchronous=FULL`` (see
  :class:`SQLiteOutbox`) neither does a power cut.
- :meth:`SQLiteOutbox.claim` is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock,
  which every process on the file shares): no two claimers, threads or processes, ever
  get one letter under a lease. A lease is the ``claimed_until`` column, on the relay's
  clock; when it has passed, the letter is due again.
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

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._codec import carried_again
from ._sqlite_rows import (
    IN_OUTBOX,
    LETTER_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    Stored,
    append,
    insert,
    letter_of,
    present,
    record,
    record_json,
)
from .base import DEDUP_WINDOW, Delivery, Hold, Letter, OutboxUnavailable, Reject

__all__ = ["SCHEMA_VERSION", "SQLiteOutbox"]


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
        >>> outbox.put([letter], dedup_key="github:1f2e...")  # doctest: +SKIP
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
                for statement in SCHEMA.split(";"):
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

    def put(
        self,
        letters: Sequence[Letter],
        *,
        dedup_key: str | None = None,
        dedup_for: float = DEDUP_WINDOW,
    ) -> bool:
        now = self._clock()
        with self._transaction() as db:
            if dedup_key is not None:
                # A key's `at` is when it is forgotten (each put says how long it counts).
                db.execute("DELETE FROM dedup_keys WHERE at <= ?", (now,))
                taken = db.execute(
                    "INSERT INTO dedup_keys (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    (dedup_key, now + dedup_for),
                )
                if taken.rowcount == 0:
                    return False
            # An id already stored is the same letter put again (a caller retrying after
            # an error it could not read): kept once.
            for letter in letters:
                insert(db, letter)
        return True

    def reject(self, reject: Reject) -> None:
        with self._transaction() as db:
            append(db, "rejects", record_json(reject))

    def rejects(self, limit: int = 100) -> list[Reject]:
        return [Reject(**body) for body in self._newest("rejects", limit)]

    def _newest(self, table: str, limit: int) -> list[dict[str, Any]]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT body FROM {table} ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    # -- delivering -------------------------------------------------------------------------

    def backlog(self, now: float) -> dict[str, int]:
        return self._count_per_robot(IN_OUTBOX, ())

    def due(self, now: float) -> dict[str, int]:
        return self._count_per_robot(
            f"{IN_OUTBOX} AND claimed_until <= ? AND not_before <= ?", (now, now)
        )

    def _count_per_robot(self, where: str, args: tuple[float, ...]) -> dict[str, int]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT robot, COUNT(*) FROM letters WHERE {where} GROUP BY robot", args
            ).fetchall()
        return {str(robot): int(n) for robot, n in rows}

    def claim(self, robot: str, *, now: float, lease: float, limit: int) -> list[Letter]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT id, {LETTER_COLUMNS}, claimed_until FROM letters WHERE robot = ?"
                f" AND {IN_OUTBOX} AND claimed_until <= ? AND not_before <= ? ORDER BY id"
                " LIMIT ?",
                (robot, now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE letters SET claimed_until = ? WHERE id = ?",
                [(now + lease, row[0]) for row in rows],
            )
        # Settling and releasing set claimed_until back to 0: above 0, a claim ran out.
        return [letter_of(row[1:-1], lapsed=row[-1] > 0) for row in rows]

    def delivered(self, ids: Sequence[str], *, answer: str, now: float) -> None:
        with self._transaction() as db:
            found = present(db, ids)
            db.executemany("DELETE FROM letters WHERE id = ?", [(s.id,) for s in found])
            if found:
                carried = sum(s.carries for s in found)
                record(db, found[0], "delivered", answer, now, carried)

    def retry(self, letter_id: str, *, not_before: float, error: str, now: float) -> None:
        with self._transaction() as db:
            for stored in present(db, [letter_id]):
                db.execute(
                    "UPDATE letters SET attempts = attempts + 1, not_before = ?,"
                    " last_error = ?, claimed_until = 0 WHERE id = ?",
                    (not_before, error, letter_id),
                )
                record(db, stored, "retry", error, now, stored.carries)

    def dead(self, letter_id: str, *, error: str, now: float) -> None:
        with self._transaction() as db:
            for stored in present(db, [letter_id]):
                db.execute(
                    "UPDATE letters SET attempts = attempts + 1, last_error = ?,"
                    " claimed_until = 0, dead_at = ? WHERE id = ?",
                    (error, now, letter_id),
                )
                record(db, stored, "dead", error, now, stored.carries)

    def release(self, ids: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany(
                f"UPDATE letters SET claimed_until = 0 WHERE id = ? AND {IN_OUTBOX}",
                [(letter_id,) for letter_id in ids],
            )

    def reassign(self, ids: Sequence[str], robot: str) -> None:
        now = self._clock()
        with self._transaction() as db:
            found = present(db, ids)
            db.executemany(
                "UPDATE letters SET robot = ?, not_before = 0, claimed_until = 0 WHERE id = ?",
                [(robot, s.id) for s in found],
            )
            if found:
                record(db, found[0], "reassigned", f"to {robot}", now, len(found))

    def merge(self, ids: Sequence[str], digest: Letter, *, now: float, lease: float) -> None:
        with self._transaction() as db:
            found = [s for s in present(db, ids) if s.id != digest.id]
            db.executemany("DELETE FROM letters WHERE id = ?", [(s.id,) for s in found])
            carried = sum(s.carries for s in found) or 1
            insert(db, digest, claimed_until=now + lease, carries=carried)
            stored = Stored(digest.id, digest.robot, digest.route, carried)
            record(db, stored, "merged", f"{len(found)} merged", now, len(found))

    # -- robots held or paused --------------------------------------------------------------

    def supersede(
        self,
        robot: str,
        thread: str,
        *,
        covered: Collection[str],
        keep: Collection[str],
        now: float,
    ) -> int:
        if not thread:
            return 0
        covered, keep = set(covered), set(keep)
        dropped = 0
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT id, route, body, carries FROM letters WHERE robot = ? AND {IN_OUTBOX}"
                " AND claimed_until <= ? AND json_extract(body, '$.thread') = ?",
                (robot, now, thread),
            ).fetchall()
            oldest_kept = min(keep, default=None)
            for letter_id, route, body, carries in sorted(rows):  # oldest first
                newer = oldest_kept is not None and letter_id >= oldest_kept
                if letter_id in keep or newer or not carried_again(body, covered):
                    continue
                db.execute("DELETE FROM letters WHERE id = ?", (letter_id,))
                answer = "superseded by a later notification of its thread"
                record(
                    db,
                    Stored(letter_id, robot, route, carries),
                    "superseded",
                    answer,
                    now,
                    carries,
                )
                dropped += 1
        return dropped

    def hold(self, hold: Hold) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO holds (robot, body) VALUES (?, ?)"
                " ON CONFLICT (robot) DO UPDATE SET body = excluded.body",
                (hold.robot, record_json(hold)),
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

    def dead_count(self) -> int:
        with self._connection() as db:
            row = db.execute("SELECT COUNT(*) FROM letters WHERE dead_at IS NOT NULL").fetchone()
        return int(row[0])

    def dead_letters(self, limit: int = 100) -> list[Letter]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {LETTER_COLUMNS} FROM letters WHERE dead_at IS NOT NULL"
                " ORDER BY dead_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [letter_of(row) for row in rows]

    def replay(self, letter_id: str, *, now: float) -> bool:
        with self._transaction() as db:
            replayed = db.execute(
                "UPDATE letters SET dead_at = NULL, attempts = 0, not_before = 0,"
                " claimed_until = 0 WHERE id = ? AND dead_at IS NOT NULL",
                (letter_id,),
            )
            return replayed.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
