from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dingkit
from dingkit import BotMessageError, DingTalkError
from dingkit.bot import (
    AudioMessage,
    FileMessage,
    IncomingMessage,
    PictureMessage,
    RichTextMessage,
    TextMessage,
    VideoMessage,
    WithheldMessage,
    parse_message,
)
from dingkit.bot.messages import MESSAGE_TYPES

from .wire import CREATE_AT, EXPIRES_AT, ROBOT_DINGTALK_ID, push

# -- every msgtype of §8.1 -------------------------------------------------------------------


def test_a_group_text_message_reads_every_common_field() -> None:
    message = parse_message(push("text"))
    assert isinstance(message, TextMessage)
    assert message.msg_id == "msgWjYj1k8LPNOBBy+jxNKwQw=="
    assert message.create_at == CREATE_AT
    assert message.conversation.type == "group"
    assert message.conversation.is_group
    assert message.conversation.id == "cidoAgtPbnu9MyulIyt0kpNYg=="
    assert message.conversation.title == "群组标题"
    sender = message.sender
    assert (sender.staff_id, sender.userid) == ("2665036700000000", "2665036700000000")
    assert (sender.nick, sender.union_id, sender.platform) == ("张三", "union-zhangsan", "Mac")
    assert sender.corp_id == "dingb1d0b0ca51c029b24ac5d6980000000"
    assert sender.is_admin is False
    assert sender.id == "$:LWCP_v1:$9gY0EpfG9gA0e4xnPjDHugeGB0JtdCJV"
    assert message.is_in_at_list is True
    assert message.at_users[0].dingtalk_id == ROBOT_DINGTALK_ID
    assert message.robot_code == "dingrobotcode0001"
    assert message.chatbot_user_id == ROBOT_DINGTALK_ID
    assert message.session_webhook is not None
    assert message.session_webhook.startswith("https://oapi.dingtalk.com/robot/sendBySession?")
    assert message.session_webhook_expired_time == EXPIRES_AT


def test_text_drops_the_space_left_by_the_robot_mention_and_content_keeps_it() -> None:
    message = parse_message(push("text"))
    assert isinstance(message, TextMessage)
    assert message.content == " 1+1"
    assert message.text == "1+1"


def test_a_one_to_one_text_message_is_single() -> None:
    message = parse_message(push("text", conversationType="1", conversationTitle=None))
    assert message.conversation.type == "single"
    assert message.conversation.title is None


def test_rich_text_keeps_runs_in_order_and_its_picture_codes() -> None:
    message = parse_message(push("richText"))
    assert isinstance(message, RichTextMessage)
    assert [part.type for part in message.parts] == [None, "picture", None, "picture"]
    assert message.parts[1].picture_download_code == "rt-pic-1b"
    assert message.text == "看这张图 和这张"
    assert message.download_codes == ("rt-pic-1", "rt-pic-2")


def test_picture_audio_video_and_file_keep_their_download_codes() -> None:
    picture = parse_message(push("picture"))
    assert isinstance(picture, PictureMessage)
    assert picture.download_codes == ("pic-code",)
    assert picture.text == ""

    audio = parse_message(push("audio"))
    assert isinstance(audio, AudioMessage)
    assert (audio.download_code, audio.duration, audio.recognition) == ("audio-code", 4000, "你好")
    assert audio.text == "你好"
    assert audio.conversation.type == "single"

    video = parse_message(push("video"))
    assert isinstance(video, VideoMessage)
    assert (video.download_code, video.duration, video.video_type) == ("video-code", 12, "mp4")

    file = parse_message(push("file"))
    assert isinstance(file, FileMessage)
    assert (file.download_code, file.file_name) == ("file-code", "报表.xlsx")
    assert file.download_codes == ("file-code",)


@pytest.mark.parametrize("msgtype", ["text", "richText", "picture", "audio", "video", "file"])
def test_bytes_text_and_mappings_read_the_same(msgtype: str) -> None:
    data = push(msgtype)
    as_text = json.dumps(data, ensure_ascii=False)
    parsed = [parse_message(data), parse_message(as_text), parse_message(as_text.encode())]
    assert parsed[0] == parsed[1] == parsed[2]
    assert parsed[0].raw == data


def test_numbers_documented_as_strings_and_strings_as_numbers_both_read() -> None:
    # The doc table says createAt is a String while examples show a number (§8.1).
    message = parse_message(push("text", createAt=str(CREATE_AT), conversationType=2))
    assert message.create_at == CREATE_AT
    assert message.conversation.type == "group"


def test_an_unknown_msgtype_reads_as_a_plain_message_with_its_raw_fields() -> None:
    message = parse_message(push("interactiveCard", cardData={"x": 1}))
    assert type(message) is IncomingMessage
    assert message.msgtype == "interactiveCard"
    assert message.raw["cardData"] == {"x": 1}
    assert message.text == ""


def test_an_outsider_has_no_staff_id_and_mentions_leave_out_the_robot_and_outsiders() -> None:
    at_users = [
        {"dingtalkId": ROBOT_DINGTALK_ID},
        {"dingtalkId": "$:alice", "staffId": "alice", "unionId": "u-alice"},
        {"dingtalkId": "$:outsider", "staffId": ""},
    ]
    message = parse_message(push("text", senderStaffId="", atUsers=at_users))
    assert message.sender.staff_id is None
    assert message.mentioned_staff_ids == ("alice",)


