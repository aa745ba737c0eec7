"""A bot that streams an AI answer into a card, end to end: a dingkit Bot in HTTP mode wired
to the sandbox by a ``[[bot]]`` table streams chunks with ``reply.stream``; the conversation
shows one card message whose content is the text so far, finished at the end. The official
SDK's own AI card (``AIMarkdownCardInstance``) works against the same routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.served import sandbox_with_bot
from dingkit.bot import Bot
from dingkit.sandbox import Sandbox
from dingkit.sandbox.bots.talk import group_conversation_id
from dingkit.sandbox.config import AppConfig, GroupConfig

APP = AppConfig(name="ai-app", app_key="dingaiapp0001", app_secret="ai-app-secret-0001")
BOSS = "manager0001"
TPL = "382e4302-551d-4880-bf29-a30acfab2e71.schema"
CHUNKS = ("Streaming ", "into ", "a card.")


def _ai_bot() -> Bot:
    bot = Bot()

    @bot.command("/plain")
    async def plain(reply: Any) -> None:
        await reply.card("589420e2-c1e2-46ef-a5ed-b8728e654da9.schema", {"markdown": "**hi**"})

    @bot.fallback()
    async def answer(reply: Any) -> None:
        async with reply.stream(TPL, key="content", data={"title": "AI"}) as card:
            for chunk in CHUNKS:
                await card.append(chunk)

    return bot


@dataclass
class Chat:
    sandbox: Sandbox
    http: httpx.Client

    def write(self, conversation: str, text: str, *, at: tuple[str, ...] = ()) -> None:
        body = {"sender": BOSS, "text": text, "at": list(at)}
        answer = self.http.post(f"/_sandbox/conversations/{conversation}/messages", json=body)
        assert answer.status_code == 200, answer.text

    def cards(self, conversation: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"/_sandbox/conversations/{conversation}/messages")
        assert answer.status_code == 200, answer.text
        return [m["card"] for m in answer.json()["messages"] if m["via"] == "card"]


@pytest.fixture
def chat() -> Iterator[Chat]:
    groups = (GroupConfig(id="ai", name="AI 群"),)
    with (
        sandbox_with_bot(_ai_bot(), name="ai", app=APP, groups=groups) as (sandbox, server),
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        yield Chat(sandbox, http)


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_bot_streams_three_chunks_into_a_card_in_a_group(chat: Chat) -> None:
    group = group_conversation_id("ai")
    chat.write(group, "explain cards", at=("ai",))
    _until(lambda: any(card["finished"] for card in chat.cards(group)))
    [card] = chat.cards(group)
    assert card["content"] == "".join(CHUNKS)
    assert (card["status"], card["failed"], card["template_id"]) == ("finished", False, TPL)
    assert card["data"]["title"] == "AI"


def test_a_one_to_one_chat_gets_its_cards_too(chat: Chat) -> None:
    opened = chat.http.post("/_sandbox/conversations", json={"bot": "ai", "user": BOSS})
    single = opened.json()["id"]
    chat.write(single, "/plain")
    chat.write(single, "and stream one")
    _until(lambda: len(chat.cards(single)) == 2 and chat.cards(single)[1]["finished"])
    plain, streamed = chat.cards(single)
    assert (plain["content"], plain["status"], plain["finished"]) == ("**hi**", "sent", True)
    assert streamed["content"] == "".join(CHUNKS)


def test_the_official_sdks_ai_card_streams_into_the_sandbox(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_replier = pytest.importorskip("dingtalk_stream.card_replier")
    from dingtalk_stream import AIMarkdownCardInstance, ChatbotMessage

    monkeypatch.setattr(card_replier, "DINGTALK_OPENAPI_ENDPOINT", str(chat.http.base_url))
    token = chat.http.get(
        "/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret}
    ).json()["access_token"]

    class Client:  # what CardReplier reads of a DingTalkStreamClient
        credential = type("Credential", (), {"client_id": APP.app_key})()

        def get_access_token(self) -> str:
            return str(token)

    group = group_conversation_id("ai")
    message = ChatbotMessage.from_dict(
        {
            "conversationId": group,
            "conversationType": "2",
            "msgId": "msg-1",
            "senderStaffId": BOSS,
            "senderNick": "Boss",
            "text": {"content": "hi"},
            "msgtype": "text",
        }
    )
    card = AIMarkdownCardInstance(Client(), message)
    card.ai_start()
    card.ai_streaming("Hel", append=True)
    card.ai_streaming("lo", append=True)
    [shown] = chat.cards(group)
    assert (shown["content"], shown["status"], shown["finished"]) == ("Hello", "inputing", False)
    card.ai_finish("Hello, world")
    [shown] = chat.cards(group)
    assert (shown["content"], shown["finished"]) == ("Hello, world", True)
