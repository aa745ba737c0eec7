"""The bot: a root router, and running its handlers in order per conversation. No I/O of its
own; a transport (HTTP, Stream) parses each push and calls :meth:`Bot.handle`.

Messages of one conversation are handled one at a time, in the order ``handle`` was called
(a reply to "/deploy" then "/status" must not overtake), while different conversations run
side by side, at most ``concurrency`` handlers at once. A message waiting for its
conversation holds no slot, so one busy group cannot starve the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..robot.messages import RobotMessage
from .filters import Predicate
from .messages import IncomingMessage
from .replies import Reply
from .router import F, Router

__all__ = ["DEFAULT_CONCURRENCY", "Bot"]

logger = logging.getLogger("dingkit.bot")

#: Handlers running at once across all conversations, unless told otherwise.
DEFAULT_CONCURRENCY = 16


@dataclass(slots=True)
class _Lane:
    """One conversation's turn-taking: the lock is fair (FIFO), so turns follow arrival."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class Bot:
    """An app robot's handlers, and the rules for running them.

    Usage::

        bot = Bot()

        @bot.command("/deploy")
        async def deploy(args, reply):
            await reply.text(f"deploying {args[0]}", at_sender=True)

        # in a transport, per push:
        await bot.handle(parse_message(body), reply, client)

    Args:
        router: the root router; a new one when not given.
        concurrency: handlers running at once, across conversations.
    """

    def __init__(self, router: Router | None = None, *, concurrency: int = DEFAULT_CONCURRENCY):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.router = router if router is not None else Router("bot")
        self.concurrency = concurrency
        self._lanes: dict[str, _Lane] = {}
        # Made on first use, inside the running loop (a test suite runs many loops).
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    # -- registering: the root router's --------------------------------------------------------

    def command(self, name: str, *filters: Predicate) -> Callable[[F], F]:
        """:meth:`Router.command` on the root router."""
        return self.router.command(name, *filters)

    def message(self, *filters: Predicate) -> Callable[[F], F]:
        """:meth:`Router.message` on the root router."""
        return self.router.message(*filters)

    def fallback(self) -> Callable[[F], F]:
        """:meth:`Router.fallback` on the root router."""
        return self.router.fallback()

    def include(self, router: Router) -> Router:
        """:meth:`Router.include` on the root router."""
        return self.router.include(router)

    # -- handling ------------------------------------------------------------------------------

    async def handle(self, message: IncomingMessage, reply: Reply, client: Any = None) -> bool:
        """Run the handler that answers ``message``, after those of earlier messages of its
        conversation; ``True`` when one ran, ``False`` when none matched and there is no
        fallback (logged, with what to do).

        The handler's exception propagates, for the transport to log and answer; the next
        message of the conversation runs all the same.
        """
        key = message.conversation.id
        # No await before joining the lane: the lock's queue order is the call order.
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.waiting += 1
        try:
            async with lane.lock, self._semaphore():
                return await self._run(message, reply, client)
        finally:
            lane.waiting -= 1
            if lane.waiting == 0:
                del self._lanes[key]

    async def _run(self, message: IncomingMessage, reply: Reply, client: Any) -> bool:
        match = self.router.resolve(message)
        if match is None:
            logger.warning(
                "no handler for %s message %s in conversation %s; register @bot.fallback() "
                "to answer messages nothing else matches",
                message.msgtype or "withheld",
                message.msg_id,
                message.conversation.id,
            )
            return False
        available = {
            "message": message,
            "reply": reply,
            "client": client,
            "args": list(match.args),
            "bot": self,
        }
        answer = await match.handler(available)
        # What a handler returns is its reply: the way a plain function (run in a thread,
        # where the async ``reply`` is out of reach) answers; a str is a text message.
        if isinstance(answer, str):
            await reply.text(answer)
        elif isinstance(answer, RobotMessage):
            await reply.send(answer)
        return True

    def run(self, **options: Any) -> None:
        """Answer messages over Stream mode (§8.2) until Ctrl-C: ``StreamClient(self,
        **options).run_forever()``, credentials from the environment by default."""
        from .stream import StreamClient

        StreamClient(self, **options).run_forever()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.concurrency), loop
        return self._slots

    def __repr__(self) -> str:
        return f"<Bot commands={self.router.commands()} concurrency={self.concurrency}>"
