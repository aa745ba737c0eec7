"""Calendar (日程), new API, §4 of the protocol reference. No I/O.

Every path names a user by **unionId**, not userId (§4): the builders here take ``union_id``;
``client.calendar`` accepts a userId and resolves it for you. The calendar is always
``primary``.

Times: timed events take aware datetimes (sent as ``{"dateTime", "timeZone"}``); all-day
events take dates, and ``end`` is the **last day** of the event: DingTalk's end date is
exclusive (the day after), which the builders send for you.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field

from .._exceptions import NotFoundError
from .._pagination import Page, PageFlow
from .._request import APIRequest, Endpoint
from . import contacts
from ._models import CamelModel

__all__ = [
    "EVENT_CREATE",
    "EVENT_DELETE",
    "EVENT_GET",
    "EVENT_LIST",
    "EVENT_UPDATE",
    "MAX_ATTENDEES",
    "MAX_DESCRIPTION",
    "MAX_EVENT_PAGE",
    "MAX_SUMMARY",
    "PRIMARY",
    "Attendee",
    "CalendarEvent",
    "EventTime",
    "Reminder",
    "create",
    "delete",
    "event_body",
    "events",
    "get",
    "union_id",
    "update",
]

MAX_EVENT_PAGE = 100  # maxResults (§4.2)
MAX_ATTENDEES = 500  # per call (§4.1)
MAX_SUMMARY = 2048  # characters (§4.1)
MAX_DESCRIPTION = 5000  # characters (§4.1)
_EVENTS = "/v1.0/calendar/users/{unionId}/calendars/{calendarId}/events"
#: The only calendar DingTalk's API knows (§4).
PRIMARY = "primary"

# The endpoints (§4). `{unionId}` is the user's unionId, not the userId (§4). Permission
# points [I: the console's calendar read/write permissions; the reference names none].
EVENT_CREATE = Endpoint(
    "POST",
    _EVENTS,
    scope="Calendar.Event.Write",
    idempotent=False,  # DingTalk's x-client-token would make it so; not sent
)
EVENT_LIST = Endpoint("GET", _EVENTS, scope="Calendar.Event.Read", page_size=MAX_EVENT_PAGE)
EVENT_GET = Endpoint("GET", _EVENTS + "/{eventId}", scope="Calendar.Event.Read")
EVENT_UPDATE = Endpoint("PUT", _EVENTS + "/{eventId}", scope="Calendar.Event.Write")
EVENT_DELETE = Endpoint("DELETE", _EVENTS + "/{eventId}", scope="Calendar.Event.Write")


def _where(union_id: str, event_id: str | None = None) -> dict[str, str]:
    """The path parameters of an event (or of the user's calendar)."""
    if not union_id:
        raise ValueError("a unionId is required (the user's `unionid` from contacts.user)")
    where = {"unionId": union_id, "calendarId": PRIMARY}
    if event_id is not None:
        where["eventId"] = event_id
    return where


def union_id(userid: str) -> APIRequest[str]:
    """The unionId of ``userid`` (``/topapi/v2/user/get`` → ``unionid``), for the paths here."""
    user = contacts.user(userid)

    def parse(data: Any) -> str:
        found = user.parse(data).unionid
        if not found:
            raise NotFoundError(
                f"DingTalk sent no unionid for user {userid!r}: pass the unionId itself "
                "with union_id=True"
            )
        return found

    return APIRequest(user.method, user.path, json=user.json, parse=parse, api=user.api)


class EventTime(CamelModel):
    """``date`` for all-day events (the end one exclusive), ``date_time`` for timed ones."""

    date: dt.date | None = None
    date_time: dt.datetime | None = None
    time_zone: str | None = None


class Attendee(CamelModel):
    id: str | None = None  # a unionId
    display_name: str | None = None
    response_status: str | None = None  # needsAction, accepted, declined, tentative
    is_self: bool | None = Field(default=None, alias="self")
    is_optional: bool | None = None


class Reminder(CamelModel):
    method: str = "dingtalk"
    minutes: int  # sent as an int, answered as a string ("15")


class CalendarEvent(CamelModel):
    """An event (§4.1, and §4.2's extra fields when listed)."""

    id: str
    summary: str | None = None
    description: str | None = None
    start: EventTime | None = None
    end: EventTime | None = None
    is_all_day: bool | None = None
    recurrence: dict[str, Any] | None = None
    attendees: list[Attendee] = Field(default_factory=list)
    organizer: Attendee | None = None
    location: dict[str, Any] | None = None
    reminders: list[Reminder] = Field(default_factory=list)
    online_meeting_info: dict[str, Any] | None = None
    status: str | None = None  # confirmed, cancelled
    series_master_id: str | None = None
    create_time: str | None = None
    update_time: str | None = None

    @property
    def last_day(self) -> dt.date | None:
        """For an all-day event, its last day (DingTalk's end date is the day after)."""
        if self.end is None or self.end.date is None:
            return None
        return self.end.date - dt.timedelta(days=1)


def _zone_name(moment: dt.datetime) -> str:
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware datetime")
    if offset == dt.timedelta(0):
        return "UTC"
    hours, rest = divmod(offset, dt.timedelta(hours=1))
    if rest:
        raise ValueError(f"no zone name for UTC offset {offset}: pass time_zone=")
    return f"Etc/GMT{-hours:+d}"  # POSIX sign: Etc/GMT-8 is UTC+8


def _times(start: dt.date, end: dt.date, all_day: bool, time_zone: str | None) -> dict[str, Any]:
    if all_day:
        first = start.date() if isinstance(start, dt.datetime) else start
        last = end.date() if isinstance(end, dt.datetime) else end
        if last < first:
            raise ValueError("end (the event's last day) is before start")
        return {
            "start": {"date": first.isoformat()},
            "end": {"date": (last + dt.timedelta(days=1)).isoformat()},
            "isAllDay": True,
        }
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        raise ValueError("a timed event takes datetimes; for whole days pass all_day=True")
    zone = time_zone or _zone_name(start)
    if end.tzinfo is None:
        raise ValueError(f"{end.isoformat()} has no time zone: pass an aware datetime")
    if end <= start:
        raise ValueError("end must be after start")
    # DingTalk wants one time zone for both ends (§4.1).
    end = end.astimezone(start.tzinfo)
    return {
        "start": {"dateTime": start.isoformat(), "timeZone": zone},
        "end": {"dateTime": end.isoformat(), "timeZone": zone},
        "isAllDay": False,
    }


def event_body(
    *,
    summary: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    all_day: bool = False,
    time_zone: str | None = None,
    description: str | None = None,
    attendees: Sequence[str] | None = None,
    optional_attendees: Sequence[str] = (),
    location: str | None = None,
    reminders: Sequence[int] | None = None,
    recurrence: Mapping[str, Any] | None = None,
    online_meeting: bool = False,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON of an event: only the fields given (``None`` = leave out).

    ``attendees`` and ``optional_attendees`` are unionIds; ``reminders`` are minutes before
    the start (``None``: DingTalk's default of 15; ``[]``: no reminder).
    """
    body: dict[str, Any] = {}
    if summary is not None:
        if not summary.strip() or len(summary) > MAX_SUMMARY:
            raise ValueError(f"summary must be 1 to {MAX_SUMMARY} characters")
        body["summary"] = summary
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise ValueError(f"description is over {MAX_DESCRIPTION} characters")
        body["description"] = description
    if (start is None) != (end is None):
        raise ValueError("give start and end together")
    if start is not None and end is not None:
        body.update(_times(start, end, all_day, time_zone))
    if attendees is not None or optional_attendees:
        people = [{"id": u, "isOptional": False} for u in attendees or ()]
        people += [{"id": u, "isOptional": True} for u in optional_attendees]
        if len(people) > MAX_ATTENDEES:
            raise ValueError(f"at most {MAX_ATTENDEES} attendees per call")
        body["attendees"] = people
    if location is not None:
        body["location"] = {"displayName": location}
    if reminders is not None:
        body["reminders"] = [{"method": "dingtalk", "minutes": int(m)} for m in reminders]
    if recurrence is not None:
        body["recurrence"] = dict(recurrence)
    if online_meeting:
        body["onlineMeetingInfo"] = {"type": "dingtalk"}
    if extra is not None:
        body["extra"] = dict(extra)
    return body


def create(union_id: str, body: Mapping[str, Any]) -> APIRequest[CalendarEvent]:
    """Create an event in the user's primary calendar (§4.1); ``body`` from :func:`event_body`."""
    if not body.get("summary") or "start" not in body or "end" not in body:
        raise ValueError("an event needs a summary, a start and an end")
    return EVENT_CREATE.request(
        path_params=_where(union_id), json=dict(body), parse=CalendarEvent.model_validate
    )


def get(
    union_id: str, event_id: str, *, max_attendees: int | None = None
) -> APIRequest[CalendarEvent]:
    """One event (§4.3); ``max_attendees`` ≤ 500, DingTalk's default 100."""
    return EVENT_GET.request(
        path_params=_where(union_id, event_id),
        params={"maxAttendees": max_attendees},
        parse=CalendarEvent.model_validate,
    )


def update(union_id: str, event_id: str, body: Mapping[str, Any]) -> APIRequest[CalendarEvent]:
    """Change an event (``PUT``, §4.4): the fields in ``body``, plus its ``id``."""
    return EVENT_UPDATE.request(
        path_params=_where(union_id, event_id),
        json={**body, "id": event_id},
        parse=CalendarEvent.model_validate,
    )


def delete(
    union_id: str, event_id: str, *, push_notification: bool | None = None
) -> APIRequest[None]:
    """Delete an event (§4.4: HTTP 200, empty body)."""
    params = None
    if push_notification is not None:
        params = {"pushNotification": "true" if push_notification else "false"}
    return EVENT_DELETE.request(
        path_params=_where(union_id, event_id), params=params, parse=lambda d: None
    )


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware datetime")
    return moment.isoformat()


def events(
    union_id: str,
    *,
    time_min: dt.datetime | None = None,
    time_max: dt.datetime | None = None,
    show_deleted: bool = False,
    page_size: int = MAX_EVENT_PAGE,
) -> PageFlow[CalendarEvent]:
    """The user's events starting between ``time_min`` and ``time_max`` (≤ 1 year apart),
    page by page until ``nextToken`` is null (§4.2). The last page's ``raw`` holds the
    ``syncToken`` (when ``time_max`` was not given)."""
    if not 1 <= page_size <= MAX_EVENT_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_EVENT_PAGE}")
    params: dict[str, Any] = {
        "timeMin": _iso(time_min),
        "timeMax": _iso(time_max),
        "maxResults": page_size,
    }
    if show_deleted:
        params["showDeleted"] = "true"
    where = _where(union_id)
    token: str | None = None
    while True:
        page = yield EVENT_LIST.request(
            path_params=where, params={**params, "nextToken": token}, parse=_event_page
        )
        if not page.cursor or page.cursor == token:
            return
        token = str(page.cursor)


def _event_page(data: dict[str, Any]) -> Page[CalendarEvent]:
    token = data.get("nextToken")
    return Page(
        [CalendarEvent.model_validate(x) for x in data.get("events") or []],
        has_more=bool(token),
        cursor=token or None,
    )
