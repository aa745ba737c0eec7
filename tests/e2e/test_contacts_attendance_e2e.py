"""The SDK against the sandbox: contacts and attendance compared with the generators the
sandbox serves from, tokens, failure-mode apps, retries and the client-side QPS limit.

Most tests run twice (``kind``): ``DingTalk`` over a live uvicorn server and ``AsyncDingTalk``
over ASGI. Ground truth comes from ``sandbox/org.py`` and ``sandbox/attendance.py``, never
from the answers themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from dingkit import (
    NO_RETRY,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from dingkit._client_base import QPS_MARGIN
from dingkit.resources.attendance import MAX_PAGE, chunks, day_windows
from dingkit.sandbox.attendance.generator import attendance_day, is_workday
from dingkit.sandbox.contacts.names import EMPTY_DEPARTMENT
from dingkit.sandbox.contacts.org import BOSS_MOBILE, BOSS_USERID, Department, Organization, User

if TYPE_CHECKING:
    from conftest import E2E

OpenE2E = Callable[..., "E2E"]

LISTSUB = "/topapi/v2/department/listsub"
USER_LIST = "/topapi/v2/user/list"
USER_GET = "/topapi/v2/user/get"
RESULTS = "/attendance/list"
RECORDS = "/attendance/listRecord"
#: 31 days: five 7-day windows (the last one 3 days long), 23 working days.
MAY_FIRST, MAY_LAST = dt.date(2024, 5, 1), dt.date(2024, 5, 31)


def days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


def tree(org: Organization, root: int = 1) -> list[tuple[int, str, int | None]]:
    """The generator's departments below ``root``, breadth first, as (id, name, parent)."""
    order, pending = [], deque([root])
    while pending:
        for child in org.children(org.departments[pending.popleft()]):
            order.append((child.dept_id, child.name, child.parent_id))
            pending.append(child.dept_id)
    return order


def brief(departments: list[Any]) -> list[tuple[int, str, int | None]]:
    return [(d.dept_id, d.name, d.parent_id) for d in departments]


def person(user: Any) -> tuple[Any, ...]:
    """What the SDK's ``User`` and the generator's person must agree on."""
    return (
        user.userid,
        user.unionid,
        user.name,
        user.mobile,
        user.title,
        user.job_number,
        user.email,
        list(user.dept_id_list if hasattr(user, "dept_id_list") else user.dept_ids),
        user.hired_date,
        user.active,
        user.admin,
        user.boss,
    )


def repeat(e2e: E2E, times: int, action: Callable[[Any], Any]) -> list[Any]:
    """``action(client)`` ``times`` times in a row, awaited one by one for the async client."""
    if e2e.kind == "sync":
        return [e2e.run(action) for _ in range(times)]

    async def run_all() -> list[Any]:
        return [await action(e2e.client) for _ in range(times)]

    if e2e.client is None:
        e2e.connect()
    return asyncio.run(run_all())


# -- contacts: departments ---------------------------------------------------------------


def test_sub_departments_and_their_ids_are_the_generator_s_next_level(e2e: E2E) -> None:
    org = e2e.sandbox.org
    division = org.children(org.root)[0]
    leaf = next(d for d in org.departments.values() if not d.children)
    for dept in (org.root, division, leaf):
        subs = e2e.run(lambda c, d=dept: c.contacts.sub_departments(d.dept_id))
        assert brief(subs) == brief(org.children(dept))
        ids = e2e.run(lambda c, d=dept: c.contacts.sub_department_ids(d.dept_id))
        assert ids == dept.children
    assert brief(e2e.run(lambda c: c.contacts.sub_departments())) == brief(org.children(org.root))


def test_department_details_match_the_generator(e2e: E2E) -> None:
    org = e2e.sandbox.org
    for dept in org.departments.values():
        detail = e2e.run(lambda c, d=dept: c.contacts.department(d.dept_id))
        leaders = [dept.leader.userid] if dept.leader is not None else []
        assert (detail.dept_id, detail.name, detail.parent_id) == (
            dept.dept_id,
            dept.name,
            dept.parent_id,
        )
        assert (detail.order, detail.member_count) == (dept.order, dept.member_count)
        assert detail.dept_manager_userid_list == leaders
    assert len(e2e.api_calls()) == len(org.departments)


