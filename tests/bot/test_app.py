from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from dingkit.bot import Bot, RecordingReply
from dingkit.bot.messages import IncomingMessage

from .wire import text_message

pytestmark = pytest.mark.anyio


def in_conversation(conversation: str, content: str) -> IncomingMessage:
    return text_message(content, conversationId=conversation, msgId=f"{conversation}-{content}")


def handle(bot: Bot, message: IncomingMessage) -> asyncio.Task[bool]:
    return asyncio.create_task(bot.handle(message, RecordingReply(message)))


async def settle() -> None:
    """Let every task that can run, run (no fixed sleeps: a few turns of the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


class Gates:
    """One event per message text: its handler records its start and waits for it."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.most_running = 0
        self.gates: dict[str, asyncio.Event] = {}
        self.changed = asyncio.Condition()

    def open(self, *names: str) -> None:
        for name in names:
            self.gate(name).set()

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def handler(self, message: IncomingMessage) -> None:
        name = message.text
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        async with self.changed:
            self.started.append(name)
            self.changed.notify_all()
        try:
            await self.gate(name).wait()
        finally:
            self.running -= 1
            self.finished.append(name)

    async def wait_started(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.started) >= count)


def gated_bot(concurrency: int = 16) -> tuple[Bot, Gates]:
    bot = Bot(concurrency=concurrency)
    gates = Gates()
    bot.message()(gates.handler)
    return bot, gates


async def test_one_conversation_s_messages_run_one_at_a_time_in_order() -> None:
    bot, gates = gated_bot()
    tasks = [handle(bot, in_conversation("cid-a", name)) for name in ("1", "2", "3")]
    await gates.wait_started(1)
    await settle()
    assert gates.started == ["1"]
    gates.open("3")  # a later message ready first still waits its turn
    await settle()
    assert gates.started == ["1"]
    gates.open("1")
    await gates.wait_started(2)
    await settle()
    assert gates.started == ["1", "2"]
    gates.open("2")
    assert await asyncio.gather(*tasks) == [True, True, True]
    assert gates.finished == ["1", "2", "3"]
    assert gates.most_running == 1
    assert bot._lanes == {}


async def test_different_conversations_run_side_by_side() -> None:
    bot, gates = gated_bot()
    slow = handle(bot, in_conversation("cid-a", "a"))
    await gates.wait_started(1)
    fast = handle(bot, in_conversation("cid-b", "b"))
    await gates.wait_started(2)
    gates.open("b")
    assert await fast
    assert not slow.done()
    gates.open("a")
    assert await slow


async def test_at_most_concurrency_handlers_run_at_once() -> None:
    bot, gates = gated_bot(concurrency=2)
    names = [str(i) for i in range(6)]
    tasks = [handle(bot, in_conversation(f"cid-{name}", name)) for name in names]
    await gates.wait_started(2)
    await settle()
    assert len(gates.started) == 2
    gates.open(*gates.started)
    await gates.wait_started(4)
    await settle()
    assert len(gates.started) == 4
    gates.open(*names)
    assert all(await asyncio.gather(*tasks))
    assert sorted(gates.finished) == names
    assert gates.most_running == 2


async def test_a_message_waiting_for_its_conversation_holds_no_slot() -> None:
    bot, gates = gated_bot(concurrency=2)
    first = handle(bot, in_conversation("cid-busy", "busy-1"))
    queued = handle(bot, in_conversation("cid-busy", "busy-2"))
    await gates.wait_started(1)
    other = handle(bot, in_conversation("cid-other", "other"))
    await gates.wait_started(2)  # the second slot went to another conversation
    assert gates.started == ["busy-1", "other"]
    gates.open("busy-1", "busy-2", "other")
    assert all(await asyncio.gather(first, queued, other))


async def test_a_failing_handler_raises_and_the_conversation_goes_on() -> None:
    bot = Bot()
    ran: list[str] = []

    @bot.message()
    async def handler(message: IncomingMessage) -> None:
        ran.append(message.text)
        if message.text == "boom":
            raise RuntimeError("handler failed")

    boom = handle(bot, in_conversation("cid-a", "boom"))
    after = handle(bot, in_conversation("cid-a", "after"))
    with pytest.raises(RuntimeError, match="handler failed"):
        await boom
    assert await after
    assert ran == ["boom", "after"]
    assert bot._lanes == {}


async def test_a_plain_function_s_exception_reaches_the_caller() -> None:
    bot = Bot()

    @bot.message()
    def broken() -> None:
        raise LookupError("from the worker thread")

    message = text_message("x")
    with pytest.raises(LookupError, match="worker thread"):
        await bot.handle(message, RecordingReply(message))


async def test_an_unhandled_message_returns_false_and_says_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = Bot()
    message = text_message("anything")
    with caplog.at_level(logging.WARNING, logger="dingkit.bot"):
        assert not await bot.handle(message, RecordingReply(message))
    assert "@bot.fallback()" in caplog.text


async def test_the_bot_delegates_registration_to_its_root_router() -> None:
    bot = Bot()
    seen: list[str] = []

    @bot.command("/a")
    async def a() -> None:
        seen.append("a")

    @bot.fallback()
    async def fallback(args: list[str]) -> None:
        seen.append(f"fallback {args}")

    child = bot.include(bot.router.__class__("child"))

    @child.command("/b")
    async def b() -> None:
        seen.append("b")

    for content in ("/a", "/b", "/c 1"):
        message = text_message(content)
        assert await bot.handle(message, RecordingReply(message))
    assert seen == ["a", "b", "fallback ['/c', '1']"]
    assert "'/a'" in repr(bot)


def test_concurrency_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Bot(concurrency=0)


def test_one_bot_serves_successive_event_loops() -> None:
    bot = Bot(concurrency=1)
    bot.message()(lambda: None)
    message = text_message("x")

    async def once() -> Any:
        return await bot.handle(message, RecordingReply(message))

    assert asyncio.run(once())
    assert asyncio.run(once())
