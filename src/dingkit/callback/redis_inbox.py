"""The inbox in Redis, for several receivers behind a load balancer.

Every transition is one Lua script, so two receivers never both take an event, and a
deduplication key is claimed in the same step as the event is stored. Durability is Redis's
own: with AOF ``appendfsync everysec`` (or ``always``) an acknowledged event survives a Redis
restart; without persistence it survives only the receivers' restarts.

Layout under ``prefix``: ``e:<id>`` a hash per event; ``k:<key>`` the deduplication keys
(value ``<entry id>|<time taken>``); ``keys`` a sorted set of those keys by time taken (what
:meth:`RedisInbox.prune` walks); ``due`` a sorted set of claimable ids by due time (pending
ones, and running ones by lease end); ``s:<state>`` a sorted set of ids per state, by the
time they entered it. Retention is the same rule as SQLite's (see :mod:`.inbox`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from .inbox import (
    DEFAULT_CONTENT_WINDOW,
    STATES,
    InboxEntry,
    NewEvent,
    Pruned,
    State,
    split_keys,
)

__all__ = ["RedisInbox"]

_ADD = """
-- KEYS: the event's ids, then its content keys. ARGV[7]: how many ids. An event with ids is
-- a duplicate of its ids alone; one without, of its content keys taken within the content
-- window (ARGV[8] seconds, on the inbox's clock: a key's value is "<entry id>|<time>").
local p, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ids, window = tonumber(ARGV[7]), tonumber(ARGV[8])
if ids > 0 then
  for i = 1, ids do
    if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
  end
else
  for i = 1, #KEYS do
    local taken = redis.call('GET', KEYS[i])
    local at = taken and tonumber(string.match(taken, '|(.*)$'))
    if at and now - at < window then return 0 end
  end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], id .. '|' .. ARGV[3])
  redis.call('ZADD', p .. 'keys', ARGV[3], KEYS[i])
end
redis.call('HSET', p .. 'e:' .. id, 'event_type', ARGV[4], 'payload', ARGV[5],
  'source', ARGV[6], 'state', 'pending', 'attempts', 0, 'received_at', ARGV[3],
  'due_at', ARGV[3])
redis.call('ZADD', p .. 'due', ARGV[3], id)
redis.call('ZADD', p .. 's:pending', ARGV[3], id)
return 1
"""

_CLAIM = """
local p, now, owner, lease = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', now, 'LIMIT', 0, 1)
if #ids == 0 then return false end
local id = ids[1]
local key = p .. 'e:' .. id
local state = redis.call('HGET', key, 'state')
redis.call('ZREM', p .. 's:' .. state, id)
redis.call('ZADD', p .. 's:running', now, id)
redis.call('ZADD', p .. 'due', now + lease, id)
redis.call('HSET', key, 'state', 'running', 'owner', owner, 'due_at', now + lease)
redis.call('HINCRBY', key, 'attempts', 1)
return {id, unpack(redis.call('HGETALL', key))}
"""

_RENEW = """
local p, owner, due = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local key = p .. 'e:' .. ARGV[i]
  local mine = redis.call('HGET', key, 'owner') == owner
  if mine and redis.call('HGET', key, 'state') == 'running' then
    redis.call('ZADD', p .. 'due', due, ARGV[i])
    redis.call('HSET', key, 'due_at', due)
  end
end
return 1
"""

# ARGV: prefix, id, owner, new state, now, due (pending only), error (or '')
_SETTLE = """
local p, id, owner, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, due, err = ARGV[5], ARGV[6], ARGV[7]
local key = p .. 'e:' .. id
if redis.call('HGET', key, 'owner') ~= owner or redis.call('HGET', key, 'state') ~= 'running' then
  return 0
end
redis.call('ZREM', p .. 's:running', id)
redis.call('ZADD', p .. 's:' .. state, now, id)
redis.call('HSET', key, 'state', state, 'owner', '')
if err ~= '' then redis.call('HSET', key, 'last_error', err) end
if state == 'pending' then
  redis.call('ZADD', p .. 'due', due, id)
  redis.call('HSET', key, 'due_at', due)
