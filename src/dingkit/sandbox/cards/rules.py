"""The rules of interactive cards and AI cards' streaming, without HTTP
(:mod:`dingkit.resources.cards`). A refusal raises :class:`~..gateway.answers.ApiError`
with a code of the cards' error rows (:mod:`dingkit._errcodes.cards`).

Choices where the pages are silent [I]:

- A card belongs to the app that created it; another app's ``outTrackId`` is unknown to it
  (``param.outTrackIdNotExist``); creating one twice answers ``param.invalid``.
- ``cardParamMap`` values are strings (DingTalk's ``Map<String, String>``); the whole map at
  most :data:`MAX_DATA_BYTES` as JSON.
- ``openSpaceId`` is one or more ``dtv1.card//<type>.<id>`` joined by ``;``; the sandbox has
  ``IM_GROUP`` (a group conversation the robot is in) and ``IM_ROBOT`` (a person's 1:1 chat
  with the robot: its robot is ``imRobotOpenDeliverModel.robotCode``, else the body's
  ``robotCode``, else the app's key, as the official SDK sends none).
- A robotCode is the app's key or the ``robot_code`` of one of its ``[[bot]]``s; any other
  answers ``chatbot.notFound``.
- An update replaces all variables unless ``cardUpdateOptions.updateCardDataByKey``.
- A streaming update with a guid already applied changes nothing and succeeds; one after the
  stream was finalized (``isFinalize`` or ``isError``) answers ``param.invalid``.
  ``isFinalize`` sets ``flowStatus`` 3 (finished), ``isError`` 5 (failed), the values of the
  official SDK's ``AICardStatus``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ...resources.cards import FLOW_STATUS
from ..bots.conversations import single_conversation
from ..config import AppConfig
from ..gateway.answers import ApiError
from .records import MAX_GUIDS, Card, Delivery

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["create", "create_and_deliver", "deliver", "stream", "update"]

MAX_DATA_BYTES = 500_000
_MAX_ID = 256
_SPACE_PREFIX = "dtv1.card//"
_MAX_SPACES = 10


def bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _out_track_id(body: dict[str, Any]) -> str:
    value = _text(body, "outTrackId")
    if value is None:
        raise bad("param.outTrackIdEmpty", "业务标识 outTrackId 为空")
    if len(value) > _MAX_ID:
        raise bad("param.invalid", f"outTrackId 长度超过{_MAX_ID}")
    return value


def _params(body: dict[str, Any]) -> dict[str, str]:
    data = body.get("cardData")
    params = data.get("cardParamMap") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        raise bad("param.cardPublicDataEmpty", "卡片公共数据为空")
    if not all(isinstance(value, str) for value in params.values()):
        raise bad("param.invalid", "cardParamMap 的值必须是字符串")
    _check_size(params)
    return dict(params)


def _check_size(params: dict[str, str]) -> None:
    if len(json.dumps(params, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise bad("param.invalid", f"卡片数据超过{MAX_DATA_BYTES}字节")


def _card(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> Card:
    card = sandbox.cards.get(app.app_key, _out_track_id(body))
    if card is None:
        raise bad("param.outTrackIdNotExist", "卡片实例不存在")
    return card


def _robot_codes(sandbox: Sandbox, app: AppConfig) -> set[str]:
    codes = {app.app_key}
    codes.update(b.robot_code for b in sandbox.config.bots if b.app == app.name and b.robot_code)
    return codes


def _robot(sandbox: Sandbox, app: AppConfig, code: object) -> str:
    if not isinstance(code, str) or code not in _robot_codes(sandbox, app):
        raise bad("chatbot.notFound", "机器人不存在")
    return code


def _new_card(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> Card:
    template = _text(body, "cardTemplateId")
    if template is None:
        raise bad("param.cardTemplateIdEmpty", "卡片模版 Id 为空")
    out_track_id = _out_track_id(body)
    params = _params(body)
    callback_type = body.get("callbackType", "STREAM")
    if callback_type not in ("STREAM", "HTTP"):
        raise bad("param.invalid", "callbackType 只能是 STREAM 或 HTTP")
    if sandbox.cards.get(app.app_key, out_track_id) is not None:
        raise bad("param.invalid", "outTrackId 已存在")
    now = sandbox.now_ms()
    return Card(
        out_track_id=out_track_id,
        app_key=app.app_key,
        template_id=template[:_MAX_ID],
        data=params,
        callback_type=callback_type,
        created_ms=now,
        updated_ms=now,
    )


def _spaces(body: dict[str, Any]) -> list[tuple[str, str]]:
    value = body.get("openSpaceId")
    if not isinstance(value, str) or not value.strip():
        raise bad("param.openSpaceIdInvalid", "openSpaceId 为空")
    spaces = []
    for part in value.split(";")[: _MAX_SPACES + 1]:
        kind, dot, space_id = part.strip().removeprefix(_SPACE_PREFIX).partition(".")
        if not part.strip().startswith(_SPACE_PREFIX) or not dot or not space_id:
            raise bad("param.openSpaceIdInvalid", "openSpaceId 不符合规范")
        if kind not in ("IM_GROUP", "IM_ROBOT"):
            raise bad("param.openSpaceIdInvalid", f"沙箱不支持的场域 {kind[:32]}")
        spaces.append((kind, space_id))
    if len(spaces) > _MAX_SPACES:
        raise bad("param.openSpaceIdInvalid", f"openSpaceId 最多{_MAX_SPACES}个场域")
    return spaces


def _place(
    sandbox: Sandbox, app: AppConfig, body: dict[str, Any], kind: str, space_id: str
) -> tuple[str, str]:
    """The conversation and robot for one space."""
    if kind == "IM_GROUP":
        model = body.get("imGroupOpenDeliverModel")
        if not isinstance(model, dict) or "robotCode" not in model:
            raise bad("param.openSpaceModelInvalid", "imGroupOpenDeliverModel.robotCode 为空")
        robot = _robot(sandbox, app, model.get("robotCode"))
        chat = sandbox.bots.conversation(space_id)
        if chat is None or chat.type != "group" or robot not in chat.robot_codes:
            raise bad("param.openSpaceIdInvalid", "群不存在或机器人不在群内")
        return chat.id, robot
    model = body.get("imRobotOpenDeliverModel")
    if not isinstance(model, dict) or model.get("spaceType", "IM_ROBOT") != "IM_ROBOT":
        raise bad("param.openSpaceModelInvalid", "imRobotOpenDeliverModel 无效")
    robot = _robot(sandbox, app, model.get("robotCode") or body.get("robotCode") or app.app_key)
    if sandbox.org.user(space_id) is None:
        raise bad("param.userIdNotExist", "用户 userId 不存在")
    return single_conversation(sandbox, robot, space_id).id, robot


def _deliver(sandbox: Sandbox, app: AppConfig, card: Card, body: dict[str, Any]) -> None:
    if body.get("userIdType", 1) != 1:
        raise bad("param.invalid", "沙箱只支持 userIdType 1（userId）")
    # Every space is checked before the card goes into any of them.
    places = [
        (kind, space_id, *_place(sandbox, app, body, kind, space_id))
        for kind, space_id in _spaces(body)
    ]
    for kind, space_id, conversation_id, robot in places:
        message_id = sandbox.bots.add_message(
            conversation_id,
            robot_code=robot,
            via="card",
            sent_ms=sandbox.now_ms(),
            data={"card": card.view()},
        )
        card.deliveries.append(Delivery(kind, space_id, conversation_id, robot, message_id))


def _save(sandbox: Sandbox, card: Card) -> None:
    card.updated_ms = sandbox.now_ms()
    sandbox.cards.put(card)
    for delivery in card.deliveries:
        sandbox.bots.set_message_data(delivery.message_id, {"card": card.view()})


def _delivered(card: Card) -> dict[str, Any]:
    return {
        "success": True,
        "result": {
            "outTrackId": card.out_track_id,
            "deliverResults": [
                {
                    "spaceType": d.space_type,
                    "spaceId": d.space_id,
                    "success": True,
                    "carrierId": str(d.message_id),
                }
                for d in card.deliveries
            ],
        },
    }


def create(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1.0/card/instances``: a card, not yet anywhere."""
    card = _new_card(sandbox, app, body)
    sandbox.cards.put(card)
    return {"success": True, "result": {"outTrackId": card.out_track_id}}


