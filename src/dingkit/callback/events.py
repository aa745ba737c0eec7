"""Typed models of the decrypted event plaintext (§7.4–§7.6). No I/O.

DingTalk sends each event in one of two formats: the new HTTP format (``EventType``,
``EventTime``, ``CorpId``, ``BizId``, ``eventId``, then the event's own fields) and the classic
one (``EventType``, ``TimeStamp``, ``UserId``/``DeptId``, ``CorpId``; lower-case ``corpId`` for
approvals). Both read into the same classes. Events missed after DingTalk's retries come back
from ``get_call_back_failed_result`` in a third shape (§7.5): :func:`event_from_failed_item`
reads it into the same classes too, with ``raw`` in the shape of a push and the item itself
as ``failed_item``, so handlers see one shape whichever way an event came (issue 11); and
:attr:`CallbackEvent.dedup_keys` lets an inbox recognise the event whichever way it arrived.

Nothing is rejected that is an event at all: an unknown type, or a known type whose fields do
not validate, becomes a plain :class:`CallbackEvent` with its ``raw`` plaintext.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .._exceptions import CallbackPayloadError
from .._wire import parse_json_strict
from ..resources._models import DingTalkModel

__all__ = [
    "EVENT_TYPES",
    "BpmsInstanceChange",
    "BpmsTaskChange",
    "CallbackEvent",
    "CheckCreateSuiteUrl",
    "CheckUpdateSuiteUrl",
    "CheckUrl",
    "DiffInfo",
    "OrgDeptCreate",
    "OrgDeptModify",
    "OrgDeptRemove",
    "UserAddOrg",
    "UserLeaveOrg",
    "UserModifyOrg",
    "event_from_failed_item",
    "parse_event",
]

# Fields that say when and for whom an event was delivered rather than what happened. The same
# unknown event pushed in either format, or fetched from the failed list, differs only in these.
ENVELOPE = frozenset(
    {"EventTime", "TimeStamp", "timeStamp", "eventId", "CorpId", "corpId", "corpid", "BizId"}
)
_BPMS_DATA = "bpmsCallBackData"


@dataclass(frozen=True, slots=True)
class _Wire:
    # The id list's name in the new format, the classic one and the failed list (§7.5).
    ids: tuple[str, str, str] | None = None
    stamp: bool = False  # the new format repeats the time as a string ``timeStamp`` (§7.6)
    classic_corp: str = "CorpId"
    classic_time: bool = True  # classic approval pushes carry no ``TimeStamp``
    wrapper: str | None = None  # failed-list items wrap the fields in this key
    bare: bool = False  # URL checks are exactly ``{"EventType": ...}`` plus their own fields


class CallbackEvent(DingTalkModel):
    """One event, in either push format; the class of every type this module does not know.

    Usage::

        event = parse_event(crypto.open(signature, timestamp, nonce, encrypt))
        if isinstance(event, BpmsTaskChange) and event.result == "redirect":
            ...
        inbox.add(event.dedup_keys, event.raw)

    Fields other than the typed ones stay readable in ``model_extra``; ``raw`` is the whole
    plaintext as pushed, and ``failed_item`` the failed-list item an event was read from.
    """

    event_type: str = Field(validation_alias="EventType")
    event_id: str | None = Field(None, validation_alias="eventId")
    #: Milliseconds. The new format's ``EventTime``, else the classic ``TimeStamp``.
    event_time: int | None = Field(
        None, validation_alias=AliasChoices("EventTime", "TimeStamp", "timeStamp")
    )
    corp_id: str | None = Field(None, validation_alias=AliasChoices("CorpId", "corpId", "corpid"))
    biz_id: str | None = Field(None, validation_alias="BizId")

    _wire: ClassVar[_Wire] = _Wire()
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _message: dict[str, Any] = PrivateAttr(default_factory=dict)
    _failed_item: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_message(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        event = handler(data)
        if isinstance(data, Mapping):  # not when handed a CallbackEvent already
            event._message = data if isinstance(data, dict) else dict(data)
            context = info.context if isinstance(info.context, dict) else {}
            raw = context.get("raw")
            event._raw = raw if raw is not None else event._message
            event._failed_item = context.get("failed_item")
        return event

    @property
    def raw(self) -> dict[str, Any]:
        """The decrypted plaintext object as pushed.

        For an event read from the failed list, the plaintext its push would have carried, in
        the new HTTP format (§7.6): ``EventType``, ``EventTime``, ``CorpId`` and the event's
        own fields under their push names (``userId``, not the list's ``userid``). What the
        list does not carry (``eventId``, ``BizId``, the contact events' string
        ``timeStamp``) is absent, never made up; the item itself is :attr:`failed_item`.
        """
        return self._raw

    @property
    def failed_item(self) -> dict[str, Any] | None:
        """The ``failed_list`` item (§7.5) this event was read from; ``None`` for a push."""
        return self._failed_item

    @property
    def dedup_keys(self) -> tuple[str, ...]:
        """``id:<eventId>`` when the push has one, and always ``content:<sha256>``.

        The content key hashes what identifies the event (§7.6 fields, not the envelope), so a
        push in either format and its failed-list item (§7.5) share it.
        """
        identity: object = self._identity()
        if identity is None:
            # Without a known identity, the same payload when there is no id: everything but
            # the envelope, which is all that differs between the forms of one event.
            identity = {k: v for k, v in self._message.items() if k not in ENVELOPE}
        canonical = json.dumps(
            identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        content = "content:" + hashlib.sha256(canonical.encode()).hexdigest()
        return (f"id:{self.event_id}", content) if self.event_id else (content,)

    def _identity(self) -> tuple[Any, ...] | None:
        return None


# ---- URL checks (§7.4) ------------------------------------------------------------------
class _UrlCheck(CallbackEvent):
    _wire: ClassVar[_Wire] = _Wire(bare=True)

    def _identity(self) -> tuple[Any, ...]:
        return (self.event_type, self._message.get("Random"), self.event_time)


class CheckUrl(_UrlCheck):
    """``check_url``: DingTalk testing the URL on registration; reply ``success``."""


class _SuiteUrlCheck(_UrlCheck):
    random: str | None = Field(None, validation_alias="Random")
    test_suite_key: str | None = Field(None, validation_alias="TestSuiteKey")


class CheckCreateSuiteUrl(_SuiteUrlCheck):
    """``check_create_suite_url``: a third-party app's URL tested on creation."""


class CheckUpdateSuiteUrl(_SuiteUrlCheck):
    """``check_update_suite_url``: a third-party app's URL tested after a change."""


# ---- contacts (§7.6) --------------------------------------------------------------------
class _UserEvent(CallbackEvent):
    _wire: ClassVar[_Wire] = _Wire(ids=("userId", "UserId", "userid"), stamp=True)

    user_ids: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("userId", "UserId", "userid")
    )

    def _identity(self) -> tuple[Any, ...]:
        return (self.event_type, self.event_time, sorted(self.user_ids))


