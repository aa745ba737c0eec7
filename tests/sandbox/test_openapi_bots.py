"""App robots in the sandbox: the robot OpenAPI's one-to-one and group sends (§12.3) and
replies through a session webhook (§8.1), through the SDK (sync and async) and raw."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dingkit import (
    ActionButton,
    ActionCard,
    AsyncDingTalk,
    AuthenticationError,
    BadRequestError,
    DingTalk,
    Link,
    Markdown,
    SessionExpiredError,
    Text,
)
from dingkit.robot import At
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox.bots.conversations import open_group, open_session, single_conversation
from dingkit.sandbox.config import AppConfig, SandboxConfig

pytestmark = pytest.mark.anyio

OpenApi = Any  # tests/sandbox/conftest.py's client (this folder is not a package)
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
OTHER = AppConfig(name="other", app_key="dingother0001", app_secret="other-secret-0001")
OTO = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
TEXT = {"msgKey": "sampleText", "msgParam": json.dumps({"content": "hi"})}


def _group(sandbox: Sandbox, *robots: str) -> str:
    members = [u.userid for u in sandbox.org.users[:3]]
    return open_group(sandbox, "Ops", members=members, robot_codes=robots or [APP.app_key]).id


# -- raw requests: what DingTalk checks -------------------------------------------------------


async def _code(client: OpenApi, path: str, body: Any, **kwargs: Any) -> tuple[int, str]:
    response = await client.api("POST", path, body, **kwargs)
    return response.status_code, response.json().get("code", "")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"robotCode": ""}, "invalidParameter.robotCode.empty"),
        ({"robotCode": "nobody-knows"}, "invalidParameter.robotCode.empty"),
        ({"robotCode": OTHER.app_key}, "invalidParameter.robotCode.auth"),
        ({"userIds": []}, "invalidParameter.userIds.empty"),
        ({"userIds": "u1"}, "invalidParameter.userIds.empty"),
        ({"userIds": [f"u{i}" for i in range(21)]}, "invalidParameter.userIds.overMax"),
        ({"msgKey": ""}, "invalidParameter.msgKey.empty"),
        ({"msgKey": "sampleNope"}, "invalidParameter.msgKey.invalid"),
        ({"msgParam": {"content": "an object, not a string"}}, "invalidParameter.msgParam.invalid"),
        ({"msgParam": "{not json"}, "invalidParameter.msgParam.invalid"),
        ({"msgParam": '{"content": NaN}'}, "invalidParameter.msgParam.invalid"),
        ({"msgParam": "[1]"}, "invalidParameter.msgParam.invalid"),
        ({"msgParam": '{"text": "no content"}'}, "invalidParameter.msgParam.invalid"),
        ({"msgParam": json.dumps({"content": "x" * 15001})}, "invalidParameter.msgParam.tooLong"),
    ],
)
async def test_batch_send_refuses_what_dingtalk_refuses(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi], fields: Any, code: str
) -> None:
    sandbox = open_sandbox()
    sandbox.add_app(OTHER)
    body = {"robotCode": APP.app_key, "userIds": ["manager0001"], **TEXT, **fields}
    assert await _code(connect(sandbox), OTO, body) == (400, code)


async def test_a_body_that_is_not_an_object_is_a_bad_parameter(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi]
) -> None:
    client = connect(open_sandbox())
    for path in (OTO, GROUP):
        assert await _code(client, path, [1, 2]) == (400, "invalidParameter")


@pytest.mark.parametrize("which", ["unknown", "single", "robot-not-in-it"])
async def test_group_send_needs_a_group_the_robot_is_in(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi], which: str
) -> None:
    sandbox = open_sandbox()
    conversation_id = {
        "unknown": "cidNOSUCHGROUP000000000==",
        "single": single_conversation(sandbox, APP.app_key, "manager0001").id,
        "robot-not-in-it": _group(sandbox, "dingsomeoneelse"),
    }[which]
    body = {"robotCode": APP.app_key, "openConversationId": conversation_id, **TEXT}
    assert await _code(connect(sandbox), GROUP, body) == (400, "invalid.openConversationId")


async def test_sends_are_recorded_in_their_conversations(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi]
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    people = [u.userid for u in sandbox.org.users[:2]]
    body = {"robotCode": APP.app_key, "userIds": [*people, "ghost"], **TEXT}
    answer = (await client.api("POST", OTO, body)).json()
    assert answer["invalidStaffIdList"] == ["ghost"]
    assert answer["flowControlledStaffIdList"] == []
    chat = single_conversation(sandbox, APP.app_key, people[0])
    assert chat.id.startswith("cid")
    assert chat.id.endswith("==")
    [sent] = sandbox.bots.messages(chat.id)
    assert (sent.via, sent.data, sent.process_query_key) == (
        "oto",
        {"msgKey": "sampleText", "msgParam": {"content": "hi"}},
        answer["processQueryKey"],
    )
    group = _group(sandbox)
    body = {"robotCode": APP.app_key, "openConversationId": group, **TEXT}
    assert (await client.api("POST", GROUP, body)).json()["processQueryKey"]
    listed = (await client.http.get(f"/_sandbox/conversations/{group}/messages")).json()
    assert [m["via"] for m in listed["messages"]] == ["group"]
    conversations = (await client.http.get("/_sandbox/conversations")).json()["conversations"]
    assert {c["type"] for c in conversations} == {"single", "group"}
    missing = await client.http.get("/_sandbox/conversations/cidnope==/messages")
    assert missing.status_code == 404
    bad = await client.http.get(f"/_sandbox/conversations/{group}/messages?after=x")
    assert bad.status_code == 400


# -- the session webhook --------------------------------------------------------------------


async def test_session_replies_are_checked_like_robot_send_and_expire(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi], fake_clock: Any
) -> None:
    sandbox = open_sandbox(session_webhook_ttl=60)
    group = _group(sandbox)
    url, expires_ms = open_session(sandbox, group, robot_code=APP.app_key)
    assert expires_ms == sandbox.now_ms() + 60_000
    path = url.removeprefix("https://oapi.dingtalk.com")
    http = connect(sandbox).http

    async def post(body: Any, **kwargs: Any) -> dict[str, Any]:
        response = await http.post(path, json=body, **kwargs)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    assert await post({"msgtype": "text", "text": {"content": "on it"}}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert (await post({"msgtype": "markdown", "markdown": {"text": "x"}}))["errcode"] == 400402
    assert (await post({"msgtype": "image"}))["errcode"] == 400105
    raw = await http.post(path, content=b"{}", headers={"content-type": "text/plain"})
    assert raw.json()["errcode"] == 43004
    [reply] = sandbox.bots.messages(group)
    assert (reply.via, reply.data["msgtype"]) == ("session", "text")
    unknown = await http.post("/robot/sendBySession?session=feed", json={"msgtype": "empty"})
    assert unknown.json() == {"errcode": 300001, "errmsg": "session 不存在"}
    fake_clock.advance(61)
    assert await post({"msgtype": "text", "text": {"content": "late"}}) == {
        "errcode": 300001,
        "errmsg": "session 不存在",
    }


# -- through the SDK ------------------------------------------------------------------------


@pytest.fixture
def served(make_sandbox: Callable[..., Sandbox], fake_clock: Any) -> Iterator[SandboxServer]:
    sandbox = make_sandbox(config=SandboxConfig(session_webhook_ttl=5), clock=fake_clock)
    sandbox.add_app(APP)
    with SandboxServer(sandbox) as server:
        yield server


def test_sdk_round_trip_sync(served: SandboxServer, fake_clock: Any) -> None:
    sandbox = served.sandbox
    people = [u.userid for u in sandbox.org.users[:2]]
    group = _group(sandbox)
    with httpx.Client() as http, DingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http,
    ) as client:  # fmt: skip
        result = client.robot.send_to_users([*people, "ghost"], "hello")
        assert result.process_query_key
        assert result.invalid_staff_id_list == ["ghost"]
        card = ActionCard(
            title="Deploy",
            text="ship?",
            buttons=(
                ActionButton(title="Yes", action_url="https://y"),
                ActionButton(title="No", action_url="https://n"),
            ),
            btn_orientation="1",
        )
        for message in (
            Markdown(title="t", text="# x"),
            card,
            Link(title="t", text="x", message_url="https://x"),
        ):
            assert client.robot.send_to_group(group, message).process_query_key
        keys = [m.data["msgKey"] for m in sandbox.bots.messages(group)]
        assert keys == ["sampleMarkdown", "sampleActionCard6", "sampleLink"]
        with pytest.raises(BadRequestError) as refused:
            client.robot.send_to_group("cidnope==", "x")
        assert refused.value.code == "invalid.openConversationId"
        url, _ = open_session(sandbox, group, robot_code=APP.app_key)
        mention = Text(content="done", at=At(at_user_ids=(people[0],)))
        assert client.robot.reply(url, mention)["errcode"] == 0
        fake_clock.advance(6)
        with pytest.raises(SessionExpiredError) as expired:
            client.robot.reply(url, "too late")
        assert isinstance(expired.value, AuthenticationError)
        assert expired.value.errcode == 300001


async def test_sdk_round_trip_async(make_sandbox: Callable[..., Sandbox], fake_clock: Any) -> None:
    sandbox = make_sandbox(config=SandboxConfig(session_webhook_ttl=5), clock=fake_clock)
    sandbox.add_app(APP)
    group = _group(sandbox)
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport) as http, AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base="http://sandbox", api_base="http://sandbox",
        qps=None, http_client=http, environ={"DINGTALK_ROBOT_CODE": APP.app_key},
    ) as client:  # fmt: skip
        result = await client.robot.send_to_users(["manager0001"], Text(content="hi"))
        assert result.flow_controlled_staff_id_list == []
        assert (await client.robot.send_to_group(group, "hi all")).process_query_key
        with pytest.raises(BadRequestError) as refused:
            await client.robot.send_to_users(["manager0001"], "x", robot_code="dingnobody")
        assert refused.value.code == "invalidParameter.robotCode.empty"
        url, _ = open_session(sandbox, group, robot_code=APP.app_key)
        assert (await client.robot.reply(url, Markdown(title="t", text="**ok**")))["errcode"] == 0
        fake_clock.advance(5)
        with pytest.raises(SessionExpiredError):
            await client.robot.reply(url, "too late")
    assert [m.via for m in sandbox.bots.messages(group)] == ["group", "session"]
