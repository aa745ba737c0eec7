from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dingkit.callback.events import OrgDeptCreate, UserModifyOrg, parse_event
from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import CallbackConfig, SandboxConfig
from dingkit.sandbox.contacts.org import BOSS_USERID, ROOT_DEPT_ID

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
ReceiverFor = Callable[..., Any]
USERS = "/_sandbox/org/users"
DEPTS = "/_sandbox/org/departments"


@pytest.fixture
def watched(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> tuple[Sandbox, Any, Any]:
    """A sandbox whose every event goes to a receiver, with a client for it."""
    receiver = receiver_for()
    subscription = CallbackConfig(url=receiver.url, token=receiver.token, aes_key=receiver.aes_key)
    sandbox = open_sandbox(callbacks=(subscription,))
    return sandbox, connect(sandbox), receiver


def pushed(sandbox: Sandbox, receiver: Any) -> list[Any]:
    seen = len(receiver.events)
    sandbox.callbacks.deliver_due()
    return [parse_event(event) for event in receiver.events[seen:]]


async def test_an_added_user_appears_in_the_contacts_apis(
    watched: tuple[Sandbox, Any, Any],
) -> None:
    sandbox, client, receiver = watched
    dept = sandbox.org.users[30].dept_ids[0]

    response = await client.http.post(
        USERS,
        json={"name": "新同事", "dept_id_list": [dept], "mobile": "13912345678", "title": "实习生"},
    )

    assert response.status_code == 201, response.text
    userid = response.json()["user"]["userid"]
    got = (await client.ok("/topapi/v2/user/get", {"userid": userid}))["result"]
    assert (got["name"], got["title"], got["dept_id_list"]) == ("新同事", "实习生", [dept])
    by_mobile = await client.ok("/topapi/v2/user/getbymobile", {"mobile": "13912345678"})
    assert by_mobile["result"]["userid"] == userid
    listed = await client.ok("/topapi/user/listid", {"dept_id": dept})
    assert listed["result"]["userid_list"][-1] == userid
    (event,) = pushed(sandbox, receiver)
    assert (event.event_type, event.user_ids) == ("user_add_org", [userid])
    assert receiver.events[-1]["BizId"] == userid  # the new format's envelope (§7.6)


async def test_a_modified_user_pushes_the_diff(watched: tuple[Sandbox, Any, Any]) -> None:
    sandbox, client, receiver = watched
    user = sandbox.org.users[40]
    old_name, old_depts = user.name, list(user.dept_ids)

    response = await client.http.patch(
        f"{USERS}/{user.userid}", json={"name": "改名了", "dept_id_list": [ROOT_DEPT_ID]}
    )

    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["dept_id_list", "name"]
    got = (await client.ok("/topapi/v2/user/get", {"userid": user.userid}))["result"]
    assert (got["name"], got["dept_id_list"]) == ("改名了", [ROOT_DEPT_ID])
    old = await client.ok("/topapi/user/listid", {"dept_id": old_depts[0]})
    assert user.userid not in old["result"]["userid_list"]
    (event,) = pushed(sandbox, receiver)
    assert isinstance(event, UserModifyOrg)
    assert event.diff_info is not None
    assert event.diff_info.prev["name"] == old_name
    assert event.diff_info.curr["name"] == "改名了"
    assert event.diff_info.curr["deptIdList"] == [ROOT_DEPT_ID]
    same = await client.http.patch(f"{USERS}/{user.userid}", json={"name": "改名了"})
    assert same.json()["changed"] == []
    assert pushed(sandbox, receiver) == []  # nothing changed, nothing pushed


async def test_a_user_who_leaves_is_gone(watched: tuple[Sandbox, Any, Any]) -> None:
    sandbox, client, receiver = watched
    user = sandbox.org.users[50]

    response = await client.http.delete(f"{USERS}/{user.userid}")

    assert response.status_code == 200, response.text
    gone = await client.oapi("/topapi/v2/user/get", {"userid": user.userid})
    assert gone["errcode"] == 33012
    (event,) = pushed(sandbox, receiver)
    assert (event.event_type, event.user_ids) == ("user_leave_org", [user.userid])
    assert (await client.http.delete(f"{USERS}/{user.userid}")).status_code == 404
    assert (await client.http.delete(f"{USERS}/{BOSS_USERID}")).status_code == 409


async def test_departments_created_renamed_moved_and_removed(
    watched: tuple[Sandbox, Any, Any],
) -> None:
    sandbox, client, receiver = watched
    created = await client.http.post(DEPTS, json={"name": "创新实验室"})
    assert created.status_code == 201, created.text
    dept_id = created.json()["department"]["dept_id"]
    other = next(d for d in sandbox.org.root.children if d != dept_id)
    children = await client.ok("/topapi/v2/department/listsubid", {"dept_id": ROOT_DEPT_ID})
    assert dept_id in children["result"]["dept_id_list"]

    renamed = await client.http.patch(f"{DEPTS}/{dept_id}", json={"name": "创新中心"})
    moved = await client.http.patch(f"{DEPTS}/{dept_id}", json={"parent_id": other})
    assert (renamed.status_code, moved.status_code) == (200, 200)
    got = (await client.ok("/topapi/v2/department/get", {"dept_id": dept_id}))["result"]
    assert (got["name"], got["parent_id"]) == ("创新中心", other)

    removed = await client.http.delete(f"{DEPTS}/{dept_id}")
    assert removed.status_code == 200
    missing = await client.oapi("/topapi/v2/department/get", {"dept_id": dept_id})
    assert missing["errcode"] == 60003
    events = pushed(sandbox, receiver)
    assert [e.event_type for e in events] == [
        "org_dept_create",
        "org_dept_modify",
        "org_dept_modify",
        "org_dept_remove",
    ]
    assert isinstance(events[0], OrgDeptCreate)
    assert events[0].dept_ids == [dept_id]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", USERS, {"dept_id_list": [1]}, 400),
        ("POST", USERS, {"name": "x"}, 400),
        ("POST", USERS, {"name": "x", "dept_id_list": [424242]}, 400),
        ("POST", USERS, {"name": "x", "dept_id_list": [1], "mobile": "12"}, 400),
        ("POST", USERS, {"name": "x", "dept_id_list": [1], "mobile": "13800000000"}, 409),
        ("POST", USERS, {"name": "x", "dept_id_list": [1], "userid": BOSS_USERID}, 409),
        ("POST", USERS, {"name": "x", "dept_id_list": [1], "colour": "red"}, 400),
        ("PATCH", USERS + "/nobody", {"name": "x"}, 404),
        ("PATCH", f"{USERS}/{BOSS_USERID}", {"userid": "x"}, 400),
        ("POST", DEPTS, {"name": ""}, 400),
        ("POST", DEPTS, {"name": "x", "parent_id": 424242}, 400),
        ("PATCH", f"{DEPTS}/{ROOT_DEPT_ID}", {"parent_id": 2}, 400),
        ("PATCH", f"{DEPTS}/{ROOT_DEPT_ID}", {"name": "新公司名"}, 200),
        ("DELETE", f"{DEPTS}/{ROOT_DEPT_ID}", None, 409),
        ("DELETE", f"{DEPTS}/424242", None, 404),
    ],
)
async def test_bad_changes_are_refused(
    open_sandbox: OpenSandbox,
    connect: Connect,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    client = connect(open_sandbox())
    response = await client.http.request(method, path, json=body)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["error"]


async def test_a_department_with_members_or_children_stays(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    staffed = sandbox.org.users[30].dept_ids[0]
    parent = sandbox.org.root.children[0]

    assert (await client.http.delete(f"{DEPTS}/{staffed}")).status_code == 409
    assert (await client.http.delete(f"{DEPTS}/{parent}")).status_code == 409
    under_itself = sandbox.org.departments[parent].children[0]
    cycle = await client.http.patch(f"{DEPTS}/{parent}", json={"parent_id": under_itself})
    assert cycle.status_code == 409


def test_changes_survive_a_restart(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    config = SandboxConfig(org_size=50)
    first = make_sandbox(config=config, data_dir=tmp_path)
    dept = first.org.users[10].dept_ids[0]
    data = {
        "userid": "newcomer01",
        "unionid": "unionnewcomer01iEiE",
        "name": "新人",
        "mobile": "19900000001",
        "dept_id_list": [dept],
        "hired_date": 0,
    }
    removed = first.org.users[10].userid
    first.change_org("user_add", data)
    first.change_org("user_remove", {"userid": removed})
    first.store.close()

    again = make_sandbox(config=config, data_dir=tmp_path)

    assert again.org.user("newcomer01") is not None
    assert again.org.user(removed) is None
    assert len(again.org.users) == 50


# -- department/create: the contacts API's own way to add a department -------------------

CREATE = "/topapi/v2/department/create"


async def test_department_create_adds_a_department_and_pushes_org_dept_create(
    watched: tuple[Sandbox, Any, Any],
) -> None:
    sandbox, client, receiver = watched
    parent = sandbox.org.root.children[0]

    answer = await client.ok(CREATE, {"name": "值班组", "parent_id": parent})

    dept_id = answer["result"]["dept_id"]
    assert isinstance(dept_id, int)
    assert answer["request_id"]
    got = (await client.ok("/topapi/v2/department/get", {"dept_id": dept_id}))["result"]
    assert (got["name"], got["parent_id"]) == ("值班组", parent)
    children = await client.ok("/topapi/v2/department/listsubid", {"dept_id": parent})
    assert children["result"]["dept_id_list"][-1] == dept_id
    (event,) = pushed(sandbox, receiver)
    assert isinstance(event, OrgDeptCreate)
    assert event.dept_ids == [dept_id]
    assert receiver.events[-1]["BizId"] == str(dept_id)


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"name": "研发中心", "parent_id": ROOT_DEPT_ID}, 60008),  # a sibling has that name
        ({"name": "新部门", "parent_id": 999}, 60004),  # no such parent
        ({"parent_id": ROOT_DEPT_ID}, 400002),  # no name
        ({"name": "新部门"}, 400002),  # no parent
        ({"name": "新部门", "parent_id": "one"}, 400002),
        ({"name": "x" * 65, "parent_id": ROOT_DEPT_ID}, 400002),
        ({"name": ["新部门"], "parent_id": ROOT_DEPT_ID}, 400002),
    ],
)
async def test_department_create_refusals(
    open_sandbox: OpenSandbox, connect: Connect, body: dict[str, Any], errcode: int
) -> None:
    # A subscription to every event: a refused change must queue none.
    nobody = CallbackConfig(url="http://127.0.0.1:9/callback", token="abcdef", aes_key="a" * 43)
    sandbox = open_sandbox(callbacks=(nobody,))
    client = connect(sandbox)
    if body.get("name") == "研发中心":
        names = {sandbox.org.departments[d].name for d in sandbox.org.root.children}
        assert "研发中心" in names  # the seeded organisation has it
    before = len(sandbox.org.departments)

    answer = await client.oapi(CREATE, body)

    assert answer["errcode"] == errcode, answer
    assert answer["errmsg"]
    assert len(sandbox.org.departments) == before
    assert sandbox.callbacks.records.changed_since(0, limit=10) == []


def test_department_create_is_a_rule_without_http(open_sandbox: OpenSandbox) -> None:
    from dingkit.sandbox.contacts.admin import OrgChangeError, create_department

    sandbox = open_sandbox()
    dept = create_department(sandbox, name="规则组", parent_id=ROOT_DEPT_ID)
    assert sandbox.org.departments[dept.dept_id].name == "规则组"
    with pytest.raises(OrgChangeError) as refused:
        create_department(sandbox, name="规则组", parent_id=ROOT_DEPT_ID)
    assert refused.value.reason == "name_taken"
    with pytest.raises(OrgChangeError) as refused:
        create_department(sandbox, name="别的组", parent_id=123)
    assert refused.value.reason == "no_parent"
