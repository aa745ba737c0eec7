"""HTTP mode (§8.1): DingTalk POSTs each message for the robot to the bot's URL, signed.

:class:`BotHTTPApp` is a plain ASGI app (``dingkit bot serve module:bot`` runs it; it can also
be mounted in another app). For each POST it:

1. checks the ``timestamp`` and ``sign`` headers against the app secret (one-hour window,
   constant-time compare): a forgery gets 401 (headers missing) or 403 (stale, wrong) with a
   one-line reason, logged once per reason a minute;
2. reads the message (:func:`~dingkit.bot.messages.parse_message`): a body that is not one
   gets 400;
3. runs the bot's handler for it. The first reply the handler makes within ``reply_within``
   seconds goes back in the response body, as DingTalk allows; a handler that says nothing in
   time is answered ``{"msgtype": "empty"}`` and goes on: its later replies, and any after the
   first, go through the message's session webhook, or the robot OpenAPI once that has expired
   (:class:`~dingkit.bot.delivery.SessionReply`).

DingTalk does not re-push a robot message (§8.2: fire-and-forget), so there is no inbox here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .._exceptions import BotMessageError, ConfigurationError
from .._inbound import BODY_TIMEOUT, RefusalLog, Refused, read_body
from ..robot.messages import to_payload
from .delivery import SessionReply
from .messages import IncomingMessage, parse_message
from .replies import Reply
from .session_post import SessionPoster
from .signing import verify

if TYPE_CHECKING:
    from .._async_client import AsyncDingTalk
    from ..robot.messages import RobotMessage
    from .app import Bot

__all__ = ["REPLY_WITHIN", "BotHTTPApp"]

logger = logging.getLogger("dingkit.bot")

#: Seconds a handler has to reply in the response body; DingTalk documents no deadline [I:
#: a few seconds, §8.1], so later replies go through the session webhook.
REPLY_WITHIN = 3.0
#: A robot message is a few KB; 1 MiB is far above any.
MAX_BODY = 1 << 20
_EMPTY = {"msgtype": "empty"}


class _FirstInBody(Reply):
    """Puts the first reply made in time into the HTTP response; every other reply goes the
    way a late one does (``late``)."""

    def __init__(self, message: IncomingMessage, late: Reply) -> None:
        super().__init__(message)
        self.late = late
        self.first: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def close_body(self) -> None:
        """The response has gone: from now on every reply is a late one."""
        if not self.first.done():
            self.first.set_result(_EMPTY)

    async def send(self, message: RobotMessage) -> None:
        if not self.first.done():
            self.first.set_result(to_payload(message))
            return
        await self.late.send(message)

    # A card cannot go in the response body (it takes §2.1 messages only): the card API.
    async def _create_card(self, template_id: str, out_track_id: str, data: dict[str, str]) -> None:
        await self.late._create_card(template_id, out_track_id, data)

    async def _update_card(self, out_track_id: str, data: dict[str, str]) -> None:
        await self.late._update_card(out_track_id, data)

    async def _stream_card(
        self, out_track_id: str, key: str, content: str, *, finalize: bool, error: bool
    ) -> None:
        await self.late._stream_card(out_track_id, key, content, finalize=finalize, error=error)


class BotHTTPApp:
    """The ASGI app DingTalk posts a robot's messages to.

    Args:
        bot: the bot whose handlers answer.
        app_secret: the app's Client Secret, which signs each request (default
            ``DINGTALK_APP_SECRET``).
        client: the app's client, for replies after the response (default: one built from
            the environment, on first need).
        path: where DingTalk posts (the URL configured for the robot).
        reply_within: seconds a reply may take to go back in the response body.
        clock: epoch milliseconds (signatures, session expiry); tests pass a fake.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        app_secret: str | None = None,
        client: AsyncDingTalk | None = None,
        path: str = "/",
        reply_within: float = REPLY_WITHIN,
        body_timeout: float = BODY_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = lambda: time.time() * 1000,
    ) -> None:
        env = os.environ if environ is None else environ
        secret = app_secret or env.get("DINGTALK_APP_SECRET", "").strip()
        if not secret:
            raise ConfigurationError(
                "the bot's HTTP app needs the app secret that signs DingTalk's requests: pass "
                "app_secret= or set DINGTALK_APP_SECRET"
            )
        self.bot = bot
        self._secret = secret
        self._client = client
        self._environ = env
        self.path = path if path.startswith("/") else "/" + path
        self.reply_within = reply_within
        self.body_timeout = body_timeout
        self.clock = clock
        self._refusals = RefusalLog(logger, "a robot message")
        self._running: set[asyncio.Task[None]] = set()
        self._session_poster: SessionPoster | None = None

    def __repr__(self) -> str:
        return f"BotHTTPApp(path={self.path!r}, bot={self.bot!r})"

    @property
    def routes(self) -> dict[str, str]:
        """The paths this app answers, each with its method (the hostile-input suite walks
        them)."""
        return {self.path: "POST"}

    @property
    def client(self) -> AsyncDingTalk:
        if self._client is None:
            from .._async_client import AsyncDingTalk

            self._client = AsyncDingTalk(environ=self._environ)
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response: Response
        route = scope.get("root_path", "") + self.path
        if scope["path"] not in (self.path, route):
            response = JSONResponse({"error": "not_found", "message": f"post to {self.path}"}, 404)
        elif scope["method"] != "POST":
            response = JSONResponse(
                {"error": "method", "message": "use POST"}, 405, {"Allow": "POST"}
            )
        else:
            request = Request(scope, receive)
            try:
                response = await self._message(request)
            except Refused as refused:
                self._refusals.log(refused, request.client.host if request.client else "?")
                response = refused.response()
        await response(scope, receive, send)

    async def _message(self, request: Request) -> Response:
        check = verify(
            request.headers.get("timestamp"),
            request.headers.get("sign"),
            self._secret,
            now_ms=int(self.clock()),
        )
        if not check:
            missing = check.reason in ("missing_timestamp", "missing_sign")
            raise Refused(401 if missing else 403, check.reason or "sign", check.detail)
        body = await read_body(request, max_body=MAX_BODY, within=self.body_timeout)
        try:
            message = parse_message(body)
        except BotMessageError as error:
            raise Refused(400, "message", str(error)) from None
        reply = _FirstInBody(
            message, SessionReply(message, self.client, clock=self.clock, poster=self._poster())
        )
        task = asyncio.create_task(self._handle(message, reply))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        waiting: set[asyncio.Future[Any]] = {reply.first, task}
        await asyncio.wait(waiting, timeout=self.reply_within, return_when=asyncio.FIRST_COMPLETED)
        reply.close_body()
        return JSONResponse(reply.first.result() if reply.first.done() else _EMPTY)

    async def _handle(self, message: IncomingMessage, reply: _FirstInBody) -> None:
        try:
            await self.bot.handle(message, reply, self.client)
        except Exception:  # the handler's own bug: logged, the next message is handled
            logger.exception("the handler for message %s failed", message.msg_id)
        finally:
            reply.close_body()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _poster(self) -> SessionPoster:
        if self._session_poster is None:
            self._session_poster = SessionPoster(self.client, environ=self._environ)
        return self._session_poster

    async def aclose(self) -> None:
        """Let the handlers still running finish their replies, then close the client."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._session_poster is not None:
            await self._session_poster.aclose()
            self._session_poster = None
        if self._client is not None:
            await self._client.aclose()
