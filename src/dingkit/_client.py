"""``DingTalk`` and ``AsyncDingTalk``: the server-API clients of both families.

Everything but the send loop is shared: configuration, request building and answer parsing
(:mod:`._request`), the token flow (:mod:`._auth`), retry decisions (:mod:`._retry`) and the
client-side QPS limit (:mod:`._ratelimit`). The loop itself is written twice, once per I/O
style; it is short.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import httpx
from typing_extensions import Unpack

from ._auth import TokenEndpoint, TokenManager, TokenStore, drive_sync, is_token_rejection
from ._config import api_base_url, oapi_base_url
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    DingTalkError,
)
from ._pagination import AsyncPager, PageFlow, SyncPager
from ._ratelimit import LimiterRegistry
from ._redact import redact_http_logs, redact_url
from ._request import APIRequest, HTTPCall, build_call, parse_answer
from ._retry import DEFAULT_RETRY, RetryPolicy

if TYPE_CHECKING:
    from ._api._async.approval import AsyncApprovalAPI
    from ._api._async.attendance import AsyncAttendanceAPI
    from ._api._async.calendar import AsyncCalendarAPI
    from ._api._async.contacts import AsyncContactsAPI
    from ._api._async.notifications import AsyncNotificationsAPI
    from ._api._sync.approval import ApprovalAPI
    from ._api._sync.attendance import AttendanceAPI
    from ._api._sync.calendar import CalendarAPI
    from ._api._sync.contacts import ContactsAPI
    from ._api._sync.notifications import NotificationsAPI

__all__ = ["AsyncDingTalk", "ClientSettings", "DingTalk"]

T = TypeVar("T")
logger = logging.getLogger("dingkit.client")

#: DingTalk allows each app 20 calls per second per API on the standard edition (§9.3).
DEFAULT_QPS = 20.0
DEFAULT_TIMEOUT = 10.0

_LIMITERS: dict[tuple[float, Callable[[], float] | None], LimiterRegistry] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiters(qps: float, clock: Callable[[], float] | None = None) -> LimiterRegistry:
    """The process-wide limiter registry for a QPS setting: shared by every client on the same
    clock (``None``: the real, monotonic one; a test's fake clock gets a registry of its own,
    so that the waits its fake ``sleep`` takes are measured on the clock they move)."""
    with _LIMITERS_LOCK:
        registry = _LIMITERS.get((qps, clock))
        if registry is None:
            # At most `qps` calls in any 1 s window, counted per (app, API).
            registry = _LIMITERS[(qps, clock)] = LimiterRegistry(
                max(1, int(qps)), 1.0, clock=clock or time.monotonic
            )
        return registry


class ClientSettings(TypedDict, total=False):
    """The keyword arguments shared by :class:`DingTalk` and :class:`AsyncDingTalk`."""

    token_endpoint: TokenEndpoint
    token_store: TokenStore | None
    oapi_base: str | None
    api_base: str | None
    retry: RetryPolicy
    qps: float | None
    timeout: float
    environ: Mapping[str, str] | None
    clock: Callable[[], float]


class _ClientBase:
    """Configuration and the decisions shared by both clients."""

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        *,
        token_endpoint: TokenEndpoint = "new",
        token_store: TokenStore | None = None,
        oapi_base: str | None = None,
        api_base: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        qps: float | None = DEFAULT_QPS,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        #: Where settings come from; resources read theirs here too (``DINGTALK_AGENT_ID``).
        self.environ: Mapping[str, str] = env
        app_key = app_key or env.get("DINGTALK_APP_KEY", "").strip() or None
        app_secret = app_secret or env.get("DINGTALK_APP_SECRET", "").strip() or None
        if not app_key or not app_secret:
            raise ConfigurationError(
                "no app credentials: pass app_key= and app_secret=, or set DINGTALK_APP_KEY "
                "and DINGTALK_APP_SECRET (the app's Client ID and Client Secret)"
            )
        if token_endpoint not in ("new", "old"):
            raise ConfigurationError("token_endpoint must be 'new' or 'old'")
        self.tokens = TokenManager(
            app_key, app_secret, endpoint=token_endpoint, store=token_store, clock=clock
        )
        self.oapi_base = (oapi_base or oapi_base_url(env)).rstrip("/")
        self.api_base = (api_base or api_base_url(env)).rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self._limits = _limiters(qps, None if clock is time.time else clock) if qps else None
        redact_http_logs()

    @property
    def app_key(self) -> str:
        return self.tokens.app_key

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(app_key={self.app_key!r}, oapi={self.oapi_base!r}, "
            f"api={self.api_base!r})"
        )

    def _slot_delay(self, request: APIRequest[Any]) -> float:
        if self._limits is None or not request.auth:
            return 0.0
        return self._limits.window(f"{self.app_key} {request.api_name}").reserve()

    def _call(self, request: APIRequest[Any], token: str | None) -> HTTPCall:
        return build_call(request, token=token, oapi_base=self.oapi_base, api_base=self.api_base)

    def _connection_error(
        self, exc: httpx.HTTPError, request: APIRequest[Any]
    ) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        detail = redact_url(str(exc)) or type(exc).__name__
        return cls(f"{request.method} {request.path}: {detail}")

    def _may_retry(
        self, attempt: int, error: DingTalkError, request: APIRequest[Any], sent: bool
    ) -> bool:
        if isinstance(error, APIConnectionError) and sent and not request.idempotent:
            # The request may have been carried out; repeating it could do it twice.
            return False
        return self.retry.should_retry(attempt, error)

    def _log_retry(
        self, request: APIRequest[Any], attempt: int, error: DingTalkError, delay: float
    ) -> None:
        logger.warning(
            "%s %s: try %d failed (%s); retrying in %.2f s",
            request.method,
            request.path,
            attempt,
            error,
            delay,
        )


def _sent(exc: httpx.HTTPError) -> bool:
    """Whether the request may have reached DingTalk (not for connect failures)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


