from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from dingkit import (
    AsyncRobot,
    AuthenticationError,
    RateLimitError,
    RobotGoneError,
    SecurityCheckError,
)
from dingkit.robot.messages import (
    ActionButton,
    ActionCard,
    FeedCard,
    FeedLink,
    Link,
    Markdown,
    RobotMessage,
    Text,
    to_payload,
)
from dingkit.sandbox import Sandbox, create_app
from dingkit.sandbox.config import RobotConfig, SandboxConfig, demo_config

JSON = {"Content-Type": "application/json"}


def deploy_text(content: str = "deploy finished") -> bytes:
    # UTF-8, as DingTalk counts it (§2.3); not \uXXXX escapes.
    return json.dumps(to_payload(Text(content=content)), ensure_ascii=False).encode()


@asynccontextmanager
async def client_for(sandbox: Sandbox, ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sandbox), client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


async def post(
    client: httpx.AsyncClient,
    token: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/robot/send",
        params={"access_token": token},
        content=body,
        headers=JSON if headers is None else headers,
    )
    assert response.status_code == 200  # DingTalk answers errors with HTTP 200 (§2.5)
    data: dict[str, Any] = response.json()
    return data


def token_of(sandbox: Sandbox, name: str) -> str:
    robot = sandbox.robot.robot_by_name(name)
    assert robot is not None
    return robot.token


