"""The sandbox's apps at run time: access tokens, failure modes and the per-app QPS limit.
No I/O; the clock is injected, so tests move time instead of waiting.

Tokens follow §1.1/§1.2: one token per app at a time, valid ``ttl`` seconds; asking again while
it is valid returns the same token and extends its life; after expiry a new one is issued. Both
token endpoints share it, and it works for both API families.

An app key's prefix selects a failure mode (:class:`FailureMode`). For ``expired-`` apps a
token works for exactly one API call and is dead afterwards, so a client's
refresh-on-40014-and-retry-once path runs on every call after the first (an always-dead token
would test only the give-up path, which a wrong token tests as well).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..._ratelimit import Clock, LimiterRegistry
from ..config import AppConfig

__all__ = ["AppGuard", "FailureMode", "IssuedToken", "TokenIssuer", "failure_mode"]


class FailureMode(StrEnum):
    """What an app whose key starts with ``<value>-`` gets on every API call."""

    EXPIRED = "expired"  # each token works for one call, then 40014 / 400 InvalidAuthentication
    THROTTLED = "throttled"  # 90018 / 403 Forbidden.AccessDenied.QpsLimitForAppkeyAndApi
    BUSY = "busy"  # -1 系统繁忙 / HTTP 503
    SLOW = "slow"  # the answer comes after the configured delay
    FLAKY = "flaky"  # the 1st, 3rd, 5th... call fails as BUSY does; the others succeed


def failure_mode(app_key: str) -> FailureMode | None:
    """The failure mode an app key selects, if any."""
    prefix, dash, _ = app_key.partition("-")
    if not dash:
        return None
    try:
        return FailureMode(prefix)
    except ValueError:
        return None


@dataclass(slots=True)
class IssuedToken:
    token: str
    app: AppConfig
    expires_at: float
    uses: int = 0


class TokenIssuer:
    """Issues and checks access tokens, and counts token requests per app.

    Args:
        clock: wall-clock seconds.
        ttl: token lifetime in seconds.
    """

    def __init__(self, *, clock: Clock, ttl: int) -> None:
        self.clock = clock
        self.ttl = ttl
        self.requests: Counter[str] = Counter()  # app name -> token requests (any outcome)
        self.issued: Counter[str] = Counter()  # app name -> distinct tokens issued
        self.unknown = 0  # requests naming no known app
        self._by_token: dict[str, IssuedToken] = {}
        self._by_app: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def count_request(self, app: AppConfig) -> None:
        with self._lock:
            self.requests[app.name] += 1

    def count_unknown(self) -> None:
        with self._lock:
            self.unknown += 1

    def summary(self) -> dict[str, Any]:
        """Token requests per app name, tokens issued per app name, and the totals."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "issued": dict(self.issued),
                "unknown_app_requests": self.unknown,
                "total": sum(self.requests.values()) + self.unknown,
            }

    def issue(self, app: AppConfig) -> IssuedToken:
        """The app's valid token with its life extended, or a new one."""
        with self._lock:
            now = self.clock()
            current = self._by_app.get(app.app_key)
            if current is not None and current.expires_at > now:
                current.expires_at = now + self.ttl
                return current
            if current is not None:
                del self._by_token[current.token]
            # Real tokens are 32 hex digits.
            fresh = IssuedToken(secrets.token_hex(16), app, now + self.ttl)
            self._by_app[app.app_key] = fresh
            self._by_token[fresh.token] = fresh
            self.issued[app.name] += 1
            return fresh

    def use(self, token: str) -> AppConfig | None:
        """The app a token belongs to, if the token is valid now; counts one use of it."""
        with self._lock:
            issued = self._by_token.get(token)
            if issued is None or issued.expires_at <= self.clock():
                return None
            issued.uses += 1
            if failure_mode(issued.app.app_key) is FailureMode.EXPIRED:
                issued.expires_at = self.clock()  # dead after this call
            return issued.app

    def expire_all(self) -> int:
        """Expire every token now (the next call answers 40014); returns how many."""
        with self._lock:
            now, live = self.clock(), 0
            for issued in self._by_token.values():
                if issued.expires_at > now:
                    issued.expires_at = now
                    live += 1
            return live

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.issued.clear()
            self.unknown = 0


class AppGuard:
    """Per-app state checked on every API call: the per-app per-API QPS window (§9.3) and
    the call counter of ``flaky-`` apps.

    Args:
        clock: wall-clock seconds.
        qps: calls allowed per app per API in any 1-second window; 0 switches it off.
    """

    def __init__(self, *, clock: Clock, qps: int) -> None:
        self.qps = qps
        self._windows = LimiterRegistry(qps, 1.0, clock=clock) if qps > 0 else None
        self._flaky_calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def over_qps(self, app_key: str, api_path: str) -> bool:
        """Take a slot in the app's window for this API; ``True`` when none is free."""
        if self._windows is None:
            return False
        return self._windows.window(f"{app_key} {api_path}").try_acquire() > 0

    def flaky_fails(self, app_key: str) -> bool:
        """Count a call of a ``flaky-`` app; ``True`` for the 1st, 3rd, 5th... call."""
        with self._lock:
            self._flaky_calls[app_key] += 1
            return self._flaky_calls[app_key] % 2 == 1