def test_an_unknown_department_is_not_found_and_not_retried(e2e: E2E) -> None:
    with pytest.raises(NotFoundError) as caught:
        e2e.run(lambda c: c.contacts.department(999))
    assert caught.value.errcode == 60003
    assert len(e2e.api_calls()) == 1
    assert e2e.clock.sleeps == []


def test_walk_is_the_generator_s_tree_breadth_first(e2e: E2E) -> None:
    org = e2e.sandbox.org
    walked = e2e.run(lambda c: c.contacts.walk())
    assert brief(walked) == tree(org)
    assert len({d.dept_id for d in walked}) == len(org.departments) - 1  # all but the root
    # One listsub call per department, leaves included.
    assert len(e2e.calls(LISTSUB)) == len(org.departments)
    division = org.children(org.root)[0]
    subtree = e2e.run(lambda c: c.contacts.walk(division.dept_id))
    assert brief(subtree) == tree(org, division.dept_id)


# -- contacts: users ---------------------------------------------------------------------


def _even_and_largest(org: Organization) -> Department:
    return max(
        (d for d in org.departments.values() if len(d.members) % 2 == 0),
        key=lambda d: len(d.members),
    )


@pytest.mark.parametrize(
    ("department", "page_size"),
    [
        pytest.param("empty", lambda n: 100, id="empty department"),
        pytest.param("largest", lambda n: n, id="exactly one full page"),
        pytest.param("largest", lambda n: 100, id="one short page"),
        pytest.param("largest", lambda n: n // 2, id="exactly two full pages"),
        pytest.param("largest", lambda n: 3, id="many pages"),
        pytest.param("root", lambda n: 1, id="pages of one"),
    ],
)
def test_users_pages_through_a_department(
    e2e: E2E, department: str, page_size: Callable[[int], int]
) -> None:
    org = e2e.sandbox.org
    dept = {
        "empty": next(d for d in org.departments.values() if d.name == EMPTY_DEPARTMENT),
        "largest": _even_and_largest(org),
        "root": org.root,
    }[department]
    members = list(org.members(dept))
    size = page_size(len(members))
    users = e2e.run(lambda c: c.contacts.users(dept.dept_id, page_size=size))
    assert [person(u) for u in users] == [person(m) for m in members]
    assert [u.leader for u in users] == [m is dept.leader for m in members]
    # One request per page, no empty page after a full last one, cursors in sequence.
    pages = max(1, math.ceil(len(members) / size))
    sent = e2e.calls(USER_LIST)
    assert len(sent) == pages
    assert [call.body["result"].get("next_cursor") for call in sent] == [
        *(size * n for n in range(1, pages)),
        None,
    ]


def test_user_details_match_the_generator(e2e: E2E) -> None:
    org = e2e.sandbox.org
    boss = org.user(BOSS_USERID)
    assert boss is not None
    two_departments = next(u for u in org.users if len(u.dept_ids) > 1)
    leader = next(d.leader for d in org.departments.values() if d.level == 3 and d.leader)
    sample: list[User] = [boss, two_departments, leader, org.users[-1]]
    for expected in sample:
        got = e2e.run(lambda c, u=expected: c.contacts.user(u.userid))
        assert person(got) == person(expected)
        assert got.manager_userid == expected.manager_userid


def test_user_by_mobile_finds_the_userid(e2e: E2E) -> None:
    org = e2e.sandbox.org
    assert e2e.run(lambda c: c.contacts.user_by_mobile(BOSS_MOBILE)) == BOSS_USERID
    last = org.users[-1]
    assert e2e.run(lambda c: c.contacts.user_by_mobile(last.mobile)) == last.userid
    candidates = (f"1390000{n:04d}" for n in range(10_000))
    unused = next(m for m in candidates if org.user_by_mobile(m) is None)
    with pytest.raises(NotFoundError) as caught:
        e2e.run(lambda c: c.contacts.user_by_mobile(unused))
    assert caught.value.errcode == 60121


def test_user_ids_are_each_department_s_direct_members(e2e: E2E) -> None:
    org = e2e.sandbox.org
    for dept in org.departments.values():
        userids = e2e.run(lambda c, d=dept: c.contacts.user_ids(d.dept_id))
        assert userids == [member.userid for member in dept.members]


# -- attendance --------------------------------------------------------------------------


def _requests_for_results(userids: list[str], first: dt.date, last: dt.date) -> int:
    """Calls ``/attendance/list`` needs: per 7-day window and 50-user chunk, one per page of
    50 results (two results per person and working day), at least one."""
    calls = 0
    for start, stop in day_windows(first, last):
        workdays = sum(is_workday(day) for day in days(start, stop))
        for group in chunks(userids):
            calls += max(1, math.ceil(workdays * len(group) * 2 / MAX_PAGE))
    return calls


def test_results_for_31_days_and_120_users_are_exactly_the_sandbox_s(e2e: E2E) -> None:
    seed, org = e2e.sandbox.config.seed, e2e.sandbox.org
    userids = [user.userid for user in org.users[:120]]
    expected = {
        result.id: (userid, generated.work_date, result.check_type, result.time_result)
        for userid in userids
        for day in days(MAY_FIRST, MAY_LAST)
        for generated in (attendance_day(seed, userid, day),)
        for result in generated.results
    }
    assert len(expected) == 120 * 23 * 2  # 23 working days, two check points each

    got = e2e.run(lambda c: c.attendance.results(userids, MAY_FIRST, MAY_LAST))

    assert len(got) == len(expected)
    assert len({r.id for r in got}) == len(got)  # no duplicates
    assert {r.id: (r.user_id, r.work_date, r.check_type, r.time_result) for r in got} == expected
    # The wire carried each record once: no window, chunk or page was asked twice.
    sent = e2e.calls(RESULTS)
    assert sum(len(call.body["recordresult"]) for call in sent) == len(expected)
    assert len(sent) == _requests_for_results(userids, MAY_FIRST, MAY_LAST)
    assert not any(call.refused for call in sent)


def test_records_for_31_days_and_120_users_are_exactly_the_sandbox_s(e2e: E2E) -> None:
    seed, org = e2e.sandbox.config.seed, e2e.sandbox.org
    userids = [user.userid for user in org.users[:120]]
    expected = {
        punch.id: (userid, punch.check_type, punch.user_check_time, punch.is_legal)
        for userid in userids
        for day in days(MAY_FIRST, MAY_LAST)
        for punch in attendance_day(seed, userid, day).punches
    }

    got = e2e.run(lambda c: c.attendance.records(userids, MAY_FIRST, MAY_LAST))

    assert len(got) == len(expected)
    assert len({r.id for r in got}) == len(got)
    assert {
        r.id: (r.user_id, r.check_type, r.user_check_time, r.is_legal == "Y") for r in got
    } == expected
    sent = e2e.calls(RECORDS)
    assert sum(len(call.body["recordresult"]) for call in sent) == len(expected)
    assert len(sent) == 5 * 3  # 7-day windows x 50-user chunks, no paging


# -- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "path"), [("new", "/v1.0/oauth2/accessToken"), ("old", "/gettoken")]
)
def test_either_token_endpoint_serves_both_families(
    open_e2e: OpenE2E, kind: str, endpoint: str, path: str
) -> None:
    e2e = open_e2e(kind)
    e2e.connect(token_endpoint=endpoint)
    assert e2e.run(lambda c: c.contacts.user(BOSS_USERID)).userid == BOSS_USERID
    echoed = e2e.run(lambda c: c.call("POST", e2e.echo, json={"hello": "钉钉"}))
    assert echoed == {"app": "e2e", "body": {"hello": "钉钉"}}
    assert [exchange.path for exchange in e2e.token_requests()] == [path]
    assert e2e.token_counts()["requests"] == {"e2e": 1}


