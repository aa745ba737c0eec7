from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dingkit import (
    NO_RETRY,
    APITimeoutError,
    AsyncRobot,
    MessageValidationError,
    RateLimitError,
    RetryPolicy,
    Robot,
    SecurityCheckError,
    SlidingWindow,
)
from dingkit.robot.compose import MAX_BODY_BYTES
from dingkit.robot.messages import (
    ActionButton,
    ActionCard,
    At,
    FeedCard,
    FeedLink,
    Link,
    Markdown,
    RobotMessage,
    Text,
    to_payload,
)
from dingkit.sandbox import Sandbox, SandboxServer

MOBILE = "13800000000"
USER = "user001"
FAST_RETRY = RetryPolicy(initial_delay=0.001, max_delay=0.001)

# Mention text already in the bodies, so what is sent is exactly to_payload(message).
MESSAGES: dict[str, RobotMessage] = {
    "text": Text(
        content=f"disk full on db-1 @{MOBILE} @{USER}",
        at=At(at_mobiles=(MOBILE,), at_user_ids=(USER,)),
    ),
    "text-at-all": Text(content="everyone: maintenance at 22:00", at=At(is_at_all=True)),
    "markdown": Markdown(
        title="Deploy",
        text=f"## Deploy done\n- **api** is live\n\n@{MOBILE}",
        at=At(at_mobiles=(MOBILE,), is_at_all=True),
    ),
    "link": Link(
        title="Build 42",
        text="all green",
        message_url="https://ci.example.com/42",
        pic_url="https://ci.example.com/42.png",
    ),
    "actionCard-single": ActionCard(
        title="Release v1.2",
        text="### v1.2\nready",
        single_title="Open",
        single_url="https://example.com/release",
    ),
    "actionCard-buttons": ActionCard(
        title="Approve?",
        text=f"@{USER} approve the release",
        buttons=(
            ActionButton(title="Yes", action_url="https://example.com/yes"),
            ActionButton(title="No", action_url="https://example.com/no"),
            ActionButton(title="Later", action_url="dingtalk://dingtalkclient/page/later"),
        ),
        btn_orientation="1",
        hide_avatar="1",
    ),
    "feedCard": FeedCard(
        links=(
            FeedLink(
                title="first",
                message_url="https://example.com/1",
                pic_url="https://example.com/1.png",
            ),
            FeedLink(title="second", message_url="https://example.com/2"),
        )
    ),
}


