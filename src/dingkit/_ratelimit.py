"""Sliding-window rate-limit arithmetic, shared by the clients, the stores and the sandbox.
No I/O.

:func:`take_slot` answers "when may the next event happen?" for a limit of ``limit`` events in
any ``period``-second window, given the times already granted. Every window runs it: a
:class:`SlidingWindow` in memory, the file store on what it read from its file; the Redis store
runs the same steps in Lua, since they must happen inside Redis to be atomic.

A reservation may lie in the future: the caller sleeps (``time.sleep`` or ``asyncio.sleep``)
for the delay it was given, and whoever asks next queues behind it, so windows shared by
threads, tasks or processes never overshoot.

Where windows live is a :class:`RateLimitStore`: :class:`MemoryRateLimitStore` (one process),
``FileRateLimitStore`` (every process of a user on one host), ``RedisRateLimitStore`` (hosts).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = [
    "Clock",
    "KeyedWindow",
    "LimiterRegistry",
    "MemoryRateLimitStore",
    "RateLimitStore",
    "SlidingWindow",
    "Window",
    "forget_old",
    "take_slot",
]

Clock = Callable[[], float]


def forget_old(granted: list[float], now: float, period: float) -> None:
    """Drop the events (ascending times) that have left the window ending at ``now``."""
    del granted[: bisect.bisect_right(granted, now - period)]


def take_slot(granted: list[float], now: float, limit: int, period: float, *, wait: bool) -> float:
    """Forget old events, then find the next free slot; seconds from ``now`` until it (0 = now).

    With ``wait`` the slot is taken however far ahead it is (a reservation); without, only if
    it is free now. ``granted`` holds ascending times, past and reserved, and is updated.
    """
    forget_old(granted, now, period)
    if len(granted) < limit:
        slot = max(now, granted[-1]) if granted else now
    else:
        # The event `limit` places back must have left the window.
        slot = max(now, granted[-limit] + period)
    if slot > now and not wait:
        return slot - now
    bisect.insort(granted, slot)
    return slot - now


class Window(Protocol):
    """What the send loops need of a window: its limit, and the two ways to take a slot."""

    @property
    def limit(self) -> int: ...

    def reserve(self) -> float: ...

    def try_acquire(self) -> float: ...


class SlidingWindow:
    """At most ``limit`` events in any window of ``period`` seconds, in this process.

    Args:
        limit: events allowed per window.
        period: window length in seconds.
        clock: monotonic seconds; injectable so tests need no real minutes.
    """

    def __init__(self, limit: int, period: float, *, clock: Clock = time.monotonic) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        # Times of granted events, past or reserved in the future, in ascending order.
        self._granted: list[float] = []
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next free slot and return how many seconds to wait for it (0 = now)."""
        with self._lock:
            return take_slot(self._granted, self.clock(), self.limit, self.period, wait=True)

    def try_acquire(self) -> float:
        """Take a slot only if it is free now; else return the seconds until one is (> 0)."""
        with self._lock:
            return take_slot(self._granted, self.clock(), self.limit, self.period, wait=False)

    def in_window(self) -> int:
        """Events granted in the current window (reservations in the future included)."""
        with self._lock:
            forget_old(self._granted, self.clock(), self.period)
            return len(self._granted)


class LimiterRegistry:
    """One :class:`SlidingWindow` per key (an app + API, a robot token), created on demand.

    The module-level registries make a limit shared by every client of the process.
    """

    def __init__(self, limit: int, period: float, *, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._windows: dict[str, SlidingWindow] = {}
        self._lock = threading.Lock()

    def window(self, key: str) -> SlidingWindow:
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = SlidingWindow(self.limit, self.period, clock=self.clock)
                self._windows[key] = window
            return window


class RateLimitStore(Protocol):
    """Where windows are kept, one per ``key``; each call states the window's shape.

    ``reserve`` takes the next free slot and returns the seconds until it; ``try_acquire``
    takes a slot only if one is free now, else returns the seconds until one is (> 0).
    """

    def reserve(self, key: str, limit: int, period: float) -> float: ...

    def try_acquire(self, key: str, limit: int, period: float) -> float: ...


class MemoryRateLimitStore:
    """Windows in this process's memory, shared by its threads and tasks."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[tuple[str, int, float], SlidingWindow] = {}
        self._lock = threading.Lock()

    def window(self, key: str, limit: int, period: float) -> SlidingWindow:
        with self._lock:
            window = self._windows.get((key, limit, period))
            if window is None:
                window = SlidingWindow(limit, period, clock=self.clock)
                self._windows[(key, limit, period)] = window
            return window

    def reserve(self, key: str, limit: int, period: float) -> float:
        return self.window(key, limit, period).reserve()

    def try_acquire(self, key: str, limit: int, period: float) -> float:
        return self.window(key, limit, period).try_acquire()

    def __repr__(self) -> str:
        return "MemoryRateLimitStore()"


class KeyedWindow:
    """One key's window in a :class:`RateLimitStore`, shaped like a :class:`SlidingWindow`."""

    def __init__(self, store: RateLimitStore, key: str, limit: int, period: float) -> None:
        self.store = store
        self.key = key
        self.limit = limit
        self.period = period

    def reserve(self) -> float:
        return self.store.reserve(self.key, self.limit, self.period)

    def try_acquire(self) -> float:
        return self.store.try_acquire(self.key, self.limit, self.period)

    def __repr__(self) -> str:
        return f"KeyedWindow({self.store!r}, limit={self.limit}, period={self.period:g})"
