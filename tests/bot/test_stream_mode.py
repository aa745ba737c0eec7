"""Stream mode end to end (§8.2): dingkit's Stream client against the sandbox's gateway. Robot
messages pushed as CALLBACK frames are answered through the session webhook; EVENT frames
reach the callback handlers through the inbox; disconnects, a restarted gateway, duplicates
and hostile frames neither lose nor repeat anything."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dingkit import NO_RETRY, AsyncDingTalk, AuthenticationError
from dingkit.bot import Bot
from dingkit.bot.replies import text_reply
from dingkit.bot.stream import StreamClient
from dingkit.bot.stream_frames import Backoff
from dingkit.callback import CallbackReceiver, UserAddOrg
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.dispatcher import Handlers
from dingkit.resources.stream import BOT_MESSAGE_TOPIC
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.bots.conversations import open_group, open_session
from dingkit.sandbox.config import AppConfig, SandboxConfig

from .wire import push

pytestmark = pytest.mark.anyio

APP = AppConfig(name="stream-bot", app_key="dingstreambot01", app_secret="stream-bot-secret-0001")
BOSS = "manager0001"
DEADLINE = 10.0
TIMINGS: dict[str, Any] = {
    "stream_ping_interval": 0.2,
    "stream_disconnect_grace": 0.3,
    "stream_event_timeout": 0.5,
}


async def until(condition: Callable[[], object], what: str, seconds: float = DEADLINE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class World:
    sandbox: Sandbox
    server: SandboxServer
    client: AsyncDingTalk
    data_dir: Path
    bot: Bot = field(default_factory=Bot)
    events: Handlers = field(default_factory=Handlers)
    streams: list[tuple[StreamClient, asyncio.Task[None]]] = field(default_factory=list)

    async def start(self) -> StreamClient:
        stream = StreamClient(
            self.bot,
            events=self.events,
            client=self.client,
            data_dir=self.data_dir,
            backoff=Backoff(initial=0.05, cap=0.5),
            lease=1.0,
        )
        before = stream.stats.get("connections", 0)
        task = asyncio.create_task(stream.run())
        self.streams.append((stream, task))
        await until(
            lambda: stream.stats.get("connections", 0) > before and self.connected() == 1,
            "the Stream connection",
        )
        return stream

    async def stop(self, stream: StreamClient) -> None:
        task = next(t for s, t in self.streams if s is stream)
        await stream.stop()
        await asyncio.wait_for(task, DEADLINE)

    def connected(self) -> int:
        return len(self.sandbox.stream.connections(APP.app_key))

    def message(self, text: str, **fields: Any) -> dict[str, Any]:
        conversation = open_group(self.sandbox, "ops", members=[BOSS], robot_codes=[APP.app_key])
        url, expires = open_session(self.sandbox, conversation, robot_code=APP.app_key)
        return push(
            "text",
            text={"content": text},
            conversationType="2",
            conversationId=conversation.id,
            senderStaffId=BOSS,
            robotCode=APP.app_key,
            sessionWebhook=url,
            sessionWebhookExpiredTime=expires,
            **{"msgId": f"msg{uuid.uuid4().hex}==", **fields},
        )

    def push_message(self, body: dict[str, Any]) -> str:
        return self.sandbox.stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, body)

    def push_event(self, event_id: str, user: str) -> str:
        data = {"timeStamp": str(int(time.time() * 1000)), "userId": [user]}
        return self.sandbox.stream.push_event(APP.app_key, "user_add_org", data, event_id=event_id)

    def sent(self, conversation_id: str) -> list[dict[str, Any]]:
        return [m.as_json() for m in self.sandbox.bots.messages(conversation_id)]

    def acks(self) -> list[dict[str, Any]]:
        return [f for f in self.sandbox.stream.frames(limit=5000) if f["kind"] == "up"]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    config = SandboxConfig(limits=False, apps=(APP,), **TIMINGS)
    sandbox = Sandbox.from_settings(config=config)
    server = SandboxServer(sandbox).start()
    client = AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base=server.url, api_base=server.url, retry=NO_RETRY,
        environ={},
    )  # fmt: skip
    made = World(sandbox, server, client, tmp_path / "data")
    try:
        yield made
    finally:
        for stream, task in made.streams:
            await stream.stop()
            await asyncio.wait_for(task, DEADLINE)
        await client.aclose()
        made.server.stop()
        sandbox.close()


def record_users(world: World) -> list[tuple[str | None, list[str]]]:
    handled: list[tuple[str | None, list[str]]] = []

    @world.events.on(UserAddOrg)
    async def joined(event: UserAddOrg) -> None:
        handled.append((event.event_id, event.user_ids))

    return handled


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_message_over_stream_is_answered_through_the_session_webhook(
    world: World, kind: str
) -> None:
    if kind == "async":

        @world.bot.command("/ping")
        async def ping(reply: Any, args: list[str]) -> None:
            await reply.text(f"pong {' '.join(args)}", at_sender=True)

    else:

        @world.bot.command("/ping")
        def ping_sync(args: list[str]) -> Any:  # a plain function answers by returning
            return text_reply(f"pong {' '.join(args)}", at_user_ids=[BOSS])

    stream = await world.start()
    body = world.message(" /ping api")
    message_id = world.push_message(body)
    await until(lambda: world.sent(body["conversationId"]), "the reply")
    [sent] = world.sent(body["conversationId"])
    assert sent["via"] == "session"
    assert sent["payload"]["text"]["content"].startswith("pong api")
    assert sent["payload"]["at"]["atUserIds"] == [BOSS]
    [acked] = [f for f in world.acks() if f["message_id"] == message_id]
    assert acked["code"] == 200
    assert stream.stats["messages"] == 1


async def test_pings_are_answered_with_their_opaque(world: World) -> None:
    await world.start()
    [connection] = world.sandbox.stream.connections(APP.app_key)
    await until(lambda: connection.pings_echoed >= 2, "two pings echoed")
    assert connection.bad_frames == 0


async def test_an_event_reaches_the_callback_handlers_once_acked_after_its_commit(
    world: World,
) -> None:
    handled = record_users(world)
    stream = await world.start()
    message_id = world.push_event("ev-1", "u1")
    await until(lambda: handled, "the handler")
    assert handled == [("ev-1", ["u1"])]
    [acked] = [f for f in world.acks() if f["message_id"] == message_id]
    assert acked["settled"] is True
    assert acked["ack"]["data"]["status"] == "SUCCESS"
    assert world.sandbox.stream.pending_events() == []
    assert stream.stats["events"] == 1


async def test_a_callback_receiver_as_events_shares_its_inbox_and_handlers(
    world: World,
) -> None:
    receiver = CallbackReceiver(
        "token", new_aes_key(), "dingcorp", data_dir=world.data_dir / "receiver", lease=1.0
    )
    handled: list[str | None] = []

    @receiver.on(UserAddOrg)
    def joined(event: UserAddOrg) -> None:  # a sync handler, in a thread
        handled.append(event.event_id)

    stream = StreamClient(events=receiver, client=world.client, data_dir=world.data_dir)
    task = asyncio.create_task(stream.run())
    world.streams.append((stream, task))
    await until(lambda: world.connected() == 1, "the connection")
    world.push_event("ev-r", "u")
    await until(lambda: handled == ["ev-r"], "the receiver's handler")
    assert receiver.inbox.counts()["done"] == 1


async def test_a_failing_handler_neither_ends_the_connection_nor_stops_the_next(
    world: World,
) -> None:
    @world.bot.command("/boom")
    async def boom() -> None:
        raise RuntimeError("the handler's bug")

    @world.bot.fallback()
    async def echo(reply: Any, message: Any) -> None:
        await reply.text("ok")

    stream = await world.start()
    world.push_message(world.message(" /boom"))
    body = world.message(" hello")
    world.push_message(body)
    await until(lambda: world.sent(body["conversationId"]), "the second reply")
    await until(lambda: stream.stats.get("handler_errors") == 1, "the failure logged")
    assert stream.stats["connections"] == 1
    assert world.connected() == 1


async def test_a_disconnect_frame_reconnects_one_connection_at_a_time_losing_no_event(
    world: World,
) -> None:
    handled = record_users(world)
    stream = await world.start()
    world.push_event("ev-before", "a")
    await until(lambda: len(handled) == 1, "the first event")
    told = world.sandbox.stream.disconnect(APP.app_key)
    assert told == 1
    world.push_event("ev-during", "b")  # no connection ready: waits for the next one
    await until(lambda: stream.stats["connections"] == 2, "the new connection")
    world.push_event("ev-after", "c")
    await until(lambda: len(handled) == 3, "all three events")
    await until(lambda: not world.sandbox.stream.pending_events(), "every event settled")
    assert sorted(e for e, _ in handled) == ["ev-after", "ev-before", "ev-during"]
    opened = 0
    for frame in world.sandbox.stream.frames(limit=5000):
        opened += {"open": 1, "close": -1}.get(frame["kind"], 0)
        assert opened <= 1, "two connections at once"


async def test_a_gateway_that_sends_every_connection_away_at_once_is_not_hammered(
    world: World,
) -> None:
    stream = StreamClient(
        world.bot, client=world.client, data_dir=world.data_dir, backoff=Backoff(0.2, 0.2)
    )
    world.streams.append((stream, asyncio.create_task(stream.run())))
    started = time.monotonic()

    def sent_away_five_times() -> bool:
        world.sandbox.stream.disconnect(APP.app_key)  # each new connection, as soon as it opens
        return stream.stats.get("connections", 0) >= 5

    await until(sent_away_five_times, "five connections")
    # Younger than ROTATE_AFTER, so each waited out the backoff (at least 0.1 s) first.
    assert time.monotonic() - started >= 4 * 0.1


async def test_a_restarted_gateway_is_reconnected_and_no_event_is_lost_or_repeated(
    world: World,
) -> None:
    handled = record_users(world)
    stream = await world.start()
    world.push_event("ev-1", "a")
    await until(lambda: len(handled) == 1, "the first event")
    port = world.server.port
    world.server.stop()
    await until(lambda: world.connected() == 0, "the gateway gone")
    world.push_event("ev-2", "b")  # pushed while nobody is connected: waits
    world.server = SandboxServer(world.sandbox, port=port).start()
    await until(lambda: stream.stats["connections"] >= 2, "the reconnection", seconds=15)
    world.push_event("ev-3", "c")
    await until(lambda: len(handled) == 3, "all three events")
    await until(lambda: not world.sandbox.stream.pending_events(), "every event settled")
    assert sorted(e for e, _ in handled) == ["ev-1", "ev-2", "ev-3"]


async def test_an_event_pushed_again_is_handled_once(world: World) -> None:
    handled = record_users(world)
    stream = await world.start()
    world.push_event("ev-same", "a")
    world.push_event("ev-same", "a")  # a new messageId, the same eventId: a re-push
    await until(lambda: stream.stats.get("duplicate_events") == 1, "the copy acked")
    await until(lambda: handled, "the handler")
    await until(lambda: not world.sandbox.stream.pending_events(), "both settled")
    assert handled == [("ev-same", ["a"])]


async def test_a_failed_commit_is_acked_later_and_the_re_push_is_handled(world: World) -> None:
    handled = record_users(world)
    stream = await world.start()
    assert stream._intake is not None
    inbox = stream._intake.inbox
    assert inbox is not None
    add, failures = inbox.add, [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if not failures[0]:
            failures[0] += 1
            raise OSError("disk full")
        return add(*args, **kwargs)

    inbox.add = flaky  # type: ignore[method-assign]
    message_id = world.push_event("ev-flaky", "a")
    await until(lambda: handled, "the re-pushed event handled")
    acks = [f for f in world.acks() if f["message_id"] == message_id]
    assert [a["code"] for a in acks] == [500, 200]
    assert acks[0]["ack"]["data"]["status"] == "LATER"
    assert handled == [("ev-flaky", ["a"])]


async def test_a_repeated_message_is_handled_once_also_after_a_restart(world: World) -> None:
    @world.bot.fallback()
    async def echo(reply: Any, message: Any) -> None:
        await reply.text(f"got {message.msg_id}")

    stream = await world.start()
    body = world.message(" hi", msgId="msg-repeated==")
    world.push_message(body)
    world.push_message(body)
    await until(lambda: stream.stats.get("duplicate_messages") == 1, "the copy dropped")
    await until(lambda: world.sent(body["conversationId"]), "the reply")
    await world.stop(stream)
    again = await world.start()  # the same data dir
    world.push_message(body)
    await until(lambda: again.stats.get("duplicate_messages") == 1, "the copy dropped")
    fresh = world.message(" another")
    world.push_message(fresh)
    await until(lambda: world.sent(fresh["conversationId"]), "a new message answered")
    assert len(world.sent(body["conversationId"])) == 1


async def test_a_bug_in_reading_a_frame_reconnects_rather_than_ends_the_client(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = await world.start()
    real, calls = stream._dispatch, [0]

    async def buggy(*args: Any) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise KeyError("a bug")
        await real(*args)

    monkeypatch.setattr(stream, "_dispatch", buggy)
    world.sandbox.stream.ping(world.sandbox.stream.connections(APP.app_key)[0])
    await until(lambda: stream.stats.get("connections") == 2, "the new connection")
    assert stream.stats["client_errors"] == 1


async def test_a_second_client_for_the_same_app_is_refused(world: World) -> None:
    await world.start()
    second = StreamClient(world.bot, client=world.client, data_dir=world.data_dir)
    with pytest.raises(RuntimeError, match="already running"):
        await second.run()
    assert world.connected() == 1


async def replaced(world: World, connection: Any) -> Any:
    """Send a frame over the client's limit (1009) and wait for the connection after."""
    connection.post(_frame("CALLBACK", None, "x" * (2 << 20)))
    current = world.sandbox.stream.connections
    await until(lambda: current(APP.app_key) not in ([], [connection]), "a new connection")
    [after] = current(APP.app_key)
    return after


