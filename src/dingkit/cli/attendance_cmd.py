"""``dingkit attendance results|records``: attendance over any range and any number of people
(§6). The SDK splits into 7-day windows and 50-user chunks and pages; ``--dept`` expands to the
department's members first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._params import china_time, parse_date
from ._server import (
    CsvFlag,
    Format,
    FormatOpt,
    JsonFlag,
    choose_format,
    emit,
    open_client,
    progress,
)

if TYPE_CHECKING:
    from .._client import DingTalk
    from ..resources.attendance import AttendanceResult, PunchRecord

app = typer.Typer(
    help="Attendance results and punch records, for any range of days and any number of users.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

FromOpt = Annotated[
    dt.date,
    typer.Option("--from", parser=parse_date, metavar="DATE", help="First day, YYYY-MM-DD."),
]
ToOpt = Annotated[
    dt.date,
    typer.Option(
        "--to", parser=parse_date, metavar="DATE", help="Last day, YYYY-MM-DD (inclusive)."
    ),
]
UserOpt = Annotated[list[str] | None, typer.Option("--user", "-u", help="A userId (repeatable).")]
DeptOpt = Annotated[
    list[int] | None,
    typer.Option("--dept", "-d", help="Everyone in a department (repeatable).", min=1),
]
RecursiveOpt = Annotated[
    bool, typer.Option("--recursive", "-r", help="With --dept: include sub-departments.")
]

RESULT_COLUMNS = (
    "userId",
    "workDate",
    "checkType",
    "timeResult",
    "locationResult",
    "baseCheckTime",
    "userCheckTime",
    "sourceType",
)
RECORD_COLUMNS = (
    "userId",
    "workDate",
    "checkType",
    "timeResult",
    "locationResult",
    "userCheckTime",
    "sourceType",
    "isLegal",
    "userAddress",
)


def _readable(row: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(row)
    if "workDate" in shown:
        shown["workDate"] = china_time(shown["workDate"])[:10]
    for name in ("baseCheckTime", "userCheckTime"):
        if name in shown:
            shown[name] = china_time(shown[name])
    return shown


def _userids(
    client: DingTalk, users: list[str] | None, depts: list[int] | None, recursive: bool
) -> list[str]:
    found = list(users or ())
    for dept in depts or ():
        ids = [dept]
        if recursive:
            ids += [child.dept_id for child in client.contacts.walk(dept)]
        for dept_id in ids:
            found += client.contacts.user_ids(dept_id)
    return list(dict.fromkeys(found))


def _check(date_from: dt.date, date_to: dt.date, users: Any, depts: Any) -> None:
    if not users and not depts:
        raise typer.BadParameter("give --user USERID (repeatable) or --dept ID")
    if date_to < date_from:
        raise typer.BadParameter(f"--to {date_to} is before --from {date_from}")


def _export(
    kind: str,
    columns: tuple[str, ...],
    date_from: dt.date,
    date_to: dt.date,
    user: list[str] | None,
    dept: list[int] | None,
    recursive: bool,
    fmt: Format,
) -> None:
    """Resolve the users, fetch results or punches (split and paged by the SDK), print them."""
    _check(date_from, date_to, user, dept)
    with open_client(as_json=fmt is Format.json) as client:
        userids = _userids(client, user, dept, recursive)
        fetch = client.attendance.results if kind == "results" else client.attendance.records
        seen: set[str] = set()
        rows = (_note(row, seen) for row in fetch(userids, date_from, date_to))
        emit(progress(rows, kind), fmt, columns=columns, table=_readable)
        # DingTalk answers nothing at all for a userId it does not know: without a word, a
        # typo reads as "no attendance".
        unknown = _unknown(client, [u for u in dict.fromkeys(user or ()) if u not in seen])
        if unknown:
            typer.echo(
                f"warning: not in the organisation (no attendance for them): {', '.join(unknown)}",
                err=True,
            )


def _note(row: AttendanceResult | PunchRecord, seen: set[str]) -> AttendanceResult | PunchRecord:
    seen.add(row.user_id)
    return row


def _unknown(client: DingTalk, userids: list[str]) -> list[str]:
    """Those of ``userids`` (given with --user, without a row) the organisation does not know."""
    from .._exceptions import BadRequestError, NotFoundError

    unknown = []
    for userid in userids:
        try:
            client.contacts.user(userid)
        except (NotFoundError, BadRequestError):
            unknown.append(userid)
    return unknown


@app.command("results")
def results(
    date_from: FromOpt,
    date_to: ToOpt,
    user: UserOpt = None,
    dept: DeptOpt = None,
    recursive: RecursiveOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Attendance results (/attendance/list): one row per check point of each working day."""
    _export(
        "results",
        RESULT_COLUMNS,
        date_from,
        date_to,
        user,
        dept,
        recursive,
        choose_format(output, as_json, as_csv),
    )


@app.command("records")
def records(
    date_from: FromOpt,
    date_to: ToOpt,
    user: UserOpt = None,
    dept: DeptOpt = None,
    recursive: RecursiveOpt = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Punch records (/attendance/listRecord): every punch, valid or not."""
    _export(
        "punches",
        RECORD_COLUMNS,
        date_from,
        date_to,
        user,
        dept,
        recursive,
        choose_format(output, as_json, as_csv),
    )
