"""Access tokens: fetching, caching, refreshing before expiry, one fetch however many ask.

The decisions (is the cached token still good? which endpoint? what did it answer?) live here
once; the clients supply the I/O. The flow is a generator that yields the token request and
receives its answer, driven by a sync and an async driver that also hold the single-flight
lock (httpx's ``auth_flow`` shape).

Stores (where a token is kept between fetches) are pluggable: memory (default), a file (the
CLI: consecutive commands reuse one token), Redis (shared by processes and hosts, with a lock
so that only one of them refreshes). The token never appears in reprs, logs or errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ._errcodes import info_for_error
from ._exceptions import APIError
from ._request import APIRequest, Endpoint

__all__ = [
    "NEW_TOKEN",
    "OLD_TOKEN",
    "AccessToken",
    "FileTokenStore",
    "MemoryTokenStore",
    "TokenManager",
    "TokenStore",
    "is_token_rejection",
]

#: DingTalk tokens live 7200 s (§1); used when an answer omits ``expireIn`` or sends 0, so a
#: bad answer cannot turn into a refresh on every call.
DEFAULT_LIFETIME = 7200.0
#: Refresh this long before expiry, as DingTalk's calling guide suggests (§1.2).
REFRESH_MARGIN = 600.0

TokenEndpoint = Literal["new", "old"]

# The two token endpoints (§1.1 old, §1.2 new): no access token, no permission point, exempt
# from the monthly quota (§9.3).
OLD_TOKEN = Endpoint("GET", "/gettoken", auth=False, param_error=40035, quota_exempt=True)
NEW_TOKEN = Endpoint("POST", "/v1.0/oauth2/accessToken", auth=False, quota_exempt=True)


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token and when it expires (seconds since the epoch)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(value='***', expires_at={self.expires_at!r})"

    def fresh(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """Good for use now: not within ``margin`` seconds of expiry."""
        return now < self.expires_at - margin

    def to_json(self) -> str:
        return json.dumps({"value": self.value, "expires_at": self.expires_at})

    @classmethod
    def from_json(cls, text: str | bytes) -> AccessToken | None:
        try:
            data = json.loads(text)
            return cls(str(data["value"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a missing one: fetch again


def _lifetime(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME


def token_request(
    app_key: str, app_secret: str, endpoint: TokenEndpoint, *, now: Callable[[], float]
) -> APIRequest[AccessToken]:
    """The request that fetches a token from either endpoint (§1.1 old, §1.2 new)."""
    if endpoint == "new":
        return NEW_TOKEN.request(
            json={"appKey": app_key, "appSecret": app_secret},
            parse=lambda d: AccessToken(
                str(d["accessToken"]), now() + _lifetime(d.get("expireIn"))
            ),
        )
    return OLD_TOKEN.request(
        params={"appkey": app_key, "appsecret": app_secret},
        parse=lambda d: AccessToken(str(d["access_token"]), now() + _lifetime(d.get("expires_in"))),
    )


def is_token_rejection(error: APIError) -> bool:
    """DingTalk says the token is bad or expired: refresh once and retry (§9.4).

    The error catalogue decides: rows whose retry advice is ``refresh-token`` (40014, 42001,
    40001, 88 + sub_code 40014, ``InvalidAuthentication``).
    """
    info = info_for_error(error)
    return info is not None and info.token_rejected


class TokenStore(Protocol):
    """Where tokens are kept between fetches, keyed by app key."""

    def load(self, key: str) -> AccessToken | None: ...

    def save(self, key: str, token: AccessToken) -> None: ...

    def discard(self, key: str, value: str) -> None:
        """Forget ``key``'s token if it is still ``value`` (another process may have refreshed)."""
        ...

    def refresh_lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Held while refreshing, so that only one process or host fetches at a time."""
        ...


class MemoryTokenStore:
    """Tokens in this process only (the default)."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    def load(self, key: str) -> AccessToken | None:
        return self._tokens.get(key)

    def save(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def discard(self, key: str, value: str) -> None:
        if (token := self._tokens.get(key)) is not None and token.value == value:
            del self._tokens[key]

    def refresh_lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # the client's own lock covers its threads and tasks

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._tokens)} tokens)"


