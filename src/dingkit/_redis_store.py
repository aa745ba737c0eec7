"""A token store in Redis: one token shared by processes and hosts, refreshed by one of them.

    >>> client = DingTalk(token_store=RedisTokenStore("redis://127.0.0.1:6379/0"))

The token lives under ``<prefix>:token:<app key>`` with a TTL of its remaining life. A refresh
takes the lock ``<prefix>:lock:<app key>`` (``SET NX PX``, released only by its owner); the
others wait for it and then read the new token instead of fetching their own. The store's
calls block (redis-py is synchronous): ``AsyncDingTalk`` makes them in worker threads and
waits for another process's lock with ``asyncio.sleep`` (see :mod:`dingkit._auth`).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._auth import LOCK_POLL
from ._exceptions import ConfigurationError
from ._token_store import AccessToken

if TYPE_CHECKING:
    import redis

__all__ = ["RedisTokenStore"]

# Release the lock only if we still own it (it may have expired and been taken by another).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Forget the token only if it is still the rejected one.
_DISCARD = """
local stored = redis.call('get', KEYS[1])
if stored and cjson.decode(stored)['value'] == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisTokenStore:
    """Tokens in Redis.

    Args:
        url: a Redis URL (``redis://host:port/db``), or pass ``client``.
        client: a ``redis.Redis`` to use.
        prefix: key prefix.
        lock_timeout: seconds after which a crashed refresher's lock expires.
        wait_timeout: how long to wait for another refresher before fetching anyway.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        prefix: str = "dingkit",
        lock_timeout: float = 10.0,
        wait_timeout: float = 15.0,
    ) -> None:
        try:
            import redis as redis_module
        except ImportError:  # pragma: no cover - redis is a declared dependency
            raise ConfigurationError("RedisTokenStore needs the 'redis' package") from None
        if client is None:
            if not url:
                raise ConfigurationError("RedisTokenStore needs url= or client=")
            client = redis_module.Redis.from_url(url)
        self.redis = client
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self.prefix!r})"

    def _token_key(self, key: str) -> str:
        return f"{self.prefix}:token:{key}"

    def _lock_key(self, key: str) -> str:
        return f"{self.prefix}:lock:{key}"

    def load(self, key: str) -> AccessToken | None:
        raw = self.redis.get(self._token_key(key))
        return AccessToken.from_json(raw) if isinstance(raw, bytes | str) else None

    def save(self, key: str, token: AccessToken) -> None:
        ttl_ms = max(int((token.expires_at - time.time()) * 1000), 1)
        self.redis.set(self._token_key(key), token.to_json(), px=ttl_ms)

    def discard(self, key: str, value: str) -> None:
        self.redis.eval(_DISCARD, 1, self._token_key(key), value)

    def try_lock(self, key: str) -> str | None:
        receipt = secrets.token_hex(16)
        taken = self.redis.set(self._lock_key(key), receipt, nx=True, px=self._lock_ms())
        return receipt if taken else None

    def unlock(self, key: str, receipt: str) -> None:
        self.redis.eval(_RELEASE, 1, self._lock_key(key), receipt)

    def _lock_ms(self) -> int:
        return max(int(self.lock_timeout * 1000), 1)

    @contextlib.contextmanager
    def refresh_lock(self, key: str) -> Iterator[None]:
        """Hold the refresh lock, waiting for it up to ``wait_timeout`` (then going on without
        it). This blocks the calling thread while it waits: for scripts and tests; the clients
        poll :meth:`try_lock` through their token flow instead."""
        deadline = time.monotonic() + self.wait_timeout
        receipt = self.try_lock(key)
        while receipt is None and time.monotonic() <= deadline:
            time.sleep(LOCK_POLL)
            receipt = self.try_lock(key)
        try:
            yield
        finally:
            if receipt is not None:
                self.unlock(key, receipt)
