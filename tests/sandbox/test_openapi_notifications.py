from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dingkit import AsyncDingTalk, DingTalk
from dingkit.resources.notifications import (
    OA,
    ActionCardButton,
    OABody,
    OAFormItem,
    OAHead,
    WorkActionCard,
    WorkLink,
    WorkMarkdown,
)
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.contacts.org import BOSS_USERID, ROOT_DEPT_ID
from dingkit.sandbox.notifications.model import notification_html

pytestmark = pytest.mark.anyio

OpenApi = Any  # tests/sandbox/conftest.py's client (this folder is not a package)
OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., OpenApi]
#: The credentials of the app open_sandbox adds (tests/sandbox/conftest.py).
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
OTHER = AppConfig(name="other", app_key="dingother0001", app_secret="other-secret-0001")
BASE = "/topapi/message/corpconversation/"
SEND = BASE + "asyncsend_v2"
TEXT = {"msgtype": "text", "text": {"content": "build 42 is green"}}


class Notices:
    def __init__(self, sandbox: Sandbox, client: OpenApi) -> None:
        self.sandbox = sandbox
        self.client = client
        self.org = sandbox.org

    def body(self, **fields: Any) -> dict[str, Any]:
        return {"agent_id": APP.agent_id, "userid_list": BOSS_USERID, "msg": TEXT, **fields}

    async def send(self, **fields: Any) -> int:
        answer = await self.client.ok(SEND, self.body(**fields))
        assert len(answer["request_id"]) == 12
        task_id: int = answer["task_id"]
        assert isinstance(task_id, int)
        return task_id

    async def errcode(self, path: str, body: Any, **kwargs: Any) -> int:
        code: int = (await self.client.oapi(path, body, **kwargs))["errcode"]
        return code

    async def result(self, task_id: int) -> dict[str, Any]:
        body = {"agent_id": APP.agent_id, "task_id": task_id}
        result: dict[str, Any] = (await self.client.ok(BASE + "getsendresult", body))["send_result"]
        return result


@pytest.fixture
def notices(open_sandbox: OpenSandbox, connect: Connect) -> Callable[..., Notices]:
    def make(**settings: Any) -> Notices:
        sandbox = open_sandbox(qps=0, **settings)
        sandbox.add_app(OTHER)
        return Notices(sandbox, connect(sandbox))

    return make


async def test_send_then_progress_and_result(notices: Callable[..., Notices]) -> None:
    box = notices()
    people = [u.userid for u in box.org.users[:3]]
    task_id = await box.send(userid_list=",".join([*people, "nobody"]))
    progress = await box.client.ok(
        BASE + "getsendprogress", {"agent_id": APP.agent_id, "task_id": task_id}
    )
    assert progress["progress"] == {"progress_in_percent": 100, "status": 2}
    assert await box.result(task_id) == {
        "invalid_user_id_list": ["nobody"],
        "forbidden_user_id_list": [],
        "failed_user_id_list": [],
        "read_user_id_list": [],
        "unread_user_id_list": people,
        "invalid_dept_id_list": [],
        "forbidden_list": [],
    }


async def test_form_encoded_send_with_msg_as_a_json_string(notices: Callable[..., Notices]) -> None:
    box = notices()
    token = await box.client.token()
    fields = {"agent_id": str(APP.agent_id), "userid_list": BOSS_USERID, "msg": json.dumps(TEXT)}
    response = await box.client.http.post(SEND, params={"access_token": token}, data=fields)
    answer = response.json()
    assert answer["errcode"] == 0, answer
    [sent] = (await box.client.http.get("/_sandbox/notifications")).json()["notifications"]
    assert (sent["task_id"], sent["msg"]) == (answer["task_id"], TEXT)
    broken = {**fields, "msg": "{not json"}
    response = await box.client.http.post(SEND, params={"access_token": token}, data=broken)
    assert response.json()["errcode"] == 40035


async def test_departments_include_their_sub_departments(notices: Callable[..., Notices]) -> None:
    box = notices()
    division = next(d for d in box.org.departments.values() if d.level == 1 and d.children)
    task_id = await box.send(userid_list=None, dept_id_list=f"{division.dept_id},999")
    result = await box.result(task_id)
    assert len(result["unread_user_id_list"]) == division.member_count
    assert result["invalid_dept_id_list"] == [999]
    hello = {"msgtype": "text", "text": {"content": "hello everyone"}}
    everyone = await box.send(userid_list=None, to_all_user=True, msg=hello)
    [view] = [
        n
        for n in (await box.client.http.get("/_sandbox/notifications")).json()["notifications"]
        if n["task_id"] == everyone
    ]
    assert view["recipient_count"] == len(box.org.users)
    # More than 100 receivers: no result (§12.2).
    answer = await box.client.oapi(
        BASE + "getsendresult", {"agent_id": APP.agent_id, "task_id": everyone}
    )
    assert answer["errcode"] == 41052


