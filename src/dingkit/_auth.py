"""Access tokens: fetching, caching, refreshing before expiry, one fetch however many ask.

The decisions (is the cached token still good? which endpoint? what did it answer? may we
refresh, or is another process doing it?) live here once; the clients supply the I/O. The flow
is a generator (httpx's ``auth_flow`` shape) that does no I/O itself: it yields the steps it
needs, and a driver carries them out and sends back the outcome:

- an :class:`APIRequest` (the token request): the client sends it;
- a :class:`StoreCall` (read, write or lock the token store): :func:`drive_sync` calls it in
  place, :func:`drive_async` in a worker thread, so a network store never blocks the loop;
- a :class:`Pause` (another process holds the refresh lock): ``time.sleep`` or
  ``await asyncio.sleep``.

The clients hold the single-flight lock around the flow (a thread lock, an ``asyncio.Lock``),
so however many threads or tasks ask at once, one of them refreshes.

Stores (where a token is kept between fetches, ``_token_store.py``; Redis in
``_redis_store.py``) are pluggable: memory (default), a file (the CLI: consecutive commands
reuse one token), Redis (shared by processes and hosts, with a lock so that only one of them
refreshes). The token never appears in reprs, logs or errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Literal, TypeVar

from ._errcodes import info_for_error
from ._exceptions import APIError
from ._request import APIRequest, Endpoint
from ._token_store import (
    REFRESH_MARGIN,
    AccessToken,
    FileTokenStore,
    MemoryTokenStore,
    TokenStore,
)

__all__ = [
    "NEW_TOKEN",
    "OLD_TOKEN",
    "AccessToken",
    "FileTokenStore",
    "MemoryTokenStore",
    "Pause",
    "StoreCall",
    "TokenManager",
    "TokenStore",
    "drive_async",
    "drive_sync",
    "is_token_rejection",
    "token_cache_key",
]

R = TypeVar("R")

#: DingTalk tokens live 7200 s (§1); used when an answer omits ``expireIn`` or sends 0, so a
#: bad answer cannot turn into a refresh on every call.
DEFAULT_LIFETIME = 7200.0
#: How often to look again while another process holds the refresh lock.
LOCK_POLL = 0.05

TokenEndpoint = Literal["new", "old"]

# The two token endpoints (§1.1 old, §1.2 new): no access token, no permission point, exempt
# from the monthly quota (§9.3).
OLD_TOKEN = Endpoint("GET", "/gettoken", auth=False, param_error=40035, quota_exempt=True)
NEW_TOKEN = Endpoint("POST", "/v1.0/oauth2/accessToken", auth=False, quota_exempt=True)


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


def token_cache_key(base_url: str, app_key: str, app_secret: str) -> str:
    """Where an app's token is kept in a store: per service, app and secret.

    The base URL keeps the sandbox's tokens apart from DingTalk's; a hash of the secret (never
    the secret) means a wrong or rotated secret is not hidden by a token some other secret
    fetched: the next call fetches with it and fails at once.
    """
    digest = hashlib.sha256(app_secret.encode()).hexdigest()[:12]
    return f"{base_url.rstrip('/')} {app_key} {digest}"


def is_token_rejection(error: APIError) -> bool:
    """DingTalk says the token is bad or expired: refresh once and retry (§9.4).

    The error catalogue decides: rows whose retry advice is ``refresh-token`` (40014, 42001,
    40001, 88 + sub_code 40014, ``InvalidAuthentication``).
    """
    info = info_for_error(error)
    return info is not None and info.token_rejected


class StoreCall:
    """A token-store call the flow needs made: ``function(*args)``, its result sent back."""

    __slots__ = ("args", "function")

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self.function = function
        self.args = args

    def __repr__(self) -> str:
        return f"StoreCall({getattr(self.function, '__qualname__', self.function)})"


class Pause:
    """Wait ``seconds`` of real time (another process holds the refresh lock)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Pause({self.seconds!r})"


Step = APIRequest[AccessToken] | StoreCall | Pause
#: A flow yields steps, receives their outcomes (``None`` after a pause) and returns ``R``.
Flow = Generator[Step, Any, R]
TokenFlow = Flow[AccessToken]


