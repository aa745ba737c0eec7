"""Interactive cards' codes: HTTP 400 with a string ``code`` (``dingkit.resources.cards``).

Sources: the create-card page's error table (mirrored at teheggwhh1.apifox.cn/api-347060898:
``param.cardTemplateIdEmpty``, ``param.outTrackIdEmpty``, ``param.cardPublicDataEmpty``,
``param.userIdNotExist``, ``param.openSpaceModelInvalid``); the global server error table
(help.dingtalk.io, server-api-error-codes: ``param.openSpaceIdInvalid``); the robot's
interactive-card page (mirrored at s.apifox.cn/apidoc/docs-site/467052/api-140594800:
``param.invalid``, ``chatbot.notFound``). ``param.outTrackIdNotExist`` is inferred [I]: the
pages name no code for an unknown card.
"""

from __future__ import annotations

from .._exceptions import BadRequestError, NotFoundError
from . import Api, ErrorCodeInfo, Retry

ROWS: tuple[ErrorCodeInfo, ...] = tuple(
    ErrorCodeInfo(
        code=code,
        api=Api.API,
        raises=raises,
        http_status=400,
        meaning=meaning,
        retry=Retry.NO,
        action=action,
        errmsg_examples=(example,),
        note=note,
        documented=not note,
    )
    for code, raises, meaning, action, example, note in (
        (
            "param.cardTemplateIdEmpty",
            BadRequestError,
            "cardTemplateId is missing.",
            "Pass the id of a published card template (from the card builder, ending in .schema).",
            "卡片模版 Id 为空",
            "",
        ),
        (
            "param.outTrackIdEmpty",
            BadRequestError,
            "outTrackId is missing.",
            "Pass an outTrackId of your own that names the card for later updates.",
            "业务标识 outTrackId 为空",
            "",
        ),
        (
            "param.cardPublicDataEmpty",
            BadRequestError,
            "cardData (its cardParamMap) is missing or not an object of strings.",
            'Send cardData as {"cardParamMap": {"name": "value", ...}}, every value a string.',
            "卡片公共数据为空",
            "",
        ),
        (
            "param.userIdNotExist",
            BadRequestError,
            "The userId of an IM_ROBOT open space is not in the organisation.",
            "Deliver to the userId of someone in the organisation (a message's senderStaffId).",
            "用户 userId 不存在",
            "",
        ),
        (
            "param.openSpaceModelInvalid",
            BadRequestError,
            "The deliver model of the open space is missing or wrong (imGroupOpenDeliverModel "
            "with robotCode for IM_GROUP, imRobotOpenDeliverModel for IM_ROBOT).",
            "Send imGroupOpenDeliverModel {robotCode} for a group, imRobotOpenDeliverModel "
            '{spaceType: "IM_ROBOT"} for a 1:1 chat.',
            "param.openSpaceModelInvalid",
            "",
        ),
        (
            "param.openSpaceIdInvalid",
            BadRequestError,
            "openSpaceId does not follow dtv1.card//<type>.<id>, or names no chat of the robot.",
            "Use dtv1.card//IM_GROUP.<openConversationId> of a group the robot is in, or "
            "dtv1.card//IM_ROBOT.<userId>.",
            "param.openSpaceIdInvalid",
            "",
        ),
        (
            "param.invalid",
            BadRequestError,
            "A field has the wrong type or value, the outTrackId is taken, or the card's "
            "stream has already ended.",
            "Fix the field the message names; use a fresh outTrackId for a new card.",
            "无效参数",
            "",
        ),
        (
            "chatbot.notFound",
            NotFoundError,
            "The robotCode names no robot of this organisation.",
            "Pass the robot's robotCode (an internal app's robot: the app's Client ID).",
            "机器人不存在",
            "",
        ),
        (
            "param.outTrackIdNotExist",
            NotFoundError,
            "No card was created with this outTrackId.",
            "Create the card first (createAndDeliver), then update or stream it by its outTrackId.",
            "卡片实例不存在",
            "The code and its message are inferred [I]: the pages name none for an unknown card.",
        ),
    )
)
