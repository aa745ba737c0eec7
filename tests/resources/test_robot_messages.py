"""The app robot's requests (§12.3) and session replies (§8.1), built without I/O."""

from __future__ import annotations

import json

import pytest

from dingkit import ConfigurationError, MessageValidationError
from dingkit.resources.robot_messages import (
    MSG_KEYS,
    RobotTemplate,
    resolve_robot_code,
    send_to_group,
    send_to_users,
    template,
)
from dingkit.robot import ActionButton, ActionCard, At, FeedCard, FeedLink, Link, Markdown, Text
from dingkit.robot.session import session_reply, session_token


def _buttons(n: int) -> tuple[ActionButton, ...]:
    return tuple(ActionButton(title=f"b{i}", action_url=f"https://b/{i}") for i in range(n))


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("plain", "sampleText"),
        (Text(content="x"), "sampleText"),
        (Markdown(title="t", text="x"), "sampleMarkdown"),
        (Link(title="t", text="x", message_url="https://x"), "sampleLink"),
        (
            ActionCard(title="t", text="x", single_title="go", single_url="https://g"),
            "sampleActionCard",
        ),
        (ActionCard(title="t", text="x", buttons=_buttons(1)), "sampleActionCard"),
        *(
            (ActionCard(title="t", text="x", buttons=_buttons(n)), f"sampleActionCard{n}")
            for n in range(2, 6)
        ),
        (
            ActionCard(title="t", text="x", buttons=_buttons(2), btn_orientation="1"),
            "sampleActionCard6",
        ),
    ],
)
def test_each_message_takes_its_template_with_every_field(message: object, key: str) -> None:
    tpl = template(message)  # type: ignore[arg-type]
    assert tpl.msg_key == key
    optional = {"picUrl"} if key == "sampleLink" else set()
    assert set(MSG_KEYS[key]) - optional <= set(tpl.msg_param)


@pytest.mark.parametrize(
    "message",
    [
        Text(content="x", at=At(at_user_ids=("u1",))),
        Markdown(title="t", text="x", at=At(is_at_all=True)),
        FeedCard(links=(FeedLink(title="t", message_url="https://x"),)),
        ActionCard(title="t", text="x", buttons=_buttons(6)),
        ActionCard(title="t", text="x", buttons=_buttons(3), btn_orientation="1"),
    ],
)
def test_what_no_template_holds_is_refused_before_sending(message: object) -> None:
    with pytest.raises(MessageValidationError):
        template(message)  # type: ignore[arg-type]


def test_requests_carry_msg_param_as_a_json_string() -> None:
    request = send_to_users(["u1", "u1", "u2"], Markdown(title="t", text="ü"), robot_code="k")
    assert request.path == "/v1.0/robot/oToMessages/batchSend"
    assert request.json["userIds"] == ["u1", "u2"]
    assert json.loads(request.json["msgParam"]) == {"title": "t", "text": "ü"}
    assert not request.idempotent
    group = send_to_group(
        "cidX==", RobotTemplate("sampleImageMsg", {"photoURL": "@m"}), robot_code="k"
    )
    assert group.json == {
        "robotCode": "k",
        "openConversationId": "cidX==",
        "msgKey": "sampleImageMsg",
        "msgParam": '{"photoURL":"@m"}',
    }
    with pytest.raises(MessageValidationError):
        send_to_users([f"u{i}" for i in range(21)], "x", robot_code="k")
    with pytest.raises(MessageValidationError):
        send_to_group("cidX==", "x" * 15001, robot_code="k")


def test_the_robot_code_is_the_argument_then_the_environment_then_the_app_key() -> None:
    assert resolve_robot_code("given", {"DINGTALK_ROBOT_CODE": "env"}, "key") == "given"
    assert resolve_robot_code(None, {"DINGTALK_ROBOT_CODE": "env"}, "key") == "env"
    assert resolve_robot_code(None, {}, "key") == "key"


def test_a_session_reply_goes_to_the_configured_host_only() -> None:
    url = "https://oapi.dingtalk.com/robot/sendBySession?session=ab12"
    request = session_reply(url, "hi")
    assert (request.path, request.params, request.auth) == (
        "/robot/sendBySession",
        {"session": "ab12"},
        False,
    )
    assert request.json == {"msgtype": "text", "text": {"content": "hi"}}
    assert (
        session_token(
            "http://127.0.0.1:9/robot/sendBySession?session=s", oapi_base="http://127.0.0.1:9"
        )
        == "s"
    )
    for bad in (
        "https://evil.example/robot/sendBySession?session=s",
        "https://oapi.dingtalk.com/robot/send?access_token=t",
        "https://oapi.dingtalk.com/robot/sendBySession",
        "not a url",
    ):
        with pytest.raises(ConfigurationError) as info:
            session_token(bad)
        assert "session=s" not in str(info.value)