class TokenManager:
    """The access token of one app: cached, refreshed before expiry, fetched once at a time.

    Args:
        app_key: the app's key (Client ID).
        app_secret: its secret; kept out of ``repr``.
        endpoint: ``"new"`` (``/v1.0/oauth2/accessToken``, default) or ``"old"`` (``/gettoken``).
        store: where tokens live between fetches (default: this process's memory).
        margin: refresh this many seconds before expiry (clamped to half a token's lifetime).
        clock: seconds since the epoch; tests pass a fake.
        base_url: the service the token comes from (the token endpoint family's base URL);
            part of the store key (:func:`token_cache_key`).
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
        base_url: str = "",
    ) -> None:
        self.app_key = app_key
        self._app_secret = app_secret
        #: The store key: service, app and a hash of the secret.
        self.cache_key = token_cache_key(base_url, app_key, app_secret)
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

    def _adopt(self, stored: AccessToken | None) -> AccessToken | None:
        """``stored`` if it is fresh, now also the one in memory."""
        if stored is not None and stored.fresh(self.clock(), self._margin()):
            self._cached = stored
            return stored
        return None

    def flow(self) -> TokenFlow:
        """Return a fresh token: from memory, else the store, else a fetch (steps yielded)."""
        token = self.cached()
        if token is not None:
            return token
        key = self.cache_key
        if (token := self._adopt((yield StoreCall(self.store.load, key)))) is not None:
            return token
        receipt = yield from self._lock()
        try:
            # Another process may have refreshed while we waited for the lock.
            if (token := self._adopt((yield StoreCall(self.store.load, key)))) is not None:
                return token
            requested_at = self.clock()
            fetched: AccessToken = yield token_request(
                self.app_key, self._app_secret, self.endpoint, now=self.clock
            )
            self.fetches += 1
            self._lifetime = max(fetched.expires_at - requested_at, 1.0)
            self._cached = fetched
            yield StoreCall(self.store.save, key, fetched)
            return fetched
        finally:
            if receipt is not None:
                yield StoreCall(self.store.unlock, key, receipt)

    def _lock(self) -> Flow[str | None]:
        """Take the store's refresh lock: a receipt, or ``None`` once the store's
        ``wait_timeout`` has passed (a stuck or crashed refresher must not stop everyone)."""
        deadline = time.monotonic() + self.store.wait_timeout
        while True:
            receipt: str | None = yield StoreCall(self.store.try_lock, self.cache_key)
            if receipt is not None or time.monotonic() >= deadline:
                return receipt
            yield Pause(LOCK_POLL)

    def rejection_flow(self, value: str) -> Flow[None]:
        """DingTalk rejected ``value``: forget it, here and in the store (unless a newer token
        replaced it already). Drive it like :meth:`flow`."""
        # The store first: until it has forgotten the token, a flow in another task or thread
        # could read it back from there into memory.
        yield StoreCall(self.store.discard, self.cache_key, value)
        if self._cached is not None and self._cached.value == value:
            self._cached = None


def _outcome_sync(step: Step, fetch: Callable[[APIRequest[AccessToken]], AccessToken]) -> Any:
    if isinstance(step, StoreCall):
        return step.function(*step.args)
    if isinstance(step, Pause):
        time.sleep(step.seconds)
        return None
    return fetch(step)


def drive_sync(flow: Flow[R], fetch: Callable[[APIRequest[AccessToken]], AccessToken]) -> R:
    """Run a token flow here, fetching with ``fetch``."""
    try:
        step = next(flow)
        while True:
            try:
                outcome = _outcome_sync(step, fetch)
            except BaseException as exc:
                step = flow.throw(exc)  # the flow releases its lock, then re-raises
            else:
                step = flow.send(outcome)
    except StopIteration as stop:
        result: R = stop.value
        return result


class _Interrupted(Exception):
    """Cancelled while a store call ran in its thread: what the call did, and the cancellation."""

    def __init__(self, outcome: Any, cancellation: BaseException) -> None:
        self.outcome = outcome
        self.cancellation = cancellation


async def _store_call(step: StoreCall) -> Any:
    # Stores may do network I/O (Redis): never on the event loop.
    call = asyncio.ensure_future(asyncio.to_thread(step.function, *step.args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError as cancellation:
        # The thread cannot be stopped: wait for it, so that the flow learns what it did (a
        # lock it took must be released, not left to expire).
        raise _Interrupted(await call, cancellation) from None


async def drive_async(
    flow: Flow[R], fetch: Callable[[APIRequest[AccessToken]], Awaitable[AccessToken]]
) -> R:
    """Run a token flow on the event loop, fetching with ``fetch``; store calls run in worker
    threads and waits for another process's lock are ``asyncio.sleep``.

    A cancellation reaches the flow at its next fetch or pause (store calls still run, so a
    lock taken is released) and is raised at the end."""
    cancelled: BaseException | None = None
    try:
        step = next(flow)
        while True:
            if cancelled is not None and not isinstance(step, StoreCall):
                step = flow.throw(cancelled)
                continue
            try:
                if isinstance(step, StoreCall):
                    outcome = await _store_call(step)
                elif isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    outcome = None
                else:
                    outcome = await fetch(step)
            except _Interrupted as interrupted:
                cancelled = interrupted.cancellation
                step = flow.send(interrupted.outcome)
            except BaseException as exc:  # cancellation too: the flow releases its lock
                step = flow.throw(exc)
            else:
                step = flow.send(outcome)
    except StopIteration as stop:
        if cancelled is not None:
            raise cancelled from None
        result: R = stop.value
        return result
