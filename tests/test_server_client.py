"""The server-API client core: tokens, retries, errors and secrecy, over httpx.MockTransport.

(Named apart from ``tests/robot/test_client.py``: two test modules may not share a basename.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from dingkit._auth import FileTokenStore
from dingkit._client import AsyncDingTalk, DingTalk
from dingkit._retry import DEFAULT_MAX_ATTEMPTS as DEFAULT_ATTEMPTS

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.001)
SECRET = "app-secret-value"
USER_GET = "/topapi/v2/user/get"
NEW_PATH = "/v1.0/workflow/processInstances"
OK = {"errcode": 0, "errmsg": "ok", "result": {"userid": "u1"}}

Answer = tuple[int, Any] | str


def tok(n: int) -> str:
    """The n-th token the fake server hands out: long enough to search logs for."""
    return f"tok{n}-5ecret-f00d"


class Server:
    """Hands out tokens ``t1``, ``t2``... and answers API calls from a script (the last
    answer repeats); records what it received."""

    def __init__(self, *answers: Answer, expire_in: Any = 7200, token_delay: float = 0) -> None:
        self.answers = list(answers) or [(200, OK)]
        self.expire_in = expire_in
        self.token_delay = token_delay
        self.token_requests = 0
        self.calls: list[httpx.Request] = []
        self.tokens_seen: list[str | None] = []
        self._lock = threading.Lock()

    def _token(self) -> httpx.Response:
        with self._lock:
            self.token_requests += 1
            value = tok(self.token_requests)
        body: dict[str, Any] = {"accessToken": value}
        if self.expire_in is not ...:
            body["expireIn"] = self.expire_in
        return httpx.Response(200, json=body)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        token = request.headers.get("x-acs-dingtalk-access-token")
        self.tokens_seen.append(token or request.url.params.get("access_token"))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, str):
            return httpx.Response(200, text=answer, headers={"Content-Type": "text/html"})
        status, body = answer
        return httpx.Response(status, json=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/oauth2/accessToken":
            time.sleep(self.token_delay)
            return self._token()
        return self._answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/oauth2/accessToken":
            await asyncio.sleep(self.token_delay)
            return self._token()
        return self._answer(request)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def sync_client(server: Server, **settings: Any) -> DingTalk:
    options: dict[str, Any] = {
        "oapi_base": "https://oapi.test",
        "api_base": "https://api.test",
        "qps": None,
        "retry": FAST,
        "sleep": Sleeps(),
        **settings,
    }
    http = httpx.Client(transport=httpx.MockTransport(server))
    return DingTalk("key", SECRET, http_client=http, **options)


def async_client(server: Server, **settings: Any) -> AsyncDingTalk:
    options: dict[str, Any] = {
        "oapi_base": "https://oapi.test",
        "api_base": "https://api.test",
        "qps": None,
        "retry": FAST,
        "sleep": Sleeps().asleep,
        **settings,
    }
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle_async))
    return AsyncDingTalk("key", SECRET, http_client=http, **options)


def user_get(client: DingTalk) -> Any:
    return client.call("POST", USER_GET, json={"userid": "u1"})


# -- tokens ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_1000_concurrent_async_calls_fetch_one_token() -> None:
    server = Server(token_delay=0.05)
    async with async_client(server) as client:
        results = await asyncio.gather(
            *(client.call("POST", USER_GET, json={"userid": "u1"}) for _ in range(1000))
        )
    assert server.token_requests == 1
    assert len(results) == len(server.calls) == 1000
    assert set(server.tokens_seen) == {tok(1)}


def test_50_threads_fetch_one_token() -> None:
    server = Server(token_delay=0.05)
    barrier = threading.Barrier(50)
    with sync_client(server) as client:

        def work(_: int) -> Any:
            barrier.wait()
            return user_get(client)

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(work, range(50)))
    assert server.token_requests == 1
    assert len(results) == 50


REJECTIONS = [
    pytest.param((200, {"errcode": 40014, "errmsg": "不合法的access_token"}), id="40014"),
    pytest.param((200, {"errcode": 42001, "errmsg": "access_token超时"}), id="42001"),
    pytest.param(
        (
            200,
            {
                "errcode": 88,
                "sub_code": "40014",
                "sub_msg": "不合法的access_token",
                "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]",
            },
        ),
        id="88+40014",
    ),
    pytest.param(
        (400, {"code": "InvalidAuthentication", "message": "不合法的access_token"}),
        id="InvalidAuthentication",
    ),
]


@pytest.mark.parametrize("rejection", REJECTIONS)
def test_a_rejected_token_is_refreshed_and_the_call_retried_once(rejection: Answer) -> None:
    server = Server(rejection, (200, OK))
    with sync_client(server) as client:
        assert user_get(client) == OK
    assert server.token_requests == 2
    assert server.tokens_seen == [tok(1), tok(2)]


@pytest.mark.anyio
@pytest.mark.parametrize("rejection", REJECTIONS)
async def test_a_second_rejection_is_raised(rejection: Answer) -> None:
    server = Server(rejection)
    async with async_client(server) as client:
        with pytest.raises(AuthenticationError):
            await client.call("GET", NEW_PATH)
    assert server.token_requests == 2
    assert server.tokens_seen == [tok(1), tok(2)]


@pytest.mark.parametrize("expire_in", [..., 0, None, "soon"])
def test_a_token_without_a_lifetime_is_not_refetched_every_call(expire_in: Any) -> None:
    server = Server(expire_in=expire_in)
    with sync_client(server) as client:
        for _ in range(5):
            user_get(client)
    assert server.token_requests == 1


def test_the_token_is_refreshed_ten_minutes_before_expiry(fake_clock: Any) -> None:
    server = Server()
    with sync_client(server, clock=fake_clock) as client:
        user_get(client)
        fake_clock.advance(7200 - 600 - 1)
        user_get(client)
        assert server.token_requests == 1
        fake_clock.advance(1)
        user_get(client)
        assert server.token_requests == 2
    assert server.tokens_seen == [tok(1), tok(1), tok(2)]


def test_file_token_store_is_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    server = Server()
    with sync_client(server, token_store=FileTokenStore(path)) as first:
        user_get(first)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with sync_client(server, token_store=FileTokenStore(path)) as second:
        user_get(second)
    assert server.token_requests == 1
    assert server.tokens_seen == [tok(1), tok(1)]


# -- retries -----------------------------------------------------------------------------

QPS_OLD = (200, {"errcode": 90018, "errmsg": "当前接口调用次数过多，请求被暂时禁用了"})
QPS_NEW = (403, {"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", "message": "禁用"})


@pytest.mark.parametrize(
    ("answers", "requests"),
    [
        pytest.param([QPS_OLD, (200, OK)], 2, id="90018"),
        pytest.param([QPS_NEW, (200, OK)], 2, id="403-QpsLimitForAppkeyAndApi"),
        pytest.param([(503, {}), (503, {}), (200, OK)], 3, id="503-twice"),
        pytest.param([(200, {"errcode": -1, "errmsg": "系统繁忙"}), (200, OK)], 2, id="-1"),
    ],
)
def test_throttling_and_server_errors_are_retried(answers: list[Answer], requests: int) -> None:
    server = Server(*answers)
    sleeps = Sleeps()
    with sync_client(server, sleep=sleeps) as client:
        assert user_get(client) == OK
    assert len(server.calls) == requests
    assert len(sleeps) == requests - 1


@pytest.mark.anyio
async def test_retries_stop_after_the_policy_s_attempts() -> None:
    server = Server((503, {}))
    async with async_client(server) as client:
        with pytest.raises(ServerError, match="503"):
            await client.call("GET", NEW_PATH)
    assert len(server.calls) == 3


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        pytest.param(
            (200, {"errcode": 400002, "errmsg": "无效的参数"}), BadRequestError, id="400002"
        ),
        pytest.param(
            (200, {"errcode": 90020, "errmsg": "月调用量超限"}), RateLimitError, id="90020"
        ),
        pytest.param(
            (403, {"code": "Forbidden.AccessDenied.ApiCountLimitForOrg", "message": "超限"}),
            RateLimitError,
            id="ApiCountLimitForOrg",
        ),
    ],
)
def test_validation_errors_and_the_monthly_quota_are_not_retried(
    answer: Answer, error: type[Exception]
) -> None:
    server = Server(answer)
    with sync_client(server) as client, pytest.raises(error):
        user_get(client)
    assert len(server.calls) == 1


def test_an_html_page_is_a_clear_error() -> None:
    server = Server("<html><body><h1>502 Bad Gateway</h1></body></html>")
    with sync_client(server) as client, pytest.raises(ServerError) as caught:
        user_get(client)
    assert "not DingTalk JSON" in str(caught.value)
    assert "502 Bad Gateway" in str(caught.value)


def test_the_ip_ban_json_is_a_clear_error() -> None:
    server = Server((200, {"status": 1111, "wait": 5, "source": "x5", "punish": "deny"}))
    sleeps = Sleeps()
    with sync_client(server, sleep=sleeps) as client, pytest.raises(RateLimitError) as caught:
        user_get(client)
    assert "banned for 5 minutes" in str(caught.value)
    assert caught.value.retry_after == 300
    # Five minutes is longer than the policy's max_wait: raised at once, not slept through.
    assert sleeps == []
    assert len(server.calls) == 1


def test_a_patient_policy_sits_out_the_ip_ban() -> None:
    ban = (200, {"status": 1111, "wait": 5, "source": "x5", "punish": "deny"})
    server = Server(ban, (200, OK))
    sleeps = Sleeps()
    patient = RetryPolicy(jitter=0.0, max_wait=600)
    with sync_client(server, sleep=sleeps, retry=patient) as client:
        assert user_get(client) == OK
    assert sleeps == [300.0]


# -- call() on both families --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_call_reaches_both_families(kind: str) -> None:
    server = Server((200, OK), (200, {"result": {"title": "x"}, "success": "true"}))
    if kind == "sync":
        with sync_client(server) as client:
            old = client.call("post", USER_GET, json={"userid": "u1"})
            new = client.call("GET", NEW_PATH, params={"processInstanceId": "pi"})
    else:

        async def both() -> tuple[Any, Any]:
            async with async_client(server) as client:
                return (
                    await client.call("post", USER_GET, json={"userid": "u1"}),
                    await client.call("GET", NEW_PATH, params={"processInstanceId": "pi"}),
                )

        old, new = asyncio.run(both())
    assert old == OK
    assert new == {"result": {"title": "x"}, "success": "true"}
    first, second = server.calls
    assert (first.method, first.url.host, first.url.path) == ("POST", "oapi.test", USER_GET)
    assert dict(first.url.params) == {"access_token": tok(1)}
    assert "x-acs-dingtalk-access-token" not in first.headers
    assert (second.method, second.url.host) == ("GET", "api.test")
    assert dict(second.url.params) == {"processInstanceId": "pi"}
    assert second.headers["x-acs-dingtalk-access-token"] == tok(1)


# -- secrecy -----------------------------------------------------------------------------


def test_the_token_and_secret_stay_out_of_reprs_errors_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server((503, {}), (200, {"errcode": 400002, "errmsg": "无效的参数"}))
    refused: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1.0/oauth2/accessToken" and not refused:
            refused.append(request)  # httpx puts the URL, token and all, in the message
            raise httpx.ConnectError(f"refused: {request.url}")
        return server(request)

    http = httpx.Client(transport=httpx.MockTransport(transport))
    options: dict[str, Any] = {"oapi_base": "https://oapi.test", "api_base": "https://api.test"}
    client = DingTalk(
        "key", SECRET, http_client=http, qps=None, retry=FAST, sleep=Sleeps(), **options
    )
    with client, pytest.raises(BadRequestError) as caught:
        user_get(client)
    assert len(refused) == 1
    assert len(server.calls) == 2  # connect error, 503, 400002: three tries
    assert caplog.text.count("retrying") == 2
    assert "access_token=***" in caplog.text
    for text in (
        repr(client),
        repr(client.tokens),
        str(caught.value),
        repr(caught.value),
        caplog.text,
    ):
        assert tok(1) not in text
        assert SECRET not in text


def test_repr_names_the_app_only() -> None:
    client = sync_client(Server())
    user_get(client)
    assert (
        repr(client) == "DingTalk(app_key='key', oapi='https://oapi.test', api='https://api.test')"
    )
    assert client.tokens.cached() is not None
    assert tok(1) not in repr(client.tokens.cached())


@pytest.mark.parametrize("make", [sync_client, async_client])
def test_each_resource_is_one_cached_facade(make: Any) -> None:
    client = make(Server())
    for name in ("contacts", "notifications", "approval", "calendar", "attendance"):
        facade = getattr(client, name)
        assert facade is getattr(client, name)
        assert type(facade).__name__.startswith("Async") == isinstance(client, AsyncDingTalk)


# -- 900xx bans: DingTalk names the end; the policy waits for it or raises (issue 9) ------


def ban_answer(code: int, seconds_from_now: float, now: float) -> Answer:
    from datetime import datetime

    from dingkit._wire import CHINA

    ends = datetime.fromtimestamp(now + seconds_from_now, CHINA).strftime("%Y-%m-%d %H:%M:%S")
    errmsg = (
        "您的企业调用当前接口次数过多,请求被暂时禁用了, apiPath(/topapi/v2/user/get), "
        f"从 {ends} 到 {ends} 请求总次数超过了 300 次, 处罚将在 {ends} 结束."
    )
    return (200, {"errcode": code, "errmsg": errmsg})


@pytest.mark.parametrize("code", [90005, 90002, 90018])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_ban_ending_within_max_wait_is_waited_out(code: int, kind: str, fake_clock: Any) -> None:
    server = Server(ban_answer(code, 30, fake_clock()), (200, OK))
    sleeps = Sleeps()
    policy = RetryPolicy(jitter=0.0)
    if kind == "sync":
        with sync_client(server, sleep=sleeps, clock=fake_clock, retry=policy) as client:
            assert user_get(client) == OK
    else:

        async def run() -> Any:
            async with async_client(
                server, sleep=sleeps.asleep, clock=fake_clock, retry=policy
            ) as client:
                return await client.call("POST", USER_GET, json={"userid": "u1"})

        assert asyncio.run(run()) == OK
    assert len(server.calls) == 2
    assert sleeps == [30.0]


@pytest.mark.parametrize("code", [90005, 90002])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_longer_ban_raises_at_once_with_retry_after(
    code: int, kind: str, fake_clock: Any
) -> None:
    server = Server(ban_answer(code, 3600, fake_clock()), (200, OK))
    sleeps = Sleeps()
    if kind == "sync":
        with (
            sync_client(server, sleep=sleeps, clock=fake_clock) as client,
            pytest.raises(RateLimitError) as caught,
        ):
            user_get(client)
    else:

        async def run() -> Any:
            async with async_client(server, sleep=sleeps.asleep, clock=fake_clock) as c:
                return await c.call("POST", USER_GET, json={"userid": "u1"})

        with pytest.raises(RateLimitError) as caught:
            asyncio.run(run())
    assert caught.value.retry_after == 3600
    assert caught.value.errcode == code
    assert len(server.calls) == 1
    assert sleeps == []


def test_max_wait_is_the_policy_s_bound(fake_clock: Any) -> None:
    server = Server(ban_answer(90005, 120, fake_clock()), (200, OK))
    sleeps = Sleeps()
    patient = RetryPolicy(jitter=0.0, max_wait=300)
    with sync_client(server, sleep=sleeps, clock=fake_clock, retry=patient) as client:
        assert user_get(client) == OK
    assert sleeps == [120.0]


def test_a_ban_without_an_end_is_not_retried_but_qps_limits_still_are() -> None:
    banned = Server((200, {"errcode": 90005, "errmsg": "您的企业调用当前接口次数过多"}), (200, OK))
    with sync_client(banned) as client, pytest.raises(RateLimitError) as caught:
        user_get(client)
    assert caught.value.retry_after is None
    assert len(banned.calls) == 1
    qps = Server((200, {"errcode": 90002, "errmsg": "请求被暂时禁用了"}), (200, OK))
    sleeps = Sleeps()
    with sync_client(qps, sleep=sleeps, retry=RetryPolicy(jitter=0.0)) as client:
        assert user_get(client) == OK
    assert sleeps == [1.0]


def test_bans_count_as_tries(fake_clock: Any) -> None:
    server = Server(ban_answer(90005, 10, fake_clock()))
    sleeps = Sleeps()
    with (
        sync_client(server, sleep=sleeps, clock=fake_clock, retry=RetryPolicy(jitter=0.0)) as c,
        pytest.raises(RateLimitError),
    ):
        user_get(c)
    assert len(server.calls) == DEFAULT_ATTEMPTS


def test_permission_errors_name_the_missing_scope() -> None:
    body = {
        "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        "message": "应用尚未开通所需的权限：[Contact.User.Read]",
        "requestid": "r9",
    }
    server = Server((403, body))
    with sync_client(server) as client, pytest.raises(PermissionDeniedError) as caught:
        client.call("GET", "/v1.0/contact/users/me")
    assert caught.value.scope == "Contact.User.Read"
    text = str(caught.value)
    assert "the app lacks permission Contact.User.Read: grant it in the developer console" in text
    assert "应用尚未开通所需的权限" in text
    assert tok(1) not in text
    assert SECRET not in text
    assert len(server.calls) == 1
