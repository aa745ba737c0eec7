"""``dingkit calendar``: events in users' primary calendars (§4), over ``client.calendar``.

Users are userIds, resolved to the unionIds DingTalk's paths take by the SDK; ``--union-id``
says they are unionIds already. Times are ISO-8601; one without an offset is read in ``--tz``
(default: this machine's zone). Two dates make an all-day event, ``--end`` its last day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._params import aware, parse_moment, zone_info
from ._server import (
    CsvFlag,
    DryRunOpt,
    Format,
    FormatOpt,
    JsonFlag,
    JsonResult,
    YesOpt,
    choose_format,
    confirm,
    emit,
    emit_one,
    open_client,
    print_dry_run,
    progress,
)

if TYPE_CHECKING:
    from .._client import DingTalk

app = typer.Typer(
    help="Calendar events (日程) of users' primary calendars.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

UserOpt = Annotated[
    str, typer.Option("--user", "-u", help="Whose calendar: a userId (or unionId, --union-id).")
]
UnionOpt = Annotated[
    bool,
    typer.Option("--union-id", help="--user and --attendee are unionIds, not userIds."),
]
EventArg = Annotated[str, typer.Argument(help="The event id.")]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone of times given without an offset, e.g. Asia/Shanghai (default: this"
        " machine's).",
    ),
]
StartOpt = Annotated[
    Any,
    typer.Option(
        "--start", parser=parse_moment, metavar="TIME", help="ISO time, or a date (all-day)."
    ),
]
EndOpt = Annotated[
    Any,
    typer.Option(
        "--end", parser=parse_moment, metavar="TIME", help="ISO time, or the last day (all-day)."
    ),
]
AllDayOpt = Annotated[bool, typer.Option("--all-day", help="A whole-day event (dates).")]
DescriptionOpt = Annotated[str | None, typer.Option("--description", help="Event details.")]
AttendeeOpt = Annotated[
    list[str] | None, typer.Option("--attendee", "-a", help="An attendee's userId (repeatable).")
]
LocationOpt = Annotated[str | None, typer.Option("--location", help="Where.")]
ReminderOpt = Annotated[
    list[int] | None,
    typer.Option("--reminder", help="Minutes before the start (repeatable; default 15).", min=0),
]

EVENT_FIELDS = (
    "id",
    "summary",
    "start",
    "end",
    "isAllDay",
    "location",
    "description",
    "organizer",
    "attendees",
    "status",
)
LIST_COLUMNS = ("id", "summary", "start", "end", "location", "status")


def _when(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    return str(value.get("dateTime") or value.get("date") or "")


def _readable(row: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    shown["start"], shown["end"] = _when(row.get("start")), _when(row.get("end"))
    location = row.get("location")
    shown["location"] = location.get("displayName", "") if isinstance(location, dict) else ""
    organizer = row.get("organizer")
    if isinstance(organizer, dict):
        shown["organizer"] = organizer.get("displayName") or organizer.get("id")
    shown["attendees"] = ", ".join(
        str(a.get("displayName") or a.get("id")) for a in row.get("attendees") or ()
    )
    return shown


def _times(
    start: Any, end: Any, all_day: bool, zone: str | None
) -> tuple[dt.date | None, dt.date | None, bool]:
    """Start and end as the SDK takes them, and whether the event is all-day."""
    if (start is None) != (end is None):
        raise typer.BadParameter("give --start and --end together")
    if start is None:
        return None, None, all_day
    dates = not isinstance(start, dt.datetime) and not isinstance(end, dt.datetime)
    if all_day or dates:
        first = start.date() if isinstance(start, dt.datetime) else start
        last = end.date() if isinstance(end, dt.datetime) else end
        if last < first:
            raise typer.BadParameter(f"--end {last} is before --start {first}")
        return first, last, True
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        raise typer.BadParameter("give both --start and --end as times, or both as dates")
    start, end = aware(start, zone), aware(end, zone)
    if end <= start:
        raise typer.BadParameter(f"--end {end.isoformat()} is not after --start")
    return start, end, False


def _zone(zone: str | None) -> str | None:
    if zone is not None:
        zone_info(zone)  # a clear error now rather than DingTalk's later
    return zone


def _union(client: DingTalk, user: str, union_id: bool) -> str:
    """``user``'s unionId, which calendar paths take (a dry run reads it, writes nothing)."""
    from ..resources import calendar

    return user if union_id else client.request(calendar.union_id(user))


def _print_event(event: Any, fmt: Format) -> None:
    emit_one(event, fmt, fields=EVENT_FIELDS, table=_readable)


