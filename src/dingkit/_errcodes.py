"""The catalog of DingTalk error codes: what each means, whether to retry, what to do.

Pure data and a lookup, no I/O. It backs ``dingkit errors CODE`` and the SDK's error
messages. Every group of entries cites the section of ``dingtalk-protocol.md`` it comes from.

A number can mean different things in different API families, so a lookup returns every
entry for the code::

    >>> [info.api.value for info in lookup(40035)]
    ['robot', 'oapi']
    >>> lookup("InvalidAuthentication")[0].retry
    <Retry.REFRESH_TOKEN: 'refresh-token'>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Api", "ErrorCodeInfo", "Retry", "all_codes", "lookup"]


class Retry(StrEnum):
    """Whether and how a failed call may be retried (the policy of protocol §9.4)."""

    NO = "no"  # never retry: fix the request/config
    BACKOFF = "backoff"  # retry with exponential backoff + jitter (§9.4)
    AFTER_1S = "after-1s"  # QPS limits: sleep ≥ 1 s then back off
    REFRESH_TOKEN = "refresh-token"  # invalidate the cached access token, retry once
    AFTER_BAN = "after-ban"  # banned for a period (robot 10-minute block, 900xx bans, IP ban)
    NOT_AN_ERROR = "not-an-error"  # code 0


class Api(StrEnum):
    """The DingTalk API family a code belongs to (protocol §0.3)."""

    ROBOT = "robot"  # custom group robot webhook (oapi /robot/send)
    OAPI = "oapi"  # old server API family (errcode in an HTTP 200 body)
    API = "api"  # new server API family (HTTP status + string `code`)
    CALLBACK = "callback"  # callback crypto library codes (9000xx)


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    """One DingTalk error code in one API family.

    Usage::

        for info in lookup(310000):
            print(info.meaning, info.action)

    Args:
        code: the code as DingTalk sends it: ``"310000"``, ``"-1"``,
            ``"InvalidAuthentication"``; HTTP-status-only rows are ``"HTTP 503"``.
        api: the family the code belongs to.
        meaning: one English sentence.
        retry: whether and how to retry.
        action: what the user should do, imperative.
        http_status: the HTTP status of a new-API (``Api.API``) error.
        errmsg_examples: real ``errmsg``/``message`` texts from the reference, verbatim.
        note: caveats: observed only, not in DingTalk's own table, sources disagreeing.
        documented: False when the code was only observed or only appears in
            third-party guides.
    """

    code: str
    api: Api
    meaning: str
    retry: Retry
    action: str
    http_status: int | None = None
    errmsg_examples: tuple[str, ...] = ()
    note: str = ""
    documented: bool = True


# Texts shared by several entries (the same advice in the robot, old-API and new-API families).
_BACKOFF = "Retry with exponential backoff and jitter."
_REFRESH = "Drop the cached token, fetch a new one and retry once."
_PASS_TOKEN = "Pass the token in the access_token query parameter."
_CHECK_CREDENTIALS = (
    "Check the app's Client ID (AppKey) and Client Secret in the developer console."
)
_ALLOW_IP = "Add your server's public IP to the app's allow-list in the developer console."
_APP_QPS_MEANING = (
    "The per-app per-API QPS limit (20 calls/s on the standard edition) was exceeded."
)
_QPS_ACTION = "Sleep 1 second, then retry with backoff; spread calls out to stay under the limit."
_GLOBAL_QPS_ACTION = "Sleep at least 1 second, then retry with exponential backoff and jitter."
_QPM_ACTION = "Wait (up to a minute) before retrying, then back off and lower the call rate."
_QUOTA_MEANING = "The organisation's monthly call quota is used up (standard edition: 5000/month)."
_QUOTA_ACTION = (
    "Do not retry until next month; cut calls to non-exempt APIs or upgrade the edition."
)
_ROBOT_RATE_LIMIT_MEANING = (
    "The robot sent over 20 messages in a minute and is now blocked for 10 minutes."
)
_ROBOT_RATE_LIMIT_ACTION = (
    "Do not hammer the robot: stop sending through it for 10 minutes, then stay under "
    "20 messages per minute (queue or merge messages) and reuse msgUuid when resending."
)
_ROBOT_TOKEN_ACTION = (
    "Use only the value after access_token= in the webhook URL (not the whole URL), "
    "and check that the robot still exists in the group settings."
)

# Custom group robot webhook, protocol §2.5 (disagreements between doc and server: §10).
_ROBOT: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="0",
        api=Api.ROBOT,
        meaning="The message was accepted.",
        retry=Retry.NOT_AN_ERROR,
        action="Nothing to do.",
        errmsg_examples=("ok",),
    ),
    ErrorCodeInfo(
        code="310000",
        api=Api.ROBOT,
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
        meaning="The robot access_token is unknown (older code; also an expired sessionWebhook).",
        retry=Retry.NO,
        action=_ROBOT_TOKEN_ACTION + " For a sessionWebhook, reply through a fresh one.",
        errmsg_examples=("token is not exist", "session 不存在"),
        note="Observed, not documented: the doc code is 400101 (§10).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="300005",
        api=Api.ROBOT,
        meaning="The robot access_token does not exist (current code).",
        retry=Retry.NO,
        action=_ROBOT_TOKEN_ACTION,
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
        meaning="The robot access_token does not exist.",
        retry=Retry.NO,
        action=_ROBOT_TOKEN_ACTION,
        errmsg_examples=("access_token不存在",),
        note="Live servers were seen answering 300001 (older) and 300005 (current) instead (§10).",
    ),
    ErrorCodeInfo(
        code="130101",
        api=Api.ROBOT,
        meaning=_ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=_ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("send too fast, exceed 20 times per minute",),
        note="Observed 2020–2022, not documented: the doc code is 410100 (§10).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="410100",
        api=Api.ROBOT,
        meaning=_ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=_ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("发送速度太快而限流",),
        note="Live servers were seen answering 130101 (2020–22) and 660026 (2026) instead (§10).",
    ),
    ErrorCodeInfo(
        code="660026",
        api=Api.ROBOT,
        meaning=_ROBOT_RATE_LIMIT_MEANING,
        retry=Retry.AFTER_BAN,
        action=_ROBOT_RATE_LIMIT_ACTION,
        errmsg_examples=("sending too many messages per minute",),
        note="Observed in 2026, not documented: the doc code is 410100 (§10).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="460101",
        api=Api.ROBOT,
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
        meaning="The request body is missing.",
        retry=Retry.NO,
        action="Send the message as a JSON body with Content-Type: application/json.",
        errmsg_examples=("缺少参数 json",),
    ),
    ErrorCodeInfo(
        code="43004",
        api=Api.ROBOT,
        meaning="The Content-Type header is wrong.",
        retry=Retry.NO,
        action="Send Content-Type: application/json with a UTF-8 JSON body.",
        errmsg_examples=("无效的HTTP HEADER Content-Type",),
    ),
    ErrorCodeInfo(
        code="400013",
        api=Api.ROBOT,
        meaning="The group has been dissolved.",
        retry=Retry.NO,
        action="Remove this robot from your configuration; its webhook can no longer post.",
        errmsg_examples=("群已被解散",),
    ),
    ErrorCodeInfo(
        code="400102",
        api=Api.ROBOT,
        meaning="The robot has been disabled.",
        retry=Retry.NO,
        action="Ask a group admin to re-enable the robot, or send through another robot.",
        errmsg_examples=("机器人已停用",),
    ),
    ErrorCodeInfo(
        code="400105",
        api=Api.ROBOT,
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
        meaning="The robot does not exist.",
        retry=Retry.NO,
        action="Check the webhook's access_token; the robot may have been removed from the group.",
        errmsg_examples=("机器人不存在",),
    ),
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.ROBOT,
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
        meaning="DingTalk is busy (system error).",
        retry=Retry.BACKOFF,
        action=(
            "Retry with exponential backoff and jitter, reusing the same msgUuid so the "
            "message is not posted twice."
        ),
        errmsg_examples=("系统繁忙",),
    ),
)

_OAPI_RANGE_NOTE_71 = (
    "The reference gives 71006–71013 as one range with a list of reasons; this per-code "
    "reason follows the order of that list and is confirmed separately only for 71009 (§7.3)."
)

# Old server API family ("oapi": errcode in an HTTP 200 body), protocol §9.1 with §0.3, §1.1.
_OAPI: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="0",
        api=Api.OAPI,
        meaning="Success.",
        retry=Retry.NOT_AN_ERROR,
        action="Nothing to do.",
        errmsg_examples=("ok",),
    ),
    ErrorCodeInfo(
        code="-1",
        api=Api.OAPI,
        meaning="The system is busy; DingTalk suggests retrying once, at most 3 times.",
        retry=Retry.BACKOFF,
        action="Retry with exponential backoff and jitter, at most 3 times.",
        errmsg_examples=("系统繁忙",),
    ),
    ErrorCodeInfo(
        code="15",
        api=Api.OAPI,
        meaning=(
            "The call timed out inside DingTalk (sub_code isp.top-remote-connection-timeout; "
            "the backend did not answer within 3 s)."
        ),
        retry=Retry.BACKOFF,
        action=_BACKOFF,
    ),
    ErrorCodeInfo(
        code="22",
        api=Api.OAPI,
        meaning="The /topapi/ API name (path) does not exist.",
        retry=Retry.NO,
        action="Check the endpoint path for typos, including the v2 segment.",
        errmsg_examples=("Invalid method[submsg=...]",),
        note=(
            "Observed, not documented; sub_msg reads "
            "'不合法ApiName，ApiName = dingtalk.oapi.v2.user.notexist' (§0.3)."
        ),
        documented=False,
    ),
    ErrorCodeInfo(
        code="88",
        api=Api.OAPI,
        meaning=(
            "A gateway-level error on /topapi/*: the real reason is in sub_code/sub_msg, and an "
            "empty sub_code means the auth service timed out."
        ),
        retry=Retry.BACKOFF,
        action="Handle the code in sub_code instead; retry with backoff only if sub_code is empty.",
        errmsg_examples=("ding talk error[subcode=40014,submsg=不合法的access_token]",),
        note=(
            "The retry class covers the empty-sub_code case only (§9.1). Seen sub_codes: 40014 "
            "(bad token: refresh it) and 40000 (access_token is blank) (§0.3)."
        ),
    ),
    ErrorCodeInfo(
        code="40000",
        api=Api.OAPI,
        meaning="The access_token query parameter is empty (seen as sub_code of errcode 88).",
        retry=Retry.NO,
        action=_PASS_TOKEN,
        note="Observed on /topapi/* with sub_msg 'access_token is blank' (§0.3).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="40001",
        api=Api.OAPI,
        meaning="The app secret is wrong or the access token is invalid.",
        retry=Retry.REFRESH_TOKEN,
        action="Fetch a new token once and retry; if /gettoken answers 40001, check the secret.",
        note=(
            "§9.1 marks it 'no (re-fetch token once)'. The global table lists it for secret "
            "errors on /gettoken, where live servers answer 40096 instead (§1.1, §10)."
        ),
    ),
    ErrorCodeInfo(
        code="40014",
        api=Api.OAPI,
        meaning="The access_token is invalid (expired tokens are often reported this way too).",
        retry=Retry.REFRESH_TOKEN,
        action=(
            "Drop the cached token, fetch a new one and retry once; if it persists, check that "
            "the token belongs to this app."
        ),
        errmsg_examples=("不合法的access_token",),
        note=(
            "On /topapi/* it arrives as errcode 88 with sub_code 40014 (§0.3). That expired "
            "tokens show up as 40014 rather than 42001 is inferred."
        ),
    ),
    ErrorCodeInfo(
        code="40035",
        api=Api.OAPI,
        meaning="A parameter is missing or invalid (e.g. the body, appkey, task_id or agent_id).",
        retry=Retry.NO,
        action=(
            "Check the parameters against the API reference; /gettoken wants appkey and "
            "appsecret in the query string, not in a form body."
        ),
        errmsg_examples=("缺少参数 corpid or appkey",),
    ),
    ErrorCodeInfo(
        code="40089",
        api=Api.OAPI,
        meaning="The corpid or corpsecret is invalid (the older /gettoken credentials).",
        retry=Retry.NO,
        action=_CHECK_CREDENTIALS,
        errmsg_examples=("不合法的corpid或corpsecret",),
        note="Listed in the global table; live /gettoken answers 40096 for bad credentials (§10).",
    ),
    ErrorCodeInfo(
        code="40096",
        api=Api.OAPI,
        meaning="The appKey or appSecret is invalid.",
        retry=Retry.NO,
        action=_CHECK_CREDENTIALS,
        errmsg_examples=("不合法的appKey或appSecret",),
        note=(
            "Observed answer of /gettoken, not in the global table (which lists 40089/40001); "
            "treat it as the current code (§1.1, §10)."
        ),
        documented=False,
    ),
    ErrorCodeInfo(
        code="40104",
        api=Api.OAPI,
        meaning="The mobile number is not valid in this organisation.",
        retry=Retry.NO,
        action="Check the number; only current employees of the organisation can be found.",
        errmsg_examples=("企业中无效的手机号",),
    ),
    ErrorCodeInfo(
        code="41001",
        api=Api.OAPI,
        meaning="The access_token parameter is missing.",
        retry=Retry.NO,
        action=_PASS_TOKEN,
    ),
    ErrorCodeInfo(
        code="41041",
        api=Api.OAPI,
        meaning="The attendance query spans more than 7 days.",
        retry=Retry.NO,
        action="Split the query into windows of at most 7 days.",
        errmsg_examples=("时间跨度太大",),
        note="That /attendance/list answers with exactly this code is inferred (§6.1, §11).",
    ),
    ErrorCodeInfo(
        code="42001",
        api=Api.OAPI,
        meaning="The access_token has expired.",
        retry=Retry.REFRESH_TOKEN,
        action=_REFRESH,
    ),
    ErrorCodeInfo(
        code="43001",
        api=Api.OAPI,
        meaning="The API must be called with GET.",
        retry=Retry.NO,
        action="Call the API with GET.",
    ),
    ErrorCodeInfo(
        code="43002",
        api=Api.OAPI,
        meaning="The API must be called with POST.",
        retry=Retry.NO,
        action="Call the API with POST.",
    ),
    ErrorCodeInfo(
        code="43004",
        api=Api.OAPI,
        meaning="The Content-Type header is invalid.",
        retry=Retry.NO,
        action="Send the Content-Type the API expects, usually application/json.",
    ),
    ErrorCodeInfo(
        code="43005",
        api=Api.OAPI,
        meaning="The API requires Content-Type: application/json;charset=UTF-8.",
        retry=Retry.NO,
        action="Send Content-Type: application/json;charset=UTF-8 with a UTF-8 JSON body.",
    ),
    ErrorCodeInfo(
        code="43007",
        api=Api.OAPI,
        meaning="Authorisation is required.",
        retry=Retry.NO,
        action="Check that the app is authorised in the organisation and has the API's permission.",
        errmsg_examples=("需要授权",),
    ),
    ErrorCodeInfo(
        code="50002",
        api=Api.OAPI,
        meaning="The user is outside the app's visible range.",
        retry=Retry.NO,
        action="Add the user (or their department) to the app's visible range in the console.",
    ),
    ErrorCodeInfo(
        code="50004",
        api=Api.OAPI,
        meaning="The department is outside the app's visible range.",
        retry=Retry.NO,
        action="Add the department to the app's visible range in the developer console.",
        errmsg_examples=("部门不在权限范围内",),
    ),
    ErrorCodeInfo(
        code="60003",
        api=Api.OAPI,
        meaning="The department was not found.",
        retry=Retry.NO,
        action="Check dept_id; the root department is 1.",
        errmsg_examples=("未找到对应部门",),
    ),
    ErrorCodeInfo(
        code="60011",
        api=Api.OAPI,
        meaning="The app lacks the permission for this API.",
        retry=Retry.NO,
        action="Add the permission this API needs to the app in the developer console.",
    ),
    ErrorCodeInfo(
        code="60019",
        api=Api.OAPI,
        meaning="Users could not be read from the department.",
        retry=Retry.NO,
        action="Check dept_id and that the department is in the app's visible range.",
        errmsg_examples=("未能从部门中获取用户",),
    ),
    ErrorCodeInfo(
        code="60020",
        api=Api.OAPI,
        meaning="The caller's IP address is not in the app's IP allow-list.",
        retry=Retry.NO,
        action=_ALLOW_IP,
        errmsg_examples=("访问ip不在白名单之中,request ip=... appKey(...)",),
    ),
    ErrorCodeInfo(
        code="60121",
        api=Api.OAPI,
        meaning="The user was not found (or is not in the organisation).",
        retry=Retry.NO,
        action="Check the userid, unionid or mobile; people who left cannot be found.",
        errmsg_examples=("未找到该用户",),
    ),
    ErrorCodeInfo(
        code="33012",
        api=Api.OAPI,
        meaning="The userId is invalid.",
        retry=Retry.NO,
        action="Check the userId; it is the organisation-level userid, not the unionid.",
        errmsg_examples=("无效的userId",),
    ),
    ErrorCodeInfo(
        code="400002",
        api=Api.OAPI,
        meaning="A parameter is invalid.",
        retry=Retry.NO,
        action="Check the request parameters against the API reference.",
        errmsg_examples=("无效的参数",),
    ),
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.OAPI,
            meaning=f"Callback registration failed: {what}.",
            retry=Retry.NO,
            action=action,
            errmsg_examples=examples,
            note=_OAPI_RANGE_NOTE_71,
        )
        for code, what, action, examples in (
            (
                71006,
                "the callback already exists",
                "Update the callback instead of registering it again.",
                (),
            ),
            (
                71007,
                "the callback does not exist",
                "Register the callback before updating or deleting it.",
                (),
            ),
            (71008, "a callback tag is invalid", "Check the call_back_tag names.", ()),
            (
                71009,
                "the callback URL did not reply with an encrypted 'success'",
                "Reply to the check_url event with the encrypted string 'success' (§7.3).",
                ("返回文本非success",),
            ),
            (
                71010,
                "the JSON is malformed",
                "Make the callback reply valid JSON (§7.3).",
                (),
            ),
            (
                71011,
                "the callback URL is invalid",
                "Use a valid, publicly reachable URL that does not redirect.",
                (),
            ),
            (
                71012,
                "the callback URL is unreachable",
                "Make the URL reachable from DingTalk and answer within 1.5 s.",
                (),
            ),
            (
                71013,
                "the IP address is not allowed",
                "Check the IP allow-list settings of the app and the callback host.",
                (),
            ),
        )
    ),
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.OAPI,
            meaning=(
                "The caller is temporarily banned for calling too often (server, organisation, "
                "corpsecret, ISV suite or similar ban)."
            ),
            retry=Retry.AFTER_BAN,
            action="Stop calling until the ban ends, then lower the call rate.",
            note=(
                "The reference describes 90001–90014 and 90017 only as a range; which ban each "
                "code denotes is not recorded. §9.1 says retry after the ban ends, §9.4 lists "
                "90001–90014 among the backoff retries. Messages read like "
                "'…调用当前接口次数过多，请求被暂时禁用了…'."
            ),
        )
        for code in (*range(90001, 90015), 90017)
        if code != 90002
    ),
    ErrorCodeInfo(
        code="90002",
        api=Api.OAPI,
        meaning="The global per-API QPS limit (all apps together) was exceeded.",
        retry=Retry.AFTER_1S,
        action=_GLOBAL_QPS_ACTION,
        errmsg_examples=(
            "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了, apiPath(/user/list), "
            "从 2019-02-13 20:40:04 到 2019-02-13 20:40:04 请求总次数超过了 300 次, "
            "处罚将在 2019-02-13 20:40:05 结束.",
        ),
        note="New-API twin: Forbidden.AccessDenied.QpsLimitForApi (§9.2).",
    ),
    ErrorCodeInfo(
        code="90018",
        api=Api.OAPI,
        meaning=_APP_QPS_MEANING,
        retry=Retry.AFTER_1S,
        action=_QPS_ACTION,
        note=(
            "The exact errmsg is not known (§11). New-API twin: "
            "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi (§9.2)."
        ),
    ),
    ErrorCodeInfo(
        code="90020",
        api=Api.OAPI,
        meaning=_QUOTA_MEANING,
        retry=Retry.NO,
        action=_QUOTA_ACTION,
        note=(
            "Token, identity and contacts APIs are exempt from the quota (§9.3). New-API twin: "
            "Forbidden.AccessDenied.ApiCountLimitForOrg."
        ),
    ),
    ErrorCodeInfo(
        code="88004",
        api=Api.OAPI,
        meaning="Some third-party guides describe it as a DingTalk server internal error.",
        retry=Retry.BACKOFF,
        action=_BACKOFF,
        note=(
            "Not in DingTalk's own error table nor in any official source; treated as a "
            "retryable server error, as those guides say. The 880xx range of the official table "
            "is calendar management (e.g. 88005), not tokens (§9.1, §11)."
        ),
        documented=False,
    ),
)

_PER_MINUTE_NOTE = (
    "The retry class is dingkit's choice; the reference gives none. Going over the sending "
    "limits usually does not fail the call: the users are listed as forbidden instead (§12.1)."
)

# Work notifications (topapi/message/corpconversation/*), protocol §12.1 and §12.2.
_WORK_NOTIFICATION: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="1",
        api=Api.OAPI,
        meaning="A generic platform error; seen when agent_id and userid_list were both empty.",
        retry=Retry.NO,
        action="Check that agent_id and a receiver list are filled in.",
        errmsg_examples=("Platform System error",),
        note="Observed once (2020), not documented.",
        documented=False,
    ),
    ErrorCodeInfo(
        code="40056",
        api=Api.OAPI,
        meaning="The agent_id is invalid.",
        retry=Retry.NO,
        action="Use the app's AgentId from the developer console.",
    ),
    ErrorCodeInfo(
        code="41011",
        api=Api.OAPI,
        meaning="The agent_id is missing.",
        retry=Retry.NO,
        action="Pass the app's AgentId as agent_id.",
    ),
    ErrorCodeInfo(
        code="40008",
        api=Api.OAPI,
        meaning="The msgtype is invalid.",
        retry=Retry.NO,
        action="Use text, image, voice, file, link, oa, markdown or action_card.",
    ),
    ErrorCodeInfo(
        code="40007",
        api=Api.OAPI,
        meaning="The media_id is invalid.",
        retry=Retry.NO,
        action="Upload the file with /media/upload and use the media_id it returns.",
    ),
    ErrorCodeInfo(
        code="41006",
        api=Api.OAPI,
        meaning="The media_id is missing.",
        retry=Retry.NO,
        action="Upload the file with /media/upload and pass the media_id it returns.",
    ),
    ErrorCodeInfo(
        code="40031",
        api=Api.OAPI,
        meaning="A userId in the receiver list is not in the organisation.",
        retry=Retry.NO,
        action="Remove or correct the userIds that are not members of the organisation.",
    ),
    ErrorCodeInfo(
        code="40032",
        api=Api.OAPI,
        meaning="A receiver list has an invalid length.",
        retry=Retry.NO,
        action="Send at most 100 userIds in userid_list and at most 20 IDs in dept_id_list.",
    ),
    ErrorCodeInfo(
        code="40048",
        api=Api.OAPI,
        meaning="A URL in the message points to an unsafe domain.",
        retry=Retry.NO,
        action="Remove or replace the flagged link.",
    ),
    ErrorCodeInfo(
        code="41028",
        api=Api.OAPI,
        meaning="Sending to the whole organisation is not allowed (third-party apps may not).",
        retry=Retry.NO,
        action="Send to userid_list or dept_id_list instead of to_all_user.",
    ),
    ErrorCodeInfo(
        code="41029",
        api=Api.OAPI,
        meaning="Too many receivers in one call (internal app 5000, third-party app 1000).",
        retry=Retry.NO,
        action="Split the receivers over several calls.",
    ),
    ErrorCodeInfo(
        code="41044",
        api=Api.OAPI,
        meaning="Sending is forbidden.",
        retry=Retry.NO,
        action="Check the app's status and its work-notification permission (qyapi_base).",
        note="The reference gives no further detail.",
    ),
    ErrorCodeInfo(
        code="41045",
        api=Api.OAPI,
        meaning="The daily limit of whole-organisation sends was reached (3 per day).",
        retry=Retry.NO,
        action="Wait until tomorrow, or send to departments or user lists instead.",
    ),
    ErrorCodeInfo(
        code="41046",
        api=Api.OAPI,
        meaning="The per-minute limit of whole-organisation sends was reached.",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute before sending to the whole organisation again.",
        note=_PER_MINUTE_NOTE,
    ),
    ErrorCodeInfo(
        code="41047",
        api=Api.OAPI,
        meaning="The per-minute limit of receivers was reached (1500/min internal, 200/min ISV).",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute and spread large sends over several minutes.",
        note=_PER_MINUTE_NOTE + " The send page says 5000 receivers per minute instead (§14.3).",
    ),
    ErrorCodeInfo(
        code="41048",
        api=Api.OAPI,
        meaning="A per-minute sending limit was reached.",
        retry=Retry.AFTER_BAN,
        action="Wait for the next minute and spread large sends over several minutes.",
        note=_PER_MINUTE_NOTE + " The reference pairs it with 41047 without naming the limit.",
    ),
    ErrorCodeInfo(
        code="41049",
        api=Api.OAPI,
        meaning="The message contains prohibited content.",
        retry=Retry.NO,
        action="Remove or reword the prohibited content.",
    ),
    ErrorCodeInfo(
        code="41052",
        api=Api.OAPI,
        meaning="The task had too many receivers, so send results are no longer returned.",
        retry=Retry.NO,
        action="Do not query results for tasks with more than 100 receivers.",
        errmsg_examples=("本次发送人数过多,不再返回发送结果",),
        note=(
            "Listed for status_bar/update, though its wording fits getsendresult better (§12.2)."
        ),
    ),
)

# Callback crypto library codes (raised by the official libraries, not sent), protocol §7.2.
_CALLBACK: tuple[ErrorCodeInfo, ...] = tuple(
    ErrorCodeInfo(
        code=str(code),
        api=Api.CALLBACK,
        meaning=meaning,
        retry=Retry.NO,
        action=action,
        errmsg_examples=(errmsg,),
        note=(
            "Raised by the callback crypto libraries (dingkit's included) rather than sent by "
            "DingTalk; also listed in DingTalk's global error table."
        ),
    )
    for code, meaning, errmsg, action in (
        (
            900001,
            "The plaintext to encrypt is invalid.",
            "加密明文文本非法",
            "Pass the message to encrypt as a non-empty UTF-8 string.",
        ),
        (
            900002,
            "The timestamp parameter is invalid.",
            "加密时间戳参数非法",
            "Pass the timestamp from the request query (or a current one for replies).",
        ),
        (
            900003,
            "The nonce parameter is invalid.",
            "加密随机字符串参数非法",
            "Pass the nonce from the request query (or a fresh random one for replies).",
        ),
        (
            900004,
            "The aes_key is invalid (it must be 43 characters).",
            "不合法的aes key",
            "Copy the 43-character aes_key from the app's event subscription settings exactly.",
        ),
        (
            900005,
            "The signature does not match.",
            "签名不匹配",
            "Check the token and sign sha1(sorted token, timestamp, nonce, encrypt) as in §7.2.",
        ),
        (
            900006,
            "Computing the signature failed (the Java library also raises it on a mismatch).",
            "签名计算失败",
            "Check the token and sign sha1(sorted token, timestamp, nonce, encrypt) as in §7.2.",
        ),
        (
            900007,
            "Encrypting the message failed.",
            "计算加密文字错误",
            "Check the aes_key and encrypt the message as UTF-8 bytes.",
        ),
        (
            900008,
            "Decrypting the message failed.",
            "计算解密文字错误",
            "Check that the aes_key is the one configured for this callback URL.",
        ),
        (
            900009,
            "The decrypted length field does not match the message.",
            "计算解密文字长度不匹配",
            "Check the aes_key; encryptors must write the byte length, not the character length.",
        ),
        (
            900010,
            "The receiver id inside the decrypted message is not the expected one.",
            "计算解密文字corpid不匹配",
            "Use appKey (console subscription), corpId (register_call_back) or suiteKey (§7.1).",
        ),
    )
)

_APP_BANNED = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
_SERVER_BANNED = "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了"

# New server API family (HTTP status + string `code`), protocol §9.2 with §0.3, §1.2, §8.2.
_API: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="InvalidAuthentication",
        api=Api.API,
        http_status=400,
        meaning="The access token is invalid or expired.",
        retry=Retry.REFRESH_TOKEN,
        action=_REFRESH,
        errmsg_examples=("不合法的access_token",),
        note="Sent with HTTP 400, not 401 (observed, §0.3).",
    ),
    ErrorCodeInfo(
        code="AuthenticationFailed.MissingParameter",
        api=Api.API,
        http_status=400,
        meaning="The x-acs-dingtalk-access-token header is missing.",
        retry=Retry.NO,
        action=(
            "Send the token in the x-acs-dingtalk-access-token header; ?access_token= and "
            "Authorization: Bearer are not accepted."
        ),
        errmsg_examples=("缺少参数：x-acs-dingtalk-access-token",),
        note="Observed, not documented (§0.3).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="invalidClientIdOrSecret",
        api=Api.API,
        http_status=400,
        meaning="The Client ID (AppKey) or Client Secret is invalid.",
        retry=Retry.NO,
        action=_CHECK_CREDENTIALS,
        errmsg_examples=("无效的clientId或者clientSecret",),
        note="Returned by /v1.0/oauth2/accessToken (§1.2); /v1.0/oauth2/jsapiTickets lists it too.",
    ),
    ErrorCodeInfo(
        code="invalidParameter",
        api=Api.API,
        http_status=400,
        meaning="A request parameter is missing or invalid; the message says which.",
        retry=Retry.NO,
        action="Fix the parameter named in the message.",
        errmsg_examples=("Event summary cannot be blank", "Event start time not set."),
    ),
    ErrorCodeInfo(
        code="paramError",
        api=Api.API,
        http_status=400,
        meaning="A request parameter is invalid.",
        retry=Retry.NO,
        action="Fix the parameter named in the message.",
    ),
    ErrorCodeInfo(
        code="authFailed",
        api=Api.API,
        http_status=401,
        meaning="The Stream gateway rejected the app's credentials.",
        retry=Retry.NO,
        action="Check the Client ID and Client Secret used to open the Stream connection.",
        errmsg_examples=("鉴权失败",),
        note="Observed, not documented (§8.2).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.AccessTokenPermissionDenied",
        api=Api.API,
        http_status=403,
        meaning="The app, or the kind of token, lacks the permission this API needs.",
        retry=Retry.NO,
        action=(
            "Add the API's permission to the app in the developer console; user-level APIs "
            "such as /v1.0/contact/users/me need a user token, not an app token."
        ),
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.IpNotInWhiteList",
        api=Api.API,
        http_status=403,
        meaning="The caller's IP address is not in the app's IP allow-list.",
        retry=Retry.NO,
        action=_ALLOW_IP,
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
        api=Api.API,
        http_status=403,
        meaning=_APP_QPS_MEANING,
        retry=Retry.AFTER_1S,
        action=_QPS_ACTION,
        errmsg_examples=(_APP_BANNED,),
        note="Old-API twin: 90018.",
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.QpsLimitForApi",
        api=Api.API,
        http_status=403,
        meaning="The global per-API QPS limit (all apps together) was exceeded.",
        retry=Retry.AFTER_1S,
        action=_GLOBAL_QPS_ACTION,
        errmsg_examples=(_SERVER_BANNED,),
        note="Old-API twin: 90002.",
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.QpmLimitForAppkeyAndApi",
        api=Api.API,
        http_status=403,
        meaning="The per-app per-API per-minute limit was exceeded.",
        retry=Retry.AFTER_1S,
        action=_QPM_ACTION,
        errmsg_examples=(_APP_BANNED,),
        note="The window is one minute, so short backoffs may not be enough (§9.2).",
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.QpsLimitForSuitekeyAndOrgAndApi",
        api=Api.API,
        http_status=403,
        meaning="The third-party (ISV) per-suite, per-org, per-API QPS limit was exceeded.",
        retry=Retry.AFTER_1S,
        action=_QPS_ACTION,
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.QpmLimitForSuitekeyAndOrgAndApi",
        api=Api.API,
        http_status=403,
        meaning="The third-party (ISV) per-suite, per-org, per-API per-minute limit was exceeded.",
        retry=Retry.AFTER_1S,
        action=_QPM_ACTION,
        note="The window is one minute, so short backoffs may not be enough (§9.2).",
    ),
    ErrorCodeInfo(
        code="Forbidden.AccessDenied.ApiCountLimitForOrg",
        api=Api.API,
        http_status=403,
        meaning=_QUOTA_MEANING,
        retry=Retry.NO,
        action=_QUOTA_ACTION,
        note="Old-API twin: 90020. Token, identity and contacts APIs are exempt (§9.3).",
    ),
    ErrorCodeInfo(
        code="itemNotFound",
        api=Api.API,
        http_status=404,
        meaning="The requested item does not exist.",
        retry=Retry.NO,
        action="Check the IDs in the path and query.",
    ),
    ErrorCodeInfo(
        code="instanceNotExist",
        api=Api.API,
        http_status=404,
        meaning="The requested instance does not exist (or was deleted).",
        retry=Retry.NO,
        action="Check the ID; deleted calendar events also answer this way (§4.3).",
        errmsg_examples=("instance not exist",),
    ),
    ErrorCodeInfo(
        code="system.busy",
        api=Api.API,
        http_status=429,
        meaning="The request was throttled because the system is busy.",
        retry=Retry.BACKOFF,
        action=_BACKOFF,
        errmsg_examples=("system busy, request too frequest",),
        note="'frequest' is DingTalk's spelling.",
    ),
    ErrorCodeInfo(
        code="systemBusy",
        api=Api.API,
        http_status=429,
        meaning="The request was throttled because the system is busy.",
        retry=Retry.BACKOFF,
        action=_BACKOFF,
        note="/v1.0/oauth2/jsapiTickets lists it with HTTP 500 (§13.5).",
    ),
    ErrorCodeInfo(
        code="systemError",
        api=Api.API,
        http_status=500,
        meaning="DingTalk had an internal error.",
        retry=Retry.BACKOFF,
        action=_BACKOFF,
        errmsg_examples=("系统错误",),
        note="The Stream gateway was also seen sending it with HTTP 400 (§8.2).",
    ),
    ErrorCodeInfo(
        code="unknownError",
        api=Api.API,
        http_status=500,
        meaning="DingTalk had an unknown internal error.",
        retry=Retry.BACKOFF,
        action="Retry with exponential backoff and jitter; if it persists, check the request.",
        errmsg_examples=("未知错误",),
        note="Also seen for a bad corpId on /v1.0/oauth2/{corpId}/token (§1.2).",
    ),
    *(
        ErrorCodeInfo(
            code=f"HTTP {status}",
            api=Api.API,
            http_status=status,
            meaning=meaning,
            retry=Retry.BACKOFF,
            action=_BACKOFF,
        )
        for status, meaning in (
            (502, "A DingTalk gateway got a bad answer from the backend (502 Bad Gateway)."),
            (503, "The service is temporarily unavailable (503 Service Unavailable)."),
            (504, "The backend did not answer within 3 s (504, the new-API timeout signal)."),
        )
    ),
)

_ALL: tuple[ErrorCodeInfo, ...] = (*_ROBOT, *_OAPI, *_WORK_NOTIFICATION, *_CALLBACK, *_API)

_INTEGER = re.compile(r"[+-]?\d+")


def _index(key: Callable[[str], str]) -> dict[str, tuple[ErrorCodeInfo, ...]]:
    grouped: dict[str, list[ErrorCodeInfo]] = {}
    for info in _ALL:
        grouped.setdefault(key(info.code), []).append(info)
    return {code: tuple(infos) for code, infos in grouped.items()}


_BY_CODE = _index(str)
_BY_FOLDED = _index(str.casefold)


def lookup(code: str | int) -> tuple[ErrorCodeInfo, ...]:
    """All entries for a code (a number can mean different things in the robot and the
    old-API families, e.g. 40035). Accepts ints, numeric strings with surrounding spaces, and
    new-API codes case-sensitively first then case-insensitively. Empty tuple when unknown.
    """
    if isinstance(code, bool) or not isinstance(code, int | str):
        raise TypeError(f"an error code is a str or an int, not {type(code).__name__}")
    key = str(code).strip()
    if _INTEGER.fullmatch(key):
        key = str(int(key))
    return _BY_CODE.get(key) or _BY_FOLDED.get(key.casefold(), ())


def all_codes() -> tuple[ErrorCodeInfo, ...]:
    """Every entry, grouped by family: robot, old API, work notifications, callback, new API."""
    return _ALL
