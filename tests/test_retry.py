from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from dingkit import (
    APIConnectionError,
    APITimeoutError,
    AsyncRobot,
    BadRequestError,
    DingTalkError,
    MessageValidationError,
    PayloadTooLargeError,
    RateLimitError,
    RetryPolicy,
    Robot,
    SecurityCheckError,
    ServerError,
)
from dingkit._errors import error_from_response
from dingkit._retry import DEFAULT_RETRY, NO_RETRY, is_retryable

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.001)

# One scripted answer per request: (HTTP status, JSON body) or an exception to raise.
Step = tuple[int, dict[str, Any]] | Exception
OK: Step = (200, {"errcode": 0, "errmsg": "ok"})


class Script:
    """A MockTransport handler answering from a list, counting the requests it gets."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        status, body = step
        return httpx.Response(status, json=body)


def send_sync(script: Script, retry: RetryPolicy, sleeps: list[float]) -> Any:
    with (
        httpx.Client(transport=httpx.MockTransport(script)) as http,
        Robot(
            token="tok",
            name="ops",
            base_url="https://oapi.example",
            http_client=http,
            rate_limit=False,
            retry=retry,
            sleep=sleeps.append,
        ) as robot,
    ):
        return robot.send_text("hello")


async def send_async(script: Script, retry: RetryPolicy, sleeps: list[float]) -> Any:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(script)) as http,
        AsyncRobot(
            token="tok",
            name="ops",
            base_url="https://oapi.example",
            http_client=http,
            rate_limit=False,
            retry=retry,
            sleep=sleep,
        ) as robot,
    ):
        return await robot.send_text("hello")


Sender = Callable[[Script, RetryPolicy, list[float]], Any]


@pytest.fixture(params=["sync", "async"])
def send(request: pytest.FixtureRequest, anyio_backend: str) -> Sender:
    if request.param == "sync":
        return send_sync

    def run_async(script: Script, retry: RetryPolicy, sleeps: list[float]) -> Any:
        return anyio.run(send_async, script, retry, sleeps, backend=anyio_backend)

    return run_async


def timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("timed out")


# -- the policy -------------------------------------------------------------------------


def test_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_delay=1.0, max_delay=4.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(initial_delay=2.0, jitter=0.25, rng=random.Random(7))
    delays = [policy.delay(1) for _ in range(200)]
    assert all(1.5 <= d <= 2.5 for d in delays)
    assert len(set(delays)) > 1


def test_retry_after_lengthens_the_delay() -> None:
    policy = RetryPolicy(jitter=0.0)
    throttled = RateLimitError("slow", retry_after=30.0)
    assert policy.delay(1, throttled) == 30.0


def test_default_policy_is_three_tries_starting_at_one_second() -> None:
    assert (DEFAULT_RETRY.max_attempts, DEFAULT_RETRY.initial_delay) == (3, 1.0)
    assert DEFAULT_RETRY.max_wait == 60.0
    assert NO_RETRY.max_attempts == 1
    assert not NO_RETRY.should_retry(1, ServerError("busy", errcode=-1))


def robot_error(errcode: int, errmsg: str = "x") -> DingTalkError:
    error = error_from_response(200, {"errcode": errcode, "errmsg": errmsg}, robot="ops")
    assert error is not None
    return error


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (APIConnectionError("reset"), True),
        (APITimeoutError("timed out"), True),
        (robot_error(-1), True),
        (error_from_response(503, None), True),
        (error_from_response(502, None), True),
        (error_from_response(429, None), True),
        (error_from_response(200, {"errcode": 15, "errmsg": "timeout"}), True),
        (error_from_response(200, {"errcode": 88, "sub_code": "", "errmsg": "auth"}), True),
        (error_from_response(200, {"errcode": 90018, "errmsg": "qps"}), True),
        (error_from_response(200, {"errcode": 90020, "errmsg": "quota"}), False),
        # A 900xx ban without an end time: calling again would extend it (§9.1).
        (error_from_response(200, {"errcode": 90005, "errmsg": "请求被暂时禁用了"}), False),
        (error_from_response(200, {"errcode": 90001, "errmsg": "请求被暂时禁用了"}), False),
        (error_from_response(200, {"errcode": 90002, "errmsg": "请求被暂时禁用了"}), True),
        (error_from_response(200, {"status": 1, "wait": 5, "punish": "deny"}), False),
        (robot_error(310000, "sign not match"), False),
        (robot_error(400402), False),
        (robot_error(460101), False),
        (robot_error(43004), False),
        (robot_error(400101), False),
        (robot_error(400102), False),
        (robot_error(130101), False),
        (robot_error(410100), False),
        (robot_error(660026), False),
        (MessageValidationError("too long"), False),
    ],
)
def test_what_is_retried_follows_section_9_4(error: DingTalkError | None, retry: bool) -> None:
    assert error is not None
    assert is_retryable(error) is retry


# -- the send loops ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [(200, {"errcode": -1, "errmsg": "系统繁忙"}), (503, {}), timeout()],
    ids=["errcode-1", "http503", "timeout"],
)
def test_transient_failure_is_retried_then_succeeds(send: Sender, first: Step) -> None:
    script = Script(first, OK)
    sleeps: list[float] = []
    result = send(script, FAST, sleeps)
    assert result.responses == ({"errcode": 0, "errmsg": "ok"},)
    assert len(script.requests) == 2
    assert len(sleeps) == 1
    # The retry is the same message: same body, same msgUuid.
    assert script.requests[0].content == script.requests[1].content


def test_backoff_grows_between_tries(send: Sender) -> None:
    script = Script((200, {"errcode": -1, "errmsg": "系统繁忙"}))
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, initial_delay=1.0, max_delay=8.0, jitter=0.0)
    with pytest.raises(ServerError):
        send(script, policy, sleeps)
    assert len(script.requests) == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_retries_stop_after_max_attempts(send: Sender) -> None:
    script = Script((503, {}))
    with pytest.raises(ServerError):
        send(script, FAST, [])
    assert len(script.requests) == FAST.max_attempts == 3


@pytest.mark.parametrize(
    ("errcode", "errmsg", "cls"),
    [
        (310000, "sign not match", SecurityCheckError),
        (400402, "参数 markdown --》 title 缺失", BadRequestError),
        (460101, "body 大小不合法", PayloadTooLargeError),
        (130101, "send too fast", RateLimitError),
        (410100, "发送速度太快而限流", RateLimitError),
        (660026, "sending too many messages per minute", RateLimitError),
    ],
)
def test_permanent_and_robot_rate_limit_errors_are_not_retried(
    send: Sender, errcode: int, errmsg: str, cls: type[DingTalkError]
) -> None:
    script = Script((200, {"errcode": errcode, "errmsg": errmsg}), OK)
    sleeps: list[float] = []
    with pytest.raises(cls):
        send(script, FAST, sleeps)
    assert len(script.requests) == 1
    assert sleeps == []


def test_every_try_is_signed_afresh_but_keeps_the_body() -> None:
    script = Script(timeout(), OK)
    with (
        httpx.Client(transport=httpx.MockTransport(script)) as http,
        Robot(
            token="tok",
            secret="SECretry-secret",
            base_url="https://oapi.example",
            http_client=http,
            rate_limit=False,
            retry=FAST,
            sleep=lambda s: None,
        ) as robot,
    ):
        robot.send_text("x")
    first, second = script.requests
    assert first.content == second.content
    assert "sign" in first.url.params
    assert "timestamp" in second.url.params


@pytest.mark.parametrize(("retry_after", "max_wait", "retry"), [(30, 60, True), (61, 60, False)])
def test_a_named_wait_is_sat_out_only_within_max_wait(
    retry_after: float, max_wait: float, retry: bool
) -> None:
    ban = RateLimitError("banned", retry_after=retry_after, errcode=90005)
    policy = RetryPolicy(max_wait=max_wait, jitter=0.0)
    assert policy.should_retry(1, ban) is retry
    assert not policy.should_retry(policy.max_attempts, ban)
    if retry:
        assert policy.delay(1, ban) == retry_after
