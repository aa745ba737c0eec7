from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Any

import pytest

from dingkit.sandbox.attendance.generator import attendance_day, is_workday
from dingkit.sandbox.contacts.names import EMPTY_DEPARTMENT
from dingkit.sandbox.contacts.org import (
    BOSS_MOBILE,
    BOSS_USERID,
    ROOT_DEPT_ID,
    Organization,
    User,
    generate_org,
)


def snapshot(org: Organization) -> tuple[Any, ...]:
    people = tuple(
        (u.userid, u.unionid, u.name, u.mobile, u.title, u.dept_ids, u.hired_date, u.active)
        for u in org.users
    )
    depts = tuple(
        (d.dept_id, d.name, d.parent_id, len(d.members)) for d in org.departments.values()
    )
    return people, depts


def test_same_seed_same_organisation() -> None:
    assert snapshot(generate_org(seed=42, size=300)) == snapshot(generate_org(seed=42, size=300))


def test_other_seed_other_organisation() -> None:
    one, two = generate_org(seed=42, size=300), generate_org(seed=43, size=300)
    assert {u.name for u in one.users} != {u.name for u in two.users}
    assert {u.userid for u in one.users} & {u.userid for u in two.users} == {BOSS_USERID}
    assert set(one.departments) & set(two.departments) == {ROOT_DEPT_ID}


@pytest.mark.parametrize("size", [1, 2, 13, 30, 300, 2000])
def test_people_are_unique_and_well_formed(size: int) -> None:
    org = generate_org(seed=7, size=size)
    assert len(org.users) == size
    for attribute, pattern in (
        ("userid", r"manager0001|0\d{15}"),
        ("unionid", r"[A-Za-z0-9]{24}iEiE"),
        ("mobile", r"1[35789]\d{9}"),
        ("job_number", r"\d{5}"),
    ):
        values = [getattr(user, attribute) for user in org.users]
        assert len(set(values)) == size, attribute
        assert all(re.fullmatch(pattern, value) for value in values), attribute
    assert all(u.name and u.title and u.hired_date > 0 and u.dept_ids for u in org.users)


def test_the_fixed_test_user_whatever_the_seed() -> None:
    for seed in (1, 42, 2024):
        boss = generate_org(seed=seed, size=50).users[0]
        assert (boss.userid, boss.mobile, boss.boss, boss.admin, boss.dept_ids) == (
            BOSS_USERID,
            BOSS_MOBILE,
            True,
            True,
            [ROOT_DEPT_ID],
        )
        assert boss.manager_userid is None


def test_a_tree_a_few_levels_deep_with_a_leader_everywhere() -> None:
    org = generate_org(seed=42, size=300)
    assert org.root.parent_id is None
    assert {d.level for d in org.departments.values()} == {0, 1, 2, 3}
    assert 20 <= len(org.departments) <= 30
    for dept in org.departments.values():
        for child in org.children(dept):
            assert (child.parent_id, child.level) == (dept.dept_id, dept.level + 1)
        if dept.name == EMPTY_DEPARTMENT:
            assert (dept.members, dept.leader, dept.level) == ([], None, 1)
            continue
        assert dept.leader is not None
        assert dept.leader is dept.members[0]
        assert all(dept.dept_id in user.dept_ids for user in dept.members)
    # Sibling names are unique, as DingTalk requires.
    for dept in org.departments.values():
        names = [child.name for child in org.children(dept)]
        assert len(names) == len(set(names))
    assert org.root.member_count == 300
    assert sum(u.admin for u in org.users) >= 1
    assert sum(len(u.dept_ids) > 1 for u in org.users) > 0


def test_managers_are_the_leaders_above() -> None:
    org = generate_org(seed=42, size=300)
    users = {u.userid: u for u in org.users}
    for user in org.users[1:]:
        assert user.manager_userid is not None
        manager = users[user.manager_userid]
        assert manager is not user
        home = org.departments[user.dept_ids[0]]
        if home.leader is not user:
            assert manager is home.leader


def test_depth_zero_puts_everyone_in_the_company_department() -> None:
    org = generate_org(seed=42, size=500, depth=0)
    assert list(org.departments) == [ROOT_DEPT_ID]
    assert len(org.root.members) == 500


def test_depth_one_has_divisions_only() -> None:
    org = generate_org(seed=42, size=300, depth=1)
    assert {d.level for d in org.departments.values()} == {0, 1}


def test_member_orders() -> None:
    org = generate_org(seed=42, size=300, depth=0)
    by_entry = org.members(org.root, "entry_asc")
    assert [u.hired_date for u in by_entry] == sorted(u.hired_date for u in org.users)
    latest = org.members(org.root, "entry_desc")
    assert [u.hired_date for u in latest] == sorted((u.hired_date for u in org.users), reverse=True)
    assert org.members(org.root, "entry_asc") is by_entry  # sorted once, then sliced


def test_ten_thousand_people_in_under_half_a_second() -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        org = generate_org(seed=42, size=10_000)
        timings.append(time.perf_counter() - started)
    assert len(org.users) == 10_000
    assert min(timings) < 0.5, timings


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        generate_org(seed=1, size=0)
    with pytest.raises(ValueError, match="depth"):
        generate_org(seed=1, size=10, depth=4)


# -- attendance generator ------------------------------------------------------------


def some_users(count: int = 40) -> list[User]:
    return generate_org(seed=42, size=count).users


def test_attendance_is_a_function_of_seed_user_and_date() -> None:
    day = date(2024, 6, 4)
    attendance_day.cache_clear()
    first = [attendance_day(42, u.userid, day) for u in some_users()]
    attendance_day.cache_clear()
    assert [attendance_day(42, u.userid, day) for u in some_users()] == first
    assert [attendance_day(43, u.userid, day) for u in some_users()] != first
    assert attendance_day(42, BOSS_USERID, day) != attendance_day(42, BOSS_USERID, date(2024, 6, 5))


def test_weekends_have_no_schedule_and_weekdays_two_check_points() -> None:
    saturday = date(2024, 6, 8)
    assert not is_workday(saturday)
    assert attendance_day(42, BOSS_USERID, saturday).results == ()
    for offset in range(5):
        day = attendance_day(42, BOSS_USERID, date(2024, 6, 3) + timedelta(days=offset))
        assert [r.check_type for r in day.results] == ["OnDuty", "OffDuty"]


def test_results_and_punches_agree() -> None:
    start = date(2024, 1, 1)
    for user in some_users():
        for n in range(30):
            day = attendance_day(42, user.userid, start + timedelta(days=n))
            punch_ids = {p.id for p in day.punches}
            assert [p.user_check_time for p in day.punches] == sorted(
                p.user_check_time for p in day.punches
            )
            for result in day.results:
                if result.time_result == "NotSigned":
                    assert result.record_id is None
                    # An invalid punch may exist, but it does not count.
                    valid = [p for p in day.punches if p.invalid_record_type is None]
                    assert not [p for p in valid if p.plan_id == result.plan_id]
                else:
                    assert result.record_id in punch_ids
            for punch in day.punches:
                if punch.time_result == "Late":
                    assert 0 < punch.user_check_time - punch.base_check_time <= 30 * 60_000
                if punch.time_result == "Early":
                    assert punch.user_check_time < punch.base_check_time
