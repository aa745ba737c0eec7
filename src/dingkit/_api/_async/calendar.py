"""``client.calendar``: users' calendar events (§4).

DingTalk's calendar paths take a **unionId**. These methods take a userId and look its unionId
up once per facade (``contacts.user``); pass ``union_id=True`` when ``user`` (and the
attendees) are unionIds already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..._pagination import AsyncPager, PageFlow
from ...resources import calendar
from ...resources.calendar import CalendarEvent

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncCalendarAPI:
    """Create, read, list, change and delete events in users' primary calendars."""

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client
        self._union_ids: dict[str, str] = {}

    async def _union_id(self, user: str, union_id: bool) -> str:
        if union_id:
            return user
        if user not in self._union_ids:
            self._union_ids[user] = await self._client.request(calendar.union_id(user))
        return self._union_ids[user]

    async def _all_union_ids(self, users: Sequence[str] | None, union_id: bool) -> Sequence[str]:
        return [await self._union_id(user, union_id) for user in users or ()]

    async def create(
        self,
        user: str,
        summary: str,
        start: dt.date,
        end: dt.date,
        *,
        union_id: bool = False,
        all_day: bool = False,
        time_zone: str | None = None,
        description: str | None = None,
        attendees: Sequence[str] = (),
        optional_attendees: Sequence[str] = (),
        location: str | None = None,
        reminders: Sequence[int] | None = None,
        recurrence: Mapping[str, Any] | None = None,
        online_meeting: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        """Create an event in ``user``'s calendar.

        Timed events take aware datetimes; all-day events (``all_day=True``) take dates, with
        ``end`` the last day. ``reminders``: minutes before (``None``: 15; ``[]``: none).
        """
        body = calendar.event_body(
            summary=summary,
            start=start,
            end=end,
            all_day=all_day,
            time_zone=time_zone,
            description=description,
            attendees=await self._all_union_ids(attendees, union_id) or None,
            optional_attendees=await self._all_union_ids(optional_attendees, union_id),
            location=location,
            reminders=reminders,
            recurrence=recurrence,
            online_meeting=online_meeting,
            extra=extra,
        )
        union = await self._union_id(user, union_id)
        return await self._client.request(calendar.create(union, body))

    async def get(
        self,
        user: str,
        event_id: str,
        *,
        union_id: bool = False,
        max_attendees: int | None = None,
    ) -> CalendarEvent:
        """One event of ``user``'s."""
        union = await self._union_id(user, union_id)
        return await self._client.request(
            calendar.get(union, event_id, max_attendees=max_attendees)
        )

    def list(
        self,
        user: str,
        *,
        union_id: bool = False,
        time_min: dt.datetime | None = None,
        time_max: dt.datetime | None = None,
        show_deleted: bool = False,
        page_size: int = calendar.MAX_EVENT_PAGE,
    ) -> AsyncPager[CalendarEvent]:
        """``user``'s events starting in ``time_min``..``time_max``, paged for you."""
        return _UserEvents(
            self,
            user,
            union_id,
            lambda union: calendar.events(
                union,
                time_min=time_min,
                time_max=time_max,
                show_deleted=show_deleted,
                page_size=page_size,
            ),
        )

    async def update(
        self,
        user: str,
        event_id: str,
        *,
        union_id: bool = False,
        summary: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        all_day: bool = False,
        time_zone: str | None = None,
        description: str | None = None,
        attendees: Sequence[str] | None = None,
        location: str | None = None,
        reminders: Sequence[int] | None = None,
    ) -> CalendarEvent:
        """Change an event: only the fields given are sent (``start`` and ``end`` together)."""
        body = calendar.event_body(
            summary=summary,
            start=start,
            end=end,
            all_day=all_day,
            time_zone=time_zone,
            description=description,
            attendees=None if attendees is None else await self._all_union_ids(attendees, union_id),
            location=location,
            reminders=reminders,
        )
        union = await self._union_id(user, union_id)
        return await self._client.request(calendar.update(union, event_id, body))

    async def delete(
        self,
        user: str,
        event_id: str,
        *,
        union_id: bool = False,
        push_notification: bool | None = None,
    ) -> None:
        """Delete an event of ``user``'s."""
        union = await self._union_id(user, union_id)
        await self._client.request(
            calendar.delete(union, event_id, push_notification=push_notification)
        )


class _UserEvents(AsyncPager[CalendarEvent]):
    """A pager over a user's events that looks the unionId up when iteration starts."""

    def __init__(
        self,
        api: AsyncCalendarAPI,
        user: str,
        union_id: bool,
        flow: Callable[[str], PageFlow[CalendarEvent]],
    ) -> None:
        super().__init__(api._client, lambda: flow(self._union))
        self._api, self._user, self._is_union = api, user, union_id
        self._union = ""

    async def _prepare(self) -> None:
        self._union = await self._api._union_id(self._user, self._is_union)
