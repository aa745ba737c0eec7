"""Calendar events (日程, §4): checking what a client sends and showing what is kept. Pure.

    fields = check_calendar_event(body, people)               # create
    fields = check_calendar_event({**kept, **body}, people)   # update: the fields sent replace
    calendar_event_json(stored, people, max_attendees=100)

A refusal raises :class:`CalendarEventError` with DingTalk's HTTP status, code and message: §4.1
gives the messages quoted there; the others follow their style [I].

Choices where the reference is silent [I]:

- ``isAllDay`` missing: all-day when ``start`` and ``end`` carry only ``date``. A timed
  ``dateTime`` without an offset is read in its ``timeZone``, which defaults to
  ``Asia/Shanghai``; both ends must name the same zone. All-day events sort and filter by
  their first day's midnight in China time.
- ``end`` before ``start`` is refused; an all-day ``end`` must be at least the day after
  ``start`` (it is exclusive, §4.1).
- Attendees must be people of the organisation named by unionId; a userId is refused with a
  hint. The organiser is not added to ``attendees``.
- Recurring events are kept and listed as one (master) event; occurrences are not expanded.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..._wire import CHINA, CHINA_ZONE_NAME
from ...resources import calendar as api
from ..contacts.org import Organization, User

__all__ = [
    "CalendarEventError",
    "People",
    "calendar_event_json",
    "check_calendar_event",
    "parse_time",
    "people_of",
    "utc_text",
]

MAX_SUMMARY = api.MAX_SUMMARY
MAX_DESCRIPTION = api.MAX_DESCRIPTION
MAX_ATTENDEES = api.MAX_ATTENDEES
DEFAULT_ZONE = CHINA_ZONE_NAME
DEFAULT_REMINDER = 15  # minutes, when ``reminders`` is left out (§4.1)
_PATTERNS = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly")
_RANGES = ("noEnd", "endDate", "numbered")
_INDEXES = ("first", "second", "third", "fourth", "last")
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COPIED = ("location", "uiConfigs", "richTextDescription", "extra")


class CalendarEventError(Exception):
    """A refused request: HTTP ``status`` with ``code`` and ``message``."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalidParameter") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class People:
    """The organisation's people by unionId and by userId."""

    by_union: Mapping[str, User]
    by_userid: Mapping[str, User]

    def resolve(self, union_id: str, what: str) -> User:
        """The person with ``union_id``; a userId or an unknown id is refused."""
        user = self.by_union.get(union_id)
        if user is not None:
            return user
        if union_id in self.by_userid:
            raise CalendarEventError(
                f"{what} {union_id!r} is a userId; the calendar takes the user's unionId "
                "(contacts user/get → unionid)"
            )
        raise CalendarEventError(f"{what} not found by unionId: {union_id}")


