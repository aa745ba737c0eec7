from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dingkit.sandbox import Sandbox
from dingkit.sandbox.contacts.names import EMPTY_DEPARTMENT
from dingkit.sandbox.contacts.org import BOSS_MOBILE, BOSS_USERID, Department

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
LISTSUB = "/topapi/v2/department/listsub"
LISTSUBID = "/topapi/v2/department/listsubid"
DEPT_GET = "/topapi/v2/department/get"
USER_LIST = "/topapi/v2/user/list"
USER_GET = "/topapi/v2/user/get"
BY_MOBILE = "/topapi/v2/user/getbymobile"
LISTID = "/topapi/user/listid"

LIST_FIELDS = {
    "userid", "unionid", "name", "avatar", "state_code", "mobile", "hide_mobile", "telephone",
    "job_number", "title", "email", "org_email", "work_place", "remark", "dept_id_list",
    "dept_order", "extension", "hired_date", "active", "admin", "boss", "leader",
    "exclusive_account",
}  # fmt: skip
DEPT_FIELDS = {
    "dept_id", "name", "parent_id", "source_identifier", "create_dept_group", "auto_add_user",
    "tags", "from_union_org", "order", "dept_group_chat_id", "group_contain_sub_dept",
    "org_dept_owner", "dept_manager_userid_list", "outer_dept", "outer_permit_depts",
    "outer_permit_users", "hide_dept", "user_permits", "dept_permits", "auto_approve_apply",
    "code", "member_count", "owning_member_count", "union_dept_ext",
}  # fmt: skip


def department(sandbox: Sandbox, predicate: Callable[[Department], bool]) -> Department:
    return next(d for d in sandbox.org.departments.values() if predicate(d))


async def list_all(client: Any, dept_id: int, size: int, **extra: Any) -> list[dict[str, Any]]:
    """Every page of user/list; checks the cursor chain on the way."""
    token = await client.token()
    cursor, pages, people = 0, 0, []
    while True:
        body = {"dept_id": dept_id, "cursor": cursor, "size": size, **extra}
        result = (await client.ok(USER_LIST, body, token=token))["result"]
        pages += 1
        people += result["list"]
        if not result["has_more"]:
            assert "next_cursor" not in result
            return people
        assert result["next_cursor"] == cursor + size
        cursor = result["next_cursor"]


# -- departments ---------------------------------------------------------------------------