class DingTalk(_ClientBase):
    """The DingTalk server APIs, synchronous.

        >>> client = DingTalk()            # DINGTALK_APP_KEY / DINGTALK_APP_SECRET
        >>> client.call("POST", "/topapi/v2/user/get", json={"userid": "manager0001"})

    Args:
        app_key, app_secret: the app's credentials (default: the environment).
        token_endpoint: ``"new"`` (``/v1.0/oauth2/accessToken``) or ``"old"`` (``/gettoken``).
        token_store: where tokens are kept (memory by default; ``FileTokenStore``,
            ``RedisTokenStore`` to share them).
        oapi_base, api_base: base URLs (default ``DINGTALK_OAPI_BASE_URL`` /
            ``DINGTALK_API_BASE_URL``, else DingTalk's).
        retry: when and how long to retry (§9.4).
        qps: client-side calls per second per API, shared by the process (``None``: off).
        timeout: seconds per HTTP request.
        http_client: an ``httpx.Client`` to use.
        sleep: how to wait (tests inject a fake).
    """

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **settings: Unpack[ClientSettings],
    ) -> None:
        super().__init__(app_key, app_secret, **settings)
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout)
        self._sleep = sleep

    def __enter__(self) -> DingTalk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    def access_token(self) -> str:
        """A valid access token: cached, or fetched once however many threads ask at once."""
        token = self.tokens.cached()
        if token is None:
            with self.tokens.thread_lock:
                token = drive_sync(self.tokens.flow(), self.request)
        return token.value

    def request(self, request: APIRequest[T]) -> T:
        """Execute ``request`` with auth, the QPS limit, retries and one token refresh."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            token = self.access_token() if request.auth else None
            delay = self._slot_delay(request)
            if delay:
                self._sleep(delay)
            call = self._call(request, token)
            sent = True
            error: DingTalkError
            try:
                response = self._http.request(
                    call.method,
                    call.url,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.HTTPError as exc:
                error, sent = self._connection_error(exc, request), _sent(exc)
            else:
                try:
                    return parse_answer(request, response.status_code, response.content)
                except APIError as api_error:
                    error = api_error
                if token is not None and not refreshed and is_token_rejection(error):
                    # The token was revoked or expired early: fetch a new one, once.
                    self.tokens.invalidate(token)
                    refreshed, attempt = True, attempt - 1
                    continue
            if not self._may_retry(attempt, error, request, sent):
                raise error
            wait = self.retry.delay(attempt, error)
            self._log_retry(request, attempt, error, wait)
            self._sleep(wait)

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Any endpoint of either family, with auth, errors and retries: the decoded answer."""
        return self.request(
            APIRequest(
                method.upper(),
                path,
                params=params,
                json=json,
                idempotent=method.upper() in ("GET", "PUT", "DELETE"),
            )
        )

    def paginate(self, flow: Callable[[], PageFlow[T]]) -> SyncPager[T]:
        """A pager that runs ``flow`` (a page flow from :mod:`dingkit.resources`)."""
        return SyncPager(self, flow)

    # Resources: imported on first use, so that a client built for one API stays light.

    @functools.cached_property
    def contacts(self) -> ContactsAPI:
        """Departments and users (§5)."""
        from ._api._sync.contacts import ContactsAPI

        return ContactsAPI(self)

    @functools.cached_property
    def notifications(self) -> NotificationsAPI:
        """Work notifications from the app (§12)."""
        from ._api._sync.notifications import NotificationsAPI

        return NotificationsAPI(self)

    @functools.cached_property
    def approval(self) -> ApprovalAPI:
        """Approval templates and instances (§3)."""
        from ._api._sync.approval import ApprovalAPI

        return ApprovalAPI(self)

    @functools.cached_property
    def calendar(self) -> CalendarAPI:
        """Users' calendar events (§4)."""
        from ._api._sync.calendar import CalendarAPI

        return CalendarAPI(self)

    @functools.cached_property
    def attendance(self) -> AttendanceAPI:
        """Attendance results and punch records (§6)."""
        from ._api._sync.attendance import AttendanceAPI

        return AttendanceAPI(self)


