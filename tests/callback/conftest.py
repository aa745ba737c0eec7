"""Inboxes for the callback tests: SQLite in a temporary directory, and real Redis.

Redis is the server on 127.0.0.1:6379; without one the Redis cases are skipped, unless
``DINGKIT_REQUIRE_REDIS=1`` (CI), where that is a failure. Each Redis inbox has its own name
and is deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn

from _forkserver import ForkServer
from dingkit import DingTalk
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.inbox import Inbox, SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver, inbox_path
from dingkit.callback.redis_inbox import RedisInbox
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.store import Store
from reliability import secrets_scan

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


# ---- a sandbox and a receiver on real sockets (end-to-end and CLI tests) -----------------

APP = AppConfig(name="events", app_key="dingevents0001", app_secret="events-secret-0001")
TOKEN = "e2e-callback-token"
AES_KEY = new_aes_key()
EXPENSE_FORM = {"报销类型": "交通费", "报销金额（元）": "35.5", "费用日期": "2026-11-20"}


class Served:
    """An ASGI app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    config = SandboxConfig(apps=(APP,), callback_retry_delays=(0.05, 0.1), callback_timeout=2.0)
    sandbox = Sandbox(config, Store(":memory:"))
    with SandboxServer(sandbox) as server:
        yield server


@pytest.fixture
def client(sandbox_server: SandboxServer) -> Iterator[DingTalk]:
    url = sandbox_server.url
    with DingTalk(APP.app_key, APP.app_secret, oapi_base=url, api_base=url, environ={}) as dingtalk:
        yield dingtalk


@pytest.fixture
def live_receiver(tmp_path: Path, sandbox_server: SandboxServer) -> CallbackReceiver:
    corp_id = sandbox_server.sandbox.config.corp_id
    return CallbackReceiver(TOKEN, AES_KEY, corp_id, inbox=SQLiteInbox(inbox_path(tmp_path)))


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def cli_env(sandbox_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `dingkit` subprocess: the app, the sandbox, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    return {
        **env,
        "DINGTALK_APP_KEY": APP.app_key,
        "DINGTALK_APP_SECRET": APP.app_secret,
        "DINGTALK_OAPI_BASE_URL": sandbox_url,
        "DINGTALK_API_BASE_URL": sandbox_url,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "HOME": str(tmp_path),
    }


def dingkit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m dingkit ARGS``: a fork of the session's warmed-up interpreter where it can
    be (the same process semantics, without a third of a second of start-up), else a plain
    subprocess."""
    forks = ForkServer.get(env)
    if forks is not None:
        code, out, err = forks.run(args, env, Path(env["HOME"]), "", 60)
        secrets_scan.collect(args, out, err)
        return subprocess.CompletedProcess([sys.executable, "-m", "dingkit", *args], code, out, err)
    completed = subprocess.run(
        [sys.executable, "-m", "dingkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    secrets_scan.collect(args, completed.stdout, completed.stderr)
    return completed
