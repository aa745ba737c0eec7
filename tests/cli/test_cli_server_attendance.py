"""``dingkit attendance results|records``: any range and any number of users (the SDK splits
into 7-day windows and 50-user chunks), compared with what the sandbox generates."""

from __future__ import annotations

import csv
import datetime as dt
import io

from dingkit.sandbox.attendance.generator import attendance_day

FIRST, LAST = dt.date(2024, 5, 6), dt.date(2024, 5, 15)  # 10 days, 8 of them working days
DAYS = [FIRST + dt.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
RANGE = ("--from", FIRST.isoformat(), "--to", LAST.isoformat())


def _generated(seed: int, userids: list[str], kind: str) -> list[int]:
    return [
        item.id
        for userid in userids
        for day in DAYS
        for item in getattr(attendance_day(seed, userid, day), kind)
    ]


def _users(args: list[str]) -> list[str]:
    return [arg for userid in args for arg in ("--user", userid)]


def test_results_for_60_users_over_10_days(openapi_sandbox, server_cli):
    org = openapi_sandbox.sandbox.org
    userids = [user.userid for user in org.users[:60]]  # two chunks: 50 + 10
    as_json, as_csv, table = server_cli.run_many(
        ["attendance", "results", *RANGE, *_users(userids), "--json"],
        ["attendance", "results", *RANGE, *_users(userids), "--csv"],
        ["attendance", "results", *RANGE, "--user", userids[0]],
    )
    expected = _generated(org.seed, userids, "results")
    assert len(expected) == 60 * 8 * 2  # OnDuty and OffDuty on each working day
    rows = as_json.assert_ok().json()
    assert sorted(row["id"] for row in rows) == sorted(expected)  # each once
    assert {row["userId"] for row in rows} == set(userids)
    assert {row["timeResult"] for row in rows} > {"Normal", "Late"}
    lines = list(csv.DictReader(io.StringIO(as_csv.assert_ok().stdout)))
    assert [int(line["id"]) for line in lines] == [row["id"] for row in rows]
    assert lines[0]["userId"] == rows[0]["userId"]
    assert int(lines[0]["userCheckTime"]) == rows[0]["userCheckTime"]  # raw, as DingTalk sends
    # The table reads the times in China time, and shows one row per check point.
    body = table.assert_ok().stdout
    assert "2024-05-06 09:00" in body  # the OnDuty base time of the first day
    assert body.count(f"│ {userids[0]} ") == 16
    assert as_json.stderr == as_csv.stderr == ""


def test_records_and_dept_expansion(openapi_sandbox, server_cli):
    org = openapi_sandbox.sandbox.org
    division = org.departments[org.root.children[0]]
    below, queue = [], [division.dept_id]
    while queue:
        dept = org.departments[queue.pop(0)]
        below += [user.userid for user in dept.members]
        queue += dept.children
    subtree = list(dict.fromkeys(below))
    direct = [user.userid for user in division.members]
    by_dept, recursive, records = server_cli.run_many(
        ["attendance", "results", *RANGE, "--dept", str(division.dept_id), "--json"],
        ["attendance", "results", *RANGE, "-d", str(division.dept_id), "--recursive", "--json"],
        ["attendance", "records", *RANGE, *_users(direct), "--json"],
    )
    assert sorted(r["id"] for r in by_dept.assert_ok().json()) == sorted(
        _generated(org.seed, direct, "results")
    )
    rows = recursive.assert_ok().json()
    assert len(subtree) > len(direct)
    assert {row["userId"] for row in rows} == set(subtree)
    assert sorted(r["id"] for r in rows) == sorted(_generated(org.seed, subtree, "results"))
    punches = records.assert_ok().json()
    assert sorted(p["id"] for p in punches) == sorted(_generated(org.seed, direct, "punches"))
    assert {p["isLegal"] for p in punches} <= {"Y", "N"}


def test_unknown_users_have_no_attendance(server_cli):
    result = server_cli.run("attendance", "results", *RANGE, "--user", "nobody0000", "--json")
    assert result.assert_ok().json() == []


def test_user_ids_the_organisation_does_not_know_are_named_on_stderr(openapi_sandbox, server_cli):
    known = openapi_sandbox.sandbox.org.users[0].userid
    args = ["attendance", "results", *RANGE, *_users([known, "ghost-0001", known, "ghost-0002"])]
    as_json, table = server_cli.run_many([*args, "--json"], args)
    for result in (as_json, table):
        result.assert_ok()
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == [
            "warning: not in the organisation (no attendance for them): ghost-0001, ghost-0002"
        ]
    assert {row["userId"] for row in as_json.json()} == {known}  # stdout stays pure JSON
    quiet = server_cli.run("attendance", "records", *RANGE, "--user", known).assert_ok()
    assert "warning" not in quiet.stderr
