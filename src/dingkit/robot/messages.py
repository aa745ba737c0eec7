"""Typed custom-robot messages with DingTalk's exact wire names (§2.1). No I/O.

Python attributes are snake_case; each field's wire name, casing quirks included
(``link.messageUrl`` but ``feedCard.links[].messageURL``, ``actionCard.singleURL``,
``btns[].actionURL``), is declared once beside it, and both :func:`to_payload` and
:func:`message_from_payload` read that declaration, so they are exact inverses.

    >>> to_payload(Text(content="deploy done", at=At(at_mobiles=("13800000000",))))["at"]
    {'atMobiles': ['13800000000']}

These are frozen stdlib dataclasses, checked on construction, rather than pydantic models:
they are flat, and pydantic's import and schema building would cost the CLI ~0.2 s of
start-up on every ``dingkit send`` (measured in ``bench/robot.py``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

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


def _wire(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A field whose DingTalk name is ``name``."""
    if isinstance(default, tuple):
        value = default
        return dataclasses.field(default_factory=lambda: value, metadata={"wire": name})
    return dataclasses.field(default=default, metadata={"wire": name})


class _Wire:
    """Checks and normalises field values on construction (lists become tuples)."""

    def __post_init__(self) -> None:
        for spec in _specs(type(self)):
            value = getattr(self, spec.name)
            checked = spec.check(value, spec.wire)
            if checked is not value:
                object.__setattr__(self, spec.name, checked)

    def replace(self, **changes: Any) -> typing.Self:
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


# -- field specs: one reading of the declarations above, for checking, encoding, decoding --


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    wire: str
    kind: str  # "str", "optional-str", "bool", "flag01", "strs", "nested", "nested-tuple"
    nested: type[_Wire] | None
    required: bool
    default: Any

    def check(self, value: Any, where: str) -> Any:
        """The value, normalised; raises ``MessageValidationError`` naming ``where``."""
        if self.kind == "str" and isinstance(value, str):
            return value
        if self.kind == "optional-str" and (value is None or isinstance(value, str)):
            return value
        if self.kind == "bool" and isinstance(value, bool):
            return value
        if self.kind == "flag01" and value in ("0", "1"):
            return value
        if (
            self.kind == "strs"
            and isinstance(value, list | tuple)
            and all(isinstance(item, str) for item in value)
        ):
            return tuple(value)
        if self.kind == "nested" and self.nested is not None and isinstance(value, self.nested):
            return value
        if (
            self.kind == "nested-tuple"
            and isinstance(value, list | tuple)
            and self.nested is not None
            and all(isinstance(item, self.nested) for item in value)
        ):
            return tuple(value)
        raise MessageValidationError(
            f"{where} is malformed: expected {_EXPECTED[self.kind]}, got {value!r:.60}",
            field=where,
        )


_EXPECTED = {
    "str": "a string",
    "optional-str": "a string",
    "bool": "true or false",
    "flag01": 'the string "0" or "1"',
    "strs": "a list of strings",
    "nested": "an object",
    "nested-tuple": "a list of objects",
}


_SPECS: dict[type, tuple[_Spec, ...]] = {}