async def test_wrong_credentials_end_the_client_with_an_authentication_error(
    world: World,
) -> None:
    wrong = AsyncDingTalk(
        APP.app_key, "not-the-secret", api_base=world.server.url, retry=NO_RETRY, environ={}
    )
    stream = StreamClient(world.bot, client=wrong, data_dir=world.data_dir)
    try:
        with pytest.raises(AuthenticationError):
            await asyncio.wait_for(stream.run(), DEADLINE)
    finally:
        await wrong.aclose()
    assert world.connected() == 0


async def test_stop_while_connecting_opens_nothing(world: World) -> None:
    stream = StreamClient(world.bot, client=world.client, data_dir=world.data_dir)
    task = asyncio.create_task(stream.run())
    await asyncio.sleep(0)  # run() is on its way to the ticket
    await stream.stop()
    await asyncio.wait_for(task, DEADLINE)
    assert stream.stats.get("connections", 0) == 0
    await until(lambda: world.connected() == 0, "no connection left")


def _frame(kind: str, message_id: str | None, data: Any, **headers: str) -> str:
    head = {"topic": BOT_MESSAGE_TOPIC, **headers}
    if message_id:
        head["messageId"] = message_id
    return json.dumps({"specVersion": "1.0", "type": kind, "headers": head, "data": data})


