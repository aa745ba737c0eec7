"""The receiver: an ASGI app that takes DingTalk's encrypted event pushes (§7.3).

    receiver = CallbackReceiver()            # token, aes_key, receiver id from the environment

    @receiver.on(BpmsInstanceChange)         # or by type name: "bpms_instance_change"
    async def approval_done(event: BpmsInstanceChange) -> None: ...

    @receiver.on()                           # the fallback: events no other handler takes
    def anything_else(event: CallbackEvent) -> None: ...

    app = Starlette(routes=[Mount("/dingtalk", app=receiver)])   # or run it alone

Each push is verified, decrypted, committed to the inbox and only then acknowledged with the
encrypted ``success``: DingTalk re-pushes what it did not get ``success`` for, so an event is
never lost between the two. Handlers run later, from the inbox (``dispatcher.py``). Bad input
gets a 4xx with a one-line reason and stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, overload

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from .._config import data_dir as default_data_dir
from .._exceptions import CallbackError, CallbackReceiverError, ConfigurationError
from .._inbound import BODY_TIMEOUT, RefusalLog, Refused, read_body
from .._retry import RetryPolicy
from .._wire import parse_json_strict
from .crypto import CallbackCrypto
from .dispatcher import DEFAULT_HANDLER_RETRY, Dispatcher, E, H, Handlers, R
from .events import CallbackEvent, parse_event
from .inbox import DEFAULT_RETENTION, Inbox, NewEvent, SQLiteInbox
from .metrics import ReceiverMetrics

__all__ = ["BODY_TIMEOUT", "INBOX_FILE", "MAX_BODY", "CallbackReceiver", "inbox_path"]

logger = logging.getLogger("dingkit.callback")

#: Approval pushes over 64 KB drop their form values (§7.6), so 1 MiB is far above any push.
MAX_BODY = 1 << 20
INBOX_FILE = "callback-inbox.sqlite3"
_CHECK_EVENTS = frozenset({"check_url", "check_create_suite_url", "check_update_suite_url"})
#: What a corpId, appKey or suiteKey looks like: a push's receiver id is named back in a
#: refusal only when it does (it is no secret, and setting it is the fix).
_RECEIVER_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def inbox_path(data_dir: str | Path | None = None) -> Path:
    """Where the SQLite inbox lives: in ``data_dir``, by default the platform's data dir."""
    return (Path(data_dir) if data_dir is not None else default_data_dir()) / INBOX_FILE


def _route_path(scope: Scope) -> str:
    """The path below where the app is mounted (Starlette keeps the full path in ``path``
    and the mount point in ``root_path``; other servers strip it)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def _mismatch(pushed: bytes, taken: tuple[str, ...], *, given: bool) -> str:
    """The one-line reason for a push sealed for another receiver id, saying what to set:
    the corpId for an API registration, the appKey for a console subscription (§7.1). What
    to set comes first: the sandbox's 71009 quotes only the start of a refusal."""
    ours = ", ".join(taken)
    name = pushed.decode("ascii", errors="replace")
    if not _RECEIVER_ID.fullmatch(name):
        return (
            f"receiver id mismatch: the push is for another receiver than {ours} (§7.1: the "
            "corpId for an API registration, the appKey for a console subscription)"
        )
    if given:
        return (
            f"receiver id mismatch: set receiver_id (--receiver-id) to {name} (the push is for "
            f"another receiver than {ours})"
        )
    return (
        f"receiver id mismatch: API registration needs DINGTALK_CORP_ID={name}, a console "
        f"subscription DINGTALK_APP_KEY={name} (the push is for another receiver than {ours})"
    )


class _GroupCommit:
    """Commits the events of concurrent pushes together: while one batch is being written
    (in a thread, off the event loop), the pushes that arrive queue up for the next. Each
    push still waits for its own commit before it is acknowledged."""

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._queue: list[tuple[NewEvent, asyncio.Future[str | None]]] = []
        self._writing = False

    async def add(self, event: NewEvent) -> str | None:
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    ids = await asyncio.to_thread(self._inbox.add_many, [e for e, _ in batch])
                except Exception as error:  # each waiting push answers for itself
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), entry_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(entry_id)
        finally:
            self._writing = False


