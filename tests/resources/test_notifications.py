from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dingkit import APIConnectionError, ConfigurationError, MessageValidationError
from dingkit.resources import notifications as n
from dingkit.resources.notifications import (
    OA,
    ActionCardButton,
    OABody,
    OAFormItem,
    OAHead,
    OARich,
    OAStatusBar,
    WorkActionCard,
    WorkLink,
    WorkMarkdown,
    WorkText,
)

from .conftest import Driver, FakeDingTalk

SEND = "/topapi/message/corpconversation/asyncsend_v2"
PROGRESS = "/topapi/message/corpconversation/getsendprogress"
RESULT = "/topapi/message/corpconversation/getsendresult"
RECALL = "/topapi/message/corpconversation/recall"
OK = {"errcode": 0, "errmsg": "ok", "request_id": "r1"}

MESSAGES: list[tuple[Any, dict[str, Any]]] = [
    (WorkText(content="hi"), {"msgtype": "text", "text": {"content": "hi"}}),
    (
        WorkMarkdown(title="T", text="# x"),
        {"msgtype": "markdown", "markdown": {"title": "T", "text": "# x"}},
    ),
    (
        WorkLink(message_url="https://a", pic_url="@media", title="T", text="x"),
        {
            "msgtype": "link",
            "link": {"messageUrl": "https://a", "picUrl": "@media", "title": "T", "text": "x"},
        },
    ),
    (
        WorkActionCard(title="T", markdown="m", single_title="Open", single_url="https://a"),
        {
            "msgtype": "action_card",
            "action_card": {
                "title": "T",
                "markdown": "m",
                "single_title": "Open",
                "single_url": "https://a",
            },
        },
    ),
    (
        WorkActionCard(
            markdown="m",
            buttons=(ActionCardButton("Yes", "https://y"), ActionCardButton("No", "https://n")),
            btn_orientation="1",
        ),
        {
            "msgtype": "action_card",
            "action_card": {
                "markdown": "m",
                "btn_json_list": [
                    {"title": "Yes", "action_url": "https://y"},
                    {"title": "No", "action_url": "https://n"},
                ],
                "btn_orientation": "1",
            },
        },
    ),
    (
        OA(
            message_url="https://a",
            pc_message_url="https://pc",
            head=OAHead("FFBBBBBB", "app"),
            status_bar=OAStatusBar("pending", "0xFFFF9D46"),
            body=OABody(
                title="Leave",
                form=(OAFormItem("Days:", "2"),),
                rich=OARich("2", "days"),
                content="c",
                file_count="1",
                author="Li",
            ),
        ),
        {
            "msgtype": "oa",
            "oa": {
                "message_url": "https://a",
                "pc_message_url": "https://pc",
                "head": {"bgcolor": "FFBBBBBB", "text": "app"},
                "status_bar": {"status_value": "pending", "status_bg": "0xFFFF9D46"},
                "body": {
                    "title": "Leave",
                    "content": "c",
                    "file_count": "1",
                    "author": "Li",
                    "form": [{"key": "Days:", "value": "2"}],
                    "rich": {"num": "2", "unit": "days"},
                },
            },
        },
    ),
]


@pytest.mark.parametrize(("message", "wire"), MESSAGES, ids=lambda m: getattr(m, "msgtype", ""))
def test_send_posts_the_exact_body_and_returns_the_task_id(
    dingtalk: Driver, fake: FakeDingTalk, message: Any, wire: dict[str, Any]
) -> None:
    fake.route("POST", SEND, {**OK, "task_id": 256271667526})
    task = dingtalk.run(lambda c: c.notifications.send(message, userids=["u1", "u2"], agent_id=42))
    assert task == 256271667526
    assert fake.bodies() == [{"agent_id": 42, "userid_list": "u1,u2", "msg": wire}]
    assert fake.calls[0].params == {"access_token": "tok-secret-value"}


def test_receivers_departments_and_everyone(make_driver: Any, fake: FakeDingTalk) -> None:
    fake.route("POST", SEND, {**OK, "task_id": 1})
    client = make_driver().client
    client.notifications.send("x", dept_ids=[1, 2, 2], agent_id=1)
    client.notifications.send("x", to_all_user=True, agent_id=1)
    assert [{k: v for k, v in b.items() if k != "msg"} for b in fake.bodies()] == [
        {"agent_id": 1, "dept_id_list": "1,2"},
        {"agent_id": 1, "to_all_user": True},
    ]
    assert fake.bodies()[0]["msg"] == {"msgtype": "text", "text": {"content": "x"}}


def test_send_is_not_repeated_after_a_lost_answer(make_driver: Any, fake: FakeDingTalk) -> None:
    def lost(call: Any) -> None:
        raise httpx.ReadError("connection reset")

    fake.route("POST", SEND, lost)
    with pytest.raises(APIConnectionError):
        make_driver().client.notifications.send("x", agent_id=1, userids=["u"])
    assert len(fake.calls) == 1  # a second send could notify everyone twice


