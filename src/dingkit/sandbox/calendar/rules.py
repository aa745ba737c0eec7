"""The rules of a person's primary calendar (§4), without HTTP: creating an event (the
``x-client-token`` idempotency and the 100-a-day limit), changing and deleting one. The
checks of an event's fields are in :mod:`.model`; a refusal raises
:class:`~.model.CalendarEventError` with DingTalk's status and code.

    event = create_calendar_event(sandbox, owner_union_id, body, client_token=None)
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..._wire import china_midnight_ms
from .model import CalendarEventError, check_calendar_event, people_of
from .records import StoredCalendarEvent

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = [
    "DAILY_LIMIT",
    "create_calendar_event",
    "delete_calendar_event",
    "live_calendar_event",
    "update_calendar_event",
]

#: New events per user per China day (§4.1); ``limits = false`` switches it off.
DAILY_LIMIT = 100
_DAY_MS = 86_400_000
_ID_ALPHABET = string.ascii_letters + string.digits


def live_calendar_event(sandbox: Sandbox, owner: str, event_id: str) -> StoredCalendarEvent:
    """The owner's event, not deleted; else 404 ``itemNotFound``."""
    event = sandbox.calendar.get(owner, event_id)
    if event is None or event.deleted:
        raise CalendarEventError("Event not found", status=404, code="itemNotFound")
    return event


def create_calendar_event(
    sandbox: Sandbox, owner: str, body: Any, *, client_token: str | None
) -> StoredCalendarEvent:
    """A new event in ``owner``'s calendar; with a ``client_token`` seen for this owner in
    the last 24 hours, the event that token created then (§4, "kept for 1 day")."""
    records, now = sandbox.calendar, sandbox.now_ms()
    if client_token is not None:
        earlier = records.by_client_token(owner, client_token, now - _DAY_MS)
        if earlier is not None:
            return earlier
    fields = check_calendar_event(body, people_of(sandbox.org))
    if sandbox.config.limits and records.created_since(owner, china_midnight_ms(now)) >= (
        DAILY_LIMIT
    ):
        raise CalendarEventError(
            f"current user can not create events exceed {DAILY_LIMIT} per day", code="flowLimit"
        )
    start_ms = fields.pop("_start_ms")
    # Letters and digits only: an id starting with "-" would read as an option on a command line.
    event_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))
    event = StoredCalendarEvent(event_id, owner, start_ms, now, now, False, fields)
    records.add(event, client_token=client_token)
    return event


def update_calendar_event(
    sandbox: Sandbox, owner: str, event_id: str, body: Any
) -> StoredCalendarEvent:
    """Change an event: the fields sent replace the kept ones (``id`` must match)."""
    event = live_calendar_event(sandbox, owner, event_id)
    if not isinstance(body, Mapping) or not body:
        raise CalendarEventError("Event must be provided.")
    if not body.get("id"):
        raise CalendarEventError("Event id cannot be blank")
    if body["id"] != event.id:
        raise CalendarEventError("Event id does not match the path")
    changes = {key: value for key, value in body.items() if key != "id" and value is not None}
    kept = dict(event.data)
    if ("start" in changes or "end" in changes) and "isAllDay" not in changes:
        kept.pop("isAllDay", None)  # inferred again from the new times
    fields = check_calendar_event({**kept, **changes}, people_of(sandbox.org))
    start_ms = fields.pop("_start_ms")
    changed = StoredCalendarEvent(
        event.id, owner, start_ms, event.created_ms, sandbox.now_ms(), False, fields
    )
    sandbox.calendar.save(changed)
    return changed


def delete_calendar_event(sandbox: Sandbox, owner: str, event_id: str) -> None:
    """Delete an event: kept, marked deleted (lists show it as cancelled on request)."""
    event = live_calendar_event(sandbox, owner, event_id)
    gone = StoredCalendarEvent(
        event.id, owner, event.start_ms, event.created_ms, sandbox.now_ms(), True, event.data
    )
    sandbox.calendar.save(gone)
