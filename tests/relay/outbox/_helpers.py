"""What the tests and their child processes (``_child.py``) share; no pytest here."""

from __future__ import annotations

from typing import Any

from dingkit.relay.outbox import Envelope, RedisOutbox, SQLiteOutbox

REDIS_URL = "redis://127.0.0.1:6379/0"
#: The relay clock's start in these tests: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000.0

Outbox = SQLiteOutbox | RedisOutbox


def envelope(n: int, robot: str = "ops", **fields: Any) -> Envelope:
    """Envelope number ``n``: ids sort as numbers do (``e000007`` before ``e000010``)."""
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
    return Envelope(**{**values, **fields})


def open_store(where: str, **options: Any) -> Outbox:
    """The outbox at ``sqlite:PATH`` or ``redis:PREFIX`` (on the test Redis)."""
    kind, _, place = where.partition(":")
    if kind == "sqlite":
        return SQLiteOutbox(place, **options)
    return RedisOutbox(REDIS_URL, prefix=place, **options)
