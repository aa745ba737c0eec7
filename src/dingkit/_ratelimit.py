"""Sliding-window rate-limit arithmetic, shared by the clients and the sandbox. No I/O.

A :class:`SlidingWindow` answers "when may the next event happen?" for a limit of ``limit``
events in any ``period``-second window. Reservations are handed out under a lock, so threads
and asyncio tasks that share one window each get their own slot and never overshoot; the
caller sleeps (``time.sleep`` or ``asyncio.sleep``) for the delay it was given.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["Clock", "LimiterRegistry", "SlidingWindow"]

Clock = Callable[[], float]


class SlidingWindow:
    """At most ``limit`` events in any window of ``period`` seconds.

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
        self._granted: deque[float] = deque()
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        while self._granted and self._granted[0] <= now - self.period:
            self._granted.popleft()

    def _next_slot(self, now: float) -> float:
        if len(self._granted) < self.limit:
            return max(now, self._granted[-1]) if self._granted else now
        # The event `limit` places back must have left the window.
        return max(now, self._granted[-self.limit] + self.period)

    def reserve(self) -> float:
        """Take the next free slot and return how many seconds to wait for it (0 = now)."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            slot = self._next_slot(now)
            self._granted.append(slot)
            return slot - now

    def try_acquire(self) -> float:
        """Take a slot only if it is free now; else return the seconds until one is (> 0)."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            slot = self._next_slot(now)
            if slot > now:
                return slot - now
            self._granted.append(now)
            return 0.0

    def in_window(self) -> int:
        """Events granted in the current window (reservations in the future included)."""
        with self._lock:
            self._forget_old(self.clock())
            return len(self._granted)


class LimiterRegistry:
    """One :class:`SlidingWindow` per key (a robot token, an app + API), created on demand.

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
