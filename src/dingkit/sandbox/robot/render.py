"""Turn an accepted group-robot message into the HTML of one chat bubble.

The chat page inserts this HTML as ``innerHTML``, so every value taken from the
payload is escaped here, and URLs become links only for allowed schemes. Field names
follow the wire format, casing quirks included (protocol note §2.1): ``link.messageUrl``
but ``feedCard.links[].messageURL``. Given the organisation, a mention shows the person's
name (``@唐伟``) where the body says ``@13800000000`` or ``@userid``, as DingTalk does.
"""

from __future__ import annotations

import html
import json
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .markdown import is_image_url, is_safe_link, render_markdown

__all__ = ["People", "message_preview", "render_message"]

PREVIEW_LENGTH = 80

_AT_ALL_WORDS = ("@所有人", "@all")
# An id ends where the next character could not continue it; "\b" would not do,
# because Chinese text right after "@13800000000" counts as a word character.
_ID_END = r"(?![0-9A-Za-z_\-])"
# Text nodes of generated HTML: every "<" in it opens one of our own tags, since
# payload text arrives escaped.
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


class _MalformedError(ValueError):
    """The payload lacks a field its msgtype needs, or has one of the wrong type."""


class _Person(Protocol):
    @property
    def name(self) -> str: ...


class People(Protocol):
    """Who a mention can name: the sandbox's organisation (``Sandbox.org``) fits."""

    def user(self, userid: str) -> _Person | None: ...

    def user_by_mobile(self, mobile: str) -> _Person | None: ...


@dataclass(frozen=True)
class _Mentions:
    """Who the ``at`` block of a message mentions: each id as written, with the name the
    organisation knows it by (``None`` for a stranger, who stays ``@`` + the id)."""

    names: Mapping[str, str | None]
    at_all: bool

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], people: People | None) -> _Mentions:
        at = payload.get("at")
        if not isinstance(at, Mapping):
            return cls(names={}, at_all=False)
        names: dict[str, str | None] = {}
        for key in ("atMobiles", "atUserIds"):
            values = at.get(key)
            for value in values if isinstance(values, list) else ():
                if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                    names.setdefault(str(value), _name(people, key, str(value)))
        at_all = at.get("isAtAll")
        # Some senders write the flag as the string "true"; DingTalk accepts it.
        flag = at_all is True or (isinstance(at_all, str) and at_all.lower() == "true")
        return cls(names=names, at_all=flag)

    def highlight(self, fragment: str) -> str:
        """Wrap each mention in the text nodes of ``fragment`` in a mention span, with the
        person's name in place of the id when the organisation knows them."""
        spans = {
            f"@{html.escape(id_, quote=True)}": (
                _mention_span(f"@{name}", written=f"@{id_}") if name else _mention_span(f"@{id_}")
            )
            for id_, name in self.names.items()
        }
        if self.at_all:
            spans |= {word: _mention_span(word) for word in _AT_ALL_WORDS}
        pattern = _words_pattern(spans)
        if pattern is None:
            return fragment
        pieces = _TAG_OR_TEXT.split(fragment)
        return "".join(
            piece if piece.startswith("<") else pattern.sub(lambda m: spans[m[0]], piece)
            for piece in pieces
        )

    def named(self, text: str) -> str:
        """Plain ``text`` with ``@Name`` for each mention of a known person."""
        known = {f"@{id_}": f"@{name}" for id_, name in self.names.items() if name}
        pattern = _words_pattern(known)
        return text if pattern is None else pattern.sub(lambda m: known[m[0]], text)

    def badge(self, raw_body: str) -> str:
        """An "@所有人" badge when everyone is mentioned but the body does not say so."""
        if not self.at_all or any(word in raw_body for word in _AT_ALL_WORDS):
            return ""
        return '<div class="dt-mentions"><span class="mention mention-all">@所有人</span></div>'


