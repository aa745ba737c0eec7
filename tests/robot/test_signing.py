from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from dingkit import AsyncRobot, SecurityCheckError
from dingkit.robot.messages import Text
from dingkit.robot.signing import (
    SIGN_TOLERANCE_MS,
    generate_signature,
    signature_params,
    verify_signature,
)
from dingkit.robot.target import RobotTarget
from dingkit.sandbox import Sandbox, create_app

SANDBOX_SEND_URL = "http://sandbox/robot/send"


def raw_query_value(url: str, name: str) -> str:
    """The query value as it is on the wire, not decoded."""
    for pair in urlsplit(url).query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    raise AssertionError(f"no {name} in {url}")


def timestamp_whose_sign_has(secret: str, chars: str) -> int:
    timestamp = 1_700_000_000_000
    while not all(ch in generate_signature(secret, timestamp) for ch in chars):
        timestamp += 1
    return timestamp


# -- the vectors ------------------------------------------------------------------------


def test_there_are_three_vectors(vectors: dict[str, Any]) -> None:
    assert len(vectors["robot_sign"]) == 3


@pytest.mark.parametrize("index", range(3))
def test_sign_matches_the_vector(vectors: dict[str, Any], index: int) -> None:
    vector = vectors["robot_sign"][index]
    sign = generate_signature(vector["secret"], vector["timestamp"])
    assert sign == vector["sign"]
    assert generate_signature(vector["secret"], int(vector["timestamp"])) == vector["sign"]
    assert quote(sign, safe="") == vector["sign_urlencoded"]


@pytest.mark.parametrize("index", range(3))
def test_signature_params_take_milliseconds_from_the_clock(
    vectors: dict[str, Any], index: int
) -> None:
    vector = vectors["robot_sign"][index]
    params = signature_params(vector["secret"], clock=lambda: int(vector["timestamp"]) / 1000)
    assert params == {"timestamp": vector["timestamp"], "sign": vector["sign"]}


@pytest.mark.parametrize("index", range(3))
def test_target_url_carries_the_vector_encoded_once(vectors: dict[str, Any], index: int) -> None:
    vector = vectors["robot_sign"][index]
    target = RobotTarget("tok", secret=vector["secret"], send_url=SANDBOX_SEND_URL)
    url = target.url(clock=lambda: int(vector["timestamp"]) / 1000)
    assert raw_query_value(url, "sign") == vector["sign_urlencoded"]
    assert raw_query_value(url, "timestamp") == vector["timestamp"]
    assert raw_query_value(url, "access_token") == "tok"


def test_url_encodes_plus_slash_and_equals_exactly_once() -> None:
    secret = "SECsandbox-secret"
    timestamp = timestamp_whose_sign_has(secret, "+/=")
    sign = generate_signature(secret, timestamp)
    url = RobotTarget("tok", secret=secret).url(clock=lambda: timestamp / 1000)
    value = raw_query_value(url, "sign")
    assert value == sign.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert "%25" not in url
    # Decoding the query once, as DingTalk does, gives back the base64 sign.
    assert parse_qs(urlsplit(url).query)["sign"] == [sign]
    # httpx sends it as it is: no second encoding.
    assert raw_query_value(str(httpx.Request("POST", url).url), "sign") == value


def test_unsigned_robot_url_has_no_sign() -> None:
    url = RobotTarget("tok", send_url=SANDBOX_SEND_URL).url()
    assert url == f"{SANDBOX_SEND_URL}?access_token=tok"


def test_each_url_is_signed_afresh() -> None:
    now = [1_700_000_000.0]
    target = RobotTarget("tok", secret="SECx-secret")
    first = target.url(clock=lambda: now[0])
    now[0] += 1.5
    second = target.url(clock=lambda: now[0])
    assert raw_query_value(second, "timestamp") == "1700000001500"
    assert raw_query_value(first, "sign") != raw_query_value(second, "sign")


# -- verification -----------------------------------------------------------------------

NOW_MS = 1_700_000_000_000


def test_verify_accepts_a_correct_sign() -> None:
    sign = generate_signature("SECs", NOW_MS)
    assert verify_signature("SECs", str(NOW_MS), sign, now_ms=NOW_MS).ok


@pytest.mark.parametrize("offset", [SIGN_TOLERANCE_MS, -SIGN_TOLERANCE_MS])
def test_verify_accepts_exactly_one_hour_off(offset: int) -> None:
    timestamp = NOW_MS + offset
    sign = generate_signature("SECs", timestamp)
    assert verify_signature("SECs", str(timestamp), sign, now_ms=NOW_MS).ok


@pytest.mark.parametrize("offset", [SIGN_TOLERANCE_MS + 1, -SIGN_TOLERANCE_MS - 1])
def test_verify_refuses_more_than_one_hour_off(offset: int) -> None:
    timestamp = NOW_MS + offset
    sign = generate_signature("SECs", timestamp)
    check = verify_signature("SECs", str(timestamp), sign, now_ms=NOW_MS)
    assert (check.ok, check.reason) == (False, "timestamp")


@pytest.mark.parametrize(
    ("timestamp", "sign", "reason"),
    [
        (None, "x", "missing"),
        (str(NOW_MS), None, "missing"),
        ("17e11", "x", "timestamp"),
        (str(NOW_MS), generate_signature("SECother", NOW_MS), "signature"),
        (str(NOW_MS), quote(generate_signature("SECs", NOW_MS), safe=""), "signature"),
    ],
)
def test_verify_reasons(timestamp: str | None, sign: str | None, reason: str) -> None:
    check = verify_signature("SECs", timestamp, sign, now_ms=NOW_MS)
    assert (check.ok, check.reason) == (False, reason)


