from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dingkit import (
    NO_RETRY,
    APIConnectionError,
    APIError,
    AsyncRobot,
    AuthenticationError,
    BadRequestError,
    DingTalkError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    Robot,
    RobotGoneError,
    SecurityCheckError,
    ServerError,
    SessionExpiredError,
)
from dingkit._errcodes import ban_seconds_left
from dingkit._errors import error_from_response, required_scope, security_check_reason
from dingkit.sandbox import Sandbox

TOKEN = "tok0SENSITIVE0token0value"
SECRET = "SECsensitive0secret0value"

# (errcode, errmsg, class) for every custom-robot family of §2.5.
ROBOT_ERRORS: list[tuple[int, str, type[APIError]]] = [
    (310000, "keywords not in content", SecurityCheckError),
    (300001, "session 不存在", SessionExpiredError),  # also older servers' unknown token
    (300005, "token is not exist", AuthenticationError),
    (400101, "access_token不存在", AuthenticationError),
    (130101, "send too fast, exceed 20 times per minute", RateLimitError),
    (410100, "发送速度太快而限流", RateLimitError),
    (660026, "sending too many messages per minute", RateLimitError),
    (460101, "message too long, exceed 20000 bytes", PayloadTooLargeError),
    (101002, "message is too long", PayloadTooLargeError),
    (
        400402,
        "错误描述:参数 markdown --》 title 缺失，或者参数格式不正确; 解决方案:请填充上对应参数;",
        BadRequestError,
    ),
    (40035, "缺少参数 json", BadRequestError),
    (43004, "无效的HTTP HEADER Content-Type", BadRequestError),
    (400105, "不支持的消息类型", BadRequestError),
    (400013, "群已被解散", RobotGoneError),
    (400102, "机器人已停用", RobotGoneError),
    (400106, "机器人不存在", RobotGoneError),
    (-1, "系统繁忙", ServerError),
]

# (errmsg, reason) in the three errmsg eras of §2.5, and the sandbox's own wording.
SECURITY_MESSAGES = [
    ("keywords not in content", "keyword"),
    ("invalid timestamp", "timestamp"),
    ("sign not match", "signature"),
    ("ip 1.2.3.4 not in whitelist", "ip"),
    (
        "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        "keyword",
    ),
    ("sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]", "signature"),
    (
        "description:关键词不匹配;solution:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;",
        "keyword",
    ),
    (
        "description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳必须都放在调用的网址中，"
        "请确认机器人的密钥加密和填写正确;link:请参考本接口对应文档获得具体要求，或者在"
        "https://open.dingtalk.com/document/  搜索相关文档;",
        "signature",
    ),
    (
        "description:ip 不在白名单中;solution:请联系对应群的管理员，设置机器人安全ip地址段",
        "ip",
    ),
    (
        "错误描述:keywords not in content, 关键词不匹配; "
        "解决方案:请联系群管理员查看此机器人的关键词，并在发送的信息中包含此关键词;"
        "参考链接:https://open.dingtalk.com/document/orgapp/"
        "custom-robots-send-group-messages",
        "keyword",
    ),
    (
        "错误描述:invalid timestamp, 时间戳无效或与服务器时间相差超过1小时; 解决方案:...;",
        "timestamp",
    ),
    ("错误描述:ip 203.0.113.9 不在白名单中; 解决方案:请联系对应群的管理员;参考链接:...", "ip"),
    ("something new", None),
]


def answer(errcode: int, errmsg: str) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": errcode, "errmsg": errmsg})

    return handler


def sync_robot(handler: Callable[[httpx.Request], httpx.Response], **settings: Any) -> Robot:
    options: dict[str, Any] = {
        "token": TOKEN,
        "secret": SECRET,
        "name": "ops-alerts",
        "base_url": "https://oapi.example",
        "rate_limit": False,
        "retry": NO_RETRY,
        **settings,
    }
    return Robot(http_client=httpx.Client(transport=httpx.MockTransport(handler)), **options)


def assert_no_secrets(text: str) -> None:
    assert TOKEN not in text
    assert SECRET not in text


# -- mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(("errcode", "errmsg", "cls"), ROBOT_ERRORS)
def test_each_robot_errcode_maps_to_its_class(
    errcode: int, errmsg: str, cls: type[APIError]
) -> None:
    error = error_from_response(200, {"errcode": errcode, "errmsg": errmsg}, robot="r")
    assert type(error) is cls
    assert error.errcode == errcode
    assert error.errmsg == errmsg
    assert error.robot == "r"
    assert error.http_status == 200


@pytest.mark.parametrize("errcode", [130101, 410100, 660026])
@pytest.mark.parametrize("robot", ["r", None])
def test_robot_rate_limit_means_ten_minutes(errcode: int, robot: str | None) -> None:
    error = error_from_response(200, {"errcode": errcode, "errmsg": "slow down"}, robot=robot)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 600


