"""Typed messages an app robot receives, in HTTP mode or Stream mode (§8.1, §8.2). No I/O.

DingTalk sends one flat JSON object per message (``msgId``, ``conversationType``,
``senderStaffId``...); :func:`parse_message` reads it into one class per ``msgtype``, with the
flat fields grouped as a :class:`Conversation` and a :class:`Sender`:

    message = parse_message(body)           # bytes, str or an already-decoded mapping
    if isinstance(message, TextMessage):
        print(message.sender.staff_id, message.text)

The wire name of every field is written once, in the tables below, and read both to build the
models and to name a malformed field in :class:`~dingkit.BotMessageError`. A ``msgtype`` this
module does not know reads as a plain :class:`IncomingMessage` (DingTalk adds types); a known
one whose fields are out of shape is an error. A message whose content DingTalk withheld (the
org's robot quota is used up, code 20001) reads as :class:`WithheldMessage`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .._exceptions import BotMessageError
from .._wire import parse_json_strict
from ..resources._models import CamelModel

__all__ = [
    "MESSAGE_TYPES",
    "QUOTA_EXHAUSTED",
    "AtUser",
    "AudioMessage",
    "Conversation",
    "FileMessage",
    "IncomingMessage",
    "PictureMessage",
    "RichTextMessage",
    "RichTextPart",
    "Sender",
    "TextMessage",
    "VideoMessage",
    "WithheldMessage",
    "parse_message",
]

#: The error code of a message whose content was withheld because the org's robot quota is
#: used up ("受调用量超量影响，当前我的消息服务已经暂停", §8.1).
QUOTA_EXHAUSTED = "20001"


class AtUser(CamelModel):
    """One entry of ``atUsers``: someone mentioned, the robot itself included.

    ``staff_id`` (the userId) is empty for people outside the organisation (§8.1).
    """

    dingtalk_id: str | None = None
    staff_id: str | None = None
    union_id: str | None = None


class Conversation(CamelModel):
    """Where the message was written: a one-to-one chat with the robot, or a group."""

    type: Literal["single", "group"]
    #: The openConversationId (``cid...==``); the group robot APIs address a group by it.
    id: str
    #: The group's name; DingTalk sends none for one-to-one chats.
    title: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _from_wire(cls, value: Any) -> Any:
        # conversationType is "1" for a one-to-one chat and "2" for a group (§8.1).
        return {"1": "single", "2": "group"}.get(str(value), value)

    @property
    def is_group(self) -> bool:
        return self.type == "group"


class Sender(CamelModel):
    """Who wrote the message."""

    #: The sender's userId; ``None`` for people outside the org, and before the robot is
    #: published (§8.1).
    staff_id: str | None = None
    nick: str = ""
    union_id: str | None = None
    corp_id: str | None = None
    #: Whether the sender administers the group; DingTalk says so only once published.
    is_admin: bool = False
    #: ``senderId``, an encrypted id (``$:LWCP_v1:$...``) that no other API takes.
    id: str | None = None
    platform: str | None = None

    @field_validator("staff_id", mode="after")
    @classmethod
    def _empty_is_unknown(cls, value: str | None) -> str | None:
        return value or None

    @property
    def userid(self) -> str | None:
        """The old APIs' name of :attr:`staff_id`."""
        return self.staff_id


# Wire name -> where it goes in the models: the message's common fields (§8.1).
_COMMON: dict[str, tuple[str, ...]] = {
    "msgtype": ("msgtype",),
    "msgId": ("msg_id",),
    "createAt": ("create_at",),
    "conversationType": ("conversation", "type"),
    "conversationId": ("conversation", "id"),
    "conversationTitle": ("conversation", "title"),
    "senderStaffId": ("sender", "staff_id"),
    "senderNick": ("sender", "nick"),
    "senderUnionId": ("sender", "union_id"),
    "senderCorpId": ("sender", "corp_id"),
    "isAdmin": ("sender", "is_admin"),
    "senderId": ("sender", "id"),
    "senderPlatform": ("sender", "platform"),
    "atUsers": ("at_users",),
    "isInAtList": ("is_in_at_list",),
    "robotCode": ("robot_code",),
    "chatbotUserId": ("chatbot_user_id",),
    "chatbotCorpId": ("chatbot_corp_id",),
    "sessionWebhook": ("session_webhook",),
    "sessionWebhookExpiredTime": ("session_webhook_expired_time",),
}


