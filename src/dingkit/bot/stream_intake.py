"""What a Stream client does with the robot messages and events it reads (§8.2), off the
socket's reader so that the socket keeps being read while handlers run.

Robot messages pass through a queue: those waiting are read, marked as seen by ``msgId``
together (:mod:`.stream_seen`, one commit), then each is acked and handed to the bot in
arrival order (the bot then runs one conversation's messages in order, others side by
side). Events are committed to the callback inbox concurrently, each acked once its commit is
durable, and handled by the callback dispatcher from there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .._exceptions import BotMessageError, CallbackPayloadError
from ..callback.stream_events import event_from_stream
from .delivery import SessionReply
from .messages import IncomingMessage, parse_message
from .stream_frames import ACK_BAD_REQUEST, Frame, ack

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..callback.dispatcher import Dispatcher
    from ..callback.inbox import Inbox
    from ..callback.receiver import CallbackReceiver
    from .stream import StreamClient
    from .stream_seen import SeenMessages

__all__ = ["HANDLER_GRACE", "Intake"]

logger = logging.getLogger("dingkit.bot.stream")

#: Seconds the handlers of messages already taken have to finish their replies when the
#: client stops (BotHTTPApp.aclose waits for them too; Ctrl-C twice does not wait).
HANDLER_GRACE = 5.0
#: Robot messages taken together at most: marked as seen in one transaction, then acked and
#: handed to the bot one by one, in arrival order.
TAKE_AT_ONCE = 64


class Intake:
    """The messages and events of one :class:`~.stream.StreamClient` run.

    Args:
        client: the Stream client (its bot, events, data dir, stats and log).
        seen: where message ids are remembered; ``None``: no de-duplication.
    """

    def __init__(self, client: StreamClient, *, seen: SeenMessages | None) -> None:
        self.stream = client
        self.seen = seen
        self.inbox: Inbox | None = None
        self.dispatcher: Dispatcher | None = None
        self._receiver: CallbackReceiver | None = None
        self._started_receiver = False
        self._owns_inbox = False
        self._queue: asyncio.Queue[tuple[ClientConnection, Frame]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        if client.events is not None:
            self._events_setup()

    def _events_setup(self) -> None:
        from ..callback.dispatcher import Dispatcher
        from ..callback.inbox import SQLiteInbox
        from ..callback.receiver import CallbackReceiver, inbox_path

        events = self.stream.events
        if isinstance(events, CallbackReceiver):
            # Its inbox and dispatcher: events from HTTP and from Stream in one place.
            self._receiver, self.inbox, self.dispatcher = events, events.inbox, events.dispatcher
            return
        assert events is not None
        # The inbox `dingkit callback serve` keeps in the same data dir: one place where
        # events wait, `dingkit callback events` shows them, whichever way they came.
        self.inbox = SQLiteInbox(inbox_path(self.stream.data_dir))
        self._owns_inbox = True
        self.dispatcher = Dispatcher(self.inbox, events, lease=self.stream.lease)

    async def start(self) -> None:
        self._workers.append(asyncio.create_task(self._take_messages()))
        if self._receiver is not None:
            # Started here, stopped here; one already running (its HTTP app's) is left be.
            self._started_receiver = self._receiver._worker is None
            await self._receiver.start()
        elif self.dispatcher is not None:
            self._workers.append(asyncio.create_task(self.dispatcher.run()))

    async def close(self, grace: float = HANDLER_GRACE) -> None:
        """Stop taking messages and events; give the handlers of messages already taken
        ``grace`` seconds to finish their replies, then cancel them (an event's handler is
        stopped at once: the event stays in the inbox and runs again after the lease).
        Close what this intake opened."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._receiver is not None and self._started_receiver:
            await self._receiver.stop()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        running = list(self._tasks)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self.seen is not None:
            await asyncio.to_thread(self.seen.close)
        if self._owns_inbox and self.inbox is not None:
            await asyncio.to_thread(self.inbox.close)

    def _spawn(self, coroutine: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- robot messages --------------------------------------------------------------------

    def message(self, ws: ClientConnection, frame: Frame) -> None:
        self._queue.put_nowait((ws, frame))

    async def _take_messages(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < TAKE_AT_ONCE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._take_batch(batch)
            except Exception:  # never the end of the intake: the next message is taken
                logger.exception("taking robot messages failed")

    async def _take_batch(self, batch: list[tuple[ClientConnection, Frame]]) -> None:
        stream = self.stream
        taken: list[tuple[ClientConnection, str | None, IncomingMessage]] = []
        for ws, frame in batch:
            try:
                taken.append((ws, frame.message_id, parse_message(frame.data)))
            except BotMessageError as error:
                stream.count("bad_messages")
                stream.trouble.log("message", "a Stream robot message that is not one: %s", error)
                if frame.message_id:
                    await stream.send(ws, ack(frame.message_id, None, code=ACK_BAD_REQUEST))
        fresh = [True] * len(taken)
        if self.seen is not None and taken:
            try:
                # One thread hop and one commit for all the messages waiting: a hop per
                # message cost more CPU than the rest of taking it (bench/bot.py --diagnose).
                fresh = await asyncio.to_thread(
                    self.seen.mark_many, ["msg:" + message.msg_id for _, _, message in taken]
                )
            except Exception as error:  # better answered twice than never
                stream.trouble.log("seen", "cannot record robot messages as seen: %r", error)
        for (ws, message_id, message), new in zip(taken, fresh, strict=True):
            if message_id:
                # Content ignored by the server; the Python SDK sends {"response": ...}.
                await stream.send(ws, ack(message_id, {"response": None}))
            if not new:
                stream.count("duplicate_messages")
                logger.info("robot message %s arrived again: not handled twice", message.msg_id)
                continue
            stream.count("messages")
            # Spawned in arrival order: Bot.handle queues a conversation's messages in call
            # order.
            self._spawn(self._handle(message))

    async def _handle(self, message: IncomingMessage) -> None:
        stream = self.stream
        assert stream.bot is not None
        try:
            await stream.bot.handle(
                message, SessionReply(message, stream.client, poster=stream.poster), stream.client
            )
        except Exception:  # the handler's own bug: logged, the connection carries on
            stream.count("handler_errors")
            logger.exception("the handler for robot message %s failed", message.msg_id)

    # -- events ----------------------------------------------------------------------------

    def event(self, ws: ClientConnection, frame: Frame) -> None:
        self._spawn(self._commit(ws, frame))

    async def _commit(self, ws: ClientConnection, frame: Frame) -> None:
        stream, message_id = self.stream, frame.message_id
        assert self.inbox is not None
        assert self.dispatcher is not None
        try:
            event, plaintext = event_from_stream(frame.headers, frame.data)
        except CallbackPayloadError as error:
            stream.count("bad_events")
            stream.trouble.log("event", "a Stream event that is not one: %s", error)
            if message_id:
                await stream.send(ws, ack(message_id, None, code=ACK_BAD_REQUEST))
            return
        try:
            entry = await asyncio.to_thread(
                self.inbox.add, event.event_type, plaintext, event.dedup_keys, source="stream"
            )
        except Exception as error:
            # Not acknowledged as done, so not lost: DingTalk pushes it again (§8.2).
            stream.count("commit_errors")
            stream.trouble.log("commit", "the inbox did not take a Stream event: %r", error)
            if message_id:
                await stream.ack_event(ws, message_id, f"inbox unavailable: {type(error).__name__}")
            return
        if message_id:
            await stream.ack_event(ws, message_id, None)
        if entry is None:
            stream.count("duplicate_events")
            return
        stream.count("events")
        self.dispatcher.wake()
