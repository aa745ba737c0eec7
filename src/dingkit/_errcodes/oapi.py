"""The old server API's codes: ``errcode`` in an HTTP 200 body (protocol §9.1, §0.3, §1.1)."""

from __future__ import annotations

from .._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from . import Api, ErrorCodeInfo, Retry
from ._texts import (
    ALLOW_IP,
    BACKOFF,
    CHECK_CREDENTIALS,
    PASS_TOKEN,
    REFRESH,
)

# Old server API family ("oapi": errcode in an HTTP 200 body), protocol §9.1 with §0.3, §1.1.
ROWS: tuple[ErrorCodeInfo, ...] = (
    ErrorCodeInfo(
        code="0",
        api=Api.OAPI,
        raises=APIError,
        meaning="Success.",
        retry=Retry.NOT_AN_ERROR,
        action="Nothing to do.",
        errmsg_examples=("ok",),
    ),
    ErrorCodeInfo(
        code="-1",
        api=Api.OAPI,
        raises=ServerError,
        meaning="The system is busy; DingTalk suggests retrying once, at most 3 times.",
        retry=Retry.BACKOFF,
        action="Retry with exponential backoff and jitter, at most 3 times.",
        errmsg_examples=("系统繁忙",),
    ),
    ErrorCodeInfo(
        code="15",
        api=Api.OAPI,
        raises=ServerError,
        meaning=(
            "The call timed out inside DingTalk (sub_code isp.top-remote-connection-timeout; "
            "the backend did not answer within 3 s)."
        ),
        retry=Retry.BACKOFF,
        action=BACKOFF,
    ),
    ErrorCodeInfo(
        code="990001",
        api=Api.OAPI,
        raises=ServerError,
        meaning="dingkit's sandbox met a bug of its own while answering (never DingTalk's code).",
        retry=Retry.NO,
        action=(
            "Report it with the entry GET /_sandbox/errors shows for it; the request itself may "
            "be fine."
        ),
        errmsg_examples=("sandbox bug: KeyError: 'x' (GET /_sandbox/errors lists it)",),
        note="Only the sandbox answers it; DingTalk uses no 99xxxx codes.",
        documented=False,
    ),
    ErrorCodeInfo(
        code="22",
        api=Api.OAPI,
        raises=NotFoundError,
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
        raises=ServerError,
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
        raises=AuthenticationError,
        meaning="The access_token query parameter is empty (seen as sub_code of errcode 88).",
        retry=Retry.NO,
        action=PASS_TOKEN,
        note="Observed on /topapi/* with sub_msg 'access_token is blank' (§0.3).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="40001",
        api=Api.OAPI,
        errmsg_examples=("获取access_token时Secret错误，或者access_token无效",),
        raises=AuthenticationError,
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
        raises=AuthenticationError,
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
        raises=BadRequestError,
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
        raises=AuthenticationError,
        meaning="The corpid or corpsecret is invalid (the older /gettoken credentials).",
        retry=Retry.NO,
        action=CHECK_CREDENTIALS,
        errmsg_examples=("不合法的corpid或corpsecret",),
        note="Listed in the global table; live /gettoken answers 40096 for bad credentials (§10).",
    ),
    ErrorCodeInfo(
        code="40096",
        api=Api.OAPI,
        raises=AuthenticationError,
        meaning="The appKey or appSecret is invalid.",
        retry=Retry.NO,
        action=CHECK_CREDENTIALS,
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
        raises=BadRequestError,
        meaning="The mobile number is not valid in this organisation.",
        retry=Retry.NO,
        action="Check the number; only current employees of the organisation can be found.",
        errmsg_examples=("企业中无效的手机号",),
    ),
    ErrorCodeInfo(
        code="41001",
        api=Api.OAPI,
        errmsg_examples=("缺少access_token参数",),
        raises=AuthenticationError,
        meaning="The access_token parameter is missing.",
        retry=Retry.NO,
        action=PASS_TOKEN,
    ),
    ErrorCodeInfo(
        code="41041",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="The attendance query spans more than 7 days.",
        retry=Retry.NO,
        action="Split the query into windows of at most 7 days.",
        errmsg_examples=("时间跨度太大",),
        note="That /attendance/list answers with exactly this code is inferred (§6.1, §11).",
    ),
    ErrorCodeInfo(
        code="42001",
        api=Api.OAPI,
        errmsg_examples=("access_token超时",),
        raises=AuthenticationError,
        meaning="The access_token has expired.",
        retry=Retry.REFRESH_TOKEN,
        action=REFRESH,
    ),
    ErrorCodeInfo(
        code="43001",
        api=Api.OAPI,
        errmsg_examples=("需要GET请求",),
        raises=BadRequestError,
        meaning="The API must be called with GET.",
        retry=Retry.NO,
        action="Call the API with GET.",
    ),
    ErrorCodeInfo(
        code="43002",
        api=Api.OAPI,
        errmsg_examples=("需要POST请求",),
        raises=BadRequestError,
        meaning="The API must be called with POST.",
        retry=Retry.NO,
        action="Call the API with POST.",
    ),
    ErrorCodeInfo(
        code="43004",
        api=Api.OAPI,
        errmsg_examples=("无效的HTTP HEADER Content-Type",),
        raises=BadRequestError,
        meaning="The Content-Type header is invalid.",
        retry=Retry.NO,
        action="Send the Content-Type the API expects, usually application/json.",
    ),
    ErrorCodeInfo(
        code="43005",
        api=Api.OAPI,
        errmsg_examples=("需要Content-Type为application/json;charset=UTF-8",),
        raises=BadRequestError,
        meaning="The API requires Content-Type: application/json;charset=UTF-8.",
        retry=Retry.NO,
        action="Send Content-Type: application/json;charset=UTF-8 with a UTF-8 JSON body.",
    ),
    ErrorCodeInfo(
        code="43007",
        api=Api.OAPI,
        raises=PermissionDeniedError,
        meaning="Authorisation is required.",
        retry=Retry.NO,
        action="Check that the app is authorised in the organisation and has the API's permission.",
        errmsg_examples=("需要授权",),
    ),
    ErrorCodeInfo(
        code="50002",
        api=Api.OAPI,
        errmsg_examples=("员工不在权限范围",),
        raises=PermissionDeniedError,
        meaning="The user is outside the app's visible range.",
        retry=Retry.NO,
        action="Add the user (or their department) to the app's visible range in the console.",
    ),
    ErrorCodeInfo(
        code="50004",
        api=Api.OAPI,
        raises=PermissionDeniedError,
        meaning="The department is outside the app's visible range.",
        retry=Retry.NO,
        action="Add the department to the app's visible range in the developer console.",
        errmsg_examples=("部门不在权限范围内",),
    ),
    ErrorCodeInfo(
        code="60003",
        api=Api.OAPI,
        raises=NotFoundError,
        meaning="The department was not found.",
        retry=Retry.NO,
        action="Check dept_id; the root department is 1.",
        errmsg_examples=("未找到对应部门",),
    ),
    ErrorCodeInfo(
        code="60011",
        api=Api.OAPI,
        errmsg_examples=(
            "应用尚未开通所需的权限：[qyapi_get_member]",
            "管理员权限不足，（user/department/agent）无权限",
        ),
        raises=PermissionDeniedError,
        meaning="The app lacks the permission for this API.",
        retry=Retry.NO,
        action="Add the permission this API needs to the app in the developer console.",
        note=(
            "The bracketed permission code in the first example is inferred from the new API's "
            "AccessTokenPermissionDenied wording [I]; the legacy global table's text is the second."
        ),
    ),
    ErrorCodeInfo(
        code="60019",
        api=Api.OAPI,
        raises=APIError,
        meaning="Users could not be read from the department.",
        retry=Retry.NO,
        action="Check dept_id and that the department is in the app's visible range.",
        errmsg_examples=("未能从部门中获取用户",),
    ),
    ErrorCodeInfo(
        code="60020",
        api=Api.OAPI,
        raises=PermissionDeniedError,
        meaning="The caller's IP address is not in the app's IP allow-list.",
        retry=Retry.NO,
        action=ALLOW_IP,
        errmsg_examples=("访问ip不在白名单之中,request ip=... appKey(...)",),
    ),
    ErrorCodeInfo(
        code="60121",
        api=Api.OAPI,
        raises=NotFoundError,
        meaning="The user was not found (or is not in the organisation).",
        retry=Retry.NO,
        action="Check the userid, unionid or mobile; people who left cannot be found.",
        errmsg_examples=("未找到该用户",),
    ),
    ErrorCodeInfo(
        code="33012",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="The userId is invalid.",
        retry=Retry.NO,
        action="Check the userId; it is the organisation-level userid, not the unionid.",
        errmsg_examples=("无效的userId",),
    ),
    ErrorCodeInfo(
        code="400002",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="A parameter is invalid.",
        retry=Retry.NO,
        action="Check the request parameters against the API reference.",
        errmsg_examples=("无效的参数",),
    ),
    ErrorCodeInfo(
        code="60004",
        api=Api.OAPI,
        raises=NotFoundError,
        meaning="The parent department does not exist.",
        retry=Retry.NO,
        action="Check parent_id: create the parent first, or use 1 for the root department.",
        errmsg_examples=("父亲部门不存在",),
        # [G] the legacy global table; that /topapi/v2/department/create answers it for an
        # unknown parent_id is inferred [I].
        note="From DingTalk's legacy global table; not listed on the v2 department pages [I].",
    ),
    ErrorCodeInfo(
        code="60008",
        api=Api.OAPI,
        raises=BadRequestError,
        meaning="A department with this name already exists under the same parent.",
        retry=Retry.NO,
        action="Pick another name, or look the existing department up and reuse its dept_id.",
        errmsg_examples=("父部门下该部门名称已存在",),
        # [G] the legacy global table ("60008 父部门下该部门名称已存在"); client code handling
        # /department/create answers checks for 60008 the same way.
        note="From DingTalk's legacy global table (§9.1 does not list it).",
    ),
    ErrorCodeInfo(
        code="404",
        api=Api.OAPI,
        raises=NotFoundError,
        meaning="The URI does not exist (a path that is neither /topapi/ nor /v1.0/).",
        retry=Retry.NO,
        action="Check the host and path: new-API paths start with /v1.0/ on api.dingtalk.com.",
        errmsg_examples=("请求的URI地址不存在",),
        note="Observed with HTTP 200 on api.dingtalk.com for a path without /v1.0 (§0.3).",
        documented=False,
    ),
    ErrorCodeInfo(
        code="88004",
        api=Api.OAPI,
        raises=ServerError,
        meaning="Some third-party guides describe it as a DingTalk server internal error.",
        retry=Retry.BACKOFF,
        action=BACKOFF,
        note=(
            "Not in DingTalk's own error table nor in any official source; treated as a "
            "retryable server error, as those guides say. The 880xx range of the official table "
            "is calendar management (e.g. 88005), not tokens (§9.1, §11)."
        ),
        documented=False,
    ),
)