class IncomingMessage(CamelModel):
    """A message to the robot; the class of every ``msgtype`` without one of its own.

    Fields DingTalk sent that are not typed here stay readable in :attr:`raw`.
    """

    msgtype: str
    msg_id: str
    #: Milliseconds since the epoch.
    create_at: int | None = None
    conversation: Conversation
    sender: Sender = Field(default_factory=Sender)
    #: Who was mentioned, the robot included when it was.
    at_users: tuple[AtUser, ...] = ()
    #: Whether the robot was mentioned.
    is_in_at_list: bool = False
    #: The robot that received it (the app's Client ID for an app robot [I]).
    robot_code: str | None = None
    chatbot_user_id: str | None = None
    chatbot_corp_id: str | None = None
    #: Where to post replies to this conversation, without an access token, until
    #: :attr:`session_webhook_expired_time`.
    session_webhook: str | None = None
    #: Milliseconds since the epoch; about ``create_at`` + 90 minutes in every official
    #: example [I].
    session_webhook_expired_time: int | None = None

    # Where this class's own fields are on the wire: the object holding them, and their names.
    _body: ClassVar[str | None] = None
    _body_fields: ClassVar[dict[str, str]] = {}
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict[str, Any]:
        """The message as DingTalk sent it."""
        return self._raw

    @property
    def text(self) -> str:
        """What the sender wrote, without the robot's mention and the space after it; ``""``
        for messages that carry no text."""
        return ""

    @property
    def download_codes(self) -> tuple[str, ...]:
        """The codes that fetch this message's files through the robot's
        ``messageFiles/download`` API (§14.2), in order."""
        return ()

    @property
    def mentioned_staff_ids(self) -> tuple[str, ...]:
        """The userIds of the people mentioned, the robot and outsiders left out."""
        return tuple(
            user.staff_id
            for user in self.at_users
            if user.staff_id and user.dingtalk_id != self.chatbot_user_id
        )

    def session_valid(self, now_ms: int, *, margin_ms: int = 0) -> bool:
        """Whether :attr:`session_webhook` still takes replies at ``now_ms`` (epoch ms), with
        ``margin_ms`` to spare. An expired session answers errcode 300001 (§8.1)."""
        if not self.session_webhook or self.session_webhook_expired_time is None:
            return False
        return now_ms + margin_ms < self.session_webhook_expired_time


class TextMessage(IncomingMessage):
    """``text``: what the sender typed."""

    _body: ClassVar[str | None] = "text"
    _body_fields: ClassVar[dict[str, str]] = {"content": "content"}

    #: As sent: in a group it starts with the space left where the @robot mention was
    #: (``" 你好"``), DingTalk having removed the mention itself.
    content: str

    @property
    def text(self) -> str:
        # §8.1: "content usually starts with a space after the @"; the official receive-message
        # page's group example reads {"content": " 你好"} (D:receive-message, as mirrored at
        # kk.hackerjk.top/index.php/archives/72), and a push logged by a user " 1+1".
        return self.content.strip()


class RichTextPart(CamelModel):
    """One run of a rich-text message: ``text``, or a picture with its download code."""

    text: str | None = None
    type: str | None = None
    download_code: str | None = None
    picture_download_code: str | None = None


class RichTextMessage(IncomingMessage):
    """``richText``: text runs and pictures, in order."""

    _body: ClassVar[str | None] = "content"
    _body_fields: ClassVar[dict[str, str]] = {"richText": "parts"}

    parts: tuple[RichTextPart, ...]

    @property
    def text(self) -> str:
        # The official SDK lists the text runs on their own (get_text_list); joined, they read
        # as the message did [I].
        return "".join(part.text for part in self.parts if part.text).strip()

    @property
    def download_codes(self) -> tuple[str, ...]:
        return tuple(part.download_code for part in self.parts if part.download_code)


class PictureMessage(IncomingMessage):
    """``picture``: one image."""

    _body: ClassVar[str | None] = "content"
    _body_fields: ClassVar[dict[str, str]] = {"downloadCode": "download_code"}

    download_code: str

    @property
    def download_codes(self) -> tuple[str, ...]:
        return (self.download_code,)


class AudioMessage(IncomingMessage):
    """``audio``: a voice message, one-to-one chats only (§8.1)."""

    _body: ClassVar[str | None] = "content"
    _body_fields: ClassVar[dict[str, str]] = {
        "downloadCode": "download_code",
        "duration": "duration",
        "recognition": "recognition",
    }

    download_code: str
    #: Milliseconds.
    duration: int | None = None
    #: DingTalk's speech-to-text of it.
    recognition: str | None = None

    @property
    def text(self) -> str:
        return (self.recognition or "").strip()

    @property
    def download_codes(self) -> tuple[str, ...]:
        return (self.download_code,)


class VideoMessage(IncomingMessage):
    """``video``, one-to-one chats only (§8.1)."""

    _body: ClassVar[str | None] = "content"
    _body_fields: ClassVar[dict[str, str]] = {
        "downloadCode": "download_code",
        "duration": "duration",
        "videoType": "video_type",
    }

    download_code: str
    duration: int | None = None
    #: The file type (``mp4``): the downloaded object is named ``*.file`` (§14.2).
    video_type: str | None = None

    @property
    def download_codes(self) -> tuple[str, ...]:
        return (self.download_code,)