@pytest.mark.parametrize(
    ("fields", "errcode"),
    [
        ({"agent_id": None}, 41011),
        ({"agent_id": 1}, 40056),
        ({"agent_id": OTHER.agent_id}, 40056),  # another app's agent
        ({"userid_list": ",".join(f"u{n}" for n in range(101))}, 40032),
        ({"userid_list": None, "dept_id_list": ",".join(str(n) for n in range(2, 23))}, 40032),
        ({"userid_list": None}, 40035),  # no receivers
        ({"userid_list": None, "dept_id_list": "sales"}, 40035),
        ({"msg": None}, 40035),
        ({"msg": {"msgtype": "sms", "sms": {}}}, 40008),
        ({"msg": {"text": {"content": "x"}}}, 40008),
        ({"msg": {"msgtype": "text", "text": {}}}, 40035),
        ({"msg": {"msgtype": "text"}}, 40035),
        ({"msg": {"msgtype": "image", "image": {}}}, 41006),
        ({"msg": {"msgtype": "link", "link": {"title": "t", "text": "x", "picUrl": "p"}}}, 40035),
        ({"msg": {"msgtype": "action_card", "action_card": {"markdown": "x"}}}, 40035),
        ({"msg": {"msgtype": "oa", "oa": {"message_url": "u", "head": {}, "body": {}}}}, 40035),
        ({"msg": {"msgtype": "text", "text": {"content": "字" * 683}}}, 40035),  # > 2048 bytes
        ({"to_all_user": "sometimes"}, 40035),
    ],
)
async def test_send_errors(
    notices: Callable[..., Notices], fields: dict[str, Any], errcode: int
) -> None:
    box = notices()
    body = {key: value for key, value in box.body(**fields).items() if value is not None}
    assert await box.errcode(SEND, body) == errcode


async def test_msg_of_exactly_2048_bytes_is_accepted(notices: Callable[..., Notices]) -> None:
    box = notices()
    frame = len(json.dumps({"msgtype": "text", "text": {"content": ""}}, separators=(",", ":")))
    await box.send(msg={"msgtype": "text", "text": {"content": "a" * (2048 - frame)}})


async def test_same_content_reaches_a_user_once_a_day(
    notices: Callable[..., Notices], fake_clock: Any
) -> None:
    box = notices()
    await box.send()
    again = await box.result(await box.send(userid_list=f"{BOSS_USERID},{box.org.users[1].userid}"))
    assert again["forbidden_user_id_list"] == [BOSS_USERID]
    assert again["forbidden_list"] == [{"code": "143106", "count": 1, "userid": BOSS_USERID}]
    assert again["unread_user_id_list"] == [box.org.users[1].userid]
    other = {"msgtype": "text", "text": {"content": "something else"}}
    assert (await box.result(await box.send(msg=other)))["forbidden_user_id_list"] == []
    fake_clock.advance(86_400)
    assert (await box.result(await box.send()))["forbidden_user_id_list"] == []


async def test_limits_off_delivers_repeats(notices: Callable[..., Notices]) -> None:
    box = notices(limits=False)
    await box.send()
    assert (await box.result(await box.send()))["unread_user_id_list"] == [BOSS_USERID]


async def test_tasks_belong_to_their_app_and_expire(
    notices: Callable[..., Notices], fake_clock: Any
) -> None:
    box = notices()
    task_id = await box.send()
    progress = BASE + "getsendprogress"
    as_other = {"agent_id": OTHER.agent_id, "task_id": task_id}
    assert await box.errcode(progress, as_other, app=OTHER) == 40035
    assert await box.errcode(progress, {"agent_id": APP.agent_id, "task_id": 1}) == 40035
    assert await box.errcode(progress, {"agent_id": APP.agent_id, "task_id": "x"}) == 40035
    fake_clock.advance(24 * 3600 + 1)
    mine = {"agent_id": APP.agent_id, "task_id": task_id}
    assert await box.errcode(BASE + "getsendresult", mine) == 40035  # 24 hours
    assert await box.errcode(progress, mine) == 0  # 7 days
    recall = {"agent_id": APP.agent_id, "msg_task_id": task_id}
    assert await box.errcode(BASE + "recall", recall) == 400002


async def test_recall(notices: Callable[..., Notices]) -> None:
    box = notices()
    task_id = await box.send()
    body = {"agent_id": APP.agent_id, "msg_task_id": task_id}
    assert (await box.client.oapi(BASE + "recall", body))["errcode"] == 0
    assert (await box.client.oapi(BASE + "recall", body))["errcode"] == 0  # again: fine
    assert await box.errcode(BASE + "recall", {"agent_id": APP.agent_id, "task_id": task_id}) == (
        400002  # msg_task_id, not task_id (§12.2)
    )
    [view] = (await box.client.http.get("/_sandbox/notifications")).json()["notifications"]
    assert view["recalled_at"] is not None


