"""Handlers, and the worker that runs them from the inbox.

The receiver only commits events; this runs the registered handlers for each one, sync
handlers in a thread and async ones on the loop, with retries and backoff, and moves an event
that keeps failing to the dead-letter list. Several dispatchers (one per receiver process)
can share one inbox: each claims events under a lease it renews while its handlers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .._exceptions import CallbackPayloadError
from .._retry import RetryPolicy
from .events import EVENT_TYPES, CallbackEvent, event_from_failed_item, parse_event
from .inbox import DEFAULT_RETENTION, Inbox, InboxEntry
from .metrics import ReceiverMetrics

__all__ = ["DEFAULT_HANDLER_RETRY", "Dispatcher", "Handler", "Handlers"]

logger = logging.getLogger("dingkit.callback")

Handler = Callable[[CallbackEvent], Awaitable[None] | None]
H = TypeVar("H", bound=Handler)
E = TypeVar("E", bound=CallbackEvent)
R = TypeVar("R", bound=Awaitable[None] | None)

#: Tries in all, then the dead-letter list; waits of 1 s, 2 s, 4 s, 8 s between them.
#: Seconds between two prunes of the inbox by a running dispatcher.
PRUNE_EVERY = 3600.0
DEFAULT_HANDLER_RETRY = RetryPolicy(max_attempts=5, initial_delay=1.0, max_delay=300.0)


@dataclass(frozen=True, slots=True)
class _Typed:
    handler: Handler
    only: type[CallbackEvent] | None  # registered by class: instances of it, nothing else


class Handlers:
    """The handler registry. Sync and async handlers alike; several may share an event.

    Usage::

        @handlers.on(BpmsInstanceChange)      # its events, always a BpmsInstanceChange
        @handlers.on("chat_update_title")     # by type name, whatever class it read into
        @handlers.on()                        # the fallback: events no handler above takes
        @handlers.on_every()                  # every event, besides the handlers above

    For each event the handlers of its type run, or the fallbacks when none takes it; then
    the ``on_every`` ones. A handler registered by class never receives another class: an
    event of its type whose fields are out of shape reads as a plain :class:`CallbackEvent`
    and, unless a handler registered by name takes it, goes to the fallbacks, or when there
    are none to the dead-letter list (its type was asked for: it must not pass as handled
    unseen).
    """

    def __init__(self) -> None:
        self._typed: dict[str, list[_Typed]] = {}
        self._fallback: list[Handler] = []
        self._every: list[Handler] = []

    @overload
    def on(self, event: type[E]) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...
    @overload
    def on(self, event: str | None = None) -> Callable[[H], H]: ...
    def on(self, event: str | type[CallbackEvent] | None = None) -> Callable[[Any], Any]:
        """Register for ``event``: a type name, an event class (the types that read into it,
        as :data:`.events.EVENT_TYPES` has them now), or nothing for the fallback."""
        self._types(event)  # a bad argument fails here, at the decorator, not on first use

        def register(handler: Any) -> Any:
            self.add(event, handler)
            return handler

        return register

    def on_every(self) -> Callable[[H], H]:
        """Register for every event, whichever other handlers it has."""

        def register(handler: H) -> H:
            self.add_every(handler)
            return handler

        return register

    def add(self, event: str | type[CallbackEvent] | None, handler: Handler) -> None:
        """``on(event)(handler)``."""
        _check(handler)
        types, only = self._types(event)
        if not types:
            self._fallback.append(handler)
        for name in types:
            self._typed.setdefault(name, []).append(_Typed(handler, only))

    def add_every(self, handler: Handler) -> None:
        """``on_every()(handler)``."""
        _check(handler)
        self._every.append(handler)

    def for_event(self, event: CallbackEvent) -> list[Handler]:
        """The handlers to run for ``event``, in order.

        Raises:
            CallbackPayloadError: handlers asked for its type by class, it did not read into
                that class, and no other handler of its type nor a fallback takes it.
        """
        registered = self._typed.get(event.event_type, [])
        typed = [r.handler for r in registered if r.only is None or isinstance(event, r.only)]
        if len(typed) < len(registered):
            missed = {r.only for r in registered if r.only and not isinstance(event, r.only)}
            wanted = ", ".join(sorted(cls.__name__ for cls in missed))
            if not typed and not self._fallback:
                raise CallbackPayloadError(
                    f"the {event.event_type} event did not read into {wanted} (a field out of "
                    "shape) and no on() fallback takes it"
                )
            logger.warning(
                "a %s event did not read into %s (a field out of shape): %s",
                event.event_type,
                wanted,
                "its other handlers run" if typed else "the fallback handlers run",
            )
        return [*(typed or self._fallback), *self._every]

    @staticmethod
    def _types(event: object) -> tuple[list[str], type[CallbackEvent] | None]:
        """The type names ``event`` stands for ([] for the fallback), and the class its
        handlers are kept to."""
        if event is None:
            return [], None
        if isinstance(event, str):
            if event in ("", "*"):
                raise ValueError(
                    f"{event!r} is no event type: on() with no argument is the fallback, "
                    "on_every() runs for every event"
                )
            return [event], None
        if isinstance(event, type) and issubclass(event, CallbackEvent):
            if event is CallbackEvent:
                raise TypeError(
                    "CallbackEvent is every event: on_every() runs for all of them, on() for "
                    "those no other handler takes"
                )
            names = [name for name, cls in EVENT_TYPES.items() if issubclass(cls, event)]
            if not names:
                raise TypeError(
                    f"no event type reads into {event.__name__}: add it to EVENT_TYPES first"
                )
            return names, event
        hint = " (write @on() with its parentheses)" if callable(event) else ""
        raise TypeError(
            "on() takes an event type name such as 'bpms_instance_change' or an event class "
            f"such as BpmsInstanceChange, not {event!r}{hint}"
        )


def _check(handler: object) -> None:
    if not callable(handler):
        raise TypeError("a handler must be a function taking the event")


def _describe(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {error}"


def event_of(entry: InboxEntry) -> CallbackEvent:
    """The typed event an inbox entry holds (a push, or a failed-list item)."""
    if entry.source == "failed-list":
        return event_from_failed_item(json.loads(entry.payload))
    return parse_event(entry.payload)


class Dispatcher:
    """Runs handlers for the events of ``inbox``.

    Args:
        inbox: where events wait.
        handlers: what to run for each type.
        retry: attempts and backoff (``max_attempts`` tries, then the dead-letter list).
        concurrency: events handled at once by this dispatcher.
        lease: seconds a claim lasts without renewal; a dead process's events are taken over
            after this long.
        retention: seconds done events and their deduplication keys are kept; pruned at
            start and every :data:`PRUNE_EVERY` seconds (``None``: kept for ever). See
            :mod:`.inbox`.
    """

    def __init__(
        self,
        inbox: Inbox,
        handlers: Handlers,
        *,
        metrics: ReceiverMetrics | None = None,
        retry: RetryPolicy = DEFAULT_HANDLER_RETRY,
        concurrency: int = 4,
        lease: float = 30.0,
        retention: float | None = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if concurrency < 1 or lease <= 0:
            raise ValueError("concurrency must be at least 1 and lease positive")
        if retention is not None and retention < 0:
            raise ValueError("retention must be zero or more seconds")
        self.retention = retention
        self.inbox = inbox
        self.handlers = handlers
        self.metrics = metrics or ReceiverMetrics()
        self.retry = retry
        self.lease = lease
        self.owner = uuid.uuid4().hex
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something new is in the inbox: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, *, poll: float = 1.0) -> None:
        """Handle events until cancelled."""
        renewer = asyncio.create_task(self._renew_leases())
        pruner = asyncio.create_task(self._prune_periodically())
        try:
            while True:
                await self._slots.acquire()
                try:
                    entry = await asyncio.to_thread(self.inbox.claim, self.owner, self.lease)
                except Exception as error:  # the inbox is down: its events wait, safe in it
                    self._slots.release()
                    logger.warning("cannot read the inbox (%s); trying again", _describe(error))
                    await asyncio.sleep(poll)
                    continue
                if entry is None:
                    self._slots.release()
                    await self._sleep_until_due(poll)
                    continue
                task = asyncio.create_task(self._handle(entry))
                self._running[entry.id] = task
                task.add_done_callback(functools.partial(self._finished, entry.id))
        finally:
            renewer.cancel()
            pruner.cancel()
            for task in list(self._running.values()):
                task.cancel()

    def _finished(self, entry_id: str, task: asyncio.Task[None] | None = None) -> None:
        self._running.pop(entry_id, None)
        self._slots.release()
        if task is not None and not task.cancelled() and task.exception() is not None:
            # Recording the outcome failed (the inbox went away): the lease lapses and the
            # event runs again, which at-least-once delivery allows.
            logger.warning(
                "event %s: cannot record its outcome (%s)", entry_id, _describe(task.exception())
            )

    async def _sleep_until_due(self, poll: float) -> None:
        due = await asyncio.to_thread(self.inbox.next_due)
        wait = poll if due is None else min(poll, max(0.0, due - self._clock()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.005))

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            if self._running:
                ids = list(self._running)
                try:
                    await asyncio.to_thread(self.inbox.renew, self.owner, ids, self.lease)
                except Exception as error:  # a lapsed lease only means a second run
                    logger.warning("cannot renew leases (%s)", _describe(error))

    async def _prune_periodically(self) -> None:
        if self.retention is None:
            return
        while True:
            try:
                pruned = await asyncio.to_thread(self.inbox.prune, self._clock() - self.retention)
            except Exception as error:  # the next round tries again; nothing is lost
                logger.warning("cannot prune the inbox (%s)", _describe(error))
            else:
                if pruned.events or pruned.keys:
                    logger.info(
                        "pruned %d done events and %d deduplication keys past retention",
                        pruned.events,
                        pruned.keys,
                    )
            await asyncio.sleep(PRUNE_EVERY)

    async def _handle(self, entry: InboxEntry) -> None:
        try:
            event = event_of(entry)
            handlers = self.handlers.for_event(event)
        except Exception as exc:  # stored bytes that no longer parse, or not as handlers want
            await self._settle(entry, f"unreadable event: {exc}", retry=False)
            return
        error: str | None = None
        for handler in handlers:
            try:
                result = (
                    handler(event)
                    if inspect.iscoroutinefunction(handler)
                    else await asyncio.to_thread(handler, event)
                )
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler's failure is the event's
                error = f"{getattr(handler, '__name__', 'handler')}: {type(exc).__name__}: {exc}"
                logger.warning(
                    "handler failed for %s event %s (attempt %d): %s",
                    event.event_type,
                    entry.id,
                    entry.attempts,
                    error,
                )
                break
        if error is None:
            await asyncio.to_thread(self.inbox.complete, entry.id, self.owner)
            self.metrics.count("handled", event.event_type)
        else:
            await self._settle(entry, error, retry=True, event_type=event.event_type)

    async def _settle(
        self, entry: InboxEntry, error: str, *, retry: bool, event_type: str | None = None
    ) -> None:
        kind = event_type or entry.event_type
        if retry and entry.attempts < self.retry.max_attempts:
            delay = self.retry.delay(entry.attempts)
            await asyncio.to_thread(self.inbox.retry, entry.id, self.owner, error, delay)
            self.metrics.count("retried", kind)
            self.wake()
        else:
            await asyncio.to_thread(self.inbox.fail, entry.id, self.owner, error)
            self.metrics.count("failed", kind)
            logger.error("event %s (%s) moved to the dead-letter list: %s", entry.id, kind, error)

    async def drain(self, within: float = 10.0) -> None:
        """Handle events, retries included, until none is pending or running (tests, and
        ``dingkit callback replay``); raises ``TimeoutError`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        worker = asyncio.create_task(self.run(poll=0.01))
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.005)
                counts = await asyncio.to_thread(self.inbox.counts)
                if not self._running and counts["pending"] + counts["running"] == 0:
                    return
            raise TimeoutError("the inbox did not drain in time")
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
