"""Rules about a robot message's content, shared by the client and the sandbox. No I/O.

- what the keyword check scans (:func:`searchable_text`),
- the 20000-byte body limit, counted on the UTF-8 JSON actually sent (:func:`encode_body`),
- required fields, URLs and the 50-mention limit (:func:`validate_message`),
- mention text that DingTalk needs in the body (:func:`with_mention_text`),
- splitting an over-long text or markdown message at line boundaries (:func:`split_message`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from .._exceptions import MessageValidationError
from .messages import ActionCard, At, FeedCard, Link, Markdown, RobotMessage, Text, to_payload

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_MENTIONS",
    "encode_body",
    "ensure_keyword",
    "missing_required_field",
    "searchable_text",
    "split_message",
    "validate_message",
    "with_mention_text",
]

#: DingTalk refuses a robot request body over 20000 bytes (errcode 460101, §2.3).
MAX_BODY_BYTES = 20000
#: At most 50 people can be mentioned in one message (§2.1).
MAX_MENTIONS = 50
_URL_SCHEMES = ("http", "https", "dingtalk")


def encode_body(payload: dict[str, Any]) -> bytes:
    """Serialise a payload as DingTalk counts it: UTF-8, not ``\\uXXXX``-escaped (§2.3)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def searchable_text(message: RobotMessage) -> str:
    """Everything a keyword may appear in: every text-bearing field, titles included.

    DingTalk does not say which fields it scans (§2.3); titles and bodies together is the
    reading that lets no legitimate message fail.
    """
    match message:
        case Text():
            parts = [message.content]
        case Markdown():
            parts = [message.title, message.text]
        case Link():
            parts = [message.title, message.text]
        case ActionCard():
            parts = [message.title, message.text, message.single_title or ""]
            parts += [button.title for button in message.buttons]
        case FeedCard():
            parts = [link.title for link in message.links]
    return "\n".join(parts)


def ensure_keyword(message: RobotMessage, keyword: str | None) -> RobotMessage:
    """Add ``keyword`` to the message when a robot requires it and the message lacks it."""
    if not keyword or keyword in searchable_text(message):
        return message
    match message:
        case Text():
            return message.replace(content=f"{message.content}\n{keyword}")
        case Markdown() | ActionCard():
            return message.replace(text=f"{message.text}\n\n{keyword}")
        case Link():
            return message.replace(text=f"{message.text} {keyword}")
        case FeedCard():
            first, *rest = message.links
            tagged = first.replace(title=f"{first.title} {keyword}")
            return message.replace(links=(tagged, *rest))


def with_mention_text(message: RobotMessage) -> RobotMessage:
    """Write ``@mobile`` / ``@userId`` into a text or markdown body when missing.

    DingTalk only shows a mention as a real @ when the body contains it (§2.1).
    """
    if not isinstance(message, Text | Markdown):
        return message
    body = message.content if isinstance(message, Text) else message.text
    missing = [
        f"@{who}"
        for who in (*message.at.at_mobiles, *message.at.at_user_ids)
        # "@138000000001" does not mention 13800000000: the match must end there.
        if not re.search(rf"@{re.escape(who)}(?![\w-])", body)
    ]
    if not missing:
        return message
    mentions = " ".join(missing)
    if isinstance(message, Text):
        return message.replace(content=f"{body} {mentions}")
    return message.replace(text=f"{body}\n\n{mentions}")


def missing_required_field(message: RobotMessage) -> str | None:
    """The wire name of the first required field that is empty, or ``None``.

    This is the rule the sandbox enforces with errcode 400402.
    """
    required: list[tuple[str, str]]
    match message:
        case Text():
            required = [("text.content", message.content)]
        case Markdown():
            required = [("markdown.title", message.title), ("markdown.text", message.text)]
        case Link():
            required = [
                ("link.title", message.title),
                ("link.text", message.text),
                ("link.messageUrl", message.message_url),
            ]
        case ActionCard():
            required = [("actionCard.title", message.title), ("actionCard.text", message.text)]
            if message.single_title or message.single_url:
                required += [
                    ("actionCard.singleTitle", message.single_title or ""),
                    ("actionCard.singleURL", message.single_url or ""),
                ]
            elif not message.buttons:
                return "actionCard.btns"
            else:
                for i, button in enumerate(message.buttons):
                    required += [
                        (f"actionCard.btns[{i}].title", button.title),
                        (f"actionCard.btns[{i}].actionURL", button.action_url),
                    ]
        case FeedCard():
            if not message.links:
                return "feedCard.links"
            required = []
            for i, link in enumerate(message.links):
                required += [
                    (f"feedCard.links[{i}].title", link.title),
                    (f"feedCard.links[{i}].messageURL", link.message_url),
                ]
    for name, value in required:
        if not value.strip():
            return name
    return None


