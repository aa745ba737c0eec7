from __future__ import annotations

import pytest

from dingkit import MessageValidationError
from dingkit.bot import RecordingReply, Reply
from dingkit.bot.replies import action_card_reply, feed_card_reply, markdown_reply, text_reply
from dingkit.robot.messages import ActionButton, FeedLink, Text

from .wire import text_message

pytestmark = pytest.mark.anyio

SENDER = "2665036700000000"


def recorder(**changes: object) -> RecordingReply:
    return RecordingReply(text_message("hi", **changes))


async def test_a_text_reply_mentions_the_sender_by_user_id_in_at_and_in_the_text() -> None:
    reply = recorder()
    await reply.text("done", at_sender=True)
    assert reply.payloads() == [
        {"msgtype": "text", "text": {"content": f"done @{SENDER}"}, "at": {"atUserIds": [SENDER]}}
    ]


async def test_a_plain_text_reply_has_no_at() -> None:
    reply = recorder()
    await reply.text("pong")
    assert reply.payloads() == [{"msgtype": "text", "text": {"content": "pong"}}]
    assert isinstance(reply.sent[0], Text)


async def test_a_sender_outside_the_org_cannot_be_mentioned_and_is_left_out() -> None:
    reply = recorder(senderStaffId="")
    await reply.text("hello", at_sender=True, at_user_ids=["alice"])
    assert reply.payloads()[0]["at"] == {"atUserIds": ["alice"]}


async def test_a_markdown_reply_mentions_once_even_when_named_twice() -> None:
    reply = recorder()
    await reply.markdown("Status", "**green**", at_sender=True, at_user_ids=[SENDER], at_all=True)
    assert reply.payloads() == [
        {
            "msgtype": "markdown",
            "markdown": {"title": "Status", "text": f"**green**\n\n@{SENDER}"},
            "at": {"atUserIds": [SENDER], "isAtAll": True},
        }
    ]


async def test_a_single_button_action_card_has_dingtalk_s_field_names() -> None:
    reply = recorder()
    await reply.action_card(
        "Deploy", "Ship it?", single_title="Open", single_url="https://ci.example.com/1"
    )
    assert reply.payloads() == [
        {
            "msgtype": "actionCard",
            "actionCard": {
                "title": "Deploy",
                "text": "Ship it?",
                "singleTitle": "Open",
                "singleURL": "https://ci.example.com/1",
                "btnOrientation": "0",
                "hideAvatar": "0",
            },
        }
    ]


async def test_a_multi_button_action_card_takes_pairs_or_buttons_and_mentions_in_text() -> None:
    reply = recorder()
    await reply.action_card(
        "Review",
        "Approve?",
        buttons=[
            ("Yes", "https://x.example.com/y"),
            ActionButton(title="No", action_url="https://x.example.com/n"),
        ],
        orientation="horizontal",
        hide_avatar=True,
        at_sender=True,
    )
    card = reply.payloads()[0]["actionCard"]
    assert card["btns"] == [
        {"title": "Yes", "actionURL": "https://x.example.com/y"},
        {"title": "No", "actionURL": "https://x.example.com/n"},
    ]
    assert (card["btnOrientation"], card["hideAvatar"]) == ("1", "1")
    assert card["text"] == f"Approve?\n\n@{SENDER}"
    assert "at" not in reply.payloads()[0]


async def test_a_feed_card_takes_links_or_tuples() -> None:
    reply = recorder()
    await reply.feed_card(
        [
            ("One", "https://x.example.com/1", "https://x.example.com/1.png"),
            ("Two", "https://x.example.com/2"),
            FeedLink(title="Three", message_url="https://x.example.com/3"),
        ]
    )
    assert reply.payloads()[0]["feedCard"]["links"] == [
        {
            "title": "One",
            "messageURL": "https://x.example.com/1",
            "picURL": "https://x.example.com/1.png",
        },
        {"title": "Two", "messageURL": "https://x.example.com/2"},
        {"title": "Three", "messageURL": "https://x.example.com/3"},
    ]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: text_reply(""), "text.content"),
        (lambda: markdown_reply("", "body"), "markdown.title"),
        (lambda: action_card_reply("t", "x"), "actionCard.btns"),
        (lambda: action_card_reply("t", "x", single_title="Go"), "actionCard.singleURL"),
        (
            lambda: action_card_reply("t", "x", buttons=[("Go", "not a url")]),
            "actionCard.btns[0].actionURL",
        ),
        (lambda: feed_card_reply([]), "feedCard.links"),
        (lambda: text_reply("x", at_user_ids=[str(i) for i in range(51)]), "at"),
    ],
)
def test_builders_refuse_what_dingtalk_would(build: object, field: str) -> None:
    with pytest.raises(MessageValidationError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field


def test_a_reply_is_abstract_until_send_is_implemented() -> None:
    with pytest.raises(TypeError):
        Reply(text_message("x"))  # type: ignore[abstract]