class FileTokenStore:
    """Tokens in a JSON file (mode 0600), so consecutive CLI commands reuse one token.

    Writes go through a temporary file and a rename, so a reader never sees half a file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def load(self, key: str) -> AccessToken | None:
        entry = self._read().get(key)
        return AccessToken.from_json(json.dumps(entry)) if isinstance(entry, dict) else None

    def save(self, key: str, token: AccessToken) -> None:
        data = self._read()
        data[key] = {"value": token.value, "expires_at": token.expires_at}
        self._write(data)

    def discard(self, key: str, value: str) -> None:
        data = self._read()
        entry = data.get(key)
        if isinstance(entry, dict) and entry.get("value") == value:
            del data[key]
            self._write(data)

    def refresh_lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


TokenFlow = Generator[APIRequest[AccessToken], AccessToken, AccessToken]


class TokenManager:
    """The access token of one app: cached, refreshed before expiry, fetched once at a time.

    Args:
        app_key: the app's key (Client ID).
        app_secret: its secret; kept out of ``repr``.
        endpoint: ``"new"`` (``/v1.0/oauth2/accessToken``, default) or ``"old"`` (``/gettoken``).
        store: where tokens live between fetches (default: this process's memory).
        margin: refresh this many seconds before expiry (clamped to half a token's lifetime).
        clock: seconds since the epoch; tests pass a fake.
    """

    def __init__(
        self,
        app_key: str,
        app_secret: str,
        *,
        endpoint: TokenEndpoint = "new",
        store: TokenStore | None = None,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_key = app_key
        self._app_secret = app_secret
        self.endpoint = endpoint
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self.margin = margin
        self.clock = clock
        self._cached: AccessToken | None = None
        self._lifetime = DEFAULT_LIFETIME
        self.thread_lock = threading.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenManager(app_key={self.app_key!r}, endpoint={self.endpoint!r})"

    def _margin(self) -> float:
        return min(self.margin, self._lifetime / 2)

    def cached(self) -> AccessToken | None:
        """The token in memory, if it is still fresh: no lock, no I/O (the hot path)."""
        token = self._cached
        if token is not None and token.fresh(self.clock(), self._margin()):
            return token
        return None

    def flow(self) -> TokenFlow:
        """Return a fresh token: from memory, else the store, else a fetch (yielded)."""
        token = self.cached()
        if token is not None:
            return token
        stored = self.store.load(self.app_key)
        if stored is not None and stored.fresh(self.clock(), self._margin()):
            self._cached = stored
            return stored
        with self.store.refresh_lock(self.app_key):
            # Another process may have refreshed while we waited for the lock.
            stored = self.store.load(self.app_key)
            if stored is not None and stored.fresh(self.clock(), self._margin()):
                self._cached = stored
                return stored
            requested_at = self.clock()
            token = yield token_request(
                self.app_key, self._app_secret, self.endpoint, now=self.clock
            )
            self.fetches += 1
            self._lifetime = max(token.expires_at - requested_at, 1.0)
            self._cached = token
            self.store.save(self.app_key, token)
            return token

    def invalidate(self, value: str) -> None:
        """DingTalk rejected ``value``: forget it (unless a newer token replaced it already)."""
        if self._cached is not None and self._cached.value == value:
            self._cached = None
        self.store.discard(self.app_key, value)


def drive_sync(
    flow: TokenFlow, fetch: Callable[[APIRequest[AccessToken]], AccessToken]
) -> AccessToken:
    """Run a token flow, fetching with ``fetch``."""
    try:
        request = next(flow)
        while True:
            request = flow.send(fetch(request))
    except StopIteration as stop:
        token: AccessToken = stop.value
        return token