@app.command("create")
def create(
    user: UserOpt,
    summary: Annotated[str, typer.Option("--summary", help="The title.")],
    start: StartOpt,
    end: EndOpt,
    all_day: AllDayOpt = False,
    description: DescriptionOpt = None,
    attendee: AttendeeOpt = None,
    location: LocationOpt = None,
    reminder: ReminderOpt = None,
    tz: TzOpt = None,
    union_id: UnionOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Create an event in a user's calendar; prints it (with its id)."""
    fmt = choose_format(output, as_json, as_csv)
    first, last, whole_days = _times(start, end, all_day, _zone(tz))
    if first is None or last is None:
        raise typer.BadParameter("give --start and --end")
    with open_client(as_json=fmt is Format.json) as client:
        if dry_run:
            from ..resources import calendar

            body = calendar.event_body(
                summary=summary,
                start=first,
                end=last,
                all_day=whole_days,
                time_zone=tz if not whole_days else None,
                description=description,
                attendees=[_union(client, a, union_id) for a in attendee or ()] or None,
                location=location,
                reminders=reminder,
            )
            request = calendar.create(_union(client, user, union_id), body)
            print_dry_run(request, as_json=fmt is Format.json)
            return
        event = client.calendar.create(
            user,
            summary,
            first,
            last,
            union_id=union_id,
            all_day=whole_days,
            time_zone=tz if not whole_days else None,
            description=description,
            attendees=attendee or (),
            location=location,
            reminders=reminder,
        )
    _print_event(event, fmt)


@app.command("list")
def list_(
    user: UserOpt,
    date_from: Annotated[
        Any,
        typer.Option(
            "--from", parser=parse_moment, metavar="TIME", help="Events starting from (a date)."
        ),
    ] = None,
    date_to: Annotated[
        Any,
        typer.Option(
            "--to", parser=parse_moment, metavar="TIME", help="...up to (a date: its end)."
        ),
    ] = None,
    show_deleted: Annotated[bool, typer.Option("--show-deleted")] = False,
    tz: TzOpt = None,
    union_id: UnionOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List a user's events (paged for you)."""
    fmt = choose_format(output, as_json, as_csv)
    zone = _zone(tz)
    time_min = _bound(date_from, zone, end=False)
    time_max = _bound(date_to, zone, end=True)
    if time_min and time_max and time_max <= time_min:
        raise typer.BadParameter("--to is not after --from")
    with open_client(as_json=fmt is Format.json) as client:
        events = client.calendar.list(
            user,
            union_id=union_id,
            time_min=time_min,
            time_max=time_max,
            show_deleted=show_deleted,
        )
        emit(progress(iter(events), "events"), fmt, columns=LIST_COLUMNS, table=_readable)


def _bound(value: Any, zone: str | None, *, end: bool) -> dt.datetime | None:
    """A time for the list's bounds; a date is its midnight, or for ``end`` the next one."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        day = value + dt.timedelta(days=1) if end else value
        value = dt.datetime.combine(day, dt.time())
    return aware(value, zone)


@app.command("get")
def get(
    user: UserOpt,
    event_id: EventArg,
    union_id: UnionOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Show one event."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        event = client.calendar.get(user, event_id, union_id=union_id)
    _print_event(event, fmt)


@app.command("update")
def update(
    user: UserOpt,
    event_id: EventArg,
    summary: Annotated[str | None, typer.Option("--summary")] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    all_day: AllDayOpt = False,
    description: DescriptionOpt = None,
    attendee: AttendeeOpt = None,
    location: LocationOpt = None,
    reminder: ReminderOpt = None,
    tz: TzOpt = None,
    union_id: UnionOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Change an event: only what you give is sent (--attendee replaces the attendees)."""
    fmt = choose_format(output, as_json, as_csv)
    first, last, whole_days = _times(start, end, all_day, _zone(tz))
    changes = (summary, first, description, attendee, location, reminder)
    if all(value is None for value in changes):
        raise typer.BadParameter("nothing to change: give --summary, --start/--end, ...")
    with open_client(as_json=fmt is Format.json) as client:
        if dry_run:
            from ..resources import calendar

            body = calendar.event_body(
                summary=summary,
                start=first,
                end=last,
                all_day=whole_days,
                time_zone=tz if first is not None and not whole_days else None,
                description=description,
                attendees=None
                if attendee is None
                else [_union(client, a, union_id) for a in attendee],
                location=location,
                reminders=reminder,
            )
            request = calendar.update(_union(client, user, union_id), event_id, body)
            print_dry_run(request, as_json=fmt is Format.json)
            return
        event = client.calendar.update(
            user,
            event_id,
            union_id=union_id,
            summary=summary,
            start=first,
            end=last,
            all_day=whole_days,
            time_zone=tz if first is not None and not whole_days else None,
            description=description,
            attendees=attendee,
            location=location,
            reminders=reminder,
        )
    _print_event(event, fmt)


@app.command("delete")
def delete(
    user: UserOpt,
    event_id: EventArg,
    notify: Annotated[
        bool | None,
        typer.Option("--notify/--no-notify", help="Tell the attendees (DingTalk's default)."),
    ] = None,
    union_id: UnionOpt = False,
    as_json: JsonResult = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Delete an event (asks first on a terminal; --yes does not)."""
    with open_client(as_json=as_json) as client:
        if dry_run:
            from ..resources import calendar

            request = calendar.delete(
                _union(client, user, union_id), event_id, push_notification=notify
            )
            print_dry_run(request, as_json=as_json)
            return
        confirm(f"Delete event {event_id} from {user}'s calendar?", yes=yes)
        client.calendar.delete(user, event_id, union_id=union_id, push_notification=notify)
    if as_json:
        from ._output import print_json

        print_json({"ok": True, "event_id": event_id, "action": "deleted"})
    else:
        typer.echo(f"deleted event {event_id}")
