"""Rate-limit windows in Redis, shared by processes on every host that uses the same Redis.

    >>> robot = Robot(token="...", rate_limit=RedisRateLimitStore("redis://127.0.0.1:6379/0"))

Each window is a sorted set ``<prefix>:ratelimit:<key>`` of the slots it granted (score = the
slot's time, reservations in the future included), kept until its last slot has left the
window. One Lua script takes a slot, so however many clients ask at once, Redis hands each its
own. The robot client names windows by a hash of the robot's token, never the token itself.

Times are Redis's own clock (``TIME``), so hosts whose clocks disagree still share one window.
The calls block (redis-py is synchronous): ``AsyncRobot`` makes them in a worker thread.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._exceptions import APIConnectionError, ConfigurationError
from ._ratelimit import Clock

if TYPE_CHECKING:
    import redis

__all__ = ["RedisRateLimitStore"]

# The steps of dingkit._ratelimit.take_slot, inside Redis so that they are atomic.
# KEYS[1]: the window. ARGV: limit, period, now ('' = Redis's clock), wait (1/0), a unique
# member name. Returns the delay as a string (Redis would truncate a Lua number to an integer).
_TAKE = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  if redis.replicate_commands then redis.replicate_commands() end
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
local slot = now
if count >= limit then
  local back = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  slot = math.max(now, tonumber(back[2]) + period)
elseif count > 0 then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  slot = math.max(now, tonumber(last[2]))
end
if slot > now and ARGV[4] ~= '1' then
  return tostring(slot - now)
end
redis.call('ZADD', KEYS[1], slot, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + period) * 1000))
return tostring(slot - now)
"""


def _where(url: str | None) -> str:
    """Host and port of a Redis URL, without the password it may hold."""
    if not url:
        return "Redis"
    parts = urlsplit(url)
    return f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"


class RedisRateLimitStore:
    """Rate-limit windows in Redis.

    Args:
        url: a Redis URL (``redis://host:port/db``), or pass ``client``.
        client: a ``redis.Redis`` to use.
        prefix: key prefix.
        clock: seconds to use instead of Redis's clock (tests).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "dingkit",
        clock: Clock | None = None,
    ) -> None:
        try:
            import redis as redis_module
        except ImportError:  # pragma: no cover - redis is a declared dependency
            raise ConfigurationError("RedisRateLimitStore needs the 'redis' package") from None
        if client is None:
            if not url:
                raise ConfigurationError("RedisRateLimitStore needs url= or client=")
            try:
                client = redis_module.Redis.from_url(
                    url, socket_connect_timeout=3, socket_timeout=10
                )
            except ValueError as error:
                raise ConfigurationError(f"not a Redis URL: {error}") from None
        self.redis = client
        self.prefix = prefix
        self.clock = clock
        self._where = _where(url)
        self._errors: tuple[type[Exception], ...] = (redis_module.RedisError,)
        self._script = client.register_script(_TAKE)

    def __repr__(self) -> str:
        return f"RedisRateLimitStore(prefix={self.prefix!r})"

    def key(self, key: str) -> str:
        """The Redis key of window ``key``."""
        return f"{self.prefix}:ratelimit:{key}"

    def reserve(self, key: str, limit: int, period: float) -> float:
        return self._take(key, limit, period, wait=True)

    def try_acquire(self, key: str, limit: int, period: float) -> float:
        return self._take(key, limit, period, wait=False)

    def _take(self, key: str, limit: int, period: float, *, wait: bool) -> float:
        now = "" if self.clock is None else repr(self.clock())
        args: list[str | int] = [
            limit,
            repr(float(period)),
            now,
            "1" if wait else "0",
            secrets.token_hex(8),
        ]
        try:
            answer = self._script(keys=[self.key(key)], args=args)
        except self._errors as error:
            raise APIConnectionError(
                f"could not reach {self._where} to take a rate-limit slot (nothing was sent): "
                f"{type(error).__name__}: {error}",
                setting="DINGKIT_REDIS_URL",
            ) from None
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return max(float(text), 0.0)