def _urls(message: RobotMessage) -> list[tuple[str, str, bool]]:
    """(wire field, url, may be a media id) for every URL in the message."""
    match message:
        case Link():
            urls = [("link.messageUrl", message.message_url, False)]
            if message.pic_url:
                urls.append(("link.picUrl", message.pic_url, True))
            return urls
        case ActionCard():
            urls = []
            if message.single_url:
                urls.append(("actionCard.singleURL", message.single_url, False))
            for i, button in enumerate(message.buttons):
                urls.append((f"actionCard.btns[{i}].actionURL", button.action_url, False))
            return urls
        case FeedCard():
            urls = []
            for i, link in enumerate(message.links):
                urls.append((f"feedCard.links[{i}].messageURL", link.message_url, False))
                if link.pic_url:
                    urls.append((f"feedCard.links[{i}].picURL", link.pic_url, True))
            return urls
        case _:
            return []


def _is_well_formed_url(url: str) -> bool:
    if any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in _URL_SCHEMES and bool(parts.netloc)


def validate_message(message: RobotMessage, *, msg_uuid: str | None = None) -> bytes:
    """Check everything DingTalk would refuse, and return the encoded body.

    Raises:
        MessageValidationError: saying which field is wrong and what to change.
    """
    field = missing_required_field(message)
    if field is not None:
        raise MessageValidationError(f"{field} is required and empty; fill it in", field=field)
    for field, url, may_be_media_id in _urls(message):
        if may_be_media_id and url.startswith("@"):
            continue  # a media id from /media/upload (§2.2)
        if not _is_well_formed_url(url):
            raise MessageValidationError(
                f"{field} {url!r} is not a well-formed URL; give an absolute http(s):// or "
                "dingtalk:// URL",
                field=field,
            )
    at = getattr(message, "at", None)
    if at is not None and at.count > MAX_MENTIONS:
        raise MessageValidationError(
            f"{at.count} people are mentioned; DingTalk allows at most {MAX_MENTIONS} per "
            "message, so split the mentions over several messages",
            field="at",
        )
    body = encode_body(to_payload(message, msg_uuid=msg_uuid))
    if len(body) > MAX_BODY_BYTES:
        hint = (
            "pass split=True (CLI: --split) to send it as several messages"
            if isinstance(message, Text | Markdown)
            else "shorten it"
        )
        raise MessageValidationError(
            f"the message is {len(body)} bytes as UTF-8 JSON; DingTalk's limit is "
            f"{MAX_BODY_BYTES}: {hint}",
            field=message.msgtype,
        )
    return body


# A msgUuid (uuid4 hex) and a " (99/99)" title suffix must still fit after splitting.
_SPLIT_RESERVE = 64


def _json_len(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode()) - 2


def split_message(message: RobotMessage, *, reserve_bytes: int = 0) -> list[RobotMessage]:
    """Split a text or markdown message that is over the body limit into several that fit.

    Cuts at line boundaries, and inside a line only when one line alone is too long. Mentions
    go with the first part only, so nobody is notified more than once. Other message types
    are returned unchanged (and fail validation if too long). ``reserve_bytes`` keeps room
    in every part for text added afterwards, such as a robot's keyword.
    """
    if not isinstance(message, Text | Markdown):
        return [message]
    limit = MAX_BODY_BYTES - _SPLIT_RESERVE - reserve_bytes
    if len(encode_body(to_payload(with_mention_text(message)))) <= limit:
        return [message]
    body = message.content if isinstance(message, Text) else message.text
    # Room for the @mentions that with_mention_text() writes into the first part afterwards.
    budget = limit - len(encode_body(to_payload(with_mention_text(_with_body(message, "")))))
    chunks = _pack_lines(body, budget)
    parts: list[RobotMessage] = []
    for index, chunk in enumerate(chunks):
        part = _with_body(message, chunk)
        if isinstance(message, Markdown):
            title = f"{message.title} ({index + 1}/{len(chunks)})"
            part = part.replace(title=title)
        if index > 0:
            part = part.replace(at=At())
        parts.append(part)
    return parts


def _with_body(message: Text | Markdown, body: str) -> Text | Markdown:
    if isinstance(message, Text):
        return message.replace(content=body)
    return message.replace(text=body)


def _pack_lines(body: str, budget: int) -> list[str]:
    # Chunks keep their line ends, so that the parts joined back give the body exactly
    # (stripping them lost blank lines at a cut and could not tell a cut line from two lines).
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in _cut_long_lines(body.splitlines(keepends=True), budget):
        cost = _json_len(line)
        if current and size + cost > budget:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += cost
    if current:
        chunks.append("".join(current))
    # A chunk of blank lines alone would be an empty message, which DingTalk refuses.
    return [chunk for chunk in chunks if chunk.strip()] or [""]


def _cut_long_lines(lines: list[str], budget: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        while _json_len(line) > budget:
            # Largest prefix that fits: JSON escapes make bytes != characters.
            low, high = 1, len(line)
            while low < high:
                mid = (low + high + 1) // 2
                if _json_len(line[:mid]) <= budget:
                    low = mid
                else:
                    high = mid - 1
            out.append(line[:low])
            line = line[low:]
        out.append(line)
    return out