# -- the session webhook's lifetime ----------------------------------------------------------


def test_the_session_is_valid_until_its_expiry_with_an_optional_margin() -> None:
    message = parse_message(push("text"))
    assert message.session_valid(CREATE_AT)
    assert message.session_valid(EXPIRES_AT - 1)
    assert not message.session_valid(EXPIRES_AT)
    assert not message.session_valid(EXPIRES_AT - 1000, margin_ms=5000)


def test_without_a_session_webhook_there_is_no_valid_session() -> None:
    message = parse_message(push("text", sessionWebhook=None))
    assert message.session_webhook is None
    assert not message.session_valid(CREATE_AT)


# -- content withheld: the quota-exhausted form ----------------------------------------------


@pytest.mark.parametrize(
    ("code_field", "message_field", "code"),
    [("errCode", "errMsg", "20001"), ("errorCode", "errorMessage", 20001)],
)
def test_a_quota_exhausted_message_reads_under_either_spelling(
    code_field: str, message_field: str, code: Any
) -> None:
    text = "受调用量超量影响，当前我的消息服务已经暂停。请联系你所在的组织管理员并予以处理"
    data = push("text", text=None, **{code_field: code, message_field: text})
    message = parse_message(data)
    assert isinstance(message, WithheldMessage)
    assert message.quota_exhausted
    assert (message.error_code, message.error_message) == ("20001", text)
    assert message.text == ""
    assert message.conversation.id == "cidoAgtPbnu9MyulIyt0kpNYg=="


def test_a_withheld_message_needs_no_msgtype() -> None:
    message = parse_message(push("text", text=None, msgtype=None, errCode="20002"))
    assert isinstance(message, WithheldMessage)
    assert not message.quota_exhausted


# -- malformed and hostile input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (push("text", msgtype=None), "msgtype"),
        (push("text", msgtype=""), "msgtype"),
        (push("text", msgtype=7), "msgtype"),
        (push("text", msgId=None), "msgId"),
        (push("text", conversationId=None), "conversationId"),
        (push("text", conversationType="3"), "conversationType"),
        (push("text", createAt="yesterday"), "createAt"),
        (push("text", isInAtList="maybe"), "isInAtList"),
        (push("text", isAdmin=[]), "isAdmin"),
        (push("text", senderStaffId={"id": 1}), "senderStaffId"),
        (push("text", atUsers="everyone"), "atUsers"),
        (push("text", atUsers=[{"staffId": ["a"]}]), "atUsers[0].staffId"),
        (push("text", text=None), "text"),
        (push("text", text="hello"), "text"),
        (push("text", text={}), "text.content"),
        (push("picture", content=None), "content"),
        (push("picture", content={}), "content.downloadCode"),
        (push("file", content={"fileName": "a.pdf"}), "content.downloadCode"),
        (push("richText", content={"richText": "x"}), "content.richText"),
        (push("audio", content={"downloadCode": "a", "duration": "long"}), "content.duration"),
    ],
)
def test_a_malformed_field_is_named_as_dingtalk_names_it(data: dict[str, Any], field: str) -> None:
    with pytest.raises(BotMessageError) as caught:
        parse_message(data)
    assert caught.value.field == field
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",  # not UTF-8
        '{"msgtype": "text", "x": "\\ud800"}',  # an escaped lone surrogate
        b'{"msgtype": "text", "createAt": NaN}',
        b'{"createAt": 1e999}',
        b"[" * 5000 + b"]" * 5000,
        b'{"createAt": ' + b"9" * 5000 + b"}",  # more digits than Python converts
        b"[]",
        b'"a string"',
        b"null",
    ],
)
def test_text_that_is_not_a_json_object_is_refused_cleanly(body: bytes | str) -> None:
    with pytest.raises(BotMessageError):
        parse_message(body)


def test_every_msgtype_of_the_reference_has_its_class() -> None:
    assert set(MESSAGE_TYPES) == {"text", "richText", "picture", "audio", "video", "file"}
    for msgtype, cls in MESSAGE_TYPES.items():
        assert type(parse_message(push(msgtype))) is cls


def test_the_error_is_a_dingtalk_error_and_a_value_error_exported_by_dingkit() -> None:
    assert dingkit.BotMessageError is BotMessageError
    assert issubclass(BotMessageError, DingTalkError)
    assert issubclass(BotMessageError, ValueError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [*push("text"), "text", "content", "errCode", "errorMessage", "msgtype", "atUsers"]
)


@settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(["text", "richText", "picture", "audio", "video", "file"]),
    changes=st.dictionaries(FIELDS, JSON, max_size=4),
)
def test_any_json_either_parses_or_raises_bot_message_error(
    base: str, changes: dict[str, Any]
) -> None:
    data = {**push(base), **changes}
    for form in (data, json.dumps(data)):
        try:
            message = parse_message(form)
        except BotMessageError:
            continue
        assert isinstance(message, IncomingMessage)
        assert isinstance(message.text, str)
