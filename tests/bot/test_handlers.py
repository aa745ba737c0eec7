from __future__ import annotations

import functools
import inspect
import threading
from typing import Any

import pytest

from dingkit.bot import Bot, RecordingReply
from dingkit.bot.handlers import ARGUMENTS, Handler

from .wire import text_message

pytestmark = pytest.mark.anyio


async def run(bot: Bot, content: str, client: Any = None) -> RecordingReply:
    message = text_message(content)
    reply = RecordingReply(message)
    assert await bot.handle(message, reply, client)
    return reply


async def test_an_async_handler_receives_only_what_it_names() -> None:
    bot = Bot()
    seen: dict[str, Any] = {}

    @bot.command("/deploy")
    async def deploy(args: list[str], reply: RecordingReply) -> None:
        seen.update(args=args, reply=reply)

    reply = await run(bot, "/deploy prod")
    assert seen == {"args": ["prod"], "reply": reply}


async def test_every_argument_can_be_named_in_any_order() -> None:
    bot = Bot()
    seen: dict[str, Any] = {}
    client = object()

    @bot.message()
    async def everything(bot: Bot, client: Any, args: list[str], reply: Any, message: Any) -> None:
        seen.update(bot=bot, client=client, args=args, reply=reply, message=message)

    reply = await run(bot, "hello world", client)
    assert seen["bot"] is bot
    assert seen["client"] is client
    assert seen["args"] == ["hello", "world"]
    assert seen["reply"] is reply
    assert seen["message"] is reply.message


async def test_a_plain_function_runs_in_a_worker_thread() -> None:
    bot = Bot()
    threads: list[int] = []

    @bot.message()
    def blocking(message: Any) -> None:
        threads.append(threading.get_ident())

    await run(bot, "hi")
    assert threads
    assert threads[0] != threading.get_ident()


async def test_an_async_handler_runs_on_the_loop() -> None:
    bot = Bot()
    threads: list[int] = []

    @bot.message()
    async def on_loop() -> None:
        threads.append(threading.get_ident())

    await run(bot, "hi")
    assert threads == [threading.get_ident()]


async def test_a_plain_function_s_reply_is_awaited_when_it_returns_a_coroutine() -> None:
    bot = Bot()
    bot.message()(lambda reply: reply.text("pong"))
    reply = await run(bot, "ping")
    assert reply.payloads() == [{"msgtype": "text", "text": {"content": "pong"}}]


async def test_keyword_catch_all_receives_everything() -> None:
    bot = Bot()
    seen: dict[str, Any] = {}

    @bot.message()
    async def catch_all(**kwargs: Any) -> None:
        seen.update(kwargs)

    await run(bot, "hi")
    assert sorted(seen) == sorted(ARGUMENTS)


async def test_partials_and_async_callable_objects_are_handlers() -> None:
    bot = Bot()
    seen: list[Any] = []

    async def tagged(tag: str, args: list[str]) -> None:
        seen.append((tag, args))

    class Responder:
        async def __call__(self, message: Any) -> None:
            seen.append(message.text)

    bot.command("/a")(functools.partial(tagged, "A"))
    bot.command("/b")(Responder())
    await run(bot, "/a 1")
    await run(bot, "/b 2")
    assert seen == [("A", ["1"]), "/b 2"]


def test_an_unknown_parameter_fails_at_registration_listing_the_allowed_names() -> None:
    bot = Bot()
    with pytest.raises(TypeError) as caught:

        @bot.command("/deploy")
        async def deploy(mesage: Any) -> None: ...

    text = str(caught.value)
    assert "'mesage'" in text
    for name in ARGUMENTS:
        assert name in text


def test_an_unknown_parameter_with_a_default_keeps_its_default() -> None:
    async def handler(message: Any, retries: int = 3) -> None: ...

    assert Handler.of(handler).wants == ("message",)


def test_positional_only_parameters_cannot_be_passed_by_name() -> None:
    def handler(message: Any, /) -> None: ...

    with pytest.raises(TypeError, match="positional-only"):
        Handler.of(handler)


def test_a_handler_must_be_callable() -> None:
    with pytest.raises(TypeError, match="must be a function"):
        Handler.of("handler")  # type: ignore[arg-type]


async def test_the_signature_is_read_once_at_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    bot = Bot()

    @bot.message()
    async def handler(message: Any) -> None: ...

    def no_more(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("signature read while handling")

    monkeypatch.setattr(inspect, "signature", no_more)
    await run(bot, "one")
    await run(bot, "two")