def test_robot_gone_is_a_not_found_and_too_large_a_bad_request() -> None:
    assert issubclass(RobotGoneError, NotFoundError)
    assert issubclass(PayloadTooLargeError, BadRequestError)
    assert all(issubclass(cls, DingTalkError) for _, _, cls in ROBOT_ERRORS)


@pytest.mark.parametrize(("errmsg", "reason"), SECURITY_MESSAGES)
def test_security_check_reason_in_every_errmsg_era(errmsg: str, reason: str | None) -> None:
    assert security_check_reason(errmsg) == reason
    error = error_from_response(200, {"errcode": 310000, "errmsg": errmsg}, robot="r")
    assert isinstance(error, SecurityCheckError)
    assert error.reason == reason


@pytest.mark.parametrize(
    "body", [{"errcode": 0, "errmsg": "ok"}, {"errcode": "0", "errmsg": "ok"}, {"ok": True}]
)
def test_success_is_not_an_error(body: dict[str, Any]) -> None:
    assert error_from_response(200, body) is None


def test_errcode_sent_as_a_string_still_maps() -> None:
    error = error_from_response(200, {"errcode": "310000", "errmsg": "sign not match"})
    assert isinstance(error, SecurityCheckError)
    assert error.errcode == 310000


def test_topapi_88_reads_the_sub_code() -> None:
    body = {"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token", "errmsg": "x"}
    error = error_from_response(200, body)
    assert isinstance(error, AuthenticationError)
    assert (error.errcode, error.code) == (88, "40014")


def test_http_status_errors_without_errcode() -> None:
    assert isinstance(error_from_response(503, None, text=""), ServerError)
    throttled = error_from_response(429, None)
    assert isinstance(throttled, RateLimitError)


@pytest.mark.parametrize("status", [200, 403, 503])
def test_ip_ban_is_a_rate_limit_whatever_the_status(status: int) -> None:
    # §9.3: the per-IP ban's JSON has neither errcode nor code; it is not a success.
    ban = error_from_response(status, {"status": 1111, "wait": 5, "punish": "deny"})
    assert isinstance(ban, RateLimitError)
    assert ban.retry_after == 300


# -- through the client -----------------------------------------------------------------


@pytest.mark.parametrize(("errcode", "errmsg", "cls"), ROBOT_ERRORS)
def test_http_200_with_an_errcode_raises_from_send(
    errcode: int, errmsg: str, cls: type[APIError]
) -> None:
    with sync_robot(answer(errcode, errmsg)) as robot, pytest.raises(cls) as info:
        robot.send_text("hello")
    error = info.value
    assert type(error) is cls
    assert (error.errcode, error.errmsg, error.robot) == (errcode, errmsg, "ops-alerts")
    assert_no_secrets(str(error))
    assert_no_secrets(repr(error))
    assert "ops-alerts" in str(error)
    assert str(errcode) in str(error)


@pytest.mark.anyio
@pytest.mark.parametrize(("errcode", "errmsg", "cls"), ROBOT_ERRORS)
async def test_async_send_raises_the_same_classes(
    errcode: int, errmsg: str, cls: type[APIError]
) -> None:
    transport = httpx.MockTransport(answer(errcode, errmsg))
    async with (
        httpx.AsyncClient(transport=transport) as http,
        AsyncRobot(
            token=TOKEN,
            secret=SECRET,
            name="ops-alerts",
            base_url="https://oapi.example",
            http_client=http,
            rate_limit=False,
            retry=NO_RETRY,
        ) as robot,
    ):
        with pytest.raises(cls) as info:
            await robot.send_text("hello")
    assert (info.value.errcode, info.value.robot) == (errcode, "ops-alerts")


def test_rate_limit_from_send_says_retry_after_600() -> None:
    with (
        sync_robot(answer(660026, "sending too many messages per minute")) as robot,
        pytest.raises(RateLimitError) as info,
    ):
        robot.send_text("x")
    assert info.value.retry_after == 600


def test_garbage_with_http_200_is_a_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>busy</html>")

    with sync_robot(handler) as robot, pytest.raises(ServerError, match="not DingTalk JSON"):
        robot.send_text("x")


def test_failing_send_logs_and_errors_carry_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, json={"errcode": -1, "errmsg": "系统繁忙"})
        return httpx.Response(200, json={"errcode": 310000, "errmsg": "sign not match"})

    with (
        sync_robot(
            handler, retry=RetryPolicy(initial_delay=0.001, max_delay=0.001), sleep=lambda s: None
        ) as robot,
        pytest.raises(SecurityCheckError) as info,
    ):
        robot.send_text("hello")
    assert calls == 2
    assert caplog.records, "the retry and the HTTP requests should have been logged"
    for record in caplog.records:
        assert_no_secrets(record.getMessage())
    assert_no_secrets(caplog.text)
    assert "access_token=***" in caplog.text
    assert_no_secrets(str(info.value))
    assert_no_secrets(repr(info.value))
    assert_no_secrets(repr(robot))
    assert_no_secrets(repr(robot.target))


