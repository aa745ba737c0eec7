"""Interactive cards and AI cards' streaming in the sandbox: the bodies the official SDK sends
(create, deliver, createAndDeliver, update, streaming) checked as DingTalk does, the card kept
in its conversation's messages as it is now; through the SDK (sync and async) and raw."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dingkit import AsyncDingTalk, BadRequestError, DingTalk, NotFoundError
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.bots.conversations import open_group, single_conversation
from dingkit.sandbox.config import AppConfig, SandboxConfig
from reliability.hostile import json_values

pytestmark = pytest.mark.anyio

OpenApi = Any  # tests/sandbox/conftest.py's client
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
OTHER = AppConfig(name="other", app_key="dingother0001", app_secret="other-secret-0001")
TPL = "382e4302-551d-4880-bf29-a30acfab2e71.schema"
BOSS = "manager0001"


def _group(sandbox: Sandbox) -> str:
    return open_group(sandbox, "Ops", members=[BOSS], robot_codes=[APP.app_key]).id


def _create_and_deliver(group: str, out_track_id: str = "t-1", **fields: Any) -> dict[str, Any]:
    # As dingtalk_stream/card_replier.py's create_and_deliver_card sends it, in a group.
    return {
        "cardTemplateId": TPL,
        "outTrackId": out_track_id,
        "cardData": {"cardParamMap": {"content": "", "flowStatus": "1"}},
        "callbackType": "STREAM",
        "imGroupOpenSpaceModel": {"supportForward": True},
        "imRobotOpenSpaceModel": {"supportForward": True},
        "openSpaceId": f"dtv1.card//IM_GROUP.{group}",
        "userIdType": 1,
        "imGroupOpenDeliverModel": {"robotCode": APP.app_key},
        **fields,
    }


def _stream(guid: str, content: str, **fields: Any) -> dict[str, Any]:
    return {
        "outTrackId": "t-1",
        "guid": guid,
        "key": "content",
        "content": content,
        "isFull": False,
        "isFinalize": False,
        "isError": False,
        **fields,
    }


def _cards(sandbox: Sandbox, conversation: str) -> list[dict[str, Any]]:
    return [m.data["card"] for m in sandbox.bots.messages(conversation) if m.via == "card"]


async def test_a_streamed_card_shows_its_latest_text_in_the_conversation(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi]
) -> None:
    sandbox = open_sandbox()
    group = _group(sandbox)
    api = connect(sandbox)
    made = await api.api(
        "POST", "/v1.0/card/instances/createAndDeliver", _create_and_deliver(group)
    )
    assert made.status_code == 200, made.text
    [result] = made.json()["result"]["deliverResults"]
    assert (result["spaceType"], result["spaceId"], result["success"]) == ("IM_GROUP", group, True)
    [card] = _cards(sandbox, group)
    assert (card["status"], card["finished"], card["content"]) == ("processing", False, "")

    for guid, chunk in (("g1", "Hel"), ("g2", "lo"), ("g2", "lo")):  # g2 repeated: dropped
        answer = await api.api("PUT", "/v1.0/card/streaming", _stream(guid, chunk))
        assert answer.json() == {"success": True, "result": True}
    [card] = _cards(sandbox, group)
    assert (card["content"], card["status"], card["finished"]) == ("Hello", "inputing", False)

    full = _stream("g3", "Hello, world", isFull=True, isFinalize=True)
    assert (await api.api("PUT", "/v1.0/card/streaming", full)).status_code == 200
    [card] = _cards(sandbox, group)
    assert card["content"] == "Hello, world"
    assert (card["status"], card["finished"], card["failed"]) == ("finished", True, False)
    assert card["template_id"] == TPL
    assert card["data"]["flowStatus"] == "3"

    late = await api.api("PUT", "/v1.0/card/streaming", _stream("g4", "more"))
    assert (late.status_code, late.json()["code"]) == (400, "param.invalid")
    # The page's view: the same JSON, card included.
    listed = await api.http.get(f"/_sandbox/conversations/{group}/messages")
    assert listed.json()["messages"][-1]["card"]["content"] == "Hello, world"


async def test_create_then_deliver_into_a_one_to_one_chat_and_update(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi]
) -> None:
    sandbox = open_sandbox()
    api = connect(sandbox)
    create = {
        "cardTemplateId": "589420e2-c1e2-46ef-a5ed-b8728e654da9.schema",
        "outTrackId": "md-1",
        "cardData": {"cardParamMap": {"markdown": "**hi**", "title": "T"}},
        "callbackType": "STREAM",
    }
    assert (await api.api("POST", "/v1.0/card/instances", create)).status_code == 200
    chat = single_conversation(sandbox, APP.app_key, BOSS).id
    assert _cards(sandbox, chat) == []  # created, not delivered
    deliver = {
        "outTrackId": "md-1",
        "userIdType": 1,
        "openSpaceId": f"dtv1.card//IM_ROBOT.{BOSS}",
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"},
    }
    assert (await api.api("POST", "/v1.0/card/instances/deliver", deliver)).status_code == 200
    [card] = _cards(sandbox, chat)
    assert (card["content"], card["status"], card["finished"]) == ("**hi**", "sent", True)

    put = {"outTrackId": "md-1", "cardData": {"cardParamMap": {"markdown": "**bye**"}}}
    assert (await api.api("PUT", "/v1.0/card/instances", put)).status_code == 200
    assert _cards(sandbox, chat)[0]["data"] == {"markdown": "**bye**"}  # replaced
    put["cardUpdateOptions"] = {"updateCardDataByKey": True}
    put["cardData"] = {"cardParamMap": {"title": "T2"}}
    assert (await api.api("PUT", "/v1.0/card/instances", put)).status_code == 200
    assert _cards(sandbox, chat)[0]["data"] == {"markdown": "**bye**", "title": "T2"}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"cardTemplateId": ""}, "param.cardTemplateIdEmpty"),
        ({"outTrackId": None}, "param.outTrackIdEmpty"),
        ({"cardData": {}}, "param.cardPublicDataEmpty"),
        ({"cardData": {"cardParamMap": {"n": 1}}}, "param.invalid"),
        ({"callbackType": "CARRIER_PIGEON"}, "param.invalid"),
        ({"openSpaceId": "IM_GROUP.cid"}, "param.openSpaceIdInvalid"),
        ({"openSpaceId": "dtv1.card//ONE_BOX.cid"}, "param.openSpaceIdInvalid"),
        ({"openSpaceId": "dtv1.card//IM_GROUP.cidnope=="}, "param.openSpaceIdInvalid"),
        ({"imGroupOpenDeliverModel": None}, "param.openSpaceModelInvalid"),
        ({"imGroupOpenDeliverModel": {"robotCode": "nobody"}}, "chatbot.notFound"),
        ({"imGroupOpenDeliverModel": {"robotCode": OTHER.app_key}}, "chatbot.notFound"),
        (
            {"openSpaceId": "dtv1.card//IM_ROBOT.ghost", "imRobotOpenDeliverModel": {}},
            "param.userIdNotExist",
        ),
        ({"openSpaceId": f"dtv1.card//IM_ROBOT.{BOSS}"}, "param.openSpaceModelInvalid"),
        ({"userIdType": 2}, "param.invalid"),
    ],
)
async def test_create_and_deliver_refuses_what_dingtalk_refuses(
    open_sandbox: Callable[..., Sandbox],
    connect: Callable[..., OpenApi],
    fields: dict[str, Any],
    code: str,
) -> None:
    sandbox = open_sandbox()
    sandbox.add_app(OTHER)
    group = _group(sandbox)
    body = _create_and_deliver(group, **fields)
    answer = await connect(sandbox).api("POST", "/v1.0/card/instances/createAndDeliver", body)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text
    assert sandbox.cards.get(APP.app_key, "t-1") is None  # nothing half made
    assert _cards(sandbox, group) == []


async def test_cards_are_the_creating_apps_and_streaming_is_checked(
    open_sandbox: Callable[..., Sandbox], connect: Callable[..., OpenApi]
) -> None:
    sandbox = open_sandbox()
    sandbox.add_app(OTHER)
    group = _group(sandbox)
    api = connect(sandbox)
    path = "/v1.0/card/instances/createAndDeliver"
    assert (await api.api("POST", path, _create_and_deliver(group))).status_code == 200
    again = await api.api("POST", path, _create_and_deliver(group))
    assert (again.status_code, again.json()["code"]) == (400, "param.invalid")
    theirs = await api.api("PUT", "/v1.0/card/streaming", _stream("g", "x"), app=OTHER)
    assert (theirs.status_code, theirs.json()["code"]) == (400, "param.outTrackIdNotExist")
    for fields in ({"guid": ""}, {"key": 7}, {"content": None}, {"isFull": "yes"}):
        bad = await api.api("PUT", "/v1.0/card/streaming", {**_stream("g", "x"), **fields})
        assert (bad.status_code, bad.json()["code"]) == (400, "param.invalid"), fields
    failed = await api.api("PUT", "/v1.0/card/streaming", _stream("g", "oops", isError=True))
    assert failed.status_code == 200
    [card] = _cards(sandbox, group)
    assert (card["status"], card["finished"], card["failed"]) == ("failed", True, True)


# -- through the SDK ------------------------------------------------------------------------


@pytest.fixture
def served(make_sandbox: Callable[..., Sandbox]) -> Iterator[SandboxServer]:
    sandbox = make_sandbox(config=SandboxConfig(limits=False))
    sandbox.add_app(APP)
    with SandboxServer(sandbox) as server:
        yield server


def test_sdk_streams_a_card_sync(served: SandboxServer) -> None:
    sandbox = served.sandbox
    group = _group(sandbox)
    with httpx.Client() as http, DingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http,
    ) as client:  # fmt: skip
        made = client.cards.create_and_deliver(
            TPL, "s-1", {"content": "", "n": 3}, "IM_GROUP", group
        )
        assert made.out_track_id == "s-1"
        assert [(r.space_type, r.space_id) for r in made.deliver_results] == [("IM_GROUP", group)]
        for chunk in ("one ", "two ", "three"):
            assert client.cards.stream("s-1", "content", chunk, full=False) is True
        client.cards.stream("s-1", "content", "one two three.", finalize=True)
        with pytest.raises(NotFoundError) as unknown:
            client.cards.update("nope", {"x": "y"})
        assert unknown.value.code == "param.outTrackIdNotExist"
    [card] = _cards(sandbox, group)
    assert (card["content"], card["finished"]) == ("one two three.", True)
    assert card["data"]["n"] == "3"  # non-strings go as JSON


async def test_sdk_creates_delivers_and_updates_async(served: SandboxServer) -> None:
    sandbox = served.sandbox
    async with httpx.AsyncClient() as http, AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http,
    ) as client:  # fmt: skip
        assert (await client.cards.create(TPL, "a-1", {"text": "hi"})).out_track_id == "a-1"
        made = await client.cards.deliver("a-1", "IM_ROBOT", BOSS)
        assert made.deliver_results[0].space_id == BOSS
        assert await client.cards.update("a-1", {"text": "bye"}) is True
        with pytest.raises(BadRequestError) as taken:
            await client.cards.create(TPL, "a-1", {})
        assert taken.value.code == "param.invalid"
    chat = single_conversation(sandbox, APP.app_key, BOSS).id
    [card] = _cards(sandbox, chat)
    assert (card["content"], card["finished"]) == ("bye", True)


# -- hostile values in well-formed bodies ------------------------------------------------------


def test_no_hostile_field_value_breaks_the_card_rules(served: SandboxServer) -> None:
    sandbox = served.sandbox
    group = _group(sandbox)
    sandbox.add_app(OTHER)
    calls = [
        ("POST", "/v1.0/card/instances/createAndDeliver", _create_and_deliver(group, "h-0")),
        ("POST", "/v1.0/card/instances", _create_and_deliver(group, "h-0")),
        ("POST", "/v1.0/card/instances/deliver", _create_and_deliver(group, "h-1")),
        ("PUT", "/v1.0/card/instances", {"outTrackId": "h-1", "cardData": {"cardParamMap": {}}}),
        ("PUT", "/v1.0/card/streaming", {**_stream("g", "x"), "outTrackId": "h-1"}),
    ]
    with httpx.Client(base_url=served.url, timeout=60) as http:
        token = http.get(
            "/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret}
        ).json()["access_token"]
        made = http.post(
            "/v1.0/card/instances/createAndDeliver",
            json=_create_and_deliver(group, "h-1"),
            headers={"x-acs-dingtalk-access-token": token},
        )
        assert made.status_code == 200, made.text

        @settings(
            max_examples=150,
            derandomize=True,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(data=st.data())
        def case(data: st.DataObject) -> None:
            method, path, body = data.draw(st.sampled_from(calls))
            body = dict(body)
            name = data.draw(st.sampled_from([*body, "cardParamMap", "robotCode"]))
            value = data.draw(json_values)
            if name == "cardParamMap":
                body["cardData"] = {"cardParamMap": value}
            elif name == "robotCode":
                body["imGroupOpenDeliverModel"] = {"robotCode": value}
            else:
                body[name] = value
            answer = http.request(
                method, path, json=body, headers={"x-acs-dingtalk-access-token": token}
            )
            assert answer.status_code < 500, (method, path, body, answer.text[:300])
            if answer.status_code >= 400:
                assert answer.json()["code"], answer.text

        case()
    listed = httpx.get(f"{served.url}/_sandbox/conversations/{group}/messages")
    assert listed.status_code == 200
