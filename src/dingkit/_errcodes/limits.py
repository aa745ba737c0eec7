"""The old server API's bans, QPS limits and quota (protocol §9.1, §9.3, §9.4).

The bans' errmsg may say when the ban ends ("处罚将在 2019-02-13 20:40:05 结束", China
time): those rows set ``ban_end_in_message`` and dingkit reads ``retry_after`` from the text.
"""

from __future__ import annotations

from .._exceptions import RateLimitError
from . import Api, ErrorCodeInfo, Retry
from ._texts import (
    APP_QPS_MEANING,
    GLOBAL_QPS_ACTION,
    QPS_ACTION,
    QUOTA_ACTION,
    QUOTA_MEANING,
    SERVER_BANNED,
)

# The live 90002 errmsg (§9.1, ali-sdk/node-dingtalk#32): the ban's end is in China time.
BAN_EXAMPLE_TAIL = (
    ", apiPath(/user/list), 从 2019-02-13 20:40:04 到 2019-02-13 20:40:04 请求总次数超过了 "
    "300 次, 处罚将在 2019-02-13 20:40:05 结束."
)

# Which ban each code is, in the words of DingTalk's legacy global table (a copy of the
# "全局返回码说明" appendix of the old server-side guide); 90017 is not in that table.
_BANS: tuple[tuple[int, str, str], ...] = (
    (90001, "all APIs, for this server", "您的服务器调用钉钉开放平台所有接口的请求都被暂时禁用了"),
    (
        90003,
        "all APIs, for this organisation's own tokens",
        "您的企业调用钉钉开放平台所有接口的请求都被暂时禁用了,仅对企业自己的Accesstoken有效",
    ),
    (
        90004,
        "this CorpId and CorpSecret",
        "您当前使用的CorpId及CorpSecret被暂时禁用了,仅对企业自己的Accesstoken有效",
    ),
    (
        90005,
        "this API, for this organisation's own tokens",
        "您的企业调用当前接口次数过多,请求被暂时禁用了,仅对企业自己的Accesstoken有效",
    ),
    (
        90006,
        "this API, for this CorpId and CorpSecret",
        "您当前使用的CorpId及CorpSecret调用当前接口次数过多,请求被暂时禁用了,"
        "仅对企业自己的Accesstoken有效",
    ),
    (
        90007,
        "all APIs of one organisation, for ISV tokens",
        "您当前要调用的企业的接口次数过多,对该企业的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90008,
        "one API of one organisation, for ISV tokens",
        "您当前要调用的企业的当前接口次数过多,对此企业下该接口的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90009,
        "all APIs of all organisations, for ISV tokens",
        "您调用企业接口超过了限制,对所有企业的所有接口的请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90010,
        "one API of all organisations, for ISV tokens",
        "您调用企业当前接口超过了限制,对所有企业的该接口的请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90011,
        "all calls of this ISV suite",
        "您的套件调用企业接口超过了限制,该套件的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90012,
        "one API of this ISV suite",
        "您的套件调用企业当前接口超过了限制,该套件对此接口的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90013,
        "all APIs of one organisation, for this ISV suite",
        "您的套件调用当前企业的接口超过了限制,该套件对此企业的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    (
        90014,
        "one API of one organisation, for this ISV suite",
        "您的套件调用企业当前接口超过了限制,该套件对此企业该接口的所有请求都被暂时禁用了,"
        "仅对企业授权给ISV的Accesstoken有效",
    ),
    # [I] 90017 is in §9.1's range but in no table seen; the 90005 wording is a guess.
    (90017, "a ban of this kind", "您的企业调用当前接口次数过多,请求被暂时禁用了"),
)

ROWS: tuple[ErrorCodeInfo, ...] = (
    *(
        ErrorCodeInfo(
            code=str(code),
            api=Api.OAPI,
            raises=RateLimitError,
            ban_end_in_message=True,
            meaning=f"The caller is temporarily banned for calling too often: {which}.",
            retry=Retry.AFTER_BAN,
            action="Stop calling until the ban ends, then lower the call rate.",
            errmsg_examples=(errmsg,),
            note=(
                "§9.1 says retry after the ban ends. The live messages append when the ban "
                "ends (see 90002); the base texts are from DingTalk's legacy global table"
                + (", which lacks 90017: its text is inferred." if code == 90017 else ".")
            ),
            documented=code != 90017,
        )
        for code, which, errmsg in _BANS
    ),
    ErrorCodeInfo(
        code="90002",
        api=Api.OAPI,
        raises=RateLimitError,
        wait=1.0,
        ban_end_in_message=True,
        meaning="The global per-API QPS limit (all apps together) was exceeded.",
        retry=Retry.AFTER_1S,
        action=GLOBAL_QPS_ACTION,
        errmsg_examples=(SERVER_BANNED + BAN_EXAMPLE_TAIL,),
        note="New-API twin: Forbidden.AccessDenied.QpsLimitForApi (§9.2).",
    ),
    ErrorCodeInfo(
        code="90018",
        api=Api.OAPI,
        raises=RateLimitError,
        wait=1.0,
        ban_end_in_message=True,
        meaning=APP_QPS_MEANING,
        retry=Retry.AFTER_1S,
        action=QPS_ACTION,
        # [I] the 90002 shape with the app-level wording of §9.2, as the sandbox answers.
        errmsg_examples=(
            "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了" + BAN_EXAMPLE_TAIL,
        ),
        note=(
            "The exact errmsg is not known (§11); the example is inferred. New-API twin: "
            "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi (§9.2)."
        ),
    ),
    ErrorCodeInfo(
        code="90020",
        api=Api.OAPI,
        raises=RateLimitError,
        meaning=QUOTA_MEANING,
        retry=Retry.NO,
        action=QUOTA_ACTION,
        # [I] the legacy table has no text for it; the words follow 45009's.
        errmsg_examples=("接口调用超过限制",),
        note=(
            "Token, identity and contacts APIs are exempt from the quota (§9.3). New-API twin: "
            "Forbidden.AccessDenied.ApiCountLimitForOrg. The errmsg example is inferred."
        ),
    ),
)
