"""People who talk, bots that answer (issue 12, part 3): ``[[bot]]`` tables, a person's
message delivered as DingTalk delivers it (HTTP mode: POSTed and signed; Stream mode: a
CALLBACK frame), the bot's replies kept in the conversation, and the composer's JSON API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from bot.served import sandbox_with_bot
from dingkit.bot import Bot
from dingkit.sandbox import Sandbox
from dingkit.sandbox.bots.talk import group_conversation_id
from dingkit.sandbox.config import AppConfig, BotConfig, GroupConfig, SandboxConfig

APP = AppConfig(name="ops-app", app_key="dingopsapp0001", app_secret="ops-app-secret-0001")
BOSS = "manager0001"


def _echo_bot() -> Bot:
    bot = Bot()

    @bot.command("/echo")
    def echo(args: list[str]) -> str:
        return " ".join(args)

    @bot.fallback()
    async def later(message: Any, reply: Any) -> None:
        await reply.text("on it")  # in the response
        await reply.markdown("Later", f"**{message.text}**")  # then through the session

    return bot


@dataclass
class Chat:
    sandbox: Sandbox
    http: httpx.Client

    def write(
        self, conversation: str, text: str, *, at: tuple[str, ...] = (), sender: str = BOSS
    ) -> httpx.Response:
        body = {"sender": sender, "text": text, "at": list(at)}
        return self.http.post(f"/_sandbox/conversations/{conversation}/messages", json=body)

    def said(self, conversation: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"/_sandbox/conversations/{conversation}/messages")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["messages"])


@pytest.fixture
def chat() -> Iterator[Chat]:
    quiet = BotConfig(name="quiet", app=APP.name, robot_code="dingquiet0001", groups=("ops",))
    groups = (GroupConfig(id="ops", name="运维群"),)
    with (
        sandbox_with_bot(_echo_bot(), name="echo", app=APP, groups=groups, more_bots=(quiet,)) as (
            sandbox,
            server,
        ),
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        yield Chat(sandbox, http)


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_group_message_reaches_the_bot_mentioned_and_its_replies_are_kept(chat: Chat) -> None:
    ops = group_conversation_id("ops")
    listed = chat.http.get("/_sandbox/conversations").json()["conversations"]
    [group] = [c for c in listed if c["id"] == ops]
    assert group["type"] == "group"
    assert group["title"] == "运维群"

    answer = chat.write(ops, "/echo hello there", at=("echo",))
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivered_to"] == ["echo"]
    said = chat.said(ops)
    assert [m["via"] for m in said] == ["person", "response"]
    assert said[0]["text"] == "/echo hello there"
    assert said[0]["sender"] == BOSS
    assert said[1]["payload"] == {"msgtype": "text", "text": {"content": "hello there"}}

    # The same through the listing of all messages, by conversation.
    listed = chat.http.get("/_sandbox/messages", params={"conversation": ops}).json()
    assert [m["via"] for m in listed["messages"]] == ["person", "response"]

    # Not mentioned: DingTalk gives a group message to the robots mentioned only.
    assert chat.write(ops, "just chatting").json()["delivered_to"] == []


def test_a_late_reply_comes_back_through_the_session_webhook(chat: Chat) -> None:
    ops = group_conversation_id("ops")
    chat.write(ops, "status?", at=("echo",))
    _until(lambda: any(m["via"] == "session" for m in chat.said(ops)))
    late = next(m for m in chat.said(ops) if m["via"] == "session")
    assert late["payload"]["markdown"]["text"] == "**status?**"


def test_a_one_to_one_chat_needs_no_mention(chat: Chat) -> None:
    opened = chat.http.post("/_sandbox/conversations", json={"bot": "echo", "user": BOSS})
    assert opened.status_code == 200, opened.text
    conversation = opened.json()
    assert conversation["type"] == "single"
    again = chat.http.post("/_sandbox/conversations", json={"bot": "echo", "user": BOSS})
    assert again.json()["id"] == conversation["id"]  # one chat per person and robot
    assert chat.write(conversation["id"], "/echo 1:1").json()["delivered_to"] == ["echo"]
    assert chat.said(conversation["id"])[-1]["payload"]["text"]["content"] == "1:1"


def test_a_stream_bot_without_a_connection_is_told_undelivered(chat: Chat) -> None:
    ops = group_conversation_id("ops")
    assert chat.write(ops, "anyone?", at=("quiet",)).json()["delivered_to"] == ["quiet"]
    undelivered = [m for m in chat.said(ops) if m["via"] == "undelivered"]
    assert undelivered[-1]["reason"] == "the robot has no Stream connection open"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"sender": "nobody0000", "text": "hi"}, '"sender"'),
        ({"sender": BOSS, "text": " "}, '"text"'),
        ({"sender": BOSS, "text": "hi", "at": ["nobot"]}, "no bot named 'nobot'"),
        ({"sender": BOSS, "text": "hi", "at": "echo"}, '"at"'),
        ([1, 2], "JSON object"),
    ],
)
def test_the_composer_refuses_what_it_cannot_deliver(chat: Chat, body: Any, error: str) -> None:
    answer = chat.http.post(
        f"/_sandbox/conversations/{group_conversation_id('ops')}/messages", json=body
    )
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    missing = chat.http.post(
        "/_sandbox/conversations/cidnothing/messages", json={"sender": BOSS, "text": "x"}
    )
    assert missing.status_code == 404
    wrong = chat.http.post("/_sandbox/conversations", json={"bot": "echo", "user": "nobody"})
    assert wrong.status_code == 400


@pytest.mark.parametrize(
    ("bot", "error"),
    [
        ({"name": "b", "app": APP.name, "mode": "http"}, "give it a url"),
        ({"name": "b", "app": "nope"}, "no [[app]] has that name"),
        ({"name": "b", "app": APP.name, "groups": ["nowhere"]}, "unknown groups"),
    ],
)
def test_bot_tables_are_checked(bot: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error.replace("[", r"\[").replace("]", r"\]")):
        SandboxConfig.model_validate({"app": [APP.model_dump()], "bot": [bot]})
