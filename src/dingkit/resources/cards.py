"""Interactive cards (互动卡片) and AI cards' streaming, new API. No I/O.

A card is an instance of a template made in DingTalk's card builder, named by the caller's
``outTrackId``; its variables are ``cardData.cardParamMap`` (strings). It is delivered into
an *open space*, e.g. a group's chat or a person's chat with the robot, and changed later by
the same ``outTrackId``: all its variables (``PUT /v1.0/card/instances``), or one variable
streamed as a typewriter does (``PUT /v1.0/card/streaming``, AI cards).

    POST /v1.0/card/instances                   create        Card.Instance.Write
    POST /v1.0/card/instances/deliver           deliver       Card.Instance.Write
    POST /v1.0/card/instances/createAndDeliver  both at once  Card.Instance.Write
    PUT  /v1.0/card/instances                   update        Card.Instance.Write
    PUT  /v1.0/card/streaming                   stream        Card.Streaming.Write

Sources: the bodies are those the official ``dingtalk-stream`` SDK sends
(``dingtalk_stream/card_replier.py``: ``CardReplier.create_and_send_card``,
``create_and_deliver_card``, ``put_card_data``, ``AICardReplier.streaming``); open space ids
``dtv1.card//IM_GROUP.<openConversationId>`` (group, with ``imGroupOpenDeliverModel
{robotCode}``) and ``dtv1.card//IM_ROBOT.<userId>`` (1:1, with ``imRobotOpenDeliverModel
{spaceType: IM_ROBOT}``) from the same file; the permission points from the API pages'
tables ("互动卡片实例写权限", mirrored at teheggwhh1.apifox.cn/api-347060898) and
developer.aliyun.com/ask/620944 (``Card.Instance.Write``, ``Card.Streaming.Write``) [I for
the streaming one]. The answers' shape (``{"success": true, "result": ...}``) is [I].
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from .._exceptions import MessageValidationError
from .._request import APIRequest, Endpoint
from ._models import CamelModel

__all__ = [
    "CARD_CREATE",
    "CARD_CREATE_AND_DELIVER",
    "CARD_DELIVER",
    "CARD_STREAMING",
    "CARD_UPDATE",
    "FLOW_STATUS",
    "CardResult",
    "DeliverResult",
    "card_params",
    "create",
    "create_and_deliver",
    "deliver",
    "open_space_id",
    "stream",
    "update",
]

# Not idempotent: creating twice with one outTrackId is refused, delivering twice posts twice.
CARD_CREATE = Endpoint(
    "POST", "/v1.0/card/instances", scope="Card.Instance.Write", idempotent=False
)
CARD_DELIVER = Endpoint(
    "POST", "/v1.0/card/instances/deliver", scope="Card.Instance.Write", idempotent=False
)
CARD_CREATE_AND_DELIVER = Endpoint(
    "POST",
    "/v1.0/card/instances/createAndDeliver",
    scope="Card.Instance.Write",
    idempotent=False,
)
# An update sets the same data again; a streaming update carries a guid [I: DingTalk drops a
# repeated guid, so a resend after a lost answer does not append twice].
CARD_UPDATE = Endpoint("PUT", "/v1.0/card/instances", scope="Card.Instance.Write")
CARD_STREAMING = Endpoint("PUT", "/v1.0/card/streaming", scope="Card.Streaming.Write")

#: An AI card's ``flowStatus`` variable (``AICardStatus`` in the official SDK's
#: card_replier.py): what DingTalk draws around the content.
FLOW_STATUS = {"processing": "1", "inputing": "2", "finished": "3", "executing": "4", "failed": "5"}

SpaceType = Literal["IM_GROUP", "IM_ROBOT"]


class DeliverResult(CamelModel):
    """Where a card went: ``space_type`` and ``space_id`` (the part after the type)."""

    space_type: str | None = None
    space_id: str | None = None
    success: bool = True
    error_msg: str | None = None
    carrier_id: str | None = None


class CardResult(CamelModel):
    """A created or delivered card: its ``out_track_id`` and where it went [I: the answer's
    ``result`` object]."""

    out_track_id: str
    deliver_results: list[DeliverResult] = Field(default_factory=list)


def open_space_id(space_type: SpaceType, space_id: str) -> str:
    """``dtv1.card//IM_GROUP.<openConversationId>`` or ``dtv1.card//IM_ROBOT.<userId>``, as
    the official SDK builds them (card_replier.py)."""
    if space_type not in ("IM_GROUP", "IM_ROBOT"):
        raise MessageValidationError(
            "the space type is IM_GROUP (a group) or IM_ROBOT (a 1:1 chat)", field="openSpaceId"
        )
    if not isinstance(space_id, str) or not space_id.strip():
        raise MessageValidationError(
            "give the group's openConversationId or the person's userId", field="openSpaceId"
        )
    return f"dtv1.card//{space_type}.{space_id.strip()}"


def card_params(data: Mapping[str, Any]) -> dict[str, str]:
    """``cardParamMap``: DingTalk takes strings only; other values go as JSON, as the
    official SDK sends ``sys_full_json_obj`` (card_instance.py) [I for numbers]."""
    if not isinstance(data, Mapping):
        raise MessageValidationError("card data is a mapping of names to values", field="cardData")
    params: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not name:
            raise MessageValidationError("card variable names are strings", field="cardParamMap")
        params[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return params


def _required(value: str, field: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MessageValidationError(f"give {what}", field=field)
    return value


def _deliver_models(space_type: SpaceType, robot_code: str) -> dict[str, Any]:
    if space_type == "IM_GROUP":
        return {"imGroupOpenDeliverModel": {"robotCode": robot_code}}
    # The official SDK sends only spaceType; the robot goes too, so that a robot whose code is
    # not the app key lands in its own chat [I: the model's robotCode field].
    return {"imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": robot_code}}


def _parse(data: Any) -> CardResult:
    result = data.get("result") if isinstance(data, Mapping) else None
    if not isinstance(result, Mapping):
        raise ValueError("the success answer's 'result' is missing")
    return CardResult.model_validate(result)


def _ok(data: Any) -> bool:
    return bool(data.get("success", True)) if isinstance(data, Mapping) else True


def _create_body(
    template_id: str, out_track_id: str, data: Mapping[str, Any], *, callback_type: str
) -> dict[str, Any]:
    return {
        "cardTemplateId": _required(template_id, "cardTemplateId", "the card template's id"),
        "outTrackId": _required(out_track_id, "outTrackId", "an outTrackId naming the card"),
        "cardData": {"cardParamMap": card_params(data)},
        "callbackType": callback_type,
        "imGroupOpenSpaceModel": {"supportForward": True},
        "imRobotOpenSpaceModel": {"supportForward": True},
    }


def create(
    template_id: str,
    out_track_id: str,
    data: Mapping[str, Any],
    *,
    callback_type: str = "STREAM",
) -> APIRequest[CardResult]:
    """Create a card instance, not yet delivered (``POST /v1.0/card/instances``)."""
    body = _create_body(template_id, out_track_id, data, callback_type=callback_type)
    return CARD_CREATE.request(
        json=body, parse=lambda answer: CardResult(out_track_id=out_track_id)
    )


def deliver(
    out_track_id: str, space_type: SpaceType, space_id: str, *, robot_code: str
) -> APIRequest[CardResult]:
    """Deliver a created card into a group (``IM_GROUP``, its openConversationId) or a
    person's chat with the robot (``IM_ROBOT``, their userId); ``userIdType`` 1 = userId."""
    body = {
        "outTrackId": _required(out_track_id, "outTrackId", "the card's outTrackId"),
        "openSpaceId": open_space_id(space_type, space_id),
        "userIdType": 1,
        **_deliver_models(space_type, robot_code),
    }
    return CARD_DELIVER.request(json=body, parse=_parse)