def deliver(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1.0/card/instances/deliver``: a created card into its spaces."""
    card = _card(sandbox, app, body)
    _deliver(sandbox, app, card, body)
    _save(sandbox, card)
    return _delivered(card)


def create_and_deliver(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1.0/card/instances/createAndDeliver``: both, checked before either."""
    card = _new_card(sandbox, app, body)
    _deliver(sandbox, app, card, body)
    _save(sandbox, card)
    return _delivered(card)


def update(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /v1.0/card/instances``: new variables, by key or all of them."""
    card = _card(sandbox, app, body)
    params = _params(body)
    options = body.get("cardUpdateOptions")
    by_key = isinstance(options, dict) and options.get("updateCardDataByKey") is True
    data = {**card.data, **params} if by_key else params
    _check_size(data)
    card.data = data
    _save(sandbox, card)
    return {"success": True, "result": True}


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise bad("param.invalid", f"{name} 必须是布尔值")
    return value


def stream(sandbox: Sandbox, app: AppConfig, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /v1.0/card/streaming``: one variable replaced (``isFull``) or appended to."""
    card = _card(sandbox, app, body)
    guid, key, content = _text(body, "guid"), _text(body, "key"), body.get("content")
    if guid is None or len(guid) > _MAX_ID:
        raise bad("param.invalid", "guid 为空或过长")
    if key is None or len(key) > _MAX_ID:
        raise bad("param.invalid", "key 为空或过长")
    if not isinstance(content, str):
        raise bad("param.invalid", "content 必须是字符串")
    full, finalize, error = (_flag(body, n) for n in ("isFull", "isFinalize", "isError"))
    if guid in card.guids:
        return {"success": True, "result": True}
    if card.finalized or card.failed:
        raise bad("param.invalid", "卡片流式更新已结束")
    data = dict(card.data)
    data[key] = content if full else data.get(key, "") + content
    if error:
        data["flowStatus"] = FLOW_STATUS["failed"]
    elif finalize:
        data["flowStatus"] = FLOW_STATUS["finished"]
    elif data.get("flowStatus") == FLOW_STATUS["processing"]:
        data["flowStatus"] = FLOW_STATUS["inputing"]
    _check_size(data)
    card.data, card.stream_key = data, key
    card.finalized, card.failed = finalize or error, error
    card.guids = [*card.guids, guid][-MAX_GUIDS:]
    _save(sandbox, card)
    return {"success": True, "result": True}
