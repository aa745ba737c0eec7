"""Outboxes for the contract tests: SQLite in a temporary directory, and real Redis.

Redis is the server on 127.0.0.1:6379; without one the Redis cases are skipped, unless
``DINGKIT_REQUIRE_REDIS=1`` (CI), where that is a failure. Each test's Redis outbox has a
key prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ._helpers import REDIS_URL, T0, Outbox, open_store

CHILD = Path(__file__).with_name("_child.py")

OutboxFactory = Callable[..., Outbox]


class Clock:
    """Seconds that move only when told to."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds`` (generous: a loaded CI)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


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
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where this test's outbox lives, as ``_child.py`` takes it: ``sqlite:PATH`` or
    ``redis:PREFIX``."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'relay-outbox.sqlite3'}"
        return
    server: redis.Redis = request.getfixturevalue("redis_server")
    prefix = f"dingkit-test:{uuid.uuid4().hex}:"
    yield f"redis:{prefix}"
    keys = list(server.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        server.delete(*keys)


@pytest.fixture
def make_outbox(store: str) -> Iterator[OutboxFactory]:
    """``make_outbox(clock=...)``: a handle on this test's outbox; calling it again gives
    another handle on the same one (as a second thread's or instance's would be)."""
    made: list[Outbox] = []

    def make(**options: Any) -> Outbox:
        outbox = open_store(store, **options)
        made.append(outbox)
        return outbox

    yield make
    for outbox in made:
        outbox.close()


def child(where: str, *args: str) -> subprocess.Popen[str]:
    """``_child.py`` on the outbox ``where``, its stdout a pipe of lines."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), where, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
