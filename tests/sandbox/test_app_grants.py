"""Apps with what DingTalk lets them do: permission points, the contacts' visible range, an IP
allow-list and a monthly quota. Without them an app may call everything, as before; with them
the sandbox refuses as DingTalk does, in each family's shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dingkit._exceptions import ConfigurationError
from dingkit.sandbox import Sandbox
from dingkit.sandbox.approval.templates import LEAVE_CODE
from dingkit.sandbox.config import AppConfig, SandboxConfig, load_config
from dingkit.sandbox.contacts.org import BOSS_USERID, ROOT_DEPT_ID
from dingkit.sandbox.server import describe_apps

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
INSTANCES = "/v1.0/workflow/processInstances"
USER_GET = "/topapi/v2/user/get"
DEPT_GET = "/topapi/v2/department/get"


def granted(**grants: Any) -> AppConfig:
    return AppConfig(name="limited", app_key="dinglimited0001", app_secret="limited-0001", **grants)


def new_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["requestid"]
    return body


# -- permission points -----------------------------------------------------------------


async def test_a_missing_permission_answers_60011_and_403_naming_it(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    app = granted(scopes=("qyapi_get_member",))
    sandbox = open_sandbox(apps=(app,))
    client = connect(sandbox)

    allowed = await client.oapi(USER_GET, {"userid": BOSS_USERID}, app=app)
    refused = await client.oapi(DEPT_GET, {"dept_id": ROOT_DEPT_ID}, app=app)
    new = await client.api("GET", INSTANCES, params={"processInstanceId": "x"}, app=app)

    assert allowed["errcode"] == 0
    assert refused["errcode"] == 60011
    assert "[qyapi_get_department_list]" in refused["errmsg"]
    body = new_error(new, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied")
    assert body["accessdenieddetail"] == {"requiredScopes": ["Workflow.Instance.Read"]}
    assert "[Workflow.Instance.Read]" in body["message"]


async def test_an_app_without_scopes_may_call_everything_and_tokens_need_none(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    nothing = granted(scopes=())
    sandbox = open_sandbox(apps=(nothing,))
    client = connect(sandbox)
    token = await client.token(nothing)  # the token endpoints need no permission point
    assert (await client.oapi(USER_GET, {"userid": BOSS_USERID}, token=token))["errcode"] == 60011
    assert (await client.ok(DEPT_GET, {"dept_id": ROOT_DEPT_ID}))["result"]["dept_id"] == 1


def test_unknown_permission_points_are_refused_in_the_config(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(
        '[[app]]\nname = "a"\napp_key = "dinga"\napp_secret = "s"\nscopes = ["qyapi_get_membr"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "qyapi_get_membr" in message
    assert "qyapi_get_member" in message  # the names it could have meant


# -- the visible range -------------------------------------------------------------------


async def test_the_visible_range_limits_departments_and_people(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    org = sandbox.org
    division = org.departments[org.root.children[0]]
    other = org.departments[org.root.children[1]]
    app = granted(visible_depts=(division.dept_id,))
    sandbox.add_app(app)
    client = connect(sandbox)
    inside = next(u for u in org.users if u.dept_ids[0] in org.within([division.dept_id]))
    outside = next(u for u in org.users if u.dept_ids[0] in org.within([other.dept_id]))
    below = division.children[0]

    async def errcode(path: str, body: dict[str, Any]) -> int:
        answer = await client.oapi(path, body, app=app)
        return int(answer["errcode"])

    assert await errcode(DEPT_GET, {"dept_id": division.dept_id}) == 0
    assert await errcode(DEPT_GET, {"dept_id": below}) == 0  # sub-departments are in range
    assert await errcode(DEPT_GET, {"dept_id": other.dept_id}) == 50004
    assert await errcode("/topapi/v2/department/listsub", {"dept_id": ROOT_DEPT_ID}) == 50004
    assert await errcode("/topapi/user/listid", {"dept_id": other.dept_id}) == 50004
    list_body = {"dept_id": other.dept_id, "cursor": 0, "size": 10}
    assert await errcode("/topapi/v2/user/list", list_body) == 50004
    assert await errcode(USER_GET, {"userid": inside.userid}) == 0
    assert await errcode(USER_GET, {"userid": outside.userid}) == 50002
    assert await errcode("/topapi/v2/user/getbymobile", {"mobile": outside.mobile}) == 50002
    create = {"name": "范围外", "parent_id": other.dept_id}
    assert await errcode("/topapi/v2/department/create", create) == 50004


# -- the IP allow-list -------------------------------------------------------------------


async def test_a_caller_outside_the_ip_allowlist_is_refused(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    far = granted(ip_allowlist=("10.0.0.0/8",))
    near = AppConfig(
        name="near", app_key="dingnear0001", app_secret="near-0001", ip_allowlist=("127.0.0.1",)
    )
    sandbox = open_sandbox(apps=(far, near))
    client = connect(sandbox)  # ASGI clients call from 127.0.0.1

    refused = await client.oapi(USER_GET, {"userid": BOSS_USERID}, app=far)
    new = await client.api("GET", INSTANCES, params={"processInstanceId": "x"}, app=far)

    assert refused["errcode"] == 60020
    assert "request ip=127.0.0.1" in refused["errmsg"]
    new_error(new, 403, "Forbidden.AccessDenied.IpNotInWhiteList")
    assert (await client.oapi(USER_GET, {"userid": BOSS_USERID}, app=near))["errcode"] == 0


# -- the monthly quota -------------------------------------------------------------------


async def test_the_monthly_quota_counts_non_exempt_calls_and_renews_each_month(
    open_sandbox: OpenSandbox, connect: Connect, fake_clock: Any
) -> None:
    app = granted(monthly_quota=2)
    sandbox = open_sandbox(apps=(app,), qps=0)
    client = connect(sandbox)
    token = await client.token(app)
    get = {"processInstanceId": "no-such-instance"}

    answers = [await client.api("GET", INSTANCES, params=get, token=token) for _ in range(3)]

    assert [a.status_code for a in answers[:2]] == [400, 400]  # counted: the API answered
    new_error(answers[2], 403, "Forbidden.AccessDenied.ApiCountLimitForOrg")
    listids = {"process_code": LEAVE_CODE, "start_time": int(fake_clock() * 1000)}
    old = await client.oapi("/topapi/processinstance/listids", listids, token=token)
    assert old["errcode"] == 90020
    # The contacts APIs are exempt (§9.3).
    assert (await client.oapi(USER_GET, {"userid": BOSS_USERID}, token=token))["errcode"] == 0
    fake_clock.advance(32 * 86_400)  # next month
    token = await client.token(app)
    renewed = await client.api("GET", INSTANCES, params=get, token=token)
    assert renewed.status_code == 400  # processInstanceNotExist: the quota is back


# -- persistence, the banner -------------------------------------------------------------


def test_grants_survive_a_restart(tmp_path: Path) -> None:
    app = granted(scopes=("qyapi_get_member",), visible_depts=(1,), monthly_quota=10)
    first = Sandbox.from_settings(config=SandboxConfig(apps=(app,)), data_dir=tmp_path)
    first.close()
    second = Sandbox.from_settings(data_dir=tmp_path)
    try:
        assert second.apps.by_key(app.app_key) == app
    finally:
        second.close()


def test_the_banner_shows_each_app_s_grants() -> None:
    lines = describe_apps(
        [
            granted(scopes=("qyapi_get_member", "Calendar.Event.Read"), monthly_quota=100),
            AppConfig(name="open", app_key="dingopen01", app_secret="x"),
        ]
    )
    text = "\n".join(lines)
    assert "scopes:     qyapi_get_member, Calendar.Event.Read" in text
    assert "quota:      100 calls a month" in text
    assert "scopes:     every permission" in text