@pytest.mark.anyio
async def test_1000_concurrent_async_calls_make_one_token_request(open_e2e: OpenE2E) -> None:
    e2e = open_e2e("async")
    client = e2e.connect()
    users = await asyncio.gather(*(client.contacts.user(BOSS_USERID) for _ in range(1000)))
    assert {user.userid for user in users} == {BOSS_USERID}
    counts = await e2e.asandbox("GET", "/_sandbox/tokens")
    assert (counts["requests"], counts["issued"]) == ({"e2e": 1}, {"e2e": 1})
    assert len(e2e.api_calls()) == 1000


def test_64_threads_make_one_token_request(open_e2e: OpenE2E) -> None:
    e2e = open_e2e("sync")
    client = e2e.connect()
    with ThreadPoolExecutor(64) as pool:
        users = list(pool.map(lambda _: client.contacts.user(BOSS_USERID), range(256)))
    assert {user.userid for user in users} == {BOSS_USERID}
    assert e2e.token_counts()["requests"] == {"e2e": 1}


def test_tokens_expiring_in_the_middle_of_a_user_export(open_e2e: OpenE2E, kind: str) -> None:
    e2e = open_e2e(kind, org_depth=0, org_size=250)  # everyone in department 1: 25 pages
    members = [member.userid for member in e2e.sandbox.org.members(e2e.sandbox.org.root)]

    pages = e2e.pages(
        lambda c: c.contacts.users(1, page_size=10),
        between=lambda n: e2e.expire_tokens() if n == 7 else None,
    )

    assert [user.userid for page in pages for user in page.items] == members
    assert e2e.token_counts()["requests"] == {"e2e": 2}
    sent = e2e.calls(USER_LIST)
    assert len(sent) == 25 + 1  # the 8th page was asked twice: once with the dead token
    refused = [call for call in sent if call.refused]
    assert [(call.errcode, call.body["sub_code"]) for call in refused] == [(88, "40014")]


