from __future__ import annotations

import json

import pytest

from dingkit import MessageValidationError
from dingkit.robot import compose
from dingkit.robot.messages import (
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
from dingkit.robot.target import RobotTarget

MOBILE = "13800000000"
USER = "user001"


def body_of(message: RobotMessage) -> str:
    assert isinstance(message, Text | Markdown)
    return message.content if isinstance(message, Text) else message.text


# -- mentions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        Text(content="disk full", at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,))),
        Markdown(title="t", text="disk full", at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,))),
    ],
)
def test_missing_mention_text_is_added_to_the_body(message: Text | Markdown) -> None:
    [prepared] = RobotTarget("tok").prepare(message)
    body = body_of(message_from_payload(prepared.payload))
    assert body.startswith("disk full")
    assert body.count(f"@{MOBILE}") == 1
    assert body.count(f"@{USER}") == 1
    assert prepared.payload["at"] == {"atMobiles": [MOBILE], "atUserIds": [USER]}


@pytest.mark.parametrize(
    "message",
    [
        Text(content=f"@{MOBILE} disk full, @{USER} look", at=At(at_mobiles=(MOBILE,))),
        Markdown(
            title="t",
            text=f"@{MOBILE} disk full, @{USER} look",
            at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,)),
        ),
    ],
)
def test_mention_text_already_present_is_not_duplicated(message: Text | Markdown) -> None:
    assert compose.with_mention_text(message) == message
    [prepared] = RobotTarget("tok").prepare(message)
    text = json.dumps(prepared.payload, ensure_ascii=False)
    assert text.count(f"@{MOBILE}") == 1
    assert text.count(f"@{USER}") == 1


def test_only_the_missing_mention_is_added() -> None:
    message = Text(content=f"hey @{MOBILE}", at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,)))
    assert compose.with_mention_text(message).content == f"hey @{MOBILE} @{USER}"


def test_at_all_alone_adds_no_text() -> None:
    message = Text(content="everyone", at=At(is_at_all=True))
    assert compose.with_mention_text(message) == message


def test_mentions_are_not_written_into_types_without_at() -> None:
    card = ActionCard(title="t", text="x", single_title="go", single_url="https://a.example")
    assert compose.with_mention_text(card) == card


def test_every_prepared_send_has_a_fresh_msg_uuid() -> None:
    target = RobotTarget("tok")
    first = target.prepare(Text(content="a"))[0]
    second = target.prepare(Text(content="a"))[0]
    assert first.payload["msgUuid"] == first.msg_uuid
    assert json.loads(first.body) == first.payload
    assert first.msg_uuid != second.msg_uuid


# -- keyword ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Text(content="hello"), ("text", "content")),
        (Markdown(title="t", text="hello"), ("markdown", "text")),
        (
            ActionCard(title="t", text="x", single_title="s", single_url="https://a.example"),
            ("actionCard", "text"),
        ),
        (Link(title="t", text="hello", message_url="https://a.example"), ("link", "text")),
    ],
)
def test_ensure_keyword_adds_a_missing_keyword(
    message: RobotMessage, field: tuple[str, str]
) -> None:
    tagged = compose.ensure_keyword(message, "deploy")
    assert "deploy" in compose.searchable_text(tagged)
    section, name = field
    assert "deploy" in to_payload(tagged)[section][name]


def test_ensure_keyword_tags_the_first_feed_link() -> None:
    feed = FeedCard(links=(FeedLink(title="a", message_url="https://a.example"),) * 2)
    tagged = compose.ensure_keyword(feed, "deploy")
    assert isinstance(tagged, FeedCard)
    assert [link.title for link in tagged.links] == ["a deploy", "a"]


def test_ensure_keyword_keeps_a_message_that_has_it_in_a_title() -> None:
    message = Markdown(title="deploy report", text="all green")
    assert compose.ensure_keyword(message, "deploy") == message


def test_searchable_text_covers_titles_and_buttons() -> None:
    card = ActionCard(
        title="T1",
        text="T2",
        buttons=(ActionButton(title="T3", action_url="https://a.example"),),
    )
    assert all(part in compose.searchable_text(card) for part in ("T1", "T2", "T3"))