async def test_sandbox_view_renders_each_type(notices: Callable[..., Notices]) -> None:
    box = notices()
    card = {"msgtype": "action_card", "action_card": {
        "title": "Deploy", "markdown": "**ship?**", "btn_orientation": "1",
        "btn_json_list": [{"title": "Yes", "action_url": "https://ci/yes"}],
    }}  # fmt: skip
    oa = {"msgtype": "oa", "oa": {
        "message_url": "https://oa", "head": {"bgcolor": "FFBBBBBB", "text": "<b>head</b>"},
        "body": {"title": "Leave", "form": [{"key": "Days", "value": "2"}], "author": "Li"},
    }}  # fmt: skip
    for msg in (TEXT, card, oa):
        await box.send(msg=msg, userid_list=box.org.users[2].userid)
    views = (await box.client.http.get("/_sandbox/notifications")).json()["notifications"]
    by_type = {view["msgtype"]: view for view in views}
    assert by_type["text"]["html"] == (
        '<div class="dt-msg dt-msg-text"><div class="dt-text">build 42 is green</div></div>'
    )
    assert "buttons-horizontal" in by_type["action_card"]["html"]
    assert 'href="https://ci/yes"' in by_type["action_card"]["html"]
    assert "&lt;b&gt;head&lt;/b&gt;" in by_type["oa"]["html"]
    assert "<b>" not in by_type["oa"]["html"]
    assert 'style="background:#BBBBBB"' in by_type["oa"]["html"]
    assert by_type["oa"]["recipients"] == [
        {"userid": box.org.users[2].userid, "name": box.org.users[2].name}
    ]
    assert by_type["oa"]["app"] == APP.name


def test_media_messages_show_their_media_id() -> None:
    html = notification_html({"msgtype": "file", "file": {"media_id": "@lA<x>"}})
    assert "@lA&lt;x&gt;" in html


# -- through the SDK ------------------------------------------------------------------------


@pytest.fixture
def served(make_sandbox: Callable[..., Sandbox]) -> Iterator[SandboxServer]:
    sandbox = make_sandbox(config=SandboxConfig())
    sandbox.add_app(APP)
    with SandboxServer(sandbox) as server:
        yield server


def test_sdk_round_trip_sync(served: SandboxServer) -> None:
    org = served.sandbox.org
    people = [u.userid for u in org.users[:2]]
    oa = OA(
        message_url="https://oa.example.com/1",
        head=OAHead("FFBBBBBB", "OA"),
        body=OABody(title="Leave", form=(OAFormItem("Days", "2"),)),
    )
    with httpx.Client() as http, DingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http, environ={"DINGTALK_AGENT_ID": str(APP.agent_id)},
    ) as client:  # fmt: skip
        task_id = client.notifications.send("hello", userids=[*people, "ghost"])
        assert client.notifications.progress(task_id).done
        result = client.notifications.result(task_id)
        assert (result.unread_user_id_list, result.invalid_user_id_list) == (people, ["ghost"])
        client.notifications.recall(task_id)
        for msg in (
            WorkMarkdown(title="Release", text="# 1.2"),
            WorkLink(message_url="https://x", pic_url="@media", title="t", text="x"),
            WorkActionCard(markdown="go?", buttons=(ActionCardButton("Go", "https://go"),)),
            oa,
        ):
            assert client.notifications.send(msg, dept_ids=[ROOT_DEPT_ID]) > task_id
    views = httpx.get(served.url + "/_sandbox/notifications").json()["notifications"]
    assert [v["msgtype"] for v in views] == ["oa", "action_card", "link", "markdown", "text"]
    assert views[-1]["recalled_at"] is not None


async def test_sdk_round_trip_async(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(config=SandboxConfig())
    sandbox.add_app(APP)
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport) as http, AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base="http://sandbox", api_base="http://sandbox",
        qps=None, http_client=http,
    ) as client:  # fmt: skip
        task_id = await client.notifications.send(
            "async hello", dept_ids=[ROOT_DEPT_ID], agent_id=APP.agent_id
        )
        progress = await client.notifications.progress(task_id, agent_id=APP.agent_id)
        assert (progress.progress_in_percent, progress.status) == (100, 2)
        small = await client.notifications.send(
            "to two", userids=[u.userid for u in sandbox.org.users[:2]], agent_id=APP.agent_id
        )
        result = await client.notifications.result(small, agent_id=APP.agent_id)
        assert len(result.unread_user_id_list) == 2
        await client.notifications.recall(small, agent_id=APP.agent_id)