def render_message(payload: Mapping[str, Any], people: People | None = None) -> str:
    """Return the bubble HTML for ``payload``; odd payloads get a JSON fallback. With
    ``people``, mentions of the people it knows show their names."""
    try:
        msgtype = str(payload.get("msgtype"))
        renderer = _RENDERERS.get(msgtype)
        if renderer is None:
            return _fallback(payload, f"Unsupported msgtype {payload.get('msgtype')!r}")
        return renderer(_section(payload, msgtype), _Mentions.from_payload(payload, people))
    except _MalformedError as error:
        return _fallback(payload, f"Malformed message: {error}")
    except Exception:  # a bad payload must not break the page that lists all messages
        return _fallback(payload, "This message could not be displayed")


def message_preview(payload: Mapping[str, Any], people: People | None = None) -> str:
    """A one-line plain-text summary of ``payload`` for the group list. Markdown and
    actionCard messages show their ``title``: DingTalk shows it only here and in the
    notification, never inside the message (§2.2)."""
    msgtype: object = None
    try:
        msgtype = payload.get("msgtype")
        section = _section(payload, str(msgtype))
        if msgtype == "text":
            summary = _Mentions.from_payload(payload, people).named(_text(section, "content"))
        elif msgtype in ("markdown", "actionCard", "link"):
            summary = _text(section, "title")
        elif msgtype == "feedCard":
            summary = _text(_feed_links(section)[0], "title")
        else:
            summary = ""
    except Exception:  # a preview is best effort, never a reason to fail
        summary = ""
    line = " ".join(summary.split())
    if len(line) > PREVIEW_LENGTH:
        line = line[: PREVIEW_LENGTH - 1] + "…"
    return line or f"[{msgtype if isinstance(msgtype, str) else 'message'}]"


def _render_text(section: Mapping[str, Any], mentions: _Mentions) -> str:
    content = _required_text(section, "content")
    body = html.escape(content, quote=True).replace("\r\n", "\n").replace("\n", "<br>")
    return _bubble(
        "text", f'<div class="dt-text">{mentions.highlight(body)}</div>', mentions.badge(content)
    )


def _render_markdown(section: Mapping[str, Any], mentions: _Mentions) -> str:
    text = _required_text(section, "text")
    body = mentions.highlight(render_markdown(text))
    return _bubble("markdown", f'<div class="dt-md">{body}</div>', mentions.badge(text))


def _render_link(section: Mapping[str, Any], _: _Mentions) -> str:
    # DingTalk does not support @ in link messages (§2.1), so mentions are ignored.
    title = _escaped(section, "title")
    text = _escaped(section, "text").replace("\n", "<br>")
    pic_url = _text(section, "picUrl")
    pic = (
        f'<img class="dt-link-pic" src="{_attr(pic_url)}" alt="">' if is_image_url(pic_url) else ""
    )
    inner = (
        f'<div class="dt-link-title">{title}</div>'
        f'<div class="dt-link-body"><div class="dt-link-text">{text}</div>{pic}</div>'
    )
    return _bubble("link", _anchor("dt-link-card", _text(section, "messageUrl"), inner))


def _render_action_card(section: Mapping[str, Any], mentions: _Mentions) -> str:
    text = _required_text(section, "text")
    body = mentions.highlight(render_markdown(text))
    horizontal = str(section.get("btnOrientation", "0")) == "1"
    orientation = "buttons-horizontal" if horizontal else "buttons-vertical"
    # With singleTitle/singleURL set DingTalk ignores btns (§2.1).
    if section.get("singleTitle") or section.get("singleURL"):
        buttons = [(_text(section, "singleTitle"), _text(section, "singleURL"))]
        orientation += " buttons-single"
    else:
        btns = section.get("btns", [])
        if not isinstance(btns, list):
            raise _MalformedError("actionCard.btns must be a list")
        cards = [_mapping(button, "each of actionCard.btns") for button in btns]
        buttons = [(_text(card, "title"), _text(card, "actionURL")) for card in cards]
    links = "".join(_anchor("dt-button", url, html.escape(label)) for label, url in buttons)
    # The title is not drawn in the card: DingTalk shows it in the conversation list and
    # the notification only (§2.2), which message_preview gives the group list.
    parts = [
        f'<div class="dt-md">{body}</div>',
        mentions.badge(text),
        f'<div class="dt-buttons {orientation}">{links}</div>' if buttons else "",
    ]
    hidden = str(section.get("hideAvatar", "0")) == "1"
    return _bubble("actionCard", *parts, extra_class="hide-avatar" if hidden else "")


