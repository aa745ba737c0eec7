"""Attendance (考勤), old API with camelCase bodies, §6 of the protocol reference. No I/O.

DingTalk answers at most 7 days and 50 users per call; the flows here take any range and
any number of users, ask window by window (oldest first) and chunk by chunk, page where
DingTalk pages, and yield each record once.

    >>> results(userids, date(2024, 5, 1), date(2024, 5, 31))   # 5 windows x chunks x pages
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import Field

from .._pagination import Page, PageFlow
from .._request import Endpoint
from .._wire import CHINA, CHINA_TIME_FORMAT
from ._models import CamelModel, guaranteed

__all__ = [
    "ATTENDANCE_LIST",
    "ATTENDANCE_LIST_RECORD",
    "MAX_DAYS",
    "MAX_PAGE",
    "MAX_USERS",
    "AttendanceResult",
    "PunchRecord",
    "chunks",
    "day_windows",
    "records",
    "results",
    "time_windows",
]

MAX_DAYS = 7  # span of one call, inclusive (§6.1, §6.2)
MAX_USERS = 50  # userIds per call
MAX_PAGE = 50  # `limit` of /attendance/list
_FORMAT = CHINA_TIME_FORMAT

# The endpoints (§6): old, non-topapi paths, whose gateway answers bad parameters with 40035
# (as /gettoken does, §1.1) [I]. Permission point [I: the console's attendance-read one].
ATTENDANCE_LIST = Endpoint(
    "POST",
    "/attendance/list",
    scope="qyapi_attendance_read",
    param_error=40035,
    page_size=MAX_PAGE,
)
ATTENDANCE_LIST_RECORD = Endpoint(
    "POST",
    "/attendance/listRecord",
    scope="qyapi_attendance_read",
    param_error=40035,
    # [I] Some SDKs write the path in lower case (007gzs/dingtalk-sdk and others).
    aliases=("/attendance/listrecord",),
)


class AttendanceResult(CamelModel):
    """One scheduled check point of one day (§6.1). Times are epoch milliseconds.

    ``time_result``: ``Normal``, ``Early``, ``Late``, ``SeriousLate``, ``Absenteeism``,
    ``NotSigned``; ``location_result``: ``Normal``, ``Outside``, ``NotSigned``.
    """

    id: int | None = None
    record_id: int | None = None
    user_id: str
    work_date: int | None = None
    check_type: str | None = None  # OnDuty / OffDuty
    time_result: str | None = None
    location_result: str | None = None
    base_check_time: int | None = None
    user_check_time: int | None = None
    source_type: str | None = None
    group_id: int | None = None
    plan_id: int | None = None
    proc_inst_id: str | None = None
    approve_id: int | None = None


class PunchRecord(CamelModel):
    """One punch, valid or not (§6.2). Times are epoch milliseconds; ``is_legal`` is
    ``"Y"`` when both results are Normal."""

    id: int | None = None
    user_id: str
    corp_id: str | None = None
    work_date: int | None = None
    check_type: str | None = None
    time_result: str | None = None
    location_result: str | None = None
    source_type: str | None = None
    user_check_time: int | None = None
    base_check_time: int | None = None
    plan_check_time: int | None = None
    is_legal: str | None = None
    invalid_record_type: str | None = None
    invalid_record_msg: str | None = None
    user_address: str | None = None
    user_latitude: float | None = None
    user_longitude: float | None = None
    user_accuracy: float | None = None
    location_method: str | None = None
    device_id: str | None = None
    device_sn: str | None = Field(default=None, alias="deviceSN")
    user_ssid: str | None = None
    user_mac_addr: str | None = None
    base_address: str | None = None
    base_latitude: float | None = None
    base_longitude: float | None = None
    base_accuracy: float | None = None
    base_ssid: str | None = None
    base_mac_addr: str | None = None
    class_id: int | None = None
    plan_id: int | None = None
    group_id: int | None = None
    proc_inst_id: str | None = None
    approve_id: int | None = None
    biz_id: str | None = None
    outside_remark: str | None = None
    photo_url: str | None = None
    gmt_create: int | None = None
    gmt_modified: int | None = None


#: A date or datetime, or its ISO text ("2026-10-01", "2026-10-01 09:30:00").
DateLike = dt.date | str


def as_date(value: DateLike) -> dt.date:
    """``value`` as a date or datetime; ISO strings are parsed."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _day(value: DateLike) -> dt.date:
    value = as_date(value)
    return value.date() if isinstance(value, dt.datetime) else value


