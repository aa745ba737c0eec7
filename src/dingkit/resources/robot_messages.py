"""App-robot proactive sends (企业机器人主动发消息), new API, §12.3 of the protocol reference.
No I/O.

An app's robot (an internal app with the robot capability) sends to people one-to-one and to
the groups it is in, with a template key (``msgKey``) and the template's fields as a JSON
*string* (``msgParam``). :func:`template` turns dingkit's robot messages into both::

    >>> template(Markdown(title="Deploy", text="## done"))
    RobotTemplate(msg_key='sampleMarkdown', msg_param={'title': 'Deploy', 'text': '## done'})

Templates (§12.3; ``D:robot-message-type``, the "企业机器人发送消息的消息类型" table):

    Text                          sampleText        content
    Markdown                      sampleMarkdown    title, text
    Link                          sampleLink        title, text, messageUrl, picUrl
    ActionCard, one button        sampleActionCard  title, text, singleTitle, singleURL
    ActionCard, 2–5 stacked       sampleActionCard2…5  title, text, actionTitleN, actionURLN
    ActionCard, 2 side by side    sampleActionCard6 title, text, buttonTitle1/2, buttonUrl1/2

These APIs cannot @ people (§8.1 "How to reply" item 3) and have no feed card: such messages
are refused before sending; reply through the message's ``sessionWebhook`` to @ someone
(:mod:`dingkit.robot.session`). Other templates (``sampleImageMsg``, ``sampleFile``...) go as
a :class:`RobotTemplate` of your own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from .._exceptions import ConfigurationError, MessageValidationError
from .._request import APIRequest, Endpoint
from ..robot.messages import ActionCard, FeedCard, Link, Markdown, RobotMessage, Text
from ._models import CamelModel

__all__ = [
    "GROUP_SEND",
    "MAX_MSG_PARAM_BYTES",
    "MAX_USERIDS",
    "MSG_KEYS",
    "OTO_SEND",
    "BatchSendResult",
    "GroupSendResult",
    "RobotTemplate",
    "resolve_robot_code",
    "send_to_group",
    "send_to_users",
    "template",
]

#: ``userIds`` per batchSend: 20 per the field table (the ``overMax`` text says 100, §14.3).
MAX_USERIDS = 20
#: ``msgParam`` of a group send, in bytes (§12.3); [I] the same for batchSend.
MAX_MSG_PARAM_BYTES = 15000

# Permission point qyapi_robot_sendmsg (§12.3); bad parameters answer HTTP 400
# invalidParameter.* (the pages' shared error table). Not idempotent: a resend after a lost
# answer posts the message twice (no msgUuid here).
OTO_SEND = Endpoint(
    "POST", "/v1.0/robot/oToMessages/batchSend", scope="qyapi_robot_sendmsg", idempotent=False
)
GROUP_SEND = Endpoint(
    "POST", "/v1.0/robot/groupMessages/send", scope="qyapi_robot_sendmsg", idempotent=False
)

#: Every template key and its fields, required first (§12.3, ``D:robot-message-type``).
MSG_KEYS: dict[str, tuple[str, ...]] = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleLink": ("text", "title", "messageUrl", "picUrl"),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    **{
        f"sampleActionCard{n}": (
            "title",
            "text",
            *(f"{kind}{i}" for i in range(1, n + 1) for kind in ("actionTitle", "actionURL")),
        )
        for n in range(2, 6)
    },
    "sampleActionCard6": (
        "title",
        "text",
        "buttonTitle1",
        "buttonUrl1",
        "buttonTitle2",
        "buttonUrl2",
    ),
    "sampleAudio": ("mediaId", "duration"),
    "sampleFile": ("mediaId", "fileName", "fileType"),
    "sampleVideo": ("duration", "videoMediaId", "videoType", "picMediaId"),
}


@dataclass(frozen=True, slots=True)
class RobotTemplate:
    """A template key and its fields, sent as ``msgKey`` and ``msgParam`` (a JSON string)."""

    msg_key: str
    msg_param: Mapping[str, Any] = field(default_factory=dict)

    def param_json(self) -> str:
        return json.dumps(dict(self.msg_param), ensure_ascii=False, separators=(",", ":"))


class BatchSendResult(CamelModel):
    """A one-to-one send: ``process_query_key`` names it for read status and recall; users
    not in the organisation and users over the rate limit are listed, not failed (§12.3)."""

    process_query_key: str
    invalid_staff_id_list: list[str] = Field(default_factory=list)
    flow_controlled_staff_id_list: list[str] = Field(default_factory=list)


class GroupSendResult(CamelModel):
    """A group send: ``process_query_key`` names it for read status and recall (§12.3)."""

    process_query_key: str


def _no_mentions(message: Text | Markdown) -> None:
    if message.at:
        raise MessageValidationError(
            "the robot OpenAPI cannot @ people (§8.1): drop the mentions, or reply through "
            "the message's sessionWebhook (client.robot.reply)",
            field="at",
        )


def _action_card(card: ActionCard) -> RobotTemplate:
    head = {"title": card.title, "text": card.text}
    if card.single_title is not None or card.single_url is not None or len(card.buttons) == 1:
        if card.single_title is not None and card.single_url is not None:
            title, url = card.single_title, card.single_url
        elif len(card.buttons) == 1:
            title, url = card.buttons[0].title, card.buttons[0].action_url
        else:
            raise MessageValidationError(
                "a one-button action card needs both single_title and single_url",
                field="actionCard.singleURL",
            )
        return RobotTemplate("sampleActionCard", {**head, "singleTitle": title, "singleURL": url})
    buttons = card.buttons
    if card.btn_orientation == "1":
        if len(buttons) != 2:
            raise MessageValidationError(
                f"side-by-side buttons: the robot OpenAPI has a template for exactly 2 "
                f"(sampleActionCard6), got {len(buttons)}; stack them (btn_orientation='0')",
                field="actionCard.btns",
            )
        return RobotTemplate(
            "sampleActionCard6",
            {
                **head,
                "buttonTitle1": buttons[0].title,
                "buttonUrl1": buttons[0].action_url,
                "buttonTitle2": buttons[1].title,
                "buttonUrl2": buttons[1].action_url,
            },
        )
    if not 2 <= len(buttons) <= 5:
        raise MessageValidationError(
            f"stacked buttons: the robot OpenAPI has templates for 1 to 5, got {len(buttons)}",
            field="actionCard.btns",
        )
    param: dict[str, Any] = dict(head)
    for i, button in enumerate(buttons, start=1):
        param[f"actionTitle{i}"] = button.title
        param[f"actionURL{i}"] = button.action_url
    return RobotTemplate(f"sampleActionCard{len(buttons)}", param)


def template(message: RobotMessage | RobotTemplate | str) -> RobotTemplate:
    """The template for ``message`` (a string is a text message); see the module's table.
    ``hide_avatar`` has no template field and is left out [I].

    Raises:
        MessageValidationError: mentions, a feed card, or buttons no template holds.
    """
    if isinstance(message, RobotTemplate):
        return message
    if isinstance(message, str):
        message = Text(content=message)
    if isinstance(message, Text):
        _no_mentions(message)
        return RobotTemplate("sampleText", {"content": message.content})
    if isinstance(message, Markdown):
        _no_mentions(message)
        return RobotTemplate("sampleMarkdown", {"title": message.title, "text": message.text})
    if isinstance(message, Link):
        param = {"title": message.title, "text": message.text, "messageUrl": message.message_url}
        if message.pic_url:
            param["picUrl"] = message.pic_url
        return RobotTemplate("sampleLink", param)
    if isinstance(message, ActionCard):
        return _action_card(message)
    if isinstance(message, FeedCard):
        raise MessageValidationError(
            "the robot OpenAPI has no feed-card template: send the links as markdown",
            field="msgtype",
        )
    raise TypeError(f"not a robot message: {type(message).__name__}")


def resolve_robot_code(robot_code: str | None, environ: Mapping[str, str], app_key: str) -> str:
    """``robot_code``, else ``DINGTALK_ROBOT_CODE``, else the app key: an internal app's
    robot has the app's Client ID as its robotCode [I, §8.1/§12.3; the official Stream SDK
    sends ``robotCode = credential.client_id`` in ``ChatbotHandler.reply_card``
    (dingtalk_stream/chatbot.py)]."""
    code = robot_code or environ.get("DINGTALK_ROBOT_CODE", "").strip() or app_key
    if not code.strip():
        raise ConfigurationError("no robot code: pass robot_code= or set DINGTALK_ROBOT_CODE")
    return code.strip()


def _param(tpl: RobotTemplate) -> str:
    text = tpl.param_json()
    size = len(text.encode())
    if size > MAX_MSG_PARAM_BYTES:
        raise MessageValidationError(
            f"msgParam is {size} bytes, over DingTalk's {MAX_MSG_PARAM_BYTES}: shorten the "
            "message, or link to the details",
            field="msgParam",
        )
    return text


def send_to_users(
    userids: Sequence[str],
    message: RobotMessage | RobotTemplate | str,
    *,
    robot_code: str,
) -> APIRequest[BatchSendResult]:
    """A one-to-one send to at most 20 userIds (``oToMessages/batchSend``).

    Raises:
        MessageValidationError: no userIds, more than 20, or a message no template holds.
    """
    if isinstance(userids, str):
        userids = [userids]
    users = list(dict.fromkeys(userids))
    if not users or any(not isinstance(u, str) or not u.strip() for u in users):
        raise MessageValidationError("give at least one userId, none empty", field="userIds")
    if len(users) > MAX_USERIDS:
        raise MessageValidationError(
            f"{len(users)} userIds: at most {MAX_USERIDS} per call; split them",
            field="userIds",
        )
    tpl = template(message)
    body = {"robotCode": robot_code, "userIds": users, "msgKey": tpl.msg_key}
    return OTO_SEND.request(
        json={**body, "msgParam": _param(tpl)}, parse=BatchSendResult.model_validate
    )


def send_to_group(
    conversation_id: str,
    message: RobotMessage | RobotTemplate | str,
    *,
    robot_code: str,
    cool_app_code: str | None = None,
) -> APIRequest[GroupSendResult]:
    """A send to the group ``conversation_id`` (the ``openConversationId``, ``cid...==``)
    the robot is in (``groupMessages/send``); ``cool_app_code`` when the robot came with a
    group cool-app."""
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise MessageValidationError(
            "give the group's openConversationId (cid...)", field="openConversationId"
        )
    tpl = template(message)
    body: dict[str, Any] = {
        "robotCode": robot_code,
        "openConversationId": conversation_id.strip(),
        "msgKey": tpl.msg_key,
        "msgParam": _param(tpl),
    }
    if cool_app_code:
        body["coolAppCode"] = cool_app_code
    return GROUP_SEND.request(json=body, parse=GroupSendResult.model_validate)
