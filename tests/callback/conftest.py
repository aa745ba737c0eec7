"""Inboxes for the callback tests: SQLite in a temporary directory, and real Redis.

Redis is the server on 127.0.0.1:6379; without one the Redis cases are skipped, unless
``DINGKIT_REQUIRE_REDIS=1`` (CI), where that is a failure. Each Redis inbox has its own name
and is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dingkit.callback.inbox import Inbox, SQLiteInbox
from dingkit.callback.redis_inbox import RedisInbox

REDIS_URL = "redis://127.0.0.1:6379/0"

InboxFactory = Callable[..., Inbox]


class Clock:
    """Seconds that move only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"no Redis at {REDIS_URL} ({exc})"
        if os.environ.get("DINGKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_REDIS=1 but {message}", pytrace=False)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def make_inbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InboxFactory]:
    """``make_inbox(clock=...)``: a fresh inbox of the parametrised kind; calling it again
    gives another handle on the same inbox (as a second process would have)."""
    made: list[Any] = []
    name = uuid.uuid4().hex

    def make(**options: Any) -> Inbox:
        inbox: Inbox
        if request.param == "sqlite":
            inbox = SQLiteInbox(tmp_path / "inbox.sqlite3", **options)
        else:
            server = request.getfixturevalue("redis_server")
            client = redis.Redis(connection_pool=server.connection_pool)
            inbox = RedisInbox(client, name=name, **options)
        made.append(inbox)
        return inbox

    yield make
    if request.param == "redis" and made:
        made[0].clear()
    for inbox in made:
        if isinstance(inbox, SQLiteInbox):
            inbox.close()
