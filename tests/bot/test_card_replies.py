from __future__ import annotations

import pytest

from dingkit import MessageValidationError
from dingkit.bot import RecordingReply
from dingkit.bot.cards import card_target, new_out_track_id

from .wire import private_text, text_message

pytestmark = pytest.mark.anyio

TPL = "382e4302-551d-4880-bf29-a30acfab2e71.schema"
SENDER = "2665036700000000"


def test_a_card_goes_to_the_group_or_to_the_senders_chat_with_the_robot() -> None:
    group = text_message("hi")
    target = card_target(group)
    assert (target.space_type, target.space_id) == ("IM_GROUP", group.conversation.id)
    assert target.robot_code == group.robot_code
    single = card_target(private_text("hi"))
    assert (single.space_type, single.space_id) == ("IM_ROBOT", SENDER)
    with pytest.raises(MessageValidationError):
        card_target(private_text("hi", senderStaffId=""))


def test_every_card_gets_a_fresh_out_track_id() -> None:
    message = text_message("hi")
    first, second = new_out_track_id(message), new_out_track_id(message)
    assert first != second
    assert len(first) == 64


async def test_a_card_reply_is_created_with_its_data_as_strings() -> None:
    reply = RecordingReply(text_message("hi"))
    out_track_id = await reply.card(TPL, {"title": "Deploy", "count": 3})
    card = reply.cards[out_track_id]
    assert (card.template_id, card.data) == (TPL, {"title": "Deploy", "count": "3"})


async def test_a_stream_creates_the_card_processing_then_streams_the_whole_text_and_finishes() -> (
    None
):
    reply = RecordingReply(text_message("hi"))
    async with reply.stream(TPL, key="msgContent", data={"msgTitle": "AI"}) as stream:
        for chunk in ("Hel", "lo", "!"):
            await stream.append(chunk)
    assert stream.out_track_id is not None
    card = reply.cards[stream.out_track_id]
    assert (card.content, card.finished, card.failed) == ("Hello!", True, False)
    assert card.calls == [
        ("create", {"msgTitle": "AI", "msgContent": "", "flowStatus": "1"}),
        ("update", {"flowStatus": "2"}),
        ("stream", {"msgContent": "Hel", "isFinalize": False, "isError": False}),
        ("stream", {"msgContent": "Hello", "isFinalize": False, "isError": False}),
        ("stream", {"msgContent": "Hello!", "isFinalize": False, "isError": False}),
        ("stream", {"msgContent": "Hello!", "isFinalize": True, "isError": False}),
    ]
    with pytest.raises(MessageValidationError):
        await stream.append("late")


async def test_a_failing_handler_leaves_the_card_failed_not_hanging() -> None:
    reply = RecordingReply(text_message("hi"))
    stream = reply.stream(TPL)

    async def answer() -> None:
        async with stream:
            await stream.append("thinking")
            raise RuntimeError("the model went away")

    with pytest.raises(RuntimeError):
        await answer()
    assert stream.out_track_id is not None
    card = reply.cards[stream.out_track_id]
    assert (card.content, card.finished, card.failed) == ("thinking", True, True)


async def test_finish_can_replace_the_text_and_ends_the_stream_once() -> None:
    reply = RecordingReply(text_message("hi"))
    stream = reply.stream(TPL)
    await stream.replace("draft")
    await stream.finish("final answer")
    assert stream.out_track_id is not None
    assert reply.cards[stream.out_track_id].content == "final answer"
    async with stream:  # already done: leaving the block sends nothing more
        pass
    assert len(reply.cards[stream.out_track_id].calls) == 4
