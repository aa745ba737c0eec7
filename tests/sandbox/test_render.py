from dataclasses import dataclass
from typing import Any

import pytest

from dingkit.sandbox.robot.render import message_preview, render_message

LINK_ATTRS = 'target="_blank" rel="noopener noreferrer"'
MOBILE = "13800000000"


def text(content: str, **at: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"msgtype": "text", "text": {"content": content}}
    if at:
        payload["at"] = at
    return payload


def markdown(body: str, title: str = "t", **at: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": body}}
    if at:
        payload["at"] = at
    return payload


def action_card(**fields: Any) -> dict[str, Any]:
    return {"msgtype": "actionCard", "actionCard": {"title": "Release", "text": "body", **fields}}


def test_text_is_escaped_and_keeps_newlines() -> None:
    assert render_message(text("a <b>\nsecond & third")) == (
        '<div class="dt-msg dt-msg-text">'
        '<div class="dt-text">a &lt;b&gt;<br>second &amp; third</div></div>'
    )


def test_text_is_not_markdown() -> None:
    assert "<strong>" not in render_message(text("**not bold**"))


def test_markdown_goes_through_the_markdown_renderer() -> None:
    assert render_message(markdown("# Hi\n**there**")) == (
        '<div class="dt-msg dt-msg-markdown">'
        '<div class="dt-md"><h1>Hi</h1><p><strong>there</strong></p></div></div>'
    )


def test_markdown_script_is_escaped() -> None:
    html = render_message(markdown("<script>alert(1)</script><img src=x onerror=alert(1)>"))
    assert "<script" not in html
    assert "<img" not in html


def test_link_card() -> None:
    payload = {
        "msgtype": "link",
        "link": {
            "title": "Build <7>",
            "text": "passed",
            "messageUrl": "https://ci.test/7",
            "picUrl": "https://ci.test/badge.png",
        },
    }
    assert render_message(payload) == (
        '<div class="dt-msg dt-msg-link">'
        f'<a class="dt-link-card" href="https://ci.test/7" {LINK_ATTRS}>'
        '<div class="dt-link-title">Build &lt;7&gt;</div>'
        '<div class="dt-link-body"><div class="dt-link-text">passed</div>'
        '<img class="dt-link-pic" src="https://ci.test/badge.png" alt=""></div></a></div>'
    )


def test_link_card_without_a_web_picture_has_no_img() -> None:
    payload = {
        "msgtype": "link",
        "link": {"title": "t", "text": "x", "messageUrl": "https://x.test", "picUrl": "@lADO1"},
    }
    assert "<img" not in render_message(payload)


def test_link_card_with_javascript_url_is_not_a_link() -> None:
    payload = {
        "msgtype": "link",
        "link": {"title": "t", "text": "x", "messageUrl": "javascript:alert(1)"},
    }
    html = render_message(payload)
    assert "href=" not in html
    assert '<a class="dt-link-card dt-nolink" title="javascript:alert(1)">' in html


def test_action_card_single_button() -> None:
    html = render_message(action_card(singleTitle="Read", singleURL="https://x.test/r"))
    assert html == (
        '<div class="dt-msg dt-msg-actionCard">'
        '<div class="dt-md"><p>body</p></div>'
        '<div class="dt-buttons buttons-vertical buttons-single">'
        f'<a class="dt-button" href="https://x.test/r" {LINK_ATTRS}>Read</a></div></div>'
    )


def test_action_card_title_is_not_drawn_in_the_card() -> None:
    # DingTalk shows the title in the conversation list and the notification only (§2.2).
    html = render_message(action_card(title="List only", btns=BUTTONS))
    assert "List only" not in html
    assert message_preview(action_card(title="List only")) == "List only"


def test_action_card_single_button_wins_over_btns() -> None:
    btns = [{"title": "Ignored", "actionURL": "https://x.test/i"}]
    html = render_message(action_card(singleTitle="Read", singleURL="https://x.test/r", btns=btns))
    assert "Ignored" not in html
    assert html.count('class="dt-button"') == 1


BUTTONS = [
    {"title": "Approve", "actionURL": "https://x.test/yes"},
    {"title": "Reject", "actionURL": "https://x.test/no"},
]


@pytest.mark.parametrize(
    ("orientation", "css_class"), [("0", "buttons-vertical"), ("1", "buttons-horizontal")]
)
def test_action_card_button_orientation(orientation: str, css_class: str) -> None:
    html = render_message(action_card(btnOrientation=orientation, btns=BUTTONS))
    assert (
        f'<div class="dt-buttons {css_class}">'
        f'<a class="dt-button" href="https://x.test/yes" {LINK_ATTRS}>Approve</a>'
        f'<a class="dt-button" href="https://x.test/no" {LINK_ATTRS}>Reject</a></div>'
    ) in html


def test_action_card_defaults_to_vertical_buttons() -> None:
    assert "buttons-vertical" in render_message(action_card(btns=BUTTONS))


def test_action_card_hide_avatar() -> None:
    html = render_message(action_card(hideAvatar="1", btns=BUTTONS))
    assert html.startswith('<div class="dt-msg dt-msg-actionCard hide-avatar">')
    shown = render_message(action_card(hideAvatar="0", btns=BUTTONS))
    assert shown.startswith('<div class="dt-msg dt-msg-actionCard">')


def test_action_card_button_with_bad_url_has_no_href() -> None:
    btns = [{"title": "<x>", "actionURL": 'javascript:alert("1")'}]
    html = render_message(action_card(btns=btns))
    assert (
        '<a class="dt-button dt-nolink" title="javascript:alert(&quot;1&quot;)">&lt;x&gt;</a>'
    ) in html


def test_action_card_text_is_markdown() -> None:
    html = render_message(action_card(text="### Ready\n- a"))
    assert '<div class="dt-md"><h3>Ready</h3><ul><li>a</li></ul></div>' in html


def test_feed_card_first_entry_is_large_and_the_rest_are_rows() -> None:
    payload = {
        "msgtype": "feedCard",
        "feedCard": {
            "links": [
                {
                    "title": "One",
                    "messageURL": "https://x.test/1",
                    "picURL": "https://x.test/1.png",
                },
                {
                    "title": "Two",
                    "messageURL": "https://x.test/2",
                    "picURL": "https://x.test/2.png",
                },
            ]
        },
    }
    assert render_message(payload) == (
        '<div class="dt-msg dt-msg-feedCard">'
        f'<a class="dt-feed-item dt-feed-first" href="https://x.test/1" {LINK_ATTRS}>'
        '<img class="dt-feed-pic" src="https://x.test/1.png" alt="">'
        '<div class="dt-feed-title">One</div></a>'
        f'<a class="dt-feed-item dt-feed-row" href="https://x.test/2" {LINK_ATTRS}>'
        '<div class="dt-feed-title">Two</div>'
        '<img class="dt-feed-pic" src="https://x.test/2.png" alt=""></a></div>'
    )


def test_feed_card_entry_without_picture_gets_an_empty_box() -> None:
    payload = {"msgtype": "feedCard", "feedCard": {"links": [{"title": "x", "messageURL": "u"}]}}
    html = render_message(payload)
    assert '<div class="dt-feed-pic dt-feed-nopic"></div>' in html
    assert "href=" not in html


def test_mention_by_mobile_in_text() -> None:
    html = render_message(text(f"@{MOBILE} 请看", atMobiles=[MOBILE]))
    assert f'<span class="mention">@{MOBILE}</span> 请看' in html


def test_mention_followed_directly_by_chinese() -> None:
    html = render_message(text(f"@{MOBILE}请看", atMobiles=[MOBILE]))
    assert f'<span class="mention">@{MOBILE}</span>请看' in html


def test_longer_number_is_not_a_mention() -> None:
    html = render_message(text(f"@{MOBILE}1", atMobiles=[MOBILE]))
    assert "mention" not in html


def test_unlisted_mobile_is_not_a_mention() -> None:
    assert "mention" not in render_message(text(f"@{MOBILE}", atMobiles=["13900000000"]))


def test_mention_by_user_id_in_markdown() -> None:
    html = render_message(markdown("**ping** @manager7", atUserIds=["manager7"]))
    assert '<strong>ping</strong> <span class="mention">@manager7</span>' in html


def test_mention_is_not_inserted_into_attributes() -> None:
    html = render_message(markdown("[@u1](https://x.test/@u1)", atUserIds=["u1"]))
    assert 'href="https://x.test/@u1"' in html
    assert '<span class="mention">@u1</span></a>' in html


def test_mention_in_action_card_text() -> None:
    payload = action_card(text="cc @u9")
    payload["at"] = {"atUserIds": ["u9"]}
    assert '<span class="mention">@u9</span>' in render_message(payload)


@pytest.mark.parametrize("word", ["@所有人", "@all"])
def test_at_all_words_in_body_are_highlighted_without_a_badge(word: str) -> None:
    html = render_message(text(f"{word} deploy", isAtAll=True))
    assert f'<span class="mention">{word}</span> deploy' in html
    assert "mention-all" not in html


def test_at_all_without_the_word_in_body_adds_a_badge() -> None:
    html = render_message(markdown("deploy done", isAtAll=True))
    assert html.endswith(
        '<div class="dt-mentions"><span class="mention mention-all">@所有人</span></div></div>'
    )


def test_at_all_false_is_not_highlighted() -> None:
    html = render_message(text("@all deploy", isAtAll=False))
    assert "mention" not in html


def test_link_messages_ignore_mentions() -> None:
    payload = {
        "msgtype": "link",
        "link": {"title": "@u1", "text": "@u1", "messageUrl": "https://x.test"},
        "at": {"atUserIds": ["u1"], "isAtAll": True},
    }
    assert "mention" not in render_message(payload)


@dataclass
class Person:
    name: str


class People:
    """Two people the organisation knows, by mobile and by userid."""

    def __init__(self) -> None:
        self.mobiles = {MOBILE: Person("唐伟")}
        self.userids = {"manager7": Person("王芳"), "<u>": Person("<b>name</b>")}

    def user(self, userid: str) -> Person | None:
        return self.userids.get(userid)

    def user_by_mobile(self, mobile: str) -> Person | None:
        return self.mobiles.get(mobile)


def test_known_mobile_shows_the_name_with_the_mobile_as_tooltip() -> None:
    html = render_message(text(f"@{MOBILE} 请看", atMobiles=[MOBILE]), People())
    assert f'<span class="mention" title="@{MOBILE}">@唐伟</span> 请看' in html
    assert f">@{MOBILE}<" not in html


def test_known_userid_in_markdown_shows_the_name() -> None:
    html = render_message(markdown("**ping** @manager7", atUserIds=["manager7"]), People())
    assert '<strong>ping</strong> <span class="mention" title="@manager7">@王芳</span>' in html


def test_unknown_mentions_stay_as_written() -> None:
    payload = text("@13900000000 @stranger", atMobiles=["13900000000"], atUserIds=["stranger"])
    html = render_message(payload, People())
    assert '<span class="mention">@13900000000</span>' in html
    assert '<span class="mention">@stranger</span>' in html


def test_a_mobile_is_not_looked_up_as_a_userid() -> None:
    html = render_message(text("@manager7", atMobiles=["manager7"]), People())
    assert '<span class="mention">@manager7</span>' in html


def test_names_are_escaped() -> None:
    html = render_message(text("@<u>", atUserIds=["<u>"]), People())
    assert "<b>" not in html
    assert '<span class="mention" title="@&lt;u&gt;">@&lt;b&gt;name&lt;/b&gt;</span>' in html


def test_preview_names_the_mentioned() -> None:
    payload = text(f"@{MOBILE} 请看 @{MOBILE}1", atMobiles=[MOBILE])
    assert message_preview(payload, People()) == f"@唐伟 请看 @{MOBILE}1"
    assert message_preview(payload) == f"@{MOBILE} 请看 @{MOBILE}1"


def test_mention_ids_are_escaped() -> None:
    html = render_message(text("@<u>", atUserIds=["<u>"]))
    assert "<u>" not in html
    assert '<span class="mention">@&lt;u&gt;</span>' in html


@pytest.mark.parametrize(
    "payload",
    [
        {"msgtype": "image", "image": {"picURL": "https://x.test/a.png"}},
        {"text": {"content": "no msgtype"}},
        {"msgtype": "text"},
        {"msgtype": "text", "text": "not an object"},
        {"msgtype": "text", "text": {"content": ["list"]}},
        {"msgtype": "markdown", "markdown": {"title": "no text"}},
        {"msgtype": "actionCard", "actionCard": {"text": "x", "btns": "nope"}},
        {"msgtype": "actionCard", "actionCard": {"text": "x", "btns": ["nope"]}},
        {"msgtype": "feedCard", "feedCard": {"links": []}},
        {"msgtype": "feedCard", "feedCard": {"links": [None]}},
        {"msgtype": "link", "link": {"title": {"nested": 1}}},
        {"msgtype": ["text"]},
    ],
    ids=lambda payload: str(payload)[:40],
)
def test_odd_payloads_render_the_fallback(payload: dict[str, Any]) -> None:
    html = render_message(payload)
    assert html.startswith('<div class="dt-msg dt-msg-fallback">')
    assert '<pre class="dt-json">' in html


def test_fallback_shows_the_escaped_json() -> None:
    html = render_message({"msgtype": "image", "image": {"picURL": "<script>"}})
    assert "<script>" not in html
    assert "&quot;picURL&quot;: &quot;&lt;script&gt;&quot;" in html
    assert "Unsupported msgtype &#x27;image&#x27;" in html


def test_fallback_names_the_malformed_field() -> None:
    assert "content must be a string" in render_message({"msgtype": "text", "text": {}})


def test_non_mapping_payload_does_not_raise() -> None:
    html = render_message([1, 2])  # type: ignore[arg-type]
    assert html.startswith('<div class="dt-msg dt-msg-fallback">')


def test_circular_payload_does_not_raise() -> None:
    payload: dict[str, Any] = {"msgtype": "nope"}
    payload["self"] = payload
    assert render_message(payload).startswith('<div class="dt-msg dt-msg-fallback">')


@pytest.mark.parametrize(
    ("payload", "preview"),
    [
        (text("  hello\n  world "), "hello world"),
        (markdown("# body", title="Deploy finished"), "Deploy finished"),
        (action_card(), "Release"),
        ({"msgtype": "link", "link": {"title": "Link title", "messageUrl": "u"}}, "Link title"),
        (
            {"msgtype": "feedCard", "feedCard": {"links": [{"title": "A"}, {"title": "B"}]}},
            "A",
        ),
        ({"msgtype": "image", "image": {}}, "[image]"),
        ({"msgtype": "text", "text": None}, "[text]"),
        ({}, "[message]"),
    ],
)
def test_preview(payload: dict[str, Any], preview: str) -> None:
    assert message_preview(payload) == preview


def test_preview_truncates_long_text_to_80_characters() -> None:
    preview = message_preview(text("x" * 200))
    assert len(preview) == 80
    assert preview == "x" * 79 + "…"


def test_preview_keeps_text_of_exactly_80_characters() -> None:
    assert message_preview(text("y" * 80)) == "y" * 80


def test_preview_is_plain_text_not_html() -> None:
    assert message_preview(text("<b>&</b>")) == "<b>&</b>"