class UserAddOrg(_UserEvent):
    """``user_add_org``: users joined the organisation."""


class UserLeaveOrg(_UserEvent):
    """``user_leave_org``: users left the organisation."""


class DiffInfo(DingTalkModel):
    """What changed for one user: ``prev`` and ``curr`` hold only the changed fields (``name``,
    ``email``, ``jobNumber``, ``managerUserid``...), in DingTalk's names."""

    prev: dict[str, Any] = Field(default_factory=dict)
    curr: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(None, validation_alias=AliasChoices("userid", "userId"))


class UserModifyOrg(_UserEvent):
    """``user_modify_org``: users' details changed."""

    diff_info: DiffInfo | None = Field(None, validation_alias=AliasChoices("diffInfo", "DiffInfo"))


class _DeptEvent(CallbackEvent):
    _wire: ClassVar[_Wire] = _Wire(ids=("deptId", "DeptId", "deptid"))

    # The old callback page names the classic field DeptId; §7.6 only infers it.
    dept_ids: list[int] = Field(
        default_factory=list, validation_alias=AliasChoices("deptId", "DeptId", "deptid")
    )

    def _identity(self) -> tuple[Any, ...]:
        return (self.event_type, self.event_time, sorted(self.dept_ids))


class OrgDeptCreate(_DeptEvent):
    """``org_dept_create``: departments created."""


