"""Connection tickets (§8.2, step 1): valid for 90 s and for one connection only."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ...resources.stream import TICKET_TTL

__all__ = ["Grant", "Tickets"]

_KEEP = 10_000  # unused tickets kept at most (the oldest are dropped first)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a ticket opens: one connection for an app, with its subscriptions."""

    app_key: str
    events: bool  # subscribed to EVENT "*"
    callbacks: frozenset[str]  # CALLBACK topics
    ua: str = ""
    local_ip: str = ""


class Tickets:
    """Tickets issued and not yet used, on the sandbox's clock (a fake one in tests)."""

    def __init__(self, *, clock: Callable[[], float], ttl: float = TICKET_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Grant, float]] = {}

    def issue(self, grant: Grant) -> str:
        # [I] the live tickets look like uuids (§8.2's sample answer).
        ticket = str(uuid.uuid4())
        with self._lock:
            now = self.clock()
            self._open = {t: (g, at) for t, (g, at) in self._open.items() if at > now}
            while len(self._open) >= _KEEP:
                self._open.pop(next(iter(self._open)))
            self._open[ticket] = (grant, now + self.ttl)
        return ticket

    def take(self, ticket: str) -> Grant | None:
        """The grant of an unused, unexpired ticket, which is used up by taking it."""
        with self._lock:
            found = self._open.pop(ticket, None)
        if found is None:
            return None
        grant, expires_at = found
        return grant if self.clock() < expires_at else None