@pytest.mark.parametrize(
    ("receivers", "field", "says"),
    [
        ({}, "userid_list", "no receivers"),
        ({"userids": [f"u{i}" for i in range(101)]}, "userid_list", "at most 100"),
        ({"dept_ids": list(range(21))}, "dept_id_list", "at most 20"),
        ({"to_all_user": True, "userids": ["u"]}, "to_all_user", "leave userids"),
        ({"userids": ["a,b"]}, "userid_list", "comma"),
    ],
)
def test_bad_receivers_are_refused_before_sending(
    make_driver: Any, fake: FakeDingTalk, receivers: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(MessageValidationError, match=says) as caught:
        make_driver().client.notifications.send("x", agent_id=1, **receivers)
    assert caught.value.field == field
    assert fake.calls == []


def test_exactly_100_users_and_20_departments_are_fine() -> None:
    body = n.send("x", agent_id=1, userids=[f"u{i}" for i in range(100)], dept_ids=range(20)).json
    assert len(body["userid_list"].split(",")) == 100
    assert len(body["dept_id_list"].split(",")) == 20


def test_msg_over_2048_bytes_is_refused_counting_utf8_bytes() -> None:
    overhead = len(json.dumps({"msgtype": "text", "text": {"content": ""}}, separators=(",", ":")))
    n.send("a" * (2048 - overhead), agent_id=1, userids=["u"])  # exactly 2048: fine
    with pytest.raises(MessageValidationError, match="2049 bytes") as caught:
        n.send("a" * (2049 - overhead), agent_id=1, userids=["u"])
    assert caught.value.field == "msg"
    with pytest.raises(MessageValidationError, match="bytes"):
        n.send("钉" * 700, agent_id=1, userids=["u"])  # 700 characters, 2100 bytes


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: WorkText(content=""), "text.content"),
        (lambda: WorkMarkdown(title="", text="x"), "markdown.title"),
        (lambda: WorkLink(message_url="", pic_url="p", title="t", text="x"), "link.messageUrl"),
        (lambda: WorkActionCard(markdown="m"), "action_card.single_title"),
        (lambda: WorkActionCard(markdown="m", single_title="Open"), "action_card.single_url"),
        (
            lambda: WorkActionCard(
                markdown="m",
                single_title="a",
                single_url="b",
                buttons=(ActionCardButton("x", "y"),),
            ),
            "action_card.btn_json_list",
        ),
        (lambda: OAHead("0xFFBBBBBB", "x"), "oa.head.bgcolor"),
    ],
)
def test_malformed_messages_name_the_field(build: Any, field: str) -> None:
    with pytest.raises(MessageValidationError) as caught:
        build()
    assert caught.value.field == field


def test_oa_status_bar_needs_at_most_five_userids() -> None:
    oa = OA(message_url="https://a", head=OAHead("FFBBBBBB", "x"), status_bar=OAStatusBar("ok"))
    n.send(oa, agent_id=1, userids=["u1", "u2", "u3", "u4", "u5"])
    with pytest.raises(MessageValidationError, match="status_bar"):
        n.send(oa, agent_id=1, userids=[f"u{i}" for i in range(6)])
    with pytest.raises(MessageValidationError, match="status_bar"):
        n.send(oa, agent_id=1, dept_ids=[1])


def test_a_raw_msg_mapping_passes_through() -> None:
    msg = {"msgtype": "image", "image": {"media_id": "@lA"}}
    assert n.send(msg, agent_id=1, userids=["u"]).json["msg"] == msg
    with pytest.raises(MessageValidationError, match="msgtype"):
        n.send({"image": {}}, agent_id=1, userids=["u"])


def test_agent_id_from_the_environment(make_driver: Any, fake: FakeDingTalk) -> None:
    fake.route("POST", SEND, {**OK, "task_id": "7"})
    client = make_driver(environ={"DINGTALK_AGENT_ID": " 99 "}).client
    assert client.notifications.send("x", userids=["u"]) == 7
    assert client.notifications.send("x", userids=["u"], agent_id=5) == 7
    assert [body["agent_id"] for body in fake.bodies()] == [99, 5]


def test_no_agent_id_is_a_configuration_error(make_driver: Any, fake: FakeDingTalk) -> None:
    client = make_driver().client
    with pytest.raises(ConfigurationError, match="DINGTALK_AGENT_ID"):
        client.notifications.send("x", userids=["u"])
    with pytest.raises(ConfigurationError, match="DINGTALK_AGENT_ID must be a number"):
        make_driver(environ={"DINGTALK_AGENT_ID": "abc"}).client.notifications.progress(1)
    assert fake.calls == []


def test_progress(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("POST", PROGRESS, {**OK, "progress": {"progress_in_percent": 100, "status": 2}})
    progress = dingtalk.run(lambda c: c.notifications.progress(77, agent_id=3))
    assert (progress.progress_in_percent, progress.status, progress.done) == (100, 2, True)
    assert fake.bodies() == [{"agent_id": 3, "task_id": 77}]


def test_result_tolerates_missing_lists(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route(
        "POST",
        RESULT,
        {
            "errcode": 0,
            "send_result": {
                "read_user_id_list": ["u1"],
                "unread_user_id_list": [],
                "invalid_dept_id_list": ["3"],
                "forbidden_list": [{"code": 143105, "count": "500", "userid": "u9"}],
            },
        },
    )
    result = dingtalk.run(lambda c: c.notifications.result(77, agent_id=3))
    assert result.read_user_id_list == ["u1"]
    assert result.forbidden_user_id_list == []
    assert result.failed_user_id_list == []
    assert result.invalid_dept_id_list == [3]
    assert (result.forbidden_list[0].code, result.forbidden_list[0].count) == ("143105", 500)
    assert fake.bodies() == [{"agent_id": 3, "task_id": 77}]


def test_recall_sends_msg_task_id(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("POST", RECALL, {"errcode": 0, "errmsg": "ok"})
    assert dingtalk.run(lambda c: c.notifications.recall(77, agent_id=3)) is None
    assert fake.bodies() == [{"agent_id": 3, "msg_task_id": 77}]
