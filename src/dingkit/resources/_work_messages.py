"""Work-notification messages with DingTalk's wire names (§12.1). No I/O.

snake_case everywhere except ``link`` (``messageUrl``, ``picUrl``). Checked when built: a
missing required field raises :class:`MessageValidationError` naming it.

    >>> WorkActionCard(markdown="**deploy?**", single_title="Open", single_url="https://ci/42")
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .._exceptions import MessageValidationError

__all__ = [
    "OA",
    "ActionCardButton",
    "OABody",
    "OAFormItem",
    "OAHead",
    "OARich",
    "OAStatusBar",
    "WorkActionCard",
    "WorkLink",
    "WorkMarkdown",
    "WorkMessage",
    "WorkText",
    "message_payload",
]


def _required(value: str, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise MessageValidationError(f"{where} is required: give a non-empty string", field=where)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkText:
    """A plain-text notification (≤ 500 characters suggested)."""

    msgtype: ClassVar[str] = "text"
    content: str

    def __post_init__(self) -> None:
        _required(self.content, "text.content")

    def to_wire(self) -> dict[str, Any]:
        return {"content": self.content}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkMarkdown:
    """A markdown notification; ``title`` shows in the conversation list."""

    msgtype: ClassVar[str] = "markdown"
    title: str
    text: str

    def __post_init__(self) -> None:
        _required(self.title, "markdown.title")
        _required(self.text, "markdown.text")

    def to_wire(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkLink:
    """A link card; all four fields are required, and the wire names are camelCase here."""

    msgtype: ClassVar[str] = "link"
    message_url: str
    pic_url: str
    title: str
    text: str

    def __post_init__(self) -> None:
        for name, value in (("messageUrl", self.message_url), ("picUrl", self.pic_url)):
            _required(value, f"link.{name}")
        _required(self.title, "link.title")
        _required(self.text, "link.text")

    def to_wire(self) -> dict[str, Any]:
        return {
            "messageUrl": self.message_url,
            "picUrl": self.pic_url,
            "title": self.title,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class ActionCardButton:
    title: str
    action_url: str

    def to_wire(self) -> dict[str, Any]:
        return {"title": self.title, "action_url": self.action_url}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkActionCard:
    """A card with ``markdown`` and either one button (``single_title`` + ``single_url``) or
    several (``buttons``, stacked vertically unless ``btn_orientation="1"``)."""

    msgtype: ClassVar[str] = "action_card"
    markdown: str
    title: str | None = None
    single_title: str | None = None
    single_url: str | None = None
    buttons: tuple[ActionCardButton, ...] = ()
    btn_orientation: Literal["0", "1"] | None = None

    def __post_init__(self) -> None:
        _required(self.markdown, "action_card.markdown")
        object.__setattr__(self, "buttons", tuple(self.buttons))
        single = self.single_title is not None or self.single_url is not None
        if single and self.buttons:
            raise MessageValidationError(
                "action_card takes either single_title/single_url or buttons, not both",
                field="action_card.btn_json_list",
            )
        if single:
            _required(self.single_title or "", "action_card.single_title")
            _required(self.single_url or "", "action_card.single_url")
        elif not self.buttons:
            raise MessageValidationError(
                "action_card needs a button: give single_title and single_url, or buttons",
                field="action_card.single_title",
            )
        for index, button in enumerate(self.buttons):
            _required(button.title, f"action_card.btn_json_list[{index}].title")
            _required(button.action_url, f"action_card.btn_json_list[{index}].action_url")
        if self.btn_orientation not in (None, "0", "1"):
            raise MessageValidationError(
                'btn_orientation is "0" (vertical) or "1" (horizontal)',
                field="action_card.btn_orientation",
            )

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = _drop_none({"title": self.title, "markdown": self.markdown})
        if self.buttons:
            data["btn_json_list"] = [button.to_wire() for button in self.buttons]
            if self.btn_orientation is not None:
                data["btn_orientation"] = self.btn_orientation
        else:
            data["single_title"] = self.single_title
            data["single_url"] = self.single_url
        return data


@dataclass(frozen=True, slots=True)
class OAHead:
    """``bgcolor``: 8 hex digits ARGB, no ``0x`` (e.g. ``FFBBBBBB``); ``text`` is replaced by
    the app's name in work notifications but is still required."""

    bgcolor: str
    text: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-Fa-f]{8}", self.bgcolor or ""):
            raise MessageValidationError(
                f"oa.head.bgcolor must be 8 hex digits ARGB without 0x, e.g. FFBBBBBB; "
                f"got {self.bgcolor!r}",
                field="oa.head.bgcolor",
            )
        _required(self.text, "oa.head.text")


@dataclass(frozen=True, slots=True)
class OAStatusBar:
    status_value: str
    status_bg: str | None = None  # "0xFF" + 6 hex digits


@dataclass(frozen=True, slots=True)
class OAFormItem:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class OARich:
    num: str
    unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OABody:
    """The OA card's body: up to 6 ``form`` rows and 3 lines of ``content`` are shown."""

    title: str | None = None
    form: tuple[OAFormItem, ...] = ()
    rich: OARich | None = None
    content: str | None = None
    image: str | None = None  # a media_id
    file_count: str | None = None
    author: str | None = None

    def to_wire(self) -> dict[str, Any]:
        data = _drop_none(
            {
                "title": self.title,
                "content": self.content,
                "image": self.image,
                "file_count": self.file_count,
                "author": self.author,
            }
        )
        if self.form:
            data["form"] = [{"key": item.key, "value": item.value} for item in self.form]
        if self.rich is not None:
            data["rich"] = _drop_none({"num": self.rich.num, "unit": self.rich.unit})
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class OA:
    """An OA card (the approval-style notification)."""

    msgtype: ClassVar[str] = "oa"
    message_url: str
    head: OAHead
    body: OABody = field(default_factory=OABody)
    pc_message_url: str | None = None
    status_bar: OAStatusBar | None = None

    def __post_init__(self) -> None:
        _required(self.message_url, "oa.message_url")

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message_url": self.message_url}
        if self.pc_message_url is not None:
            data["pc_message_url"] = self.pc_message_url
        data["head"] = {"bgcolor": self.head.bgcolor, "text": self.head.text}
        if self.status_bar is not None:
            data["status_bar"] = _drop_none(
                {
                    "status_value": self.status_bar.status_value,
                    "status_bg": self.status_bar.status_bg,
                }
            )
        data["body"] = self.body.to_wire()
        return data


WorkMessage = WorkText | WorkMarkdown | WorkLink | WorkActionCard | OA


def message_payload(msg: WorkMessage | Mapping[str, Any] | str) -> dict[str, Any]:
    """The ``msg`` object: a message, a plain string (text), or a ready ``msg`` mapping with
    its ``msgtype`` (for the types without a class here: image, voice, file)."""
    if isinstance(msg, str):
        msg = WorkText(content=msg)
    if isinstance(msg, Mapping):
        if not isinstance(msg.get("msgtype"), str):
            raise MessageValidationError("msg needs a msgtype, e.g. 'text'", field="msgtype")
        return dict(msg)
    return {"msgtype": msg.msgtype, msg.msgtype: msg.to_wire()}