def _render_feed_card(section: Mapping[str, Any], _: _Mentions) -> str:
    # Like DingTalk: the first entry is a large picture with its title over it, the
    # others are rows with the title on the left and a thumbnail on the right.
    rows = []
    for index, entry in enumerate(_feed_links(section)):
        title = f'<div class="dt-feed-title">{_escaped(entry, "title")}</div>'
        pic_url = _text(entry, "picURL")
        kind = "dt-feed-first" if index == 0 else "dt-feed-row"
        pic = (
            f'<img class="dt-feed-pic" src="{_attr(pic_url)}" alt="">'
            if is_image_url(pic_url)
            else '<div class="dt-feed-pic dt-feed-nopic"></div>'
        )
        inner = pic + title if index == 0 else title + pic
        rows.append(_anchor(f"dt-feed-item {kind}", _text(entry, "messageURL"), inner))
    return _bubble("feedCard", *rows)


_RENDERERS: dict[str, Callable[[Mapping[str, Any], _Mentions], str]] = {
    "text": _render_text,
    "markdown": _render_markdown,
    "link": _render_link,
    "actionCard": _render_action_card,
    "feedCard": _render_feed_card,
}


def _bubble(msgtype: str, *parts: str, extra_class: str = "") -> str:
    classes = f"dt-msg dt-msg-{msgtype}" + (f" {extra_class}" if extra_class else "")
    return f'<div class="{classes}">{"".join(parts)}</div>'


def _anchor(css_class: str, url: str, inner: str) -> str:
    """A link to ``url``, or the same element without ``href`` if the URL is not allowed."""
    if is_safe_link(url):
        attrs = f'href="{_attr(url)}" target="_blank" rel="noopener noreferrer"'
        return f'<a class="{css_class}" {attrs}>{inner}</a>'
    return f'<a class="{css_class} dt-nolink" title="{_attr(url)}">{inner}</a>'


def _name(people: People | None, key: str, value: str) -> str | None:
    # DingTalk names (and masks the mobile of) people by group membership (§2.1); the
    # sandbox keeps no members, so everyone the organisation knows is named [I].
    if people is None:
        return None
    person = people.user_by_mobile(value) if key == "atMobiles" else people.user(value)
    return person.name if person is not None and person.name else None


def _mention_span(shown: str, *, written: str | None = None) -> str:
    """A mention as DingTalk draws it (``@唐伟``), with what the body said (``@13800000000``)
    as its tooltip when that differs."""
    tip = f' title="{html.escape(written, quote=True)}"' if written else ""
    return f'<span class="mention"{tip}>{html.escape(shown, quote=True)}</span>'


def _words_pattern(words: Mapping[str, str]) -> re.Pattern[str] | None:
    """Any of ``words`` where it is not the start of a longer id; longest first."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"(?:{alternatives}){_ID_END}")


def _fallback(payload: object, note: str) -> str:
    try:
        dumped = json.dumps(payload, ensure_ascii=False, indent=2, default=repr)
    except Exception:  # circular or absurdly deep: a bounded repr still shows something
        dumped = reprlib.repr(payload)
    return (
        '<div class="dt-msg dt-msg-fallback">'
        f'<div class="dt-fallback-note">{html.escape(note)}</div>'
        f'<pre class="dt-json">{html.escape(dumped)}</pre></div>'
    )


def _section(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _mapping(payload.get(key), key)


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _MalformedError(f"{name} must be an object, not {type(value).__name__}")
    return value


def _feed_links(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    links = section.get("links")
    if not isinstance(links, list) or not links:
        raise _MalformedError("feedCard.links must be a non-empty list")
    return [_mapping(entry, "each of feedCard.links") for entry in links]


def _text(section: Mapping[str, Any], key: str) -> str:
    """An optional text field: missing or null is empty, numbers are shown as written."""
    value = section.get(key)
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise _MalformedError(f"{key} must be a string")


def _required_text(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    if not isinstance(value, str):
        raise _MalformedError(f"{key} must be a string")
    return value


def _escaped(section: Mapping[str, Any], key: str) -> str:
    return html.escape(_text(section, key), quote=True)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)
