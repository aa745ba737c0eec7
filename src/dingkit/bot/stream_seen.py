"""Which robot messages a Stream client has taken, by ``msgId``, kept across restarts.

Robot messages are not re-pushed by DingTalk (§8.2: fire-and-forget), yet the same message
can reach a client twice: a push repeated to another connection, or a frame read just before
a reconnect and again after it [I]. A handler answering twice would reply twice, so a
message is marked here before its handler runs (at most once: if the process dies while the
handler runs, the message is not handled again, as DingTalk would not re-send it either).

Why not the callback inbox: its keys belong to inbox entries that the dispatcher claims,
retries and settles; a robot message is handled at once by the :class:`~dingkit.bot.Bot`,
in its conversation's order, and only needs "seen before?". So one small table in its own
SQLite file in the data dir (WAL; a commit survives the process), pruned past
:data:`SEEN_RETENTION`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["SEEN_FILE", "SEEN_RETENTION", "SeenMessages"]

SEEN_FILE = "bot-stream-seen.sqlite3"
#: Seconds a msgId is remembered: a session webhook lives 90 minutes (§8.1), so no copy of a
#: message can usefully arrive a day later [I].
SEEN_RETENTION = 86_400.0
_PRUNE_EVERY = 1_000  # marks between two prunes


class SeenMessages:
    """A set of message ids in SQLite, safe for the threads of one process and for several
    processes on one host.

    Args:
        path: the database file (``":memory:"`` for tests that need no durability).
        retention: seconds an id is remembered.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        retention: float = SEEN_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.retention = retention
        self._clock = clock
        self._lock = threading.Lock()
        self._marks = 0
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at REAL NOT NULL)")
        self.prune()

    def mark(self, key: str) -> bool:
        """Remember ``key``; ``True`` the first time, ``False`` when it was seen before."""
        return self.mark_many([key])[0]

    def mark_many(self, keys: Sequence[str]) -> list[bool]:
        """Remember ``keys`` in one transaction (one commit for a burst of messages); for
        each, whether it is new (a key twice in ``keys`` is new only the first time)."""
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                fresh = [
                    self._db.execute(
                        "INSERT INTO seen (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                        (key, now),
                    ).rowcount
                    == 1
                    for key in keys
                ]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            before, self._marks = self._marks, self._marks + len(keys)
            due = before // _PRUNE_EVERY != self._marks // _PRUNE_EVERY
        if due:
            self.prune()
        return fresh

    def prune(self) -> int:
        """Forget ids older than the retention; how many."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM seen WHERE at < ?", (self._clock() - self.retention,)
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