def day_windows(date_from: DateLike, date_to: DateLike) -> Iterator[tuple[dt.date, dt.date]]:
    """Whole days ``date_from``..``date_to`` (inclusive) as windows of at most 7 days."""
    first, last = _day(date_from), _day(date_to)
    if last < first:
        raise ValueError(f"date_to {last} is before date_from {first}")
    while first <= last:
        stop = min(first + dt.timedelta(days=MAX_DAYS - 1), last)
        yield first, stop
        first = stop + dt.timedelta(days=1)


def time_windows(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """``start``..``end`` (inclusive, to the second) as windows spanning under 7 days."""
    if end < start:
        raise ValueError(f"date_to {end} is before date_from {start}")
    span, second = dt.timedelta(days=MAX_DAYS), dt.timedelta(seconds=1)
    while start <= end:
        stop = min(start + span - second, end)
        yield start, stop
        start = stop + second


def chunks(userids: Sequence[str]) -> list[list[str]]:
    """``userids`` without repeats, in chunks of at most 50."""
    if isinstance(userids, str):
        userids = [userids]
    unique = list(dict.fromkeys(userids))
    return [unique[i : i + MAX_USERS] for i in range(0, len(unique), MAX_USERS)]


def _unseen(items: list[Any], seen: set[Any], key: Any) -> list[Any]:
    # `seen` belongs to one run of a flow: a record that offset paging shows twice (the data
    # moved between pages) is yielded once.
    fresh = []
    for item in items:
        ident = key(item)
        if ident is None or ident not in seen:
            seen.add(ident)
            fresh.append(item)
    return fresh


def _result_page(data: dict[str, Any], seen: set[Any]) -> Page[AttendanceResult]:
    records = guaranteed(data, "recordresult", list)  # [] is a real "nothing" (§6.1)
    items = [AttendanceResult.model_validate(x) for x in records]
    items = _unseen(items, seen, lambda r: r.id)
    return Page(items, has_more=bool(data.get("hasMore")))


def results(
    userids: Sequence[str],
    date_from: DateLike,
    date_to: DateLike,
    *,
    page_size: int = MAX_PAGE,
) -> PageFlow[AttendanceResult]:
    """Attendance results (``/attendance/list``) of ``userids`` for the whole days
    ``date_from``..``date_to`` (inclusive, any span): 7-day windows x 50-user chunks, each
    paged with offset/limit."""
    if not 1 <= page_size <= MAX_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
    groups, windows = chunks(userids), list(day_windows(date_from, date_to))
    seen: set[Any] = set()
    for first, last in windows:
        for group in groups:
            offset = 0
            while True:
                page = yield ATTENDANCE_LIST.request(
                    json={
                        # Only the date counts: the whole day, 0-24 h (§6.1).
                        "workDateFrom": f"{first.isoformat()} 00:00:00",
                        "workDateTo": f"{last.isoformat()} 00:00:00",
                        "userIdList": group,
                        "offset": offset,
                        "limit": page_size,
                    },
                    parse=lambda d: _result_page(d, seen),
                )
                if not page.has_more:
                    break
                offset += page_size


def _record_page(data: dict[str, Any], seen: set[Any]) -> Page[PunchRecord]:
    items = [PunchRecord.model_validate(x) for x in guaranteed(data, "recordresult", list)]
    return Page(_unseen(items, seen, lambda r: r.id))


def _bounds(date_from: DateLike, date_to: DateLike) -> tuple[dt.datetime, dt.datetime]:
    date_from, date_to = as_date(date_from), as_date(date_to)
    # Dates mean whole days; datetimes are taken to the second (listRecord respects them).
    start = (
        date_from
        if isinstance(date_from, dt.datetime)
        else dt.datetime.combine(date_from, dt.time())
    )
    end = (
        date_to
        if isinstance(date_to, dt.datetime)
        else dt.datetime.combine(date_to, dt.time(23, 59, 59))
    )
    # DingTalk reads the wall-clock time of the organisation, China Standard Time [I].
    return _china(start), _china(end)


def _china(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(CHINA).replace(tzinfo=None)


def records(
    userids: Sequence[str], date_from: DateLike, date_to: DateLike
) -> PageFlow[PunchRecord]:
    """Every punch (``/attendance/listRecord``) of ``userids`` between ``date_from`` and
    ``date_to`` (dates: whole days; datetimes: to the second), split like :func:`results`;
    DingTalk does not page these."""
    groups = chunks(userids)
    seen: set[Any] = set()
    for start, stop in time_windows(*_bounds(date_from, date_to)):
        for group in groups:
            yield ATTENDANCE_LIST_RECORD.request(
                json={
                    "userIds": group,
                    "checkDateFrom": start.strftime(_FORMAT),
                    "checkDateTo": stop.strftime(_FORMAT),
                },
                parse=lambda d: _record_page(d, seen),
            )