def test_connection_errors_hide_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for {request.url}", request=request)

    with sync_robot(handler) as robot, pytest.raises(APIConnectionError) as info:
        robot.send_text("x")
    assert info.value.robot == "ops-alerts"
    assert_no_secrets(str(info.value))
    assert_no_secrets(repr(info.value))
    assert_no_secrets(caplog.text)


@pytest.mark.anyio
async def test_sandbox_rejection_logs_carry_no_secrets(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stored = sandbox.robot.robot_by_name("alerts")
    assert stored is not None
    assert stored.secret is not None
    robot = robot_for(sandbox, "alerts", secret=stored.secret + "x")
    with pytest.raises(SecurityCheckError) as info:
        await robot.send_text("hello")
    for secret in (stored.token, stored.secret):
        assert secret not in caplog.text
        assert secret not in str(info.value)
        assert secret not in repr(info.value)


def test_error_str_and_repr_are_readable() -> None:
    error = error_from_response(200, {"errcode": 400102, "errmsg": "机器人已停用"}, robot="ops")
    assert error is not None
    assert str(error) == "robot 'ops': errcode 400102: 机器人已停用"
    assert repr(error) == "RobotGoneError(400102, '机器人已停用', robot='ops')"


# -- issue 9: bans, permission scopes -----------------------------------------------------

# The live 90002 errmsg (§9.1): the ban ends at 2019-02-13 20:40:05 China time.
LIVE_BAN = (
    "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了, apiPath(/user/list), "
    "从 2019-02-13 20:40:04 到 2019-02-13 20:40:04 请求总次数超过了 300 次, "
    "处罚将在 2019-02-13 20:40:05 结束."
)
BAN_ENDS = 1550061605.0  # 2019-02-13 12:40:05 UTC


@pytest.mark.parametrize("code", [90001, 90005, 90014, 90017, 90002, 90018])
def test_ban_codes_read_retry_after_from_the_message(code: int) -> None:
    error = error_from_response(
        200, {"errcode": code, "errmsg": LIVE_BAN}, clock=lambda: BAN_ENDS - 42.5
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 42.5


def test_a_ban_that_already_ended_keeps_the_qps_rows_one_second() -> None:
    late = {"clock": lambda: BAN_ENDS + 10}
    qps = error_from_response(200, {"errcode": 90002, "errmsg": LIVE_BAN}, **late)
    ban = error_from_response(200, {"errcode": 90005, "errmsg": LIVE_BAN}, **late)
    assert isinstance(qps, RateLimitError)
    assert qps.retry_after == 1.0
    assert isinstance(ban, RateLimitError)
    assert ban.retry_after == 0.0


def test_ban_seconds_left_wants_the_chinese_phrase() -> None:
    assert ban_seconds_left(LIVE_BAN, BAN_ENDS - 1) == 1.0
    assert ban_seconds_left("处罚将在 2019-02-30 20:40:05 结束", 0) is None
    assert ban_seconds_left("请求被暂时禁用了", 0) is None


@pytest.mark.parametrize(
    ("status", "body", "scope"),
    [
        (
            403,
            {
                "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                "message": "没有调用该接口的权限",
                "accessdenieddetail": {"requiredScopes": ["qyapi_get_member", "x"]},
            },
            "qyapi_get_member",
        ),
        (
            403,
            {
                "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                "message": "应用尚未开通所需的权限：[Contact.User.Read]",
            },
            "Contact.User.Read",
        ),
        (
            200,
            {"errcode": 60011, "errmsg": "应用尚未开通所需的权限：[qyapi_get_member]"},
            "qyapi_get_member",
        ),
        (200, {"errcode": 60011, "errmsg": "管理员权限不足"}, None),
        (403, {"code": "Forbidden.AccessDenied.IpNotInWhiteList", "message": "ip"}, None),
    ],
)
def test_permission_errors_carry_the_missing_scope(
    status: int, body: dict[str, Any], scope: str | None
) -> None:
    error = error_from_response(status, body)
    assert isinstance(error, PermissionDeniedError)
    assert error.scope == scope
    assert required_scope(body, error.message) == scope
    text = str(error)
    if scope:
        assert f"the app lacks permission {scope}: grant it in the developer console" in text
        assert error.message in text
    else:
        assert "lacks permission" not in text


def test_the_sdk_and_the_cli_say_the_same_for_90005() -> None:
    from dingkit._errcodes import lookup, retry_advice

    (info,) = lookup(90005)
    advice = retry_advice(info, 60)
    assert "within 60 s" in advice
    assert "RateLimitError" in advice
    assert "within 300 s" in retry_advice(info, 300)