async def test_hostile_frames_are_logged_once_and_never_end_the_client(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    @world.bot.fallback()
    async def echo(reply: Any) -> None:
        await reply.text("still here")

    handled = record_users(world)
    stream = await world.start()
    [connection] = world.sandbox.stream.connections(APP.app_key)
    caplog.set_level(logging.WARNING, logger="dingkit.bot.stream")
    hostile = [
        "not json {",
        "[]",
        '{"type": 1}',
        '{"type": "CALLBACK", "headers": "x"}',
        '{"type": "CALLBACK", "headers": {"messageId": "m0"}, "data": 1}',
        '{"type": "CALLBACK", "data": "NaN"}',
        _frame("CALLBACK", "m1", "garbage"),
        _frame("CALLBACK", "m2", "{}"),  # no msgtype, conversation, ...
        _frame("CALLBACK", "m3", json.dumps({"msgtype": "text"} | {"x": "y" * 100_000})),
        _frame("EVENT", "m4", '{"userId": ["x"]}'),  # no eventType header
        _frame("EVENT", "m5", "[1, 2]", eventType="user_add_org", eventId="ev-x"),
        _frame("SYSTEM", "m6", "{{{", topic="ping"),
        _frame("MYSTERY", "m7", "{}"),
        _frame("CALLBACK", "m8", "[" * 100_000),  # nested past any parser's depth
    ]
    for text in hostile * 2:
        connection.post(text)
    for _ in range(2):
        connection = await replaced(world, connection)
    body = world.message(" are you alive?")
    world.push_message(body)
    world.push_event("ev-alive", "z")
    await until(lambda: world.sent(body["conversationId"]), "the reply")
    await until(lambda: handled == [("ev-alive", ["z"])], "the event")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == len(set(warnings)), warnings  # each kind of trouble once
    assert not [r for r in caplog.records if r.exc_info], "a traceback"
    assert stream.stats["bad_frames"] >= 10
    assert stream.stats["connections"] == 3  # the two oversized frames: reopened cleanly