def test_a_token_lapsing_on_the_clock_during_an_attendance_export(
    open_e2e: OpenE2E, kind: str
) -> None:
    e2e = open_e2e(kind, token_ttl=300)
    seed, org = e2e.sandbox.config.seed, e2e.sandbox.org
    userids = [user.userid for user in org.users[:50]]
    first, last = dt.date(2024, 6, 3), dt.date(2024, 6, 16)  # two windows of 5 working days
    expected = {
        result.id
        for userid in userids
        for day in days(first, last)
        for result in attendance_day(seed, userid, day).results
    }

    pages = e2e.pages(
        lambda c: c.attendance.results(userids, first, last),
        # Past the token's 300 s: the SDK sees it is stale and fetches another first.
        between=lambda n: e2e.clock.advance(301) if n == 7 else None,
    )

    ids = [result.id for page in pages for result in page.items]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    counts = e2e.token_counts()
    assert (counts["requests"], counts["issued"]) == ({"e2e": 2}, {"e2e": 2})
    assert not any(call.refused for call in e2e.exchanges)


# -- failure-mode apps -------------------------------------------------------------------


def one_call(e2e: E2E, family: str) -> tuple[str, Callable[[Any], Any]]:
    """A path of the family and an action that calls it once: (path, action)."""
    if family == "old":
        return USER_GET, lambda c: c.call("POST", USER_GET, json={"userid": BOSS_USERID})
    return e2e.echo, lambda c: c.call("POST", e2e.echo, json={"n": 1})


@pytest.mark.parametrize("family", ["old", "new"])
def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(
    open_e2e: OpenE2E, kind: str, family: str
) -> None:
    e2e = open_e2e(kind)
    e2e.connect("expired")  # each token works for one call
    path, call = one_call(e2e, family)
    answers = repeat(e2e, 3, call)
    assert all(answer for answer in answers)
    sent = e2e.calls(path)
    # The 2nd and 3rd calls met a dead token, refreshed it and went through.
    assert [exchange.refused for exchange in sent] == [False, True, False, True, False]
    if family == "old":
        assert {(x.errcode, x.body["sub_code"]) for x in sent if x.refused} == {(88, "40014")}
    else:
        assert {(x.status, x.body["code"]) for x in sent if x.refused} == {
            (400, "InvalidAuthentication")
        }
    assert e2e.token_counts()["requests"] == {"e2e-expired": 3}
    assert e2e.clock.sleeps == []  # a refresh is not a retry: no backoff


@pytest.mark.parametrize("attempts", [3, 5])
@pytest.mark.parametrize("family", ["old", "new"])
def test_a_throttled_app_is_retried_then_gets_rate_limit_error(
    open_e2e: OpenE2E, kind: str, family: str, attempts: int
) -> None:
    e2e = open_e2e(kind)
    if attempts == 3:
        e2e.connect("throttled")  # the default policy
    else:
        e2e.connect("throttled", retry=RetryPolicy(max_attempts=attempts, rng=random.Random(1)))
    path, call = one_call(e2e, family)
    with pytest.raises(RateLimitError) as caught:
        e2e.run(call)
    if family == "old":
        assert caught.value.errcode == 90018
    else:
        assert caught.value.code == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
        assert caught.value.http_status == 403
    assert len(e2e.calls(path)) == attempts  # the default policy: 3
    # DingTalk names a 1 s wait for QPS answers; jitter may only lengthen it.
    assert len(e2e.clock.sleeps) == attempts - 1
    assert all(delay >= 1.0 for delay in e2e.clock.sleeps)