async def rejections(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/_sandbox/rejections")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["rejections"]
    return found


# -- DingTalk's answers -----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("era", "errcode"), [("doc", 400101), ("observed", 300005)])
async def test_unknown_token(
    era: str,
    errcode: int,
    make_sandbox: Callable[..., Sandbox],
    robot_for: Callable[..., AsyncRobot],
) -> None:
    sandbox = make_sandbox(config=demo_config(errcodes=era))  # type: ignore[arg-type]
    async with client_for(sandbox) as client:
        answer = await post(client, "no-such-token", deploy_text())
        assert answer["errcode"] == errcode
        [rejection] = await rejections(client)
    assert (rejection["errcode"], rejection["reason"], rejection["robot"]) == (
        errcode,
        "unknown_token",
        None,
    )
    robot = robot_for(sandbox, "deploys", token="no-such-token")
    with pytest.raises(AuthenticationError) as info:
        await robot.send_text("deploy")
    assert info.value.errcode == errcode


BAD_REQUESTS: list[tuple[str, bytes, dict[str, str], int, str]] = [
    # (case, body, headers, errcode, reason)
    ("content-type", deploy_text(), {"Content-Type": "text/plain"}, 43004, "content_type"),
    ("no-content-type", deploy_text(), {}, 43004, "content_type"),
    ("empty-body", b"", JSON, 40035, "body_missing"),
    ("blank-body", b"  \n", JSON, 40035, "body_missing"),
    (
        "image",
        json.dumps(
            {"msgtype": "image", "image": {"picURL": "https://a.example/deploy.png"}}
        ).encode(),
        JSON,
        400105,
        "msgtype",
    ),
    (
        "markdown-title",
        json.dumps({"msgtype": "markdown", "markdown": {"text": "deploy"}}).encode(),
        JSON,
        400402,
        "malformed",
    ),
    ("not-json", b"{deploy", JSON, 400402, "malformed"),
    ("too-large", deploy_text("deploy " + "x" * 20_000), JSON, 460101, "too_large"),
    ("too-large-cjk", deploy_text("deploy " + "部" * 6_700), JSON, 460101, "too_large"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "headers", "errcode", "reason"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_requests_get_dingtalks_errcodes(
    body: bytes,
    headers: dict[str, str],
    errcode: int,
    reason: str,
    sandbox: Sandbox,
    asgi_client: httpx.AsyncClient,
) -> None:
    answer = await post(asgi_client, token_of(sandbox, "deploys"), body, headers=headers)
    assert answer["errcode"] == errcode
    assert answer["errmsg"]
    [rejection] = await rejections(asgi_client)
    assert (rejection["errcode"], rejection["reason"], rejection["robot"]) == (
        errcode,
        reason,
        "deploys",
    )
    assert sandbox.robot.messages() == []


@pytest.mark.anyio
async def test_missing_field_is_named_the_dingtalk_way(
    sandbox: Sandbox, asgi_client: httpx.AsyncClient
) -> None:
    body = json.dumps({"msgtype": "markdown", "markdown": {"text": "deploy"}}).encode()
    answer = await post(asgi_client, token_of(sandbox, "deploys"), body)
    assert answer["errcode"] == 400402
    assert "markdown --》 title" in answer["errmsg"]


@pytest.mark.anyio
async def test_body_of_exactly_20000_bytes_is_accepted(
    sandbox: Sandbox, asgi_client: httpx.AsyncClient
) -> None:
    overhead = len(deploy_text("deploy "))
    body = deploy_text("deploy " + "部" * ((20_000 - overhead) // 3))
    body = body.replace(b"deploy ", b"deploy " + b"x" * (20_000 - len(body)), 1)
    assert len(body) == 20_000
    answer = await post(asgi_client, token_of(sandbox, "deploys"), body)
    assert answer["errcode"] == 0


@pytest.mark.anyio
async def test_disabled_robot_and_dissolved_group(
    sandbox: Sandbox, asgi_client: httpx.AsyncClient, robot_for: Callable[..., AsyncRobot]
) -> None:
    token = token_of(sandbox, "deploys")
    robot = robot_for(sandbox, "deploys")

    switched = await asgi_client.post("/_sandbox/robots/deploys/disable", json={})
    assert switched.json() == {"robot": "deploys", "disabled": True}
    assert (await post(asgi_client, token, deploy_text()))["errcode"] == 400102
    with pytest.raises(RobotGoneError) as info:
        await robot.send_text("deploy")
    assert info.value.errcode == 400102
    await asgi_client.post("/_sandbox/robots/deploys/enable", json={})
    assert (await post(asgi_client, token, deploy_text()))["errcode"] == 0

    dissolved = await asgi_client.post("/_sandbox/groups/demo/dissolve", json={})
    assert dissolved.json() == {"group": "demo", "dissolved": True}
    assert (await post(asgi_client, token, deploy_text()))["errcode"] == 400013
    with pytest.raises(RobotGoneError) as info:
        await robot.send_text("deploy")
    assert info.value.errcode == 400013
    await asgi_client.post("/_sandbox/groups/demo/restore", json={})
    assert (await post(asgi_client, token, deploy_text()))["errcode"] == 0

    assert [r["errcode"] for r in await rejections(asgi_client)] == [
        400102,
        400102,
        400013,
        400013,
    ]
    assert len(sandbox.robot.messages(robot="deploys")) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/_sandbox/robots/nobody/disable",
        "/_sandbox/robots/deploys/explode",
        "/_sandbox/groups/nowhere/dissolve",
    ],
)
async def test_switches_on_unknown_things_are_404(
    path: str, asgi_client: httpx.AsyncClient
) -> None:
    response = await asgi_client.post(path, json={})
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "query",
    [
        "/_sandbox/messages?after=abc",
        "/_sandbox/messages?limit=abc",
        "/_sandbox/messages?after=1.5",
        "/_sandbox/messages?after=--1",
        "/_sandbox/messages?after=²",
        "/_sandbox/rejections?after=abc",
        "/_sandbox/rejections?limit=%00",
    ],
)
async def test_garbage_query_params_are_a_400_not_a_500(
    query: str, asgi_client: httpx.AsyncClient
) -> None:
    response = await asgi_client.get(query)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]


@pytest.mark.anyio
async def test_messages_listing_filters_by_robot_and_after(
    sandbox: Sandbox, asgi_client: httpx.AsyncClient, robot_for: Callable[..., AsyncRobot]
) -> None:
    await robot_for(sandbox, "deploys").send_text("deploy one")
    await robot_for(sandbox, "alerts").send_text("alert")
    await robot_for(sandbox, "deploys").send_text("deploy two")
    everything = (await asgi_client.get("/_sandbox/messages")).json()["messages"]
    assert [m["robot"] for m in everything] == ["deploys", "alerts", "deploys"]
    deploys = (await asgi_client.get("/_sandbox/messages?robot=deploys")).json()["messages"]
    assert [m["payload"]["text"]["content"] for m in deploys] == ["deploy one", "deploy two"]
    after = everything[0]["id"]
    later = (await asgi_client.get(f"/_sandbox/messages?after={after}&limit=1")).json()
    assert [m["robot"] for m in later["messages"]] == ["alerts"]


@pytest.mark.anyio
async def test_same_msg_uuid_is_shown_once(
    sandbox: Sandbox, asgi_client: httpx.AsyncClient
) -> None:
    body = json.dumps(to_payload(Text(content="deploy"), msg_uuid="fixed-uuid-1")).encode()
    token = token_of(sandbox, "deploys")
    assert (await post(asgi_client, token, body))["errcode"] == 0
    assert (await post(asgi_client, token, body))["errcode"] == 0
    [message] = sandbox.robot.messages()
    assert message.msg_uuid == "fixed-uuid-1"


# -- keyword ----------------------------------------------------------------------------

KEYWORD_PLACES: dict[str, RobotMessage] = {
    "text": Text(content="the deploy is done"),
    "markdown-title-only": Markdown(title="deploy report", text="all green"),
    "markdown-text-only": Markdown(title="report", text="**deploy** green"),
    "link-title": Link(title="deploy 42", text="green", message_url="https://a.example"),
    "link-text": Link(title="build 42", text="deploy green", message_url="https://a.example"),
    "actionCard-title": ActionCard(
        title="deploy?", text="ready", single_title="go", single_url="https://a.example"
    ),
    "actionCard-single-title": ActionCard(
        title="release", text="ready", single_title="deploy now", single_url="https://a.example"
    ),
    "actionCard-button": ActionCard(
        title="release",
        text="ready",
        buttons=(ActionButton(title="deploy", action_url="https://a.example"),),
    ),
    "feedCard-title": FeedCard(
        links=(
            FeedLink(title="news", message_url="https://a.example/1"),
            FeedLink(title="deploy log", message_url="https://a.example/2"),
        )
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("place", list(KEYWORD_PLACES))
async def test_keyword_anywhere_in_the_text_is_enough(
    place: str, sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "deploys")
    message = KEYWORD_PLACES[place]
    result = await robot.send(message)
    [stored] = sandbox.robot.messages(robot="deploys")
    assert stored.payload == to_payload(message, msg_uuid=result.msg_uuid)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "message",
    [
        Text(content="the release is done"),
        Markdown(title="report", text="all green"),
        Link(title="t", text="x", message_url="https://deploy.example/deploy"),
    ],
    ids=["text", "markdown", "keyword-only-in-url"],
)
async def test_missing_keyword_is_refused(
    message: RobotMessage,
    sandbox: Sandbox,
    robot_for: Callable[..., AsyncRobot],
    asgi_client: httpx.AsyncClient,
) -> None:
    with pytest.raises(SecurityCheckError) as info:
        await robot_for(sandbox, "deploys").send(message)
    assert (info.value.errcode, info.value.reason) == (310000, "keyword")
    [rejection] = await rejections(asgi_client)
    assert (rejection["errcode"], rejection["reason"]) == (310000, "keyword")
    assert sandbox.robot.messages() == []


# -- IP allow-list ----------------------------------------------------------------------


def ip_config() -> SandboxConfig:
    return SandboxConfig(
        robots=(
            RobotConfig(name="exact", token="exact-token-0001", ip_allowlist=("203.0.113.7",)),
            RobotConfig(
                name="ranged",
                token="ranged-token-001",
                ip_allowlist=("192.0.2.1", "198.51.100.0/24"),
            ),
        )
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("robot", "ip", "allowed"),
    [
        ("exact", "203.0.113.7", True),
        ("exact", "203.0.113.8", False),
        ("ranged", "198.51.100.42", True),
        ("ranged", "198.51.100.255", True),
        ("ranged", "192.0.2.1", True),
        ("ranged", "198.51.101.1", False),
        ("ranged", "10.0.0.1", False),
    ],
)
async def test_ip_allow_list(
    robot: str,
    ip: str,
    allowed: bool,
    make_sandbox: Callable[..., Sandbox],
    robot_for: Callable[..., AsyncRobot],
) -> None:
    sandbox = make_sandbox(config=ip_config())
    sender = robot_for(sandbox, robot, client_ip=ip)
    if allowed:
        await sender.send_text("hello")
        assert len(sandbox.robot.messages(robot=robot)) == 1
        return
    with pytest.raises(SecurityCheckError) as info:
        await sender.send_text("hello")
    assert (info.value.errcode, info.value.reason) == (310000, "ip")
    [rejection] = sandbox.robot.rejections()
    assert (rejection.errcode, rejection.reason) == (310000, "ip")
    assert ip in rejection.errmsg


# -- rate limit -------------------------------------------------------------------------


def limited_config(era: str) -> SandboxConfig:
    return SandboxConfig(
        errcodes=era,  # type: ignore[arg-type]
        robots=(
            RobotConfig(name="chatty", token="chatty-token-01"),
            RobotConfig(name="quiet", token="quiet-token-001"),
        ),
    )


@pytest.mark.anyio
@pytest.mark.parametrize(("era", "errcode"), [("doc", 410100), ("observed", 660026)])
async def test_21st_message_in_a_minute_blocks_the_robot_for_10_minutes(
    era: str,
    errcode: int,
    make_sandbox: Callable[..., Sandbox],
    fake_clock: Any,
    robot_for: Callable[..., AsyncRobot],
) -> None:
    sandbox = make_sandbox(config=limited_config(era), clock=fake_clock)
    robot = robot_for(sandbox, "chatty")
    for i in range(20):
        await robot.send_text(f"message {i}")
        fake_clock.advance(1)
    with pytest.raises(RateLimitError) as info:
        await robot.send_text("the 21st")
    assert (info.value.errcode, info.value.retry_after, info.value.robot) == (
        errcode,
        600,
        "chatty",
    )

    # The window has slid, but the robot is blocked for 10 minutes.
    fake_clock.advance(300)
    with pytest.raises(RateLimitError):
        await robot.send_text("5 minutes later")
    # Another robot is not affected.
    await robot_for(sandbox, "quiet").send_text("hello")

    fake_clock.advance(360)
    await robot.send_text("11 minutes later")
    contents = [m.payload["text"]["content"] for m in sandbox.robot.messages(robot="chatty")]
    assert len(contents) == 21
    assert contents[-1] == "11 minutes later"
    assert [(r.errcode, r.reason) for r in sandbox.robot.rejections()] == [
        (errcode, "rate_limited")
    ] * 2


@pytest.mark.anyio
async def test_twenty_a_minute_spread_out_is_fine(
    make_sandbox: Callable[..., Sandbox], fake_clock: Any, robot_for: Callable[..., AsyncRobot]
) -> None:
    sandbox = make_sandbox(config=limited_config("doc"), clock=fake_clock)
    robot = robot_for(sandbox, "chatty")
    for i in range(60):
        await robot.send_text(f"message {i}")
        fake_clock.advance(3)
    assert len(sandbox.robot.messages(robot="chatty")) == 60


@pytest.mark.anyio
async def test_limits_off_lets_a_benchmark_through(
    make_sandbox: Callable[..., Sandbox], fake_clock: Any, robot_for: Callable[..., AsyncRobot]
) -> None:
    config = limited_config("doc").model_copy(update={"limits": False})
    sandbox = make_sandbox(config=config, clock=fake_clock)
    robot = robot_for(sandbox, "chatty")
    for i in range(30):
        await robot.send_text(f"message {i}")
    assert len(sandbox.robot.messages(robot="chatty")) == 30