class FileMessage(IncomingMessage):
    """``file``, one-to-one chats only (§8.1)."""

    _body: ClassVar[str | None] = "content"
    _body_fields: ClassVar[dict[str, str]] = {
        "downloadCode": "download_code",
        "fileName": "file_name",
    }

    download_code: str
    #: The name to save it under: the downloaded object is named ``*.file`` (§14.2).
    file_name: str | None = None

    @property
    def download_codes(self) -> tuple[str, ...]:
        return (self.download_code,)


class WithheldMessage(IncomingMessage):
    """A message DingTalk delivered without its content, and an error saying why.

    The one documented case is :data:`QUOTA_EXHAUSTED`: the org's robot quota is used up,
    ``text``/``content`` are absent, and the pages disagree on the error fields' names
    (``errCode``/``errMsg`` or ``errorCode``/``errorMessage``, §8.1); both are read.
    """

    msgtype: str = ""
    error_code: str
    error_message: str = ""

    @property
    def quota_exhausted(self) -> bool:
        return self.error_code == QUOTA_EXHAUSTED


#: The class each §8.1 ``msgtype`` reads into; others read as :class:`IncomingMessage`.
MESSAGE_TYPES: dict[str, type[IncomingMessage]] = {
    "text": TextMessage,
    "richText": RichTextMessage,
    "picture": PictureMessage,
    "audio": AudioMessage,
    "video": VideoMessage,
    "file": FileMessage,
}
_ERROR_CODE = ("errCode", "errorCode")
_ERROR_MESSAGE = ("errMsg", "errorMessage")


def parse_message(data: bytes | str | Mapping[str, Any]) -> IncomingMessage:
    """The message in a robot push: the HTTP-mode request body, or a Stream frame's ``data``.

    Raises:
        BotMessageError: not strict UTF-8 JSON (see :func:`dingkit._wire.parse_json_strict`),
            not an object, or a field missing or out of shape; ``field`` names it as DingTalk
            does (``conversationType``, ``text.content``, ``atUsers[0].staffId``).
    """
    if isinstance(data, bytes | bytearray | str):
        try:
            data = parse_json_strict(bytes(data) if isinstance(data, bytearray) else data)
        except ValueError as exc:
            raise BotMessageError(f"the robot message is not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise BotMessageError(f"the robot message is a JSON {type(data).__name__}, not an object")
    raw = dict(data)
    cls = _class_of(raw)
    values = _reshape(raw, _COMMON)
    if cls is WithheldMessage:
        values["error_code"] = _first(raw, _ERROR_CODE)
        values["error_message"] = _first(raw, _ERROR_MESSAGE)
    elif cls._body is not None:
        body = raw.get(cls._body)
        if not isinstance(body, Mapping):
            raise BotMessageError(
                f"a {raw['msgtype']} message needs a {cls._body!r} object", field=cls._body
            )
        values.update(_reshape(body, {wire: (name,) for wire, name in cls._body_fields.items()}))
    try:
        message = cls.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _wire_name(cls, error["loc"])
        raise BotMessageError(f"{field}: {error['msg']}", field=field) from None
    message._raw = raw
    return message


def _class_of(raw: Mapping[str, Any]) -> type[IncomingMessage]:
    if _first(raw, _ERROR_CODE) is not None:
        return WithheldMessage
    msgtype = raw.get("msgtype")
    if not isinstance(msgtype, str) or not msgtype:
        raise BotMessageError("the robot message has no msgtype", field="msgtype")
    return MESSAGE_TYPES.get(msgtype, IncomingMessage)


def _first(raw: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((raw[name] for name in names if raw.get(name) is not None), None)


def _reshape(flat: Mapping[str, Any], table: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """``flat``'s fields at the places ``table`` gives them; absent or null ones left out."""
    shaped: dict[str, Any] = {}
    for wire, path in table.items():
        if flat.get(wire) is None:
            continue
        *parents, name = path
        into = shaped
        for parent in parents:
            into = into.setdefault(parent, {})
        into[name] = flat[wire]
    return shaped


def _wire_name(cls: type[IncomingMessage], loc: tuple[int | str, ...]) -> str:
    """DingTalk's name for the field at pydantic's error location ``loc`` (which spells a
    field by its camelCase alias)."""
    at = tuple(to_camel(part) if isinstance(part, str) else part for part in loc)
    for wire, path in _COMMON.items():
        if at[: len(path)] == tuple(map(to_camel, path)):
            return wire + "".join(_step(part) for part in at[len(path) :])
    for wire, name in cls._body_fields.items():
        if at[:1] == (to_camel(name),):
            return f"{cls._body}.{wire}" + "".join(_step(part) for part in at[1:])
    return ".".join(map(str, at))


def _step(part: int | str) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{part}"
