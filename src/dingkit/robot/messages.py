"""Typed custom-robot messages with DingTalk's exact wire names (§2.1). No I/O.

Python attributes are snake_case; the wire names, casing quirks included (``link.messageUrl``
but ``feedCard.links[].messageURL``, ``actionCard.singleURL``, ``btns[].actionURL``), are the
pydantic aliases, so ``to_payload`` and ``message_from_payload`` are exact inverses.

    >>> to_payload(Text(content="deploy done", at=At(at_mobiles=["13800000000"])))["at"]
    {'atMobiles': ['13800000000']}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._exceptions import MessageValidationError

__all__ = [
    "MSGTYPES",
    "ActionButton",
    "ActionCard",
    "At",
    "FeedCard",
    "FeedLink",
    "Link",
    "Markdown",
    "RobotMessage",
    "Text",
    "message_from_payload",
    "to_payload",
]


class _Wire(BaseModel):
    # Accept both the Python names and DingTalk's; ignore fields DingTalk would ignore.
    # defer_build: build each schema on first use, so the CLI pays only for what it sends.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)


class At(_Wire):
    """Who to mention. Only text and markdown messages support ``at`` (§2.1)."""

    at_mobiles: tuple[str, ...] = Field(default=(), alias="atMobiles")
    at_user_ids: tuple[str, ...] = Field(default=(), alias="atUserIds")
    is_at_all: bool = Field(default=False, alias="isAtAll")

    @property
    def count(self) -> int:
        return len(self.at_mobiles) + len(self.at_user_ids)

    def __bool__(self) -> bool:
        return bool(self.at_mobiles or self.at_user_ids or self.is_at_all)


class _Message(_Wire):
    msgtype: ClassVar[str]


class Text(_Message):
    """A plain-text message."""

    msgtype: ClassVar[str] = "text"
    content: str
    at: At = Field(default_factory=At)


class Markdown(_Message):
    """A markdown message; ``title`` only shows in the conversation list (§2.2 for the subset)."""

    msgtype: ClassVar[str] = "markdown"
    title: str
    text: str
    at: At = Field(default_factory=At)


class Link(_Message):
    """A link card: title, text, optional picture, opening ``message_url`` when tapped."""

    msgtype: ClassVar[str] = "link"
    title: str
    text: str
    message_url: str = Field(alias="messageUrl")
    pic_url: str = Field(default="", alias="picUrl")


class ActionButton(_Wire):
    """One button of a multi-button action card."""

    title: str
    action_url: str = Field(alias="actionURL")


class ActionCard(_Message):
    """An action card: markdown ``text`` with one button or several.

    Give either ``single_title`` + ``single_url`` (one button, DingTalk then ignores ``btns``)
    or ``buttons``. ``btn_orientation`` ``"0"`` stacks buttons, ``"1"`` puts them side by side;
    ``hide_avatar`` ``"1"`` hides the robot's avatar. Mention someone by writing ``@userId``
    in ``text``.
    """

    msgtype: ClassVar[str] = "actionCard"
    title: str
    text: str
    single_title: str | None = Field(default=None, alias="singleTitle")
    single_url: str | None = Field(default=None, alias="singleURL")
    buttons: tuple[ActionButton, ...] = Field(default=(), alias="btns")
    btn_orientation: Literal["0", "1"] = Field(default="0", alias="btnOrientation")
    hide_avatar: Literal["0", "1"] = Field(default="0", alias="hideAvatar")


class FeedLink(_Wire):
    """One entry of a feed card."""

    title: str
    message_url: str = Field(alias="messageURL")
    pic_url: str = Field(default="", alias="picURL")


class FeedCard(_Message):
    """A feed card: a list of links, the first shown large."""

    msgtype: ClassVar[str] = "feedCard"
    links: tuple[FeedLink, ...]


RobotMessage = Text | Markdown | Link | ActionCard | FeedCard

_BY_MSGTYPE: dict[str, type[_Message]] = {
    cls.msgtype: cls for cls in (Text, Markdown, Link, ActionCard, FeedCard)
}
#: The msgtypes a custom-robot webhook accepts.
MSGTYPES = tuple(_BY_MSGTYPE)


def to_payload(message: RobotMessage, *, msg_uuid: str | None = None) -> dict[str, Any]:
    """The JSON body DingTalk expects for ``message``, with empty optional fields left out."""
    body = message.model_dump(mode="json", by_alias=True, exclude={"at"}, exclude_defaults=True)
    # Required-but-defaulted wire fields that DingTalk documents as always present.
    if isinstance(message, ActionCard):
        body["btnOrientation"] = message.btn_orientation
        body["hideAvatar"] = message.hide_avatar
    payload: dict[str, Any] = {"msgtype": message.msgtype, message.msgtype: body}
    at = getattr(message, "at", None)
    if at:
        payload["at"] = at.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if msg_uuid is not None:
        payload["msgUuid"] = msg_uuid
    return payload


def message_from_payload(payload: Mapping[str, Any]) -> RobotMessage:
    """Parse a robot request body back into a message.

    Raises:
        MessageValidationError: ``field`` names the missing or malformed wire field, e.g.
            ``markdown.title``; ``msgtype`` errors name ``msgtype``.
    """
    msgtype = payload.get("msgtype")
    if not isinstance(msgtype, str) or not msgtype:
        raise MessageValidationError("msgtype is missing", field="msgtype")
    cls = _BY_MSGTYPE.get(msgtype)
    if cls is None:
        raise MessageValidationError(
            f"msgtype {msgtype!r} is not supported; use one of {', '.join(MSGTYPES)}",
            field="msgtype",
        )
    body = payload.get(msgtype)
    if not isinstance(body, Mapping):
        raise MessageValidationError(f"{msgtype} is missing or not an object", field=msgtype)
    fields = dict(body)
    if "at" in payload and "at" in cls.model_fields:
        fields["at"] = payload["at"]
    try:
        message = cls.model_validate(fields)
    except ValidationError as exc:
        raise _as_message_error(msgtype, exc) from None
    return message  # type: ignore[return-value]


def _as_message_error(msgtype: str, exc: ValidationError) -> MessageValidationError:
    first = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    field = loc if loc.startswith("at") else f"{msgtype}.{loc}"
    problem = "is missing" if first["type"] == "missing" else f"is malformed: {first['msg']}"
    return MessageValidationError(f"{field} {problem}", field=field)
