"""HTTP mode end to end (§8.1): pushes signed as DingTalk signs them reach the bot's handlers;
the first timely reply goes back in the response, later ones through the session webhook of
a live sandbox, and through the robot OpenAPI once the session has expired; forged and stale
requests are refused without reaching a handler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dingkit import NO_RETRY, AsyncDingTalk
from dingkit.bot import Bot
from dingkit.bot.http import BotHTTPApp
from dingkit.bot.replies import text_reply
from dingkit.bot.signing import sign
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.bots.conversations import open_group, open_session, single_conversation
from dingkit.sandbox.config import AppConfig, SandboxConfig

from .wire import push

pytestmark = pytest.mark.anyio

APP = AppConfig(name="bot-app", app_key="dingbotapp0001", app_secret="bot-app-secret-0001")
BOSS = "manager0001"


@dataclass
class World:
    sandbox: Sandbox
    client: AsyncDingTalk
    bot: Bot
    http: httpx.AsyncClient  # to the bot's app, as DingTalk
    app: BotHTTPApp

    def message(
        self, text: str, *, group: bool = True, ttl_ms: int | None = None
    ) -> dict[str, Any]:
        """A push for the bot, with a real session webhook of the sandbox."""
        if group:
            conversation = open_group(
                self.sandbox, "ops", members=[BOSS], robot_codes=[APP.app_key]
            )
        else:
            conversation = single_conversation(self.sandbox, APP.app_key, BOSS)
        url, expires = open_session(self.sandbox, conversation, robot_code=APP.app_key)
        return push(
            "text",
            text={"content": text},
            conversationType="2" if group else "1",
            conversationId=conversation.id,
            senderStaffId=BOSS,
            robotCode=APP.app_key,
            sessionWebhook=url,
            sessionWebhookExpiredTime=expires
            if ttl_ms is None
            else int(time.time() * 1000) + ttl_ms,
        )

    async def post(
        self, body: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        now = str(int(time.time() * 1000))
        signed = {"timestamp": now, "sign": sign(now, APP.app_secret)}
        chosen = signed if headers is None else headers
        return await self.http.post("/", content=json.dumps(body), headers=chosen)

    def sent(self, conversation_id: str) -> list[dict[str, Any]]:
        return [m.as_json() for m in self.sandbox.bots.messages(conversation_id)]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(limits=False, apps=(APP,)))
    server = SandboxServer(sandbox).start()
    client = AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base=server.url, api_base=server.url, retry=NO_RETRY,
        environ={},
    )  # fmt: skip
    bot = Bot()
    app = BotHTTPApp(bot, app_secret=APP.app_secret, client=client, reply_within=5.0)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            yield World(sandbox, client, bot, http, app)
        await app.aclose()
    finally:
        server.stop()
        sandbox.close()


async def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_timely_reply_goes_back_in_the_response(world: World, kind: str) -> None:
    if kind == "async":

        @world.bot.command("/ping")
        async def ping(reply: Any) -> None:
            await reply.text("pong", at_sender=True)

    else:

        @world.bot.command("/ping")
        def ping_sync(args: list[str]) -> Any:  # a plain function answers by returning
            return text_reply(f"pong {' '.join(args)}".strip(), at_user_ids=[BOSS])

    response = await world.post(world.message(" /ping"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["msgtype"] == "text"
    assert answer["text"]["content"].startswith("pong")
    assert answer["at"]["atUserIds"] == [BOSS]


async def test_late_and_extra_replies_go_through_the_session_webhook(world: World) -> None:
    release = asyncio.Event()

    @world.bot.command("/deploy")
    async def deploy(reply: Any, args: list[str]) -> None:
        await reply.text(f"deploying {args[0]}")  # in the response
        await release.wait()
        await reply.markdown("Deploy", f"**{args[0]}** is live")  # later: the session

    body = world.message(" /deploy api")
    response = await world.post(body)
    assert response.json()["text"]["content"] == "deploying api"
    release.set()
    await _until(lambda: len(world.sent(body["conversationId"])) == 1)
    [late] = world.sent(body["conversationId"])
    assert late["via"] == "session"
    assert late["payload"]["markdown"]["text"] == "**api** is live"


async def test_a_slow_handler_gets_an_empty_answer_and_replies_later(world: World) -> None:
    world.app.reply_within = 0.05

    @world.bot.fallback()
    async def slow(reply: Any) -> None:
        await asyncio.sleep(0.3)  # the handler's work, longer than reply_within
        await reply.text("done")

    body = world.message(" anything")
    response = await world.post(body)
    assert response.json() == {"msgtype": "empty"}
    await _until(lambda: len(world.sent(body["conversationId"])) == 1)
    assert world.sent(body["conversationId"])[0]["via"] == "session"


@pytest.mark.parametrize("group", [True, False], ids=["group", "one-to-one"])
async def test_an_expired_session_falls_back_to_the_robot_openapi(
    world: World, group: bool
) -> None:
    world.app.reply_within = 0.01

    @world.bot.fallback()
    async def late(reply: Any) -> None:
        await asyncio.sleep(0.05)
        await reply.text("from the OpenAPI", at_sender=True)  # the OpenAPI drops the mention

    body = world.message(" hello", group=group, ttl_ms=-1000)  # expired already
    assert (await world.post(body)).json() == {"msgtype": "empty"}
    conversation = body["conversationId"]
    await _until(lambda: len(world.sent(conversation)) == 1)
    [sent] = world.sent(conversation)
    assert sent["via"] != "session"


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, "missing_timestamp"),
        ({"timestamp": str(int(time.time() * 1000))}, 401, "missing_sign"),
        ({"timestamp": "1577262236757", "sign": sign(1577262236757, APP.app_secret)}, 403, "stale"),
        ({"timestamp": "now", "sign": "x"}, 403, "bad_timestamp"),
        (None, 403, "mismatch"),
    ],
)
async def test_forged_and_stale_requests_are_refused(
    world: World, headers: dict[str, str] | None, status: int, reason: str
) -> None:
    ran: list[str] = []

    @world.bot.fallback()
    async def anything(message: Any) -> None:
        ran.append(message.text)

    if headers is None:  # a fresh timestamp signed with another secret
        now = str(int(time.time() * 1000))
        headers = {"timestamp": now, "sign": sign(now, "not-the-secret")}
    response = await world.post(world.message(" hi"), headers=headers)
    assert response.status_code == status
    assert response.json()["error"] == reason
    assert "bot-app-secret" not in response.text
    assert ran == []


async def test_a_body_that_is_not_a_message_is_a_400(world: World) -> None:
    now = str(int(time.time() * 1000))
    headers = {"timestamp": now, "sign": sign(now, APP.app_secret)}
    for body in (b"not json", b'{"msgtype": "text"}', b"[" * 10_000):
        response = await world.http.post("/", content=body, headers=headers)
        assert response.status_code == 400, body[:20]
        assert response.json()["error"] == "message"
    assert (await world.http.get("/")).status_code == 405
    assert (await world.http.post("/elsewhere", content=b"{}")).status_code == 404


async def test_a_plain_function_answers_by_returning_text(world: World) -> None:
    @world.bot.fallback()
    def echo(message: Any) -> str:  # runs in a worker thread
        return f"you said: {message.text}"

    response = await world.post(world.message(" 你好"))
    assert response.json() == {"msgtype": "text", "text": {"content": "you said: 你好"}}
