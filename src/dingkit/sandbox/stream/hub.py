"""Stream delivery (§8.2): the open connections per app, and what the rest of the sandbox calls
to push over them.

    message_id = sandbox.stream.push_callback(app_key, BOT_MESSAGE_TOPIC, body)
    message_id = sandbox.stream.push_event(app_key, "user_add_org", {"userId": [...]})
    sandbox.stream.disconnect(app_key)              # SYSTEM disconnect, then close

Safe to call from any thread: frames are handed to the connection's event loop, never
written from the caller's. Every frame sent and received is kept (the last
:data:`FRAMES_KEPT`, in memory) for ``GET /_sandbox/stream/frames``.

Delivery, as DingTalk does it (§8.2, ``PEDIA``):

- Robot messages (CALLBACK frames) are fire-and-forget: sent once, to one connection of the
  app that subscribed to the topic, never re-pushed; none connected: not delivered (kept in
  the frame log as such).
- EVENT frames are re-pushed every ``stream_event_timeout`` seconds until an ACK settles
  them (:func:`.frames.event_settled`); ``LATER``, another code or no ACK at all re-push.
  A re-push keeps the ``messageId`` and ``eventId`` (clients de-duplicate on them) and may go
  to another connection. An event for an app with no connection waits for one.
- Several connections of one app share the pushes, each going to one of them: DingTalk picks
  at random; the sandbox takes them in turn, so that tests can count [I].

Choices where the reference is silent [I]: an event is pushed at most :data:`MAX_PUSHES`
times; a connection told to disconnect gets no new pushes; ``eventUnifiedAppId`` is the
app's key (the live value is an id of the app the sandbox does not model).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import SandboxConfig
from .frames import Ack, ack_of, downstream, event_settled, new_message_id
from .tickets import Grant, Tickets

__all__ = ["FRAMES_KEPT", "MAX_PUSHES", "Connection", "StreamHub"]

logger = logging.getLogger("dingkit.sandbox.stream")

#: Frames kept for the admin view.
FRAMES_KEPT = 5_000
#: An event unsettled after this many pushes is given up [I].
MAX_PUSHES = 10
_TEXT_KEPT = 2_000  # characters of an unreadable client frame kept in the log


@dataclass(eq=False)
class Connection:
    """One open WebSocket: its app, subscriptions and the queue its writer sends from."""

    grant: Grant
    loop: asyncio.AbstractEventLoop
    opened_ms: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    #: Text frames to send; ``None`` asks the writer to close the socket.
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    closing: bool = False
    frames_sent: int = 0
    acks: int = 0
    pings_sent: int = 0
    pings_echoed: int = 0
    bad_frames: int = 0

    @property
    def app_key(self) -> str:
        return self.grant.app_key

    def post(self, item: str | None) -> bool:
        """Queue a frame (or the close) from any thread; ``False`` once the loop is gone."""
        try:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, item)
        except RuntimeError:  # the server's loop has closed
            return False
        return True

    def later(self, delay: float, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the connection's loop after ``delay`` seconds."""
        with contextlib.suppress(RuntimeError):  # the server's loop has closed
            self.loop.call_soon_threadsafe(self.loop.call_later, delay, callback)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_key": self.app_key,
            "opened_at": self.opened_ms,
            "events": self.grant.events,
            "callbacks": sorted(self.grant.callbacks),
            "ua": self.grant.ua,
            "local_ip": self.grant.local_ip,
            "closing": self.closing,
            "frames_sent": self.frames_sent,
            "acks": self.acks,
            "pings_sent": self.pings_sent,
            "pings_echoed": self.pings_echoed,
            "bad_frames": self.bad_frames,
        }


@dataclass
class _Event:
    app_key: str
    frame: dict[str, Any]
    pushes: int = 0
    settled: bool = False
    connection: Connection | None = None


