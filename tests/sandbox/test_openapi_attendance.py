from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from dingkit.sandbox import Sandbox
from dingkit.sandbox.contacts.org import BOSS_USERID

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
LIST = "/attendance/list"
RECORDS = "/attendance/listRecord"
MONDAY = date(2024, 6, 3)

RESULT_FIELDS = {
    "id", "recordId", "userId", "workDate", "checkType", "timeResult", "locationResult",
    "baseCheckTime", "userCheckTime", "sourceType", "groupId", "planId",
}  # fmt: skip
PUNCH_FIELDS = {
    "id", "userId", "corpId", "workDate", "checkType", "timeResult", "locationResult",
    "sourceType", "userCheckTime", "baseCheckTime", "planCheckTime", "isLegal", "userAddress",
    "userLatitude", "userLongitude", "userAccuracy", "locationMethod", "deviceId", "deviceSN",
    "userSsid", "userMacAddr", "baseAddress", "baseLatitude", "baseLongitude", "baseAccuracy",
    "baseSsid", "baseMacAddr", "classId", "planId", "groupId", "bizId", "outsideRemark",
    "photoUrl", "gmtCreate", "gmtModified",
}  # fmt: skip


def day_text(day: date, time: str = "00:00:00") -> str:
    return f"{day.isoformat()} {time}"