async def test_listsub_gives_the_next_level_only(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    answer = await client.ok(LISTSUB, {"dept_id": 1})
    assert len(answer["request_id"]) == 12
    level1 = [d for d in sandbox.org.departments.values() if d.level == 1]
    assert answer["result"] == [
        {
            "dept_id": d.dept_id,
            "name": d.name,
            "parent_id": 1,
            "create_dept_group": True,
            "auto_add_user": True,
        }
        for d in level1
    ]
    # Without dept_id: the company department's children [I, §11].
    assert (await client.ok(LISTSUB, {}))["result"] == answer["result"]
    division = department(sandbox, lambda d: d.level == 1 and bool(d.children))
    names = [d["name"] for d in (await client.ok(LISTSUB, {"dept_id": division.dept_id}))["result"]]
    assert names == [sandbox.org.departments[c].name for c in division.children]


async def test_listsubid(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    answer = await client.ok(LISTSUBID, {"dept_id": 1})
    assert answer["result"] == {"dept_id_list": sandbox.org.root.children}
    leaf = department(sandbox, lambda d: d.level > 0 and not d.children)
    assert (await client.ok(LISTSUBID, {"dept_id": leaf.dept_id}))["result"] == {"dept_id_list": []}
    assert (await client.oapi(LISTSUBID, {}))["errcode"] == 400002


async def test_department_get(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox(org_size=300)
    client = connect(sandbox)
    team = department(sandbox, lambda d: d.level == 2)
    result = (await client.ok(DEPT_GET, {"dept_id": team.dept_id}))["result"]
    assert set(result) == DEPT_FIELDS
    assert team.leader is not None
    assert (result["name"], result["parent_id"], result["org_dept_owner"]) == (
        team.name,
        team.parent_id,
        team.leader.userid,
    )
    assert result["dept_manager_userid_list"] == [team.leader.userid]
    below = sum(len(sandbox.org.departments[c].members) for c in team.children)
    assert result["owning_member_count"] == len(team.members)
    assert result["member_count"] >= len(team.members) + below - 2  # a few sit in both
    root = (await client.ok(DEPT_GET, {"dept_id": 1}))["result"]
    assert "parent_id" not in root
    assert root["member_count"] == 300
    assert root["org_dept_owner"] == BOSS_USERID


@pytest.mark.parametrize("path", [LISTSUB, LISTSUBID, DEPT_GET, LISTID])
async def test_unknown_department_is_60003(
    open_sandbox: OpenSandbox, connect: Connect, path: str
) -> None:
    answer = await connect(open_sandbox()).oapi(path, {"dept_id": 999})
    assert (answer["errcode"], answer["errmsg"]) == (60003, "未找到对应部门")
    assert answer["request_id"]


# -- users of a department -----------------------------------------------------------------


async def test_user_list_of_an_empty_department(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    empty = department(sandbox, lambda d: d.name == EMPTY_DEPARTMENT)
    result = (
        await connect(sandbox).ok(USER_LIST, {"dept_id": empty.dept_id, "cursor": 0, "size": 10})
    )["result"]
    assert result == {"has_more": False, "list": []}


async def test_user_list_of_exactly_one_page(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    team = department(sandbox, lambda d: len(d.members) >= 5)
    n = len(team.members)
    people = await list_all(client, team.dept_id, size=n)
    assert [p["userid"] for p in people] == [u.userid for u in team.members]
    assert set(people[0]) == LIST_FIELDS
    # One short of the whole department: a second page with one person.
    first = await client.ok(USER_LIST, {"dept_id": team.dept_id, "cursor": 0, "size": n - 1})
    assert (first["result"]["has_more"], first["result"]["next_cursor"]) == (True, n - 1)
    assert len(await list_all(client, team.dept_id, size=n - 1)) == n


async def test_user_list_over_many_pages(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox(org_size=250, org_depth=0)
    people = await list_all(connect(sandbox), 1, size=100)
    assert len(people) == 250
    assert [p["userid"] for p in people] == [u.userid for u in sandbox.org.users]
    assert len({p["unionid"] for p in people}) == 250


async def test_ten_thousand_people_in_one_hundred_pages(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    # The benchmark's case (bench/contacts.py): everyone directly in dept 1, limits off.
    sandbox = open_sandbox(org_size=10_000, org_depth=0, limits=False)
    client = connect(sandbox)
    token = await client.token()
    cursor, pages, seen = 0, 0, set()
    while True:
        body = {"dept_id": 1, "cursor": cursor, "size": 100}
        result = (await client.ok(USER_LIST, body, token=token))["result"]
        pages += 1
        seen.update(p["userid"] for p in result["list"])
        if not result["has_more"]:
            break
        cursor = result["next_cursor"]
    assert (pages, len(seen)) == (100, 10_000)
    assert sandbox.tokens.summary()["requests"] == {"tests": 1}


async def test_user_list_leader_and_order(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    team = department(sandbox, lambda d: d.level == 2 and len(d.members) >= 4)
    people = await list_all(client, team.dept_id, size=100)
    assert [p["leader"] for p in people] == [u is team.leader for u in team.members]
    assert all(team.dept_id in p["dept_id_list"] for p in people)
    by_entry = await list_all(client, team.dept_id, size=3, order_field="entry_asc")
    hired = [p["hired_date"] for p in by_entry]
    assert hired == sorted(hired)
    latest_first = await list_all(client, team.dept_id, size=3, order_field="entry_desc")
    assert [p["hired_date"] for p in latest_first] == sorted(hired, reverse=True)
    by_modified = await list_all(client, team.dept_id, size=100, order_field="modify_desc")
    assert {p["userid"] for p in by_modified} == {p["userid"] for p in people}


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"dept_id": 1, "cursor": 0, "size": 101}, 40035),
        ({"dept_id": 1, "cursor": 0, "size": 0}, 40035),
        ({"dept_id": 1, "cursor": -1, "size": 10}, 40035),
        ({"dept_id": 1, "size": 10}, 40035),
        ({"dept_id": 1, "cursor": 0}, 40035),
        ({"cursor": 0, "size": 10}, 40035),
        ({"dept_id": "x", "cursor": 0, "size": 10}, 40035),
        ({"dept_id": 1, "cursor": 0, "size": 10, "order_field": "name"}, 40035),
        ({"dept_id": 1, "cursor": 0, "size": 10, "contain_access_limit": "maybe"}, 40035),
        ({"dept_id": 999, "cursor": 0, "size": 10}, 60003),
        ({"dept_id": 999, "cursor": 0, "size": 1000}, 40035),  # parameters first
    ],
)
async def test_user_list_errors(
    open_sandbox: OpenSandbox, connect: Connect, body: dict[str, Any], errcode: int
) -> None:
    answer = await connect(open_sandbox()).oapi(USER_LIST, body)
    assert answer["errcode"] == errcode, answer


async def test_user_list_reads_numbers_sent_as_strings(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    answer = await connect(open_sandbox()).ok(
        USER_LIST, {"dept_id": "1", "cursor": "0", "size": "2"}
    )
    assert len(answer["result"]["list"]) == 2


async def test_user_listid(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    team = department(sandbox, lambda d: d.level == 1)
    answer = await connect(sandbox).ok(LISTID, {"dept_id": team.dept_id})
    assert answer["result"] == {"userid_list": [u.userid for u in team.members]}


# -- one user --------------------------------------------------------------------------------


async def test_user_get(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    boss = (await client.ok(USER_GET, {"userid": BOSS_USERID}))["result"]
    assert (boss["mobile"], boss["boss"], boss["admin"], boss["dept_id_list"]) == (
        BOSS_MOBILE,
        True,
        True,
        [1],
    )
    assert "manager_userid" not in boss
    assert boss["leader_in_dept"] == [{"dept_id": 1, "leader": True}]
    assert {"dept_order", "leader", "avatar"}.isdisjoint(boss)
    assert {"manager_userid", "real_authed", "senior", "dept_order_list", "role_list"} <= set(
        (await client.ok(USER_GET, {"userid": sandbox.org.users[-1].userid}))["result"]
    )
    worker = next(u for u in sandbox.org.users if u.manager_userid and len(u.dept_ids) == 1)
    result = (await client.ok(USER_GET, {"userid": worker.userid, "language": "en_US"}))["result"]
    assert (result["name"], result["manager_userid"], result["unionid"]) == (
        worker.name,
        worker.manager_userid,
        worker.unionid,
    )


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"userid": "nobody"}, 33012),
        ({}, 400002),
        ({"userid": 5}, 400002),
        ({"userid": ""}, 400002),
    ],
)
async def test_user_get_errors(
    open_sandbox: OpenSandbox, connect: Connect, body: dict[str, Any], errcode: int
) -> None:
    answer = await connect(open_sandbox()).oapi(USER_GET, body)
    assert answer["errcode"] == errcode
    if errcode == 33012:
        assert answer["errmsg"] == "无效的userId"


@pytest.mark.parametrize("mobile", [BOSS_MOBILE, "+86-13800000000", "8613800000000", 13800000000])
async def test_user_by_mobile(open_sandbox: OpenSandbox, connect: Connect, mobile: Any) -> None:
    answer = await connect(open_sandbox()).ok(BY_MOBILE, {"mobile": mobile})
    assert answer["result"] == {"userid": BOSS_USERID}


@pytest.mark.parametrize(
    ("mobile", "errcode"),
    [("12345", 40104), ("1380000000a", 40104), ("+1-2025550100", 40104), ("19999999999", 60121)],
)
async def test_user_by_mobile_errors(
    open_sandbox: OpenSandbox, connect: Connect, mobile: str, errcode: int
) -> None:
    sandbox = open_sandbox()
    assert sandbox.org.user_by_mobile("19999999999") is None
    answer = await connect(sandbox).oapi(BY_MOBILE, {"mobile": mobile})
    assert answer["errcode"] == errcode
    assert (await connect(sandbox).oapi(BY_MOBILE, {}))["errcode"] == 400002


# -- bad input never breaks the sandbox --------------------------------------------------

BAD_BODIES: list[Any] = [
    b"not json",
    b"[1, 2]",
    b'"text"',
    b"\xff\xfe",
    {"dept_id": True},
    {"dept_id": 1.5},
    {"dept_id": -1},
    {"dept_id": [1]},
    {"dept_id": 10**30},
    {"userid": {"a": 1}},
    {"mobile": []},
    {"dept_id": 1, "cursor": "x", "size": None},
    {"language": 3},
]


@pytest.mark.parametrize(
    "path", [LISTSUB, LISTSUBID, DEPT_GET, USER_LIST, USER_GET, BY_MOBILE, LISTID]
)
@pytest.mark.parametrize("body", BAD_BODIES)
async def test_bad_input_gets_an_errcode_never_a_500(
    open_sandbox: OpenSandbox, connect: Connect, path: str, body: Any
) -> None:
    client = connect(open_sandbox())
    if isinstance(body, bytes):
        answer = await client.oapi(path, content=body)
    else:
        answer = await client.oapi(path, body)
    assert answer["errcode"] in {400002, 40035, 60003, 33012, 40104, 60121, 0}, answer
    assert answer["request_id"]


async def test_org_summary(open_sandbox: OpenSandbox, connect: Connect) -> None:
    summary = (await connect(open_sandbox(org_size=50, seed=9)).http.get("/_sandbox/org")).json()
    assert (summary["user_count"], summary["seed"], summary["corp_id"]) == (
        50,
        9,
        "ding5a7d1e2b3c4f6a8b",
    )
    assert summary["department_count"] >= 2
    assert summary["users"][0]["userid"] == BOSS_USERID