else
  redis.call('ZREM', p .. 'due', id)
end
return 1
"""

_REPLAY = """
local p, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = p .. 'e:' .. id
local state = redis.call('HGET', key, 'state')
if state ~= 'failed' and state ~= 'done' then return 0 end
redis.call('ZREM', p .. 's:' .. state, id)
redis.call('ZADD', p .. 's:pending', now, id)
redis.call('ZADD', p .. 'due', now, id)
redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'due_at', now, 'owner', '')
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry_id: str, fields: dict[str, Any]) -> InboxEntry:
    error = _text(fields.get("last_error", b"")) or None
    payload = fields["payload"]
    return InboxEntry(
        entry_id,
        _text(fields["event_type"]),
        payload if isinstance(payload, bytes) else str(payload).encode(),
        _text(fields["source"]),
        cast(State, _text(fields["state"])),
        int(_text(fields["attempts"])),
        float(_text(fields["received_at"])),
        float(_text(fields["due_at"])),
        error,
    )


# ARGV: prefix, before, batch. Done events settled before `before`; keys taken before it
# whose event is done or gone (a failed or in-flight event's keys are re-armed: looked at
# again a retention later). Returns {events, keys, looked at}.
_PRUNE = """
local p, before, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local events, keys = 0, 0
local done = redis.call('ZRANGEBYSCORE', p .. 's:done', '-inf', '(' .. before, 'LIMIT', 0, batch)
for _, id in ipairs(done) do
  redis.call('DEL', p .. 'e:' .. id)
  redis.call('ZREM', p .. 's:done', id)
  events = events + 1
end
local old = redis.call('ZRANGEBYSCORE', p .. 'keys', '-inf', '(' .. before, 'LIMIT', 0, batch)
for _, key in ipairs(old) do
  local taken = redis.call('GET', key)
  local entry = taken and string.match(taken, '^(.*)|')
  local state = entry and redis.call('HGET', p .. 'e:' .. entry, 'state')
  if state and state ~= 'done' then
    redis.call('ZADD', p .. 'keys', ARGV[4], key)
  else
    redis.call('DEL', key)
    redis.call('ZREM', p .. 'keys', key)
    keys = keys + 1
  end
end
return {events, keys, #done + #old}
"""