def list_body(
    users: list[str], first: date, last: date, offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    return {
        "workDateFrom": day_text(first),
        "workDateTo": day_text(last),
        "userIdList": users,
        "offset": offset,
        "limit": limit,
    }


async def all_results(
    client: Any, users: list[str], first: date, last: date, limit: int = 50
) -> list[dict[str, Any]]:
    token = await client.token()
    offset, records = 0, []
    while True:
        answer = await client.ok(LIST, list_body(users, first, last, offset, limit), token=token)
        assert "request_id" not in answer  # not a /topapi/ path
        records += answer["recordresult"]
        if not answer["hasMore"]:
            return records
        assert len(answer["recordresult"]) == limit
        offset += limit


# -- /attendance/list ------------------------------------------------------------------


async def test_one_result_per_check_point_on_working_days(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    records = await all_results(client, [BOSS_USERID], MONDAY, MONDAY + timedelta(days=6))
    assert len(records) == 10  # Monday to Friday, OnDuty and OffDuty; nothing at the weekend
    assert [r["checkType"] for r in records] == ["OnDuty", "OffDuty"] * 5
    assert {r["userId"] for r in records} == {BOSS_USERID}
    for record in records:
        expected = RESULT_FIELDS if "recordId" in record else RESULT_FIELDS - {"recordId"}
        assert expected <= set(record) <= expected | {"procInstId", "approveId"}
        hour = 9 if record["checkType"] == "OnDuty" else 18
        assert record["baseCheckTime"] - record["workDate"] == hour * 3_600_000
    assert records[0]["workDate"] == 1717344000000  # 2024-06-03 00:00 China time


async def test_results_page_with_offset_and_limit(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox(qps=0)  # 100 pages in no time on the fake clock
    client = connect(sandbox)
    users = [u.userid for u in sandbox.org.users[:50]]
    week = (MONDAY, MONDAY + timedelta(days=6))
    records = await all_results(client, users, *week)
    assert len(records) == 50 * 5 * 2
    assert len({r["id"] for r in records}) == 500
    # Pages of any size and offset are slices of the same list.
    for offset, limit in ((3, 7), (499, 50), (0, 1), (500, 10), (600, 5)):
        answer = await client.ok(LIST, list_body(users, *week, offset=offset, limit=limit))
        assert answer["recordresult"] == records[offset : offset + limit]
        assert answer["hasMore"] is (offset + limit < 500)
    assert await all_results(client, users, *week, limit=7) == records


async def test_results_include_not_signed_points(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    users = [u.userid for u in sandbox.org.users[:50]]
    records = await all_results(connect(sandbox), users, MONDAY, MONDAY + timedelta(days=4))
    not_signed = [r for r in records if r["timeResult"] == "NotSigned"]
    assert not_signed
    assert all("recordId" not in r and r["locationResult"] == "NotSigned" for r in not_signed)
    assert all("recordId" in r for r in records if r["timeResult"] != "NotSigned")


async def test_a_realistic_mix_of_results(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox(qps=0)
    client = connect(sandbox)
    users = [u.userid for u in sandbox.org.users[:50]]
    records: list[dict[str, Any]] = []
    for week in range(4):
        first = MONDAY + timedelta(weeks=week)
        records += await all_results(client, users, first, first + timedelta(days=6))
    counts = Counter(r["timeResult"] for r in records)
    assert set(counts) == {"Normal", "Late", "Early", "SeriousLate", "Absenteeism", "NotSigned"}
    assert counts["Normal"] > 0.75 * len(records)
    assert {"Normal", "Outside", "NotSigned"} <= {r["locationResult"] for r in records}
    assert {"USER", "ATM", "APPROVE", "SYSTEM"} <= {r["sourceType"] for r in records}
    approved = [r for r in records if r["sourceType"] == "APPROVE"]
    assert all(r["procInstId"] and r["approveId"] for r in approved)


@pytest.mark.parametrize(
    ("days", "errcode"),
    [(0, 0), (6, 0), (7, 41041), (30, 41041), (-1, 40035)],
    ids=["one-day", "seven-dates", "eight-dates", "a-month", "backwards"],
)
async def test_results_span_at_most_seven_dates(
    open_sandbox: OpenSandbox, connect: Connect, days: int, errcode: int
) -> None:
    body = list_body([BOSS_USERID], MONDAY, MONDAY + timedelta(days=days))
    body["workDateTo"] = day_text(MONDAY + timedelta(days=days), "23:59:59")
    answer = await connect(open_sandbox()).oapi(LIST, body)
    assert answer["errcode"] == errcode, answer
    if errcode == 41041:
        assert answer == {"errcode": 41041, "errmsg": "时间跨度太大"}


@pytest.mark.parametrize(
    "change",
    [
        {"userIdList": [f"user{n}" for n in range(51)]},
        {"userIdList": []},
        {"userIdList": "manager0001"},
        {"limit": 51},
        {"limit": 0},
        {"offset": -1},
        {"offset": None},
        {"limit": None},
        {"workDateFrom": "2024-06-03"},
        {"workDateTo": "2024/06/04 00:00:00"},
        {"workDateFrom": None},
        {"isI18n": "sometimes"},
    ],
)
async def test_result_parameter_errors_are_40035(
    open_sandbox: OpenSandbox, connect: Connect, change: dict[str, Any]
) -> None:
    body = {**list_body([BOSS_USERID], MONDAY, MONDAY), **change}
    body = {key: value for key, value in body.items() if value is not None}
    answer = await connect(open_sandbox()).oapi(LIST, body)
    assert answer["errcode"] == 40035, answer


async def test_unknown_and_repeated_users(open_sandbox: OpenSandbox, connect: Connect) -> None:
    client = connect(open_sandbox())
    answer = await client.ok(LIST, list_body(["nobody", "no-one"], MONDAY, MONDAY))
    assert answer == {"errcode": 0, "errmsg": "ok", "recordresult": [], "hasMore": False}
    twice = await client.ok(LIST, list_body([BOSS_USERID, "nobody", BOSS_USERID], MONDAY, MONDAY))
    assert len(twice["recordresult"]) == 2


# -- /attendance/listRecord -----------------------------------------------------------


def record_body(users: list[str], start: str, end: str) -> dict[str, Any]:
    return {"userIds": users, "checkDateFrom": start, "checkDateTo": end}


async def test_punches_of_a_week(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    users = [u.userid for u in sandbox.org.users[:50]]
    week = (day_text(MONDAY), day_text(MONDAY + timedelta(days=6), "23:59:59"))
    punches = (await client.ok(RECORDS, record_body(users, *week)))["recordresult"]
    results = await all_results(client, users, MONDAY, MONDAY + timedelta(days=6))
    signed = [r for r in results if r["timeResult"] != "NotSigned"]
    # Every signed result points at a punch; some days have more punches than results.
    by_id = {p["id"]: p for p in punches}
    assert all(r["recordId"] in by_id for r in signed)
    assert len(punches) > len(signed)
    assert not any(p["timeResult"] == "NotSigned" for p in punches)
    for punch in punches:
        assert set(punch) >= PUNCH_FIELDS
        assert punch["corpId"] == "ding5a7d1e2b3c4f6a8b"
        normal = punch["timeResult"] == punch["locationResult"] == "Normal"
        assert punch["isLegal"] == ("Y" if normal and "invalidRecordType" not in punch else "N")
    assert {"Y", "N"} == {p["isLegal"] for p in punches}
    for userid in users:  # in time order per person
        times = [p["userCheckTime"] for p in punches if p["userId"] == userid]
        assert times == sorted(times)


async def test_punch_times_respect_the_time_of_day(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    users = [u.userid for u in sandbox.org.users[:50]]
    afternoon = record_body(users, day_text(MONDAY, "12:00:00"), day_text(MONDAY, "23:59:59"))
    punches = (await client.ok(RECORDS, afternoon))["recordresult"]
    assert punches
    assert {p["checkType"] for p in punches} == {"OffDuty"}
    noon = 1717344000000 + 12 * 3_600_000
    assert all(p["userCheckTime"] >= noon for p in punches)


@pytest.mark.parametrize(
    ("end", "errcode"),
    [("2024-06-10 00:00:00", 0), ("2024-06-10 00:00:01", 41041), ("2024-06-02 23:59:59", 40035)],
)
async def test_punches_span_at_most_seven_days(
    open_sandbox: OpenSandbox, connect: Connect, end: str, errcode: int
) -> None:
    body = record_body([BOSS_USERID], "2024-06-03 00:00:00", end)
    assert (await connect(open_sandbox()).oapi(RECORDS, body))["errcode"] == errcode


@pytest.mark.parametrize(
    "body",
    [
        record_body([f"u{n}" for n in range(51)], "2024-06-03 00:00:00", "2024-06-03 10:00:00"),
        record_body([], "2024-06-03 00:00:00", "2024-06-03 10:00:00"),
        {"userIds": [BOSS_USERID], "checkDateFrom": "2024-06-03 00:00:00"},
        record_body([BOSS_USERID], "yesterday", "2024-06-03 10:00:00"),
    ],
)
async def test_punch_parameter_errors_are_40035(
    open_sandbox: OpenSandbox, connect: Connect, body: dict[str, Any]
) -> None:
    assert (await connect(open_sandbox()).oapi(RECORDS, body))["errcode"] == 40035


async def test_lower_case_list_record_path(open_sandbox: OpenSandbox, connect: Connect) -> None:
    client = connect(open_sandbox())
    body = record_body([BOSS_USERID], "2024-06-03 00:00:00", "2024-06-07 23:59:59")
    lower = await client.ok("/attendance/listrecord", body)
    assert lower == await client.ok(RECORDS, body)


# -- determinism and bad input ----------------------------------------------------------


async def test_same_seed_same_attendance_other_seed_other_attendance(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    async def fetch(seed: int) -> tuple[list[Any], list[Any]]:
        sandbox = open_sandbox(seed=seed)
        client = connect(sandbox)
        users = [BOSS_USERID, sandbox.org.users[1].userid]
        body = record_body(users, "2024-06-03 00:00:00", "2024-06-09 23:59:59")
        punches = (await client.ok(RECORDS, body))["recordresult"]
        results = await all_results(client, [BOSS_USERID], MONDAY, MONDAY + timedelta(days=6))
        return punches, results

    first, again, other = await fetch(42), await fetch(42), await fetch(43)
    assert first == again
    assert first[1] != other[1]
    assert [r["id"] for r in first[1]] != [r["id"] for r in other[1]]


@pytest.mark.parametrize("path", [LIST, RECORDS])
@pytest.mark.parametrize(
    "body",
    [
        b"nonsense",
        b"[]",
        b"",
        {"userIdList": [1, 2]},
        {"userIds": [None]},
        {"offset": "x"},
        {"workDateFrom": 20240603},
    ],
)
async def test_bad_input_gets_an_errcode_never_a_500(
    open_sandbox: OpenSandbox, connect: Connect, path: str, body: Any
) -> None:
    client = connect(open_sandbox())
    if isinstance(body, bytes):
        answer = await client.oapi(path, content=body)
    else:
        answer = await client.oapi(path, body)
    assert answer["errcode"] == 40035, answer
