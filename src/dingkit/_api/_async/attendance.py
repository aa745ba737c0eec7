"""``client.attendance``: attendance results and punch records (§6)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..._pagination import AsyncPager
from ...resources import attendance
from ...resources.attendance import AttendanceResult, DateLike, PunchRecord

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncAttendanceAPI:
    """Attendance for any range of days and any number of users (split and paged for you)."""

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    def results(
        self, userids: Sequence[str], date_from: DateLike, date_to: DateLike
    ) -> AsyncPager[AttendanceResult]:
        """One result per scheduled check point, ``date_from``..``date_to`` inclusive."""
        return self._client.paginate(lambda: attendance.results(userids, date_from, date_to))

    def records(
        self, userids: Sequence[str], date_from: DateLike, date_to: DateLike
    ) -> AsyncPager[PunchRecord]:
        """Every punch, valid or not (dates: whole days; datetimes: to the second)."""
        return self._client.paginate(lambda: attendance.records(userids, date_from, date_to))