class StreamHub:
    """Stream connections and delivery for a sandbox.

    Args:
        config: ``stream_ping_interval``, ``stream_disconnect_grace``,
            ``stream_event_timeout`` and the ``corp_id`` events carry.
        clock: the sandbox's clock (tickets, frame times).
    """

    def __init__(self, *, config: SandboxConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.tickets = Tickets(clock=clock)
        self._lock = threading.RLock()
        self._connections: dict[str, Connection] = {}
        self._turn: dict[str, itertools.count[int]] = {}
        self._events: dict[str, _Event] = {}
        self._frames: deque[dict[str, Any]] = deque(maxlen=FRAMES_KEPT)
        self._seq = itertools.count(1)
        self._pings: dict[str, str] = {}  # messageId → opaque, until echoed

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- connections ---------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        with self._lock:
            self._connections[connection.id] = connection
            # Unsettled events of the app with no live connection: never sent, or sent on a
            # connection that has gone (its timed re-push may have died with the server's
            # loop): the new connection gets them, as DingTalk re-pushes an unacked event.
            waiting = [
                message_id
                for message_id, event in self._events.items()
                if event.app_key == connection.app_key
                and not event.settled
                and (event.connection is None or event.connection.id not in self._connections)
            ]
        self._log("open", connection, {"ua": connection.grant.ua})
        if connection.grant.events:
            for message_id in waiting:
                self._push_event(message_id)

    def detach(self, connection: Connection) -> None:
        with self._lock:
            self._connections.pop(connection.id, None)
        self._log("close", connection, {})

    def connections(self, app_key: str | None = None) -> list[Connection]:
        with self._lock:
            found = list(self._connections.values())
        return [c for c in found if app_key is None or c.app_key == app_key]

    def _pick(self, app_key: str, wants: Callable[[Connection], bool]) -> Connection | None:
        with self._lock:
            ready = [
                c
                for c in self._connections.values()
                if c.app_key == app_key and not c.closing and wants(c)
            ]
            if not ready:
                return None
            turn = next(self._turn.setdefault(app_key, itertools.count()))
            return ready[turn % len(ready)]

    # -- pushing -------------------------------------------------------------------------

    def push_callback(self, app_key: str, topic: str, data: Any) -> str:
        """Send a CALLBACK frame (a robot message: §8.1's body) to one connection of the app
        subscribed to ``topic``, once; its ``messageId``."""
        message_id = new_message_id()
        frame = downstream("CALLBACK", topic, data, message_id=message_id, now_ms=self._now_ms())
        connection = self._pick(app_key, lambda c: topic in c.grant.callbacks)
        self._send(app_key, connection, frame)
        return message_id

    def push_event(
        self,
        app_key: str,
        event_type: str,
        data: Mapping[str, Any],
        *,
        event_id: str | None = None,
        corp_id: str | None = None,
        born_ms: int | None = None,
        unified_app_id: str | None = None,
    ) -> str:
        """Send an EVENT frame to one connection of the app subscribed to events, re-pushed
        until settled; its ``messageId``. ``data`` is the event's fields (camelCase)."""
        message_id = new_message_id()
        headers = {
            "eventType": event_type,
            "eventId": event_id or uuid.uuid4().hex,
            "eventCorpId": corp_id or self.config.corp_id,
            "eventBornTime": str(self._now_ms() if born_ms is None else born_ms),
            "eventUnifiedAppId": unified_app_id or app_key,
        }
        # [I] the topic of an EVENT frame is not meaningful (§8.2): "*", as subscribed.
        frame = downstream(
            "EVENT",
            "*",
            dict(data),
            message_id=message_id,
            now_ms=self._now_ms(),
            headers=headers,
        )
        with self._lock:
            self._events[message_id] = _Event(app_key, frame)
        self._push_event(message_id)
        return message_id

    def _push_event(self, message_id: str) -> None:
        with self._lock:
            event = self._events.get(message_id)
            if event is None or event.settled:
                return
            if event.pushes >= MAX_PUSHES:
                del self._events[message_id]
                gave_up = True
            else:
                gave_up = False
                connection = self._pick(event.app_key, lambda c: c.grant.events)
                event.connection = connection
                if connection is not None:
                    event.pushes += 1
        if gave_up:
            self._log("gave_up", None, {"message_id": message_id, "app_key": event.app_key})
            return
        self._send(event.app_key, connection, event.frame)
        if connection is not None:
            delay = self.config.stream_event_timeout
            connection.later(delay, lambda: self._push_event(message_id))

    def _send(self, app_key: str, connection: Connection | None, frame: dict[str, Any]) -> None:
        # Logged before it is queued: the client's ACK may be read before post() returns.
        self._log(
            "down" if connection is not None else "undelivered",
            connection,
            {"app_key": app_key, "frame": frame},
        )
        if connection is None:
            return
        with self._lock:
            connection.frames_sent += 1
        if not connection.post(json.dumps(frame, ensure_ascii=False)):
            self._log("lost", connection, {"message_id": frame["headers"]["messageId"]})

    def ping(self, connection: Connection) -> None:
        """A SYSTEM ping; the client echoes ``{"opaque"}`` in its ACK."""
        message_id, opaque = new_message_id(), uuid.uuid4().hex
        frame = downstream(
            "SYSTEM", "ping", {"opaque": opaque}, message_id=message_id, now_ms=self._now_ms()
        )
        with self._lock:
            self._pings[message_id] = opaque
            connection.pings_sent += 1
            while len(self._pings) > FRAMES_KEPT:
                self._pings.pop(next(iter(self._pings)))
        self._send(connection.app_key, connection, frame)

    def disconnect(self, app_key: str | None = None, reason: str = "connection is expired") -> int:
        """Tell every connection (or the app's) to reconnect: a SYSTEM disconnect frame, and
        the socket closed ``stream_disconnect_grace`` seconds later. How many were told."""
        told = 0
        for connection in self.connections(app_key):
            with self._lock:
                if connection.closing:
                    continue
                connection.closing = True
            frame = downstream(
                "SYSTEM",
                "disconnect",
                {"reason": reason},
                message_id=new_message_id(),
                now_ms=self._now_ms(),
            )
            self._send(connection.app_key, connection, frame)
            close = functools.partial(connection.post, None)
            connection.later(self.config.stream_disconnect_grace, close)
            told += 1
        return told

    # -- from clients --------------------------------------------------------------------

    def received(self, connection: Connection, text: str | None) -> None:
        """A frame from a client (``None``: a binary one). An ACK settles what it names; any
        other frame is kept in the log, and the first of each connection is logged. Never
        raises."""
        ack = ack_of(text) if text is not None else None
        if ack is None:
            with self._lock:
                connection.bad_frames += 1
                first = connection.bad_frames == 1
            if first:
                logger.warning(
                    "stream connection %s (%s) sent a frame that is not an ACK; kept in "
                    "/_sandbox/stream/frames, the connection stays open",
                    connection.id,
                    connection.app_key,
                )
            shown = "<binary frame>" if text is None else text[:_TEXT_KEPT]
            self._log("bad", connection, {"text": shown})
            return
        self._settle(connection, ack)

    def _settle(self, connection: Connection, ack: Ack) -> None:
        note: dict[str, Any] = {"message_id": ack.message_id, "code": ack.code}
        with self._lock:
            connection.acks += 1
            opaque = self._pings.pop(ack.message_id, None)
            if opaque is not None:
                echoed = isinstance(ack.data, dict) and ack.data.get("opaque") == opaque
                connection.pings_echoed += echoed
                note["ping_echoed"] = echoed
            event = self._events.get(ack.message_id)
            if event is not None and event.app_key == connection.app_key:
                note["settled"] = event.settled = event_settled(ack)
                if event.settled:
                    del self._events[ack.message_id]
        note["ack"] = {"code": ack.code, "message": ack.message, "data": ack.data}
        self._log("up", connection, note)

    # -- the record ----------------------------------------------------------------------

    def _log(self, kind: str, connection: Connection | None, fields: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"seq": 0, "at": self._now_ms(), "kind": kind}
        if connection is not None:
            entry["connection"] = connection.id
            entry["app_key"] = connection.app_key
        entry.update(fields)
        with self._lock:
            entry["seq"] = next(self._seq)
            self._frames.append(entry)

    def frames(self, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Logged frames with ``seq`` above ``after``, oldest first, at most ``limit``."""
        with self._lock:
            return [entry for entry in self._frames if entry["seq"] > after][:limit]

    def pending_events(self) -> list[str]:
        """``messageId`` of the events not settled yet."""
        with self._lock:
            return list(self._events)
