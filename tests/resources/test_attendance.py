from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dingkit.resources import attendance

from .conftest import Driver, FakeDingTalk

LIST = "/attendance/list"
RECORDS = "/attendance/listRecord"
CHINA = dt.timezone(dt.timedelta(hours=8))
MAY_1 = dt.date(2024, 5, 1)
MAY_31 = dt.date(2024, 5, 31)
USERS = [f"user{i:03d}" for i in range(120)]


def _when(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def _ms(day: dt.date, hour: int) -> int:
    return int(dt.datetime.combine(day, dt.time(hour), CHINA).timestamp() * 1000)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


class AttendanceServer:
    """Two results a day (on and off duty) for every user, with DingTalk's limits enforced
    (§6.1): ≤ 7 days inclusive, ≤ 50 users, limit ≤ 50."""

    def __init__(self, fake: FakeDingTalk) -> None:
        self.pages: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        fake.route("POST", LIST, self.results)
        fake.route("POST", RECORDS, self.punches)

    def held(self, userids: list[str], first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        return [
            {
                # DingTalk's docs print numbers as strings: accept both.
                "id": f"{int(user[4:])}{day:%Y%m%d}{point}",
                "userId": user,
                "workDate": str(_ms(day, 0)),
                "checkType": ("OnDuty", "OffDuty")[point],
                "timeResult": "Normal",
                "locationResult": "Normal",
                "baseCheckTime": _ms(day, 9 + 9 * point),
                "userCheckTime": _ms(day, 9 + 9 * point),
                "sourceType": "ATM",
                "groupId": "5",
            }
            for user in userids
            for day in _days(first, last)
            for point in (0, 1)
        ]

    def results(self, call: Any) -> dict[str, Any]:
        body = call.json
        first, last = _when(body["workDateFrom"]).date(), _when(body["workDateTo"]).date()
        if (last - first).days > 6:
            return {"errcode": 41041, "errmsg": "时间跨度太大"}
        if len(body["userIdList"]) > 50 or not 1 <= body["limit"] <= 50:
            return {"errcode": 400002, "errmsg": "无效的参数"}
        key = (tuple(body["userIdList"]), first, last)
        if key not in self.pages:
            self.pages[key] = self.held(body["userIdList"], first, last)
        rows = self.pages[key]
        offset, limit = body["offset"], body["limit"]
        return {
            "errcode": 0,
            "recordresult": rows[offset : offset + limit],
            "hasMore": offset + limit < len(rows),
        }

    def punches(self, call: Any) -> dict[str, Any]:
        body = call.json
        start, end = _when(body["checkDateFrom"]), _when(body["checkDateTo"])
        if end - start > dt.timedelta(days=7) or len(body["userIds"]) > 50:
            return {"errcode": 41041, "errmsg": "时间跨度太大"}
        rows = [
            {**row, "isLegal": "Y", "deviceSN": "SN1", "userLatitude": "30.1"}
            for row in self.held(body["userIds"], start.date(), end.date())
            if start <= _at(row["userCheckTime"]) <= end
        ]
        return {"errcode": 0, "recordresult": rows}


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, CHINA).replace(tzinfo=None)


def test_31_days_for_120_users_asks_each_window_chunk_and_page_once(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    server = AttendanceServer(fake)
    found = dingtalk.run(lambda c: c.attendance.results(USERS, MAY_1, MAY_31))

    windows = [(1, 7), (8, 14), (15, 21), (22, 28), (29, 31)]
    chunks = [USERS[:50], USERS[50:100], USERS[100:]]
    expected = [
        (f"2024-05-{begin:02d} 00:00:00", f"2024-05-{end:02d} 00:00:00", chunk, offset, 50)
        for begin, end in windows
        for chunk in chunks
        for offset in range(0, len(chunk) * (end - begin + 1) * 2, 50)
    ]
    asked = [
        (b["workDateFrom"], b["workDateTo"], b["userIdList"], b["offset"], b["limit"])
        for b in fake.bodies()
    ]
    assert asked == expected
    held = server.held(USERS, MAY_1, MAY_31)
    assert len(found) == len(held) == 120 * 31 * 2
    assert sorted(r.id for r in found) == sorted(int(row["id"]) for row in held)
    assert found[0].work_date == _ms(MAY_1, 0)
    assert found[0].group_id == 5


@pytest.mark.parametrize(
    ("users", "days", "requests"),
    [
        ([], 3, 0),  # nobody: nothing to ask
        (["user001"], 1, 1),  # 2 results: one page
        (["user001", "user002"], 7, 1),  # 28 results
        ([f"user{i:03d}" for i in range(25)], 1, 1),  # exactly 50: one full page, no more
        ([f"user{i:03d}" for i in range(26)], 1, 2),  # 52: two pages
    ],
)
def test_paging_edges(
    dingtalk: Driver, fake: FakeDingTalk, users: list[str], days: int, requests: int
) -> None:
    AttendanceServer(fake)
    last = MAY_1 + dt.timedelta(days=days - 1)
    found = dingtalk.run(lambda c: c.attendance.results(users, MAY_1, last))
    assert len(found) == len(users) * days * 2
    assert len(fake.calls) == requests


def test_no_record_is_yielded_twice(dingtalk: Driver, fake: FakeDingTalk) -> None:
    row = {"id": 1, "userId": "u"}
    answers = [
        {"errcode": 0, "recordresult": [row, {**row, "id": 2}], "hasMore": True},
        # The data moved between pages: record 2 comes back on the next page too.
        {"errcode": 0, "recordresult": [{**row, "id": 2}, {**row, "id": 3}], "hasMore": False},
    ]
    fake.route("POST", LIST, lambda call: answers[call.json["offset"] // 2])
    found = dingtalk.run(
        lambda c: c.paginate(lambda: attendance.results(["u"], MAY_1, MAY_1, page_size=2))
    )
    assert [r.id for r in found] == [1, 2, 3]


def test_repeated_users_are_asked_once() -> None:
    assert attendance.chunks(["a", "b", "a"]) == [["a", "b"]]


def test_dates_accept_datetimes_and_refuse_a_reversed_range() -> None:
    flow = attendance.results(["u"], dt.datetime(2024, 5, 1, 15, 30), dt.datetime(2024, 5, 2, 1))
    assert next(flow).json["workDateTo"] == "2024-05-02 00:00:00"
    with pytest.raises(ValueError, match="before"):
        next(attendance.results(["u"], MAY_31, MAY_1))
    with pytest.raises(ValueError, match="page_size"):
        next(attendance.results(["u"], MAY_1, MAY_1, page_size=51))


def test_records_split_whole_days_and_chunks(dingtalk: Driver, fake: FakeDingTalk) -> None:
    server = AttendanceServer(fake)
    found = dingtalk.run(lambda c: c.attendance.records(USERS, MAY_1, MAY_31))
    windows = [(1, 7), (8, 14), (15, 21), (22, 28), (29, 31)]
    chunks = [USERS[:50], USERS[50:100], USERS[100:]]
    assert fake.bodies() == [
        {
            "userIds": chunk,
            "checkDateFrom": f"2024-05-{begin:02d} 00:00:00",
            "checkDateTo": f"2024-05-{end:02d} 23:59:59",
        }
        for begin, end in windows
        for chunk in chunks
    ]
    assert len(found) == len({r.id for r in found}) == len(server.held(USERS, MAY_1, MAY_31))
    first = found[0]
    assert (first.is_legal, first.device_sn, first.user_latitude) == ("Y", "SN1", 30.1)


def test_records_respect_the_time_of_day(dingtalk: Driver, fake: FakeDingTalk) -> None:
    AttendanceServer(fake)
    start = dt.datetime(2024, 5, 1, 8, 30)
    end = dt.datetime(2024, 5, 9, 18, 0)
    found = dingtalk.run(lambda c: c.attendance.records(["user001"], start, end))
    assert [(b["checkDateFrom"], b["checkDateTo"]) for b in fake.bodies()] == [
        ("2024-05-01 08:30:00", "2024-05-08 08:29:59"),
        ("2024-05-08 08:30:00", "2024-05-09 18:00:00"),
    ]
    assert len(found) == 9 * 2  # 09:00 and 18:00 of 1-9 May are all inside


def test_aware_datetimes_are_read_in_china_time() -> None:
    start = dt.datetime(2024, 5, 1, 0, 30, tzinfo=dt.UTC)
    request = next(attendance.records(["u"], start, start + dt.timedelta(hours=1)))
    assert request.json["checkDateFrom"] == "2024-05-01 08:30:00"