def create_and_deliver(
    template_id: str,
    out_track_id: str,
    data: Mapping[str, Any],
    space_type: SpaceType,
    space_id: str,
    *,
    robot_code: str,
    callback_type: str = "STREAM",
) -> APIRequest[CardResult]:
    """Create and deliver in one call (``.../createAndDeliver``)."""
    body = {
        **_create_body(template_id, out_track_id, data, callback_type=callback_type),
        "openSpaceId": open_space_id(space_type, space_id),
        "userIdType": 1,
        **_deliver_models(space_type, robot_code),
    }
    return CARD_CREATE_AND_DELIVER.request(json=body, parse=_parse)


def update(out_track_id: str, data: Mapping[str, Any], *, by_key: bool = True) -> APIRequest[bool]:
    """Change a card's variables (``PUT /v1.0/card/instances``): only those named with
    ``by_key`` (``cardUpdateOptions.updateCardDataByKey``), else all of them replaced."""
    body = {
        "outTrackId": _required(out_track_id, "outTrackId", "the card's outTrackId"),
        "cardData": {"cardParamMap": card_params(data)},
        "cardUpdateOptions": {"updateCardDataByKey": by_key},
    }
    return CARD_UPDATE.request(json=body, parse=_ok)


def stream(
    out_track_id: str,
    key: str,
    content: str,
    *,
    guid: str,
    full: bool = True,
    finalize: bool = False,
    error: bool = False,
) -> APIRequest[bool]:
    """One streaming update of variable ``key`` (``PUT /v1.0/card/streaming``): ``content``
    replaces the value (``full``, ``isFull``) or is appended to it; ``finalize`` ends the
    stream (the card turns 完成), ``error`` marks it failed. ``guid`` names the update."""
    if not isinstance(content, str):
        raise MessageValidationError("streamed content is a string", field="content")
    body = {
        "outTrackId": _required(out_track_id, "outTrackId", "the card's outTrackId"),
        "guid": _required(guid, "guid", "a guid naming the update"),
        "key": _required(key, "key", "the card variable to stream into"),
        "content": content,
        "isFull": full,
        "isFinalize": finalize,
        "isError": error,
    }
    return CARD_STREAMING.request(json=body, parse=_ok)