# -- against the sandbox ----------------------------------------------------------------


@pytest.mark.anyio
async def test_sandbox_accepts_a_correctly_signed_send(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts")
    assert robot.target.secret
    result = await robot.send_text("signed hello")
    [message] = sandbox.robot.messages(robot="alerts")
    assert message.msg_uuid == result.msg_uuid


@pytest.mark.anyio
async def test_wrong_secret_is_a_signature_error(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts", secret="SEC" + "0" * 64)
    with pytest.raises(SecurityCheckError) as info:
        await robot.send_text("hello")
    assert info.value.errcode == 310000
    assert info.value.reason == "signature"
    assert info.value.robot == "alerts"
    assert sandbox.robot.messages() == []
    [rejection] = sandbox.robot.rejections()
    assert (rejection.errcode, rejection.reason) == (310000, "signature")


@pytest.mark.anyio
async def test_unsigned_send_to_a_signed_robot_is_refused(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts", secret=None)
    with pytest.raises(SecurityCheckError) as info:
        await robot.send_text("hello")
    assert info.value.reason == "signature"


@pytest.mark.anyio
async def test_client_clock_an_hour_off_is_a_timestamp_error(
    make_sandbox: Callable[..., Sandbox],
    fake_clock: Callable[[], float],
    robot_for: Callable[..., AsyncRobot],
) -> None:
    # The sandbox lives in 2023; the client signs with today's clock.
    sandbox = make_sandbox(clock=fake_clock)
    robot = robot_for(sandbox, "alerts")
    with pytest.raises(SecurityCheckError) as info:
        await robot.send_text("hello")
    assert (info.value.errcode, info.value.reason) == (310000, "timestamp")
    [rejection] = sandbox.robot.rejections()
    assert rejection.reason == "timestamp"


async def post_signed(
    sandbox: Sandbox, *, clock: Callable[[], float], url: str | None = None
) -> dict[str, Any]:
    robot = sandbox.robot.robot_by_name("alerts")
    assert robot is not None
    target = RobotTarget(robot.token, secret=robot.secret, send_url=SANDBOX_SEND_URL)
    [prepared] = target.prepare(Text(content="hello"))
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(
            url or target.url(clock=clock),
            content=prepared.body,
            headers={"Content-Type": "application/json"},
        )
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("offset", "errcode"),
    [(0, 0), (-3599, 0), (3599, 0), (-3601, 310000), (3601, 310000), (-86400, 310000)],
)
async def test_sandbox_window_is_one_hour(
    make_sandbox: Callable[..., Sandbox],
    fake_clock: Callable[[], float],
    offset: int,
    errcode: int,
) -> None:
    sandbox = make_sandbox(clock=fake_clock)
    answer = await post_signed(sandbox, clock=lambda: fake_clock() + offset)
    assert answer["errcode"] == errcode
    if errcode:
        assert sandbox.robot.rejections()[0].reason == "timestamp"


@pytest.mark.anyio
async def test_sign_encoded_twice_is_refused(
    make_sandbox: Callable[..., Sandbox], fake_clock: Callable[[], float]
) -> None:
    sandbox = make_sandbox(clock=fake_clock)
    robot = sandbox.robot.robot_by_name("alerts")
    assert robot is not None
    assert robot.secret is not None
    params = signature_params(robot.secret, clock=fake_clock)
    once = quote(params["sign"], safe="")
    # The already-encoded sign as a query value: httpx encodes its "%" again.
    url = str(
        httpx.URL(
            SANDBOX_SEND_URL,
            params={"access_token": robot.token, "timestamp": params["timestamp"], "sign": once},
        )
    )
    assert "%25" in raw_query_value(url, "sign")
    answer = await post_signed(sandbox, clock=fake_clock, url=url)
    assert answer["errcode"] == 310000
    assert "sign" in answer["errmsg"]
    [rejection] = sandbox.robot.rejections()
    assert rejection.reason == "signature"


@pytest.mark.anyio
async def test_sign_with_a_raw_plus_is_refused(
    make_sandbox: Callable[..., Sandbox], fake_clock: Callable[[], float]
) -> None:
    sandbox = make_sandbox(clock=fake_clock)
    robot = sandbox.robot.robot_by_name("alerts")
    assert robot is not None
    assert robot.secret is not None
    timestamp = timestamp_whose_sign_has(robot.secret, "+")
    sign = generate_signature(robot.secret, timestamp)
    # "+" left unencoded reads as a space once the query is decoded (§2.4).
    url = f"{SANDBOX_SEND_URL}?access_token={robot.token}&timestamp={timestamp}&sign={sign}"
    answer = await post_signed(sandbox, clock=lambda: timestamp / 1000, url=url)
    assert answer["errcode"] == 310000
    assert sandbox.robot.rejections()[0].reason == "signature"


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", "1" * 5000, " 1", "-1", "1.5"])
def test_a_timestamp_that_is_not_plain_digits_is_a_timestamp_refusal(timestamp: str) -> None:
    """Not a ValueError (which the sandbox's webhook answered with its bug errcode)."""
    check = verify_signature("SEC1", timestamp, "x", now_ms=1_577_262_236_757)
    assert (check.ok, check.reason) == (False, "timestamp")
