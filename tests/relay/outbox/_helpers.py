"""What the tests and their child processes (``_child.py``) share; no pytest here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dingkit.relay.outbox import Hold, Letter, RedisOutbox, Reject, SQLiteOutbox

REDIS_URL = "redis://127.0.0.1:6379/0"
#: The relay clock's start in these tests: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0

Outbox = SQLiteOutbox | RedisOutbox


def letter(n: int, robot: str = "ops", **fields: Any) -> Letter:
    """Letter number ``n``: ids sort as numbers do (``e000007`` before ``e000010``)."""
    values: dict[str, Any] = {
        "id": f"e{n:06d}",
        "robot": robot,
        "route": "prod-alerts",
        "source": "alertmanager",
        "severity": "critical",
        "group": "prod-alerts/HighLatency",
        "message": {"msgtype": "markdown", "markdown": {"title": "告警", "text": f"#{n}"}},
        "created": T0 + n,
    }
    return Letter(**{**values, **fields})


def open_store(where: str, **options: Any) -> Outbox:
    """The outbox at ``sqlite:PATH`` or ``redis:PREFIX`` (on the test Redis)."""
    kind, _, place = where.partition(":")
    if kind == "sqlite":
        return SQLiteOutbox(place, **options)
    return RedisOutbox(REDIS_URL, prefix=place, **options)


def every_method(outbox: Outbox) -> list[Callable[[], object]]:
    """A call of each of the outbox's methods (for what happens when the store is down)."""
    return [
        lambda: outbox.put([letter(1)]),
        lambda: outbox.put([letter(1)], dedup_key="k"),
        lambda: outbox.reject(Reject(T0, "github", "ci", "bad", "")),
        lambda: outbox.rejects(),
        lambda: outbox.backlog(T0),
        lambda: outbox.due(T0),
        lambda: outbox.claim("ops", now=T0, lease=30, limit=1),
        lambda: outbox.delivered(["e000001"], answer="ok", now=T0),
        lambda: outbox.retry("e000001", not_before=T0, error="x", now=T0),
        lambda: outbox.dead("e000001", error="x", now=T0),
        lambda: outbox.release(["e000001"]),
        lambda: outbox.reassign(["e000001"], "dev"),
        lambda: outbox.merge(["e000001"], letter(2), now=T0, lease=30),
        lambda: outbox.supersede("ops", "g", covered={"a"}, keep=(), now=T0),
        lambda: outbox.hold(Hold("ops", "x", T0, None)),
        lambda: outbox.unhold("ops"),
        lambda: outbox.holds(T0),
        lambda: outbox.recent(),
        lambda: outbox.dead_letters(),
        lambda: outbox.dead_count(),
        lambda: outbox.replay("e000001", now=T0),
    ]