@lru_cache(maxsize=8)
def people_of(org: Organization) -> People:
    return People({u.unionid: u for u in org.users}, {u.userid: u for u in org.users})


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any, name: str) -> datetime:
    """An ISO-8601 time with an offset (``Z`` included), as the list's ``timeMin`` takes."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise CalendarEventError(f"Invalid {name}: {text}") from None
    if moment.tzinfo is None:
        raise CalendarEventError(f"Invalid {name}: {text} has no UTC offset")
    return moment


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarEventError(f"Invalid timeZone: {name}") from None


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CalendarEventError(f"{name} must be a boolean")


def _bounded(value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CalendarEventError(message)
    return value


def _times(body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool, int]:
    """``start``, ``end``, ``isAllDay`` and the start in ms (for sorting and the list filter)."""
    start, end = body.get("start"), body.get("end")
    if not isinstance(start, Mapping) or not (start.get("date") or start.get("dateTime")):
        raise CalendarEventError("Event start time not set.")
    if not isinstance(end, Mapping) or not (end.get("date") or end.get("dateTime")):
        raise CalendarEventError("Event end time not set.")
    if body.get("isAllDay") is None:
        all_day = not start.get("dateTime") and not end.get("dateTime")
    else:
        all_day = _flag(body["isAllDay"], "isAllDay")
    if all_day:
        days = []
        for side, which in ((start, "start"), (end, "end")):
            text = side.get("date")
            if not text:
                raise CalendarEventError(f"Event {which} time not set.")
            if not isinstance(text, str) or not _DATE.fullmatch(text):
                raise CalendarEventError(f"Invalid {which} date: {text} (yyyy-MM-dd)")
            try:
                days.append(date.fromisoformat(text))
            except ValueError:
                raise CalendarEventError(f"Invalid {which} date: {text}") from None
        if days[1] <= days[0]:
            raise CalendarEventError(
                "Event end date must be after the start date (the end is exclusive)"
            )
        first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=CHINA)
        return (
            {"date": days[0].isoformat()},
            {"date": days[1].isoformat()},
            True,
            int(first.timestamp() * 1000),
        )
    zones = {start.get("timeZone"), end.get("timeZone")} - {None}
    if len(zones) > 1:
        raise CalendarEventError("Event start and end must have the same timeZone")
    zone_name = zones.pop() if zones else DEFAULT_ZONE
    zone = _zone(zone_name)
    moments = []
    for side, which in ((start, "start"), (end, "end")):
        if not side.get("dateTime"):
            raise CalendarEventError(f"Event {which} time not set.")
        try:
            moment = datetime.fromisoformat(str(side["dateTime"]))
        except ValueError:
            raise CalendarEventError(f"Invalid {which} dateTime: {side['dateTime']}") from None
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=zone))
    if moments[1] < moments[0]:
        raise CalendarEventError("Event end time must be after the start time")
    return (
        {"dateTime": moments[0].isoformat(), "timeZone": zone_name},
        {"dateTime": moments[1].isoformat(), "timeZone": zone_name},
        False,
        int(moments[0].timestamp() * 1000),
    )


def _recurrence(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("pattern"), Mapping):
        raise CalendarEventError("Recurrence pattern must be provided")
    pattern = dict(value["pattern"])
    if pattern.get("type") not in _PATTERNS:
        raise CalendarEventError(f"Recurrence pattern type must be one of {', '.join(_PATTERNS)}")
    pattern["interval"] = _bounded(
        pattern.get("interval", 1), 1, 365, "Recurrence interval must between [1, 365]"
    )
    days = pattern.get("daysOfWeek")
    if days is not None and (
        not isinstance(days, str) or any(d.strip() not in _DAYS for d in days.split(","))
    ):
        raise CalendarEventError("Recurrence daysOfWeek must be weekday names, e.g. monday,friday")
    if pattern.get("dayOfMonth") is not None:
        _bounded(pattern["dayOfMonth"], 1, 31, "Recurrence dayOfMonth must between [1, 31]")
    if pattern.get("index") is not None and pattern["index"] not in _INDEXES:
        raise CalendarEventError(f"Recurrence index must be one of {', '.join(_INDEXES)}")
    recurrence: dict[str, Any] = {"pattern": pattern}
    if value.get("range") is not None:
        bounds = value["range"]
        if not isinstance(bounds, Mapping) or bounds.get("type") not in _RANGES:
            raise CalendarEventError(f"Recurrence range type must be one of {', '.join(_RANGES)}")
        bounds = dict(bounds)
        if bounds.get("endDate") is not None and bounds.get("numberOfOccurrences") is not None:
            raise CalendarEventError(
                "Recurrence range cannot set both endDate and numberOfOccurrences"
            )
        if bounds["type"] == "numbered" or bounds.get("numberOfOccurrences") is not None:
            bounds["numberOfOccurrences"] = _bounded(
                bounds.get("numberOfOccurrences"),
                1,
                99,
                "Recurrence range numberOfOccurrences must between [1, 99]",
            )
        if bounds["type"] == "endDate" and not bounds.get("endDate"):
            raise CalendarEventError("Recurrence range endDate not set.")
        recurrence["range"] = bounds
    return recurrence


def _attendees(value: Any, people: People) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise CalendarEventError("attendees must be a list")
    if len(value) > MAX_ATTENDEES:
        raise CalendarEventError(f"attendees exceed the limit of {MAX_ATTENDEES} per request")
    kept: dict[str, bool] = {}
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise CalendarEventError("Each attendee needs an id (a unionId)")
        people.resolve(item["id"], "Attendee")
        kept[item["id"]] = _flag(item.get("isOptional", False), "isOptional")
    return [{"id": union, "isOptional": optional} for union, optional in kept.items()]


def _reminders(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise CalendarEventError("reminders must be a list")
    reminders = []
    for item in value:
        if not isinstance(item, Mapping) or item.get("method", "dingtalk") != "dingtalk":
            raise CalendarEventError("Reminder method must be dingtalk")
        minutes = _bounded(item.get("minutes"), 0, 525_600, "Invalid reminder minutes")
        reminders.append({"method": "dingtalk", "minutes": minutes})
    return reminders


def check_calendar_event(body: Any, people: People) -> dict[str, Any]:
    """The fields of an event to keep, checked (§4.1); ``_start_ms`` is the start in ms."""
    if not isinstance(body, Mapping) or not body:
        raise CalendarEventError("Event must be provided.")
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CalendarEventError("Event summary cannot be blank")
    if len(summary) > MAX_SUMMARY:
        raise CalendarEventError(f"Event summary is too long, max length is {MAX_SUMMARY}")
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > MAX_DESCRIPTION
    ):
        raise CalendarEventError(f"Event description is too long, max length is {MAX_DESCRIPTION}")
    start, end, all_day, start_ms = _times(body)
    fields: dict[str, Any] = {
        "summary": summary,
        "start": start,
        "end": end,
        "isAllDay": all_day,
        "attendees": _attendees(body.get("attendees") or [], people),
        "reminders": (
            [{"method": "dingtalk", "minutes": DEFAULT_REMINDER}]
            if body.get("reminders") is None
            else _reminders(body["reminders"])  # [] means no reminder
        ),
        "_start_ms": start_ms,
    }
    if description is not None:
        fields["description"] = description
    if body.get("recurrence") is not None:
        fields["recurrence"] = _recurrence(body["recurrence"])
    meeting = body.get("onlineMeetingInfo")
    if meeting is not None:
        if not isinstance(meeting, Mapping) or meeting.get("type") != "dingtalk":
            raise CalendarEventError("onlineMeetingInfo type must be dingtalk")
        fields["onlineMeetingInfo"] = dict(meeting)
    for name in _COPIED:
        if body.get(name) is not None:
            fields[name] = body[name]
    return fields


def _person(user: User | None, union: str, *, is_self: bool) -> dict[str, Any]:
    return {
        "id": union,
        "displayName": user.name if user is not None else "",
        "responseStatus": "accepted" if is_self else "needsAction",
        "self": is_self,
    }


def calendar_event_json(
    event_id: str,
    fields: Mapping[str, Any],
    people: People,
    *,
    owner: str,
    created_ms: int,
    updated_ms: int,
    deleted: bool = False,
    max_attendees: int = 100,
) -> dict[str, Any]:
    """The event as DingTalk answers it (§4.1, §4.2): reminders' ``minutes`` as strings."""
    data: dict[str, Any] = {"id": event_id, "summary": fields["summary"]}
    if "description" in fields:
        data["description"] = fields["description"]
    data.update(start=fields["start"], end=fields["end"], isAllDay=fields["isAllDay"])
    if "recurrence" in fields:
        data["recurrence"] = fields["recurrence"]
    data["attendees"] = [
        {
            **_person(people.by_union.get(a["id"]), a["id"], is_self=a["id"] == owner),
            "isOptional": a["isOptional"],
        }
        for a in fields["attendees"][:max_attendees]
    ]
    data["organizer"] = _person(people.by_union.get(owner), owner, is_self=True)
    for name in _COPIED:
        if name in fields and name != "extra":
            data[name] = fields[name]
    data["reminders"] = [
        {"method": r["method"], "minutes": str(r["minutes"])} for r in fields["reminders"]
    ]
    if "onlineMeetingInfo" in fields:
        conference = f"{zlib.crc32(event_id.encode()) % 10**9:09d}"
        data["onlineMeetingInfo"] = {
            "type": "dingtalk",
            "conferenceId": conference,
            "url": f"dingtalk://dingtalkclient/page/videoConfFromCalendar?confId={conference}",
            "extraInfo": {},
        }
    data.update(
        status="cancelled" if deleted else "confirmed",
        createTime=utc_text(created_ms),
        updateTime=utc_text(updated_ms),
    )
    return data
