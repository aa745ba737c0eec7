"""The official ``dingtalk-stream`` SDK (what real bots run), pointed at the sandbox: it opens
a ticket, connects, receives a robot message and replies with its own ``reply_text`` (a POST
to the message's ``sessionWebhook``, which the sandbox's bots package serves), receives an
event, and ACKs both as DingTalk expects.

Pointing it at the sandbox takes one class attribute, ``DingTalkStreamClient.
OPEN_CONNECTION_API`` (``PYSTREAM:dingtalk_stream/stream.py``: the ticket URL, built at import
from ``DINGTALK_OPENAPI_ENDPOINT``, which is read when the module is imported and so cannot
be set per test); the WebSocket URL then comes from the sandbox's answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dingtalk_stream
import pytest
from dingtalk_stream import AckMessage, ChatbotMessage, DingTalkStreamClient

from dingkit.resources.stream import BOT_MESSAGE_TOPIC, OPEN_CONNECTION
from dingkit.sandbox import SandboxServer
from dingkit.sandbox.bots.conversations import open_session, single_conversation

from .conftest import APP, DEADLINE


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorder(dingtalk_stream.ChatbotHandler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[ChatbotMessage] = []
        self.replies: list[Any] = []

    async def process(self, callback: dingtalk_stream.CallbackMessage) -> tuple[int, str]:
        message = ChatbotMessage.from_dict(callback.data)
        self.messages.append(message)
        # The SDK's own reply: a blocking POST of a text message (with the sender @-ed).
        self.replies.append(self.reply_text(f"echo:{message.text.content.strip()}", message))
        return AckMessage.STATUS_OK, "OK"


class Events(dingtalk_stream.EventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dingtalk_stream.EventMessage] = []

    async def process(self, event: dingtalk_stream.EventMessage) -> tuple[int, str]:
        self.events.append(event)
        return AckMessage.STATUS_OK, "OK"


class Running:
    """The SDK's ``start()`` on its own thread and event loop, stopped on exit."""

    def __init__(self, client: DingTalkStreamClient) -> None:
        self.client = client
        self.stop = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        task = asyncio.create_task(self.client.start())
        await asyncio.to_thread(self.stop.wait)
        # start() catches one CancelledError and sleeps 10 s before retrying: cancel again.
        while not task.done():
            for other in asyncio.all_tasks() - {asyncio.current_task()}:
                other.cancel()
            await asyncio.sleep(0.01)


@pytest.fixture
def official(
    serve: Callable[..., SandboxServer], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, Recorder, Events]]:
    server = serve()
    monkeypatch.setattr(
        DingTalkStreamClient, "OPEN_CONNECTION_API", server.url + OPEN_CONNECTION.path
    )
    # The SDK logs the ticket it was given at INFO ("endpoint is {...}"): its own logger,
    # quiet below warnings, keeps it out of the logs the secrets scan reads.
    quiet = logging.getLogger("tests.stream.official_sdk")
    quiet.setLevel(logging.WARNING)
    credential = dingtalk_stream.Credential(APP.app_key, APP.app_secret)
    client = DingTalkStreamClient(credential, logger=quiet)
    recorder, events = Recorder(), Events()
    client.register_callback_handler(ChatbotMessage.TOPIC, recorder)
    client.register_all_event_handler(events)
    running = Running(client)
    running.thread.start()
    try:
        yield server, recorder, events
    finally:
        running.stop.set()
        running.thread.join(timeout=DEADLINE)
        assert not running.thread.is_alive()


def _bot_message(server: SandboxServer, conversation_id: str, webhook: str) -> dict[str, Any]:
    """A one-to-one text message to the robot, as §8.1 describes it."""
    now = server.sandbox.now_ms()
    return {
        "msgtype": "text",
        "text": {"content": " hello"},
        "msgId": "msgTEST0001",
        "createAt": now,
        "conversationType": "1",
        "conversationId": conversation_id,
        "senderId": "$:LWCP_v1:$sender",
        "senderNick": "唐伟",
        "senderCorpId": server.sandbox.config.corp_id,
        "senderStaffId": "manager0001",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "robotCode": APP.app_key,
        "isInAtList": True,
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": now + 5_400_000,
    }


def _chat(server: SandboxServer) -> tuple[str, dict[str, Any]]:
    """A one-to-one chat with the robot and a message in it, with a session webhook on this
    sandbox."""
    conversation = single_conversation(server.sandbox, APP.app_key, "manager0001")
    webhook, _ = open_session(
        server.sandbox, conversation, robot_code=APP.app_key, base_url=server.url
    )
    return conversation.id, _bot_message(server, conversation.id, webhook)


def test_the_official_sdk_connects_receives_and_acks(
    official: tuple[SandboxServer, Recorder, Events],
) -> None:
    server, recorder, events = official
    stream = server.sandbox.stream
    wait_for(lambda: stream.connections(APP.app_key), "the SDK to connect")
    [connection] = stream.connections(APP.app_key)
    assert connection.grant.events
    assert connection.grant.callbacks == {BOT_MESSAGE_TOPIC}
    assert connection.grant.ua.startswith("dingtalk-sdk-python/")

    conversation_id, body = _chat(server)
    message_id = stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, body)
    wait_for(lambda: recorder.replies, "the message and the reply")
    [message] = recorder.messages
    assert (message.message_type, message.text.content) == ("text", " hello")
    assert message.sender_staff_id == "manager0001"
    assert recorder.replies == [{"errcode": 0, "errmsg": "ok"}]
    [reply] = server.sandbox.bots.messages(conversation_id)
    assert (reply.via, reply.robot_code) == ("session", APP.app_key)
    assert reply.data["payload"]["text"] == {"content": "echo:hello"}
    assert reply.data["payload"]["at"]["atUserIds"] == ["manager0001"]

    event_id = stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
    wait_for(lambda: event_id not in stream.pending_events(), "the event's ACK")
    [event] = events.events
    assert (event.headers.event_type, event.data) == ("user_add_org", {"userId": ["u1"]})

    acks = {e["message_id"]: e for e in stream.frames(limit=1000) if e["kind"] == "up"}
    assert acks[message_id]["code"] == 200
    assert acks[message_id]["ack"]["data"] == {"response": "OK"}
    assert acks[event_id]["settled"] is True  # code 200, no status: the SDK's way (§8.2)
    json.dumps(acks)


def test_the_official_sdk_reconnects_after_a_disconnect(
    official: tuple[SandboxServer, Recorder, Events],
) -> None:
    server, recorder, _ = official
    stream = server.sandbox.stream
    wait_for(lambda: stream.connections(APP.app_key), "the SDK to connect")
    [first] = stream.connections(APP.app_key)
    assert stream.disconnect(APP.app_key) == 1
    # The SDK closes on the disconnect frame (stream.py route_message) and opens a new ticket.
    wait_for(
        lambda: [c for c in stream.connections(APP.app_key) if c is not first],
        "a new connection",
    )
    stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, _chat(server)[1])
    wait_for(lambda: recorder.replies, "the message on the new connection")
