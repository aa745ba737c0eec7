"""Calendar (日程), new API (§4): events in each person's ``primary`` calendar, kept in the
store so they outlive a restart. The checks and the event's shape are in :mod:`.model`.

The path takes a **unionId** (§4). Any other id, a userId included, answers HTTP 400
``invalidParameter`` [I: the reference gives no answer for it; 400 is DingTalk's answer to a
bad parameter, and the message says what to pass instead]. A calendar other than
``primary`` answers 404 ``itemNotFound``.

Choices where the reference is silent [I]:

- ``timeMin <= start < timeMax`` (all-day events by their first day's midnight, China time);
  a span over 365 days is refused. Events come by start, then creation.
- ``nextToken`` is the next offset as a string, left out on the last page; that page carries
  a ``syncToken`` unless ``timeMax`` was given. A ``syncToken`` asks for the events changed
  since it was issued, deleted ones included (as ``cancelled``).
- ``x-client-token``: a create with a token seen for this user in the last 24 hours answers
  the event it created then (§4, "kept for 1 day").
- The 100 new events per user per day (§4.1) count per China day, deleted ones included;
  ``limits = false`` switches the limit off.
- Deleted events: ``GET`` answers 404 ``instanceNotExist`` (§4.3); ``PUT`` and a second
  ``DELETE`` answer 404 ``itemNotFound``.

Sandbox-only: ``GET /_sandbox/calendar?user=<userId or unionId>`` lists a person's events
(everyone's when ``user`` is left out), deleted ones marked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...resources import calendar as api
from ..gateway.answers import ApiError
from ..gateway.pipeline import Call, Gateway
from .model import (
    CalendarEventError,
    calendar_event_json,
    parse_time,
    people_of,
)
from .records import StoredCalendarEvent
from .rules import create_calendar_event, delete_calendar_event, update_calendar_event

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

MAX_PAGE = api.EVENT_LIST.page_size or 100  # maxResults and maxAttendees of the list (§4.2)
MAX_ATTENDEES_SHOWN = api.MAX_ATTENDEES  # maxAttendees of a get (§4.3)


def _now(call: Call) -> int:
    return int(call.sandbox.clock() * 1000)


def _owner(call: Call) -> str:
    calendar = call.request.path_params["calendarId"]
    if calendar != api.PRIMARY:
        raise CalendarEventError(f"Calendar not found: {calendar}", status=404, code="itemNotFound")
    union: str = call.request.path_params["unionId"]
    people_of(call.sandbox.org).resolve(union, "User")
    return union


def _number(call: Call, name: str, default: int, high: int) -> int:
    text = call.request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not 1 <= int(text) <= high:
        raise CalendarEventError(f"{name} must between [1, {high}]")
    return int(text)


def _flag(call: Call, name: str) -> bool:
    text = call.request.query_params.get(name, "false").lower()
    if text not in ("true", "false"):
        raise CalendarEventError(f"{name} must be true or false")
    return text == "true"


def _json(call: Call, event: StoredCalendarEvent, max_attendees: int = 100) -> dict[str, Any]:
    return calendar_event_json(
        event.id,
        event.data,
        people_of(call.sandbox.org),
        owner=event.owner,
        created_ms=event.created_ms,
        updated_ms=event.updated_ms,
        deleted=event.deleted,
        max_attendees=max_attendees,
    )


def create(call: Call) -> dict[str, Any]:
    token = call.request.headers.get("x-client-token") or None
    event = create_calendar_event(call.sandbox, _owner(call), call.body, client_token=token)
    return _json(call, event)


def get(call: Call) -> dict[str, Any]:
    owner = _owner(call)
    event = call.sandbox.calendar.get(owner, call.request.path_params["eventId"])
    if event is None:
        raise CalendarEventError("Event not found", status=404, code="itemNotFound")
    if event.deleted:
        raise CalendarEventError("instance not exist", status=404, code="instanceNotExist")
    return _json(call, event, _number(call, "maxAttendees", 100, MAX_ATTENDEES_SHOWN))


def update(call: Call) -> dict[str, Any]:
    event_id = call.request.path_params["eventId"]
    return _json(call, update_calendar_event(call.sandbox, _owner(call), event_id, call.body))


def delete(call: Call) -> Response:
    owner = _owner(call)
    _flag(call, "pushNotification")
    delete_calendar_event(call.sandbox, owner, call.request.path_params["eventId"])
    return Response(status_code=200)  # an empty body (§4.4)


def list_events(call: Call) -> dict[str, Any]:
    owner, query = _owner(call), call.request.query_params
    size = _number(call, "maxResults", MAX_PAGE, MAX_PAGE)
    max_attendees = _number(call, "maxAttendees", 100, MAX_PAGE)
    low = parse_time(query["timeMin"], "timeMin") if query.get("timeMin") else None
    high = parse_time(query["timeMax"], "timeMax") if query.get("timeMax") else None
    if low is not None and high is not None and (high < low or (high - low).days > 365):
        raise CalendarEventError("timeMax must be after timeMin and at most one year later")
    token = query.get("nextToken") or "0"
    if not token.isdigit():
        raise CalendarEventError(f"Invalid nextToken: {token}")
    show_deleted, since = _flag(call, "showDeleted"), None
    if query.get("syncToken"):
        sync = query["syncToken"]
        if not (sync.startswith("st") and sync[2:].isdigit()):
            raise CalendarEventError(f"Invalid syncToken: {sync}")
        since, show_deleted = int(sync[2:]), True
    found = call.sandbox.calendar.find(
        owner,
        start_min=int(low.timestamp() * 1000) if low else None,
        start_max=int(high.timestamp() * 1000) if high else None,
        deleted=show_deleted,
        updated_after=since,
        offset=int(token),
        limit=size + 1,
    )
    answer: dict[str, Any] = {"events": [_json(call, e, max_attendees) for e in found[:size]]}
    if len(found) > size:
        answer["nextToken"] = str(int(token) + size)
    elif high is None:
        answer["syncToken"] = f"st{_now(call)}"
    return answer


def _calendar_api(handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
    def run(call: Call) -> Any:
        try:
            return handler(call)
        except CalendarEventError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None

    return run


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    async def calendar_view(request: Request) -> Response:
        people = people_of(sandbox.org)
        who = request.query_params.get("user") or None
        owner = None
        if who is not None:
            user = people.by_userid.get(who) or people.by_union.get(who)
            if user is None:
                return JSONResponse({"error": f"no user {who!r}"}, status_code=404)
            owner = user.unionid
        found = sandbox.calendar.everyone(owner, limit=500)
        events = []
        for event in found:
            user = people.by_union.get(event.owner)
            view = calendar_event_json(
                event.id,
                event.data,
                people,
                owner=event.owner,
                created_ms=event.created_ms,
                updated_ms=event.updated_ms,
                deleted=event.deleted,
            )
            events.append(
                {**view, "owner": {"unionid": event.owner, "userid": user and user.userid}}
            )
        return JSONResponse({"events": events})

    return [
        *gateway.routes(
            [
                (api.EVENT_CREATE, _calendar_api(create)),
                (api.EVENT_LIST, _calendar_api(list_events)),
                (api.EVENT_GET, _calendar_api(get)),
                (api.EVENT_UPDATE, _calendar_api(update)),
                (api.EVENT_DELETE, _calendar_api(delete)),
            ]
        ),
        Route("/_sandbox/calendar", calendar_view, methods=["GET"]),
    ]
