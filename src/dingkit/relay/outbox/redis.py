"""The relay's outbox in Redis Streams, for several relay instances sharing the work.

Guarantees:

- Every change is one Lua script, so it is atomic: a ``put`` stores its letters and its
  deduplication key together or not at all, a ``claim`` hands a letter to one caller
  only, a ``merge`` removes the originals and stores the digest claimed in one step. Lua
  rather than ``MULTI``/``EXEC`` because each step decides on what it reads (is the key
  known, which entries are due, is the letter still there): a transaction could only do
  that with ``WATCH`` and retries under contention. (Appending to the reject list decides
  nothing and is a plain ``MULTI``/``EXEC``.)
- A change has reached Redis when the method returns: a ``SIGKILL`` of the relay loses
  nothing. Whether it survives a restart *of Redis* is Redis's own durability: with AOF
  (``appendfsync everysec``: at most the last second; ``always``: nothing) it does; without
  persistence it does not (:meth:`RedisOutbox.durability_warning` says so).
- Redis errors (refused connection, timeout, out of memory, a read-only replica, a failed
  save that stops writes) raise :class:`OutboxUnavailable`, never a raw redis-py error.
- Deduplication keys are kept :data:`DEDUP_WINDOW`, recent deliveries and rejects the
  newest :data:`KEPT`; dead letters stay until replayed. Holds are shared by every instance.

Layout under ``prefix`` (one relay deployment per prefix; a single Redis, not a Cluster):

- ``q:<robot>``: a stream per robot, entries ``id=<letter id>``, with the consumer group
  ``relay``; each instance reads new entries with ``XREADGROUP`` as its own consumer
  (``host:pid``; one that holds nothing and has been idle for an hour is forgotten, so
  restarts do not pile consumers up). An entry stays in the group's pending list (PEL)
  while it is claimed or waits for a retry, and is acknowledged and deleted (``XACK``,
  ``XDEL``) once settled, so the stream's length is the robot's backlog.
- ``pending:<robot>``: a sorted set mirroring that PEL, scored by when each entry may be
  claimed again: its lease's end, a retry's ``not_before``, or 0 once released. A claim
  takes what is due there first (``XCLAIM``: an entry claimed by a crashed instance is
  taken over once its lease has passed), then new entries. Leases are kept here rather than
  in ``XAUTOCLAIM``'s idle time because the contract's leases and ``not_before`` are on the
  *relay's* clock (``now + lease``; tests and the burst benchmark drive a fake one), while
  idle time is Redis's own clock: ``due(now)`` could not agree with ``claim(now=...)``.
  So instances on several hosts need their clocks in step (NTP: a skew of a second
  against leases of tens of seconds is harmless). ``XCLAIM`` still moves the entry to the
  new claimer in the PEL, whose delivery count shows how often it was taken over.
  A retry stays in the PEL rather than being re-added, so it keeps its place in the queue.
- ``e:<id>``: a hash per letter. Its fixed fields are one JSON ``body``, written once by
  Python; what changes (``robot``, ``attempts``, ``not_before``, ``last_error``, the stream
  ``entry``) are fields of their own, so a script never decodes or re-encodes the body
  (Lua's cjson would round big numbers in a message) and a stream entry, immutable in
  Redis, need not be rewritten when a letter is retried or reassigned.
- ``dead``: dead letters by when they died; ``dedup``: deduplication keys by when taken;
  ``deliveries`` and ``rejects``: JSON lists, newest first; ``holds``: a hash robot → JSON.

A letter ``put`` with a ``not_before`` still ahead is counted by :meth:`RedisOutbox.due`
until a claim has read it (a claim then parks it until its time); letters the relay puts
are due at once.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ._codec import fixed_body, stored_letter
from ._redis_scripts import SCRIPTS
from .base import DEDUP_WINDOW, KEPT, Delivery, Hold, Letter, OutboxUnavailable, Reject

__all__ = ["RedisOutbox"]

T = TypeVar("T")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _time(seconds: float) -> str:
    """A time as the scripts take it: exact (``repr``), and a float even when given an int
    (a record of it reads back as the float it is)."""
    return repr(float(seconds))


def _letter_args(letter: Letter) -> list[Any]:
    return [
        letter.id,
        letter.robot,
        letter.route,
        fixed_body(letter),
        letter.attempts,
        _time(letter.not_before),
        json.dumps(letter.last_error),
        letter.thread,
    ]


def _letter(fields: Sequence[Any]) -> Letter:
    *stored, claimed = fields  # 'claimed' is absent (None) until a first claim
    body, robot, attempts, not_before, last_error = (_text(value) for value in stored)
    lapsed = claimed is not None and _text(claimed) == "1"  # claimed, and that claim ran out
    return stored_letter(body, robot, attempts, not_before, json.loads(last_error), lapsed=lapsed)


def _advice(error: redis.RedisError) -> str:
    text = str(error)
    if text.startswith("OOM"):
        return "Redis is out of memory (maxmemory): give it more, or drain the backlog"
    if text.startswith("READONLY"):
        return "this Redis is a read-only replica: point --redis at the primary"
    if text.startswith("MISCONF"):
        return "Redis cannot save to disk and refuses writes: check its disk and logs"
    return "check that Redis is running and reachable"


class RedisOutbox:
    """The outbox in Redis Streams, shared by every relay instance on one ``prefix``.

        >>> outbox = RedisOutbox("redis://127.0.0.1:6379/0")  # doctest: +SKIP
        >>> outbox.claim("ops", now=time.time(), lease=60, limit=20)  # doctest: +SKIP
        [Letter(id='...', robot='ops', ...)]

    Args:
        url: a Redis URL (``redis://[:password@]host:port/db``).
        prefix: what every key starts with; instances sharing it share the outbox.
        clock: the relay's clock, epoch seconds, for what has no ``now`` argument (the
            deduplication window, a reassignment's record); tests pass a fake one.
        timeout: seconds to wait for Redis (connecting, or answering) before
            :class:`OutboxUnavailable`; a webhook's sender waits meanwhile.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "dingkit:relay:",
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
    ) -> None:
        # Two quick retries ride over a dropped connection (a Redis restart) without
        # making a sender wait long when Redis is really gone; every script is safe to run
        # twice (a put skips ids it has, a merge a digest it has).
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        )
        options = self._redis.connection_pool.connection_kwargs
        self.where = options.get("path") or f"{options.get('host')}:{options.get('port')}"
        self.prefix = prefix
        self._clock = clock
        self._consumer = f"{socket.gethostname()}:{os.getpid()}"
        self._scripts = {name: self._redis.register_script(s) for name, s in SCRIPTS.items()}
        self._closed = False
        #: A consumer of the group that holds nothing and has been idle this long (Redis's
        #: clock) is forgotten by the next claim that finds nothing.
        self.forget_ms = 3_600_000

    def __repr__(self) -> str:
        return f"RedisOutbox({self.where!r}, prefix={self.prefix!r})"

    def _run(self, call: Callable[[], T]) -> T:
        if self._closed:
            raise OutboxUnavailable(
                f"the outbox on Redis {self.where} is closed (the relay is shutting down); "
                "nothing was stored"
            )
        try:
            return call()
        except redis.RedisError as exc:
            raise OutboxUnavailable(
                f"the outbox on Redis {self.where} is unavailable ({exc}): {_advice(exc)}; "
                "the relay answers 503 until then, so senders retry"
            ) from exc

    def _script(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]
        return self._run(lambda: script(args=[self.prefix, *args]))

    def durability_warning(self) -> str | None:
        """Why what the outbox holds could be lost by Redis itself, or ``None``: it evicts
        keys when full (an ``allkeys-*`` policy), or saves nothing to disk (no AOF, no
        snapshots) so that a restart empties it. ``None`` too when Redis will not say
        (``CONFIG`` disabled, as on some managed services)."""
        try:
            settings = {
                name: _text(self._redis.config_get(name).get(name, ""))
                for name in ("appendonly", "save", "maxmemory-policy")
            }
        except redis.RedisError:  # a server that will not tell: nothing to warn about for sure
            return None
        # The outbox's keys have no TTL, so only an allkeys-* policy would evict them.
        if settings["maxmemory-policy"].startswith("allkeys"):
            return (
                f"Redis evicts keys when full (maxmemory-policy {settings['maxmemory-policy']}):"
                " queued messages could silently disappear; use noeviction (or a volatile-*"
                " policy) for the relay's Redis"
            )
        if settings["appendonly"] == "yes" or settings["save"].strip():
            return None
        return (
            'Redis saves nothing to disk (appendonly no, save ""): the queued messages would '
            "be lost if Redis restarted; turn on appendonly (or RDB snapshots)"
        )

    # -- accepting --------------------------------------------------------------------------

    def put(
        self,
        letters: Sequence[Letter],
        *,
        dedup_key: str | None = None,
        dedup_for: float = DEDUP_WINDOW,
    ) -> bool:
        now = self._clock()
        # The key is scored by when it is forgotten; what is forgotten by now is dropped.
        args = [_time(now + dedup_for), dedup_key or "", _time(now), 1 if dedup_key else 0]
        for letter in letters:
            args.extend(_letter_args(letter))
        return int(self._script("put", *args)) == 1

    def reject(self, reject: Reject) -> None:
        key = f"{self.prefix}rejects"

        def append() -> None:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(key, json.dumps(asdict(reject), ensure_ascii=False))
                pipe.ltrim(key, 0, KEPT - 1)
                pipe.execute()

        self._run(append)

    def rejects(self, limit: int = 100) -> list[Reject]:
        return [Reject(**item) for item in self._newest("rejects", limit)]

    def _newest(self, name: str, limit: int) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        items = self._run(lambda: self._redis.lrange(f"{self.prefix}{name}", 0, limit - 1))
        return [json.loads(item) for item in items]

    # -- delivering -------------------------------------------------------------------------

    def backlog(self, now: float) -> dict[str, int]:
        return {robot: total for robot, (total, _) in self._counts(now).items() if total}

    def due(self, now: float) -> dict[str, int]:
        return {robot: due for robot, (_, due) in self._counts(now).items() if due}

    def _counts(self, now: float) -> dict[str, tuple[int, int]]:
        flat = self._script("counts", _time(now))
        return {
            _text(flat[i]): (int(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)
        }

    def claim(self, robot: str, *, now: float, lease: float, limit: int) -> list[Letter]:
        if limit <= 0:
            return []
        rows = self._script(
            "claim", robot, _time(now), _time(now + lease), limit, self._consumer, self.forget_ms
        )
        return sorted((_letter(row) for row in rows), key=lambda letter: letter.id)

    def delivered(self, ids: Sequence[str], *, answer: str, now: float) -> None:
        if ids:
            self._script("delivered", _time(now), json.dumps(answer), *ids)

    def retry(self, letter_id: str, *, not_before: float, error: str, now: float) -> None:
        self._script("retry", _time(now), json.dumps(error), letter_id, _time(not_before))

    def dead(self, letter_id: str, *, error: str, now: float) -> None:
        self._script("dead", _time(now), json.dumps(error), letter_id)

    def release(self, ids: Sequence[str]) -> None:
        if ids:
            self._script("release", *ids)

    def reassign(self, ids: Sequence[str], robot: str) -> None:
        if ids:
            answer = json.dumps(f"to {robot}")
            self._script("reassign", _time(self._clock()), answer, robot, *ids)

    def merge(self, ids: Sequence[str], digest: Letter, *, now: float, lease: float) -> None:
        answer = json.dumps(f"{len(dict.fromkeys(ids))} merged")
        self._script(
            "merge",
            _time(now),
            answer,
            _time(now + lease),
            self._consumer,
            *_letter_args(digest),
            *ids,
        )

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
        answer = json.dumps("superseded by a later notification of its thread")
        kept = list(keep)
        args = [_time(now), answer, robot, thread, len(kept), *kept, *covered]
        return int(self._script("supersede", *args))

    def hold(self, hold: Hold) -> None:
        body = json.dumps(asdict(hold), ensure_ascii=False)
        self._run(lambda: self._redis.hset(f"{self.prefix}holds", hold.robot, body))

    def unhold(self, robot: str) -> None:
        self._run(lambda: self._redis.hdel(f"{self.prefix}holds", robot))

    def holds(self, now: float) -> dict[str, Hold]:
        stored = self._run(lambda: self._redis.hgetall(f"{self.prefix}holds"))
        held = [Hold(**json.loads(body)) for body in stored.values()]
        return {h.robot: h for h in held if h.until is None or h.until > now}

    # -- operating --------------------------------------------------------------------------

    def recent(self, limit: int = 50) -> list[Delivery]:
        return [Delivery(**item) for item in self._newest("deliveries", limit)]

    def dead_count(self) -> int:
        return int(self._run(lambda: self._redis.zcard(f"{self.prefix}dead")))

    def dead_letters(self, limit: int = 100) -> list[Letter]:
        if limit <= 0:
            return []
        rows = self._script("dead_letters", limit)
        return [_letter(row) for row in rows]

    def replay(self, letter_id: str, *, now: float) -> bool:
        return int(self._script("replay", letter_id)) == 1

    def clear(self) -> None:
        """Delete the whole outbox under ``prefix`` (tests, or starting over)."""

        def delete() -> None:
            keys = list(self._redis.scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                self._redis.delete(*keys)

        self._run(delete)

    def close(self) -> None:
        self._closed = True
        self._redis.close()
