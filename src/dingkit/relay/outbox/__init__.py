"""The relay's durable outbox: the contract (:mod:`.base`) and its two stores.

    >>> outbox = open_outbox(data_dir, None)  # doctest: +SKIP
    >>> outbox.put([letter], dedup_key=key)  # doctest: +SKIP

- :class:`SQLiteOutbox` (``sqlite.py``): one file in the data directory, WAL, fsynced on
  every commit; the default, for one relay on one host.
- :class:`RedisOutbox` (``redis.py``): Redis Streams with a consumer group, for several
  relay instances sharing the work (``--redis``).
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    DEDUP_WINDOW,
    KEPT,
    Delivery,
    Hold,
    Letter,
    Outbox,
    OutboxUnavailable,
    Outcome,
    Reject,
)
from .redis import RedisOutbox
from .sqlite import SQLiteOutbox

__all__ = [
    "DEDUP_WINDOW",
    "KEPT",
    "OUTBOX_FILE",
    "Delivery",
    "Hold",
    "Letter",
    "Outbox",
    "OutboxUnavailable",
    "Outcome",
    "RedisOutbox",
    "Reject",
    "SQLiteOutbox",
    "open_outbox",
]

#: The SQLite outbox's file name in the data directory.
OUTBOX_FILE = "relay-outbox.sqlite3"


def open_outbox(data_dir: Path | None, redis_url: str | None) -> Outbox:
    """The outbox the relay was configured with: on Redis when ``redis_url`` is given,
    else the SQLite file ``relay-outbox.sqlite3`` in ``data_dir`` (by default the
    platform's data directory, as the other dingkit files).

    Raises:
        OutboxUnavailable: the SQLite file cannot be created or opened. (Redis is reached
            on first use: an unreachable one raises there, so that a relay can start
            before its Redis.)
    """
    if redis_url:
        return RedisOutbox(redis_url)
    if data_dir is None:
        from ..._config import data_dir as default_data_dir

        data_dir = default_data_dir()
    return SQLiteOutbox(Path(data_dir) / OUTBOX_FILE)