class AsyncDingTalk(_ClientBase):
    """The DingTalk server APIs, asynchronous; the same arguments as :class:`DingTalk`.

    >>> async with AsyncDingTalk() as client:
    ...     await client.call("GET", "/v1.0/workflow/processInstances",
    ...                       params={"processInstanceId": "..."})
    """

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **settings: Unpack[ClientSettings],
    ) -> None:
        super().__init__(app_key, app_secret, **settings)
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout)
        self._sleep = sleep
        self._token_lock: asyncio.Lock | None = None

    async def __aenter__(self) -> AsyncDingTalk:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def access_token(self) -> str:
        """A valid access token: cached, or fetched once however many tasks ask at once."""
        token = self.tokens.cached()
        if token is not None:
            return token.value
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            flow = self.tokens.flow()
            try:
                fetch = next(flow)
                while True:
                    fetch = flow.send(await self.request(fetch))
            except StopIteration as stop:
                return str(stop.value.value)

    async def request(self, request: APIRequest[T]) -> T:
        """Execute ``request``; see :meth:`DingTalk.request`."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            token = await self.access_token() if request.auth else None
            delay = self._slot_delay(request)
            if delay:
                await self._sleep(delay)
            call = self._call(request, token)
            sent = True
            error: DingTalkError
            try:
                response = await self._http.request(
                    call.method,
                    call.url,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.HTTPError as exc:
                error, sent = self._connection_error(exc, request), _sent(exc)
            else:
                try:
                    return parse_answer(request, response.status_code, response.content)
                except APIError as api_error:
                    error = api_error
                if token is not None and not refreshed and is_token_rejection(error):
                    self.tokens.invalidate(token)
                    refreshed, attempt = True, attempt - 1
                    continue
            if not self._may_retry(attempt, error, request, sent):
                raise error
            wait = self.retry.delay(attempt, error)
            self._log_retry(request, attempt, error, wait)
            await self._sleep(wait)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Any endpoint of either family; see :meth:`DingTalk.call`."""
        return await self.request(
            APIRequest(
                method.upper(),
                path,
                params=params,
                json=json,
                idempotent=method.upper() in ("GET", "PUT", "DELETE"),
            )
        )

    def paginate(self, flow: Callable[[], PageFlow[T]]) -> AsyncPager[T]:
        """A pager that runs ``flow`` (a page flow from :mod:`dingkit.resources`)."""
        return AsyncPager(self, flow)

    @functools.cached_property
    def contacts(self) -> AsyncContactsAPI:
        """Departments and users (§5)."""
        from ._api._async.contacts import AsyncContactsAPI

        return AsyncContactsAPI(self)

    @functools.cached_property
    def notifications(self) -> AsyncNotificationsAPI:
        """Work notifications from the app (§12)."""
        from ._api._async.notifications import AsyncNotificationsAPI

        return AsyncNotificationsAPI(self)

    @functools.cached_property
    def approval(self) -> AsyncApprovalAPI:
        """Approval templates and instances (§3)."""
        from ._api._async.approval import AsyncApprovalAPI

        return AsyncApprovalAPI(self)

    @functools.cached_property
    def calendar(self) -> AsyncCalendarAPI:
        """Users' calendar events (§4)."""
        from ._api._async.calendar import AsyncCalendarAPI

        return AsyncCalendarAPI(self)

    @functools.cached_property
    def attendance(self) -> AsyncAttendanceAPI:
        """Attendance results and punch records (§6)."""
        from ._api._async.attendance import AsyncAttendanceAPI

        return AsyncAttendanceAPI(self)
