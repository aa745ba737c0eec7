"""A bound on the time a request's body may take to arrive (issue 10, defect 10): a client
that declares a body and never sends it is answered 408 and let go, instead of holding a
connection (and a task) for ever. The clock starts at the first read of the body.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyDeadline"]


class _TooSlow(Exception):
    pass


class BodyDeadline:
    """ASGI middleware: the whole body within ``seconds`` of its first read, else 408."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.seconds
            # asyncio's timeout, not anyio's cancel scope: the sandbox runs on asyncio, and a
            # scope cost more than the rest of reading the body (bench/bot.py --profile).
            timeout = asyncio.timeout_at(deadline)
            try:
                async with timeout:
                    return await receive()
            except TimeoutError:
                if timeout.expired():
                    raise _TooSlow from None
                raise

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watch)
        except _TooSlow:
            if started:
                return
            answer = JSONResponse(
                {"error": f"the request body did not arrive within {self.seconds:g} s"},
                status_code=408,
                headers={"Connection": "close"},
            )
            await answer(scope, receive, send)