@pytest.mark.parametrize("family", ["old", "new"])
def test_a_busy_app_is_retried_then_gets_server_error(
    open_e2e: OpenE2E, kind: str, family: str
) -> None:
    e2e = open_e2e(kind)
    e2e.connect("busy")
    path, call = one_call(e2e, family)
    with pytest.raises(ServerError) as caught:
        e2e.run(call)
    if family == "old":
        assert caught.value.errcode == -1
    else:
        assert caught.value.http_status == 503
    assert len(e2e.calls(path)) == 3
    assert len(e2e.clock.sleeps) == 2


@pytest.mark.parametrize("family", ["old", "new"])
def test_a_flaky_app_succeeds_on_the_retry(open_e2e: OpenE2E, kind: str, family: str) -> None:
    e2e = open_e2e(kind)
    e2e.connect("flaky")  # the 1st, 3rd, 5th... call answers -1 / HTTP 503
    path, call = one_call(e2e, family)
    answers = repeat(e2e, 2, call)
    assert all(answers)
    sent = e2e.calls(path)
    assert [exchange.refused for exchange in sent] == [True, False, True, False]
    if family == "old":
        assert {x.errcode for x in sent if x.refused} == {-1}
    else:
        assert {x.status for x in sent if x.refused} == {503}
    assert len(e2e.clock.sleeps) == 2  # one backoff per call


def test_a_bad_parameter_is_not_retried(e2e: E2E) -> None:
    for action in (
        lambda c: c.contacts.user(""),
        lambda c: c.call("POST", "/topapi/v2/department/get", json={}),
    ):
        with pytest.raises(BadRequestError) as caught:
            e2e.run(action)
        assert caught.value.errcode == 400002
    assert len(e2e.api_calls()) == 2  # one request each
    assert e2e.clock.sleeps == []


# -- the client-side QPS limit -----------------------------------------------------------


def test_the_client_limit_keeps_a_burst_under_the_sandbox_s_20_qps(
    open_e2e: OpenE2E, kind: str
) -> None:
    e2e = open_e2e(kind, limits=True, qps=20)
    e2e.connect(qps=20, retry=NO_RETRY)  # a 90018 would be raised, not retried
    started = e2e.clock()
    users = repeat(e2e, 50, lambda c: c.contacts.user(BOSS_USERID))
    assert [user.userid for user in users] == [BOSS_USERID] * 50
    assert not any(call.refused for call in e2e.exchanges)
    # 20 calls in the first window, 20 in the next, 10 in the third: two waits of the window
    # (a second and the client's margin, so that arrivals never make 21 in one second).
    window = 1.0 + QPS_MARGIN
    assert e2e.clock.sleeps == pytest.approx([window, window])
    assert e2e.clock() - started == pytest.approx(2 * window)


def test_without_the_client_limit_the_sandbox_refuses_the_21st_call(
    open_e2e: OpenE2E, kind: str
) -> None:
    e2e = open_e2e(kind, limits=True, qps=20)
    e2e.connect(qps=None, retry=NO_RETRY)
    repeat(e2e, 20, lambda c: c.contacts.user(BOSS_USERID))
    with pytest.raises(RateLimitError) as caught:
        e2e.run(lambda c: c.contacts.user(BOSS_USERID))
    assert caught.value.errcode == 90018


def test_a_long_burst_over_real_http_never_meets_a_90018() -> None:
    """On the real clock, with the latency of real requests between client and sandbox: the
    client's window keeps a margin, so arrivals never make 21 in one of the sandbox's seconds
    (90018 was seen without it, when the machine was busy)."""
    from dingkit import DingTalk
    from dingkit.sandbox import Sandbox, SandboxServer
    from dingkit.sandbox.config import AppConfig, SandboxConfig

    app = AppConfig(name="burst", app_key="dingburst0001", app_secret="burst-secret-0001")
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(app,), org_size=20))
    try:
        with (
            SandboxServer(sandbox) as server,
            DingTalk(
                app.app_key,
                app.app_secret,
                oapi_base=server.url,
                api_base=server.url,
                retry=NO_RETRY,  # a 90018 would be raised, not retried
                environ={},
            ) as client,
        ):
            for _ in range(70):
                assert client.contacts.user(BOSS_USERID).userid == BOSS_USERID
    finally:
        sandbox.close()