class Recorder(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Forwards every request and keeps its JSON body; optionally times out after forwarding.

    ``timeouts`` first calls reach the server, then raise ``httpx.ReadTimeout`` as if the
    answer had been lost on the way back.
    """

    def __init__(self, inner: Any, *, timeouts: int = 0) -> None:
        self.inner = inner
        self.timeouts = timeouts
        self.bodies: list[dict[str, Any]] = []

    def _record(self, request: httpx.Request) -> None:
        self.bodies.append(json.loads(request.content))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._record(request)
        response = await self.inner.handle_async_request(request)
        if len(self.bodies) <= self.timeouts:
            await response.aread()
            await response.aclose()
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._record(request)
        response = self.inner.handle_request(request)
        if len(self.bodies) <= self.timeouts:
            response.read()
            response.close()
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def close(self) -> None:
        self.inner.close()


async def no_sleep(seconds: float) -> None:
    return None


def recorded(sandbox: Sandbox, robot: str) -> list[dict[str, Any]]:
    return [m.payload for m in sandbox.robot.messages(robot=robot)]


# -- round trips ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(MESSAGES))
async def test_async_round_trip_records_exactly_what_was_sent(
    kind: str,
    sandbox: Sandbox,
    robot_for: Callable[..., AsyncRobot],
    asgi_client: httpx.AsyncClient,
) -> None:
    message = MESSAGES[kind]
    recorder: Recorder | None = None

    def wrap(inner: httpx.AsyncBaseTransport) -> Recorder:
        nonlocal recorder
        recorder = Recorder(inner)
        return recorder

    robot = robot_for(sandbox, "alerts", wrap=wrap)
    result = await robot.send(message)
    assert result.responses == ({"errcode": 0, "errmsg": "ok"},)
    assert recorder is not None
    expected = to_payload(message, msg_uuid=result.msg_uuid)
    assert recorder.bodies == [expected]

    answer = (await asgi_client.get("/_sandbox/messages", params={"robot": "alerts"})).json()
    [stored] = answer["messages"]
    assert stored["payload"] == expected
    assert stored["msgtype"] == message.msgtype
    assert stored["msg_uuid"] == result.msg_uuid
    assert (stored["robot"], stored["group"]) == ("alerts", "demo")


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_sync_round_trip_through_a_live_sandbox(kind: str, live_sandbox: SandboxServer) -> None:
    message = MESSAGES[kind]
    stored_robot = live_sandbox.sandbox.robot.robot_by_name("alerts")
    assert stored_robot is not None
    recorder = Recorder(httpx.HTTPTransport())
    with (
        httpx.Client(transport=recorder) as http,
        Robot(
            token=stored_robot.token,
            secret=stored_robot.secret,
            name="alerts",
            base_url=live_sandbox.url,
            http_client=http,
            rate_limit=False,
            retry=NO_RETRY,
        ) as robot,
    ):
        result = robot.send(message)
    expected = to_payload(message, msg_uuid=result.msg_uuid)
    assert recorder.bodies == [expected]
    answer = httpx.get(f"{live_sandbox.url}/_sandbox/messages", params={"robot": "alerts"})
    [stored] = answer.json()["messages"]
    assert stored["payload"] == expected
    assert stored["msg_uuid"] == result.msg_uuid


@pytest.mark.anyio
async def test_send_helpers_build_dingtalk_field_names(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts")
    await robot.send_text("t", at_mobiles=[MOBILE], at_user_ids=[USER], at_all=True)
    await robot.send_markdown("T", "**m**", at_user_ids=[USER])
    await robot.send_link("L", "l", "https://a.example/l", pic_url="https://a.example/p.png")
    await robot.send_action_card("A", "a", single_title="go", single_url="https://a.example/s")
    await robot.send_action_card(
        "B",
        "b",
        buttons=[
            ("Yes", "https://a.example/y"),
            ActionButton(title="No", action_url="https://a.example/n"),
        ],
        btn_orientation="1",
        hide_avatar=True,
    )
    await robot.send_feed_card(
        [("F1", "https://a.example/1", "https://a.example/1.png"), ("F2", "https://a.example/2")]
    )
    text, markdown, link, single, buttons, feed = recorded(sandbox, "alerts")
    assert text["at"] == {"atMobiles": [MOBILE], "atUserIds": [USER], "isAtAll": True}
    assert text["text"]["content"] == f"t @{MOBILE} @{USER}"
    assert markdown["at"] == {"atUserIds": [USER]}
    assert markdown["markdown"] == {"title": "T", "text": f"**m**\n\n@{USER}"}
    assert link["link"] == {
        "title": "L",
        "text": "l",
        "messageUrl": "https://a.example/l",
        "picUrl": "https://a.example/p.png",
    }
    assert single["actionCard"]["singleURL"] == "https://a.example/s"
    assert single["actionCard"]["singleTitle"] == "go"
    assert buttons["actionCard"]["btns"] == [
        {"title": "Yes", "actionURL": "https://a.example/y"},
        {"title": "No", "actionURL": "https://a.example/n"},
    ]
    assert (buttons["actionCard"]["btnOrientation"], buttons["actionCard"]["hideAvatar"]) == (
        "1",
        "1",
    )
    assert feed["feedCard"]["links"] == [
        {"title": "F1", "messageURL": "https://a.example/1", "picURL": "https://a.example/1.png"},
        {"title": "F2", "messageURL": "https://a.example/2"},
    ]
    for payload in (text, markdown, link, single, buttons, feed):
        assert isinstance(payload["msgUuid"], str)
        assert payload["msgUuid"]


# -- msgUuid and timeouts ---------------------------------------------------------------


@pytest.mark.anyio
async def test_retry_after_a_timeout_reuses_the_msg_uuid_and_posts_once(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    recorders: list[Recorder] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> Recorder:
        recorders.append(Recorder(inner, timeouts=1))
        return recorders[-1]

    robot = robot_for(sandbox, "alerts", wrap=wrap, retry=FAST_RETRY, sleep=no_sleep)
    result = await robot.send_text("only once please")
    [recorder] = recorders
    assert len(recorder.bodies) == 2
    assert recorder.bodies[0] == recorder.bodies[1]
    assert recorder.bodies[0]["msgUuid"] == result.msg_uuid
    [stored] = sandbox.robot.messages(robot="alerts")
    assert stored.msg_uuid == result.msg_uuid


def test_sync_retry_after_a_timeout_posts_once(live_sandbox: SandboxServer) -> None:
    stored_robot = live_sandbox.sandbox.robot.robot_by_name("alerts")
    assert stored_robot is not None
    recorder = Recorder(httpx.HTTPTransport(), timeouts=2)
    sleeps: list[float] = []
    with (
        httpx.Client(transport=recorder) as http,
        Robot(
            token=stored_robot.token,
            secret=stored_robot.secret,
            name="alerts",
            base_url=live_sandbox.url,
            http_client=http,
            rate_limit=False,
            retry=FAST_RETRY,
            sleep=sleeps.append,
        ) as robot,
    ):
        result = robot.send_text("only once please")
    assert len(recorder.bodies) == 3
    assert {body["msgUuid"] for body in recorder.bodies} == {result.msg_uuid}
    assert len(sleeps) == 2
    assert len(live_sandbox.sandbox.robot.messages(robot="alerts")) == 1


@pytest.mark.anyio
async def test_timeouts_on_every_try_raise_api_timeout_error(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(
        sandbox,
        "alerts",
        wrap=lambda inner: Recorder(inner, timeouts=99),
        retry=FAST_RETRY,
        sleep=no_sleep,
    )
    with pytest.raises(APITimeoutError) as info:
        await robot.send_text("lost answers")
    assert info.value.robot == "alerts"
    # Every try reached the sandbox, and it still shows the message once.
    assert len(sandbox.robot.messages(robot="alerts")) == 1


# -- validation before sending ----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "message",
    [
        Text(content="告" * 7000),
        Text(content="x", at=At(at_mobiles=tuple(f"138{i:08d}" for i in range(51)))),
        Markdown(title="", text="body"),
        Link(title="t", text="x", message_url="not a url"),
        FeedCard(links=(FeedLink(title="a", message_url="https:/missing-slash"),)),
    ],
    ids=["too-large", "51-mentions", "empty-title", "bad-url", "bad-feed-url"],
)
async def test_invalid_message_is_refused_before_anything_is_posted(
    message: RobotMessage, sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    recorders: list[Recorder] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> Recorder:
        recorders.append(Recorder(inner))
        return recorders[-1]

    robot = robot_for(sandbox, "alerts", wrap=wrap)
    with pytest.raises(MessageValidationError):
        await robot.send(message)
    assert recorders[0].bodies == []
    assert sandbox.robot.messages() == []
    assert sandbox.robot.rejections() == []


@pytest.mark.anyio
async def test_6500_chinese_characters_fit(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts")
    content = "部署" * 3250
    await robot.send_text(content)
    [payload] = recorded(sandbox, "alerts")
    assert payload["text"]["content"] == content
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    assert 19500 < len(body) <= MAX_BODY_BYTES


# -- splitting --------------------------------------------------------------------------


def long_lines(count: int) -> str:
    return "\n".join(f"{i:04d} 服务 api-{i} 状态正常, latency {i % 97} ms" for i in range(count))


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text", "markdown"])
async def test_split_sends_every_part_in_order(
    kind: str, sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    original = long_lines(1500)
    robot = robot_for(sandbox, "alerts")
    if kind == "text":
        result = await robot.send_text(original, split=True)
        bodies = [p["text"]["content"] for p in recorded(sandbox, "alerts")]
    else:
        result = await robot.send_markdown("Status", original, split=True)
        bodies = [p["markdown"]["text"] for p in recorded(sandbox, "alerts")]
    assert result.parts >= 3
    assert "".join(bodies) == original
    stored = sandbox.robot.messages(robot="alerts")
    assert [m.msg_uuid for m in stored] == list(result.msg_uuids)
    for message in stored:
        size = len(json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode())
        assert size <= MAX_BODY_BYTES


@pytest.mark.anyio
async def test_split_mentions_only_in_the_first_part(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts")
    result = await robot.send_text(long_lines(1500), split=True, at_mobiles=[MOBILE])
    first, *rest = recorded(sandbox, "alerts")
    assert result.parts == 1 + len(rest) >= 3
    assert first["at"] == {"atMobiles": [MOBILE]}
    assert f"@{MOBILE}" in first["text"]["content"]
    assert all("at" not in part and MOBILE not in part["text"]["content"] for part in rest)


@pytest.mark.anyio
async def test_split_without_split_flag_is_refused(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "alerts")
    with pytest.raises(MessageValidationError, match="split=True"):
        await robot.send_text(long_lines(1500))
    assert sandbox.robot.messages() == []


# -- keyword ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_keyword_is_added_to_messages_that_lack_it(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "deploys", keyword="deploy")
    await robot.send_text("api is live")
    await robot.send_markdown("Release", "all green")
    await robot.send_action_card(
        "Release", "v2", single_title="Open", single_url="https://a.example"
    )
    text, markdown, card = recorded(sandbox, "deploys")
    assert "deploy" in text["text"]["content"]
    assert "deploy" in markdown["markdown"]["text"]
    assert "deploy" in card["actionCard"]["text"]


@pytest.mark.anyio
async def test_without_the_keyword_the_sandbox_refuses(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot]
) -> None:
    robot = robot_for(sandbox, "deploys")
    with pytest.raises(SecurityCheckError) as info:
        await robot.send_text("api is live")
    assert (info.value.errcode, info.value.reason) == (310000, "keyword")


# -- the client's own rate limit --------------------------------------------------------


@pytest.mark.anyio
async def test_wait_false_raises_on_the_21st_without_posting(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot], fake_clock: Callable[[], float]
) -> None:
    robot = robot_for(sandbox, "alerts", rate_limit=SlidingWindow(20, 60, clock=fake_clock))
    for i in range(20):
        await robot.send_text(f"message {i}", wait=False)
    with pytest.raises(RateLimitError) as info:
        await robot.send_text("one too many", wait=False)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0
    assert info.value.errcode is None
    assert info.value.robot == "alerts"
    assert len(sandbox.robot.messages(robot="alerts")) == 20
    assert sandbox.robot.rejections() == []


def test_sync_wait_false_raises_on_the_21st(fake_clock: Callable[[], float]) -> None:
    posts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        Robot(
            token="tok",
            base_url="http://sandbox",
            http_client=http,
            rate_limit=SlidingWindow(20, 60, clock=fake_clock),
        ) as robot,
    ):
        for _ in range(20):
            robot.send_text("x", wait=False)
        with pytest.raises(RateLimitError) as info:
            robot.send_text("x", wait=False)
    assert info.value.retry_after == pytest.approx(60)
    assert len(posts) == 20


def test_default_rate_limit_is_shared_by_clients_of_one_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        Robot(token="shared-token-1", base_url="http://sandbox", http_client=http) as one,
        Robot(token="shared-token-1", base_url="http://sandbox", http_client=http) as two,
        Robot(token="shared-token-2", base_url="http://sandbox", http_client=http) as other,
    ):
        assert one.limiter is not None
        assert one.limiter.limit == 20
        for _ in range(10):
            one.send_text("x", wait=False)
            two.send_text("x", wait=False)
        with pytest.raises(RateLimitError):
            one.send_text("x", wait=False)
        other.send_text("x", wait=False)  # a robot of its own, with its own window
    with Robot(token="shared-token-1", rate_limit=False) as off:
        assert off.limiter is None


@pytest.mark.anyio
async def test_a_given_msg_uuid_makes_a_resend_idempotent_and_names_split_parts(
    sandbox: Sandbox, robot_for: Callable[..., AsyncRobot], asgi_client: httpx.AsyncClient
) -> None:
    robot = robot_for(sandbox, "alerts")
    first = await robot.send(Text(content="disk full"), msg_uuid="relay-0001")
    again = await robot.send(Text(content="disk full"), msg_uuid="relay-0001")
    assert first.msg_uuids == again.msg_uuids == ("relay-0001",)
    long = Text(content="\n".join(f"line {n} " + "x" * 200 for n in range(200)))
    split = await robot.send(long, split=True, msg_uuid="relay-0002")
    assert split.parts > 1
    assert split.msg_uuids == tuple(f"relay-0002-{n}" for n in range(1, split.parts + 1))
    answer = (await asgi_client.get("/_sandbox/messages", params={"robot": "alerts"})).json()
    uuids = [stored["msg_uuid"] for stored in answer["messages"]]
    assert uuids.count("relay-0001") == 1  # DingTalk posts a msgUuid once (§2.1)
    assert sorted(u for u in uuids if u.startswith("relay-0002")) == sorted(split.msg_uuids)
