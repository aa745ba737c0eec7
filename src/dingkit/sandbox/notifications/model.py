"""Work notifications (工作通知, §12): checking a ``msg``, finding who receives it, and showing
it on the chat page. Pure.

    msgtype = check_msg(msg)                       # or NoticeError(errcode, errmsg)
    people, bad_users, bad_depts = receivers(org, userids, dept_ids, to_all_user=False)
    html = notification_html(msg)

The text, markdown and link messages have the group robot's shapes, so the chat page's
renderer (:mod:`.render`) shows them as it shows robot messages; an action card is translated
to the robot's ``actionCard`` first; OA cards and media messages get a simple card here.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..contacts.org import Organization
from ..robot.render import render_message

__all__ = [
    "MSGTYPES",
    "NoticeError",
    "check_msg",
    "msg_digest",
    "msg_size",
    "notification_html",
    "receivers",
]

_ARGB = re.compile(r"[0-9A-Fa-f]{8}")
MSGTYPES = ("text", "image", "voice", "file", "link", "oa", "markdown", "action_card")
_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("messageUrl", "picUrl", "title", "text"),  # camelCase here only (§12.1)
    "oa": ("message_url",),
    "action_card": ("markdown",),
    "image": ("media_id",),
    "file": ("media_id",),
    "voice": ("media_id", "duration"),
}


class NoticeError(Exception):
    """A refused request: ``errcode`` and ``errmsg`` of the old family."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def _filled(section: Mapping[str, Any], key: str) -> bool:
    value = section.get(key)
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip() != ""


def check_msg(msg: Any) -> str:
    """The ``msgtype`` of a well-formed ``msg``.

    Raises:
        NoticeError: 40008 for an unknown msgtype, 41006 for a missing media_id, 40035 for
            any other missing field (its name in the errmsg) [I: §12.1 gives the codes, not
            which field gets which].
    """
    if not isinstance(msg, Mapping):
        raise NoticeError(40035, "不合法的参数：msg 必须是JSON对象")
    msgtype = msg.get("msgtype")
    if msgtype not in MSGTYPES:
        raise NoticeError(40008, f"不合法的消息类型：{msgtype}")
    section = msg.get(msgtype)
    if not isinstance(section, Mapping):
        raise NoticeError(40035, f"不合法的参数：缺少 msg.{msgtype}")
    for key in _REQUIRED[msgtype]:
        if not _filled(section, key):
            missing = f"不合法的参数：缺少 msg.{msgtype}.{key}"
            raise NoticeError(41006, missing) if key == "media_id" else NoticeError(40035, missing)
    if msgtype == "oa":
        head = section.get("head")
        if not isinstance(head, Mapping) or not _filled(head, "bgcolor"):
            raise NoticeError(40035, "不合法的参数：缺少 msg.oa.head.bgcolor")
        if not isinstance(section.get("body"), Mapping):
            raise NoticeError(40035, "不合法的参数：缺少 msg.oa.body")
    if msgtype == "action_card":
        single = _filled(section, "single_title") and _filled(section, "single_url")
        buttons = section.get("btn_json_list")
        if not single and not (isinstance(buttons, list) and buttons):
            raise NoticeError(
                40035, "不合法的参数：action_card 需要 single_title 和 single_url，或 btn_json_list"
            )
    return str(msgtype)


def msg_size(msg: Mapping[str, Any]) -> int:
    """The bytes of ``msg`` as compact UTF-8 JSON, the measure of the 2048-byte limit."""
    return len(json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode())


