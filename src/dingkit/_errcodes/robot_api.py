"""The app robot's OpenAPI codes: HTTP 400 with a string ``code`` (protocol §12.3).

Sources: the error tables shared by ``D:chatbots-send-one-on-one-chat-messages-in-batches``
and ``D:the-robot-sends-a-group-message`` (English mirror at help.dingtalk.io; the Chinese
``invalidParameter.robotCode.empty`` text quoted from the doc on developer.aliyun.com/ask/
585230; ``msgParam必须是json格式`` per §12.3; ``无效的openConversationId`` and
``群机器人已经停用`` from the same family's query page). Chinese texts marked [I] are
translations of the English mirror.
"""

from __future__ import annotations

from .._exceptions import BadRequestError, RateLimitError, RobotGoneError, ServerError
from . import Api, ErrorCodeInfo, Retry

_TRANSLATED = "The Chinese message is translated from the doc's English mirror [I]."

ROWS: tuple[ErrorCodeInfo, ...] = (
    *(
        ErrorCodeInfo(
            code=code,
            api=Api.API,
            raises=BadRequestError,
            http_status=400,
            meaning=meaning,
            retry=Retry.NO,
            action=action,
            errmsg_examples=(example,),
            note="" if quoted else _TRANSLATED,
        )
        for code, meaning, action, example, quoted in (
            (
                "invalidParameter.robotCode.empty",
                "robotCode is empty or not a robot of this organisation.",
                "Pass the robot's robotCode (an internal app's robot: the app's Client ID); "
                "check that the robot is in the group.",
                "机器人robotCode为空",
                True,
            ),
            (
                "invalidParameter.robotCode.auth",
                "The calling app's key does not match the robot's robotCode.",
                "Call with the access token of the app the robot belongs to, or pass that "
                "app's robot code (DINGTALK_ROBOT_CODE).",
                "该应用的appkey和机器人robotCode不匹配，请使用机器人所属应用的appkey",
                False,
            ),
            (
                "invalidParameter.userIds.empty",
                "The userIds list is empty.",
                "Pass at least one userId.",
                "用户userId列表为空",
                False,
            ),
            (
                "invalidParameter.userIds.overMax",
                "Too many userIds in one call (20 per the field table; the text says 100).",
                "Send to at most 20 users per call; split larger lists.",
                "用户userId列表超过最大限制",
                False,
            ),
            (
                "invalidParameter.msgKey.empty",
                "msgKey is missing.",
                "Pass a template key such as sampleText or sampleMarkdown.",
                "msgKey为空",
                False,
            ),
            (
                "invalidParameter.msgKey.invalid",
                "msgKey is not a known template key.",
                "Use one of the documented keys: sampleText, sampleMarkdown, sampleLink, "
                "sampleActionCard, sampleActionCard2 to 6, sampleImageMsg...",
                "msgKey无效",
                False,
            ),
            (
                "invalidParameter.msgParam.invalid",
                "msgParam is not a JSON string of the template's fields.",
                "Send msgParam as a JSON-encoded string (not an object) with the template's "
                'fields, e.g. \'{"content":"hi"}\' for sampleText.',
                "msgParam必须是json格式",
                True,
            ),
            (
                "invalidParameter.msgParam.tooLong",
                "msgParam is longer than DingTalk allows (15000 bytes for a group send).",
                "Shorten the message, or link to the details.",
                "msgParam长度超过限制",
                False,
            ),
            (
                "invalid.openConversationId",
                "The openConversationId is unknown, or not a group this robot is in.",
                "Use the group's openConversationId (cid...==, from a received message's "
                "conversationId) and add the robot to the group.",
                "无效的openConversationId",
                True,
            ),
        )
    ),
    ErrorCodeInfo(
        code="bot.stopped",
        api=Api.API,
        raises=RobotGoneError,
        http_status=400,
        meaning="The robot has been stopped in this group.",
        retry=Retry.NO,
        action="Ask a group admin to re-enable the robot.",
        errmsg_examples=("群机器人已经停用",),
    ),
    ErrorCodeInfo(
        code="send.too.fast",
        api=Api.API,
        raises=RateLimitError,
        http_status=400,
        wait=1.0,
        meaning="The robot is sending too fast.",
        retry=Retry.AFTER_1S,
        action="Wait a second, then send more slowly.",
        errmsg_examples=("发送太快",),
        note="The wait is not documented [I]; the message is inferred [I].",
    ),
    ErrorCodeInfo(
        code="system.error",
        api=Api.API,
        raises=ServerError,
        http_status=500,
        meaning="DingTalk's robot service failed.",
        retry=Retry.NO,
        action=(
            "Check whether the message arrived before sending it again: the send is not "
            "idempotent, a resend may post it twice."
        ),
        errmsg_examples=("系统错误",),
        note="The message is inferred [I].",
    ),
)