class CallbackReceiver:
    """Takes pushes at ``path``; serves ``/metrics`` and ``/healthz`` beside it.

    Args:
        token, aes_key: the subscription's; default ``DINGTALK_CALLBACK_TOKEN`` and
            ``DINGTALK_CALLBACK_AES_KEY``.
        receiver_id: whom pushes are encrypted for: the appKey for a subscription made in the
            developer console, the corpId for one registered with the API (§7.1). Default:
            both ``DINGTALK_APP_KEY`` and ``DINGTALK_CORP_ID`` are accepted, whichever is set.
        inbox: where events are committed; default a SQLite inbox in ``data_dir``.
        data_dir: default the platform's data dir (``~/.local/share/dingkit``).
        handler_retry: handler attempts and backoff before the dead-letter list.
        retention: seconds done events and their deduplication keys are kept (7 days;
            ``None`` for ever); the dispatcher prunes the inbox hourly.
        dispatch: run handlers in this process (off for a receive-only instance).
    """

    def __init__(
        self,
        token: str | None = None,
        aes_key: str | None = None,
        receiver_id: str | None = None,
        *,
        inbox: Inbox | None = None,
        data_dir: str | Path | None = None,
        path: str = "/",
        max_body: int = MAX_BODY,
        body_timeout: float = BODY_TIMEOUT,
        handler_retry: RetryPolicy = DEFAULT_HANDLER_RETRY,
        concurrency: int = 4,
        lease: float = 30.0,
        retention: float | None = DEFAULT_RETENTION,
        dispatch: bool = True,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if environ is None else environ
        token = token or env.get("DINGTALK_CALLBACK_TOKEN")
        aes_key = aes_key or env.get("DINGTALK_CALLBACK_AES_KEY")
        receivers = (
            [receiver_id]
            if receiver_id
            else [
                value
                for value in (env.get("DINGTALK_APP_KEY"), env.get("DINGTALK_CORP_ID"))
                if value
            ]
        )
        missing = [
            name
            for name, value in (
                ("token (DINGTALK_CALLBACK_TOKEN)", token),
                ("aes_key (DINGTALK_CALLBACK_AES_KEY)", aes_key),
                ("receiver id (DINGTALK_APP_KEY or DINGTALK_CORP_ID)", receivers),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"the callback receiver needs its {', '.join(missing)}")
        assert token is not None
        assert aes_key is not None
        # One crypto per accepted receiver id: a reply must be sealed for the id its push
        # was sealed for, or DingTalk cannot read it.
        self.receiver_ids = tuple(dict.fromkeys(receivers))
        self._ids_given = bool(receiver_id)  # then the environment's ids are not read
        self._cryptos = {
            rid.encode(): CallbackCrypto(token, aes_key, rid) for rid in self.receiver_ids
        }
        self.crypto = next(iter(self._cryptos.values()))
        if inbox is None:
            inbox = SQLiteInbox(inbox_path(data_dir), clock=clock)
        self.inbox = inbox
        self._commits = _GroupCommit(inbox)
        self.path = path if path.startswith("/") else "/" + path
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.metrics = ReceiverMetrics()
        self._refusals = RefusalLog(logger, "a push")
        self.handlers = Handlers()
        self._dispatch = dispatch
        self._dispatcher_options: dict[str, Any] = {
            "retry": handler_retry,
            "concurrency": concurrency,
            "lease": lease,
            "retention": retention,
            "clock": clock,
        }
        self._dispatcher: Dispatcher | None = None
        self._worker: asyncio.Task[None] | None = None
        # A plain dispatcher rather than a Starlette app inside the user's app: one layer less
        # of middleware on every push, and a mount point read from the scope.
        self._routes: dict[str, tuple[str, Callable[[Request], Awaitable[Response]]]] = {
            self.path: ("POST", self._push),
            "/metrics": ("GET", self._metrics),
            "/healthz": ("GET", self._health),
        }

    def __repr__(self) -> str:
        return f"CallbackReceiver(receiver_ids={self.receiver_ids!r}, path={self.path!r})"

    # ---- handlers -----------------------------------------------------------------

    @overload
    def on(self, event: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...
    @overload
    def on(self, event: str | None = None) -> Callable[[H], H]: ...
    def on(self, event: str | type[CallbackEvent] | None = None) -> Callable[[Any], Any]:
        """Register a handler (sync or async) for ``event``: an event class such as
        ``BpmsInstanceChange`` (it only ever receives that class) or a type name; no argument
        registers a fallback, for events no other handler takes. See :class:`.Handlers`."""
        return self.handlers.on(event)

    def on_every(self) -> Callable[[H], H]:
        """Register a handler (sync or async) for every event, besides its other handlers."""
        return self.handlers.on_every()

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(
                self.inbox, self.handlers, metrics=self.metrics, **self._dispatcher_options
            )
        return self._dispatcher

    @property
    def routes(self) -> dict[str, str]:
        """The paths this app answers, each with its method (the push path, metrics, health)."""
        return {path: method for path, (method, _) in self._routes.items()}

    async def start(self) -> None:
        """Start handling events from the inbox (done on start-up, or on the first push
        when the app is mounted in another one, whose lifespan does not reach it)."""
        if self._dispatch and self._worker is None:
            self._worker = asyncio.create_task(self.dispatcher.run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Handlers run while this is entered: pass it as your Starlette or FastAPI app's
        ``lifespan`` when you mount the receiver (mounted apps get no lifespan events)."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan_events(receive, send)
            return
        if scope["type"] != "http":
            return
        route = self._routes.get(_route_path(scope))
        if route is None:
            response: Response = JSONResponse(
                {"error": "not_found", "message": f"pushes go to {self.path}"}, 404
            )
        elif scope["method"] != route[0]:
            response = JSONResponse(
                {"error": "method", "message": f"use {route[0]}"}, 405, {"Allow": route[0]}
            )
        else:
            try:
                response = await route[1](Request(scope, receive))
            except Exception:  # a bug or an outage, not bad input: DingTalk will re-push
                logger.exception("the receiver failed on %s", scope["path"])
                response = JSONResponse({"error": "internal", "message": "try again"}, 500)
        await response(scope, receive, send)

    async def _lifespan_events(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- endpoints ----------------------------------------------------------------

    async def _push(self, request: Request) -> Response:
        try:
            reply = await self._accept(request)
        except Refused as refused:
            self.metrics.count("rejected", refused.reason)  # every one: the log has a few
            self._refusals.log(refused, request.client.host if request.client else "?")
            return refused.response()
        return JSONResponse(reply)

    async def _accept(self, request: Request) -> dict[str, str]:
        query = request.query_params
        signature = query.get("signature") or query.get("msg_signature")
        timestamp = query.get("timestamp") or query.get("timeStamp")
        nonce = query.get("nonce")
        if not signature or not timestamp or not nonce:
            raise Refused(
                400, "query", "signature, timestamp and nonce are required in the query string"
            )
        body = await read_body(request, max_body=self.max_body, within=self.body_timeout)
        try:
            # NaN, deep nesting, lone surrogates: refused here, not a 500 further on (#10).
            data = parse_json_strict(body)
        except ValueError as error:
            raise Refused(400, "json", f"the body is not JSON: {error}") from None
        encrypt = data.get("encrypt") if isinstance(data, dict) else None
        if not isinstance(encrypt, str) or not encrypt:
            raise Refused(400, "encrypt", 'the body has no "encrypt" string')
        try:
            self.crypto.verify(signature, timestamp, nonce, encrypt)
            message, crypto = self._decrypt(encrypt)
            event = parse_event(message)
        except CallbackError as error:
            status = 403 if error.reason == "signature" else 400
            raise Refused(status, error.reason, str(error)) from None
        if event.event_type not in _CHECK_EVENTS:
            await self._commit(event.event_type, message, event.dedup_keys)
        else:
            self.metrics.count("received", event.event_type)
        return crypto.success(timestamp=timestamp)

    def _decrypt(self, encrypt: str) -> tuple[bytes, CallbackCrypto]:
        message, receiver = self.crypto.unwrap(encrypt)
        for rid, crypto in self._cryptos.items():
            if hmac.compare_digest(receiver, rid):
                return message, crypto
        raise CallbackReceiverError(_mismatch(receiver, self.receiver_ids, given=self._ids_given))

    async def _commit(self, event_type: str, message: bytes, keys: tuple[str, ...]) -> None:
        try:
            entry = await self._commits.add(NewEvent(event_type, message, keys))
        except Exception as error:
            # Not acknowledged, so not lost: DingTalk pushes it again (§7.5).
            raise Refused(
                503, "inbox", f"the inbox is unavailable ({type(error).__name__}); push again"
            ) from None
        if entry is None:
            self.metrics.count("duplicates")
            return
        self.metrics.count("received", event_type)
        if self._dispatch:
            await self.start()
            self.dispatcher.wake()

    async def _metrics(self, _request: Request) -> Response:
        counts = await asyncio.to_thread(self.inbox.counts)
        text = self.metrics.render(lambda: {str(k): v for k, v in counts.items()})
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def _health(self, _request: Request) -> Response:
        try:
            counts = await asyncio.to_thread(self.inbox.counts)
        except Exception as exc:  # the inbox is what health means here
            return JSONResponse({"status": "error", "inbox": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok", "inbox": counts})