def msg_digest(msg: Mapping[str, Any]) -> str:
    """Equal for equal content (the once-a-day rule for the same content, §12.1)."""
    canonical = json.dumps(msg, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def receivers(
    org: Organization, userids: Iterable[str], dept_ids: Iterable[int], *, to_all_user: bool
) -> tuple[list[str], list[str], list[int]]:
    """Who gets the message (departments include their sub-departments), the userIds that
    are nobody, and the department ids that are nothing."""
    chosen: dict[str, None] = {}
    if to_all_user:
        chosen.update(dict.fromkeys(user.userid for user in org.users))
    invalid_users = []
    for userid in userids:
        if org.user(userid) is None:
            invalid_users.append(userid)
        else:
            chosen[userid] = None
    invalid_depts = []
    for dept_id in dept_ids:
        dept = org.department(dept_id)
        if dept is None:
            invalid_depts.append(dept_id)
            continue
        stack = [dept]
        while stack:
            current = stack.pop()
            chosen.update(dict.fromkeys(user.userid for user in current.members))
            stack.extend(org.children(current))
    return list(chosen), list(dict.fromkeys(invalid_users)), list(dict.fromkeys(invalid_depts))


def _text(section: Mapping[str, Any], key: str) -> str:
    value = section.get(key)
    return html.escape(str(value)) if value is not None else ""


def _section(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _oa_html(section: Mapping[str, Any]) -> str:
    head = _section(section, "head")
    body = _section(section, "body")
    # bgcolor is ARGB without 0x (§12.1); only a well-formed one reaches the style attribute.
    colour = str(head.get("bgcolor", ""))
    style = f' style="background:#{colour[2:]}"' if _ARGB.fullmatch(colour) else ""
    parts = [f'<div class="dt-oa-head"{style}>{_text(head, "text")}</div>']
    if body.get("title"):
        parts.append(f'<div class="dt-oa-title">{_text(body, "title")}</div>')
    rows = body.get("form") if isinstance(body.get("form"), list) else []
    for row in rows or []:
        if isinstance(row, Mapping):
            parts.append(
                f'<div class="dt-oa-row"><span class="dt-oa-key">{_text(row, "key")}</span>'
                f'<span class="dt-oa-value">{_text(row, "value")}</span></div>'
            )
    rich = body.get("rich")
    if isinstance(rich, Mapping):
        parts.append(f'<div class="dt-oa-rich">{_text(rich, "num")} {_text(rich, "unit")}</div>')
    if body.get("content"):
        parts.append(f'<div class="dt-oa-content">{_text(body, "content")}</div>')
    if body.get("author"):
        parts.append(f'<div class="dt-oa-author">{_text(body, "author")}</div>')
    bar = section.get("status_bar")
    if isinstance(bar, Mapping) and bar.get("status_value"):
        parts.append(f'<div class="dt-oa-status">{_text(bar, "status_value")}</div>')
    return f'<div class="dt-msg dt-msg-oa">{"".join(parts)}</div>'


def notification_html(msg: Mapping[str, Any]) -> str:
    """The chat-page HTML of a work notification (escaped: it is inserted as innerHTML)."""
    msgtype = msg.get("msgtype")
    section = msg.get(str(msgtype))
    if not isinstance(section, Mapping):
        return render_message(msg)  # its fallback shows the JSON
    if msgtype == "action_card":
        buttons = section.get("btn_json_list")
        card: dict[str, Any] = {
            "title": section.get("title", ""),
            "text": section.get("markdown", ""),
            "btnOrientation": section.get("btn_orientation", "0"),
        }
        if section.get("single_title"):
            card.update(singleTitle=section["single_title"], singleURL=section.get("single_url"))
        elif isinstance(buttons, list):
            card["btns"] = [
                {"title": b.get("title"), "actionURL": b.get("action_url")}
                for b in buttons
                if isinstance(b, Mapping)
            ]
        return render_message({"msgtype": "actionCard", "actionCard": card})
    if msgtype == "oa":
        return _oa_html(section)
    if msgtype in ("image", "file", "voice"):
        label = {"image": "Image", "file": "File", "voice": "Voice"}[str(msgtype)]
        return (
            f'<div class="dt-msg"><span class="md-media"><span class="md-media-label">{label}'
            f'</span><span class="md-media-id">{_text(section, "media_id")}</span></span></div>'
        )
    return render_message(msg)