class RedisInbox:
    """The inbox in Redis.

    Args:
        redis: a ``redis.Redis`` client (bytes responses, i.e. ``decode_responses=False``).
        name: the inbox's name; receivers that share one name share the inbox.
        content_window: seconds a content key stands in for an event without an id (see
            :mod:`.inbox`).
    """

    def __init__(
        self,
        redis: Any,
        *,
        name: str = "default",
        clock: Callable[[], float] = time.time,
        content_window: float = DEFAULT_CONTENT_WINDOW,
    ) -> None:
        self._redis = redis
        self.prefix = f"dingkit:callback-inbox:{name}:"
        self._content_window = max(1, int(content_window))
        self._clock = clock
        self._add = redis.register_script(_ADD)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._settle_script = redis.register_script(_SETTLE)
        self._replay = redis.register_script(_REPLAY)
        self._prune = redis.register_script(_PRUNE)

    def durability_warning(self) -> str | None:
        """Why an acknowledged event would not survive a Redis restart, or ``None``: Redis
        saves nothing to disk (no AOF, no RDB snapshots). ``None`` too when Redis will not
        say (``CONFIG`` disabled, as on some managed services)."""
        try:
            appendonly = self._redis.config_get("appendonly").get("appendonly")
            save = self._redis.config_get("save").get("save")
        except Exception:  # a server that will not tell: nothing to warn about for sure
            return None
        if _setting(appendonly) == "yes" or _setting(save).strip():
            return None
        return (
            'Redis saves nothing to disk (appendonly no, save ""): an acknowledged event '
            "would be lost if Redis restarted; turn on appendonly (or RDB snapshots)"
        )

    def add(
        self, event_type: str, payload: bytes, keys: Sequence[str], *, source: str = "push"
    ) -> str | None:
        return self.add_many([NewEvent(event_type, payload, keys, source)])[0]

    def add_many(self, events: Sequence[NewEvent]) -> list[str | None]:
        # One round trip for the lot; each script is still atomic on its own, and a later
        # event sees the keys an earlier one of the same batch took.
        pipe = self._redis.pipeline(transaction=False)
        ids, now = [uuid.uuid4().hex for _ in events], repr(self._clock())
        for entry_id, event in zip(ids, events, strict=True):
            keys = tuple(dict.fromkeys(event.keys))
            identities, _ = split_keys(keys)
            ordered = [*identities, *(key for key in keys if key not in identities)]
            self._add(
                keys=[f"{self.prefix}k:{key}" for key in ordered],
                args=[
                    self.prefix,
                    entry_id,
                    now,
                    event.event_type,
                    event.payload,
                    event.source,
                    len(identities),
                    self._content_window,
                ],
                client=pipe,
            )
        stored = pipe.execute()
        return [
            entry_id if int(ok) == 1 else None for entry_id, ok in zip(ids, stored, strict=True)
        ]

    def claim(self, owner: str, lease: float) -> InboxEntry | None:
        reply = self._claim(args=[self.prefix, repr(self._clock()), owner, repr(lease)])
        if not reply:
            return None
        entry_id, flat = _text(reply[0]), reply[1:]
        fields = {_text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
        return _entry(entry_id, fields)

    def renew(self, owner: str, ids: Sequence[str], lease: float) -> None:
        if ids:
            self._renew(args=[self.prefix, owner, repr(self._clock() + lease), *ids])

    def _settle(
        self, entry_id: str, owner: str, state: State, error: str = "", delay: float = 0.0
    ) -> None:
        now = self._clock()
        self._settle_script(
            args=[self.prefix, entry_id, owner, state, repr(now), repr(now + delay), error]
        )

    def complete(self, entry_id: str, owner: str) -> None:
        self._settle(entry_id, owner, "done")

    def retry(self, entry_id: str, owner: str, error: str, delay: float) -> None:
        self._settle(entry_id, owner, "pending", error, delay)

    def fail(self, entry_id: str, owner: str, error: str) -> None:
        self._settle(entry_id, owner, "failed", error)

    def replay(self, entry_id: str) -> bool:
        return int(self._replay(args=[self.prefix, entry_id, repr(self._clock())])) == 1

    def get(self, entry_id: str) -> InboxEntry | None:
        fields = self._redis.hgetall(f"{self.prefix}e:{entry_id}")
        if not fields:
            return None
        return _entry(entry_id, {_text(k): v for k, v in fields.items()})

    def entries(self, state: State | None = None, limit: int = 100) -> list[InboxEntry]:
        states = (state,) if state else STATES
        ids: list[tuple[float, str]] = []
        for name in states:
            for member, score in self._redis.zrevrange(
                f"{self.prefix}s:{name}", 0, limit - 1, withscores=True
            ):
                ids.append((float(score), _text(member)))
        found = [self.get(entry_id) for _, entry_id in sorted(ids, reverse=True)[:limit]]
        entries = [entry for entry in found if entry is not None]
        return sorted(entries, key=lambda entry: entry.received_at, reverse=True)

    def counts(self) -> dict[State, int]:
        pipe = self._redis.pipeline(transaction=False)
        for state in STATES:
            pipe.zcard(f"{self.prefix}s:{state}")
        return {state: int(n) for state, n in zip(STATES, pipe.execute(), strict=True)}

    def next_due(self) -> float | None:
        first = self._redis.zrange(f"{self.prefix}due", 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def prune(self, before: float) -> Pruned:
        events = keys = 0
        now = repr(self._clock())
        while True:  # in batches, so that no one script holds Redis for long
            removed, dropped, seen = self._prune(args=[self.prefix, repr(before), 500, now])
            events, keys = events + int(removed), keys + int(dropped)
            if int(seen) < 500:
                return Pruned(events, keys)

    def clear(self) -> None:
        """Delete the whole inbox (tests, or starting over)."""
        keys = list(self._redis.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self._redis.delete(*keys)

    def close(self) -> None:
        self._redis.close()


def _setting(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
