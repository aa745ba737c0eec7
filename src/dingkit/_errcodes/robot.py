"""The custom group robot webhook's codes (protocol §2.5; doc versus server: §10)."""

from __future__ import annotations

from .._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    PayloadTooLargeError,
    RateLimitError,
    RobotGoneError,
    SecurityCheckError,
    ServerError,
    SessionExpiredError,
)
from . import Api, ErrorCodeInfo, Retry
from ._texts import (
    ROBOT_BLOCK_SECONDS,
    ROBOT_RATE_LIMIT_ACTION,
    ROBOT_RATE_LIMIT_MEANING,
    ROBOT_TOKEN_ACTION,
)

# Custom group robot webhook, protocol §2.5 (disagreements between doc and server: §10).
ROWS: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="0",
        api=Api.ROBOT,
        raises=APIError,
        meaning="The message was accepted.",
        retry=Retry.NOT_AN_ERROR,
        action="Nothing to do.",
        errmsg_examples=("ok",),
    ),
    ErrorCodeInfo(
        code="310000",
        api=Api.ROBOT,
        raises=SecurityCheckError,
        meaning="A robot security check failed: keyword, signature, timestamp or IP allow-list.",
        retry=Retry.NO,
        action=(
            "Read errmsg for the sub-reason. Keyword: include one of the robot's keywords in "
            "the message; signature: sign timestamp + '\\n' + secret with the robot's SEC... "
            "secret and URL-encode the sign exactly once; timestamp: send the current time in "
            "milliseconds and fix the clock (1-hour window); IP: send from an address in the "
            "robot's allow-list."
        ),
        errmsg_examples=(
            "keywords not in content",
            "invalid timestamp",
            "sign not match",
            "ip X.X.X.X not in whitelist",
            "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，"
            "并在发送的信息中包含此关键词;",
            "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在"
            "调用的网址中，请确认机器人的密钥加密和填写正确;link:请参考本接口对应文档获得具体要求，"
            "或者在https://open.dingtalk.com/document/  搜索相关文档;",
            "description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段",
        ),
        note="The errmsg wording changed over the years (§2.5); branch on errcode, not errmsg.",
    ),
    ErrorCodeInfo(
        code="300001",
        api=Api.ROBOT,
        raises=SessionExpiredError,
        meaning=(
            "An app robot's sessionWebhook has expired or is unknown (it lives about 90 "
            "minutes); older servers also answered it for an unknown custom-robot token."
        ),
        retry=Retry.NO,
        action=(
            "Reply through the robot OpenAPI instead (client.robot.send_to_group / "
            "send_to_users, or dingkit robot send-to-group / send-to-users), or through the "
            "sessionWebhook of a newer message. For a custom robot: " + ROBOT_TOKEN_ACTION
        ),
        errmsg_examples=("session 不存在", "token is not exist"),
        note=(
            "Observed, not documented: an expired sessionWebhook (§8.1: agentscope-ai/QwenPaw"
            "#2221, agentscope-ai/agentscope#1318); for custom robots the doc code is 400101 "
            "and current servers answer 300005 (§10). dingkit raises SessionExpiredError, a "
            "subclass of AuthenticationError, so code catching the latter still does."
        ),
        documented=False,
    ),
    ErrorCodeInfo(
        code="300005",
        api=Api.ROBOT,
        raises=AuthenticationError,
        meaning="The robot access_token does not exist (current code).",
        retry=Retry.NO,
        action=ROBOT_TOKEN_ACTION,
        errmsg_examples=("token is not exist",),
        note=(
            "Observed, not documented: the doc code is 400101 (§10). One maintainer reports "
            "that robots of external groups give 300005."
        ),
        documented=False,
    ),
    ErrorCodeInfo(
        code="400101",
        api=Api.ROBOT,
        raises=AuthenticationError,
        meaning="The robot access_token does not exist.",
        retry=Retry.NO,
        action=ROBOT_TOKEN_ACTION,
        errmsg_examples=("access_token不存在",),
        note="Live servers were seen answering 300001 (older) and 300005 (current) instead (§10).",
    ),
    ErrorCodeInfo(
        code="130101",
        api=Api.ROBOT,
        raises=RateLimitError,
        wait=ROBOT_BLOCK_SECONDS,
        meaning=ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("send too fast, exceed 20 times per minute",),
        note="Observed 2020–2022, not documented: the doc code is 410100 (§10).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="410100",
        api=Api.ROBOT,
        raises=RateLimitError,
        wait=ROBOT_BLOCK_SECONDS,
        meaning=ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("发送速度太快而限流",),
        note="Live servers were seen answering 130101 (2020–22) and 660026 (2026) instead (§10).",
    ),
    ErrorCodeInfo(
        code="660026",
        api=Api.ROBOT,
        raises=RateLimitError,
        wait=ROBOT_BLOCK_SECONDS,
        meaning=ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("sending too many messages per minute",),
        note="Observed in 2026, not documented: the doc code is 410100 (§10).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="460101",
        api=Api.ROBOT,
        raises=PayloadTooLargeError,
        meaning="The request body is larger than 20000 bytes.",
        retry=Retry.NO,
        action=(
            "Shorten the message to at most 20000 bytes, and send UTF-8 JSON "
            "(ensure_ascii=False) so non-ASCII text is not inflated to \\uXXXX escapes."
        ),
        errmsg_examples=(
            "message too long, exceed 20000 bytes",
            "description: body 大小不合法;solution:请保持大小在 20000bytes 以内;",
        ),
        note="Observed, not in the doc table; the 20000-byte limit is known only from it (§2.3).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="101002",
        api=Api.ROBOT,
        raises=PayloadTooLargeError,
        meaning="The request body is too large (very old code, seen in 2019).",
        retry=Retry.NO,
        action="Shorten the message to at most 20000 bytes of UTF-8 JSON.",
        errmsg_examples=("message is too long",),
        note="Observed, not documented; current servers answer 460101.",
        documented=False,
    ),
    ErrorCodeInfo(
        code="400402",
        api=Api.ROBOT,
        raises=BadRequestError,
        meaning="A required message field is missing or malformed; errmsg names the field.",
        retry=Retry.NO,
        action="Fill in the field errmsg names (e.g. markdown.title) with a correctly typed value.",
        errmsg_examples=(
            "错误描述:参数 markdown --》 title 缺失，或者参数格式不正确; "
            "解决方案:请填充上对应参数;参考链接:...",
        ),
        note="Observed in 2025, not in the doc table.",
        documented=False,
    ),
    ErrorCodeInfo(
        code="40035",
        api=Api.ROBOT,
        raises=BadRequestError,
        meaning="The request body is missing.",
        retry=Retry.NO,
        action="Send the message as a JSON body with Content-Type: application/json.",
        errmsg_examples=("缺少参数 json",),
    ),
    ErrorCodeInfo(
        code="43004",
        api=Api.ROBOT,
        raises=BadRequestError,
        meaning="The Content-Type header is wrong.",
        retry=Retry.NO,
        action="Send Content-Type: application/json with a UTF-8 JSON body.",
        errmsg_examples=("无效的HTTP HEADER Content-Type",),
    ),
    ErrorCodeInfo(
        code="400013",
        api=Api.ROBOT,
        raises=RobotGoneError,
        meaning="The group has been dissolved.",
        retry=Retry.NO,
        action="Remove this robot from your configuration; its webhook can no longer post.",
        errmsg_examples=("群已被解散",),
    ),
    ErrorCodeInfo(
        code="400102",
        api=Api.ROBOT,
        raises=RobotGoneError,
        meaning="The robot has been disabled.",
        retry=Retry.NO,
        action="Ask a group admin to re-enable the robot, or send through another robot.",
        errmsg_examples=("机器人已停用",),
    ),
    ErrorCodeInfo(
        code="400105",
        api=Api.ROBOT,
        raises=BadRequestError,
        meaning="The msgtype is not supported.",
        retry=Retry.NO,
        action=(
            "Use text, markdown, link, actionCard or feedCard; image messages are not supported "
            "on webhooks (embed the image in markdown instead)."
        ),
        errmsg_examples=("不支持的消息类型",),
    ),
    ErrorCodeInfo(
        code="400106",
        api=Api.ROBOT,
        raises=RobotGoneError,
        meaning="The robot does not exist.",
        retry=Retry.NO,
        action="Check the webhook's access_token; the robot may have been removed from the group.",
        errmsg_examples=("机器人不存在",),
    ),
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.ROBOT,
            raises=BadRequestError,
            meaning=f"Content moderation refused the message: it contains {what}.",
            retry=Retry.NO,
            action="Remove or reword the flagged part of the message before sending it again.",
            errmsg_examples=(errmsg,),
        )
        for code, what, errmsg in (
            (430101, "an unsafe external link", "含有不安全的外链"),
            (430102, "inappropriate text", "含有不合适的文本"),
            (430103, "an inappropriate image", "含有不合适的图片"),
            (430104, "inappropriate content", "含有不合适的内容"),
        )
    ),
    ErrorCodeInfo(
        code="-1",
        api=Api.ROBOT,
        raises=ServerError,
        meaning="DingTalk is busy (system error).",
        retry=Retry.BACKOFF,
        action=(
            "Retry with exponential backoff and jitter, reusing the same msgUuid so the "
            "message is not posted twice."
        ),
        errmsg_examples=("系统繁忙",),
    ),
)
