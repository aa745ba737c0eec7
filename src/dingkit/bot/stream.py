"""Stream mode (§8.2): the app opens a WebSocket to DingTalk and receives its robot's messages
and its event subscriptions over it, with no public URL.

    client = StreamClient(bot, events=handlers)   # DINGTALK_APP_KEY / DINGTALK_APP_SECRET
    await client.run()                            # or client.run_forever(); dingkit bot run

Per connection: ``POST /v1.0/gateway/connections/open`` through the SDK's request machinery
(:data:`dingkit.resources.stream.OPEN_CONNECTION`, at ``DINGTALK_API_BASE_URL``, httpx's
proxy and CA settings), then the WebSocket ``<endpoint>?ticket=<quote_plus(ticket)>``
(``PYSTREAM:dingtalk_stream/stream.py`` ``start``). Every frame with a ``messageId`` is
answered (:mod:`.stream_frames`):

- SYSTEM ``ping``: its ``{"opaque"}`` echoed; ``disconnect``: acked, the socket closed and a
  new ticket taken at once (the server rotates connections that way, §8.2);
- CALLBACK (robot messages): read with :func:`~.messages.parse_message`, marked by ``msgId``
  in a durable set (:mod:`.stream_seen`: a copy is acked and dropped, also after a restart),
  acked, and handled by the :class:`~.app.Bot` with :class:`~.delivery.SessionReply` while
  the socket keeps being read; a handler's failure is logged;
- EVENT: read into the typed event HTTP callbacks produce
  (:mod:`dingkit.callback.stream_events`), committed to the callback inbox, and only then
  acked SUCCESS; a failed commit is acked ``LATER`` with code 500, so DingTalk pushes it
  again. The callback :class:`~dingkit.callback.dispatcher.Dispatcher` runs the handlers from
  the inbox (retries, dead-letter list, ``eventId`` de-duplication): what ``dingkit callback
  serve`` guarantees.

The connection is re-opened when it closes or goes silent (WebSocket pings every
``ping_interval`` seconds; no pong within ``ping_timeout`` closes it), after
:class:`~.stream_frames.Backoff` (1 s doubling to 60 s, jittered, reset once a connection
stayed up a minute). A ``disconnect`` frame reconnects at once (unless the connection was
younger than :data:`ROTATE_AFTER`). One connection per app and
process: the old socket is closed before the next ticket is asked for, and a second client
for the same app in the process is refused.

Proxies and CAs: the ticket request is httpx's (``HTTPS_PROXY`` for https, ``NO_PROXY``,
``SSL_CERT_FILE``, from the process environment). The WebSocket gets an SSL context from
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi's bundle; ``websockets`` >= 15 tunnels it
through an HTTP CONNECT proxy read from the process environment as urllib reads it
(``WSS_PROXY``, then ``HTTPS_PROXY``; for ``ws://`` also ``WS_PROXY``, ``HTTP_PROXY``;
``NO_PROXY`` honoured; ``websockets.proxy.get_proxy``). Not supported: SOCKS proxies (they
need the ``python-socks`` package, no dingkit dependency), and any proxy with an older
``websockets``, which is said once in the log when ``HTTPS_PROXY`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import ssl
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from .. import __version__
from .._config import data_dir as default_data_dir
from .._exceptions import AuthenticationError, ConfigurationError, DingTalkError
from .._redact import redact_url
from ..resources.stream import BOT_MESSAGE_TOPIC, open_connection
from .session_post import SessionPoster
from .stream_frames import (
    ACK_BAD_REQUEST,
    ACK_NOT_FOUND,
    Backoff,
    BadFrameError,
    Frame,
    OnceLog,
    event_ack,
    read_frame,
)
from .stream_frames import ack as ack_text
from .stream_intake import Intake
from .stream_seen import SEEN_FILE, SeenMessages

if TYPE_CHECKING:
    from .._async_client import AsyncDingTalk
    from ..callback.dispatcher import Handlers
    from ..callback.receiver import CallbackReceiver
    from .app import Bot

__all__ = ["MAX_FRAME", "ROTATE_AFTER", "StreamClient"]

logger = logging.getLogger("dingkit.bot.stream")

#: The largest frame read; a larger one closes the socket (1009) and a new one is opened.
#: [I] DingTalk's limit is not documented; approval events stay under 64 KB (§7.6).
MAX_FRAME = 1 << 20
#: Seconds a connection must have lasted for its ``disconnect`` to reconnect at once; one
#: told to go sooner waits out the backoff, so that a server (or a proxy) that answers every
#: connection with a disconnect is not hammered [I].
ROTATE_AFTER = 1.0
_RUNNING: set[str] = set()  # app keys with a running client in this process
_RUNNING_LOCK = threading.Lock()
_PROXY_SUPPORTED = "proxy" in inspect.signature(connect).parameters  # websockets >= 15


class _HideTicket(logging.Filter):
    # websockets logs its handshake at debug level, request line and all: the ticket opens
    # a connection for 90 s (§8.2), so it is hidden like a token.
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(a) if isinstance(a, str) and "ticket=" in a else a for a in record.args
            )
        return True


_SOCKET_LOGGER = logging.getLogger("dingkit.bot.stream.websocket")
_SOCKET_LOGGER.addFilter(_HideTicket())


class StreamClient:
    """Receives a robot's messages and the app's events over Stream mode.

    Usage::

        bot, events = Bot(), Handlers()

        @events.on(BpmsInstanceChange)
        def approval(event: BpmsInstanceChange) -> None: ...

        asyncio.run(StreamClient(bot, events=events).run())

    Args:
        bot: answers robot messages (subscribes to ``/v1.0/im/bot/messages/get``).
        events: handlers of event subscriptions (``Handlers``, or a ``CallbackReceiver``
            whose inbox and dispatcher are then used); subscribes to EVENT ``*``.
        app_key, app_secret: default ``DINGTALK_APP_KEY`` / ``DINGTALK_APP_SECRET``.
        client: the app's client (tickets, replies); default one from the environment.
        data_dir: where the inbox and the seen messages live (default the platform's).
        ping_interval, ping_timeout: WebSocket keep-alive; silence past both reconnects.
        open_timeout, close_timeout: seconds the opening and closing handshakes may take
            (a silent socket is given up ``ping_interval + ping_timeout + close_timeout``
            after its last sign of life).
        lease: seconds an event's handler claim lasts (a killed process's events are taken
            up again after it).
    """

    def __init__(
        self,
        bot: Bot | None = None,
        *,
        events: Handlers | CallbackReceiver | None = None,
        app_key: str | None = None,
        app_secret: str | None = None,
        client: AsyncDingTalk | None = None,
        data_dir: str | Path | None = None,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        backoff: Backoff | None = None,
        lease: float = 30.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if bot is None and events is None:
            raise ConfigurationError("a Stream client needs a bot, events= handlers, or both")
        env = os.environ if environ is None else environ
        self._environ = env
        self.bot = bot
        self.events = events
        if client is None:
            from .._async_client import AsyncDingTalk

            client = AsyncDingTalk(app_key, app_secret, environ=env)
            self._owns_client = True
        else:
            self._owns_client = False
        self.client = client
        # The client holds the credentials it was built with; the ticket needs them too.
        self.app_key = app_key or client.app_key
        self._secret = app_secret or client.tokens._app_secret
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir(env)
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.open_timeout, self.close_timeout = open_timeout, close_timeout
        self.backoff = backoff or Backoff()
        self.lease = lease
        self.trouble = OnceLog(logger)
        #: What happened, for tests and logs: connections, frames, acks, messages, ...
        self.stats: dict[str, int] = {}
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._rotate = False
        self._lasted = 0.0
        self._intake: Intake | None = None
        #: Session-webhook replies, on connections kept while :meth:`run` runs.
        self.poster: SessionPoster | None = None

    def __repr__(self) -> str:
        return f"StreamClient(app_key={self.app_key!r}, bot={self.bot!r})"

    def count(self, what: str, n: int = 1) -> None:
        self.stats[what] = self.stats.get(what, 0) + n

    # -- running ---------------------------------------------------------------------------

    def run_forever(self) -> None:
        """:meth:`run` in a new event loop until Ctrl-C."""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.run())

    async def run(self) -> None:
        """Stay connected until :meth:`stop` (or cancellation).

        Raises:
            AuthenticationError: DingTalk refused the app's credentials (401 authFailed).
            RuntimeError: another client for this app runs in this process.
        """
        with _RUNNING_LOCK:
            if self.app_key in _RUNNING:
                raise RuntimeError(
                    f"a Stream client for {self.app_key} is already running in this process: "
                    "DingTalk would share the pushes between the two connections"
                )
            _RUNNING.add(self.app_key)
        intake: Intake | None = None
        try:
            self.poster = SessionPoster(self.client, environ=self._environ)
            intake = self._intake = await asyncio.to_thread(self._make_intake)
            await intake.start()
            while not self._stopping.is_set():
                await self._connect_once()
                if self._stopping.is_set():
                    break
                rotate, self._rotate = self._rotate, False
                if rotate and self._lasted >= ROTATE_AFTER:  # the server asked: at once
                    continue
                delay = self.backoff.next_delay()
                logger.info("reconnecting to DingTalk's Stream gateway in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        finally:
            if intake is not None:
                await intake.close()
            if self.poster is not None:
                await self.poster.aclose()
                self.poster = None
            if self._owns_client:  # made here, closed here: such a client runs once
                await self.client.aclose()
            with _RUNNING_LOCK:
                _RUNNING.discard(self.app_key)
            self._stopping = asyncio.Event()  # a later run() starts afresh, maybe in another loop

    async def stop(self) -> None:
        """End :meth:`run`: the socket is closed; the handlers of messages already taken get
        a few seconds to reply (:data:`.stream_intake.HANDLER_GRACE`)."""
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    def _make_intake(self) -> Intake:
        seen = SeenMessages(self.data_dir / SEEN_FILE) if self.bot is not None else None
        return Intake(self, seen=seen)

    # -- one connection --------------------------------------------------------------------

    async def _connect_once(self) -> None:
        started = time.monotonic()
        try:
            url = await self._ticket_url()
            async with connect(url, **self._socket_options(url)) as ws:
                self._ws = ws
                if self._stopping.is_set():  # stop() came while the socket was opening
                    return
                self.count("connections")
                logger.info("connected to DingTalk's Stream gateway (%s)", url.split("?", 1)[0])
                await self._read(ws)
        except AuthenticationError:
            raise  # wrong credentials stay wrong: say so rather than retry for ever
        except (DingTalkError, OSError, WebSocketException, TimeoutError, ValueError) as error:
            # ConnectionClosed* are WebSocketExceptions: a closed or silent socket.
            self.trouble.log("connection", "Stream connection lost or refused: %s", _say(error))
        except Exception:  # a bug of this client's: said in full, and a new connection tried
            self.count("client_errors")
            logger.exception("the Stream client failed on its connection; reconnecting")
        finally:
            self._ws = None
            self._lasted = time.monotonic() - started
            self.backoff.connected_for(self._lasted)

    async def _ticket_url(self) -> str:
        events = self.events is not None
        callbacks = (BOT_MESSAGE_TOPIC,) if self.bot is not None else ()
        answer = await self.client.request(
            open_connection(
                self.app_key,
                self._secret,
                events=events,
                callbacks=callbacks,
                ua=f"dingkit/{__version__}",
            )
        )
        endpoint = answer.get("endpoint") if isinstance(answer, dict) else None
        ticket = answer.get("ticket") if isinstance(answer, dict) else None
        if not isinstance(endpoint, str) or not endpoint.startswith(("ws://", "wss://")):
            raise ValueError("the ticket answer has no ws:// or wss:// endpoint")
        if not isinstance(ticket, str) or not ticket:
            raise ValueError("the ticket answer has no ticket")
        # quote_plus, as the Python SDK does (§8.2; the Go SDK does not quote).
        return f"{endpoint}{'&' if '?' in endpoint else '?'}ticket={quote_plus(ticket)}"

    def _socket_options(self, url: str) -> dict[str, Any]:
        options: dict[str, Any] = {
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
            "open_timeout": self.open_timeout,
            "close_timeout": self.close_timeout,
            "max_size": MAX_FRAME,
            "user_agent_header": f"dingkit/{__version__}",
            "logger": _SOCKET_LOGGER,
            # No permessage-deflate: frames are a few hundred bytes of JSON, and compressing
            # and inflating each one cost both ends more CPU than anything else about it
            # (bench/bot.py --profile). The Go SDK does not offer it either (GOSTREAM
            # client/client.go dials with gorilla's DefaultDialer, EnableCompression false).
            "compression": None,
        }
        if url.startswith("wss://"):
            options["ssl"] = _ssl_context(self._environ)
        proxied = any(self._environ.get(n) for n in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"))
        if proxied and not _PROXY_SUPPORTED:
            self.trouble.log(
                "proxy", "a proxy is set but this websockets cannot use one: upgrade to >= 15"
            )
        return options

    async def _read(self, ws: ClientConnection) -> None:
        intake = self._intake
        assert intake is not None
        async for raw in ws:
            self.count("frames")
            try:
                frame = read_frame(raw)
            except BadFrameError as error:
                self.count("bad_frames")
                self.trouble.log("frame", "a Stream frame that is not one: %s", error)
                if error.message_id:
                    await self.send(ws, ack_text(error.message_id, None, code=ACK_BAD_REQUEST))
                continue
            await self._dispatch(ws, frame, intake)

    async def _dispatch(self, ws: ClientConnection, frame: Frame, intake: Intake) -> None:
        message_id = frame.message_id
        if frame.type == "SYSTEM":
            try:
                data = frame.data_object()
            except BadFrameError:
                data = {}
            if message_id:
                # The ping's {"opaque"} goes back as it came (§8.2); the SDK echoes every
                # SYSTEM frame's data (PYSTREAM:handlers.py SystemHandler.raw_process).
                await self.send(ws, ack_text(message_id, data))
            if frame.topic == "disconnect":
                logger.info("the Stream gateway asks for a new connection: %s", data.get("reason"))
                self._rotate = True
                await ws.close()
        elif frame.type == "CALLBACK" and frame.topic == BOT_MESSAGE_TOPIC and self.bot:
            intake.message(ws, frame)
        elif frame.type == "EVENT" and self.events is not None:
            intake.event(ws, frame)
        else:
            self.count("unexpected")
            self.trouble.log(
                "unexpected:" + frame.type[:20],
                "a Stream %s frame this client did not subscribe to (topic %r): answered 404",
                frame.type[:20],
                frame.topic[:100],
            )
            if message_id:
                await self.send(ws, ack_text(message_id, None, code=ACK_NOT_FOUND))

    async def send(self, ws: ClientConnection, text: str) -> None:
        """An ACK on the connection its frame came by; lost with it if it has closed (an
        EVENT is then pushed again, and de-duplicated)."""
        try:
            await ws.send(text)
        except ConnectionClosed:
            self.count("acks_lost")
        else:
            self.count("acks")

    async def ack_event(self, ws: ClientConnection, message_id: str, error: str | None) -> None:
        await self.send(ws, event_ack(message_id, committed=error is None, reason=error or ""))


def _say(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _ssl_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Trust ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (as httpx does), else certifi's
    bundle."""
    cafile = environ.get("SSL_CERT_FILE") or None
    capath = environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        import certifi

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile, capath=capath)