def _specs(cls: type) -> tuple[_Spec, ...]:
    cached = _SPECS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    specs = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = typing.get_args(hint)
        nested: type[_Wire] | None = None
        if hint is str:
            kind = "str"
        elif hint is bool:
            kind = "bool"
        elif typing.get_origin(hint) is Literal:
            kind = "flag01"
        elif type(None) in args:
            kind = "optional-str"
        elif typing.get_origin(hint) is tuple and args[0] is str:
            kind = "strs"
        elif typing.get_origin(hint) is tuple:
            kind, nested = "nested-tuple", args[0]
        else:
            kind, nested = "nested", hint
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = field.default
        specs.append(_Spec(field.name, field.metadata["wire"], kind, nested, required, default))
    _SPECS[cls] = tuple(specs)
    return _SPECS[cls]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class At(_Wire):
    """Who to mention. Only text and markdown messages support ``at`` (§2.1)."""

    at_mobiles: tuple[str, ...] = _wire("atMobiles", ())
    at_user_ids: tuple[str, ...] = _wire("atUserIds", ())
    is_at_all: bool = _wire("isAtAll", False)

    @property
    def count(self) -> int:
        return len(self.at_mobiles) + len(self.at_user_ids)

    def __bool__(self) -> bool:
        return bool(self.at_mobiles or self.at_user_ids or self.is_at_all)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Text(_Wire):
    """A plain-text message."""

    msgtype: ClassVar[str] = "text"
    content: str = _wire("content")
    at: At = dataclasses.field(default_factory=At, metadata={"wire": "at"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Markdown(_Wire):
    """A markdown message; ``title`` only shows in the conversation list (§2.2 for the subset)."""

    msgtype: ClassVar[str] = "markdown"
    title: str = _wire("title")
    text: str = _wire("text")
    at: At = dataclasses.field(default_factory=At, metadata={"wire": "at"})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Link(_Wire):
    """A link card: title, text, optional picture, opening ``message_url`` when tapped."""

    msgtype: ClassVar[str] = "link"
    title: str = _wire("title")
    text: str = _wire("text")
    message_url: str = _wire("messageUrl")
    pic_url: str = _wire("picUrl", "")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ActionButton(_Wire):
    """One button of a multi-button action card."""

    title: str = _wire("title")
    action_url: str = _wire("actionURL")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ActionCard(_Wire):
    """An action card: markdown ``text`` with one button or several.

    Give either ``single_title`` + ``single_url`` (one button, DingTalk then ignores ``btns``)
    or ``buttons``. ``btn_orientation`` ``"0"`` stacks buttons, ``"1"`` puts them side by side;
    ``hide_avatar`` ``"1"`` hides the robot's avatar. Mention someone by writing ``@userId``
    in ``text``.
    """

    msgtype: ClassVar[str] = "actionCard"
    title: str = _wire("title")
    text: str = _wire("text")
    single_title: str | None = _wire("singleTitle", None)
    single_url: str | None = _wire("singleURL", None)
    buttons: tuple[ActionButton, ...] = _wire("btns", ())
    btn_orientation: Literal["0", "1"] = _wire("btnOrientation", "0")
    hide_avatar: Literal["0", "1"] = _wire("hideAvatar", "0")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeedLink(_Wire):
    """One entry of a feed card."""

    title: str = _wire("title")
    message_url: str = _wire("messageURL")
    pic_url: str = _wire("picURL", "")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FeedCard(_Wire):
    """A feed card: a list of links, the first shown large."""

    msgtype: ClassVar[str] = "feedCard"
    links: tuple[FeedLink, ...] = _wire("links")


RobotMessage = Text | Markdown | Link | ActionCard | FeedCard

_BY_MSGTYPE: dict[str, type[RobotMessage]] = {
    cls.msgtype: cls for cls in (Text, Markdown, Link, ActionCard, FeedCard)
}
#: The msgtypes a custom-robot webhook accepts.
MSGTYPES = tuple(_BY_MSGTYPE)
# Documented as always present in an actionCard, so sent even when left at their default.
_ALWAYS_SENT = frozenset({"btnOrientation", "hideAvatar"})


def _encode(obj: _Wire) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for spec in _specs(type(obj)):
        value = getattr(obj, spec.name)
        if value == spec.default and spec.wire not in _ALWAYS_SENT:
            continue  # DingTalk's optional fields are left out, not sent empty
        if spec.kind == "nested":
            value = _encode(value)
        elif spec.kind == "nested-tuple":
            value = [_encode(item) for item in value]
        elif isinstance(value, tuple):
            value = list(value)
        body[spec.wire] = value
    return body


def _decode(cls: type[_Wire], data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise MessageValidationError(f"{where} is missing or not an object", field=where)
    values: dict[str, Any] = {}
    for spec in _specs(cls):
        path = f"{where}.{spec.wire}"
        if spec.wire not in data or (data[spec.wire] is None and spec.kind != "optional-str"):
            if spec.required:
                raise MessageValidationError(f"{path} is missing", field=path)
            continue
        value = data[spec.wire]
        if spec.kind == "nested" and spec.nested is not None:
            value = _decode(spec.nested, value, path)
        elif spec.kind == "nested-tuple" and spec.nested is not None:
            if not isinstance(value, list):
                raise MessageValidationError(f"{path} is malformed: expected a list", field=path)
            value = tuple(
                _decode(spec.nested, item, f"{path}[{i}]") for i, item in enumerate(value)
            )
        elif spec.kind == "bool" and value in ("true", "false"):
            value = value == "true"  # doc examples print booleans as strings (§0.3)
        elif spec.kind == "flag01" and value in (0, 1) and not isinstance(value, bool):
            value = str(value)
        values[spec.name] = spec.check(value, path)
    return cls(**values)


def to_payload(message: RobotMessage, *, msg_uuid: str | None = None) -> dict[str, Any]:
    """The JSON body DingTalk expects for ``message``, with empty optional fields left out."""
    body = _encode(message)
    at = body.pop("at", None)
    payload: dict[str, Any] = {"msgtype": message.msgtype, message.msgtype: body}
    if at:
        payload["at"] = at
    if msg_uuid is not None:
        payload["msgUuid"] = msg_uuid
    return payload


def message_from_payload(payload: Mapping[str, Any]) -> RobotMessage:
    """Parse a robot request body back into a message.

    Raises:
        MessageValidationError: ``field`` names the missing or malformed wire field, e.g.
            ``markdown.title``; msgtype errors name ``msgtype``.
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
    message: RobotMessage = _decode(cls, {k: v for k, v in body.items() if k != "at"}, msgtype)
    at = payload.get("at")
    if at is not None and isinstance(message, Text | Markdown):
        # `at` lives at the top level of the payload, beside the body.
        message = message.replace(at=_decode(At, at, "at"))
    return message
