"""``AsyncDingTalk``: the server-API client of both families, asynchronous."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from typing_extensions import Unpack

from ._auth import drive_async, is_token_rejection
from ._client_base import ClientSettings, _ClientBase, _sent
from ._exceptions import (
    APIError,
    DingTalkError,
)
from ._pagination import AsyncPager, PageFlow
from ._request import APIRequest, parse_answer

if TYPE_CHECKING:
    from ._api._async.approval import AsyncApprovalAPI
    from ._api._async.attendance import AsyncAttendanceAPI
    from ._api._async.calendar import AsyncCalendarAPI
    from ._api._async.callbacks import AsyncCallbacksAPI
    from ._api._async.cards import AsyncCardsAPI
    from ._api._async.contacts import AsyncContactsAPI
    from ._api._async.notifications import AsyncNotificationsAPI
    from ._api._async.robot import AsyncRobotAPI

__all__ = ["AsyncDingTalk"]

T = TypeVar("T")


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
            token = await drive_async(self.tokens.flow(), self.request)
        return token.value

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
            started = time.monotonic()
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
                    await drive_async(self.tokens.rejection_flow(token), self.request)
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
    def callbacks(self) -> AsyncCallbacksAPI:
        """Event-subscription registration and the failed-event list (§7)."""
        from ._api._async.callbacks import AsyncCallbacksAPI

        return AsyncCallbacksAPI(self)

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

    @functools.cached_property
    def cards(self) -> AsyncCardsAPI:
        """Interactive cards and AI cards' streaming into robot chats."""
        from ._api._async.cards import AsyncCardsAPI

        return AsyncCardsAPI(self)

    @functools.cached_property
    def robot(self) -> AsyncRobotAPI:
        """The app's robot: one-to-one and group sends, session replies (§12.3, §8.1)."""
        from ._api._async.robot import AsyncRobotAPI

        return AsyncRobotAPI(self)