# -- validation -------------------------------------------------------------------------


def test_limit_is_measured_on_utf8_not_ascii_escapes() -> None:
    # 6500 CJK characters: 19500 bytes as UTF-8, 39000 as \uXXXX escapes.
    content = "告" * 6500
    [prepared] = RobotTarget("tok").prepare(Text(content=content))
    assert len(prepared.body) <= compose.MAX_BODY_BYTES
    assert len(content.encode()) == 19500
    assert "告" in prepared.body.decode()


def test_body_over_the_limit_is_refused() -> None:
    with pytest.raises(MessageValidationError, match="20000"):
        RobotTarget("tok").prepare(Text(content="告" * 7000))


def test_body_just_over_the_limit_counts_bytes_not_characters() -> None:
    payload_overhead = len(compose.encode_body(to_payload(Text(content=""), msg_uuid="0" * 32)))
    fits = "x" * (compose.MAX_BODY_BYTES - payload_overhead)
    compose.validate_message(Text(content=fits), msg_uuid="0" * 32)
    with pytest.raises(MessageValidationError):
        compose.validate_message(Text(content=fits + "x"), msg_uuid="0" * 32)


def test_fifty_mentions_pass_fifty_one_do_not() -> None:
    mobiles = tuple(f"138{i:08d}" for i in range(51))
    compose.validate_message(Text(content="x", at=At(at_mobiles=mobiles[:50])))
    with pytest.raises(MessageValidationError) as info:
        RobotTarget("tok").prepare(
            Text(content="x", at=At(at_mobiles=mobiles[:26], at_user_ids=mobiles[26:]))
        )
    assert info.value.field == "at"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Text(content="  "), "text.content"),
        (Markdown(title="", text="x"), "markdown.title"),
        (Markdown(title="t", text=""), "markdown.text"),
        (Link(title="t", text="", message_url="https://a.example"), "link.text"),
        (Link(title="t", text="x", message_url=""), "link.messageUrl"),
        (ActionCard(title="t", text="x"), "actionCard.btns"),
        (ActionCard(title="t", text="x", single_title="go"), "actionCard.singleURL"),
        (
            ActionCard(title="t", text="x", buttons=(ActionButton(title="", action_url="u"),)),
            "actionCard.btns[0].title",
        ),
        (FeedCard(links=()), "feedCard.links"),
        (
            FeedCard(links=(FeedLink(title="a", message_url=""),)),
            "feedCard.links[0].messageURL",
        ),
    ],
)
def test_empty_required_field_is_named(message: RobotMessage, field: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        RobotTarget("tok").prepare(message)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Link(title="t", text="x", message_url="example.com/a"), "link.messageUrl"),
        (Link(title="t", text="x", message_url="ftp://example.com/a"), "link.messageUrl"),
        (Link(title="t", text="x", message_url="https://exa mple.com"), "link.messageUrl"),
        (
            Link(title="t", text="x", message_url="https://a.example", pic_url="not a url"),
            "link.picUrl",
        ),
        (
            ActionCard(title="t", text="x", single_title="go", single_url="http://"),
            "actionCard.singleURL",
        ),
        (
            ActionCard(
                title="t", text="x", buttons=(ActionButton(title="a", action_url="javascript:1"),)
            ),
            "actionCard.btns[0].actionURL",
        ),
        (
            FeedCard(links=(FeedLink(title="a", message_url="//no-scheme.example"),)),
            "feedCard.links[0].messageURL",
        ),
    ],
)
def test_malformed_url_is_refused(message: RobotMessage, field: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        RobotTarget("tok").prepare(message)
    assert info.value.field == field


@pytest.mark.parametrize(
    "url", ["https://a.example/x?y=1", "http://10.0.0.1:8080/", "dingtalk://dingtalkclient/page"]
)
def test_well_formed_urls_pass(url: str) -> None:
    RobotTarget("tok").prepare(Link(title="t", text="x", message_url=url))


def test_media_id_is_accepted_as_a_picture() -> None:
    link = Link(title="t", text="x", message_url="https://a.example", pic_url="@lADPDe7s2")
    RobotTarget("tok").prepare(link)


# -- splitting --------------------------------------------------------------------------


def numbered_lines(count: int, width: int = 60, char: str = "x") -> str:
    return "\n".join(f"line {i:05d} " + char * width for i in range(count))


@pytest.mark.parametrize(
    "message",
    [
        Text(content=numbered_lines(900)),
        Markdown(title="Report", text=numbered_lines(900)),
        Text(content=numbered_lines(400, char="告")),
    ],
    ids=["text", "markdown", "cjk-text"],
)
def test_split_cuts_at_line_boundaries_in_order_and_loses_nothing(
    message: Text | Markdown,
) -> None:
    original = body_of(message)
    prepared = RobotTarget("tok").prepare(message, split=True)
    assert len(prepared) >= 3
    bodies = [body_of(message_from_payload(p.payload)) for p in prepared]
    if isinstance(message, Markdown):
        titles = [p.payload["markdown"]["title"] for p in prepared]
        assert titles == [f"Report ({i}/{len(prepared)})" for i in range(1, len(prepared) + 1)]
    assert "".join(bodies) == original
    original_lines = set(original.split("\n"))
    for part in prepared:
        assert len(part.body) <= compose.MAX_BODY_BYTES
        assert json.loads(part.body) == part.payload
    for body in bodies:
        # Every part holds whole lines only.
        assert set(body.rstrip("\n").split("\n")) <= original_lines
    assert len({p.msg_uuid for p in prepared}) == len(prepared)


def test_split_keeps_blank_lines_at_a_cut() -> None:
    original = "\n\n".join(f"paragraph {i:04d} " + "y" * 200 for i in range(200))
    prepared = RobotTarget("tok").prepare(Text(content=original), split=True)
    assert len(prepared) > 1
    assert "".join(p.payload["text"]["content"] for p in prepared) == original


def test_only_a_line_over_the_limit_is_cut() -> None:
    long_line = "z" * 45_000
    original = f"head\n{long_line}\ntail"
    prepared = RobotTarget("tok").prepare(Text(content=original), split=True)
    bodies = [p.payload["text"]["content"] for p in prepared]
    assert "".join(bodies) == original
    # "head" is a line of its own; only the long line is cut, into pieces that fill a part.
    assert bodies[0] == "head\n"
    assert all(set(body) == {"z"} for body in bodies[1:-1])
    assert bodies[-1].endswith("zzz\ntail")
    assert len(bodies) == 4
    assert all(len(p.body) <= compose.MAX_BODY_BYTES for p in prepared)


def test_split_puts_mentions_in_the_first_part_only() -> None:
    message = Text(content=numbered_lines(900), at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,)))
    prepared = RobotTarget("tok").prepare(message, split=True)
    assert len(prepared) > 1
    first, *rest = prepared
    assert first.payload["at"] == {"atMobiles": [MOBILE], "atUserIds": [USER]}
    # DingTalk shows a real @ only when the part carrying `at` has it in its body (§2.1).
    assert f"@{MOBILE}" in first.payload["text"]["content"]
    assert f"@{USER}" in first.payload["text"]["content"]
    for part in rest:
        assert "at" not in part.payload
        assert "@" not in part.payload["text"]["content"]
    assert all(len(p.body) <= compose.MAX_BODY_BYTES for p in prepared)


def test_split_leaves_room_for_the_keyword_in_every_part() -> None:
    prepared = RobotTarget("tok", keyword="部署告警").prepare(
        Text(content=numbered_lines(900, char="告")), split=True
    )
    assert len(prepared) > 1
    for part in prepared:
        assert "部署告警" in part.payload["text"]["content"]
        assert len(part.body) <= compose.MAX_BODY_BYTES


def test_a_message_that_fits_is_not_split() -> None:
    assert len(RobotTarget("tok").prepare(Text(content=numbered_lines(10)), split=True)) == 1


def test_long_link_is_not_split_but_refused() -> None:
    link = Link(title="t", text="x" * 21_000, message_url="https://a.example")
    with pytest.raises(MessageValidationError, match="shorten"):
        RobotTarget("tok").prepare(link, split=True)