class OrgDeptModify(_DeptEvent):
    """``org_dept_modify``: departments changed."""


class OrgDeptRemove(_DeptEvent):
    """``org_dept_remove``: departments deleted."""


# ---- approvals (§7.6) -------------------------------------------------------------------
class _ApprovalEvent(CallbackEvent):
    # Both formats spell the approval fields in camelCase; only the envelope differs.
    model_config = ConfigDict(alias_generator=to_camel)
    _wire: ClassVar[_Wire] = _Wire(classic_corp="corpId", classic_time=False, wrapper=_BPMS_DATA)

    process_instance_id: str | None = None
    process_code: str | None = None
    biz_category_id: str | None = None
    business_id: str | None = None
    title: str | None = None
    type: str | None = None
    result: str | None = None
    staff_id: str | None = None
    create_time: int | None = None  # ms
    finish_time: int | None = None  # ms


class BpmsInstanceChange(_ApprovalEvent):
    """``bpms_instance_change``: an approval instance started, finished or was terminated.

    ``type`` is ``start``, ``finish`` or ``terminate``; ``result`` is ``agree`` or ``refuse``
    on ``finish`` and ``None`` otherwise; ``staff_id`` is the initiator.
    """

    business_type: str | None = None
    url: str | None = None

    def _identity(self) -> tuple[Any, ...]:
        return (self.event_type, self.process_instance_id, self.type, self.result)


class BpmsTaskChange(_ApprovalEvent):
    """``bpms_task_change``: an approver's task started, finished or was cancelled.

    ``type`` is ``start``, ``finish`` or ``cancel``; ``result`` is ``agree``, ``refuse`` or
    ``redirect`` (a hand-over is ``finish`` + ``redirect``); ``staff_id`` is the approver.
    """

    remark: str | None = None
    task_id: int | None = None

    def _identity(self) -> tuple[Any, ...]:
        return (self.event_type, self.process_instance_id, self.task_id, self.type, self.result)


#: The class each ``EventType`` reads into; register a subclass of :class:`CallbackEvent` to add
#: one.
EVENT_TYPES: dict[str, type[CallbackEvent]] = {
    "check_url": CheckUrl,
    "check_create_suite_url": CheckCreateSuiteUrl,
    "check_update_suite_url": CheckUpdateSuiteUrl,
    "user_add_org": UserAddOrg,
    "user_leave_org": UserLeaveOrg,
    "user_modify_org": UserModifyOrg,
    "org_dept_create": OrgDeptCreate,
    "org_dept_modify": OrgDeptModify,
    "org_dept_remove": OrgDeptRemove,
    "bpms_instance_change": BpmsInstanceChange,
    "bpms_task_change": BpmsTaskChange,
}


# ---- reading ----------------------------------------------------------------------------
def parse_event(message: bytes | str | Mapping[str, Any]) -> CallbackEvent:
    """The event in a decrypted plaintext: its typed class, or :class:`CallbackEvent` for others.

    Raises:
        CallbackPayloadError: not UTF-8 JSON, not an object, or no string ``EventType``.
    """
    if isinstance(message, bytes | bytearray | str):
        try:
            # Strict, as DingTalk writes it: a plaintext nested thousands deep or holding NaN
            # is refused here (an error the receiver answers with a 4xx), not a crash.
            data = parse_json_strict(bytes(message) if isinstance(message, bytearray) else message)
        except ValueError as exc:
            raise CallbackPayloadError(f"the decrypted event is not UTF-8 JSON: {exc}") from None
    else:
        data = message
    if not isinstance(data, Mapping):
        raise CallbackPayloadError(
            f"the decrypted event is a JSON {type(data).__name__}, not an object"
        )
    event_type = data.get("EventType")
    if not isinstance(event_type, str):
        raise CallbackPayloadError("the decrypted event has no string EventType")
    data = data if isinstance(data, dict) else dict(data)
    return _validate(EVENT_TYPES.get(event_type, CallbackEvent), data, data)


