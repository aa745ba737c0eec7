"""``DingTalk``: the server-API client of both families, synchronous.

``AsyncDingTalk`` lives in ``_async_client.py`` and is re-exported here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from typing_extensions import Unpack

from ._async_client import AsyncDingTalk
from ._auth import drive_sync, is_token_rejection
from ._client_base import ClientSettings, _ClientBase, _sent
from ._exceptions import (
    APIError,
    DingTalkError,
)
from ._pagination import PageFlow, SyncPager
from ._request import APIRequest, parse_answer

if TYPE_CHECKING:
    from ._api._sync.approval import ApprovalAPI
    from ._api._sync.attendance import AttendanceAPI
    from ._api._sync.calendar import CalendarAPI
    from ._api._sync.callbacks import CallbacksAPI
    from ._api._sync.cards import CardsAPI
    from ._api._sync.contacts import ContactsAPI
    from ._api._sync.notifications import NotificationsAPI
    from ._api._sync.robot import RobotAPI

__all__ = ["AsyncDingTalk", "ClientSettings", "DingTalk"]

T = TypeVar("T")


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
            started = time.monotonic()
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
                self._log_exchange(request, None, error, started)
            else:
                try:
                    result = parse_answer(
                        request, response.status_code, response.content, clock=self.clock
                    )
                except APIError as api_error:
                    error = api_error
                    self._log_exchange(request, response.status_code, error, started)
                else:
                    self._log_exchange(request, response.status_code, None, started)
                    return result
                if token is not None and not refreshed and is_token_rejection(error):
                    # The token was revoked or expired early: fetch a new one, once.
                    drive_sync(self.tokens.rejection_flow(token), self.request)
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
    def callbacks(self) -> CallbacksAPI:
        """Event-subscription registration and the failed-event list (§7)."""
        from ._api._sync.callbacks import CallbacksAPI

        return CallbacksAPI(self)

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

    @functools.cached_property
    def cards(self) -> CardsAPI:
        """Interactive cards and AI cards' streaming into robot chats."""
        from ._api._sync.cards import CardsAPI

        return CardsAPI(self)

    @functools.cached_property
    def robot(self) -> RobotAPI:
        """The app's robot: one-to-one and group sends, session replies (§12.3, §8.1)."""
        from ._api._sync.robot import RobotAPI

        return RobotAPI(self)
