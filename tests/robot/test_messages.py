from __future__ import annotations

import pytest

from dingkit import MessageValidationError
from dingkit.robot.messages import (
    MSGTYPES,
    ActionButton,
    ActionCard,
    At,
    FeedCard,
    FeedLink,
    Link,
    Markdown,
    RobotMessage,
    Text,
    message_from_payload,
    to_payload,
)

MESSAGES: dict[str, RobotMessage] = {
    "text": Text(content="disk full @13800000000", at=At(at_mobiles=("13800000000",))),
    "markdown": Markdown(
        title="Deploy",
        text="## done @user001",
        at=At(at_user_ids=("user001",), is_at_all=True),
    ),
    "link": Link(
        title="Build 42",
        text="green",
        message_url="https://ci.example.com/42",
        pic_url="https://ci.example.com/42.png",
    ),
    "actionCard-single": ActionCard(
        title="Release",
        text="### v1.2",
        single_title="Open",
        single_url="https://example.com/release",
    ),
    "actionCard-buttons": ActionCard(
        title="Approve?",
        text="approve the release",
        buttons=(
            ActionButton(title="Yes", action_url="https://example.com/yes"),
            ActionButton(title="No", action_url="https://example.com/no"),
        ),
        btn_orientation="1",
        hide_avatar="1",
    ),
    "feedCard": FeedCard(
        links=(
            FeedLink(
                title="first",
                message_url="https://example.com/1",
                pic_url="https://example.com/1.png",
            ),
            FeedLink(title="second", message_url="https://example.com/2"),
        )
    ),
}


def test_text_wire_shape_with_every_mention_field() -> None:
    message = Text(
        content="hi",
        at=At(at_mobiles=("13800000000",), at_user_ids=("user001",), is_at_all=True),
    )
    assert to_payload(message, msg_uuid="u1") == {
        "msgtype": "text",
        "text": {"content": "hi"},
        "at": {"atMobiles": ["13800000000"], "atUserIds": ["user001"], "isAtAll": True},
        "msgUuid": "u1",
    }


def test_markdown_wire_shape() -> None:
    assert to_payload(Markdown(title="T", text="**x**")) == {
        "msgtype": "markdown",
        "markdown": {"title": "T", "text": "**x**"},
    }


def test_link_uses_message_url_and_pic_url_in_camel_case() -> None:
    assert to_payload(MESSAGES["link"]) == {
        "msgtype": "link",
        "link": {
            "title": "Build 42",
            "text": "green",
            "messageUrl": "https://ci.example.com/42",
            "picUrl": "https://ci.example.com/42.png",
        },
    }


def test_feed_card_links_use_upper_case_url() -> None:
    payload = to_payload(MESSAGES["feedCard"])
    assert payload == {
        "msgtype": "feedCard",
        "feedCard": {
            "links": [
                {
                    "title": "first",
                    "messageURL": "https://example.com/1",
                    "picURL": "https://example.com/1.png",
                },
                {"title": "second", "messageURL": "https://example.com/2"},
            ]
        },
    }


def test_action_card_single_button_wire_shape() -> None:
    assert to_payload(MESSAGES["actionCard-single"]) == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "Release",
            "text": "### v1.2",
            "singleTitle": "Open",
            "singleURL": "https://example.com/release",
            "btnOrientation": "0",
            "hideAvatar": "0",
        },
    }


def test_action_card_buttons_wire_shape() -> None:
    assert to_payload(MESSAGES["actionCard-buttons"]) == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "Approve?",
            "text": "approve the release",
            "btns": [
                {"title": "Yes", "actionURL": "https://example.com/yes"},
                {"title": "No", "actionURL": "https://example.com/no"},
            ],
            "btnOrientation": "1",
            "hideAvatar": "1",
        },
    }


def test_no_at_block_without_mentions() -> None:
    assert "at" not in to_payload(Text(content="x"))


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_payload_round_trips_through_the_parser(kind: str) -> None:
    message = MESSAGES[kind]
    payload = to_payload(message, msg_uuid="abc")
    assert message_from_payload(payload) == message
    assert to_payload(message_from_payload(payload), msg_uuid="abc") == payload


def test_every_msgtype_is_covered() -> None:
    assert {m.msgtype for m in MESSAGES.values()} == set(MSGTYPES)


def test_wire_names_parse_to_the_python_names() -> None:
    payload = {
        "msgtype": "link",
        "link": {"title": "t", "text": "x", "messageUrl": "https://a.example"},
    }
    assert message_from_payload(payload) == Link(
        title="t", text="x", message_url="https://a.example"
    )


def test_construction_checks_types_and_normalises_lists() -> None:
    assert At(at_mobiles=["1"]).at_mobiles == ("1",)  # type: ignore[arg-type]
    with pytest.raises(MessageValidationError) as info:
        Text(content=5)  # type: ignore[arg-type]
    assert info.value.field == "content"
    with pytest.raises(MessageValidationError):
        ActionCard(title="t", text="x", btn_orientation="2")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "msgtype"),
        ({"msgtype": "image", "image": {"picURL": "https://x.example/a.png"}}, "msgtype"),
        ({"msgtype": "markdown", "markdown": {"text": "x"}}, "markdown.title"),
        ({"msgtype": "text"}, "text"),
        ({"msgtype": "link", "link": {"title": "t", "text": "x"}}, "link.messageUrl"),
    ],
)
def test_parser_names_the_wire_field_that_is_wrong(payload: dict[str, object], field: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        message_from_payload(payload)
    assert info.value.field == field