def event_from_failed_item(item: Mapping[str, Any]) -> CallbackEvent:
    """The event in one ``failed_list`` item of ``get_call_back_failed_result`` (§7.5).

    Reads the current shape (fields under the tag's key, approvals under
    ``bpmsCallBackData``) and the old one (fields beside ``call_back_tag``) into the class a
    push of the same event gets; ``raw`` is the plaintext of that push, as far as the item
    tells it (see :attr:`CallbackEvent.raw`), and ``failed_item`` the item.

    Raises:
        CallbackPayloadError: the item is not an object or has no string ``call_back_tag``.
    """
    if not isinstance(item, Mapping):
        raise CallbackPayloadError("the failed-list item is not an object")
    tag = item.get("call_back_tag")
    if not isinstance(tag, str):
        raise CallbackPayloadError("the failed-list item has no string call_back_tag")
    message = {k: v for k, v in item.items() if k not in ("call_back_tag", "event_time", tag)}
    nested = item.get(tag)
    if isinstance(nested, Mapping):
        message.update(nested)
    bpms = message.pop(_BPMS_DATA, None)
    if isinstance(bpms, Mapping):
        message.update(bpms)
    message["EventType"] = tag
    if item.get("event_time") is not None:
        message["EventTime"] = item["event_time"]
    cls = EVENT_TYPES.get(tag, CallbackEvent)
    return _validate(cls, message, _as_pushed(cls._wire, message), dict(item))


# What a failed-list message holds of the envelope: rewritten as a push's EventTime and CorpId.
_FAILED_ENVELOPE = ("EventTime", "corpid", "corpId", "CorpId")


def _as_pushed(wire: _Wire, message: dict[str, Any]) -> dict[str, Any]:
    """The new-format plaintext (§7.6) of the event a failed-list item's ``message`` holds:
    its envelope in a push's names and order, its id list renamed as a push names it."""
    body = {k: v for k, v in message.items() if k not in _FAILED_ENVELOPE and k != "EventType"}
    if wire.ids and wire.ids[2] in body and wire.ids[0] not in body:
        body[wire.ids[0]] = body.pop(wire.ids[2])
    pushed: dict[str, Any] = {"EventType": message["EventType"]}
    if message.get("EventTime") is not None:
        pushed["EventTime"] = message["EventTime"]
    corp = next((message[k] for k in ("corpid", "corpId", "CorpId") if k in message), None)
    if corp is not None:
        pushed["CorpId"] = corp
    return pushed | body


def _validate(
    cls: type[CallbackEvent],
    message: dict[str, Any],
    raw: dict[str, Any],
    failed_item: dict[str, Any] | None = None,
) -> CallbackEvent:
    candidates: tuple[type[CallbackEvent], ...] = (
        (cls, CallbackEvent) if cls is not CallbackEvent else (CallbackEvent,)
    )
    context = {"raw": raw, "failed_item": failed_item}
    for candidate in candidates:
        try:
            return candidate.model_validate(message, context=context)
        except ValidationError:
            continue  # a known type with a field out of shape: keep it as a generic event
    # Even the envelope is out of shape (say a list for eventId): keep the type and the payload.
    event = CallbackEvent.model_construct(event_type=message["EventType"])
    event._message, event._raw, event._failed_item = message, raw, failed_item
    return event


# ---- writing (the sandbox) --------------------------------------------------------------
