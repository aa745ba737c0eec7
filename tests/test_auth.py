"""The token flow's drivers: store I/O stays off the event loop, a refresh lock held by another
process is awaited without blocking it, and the lock is released whatever happens.

The stores here are fakes in memory that note the thread of every call and whose lock another
"process" (a thread) can hold; ``tests/e2e/test_redis_token_store.py`` does the same against a
real Redis and two real processes.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dingkit import AccessToken, APIError, MemoryTokenStore, RetryPolicy
from dingkit._auth import token_cache_key
from dingkit._client import AsyncDingTalk, DingTalk

APP_KEY = "key"
#: Where the clients below keep their token in a store (the new family's base, the key, the
#: secret's hash).
CACHE_KEY = token_cache_key("https://api.test", APP_KEY, "secret")
TOKEN_PATH = "/v1.0/oauth2/accessToken"
USER_GET = "/topapi/v2/user/get"
OK = {"errcode": 0, "errmsg": "ok", "result": {"userid": "u1"}}
REJECTED = {"errcode": 40014, "errmsg": "不合法的access_token"}
#: How long another process holds the refresh lock in these tests...
HOLD = 0.4
#: ...and how late the watchdog (5 ms naps) may wake: a loop blocked through the wait would be
#: late by all of it, a busy test machine's scheduling by far less.
MAX_LATENESS = HOLD / 2
#: What each store call costs, as a network round trip would: the loop must not pay it.
STORE_LATENCY = 0.020


class ThreadNotingStore(MemoryTokenStore):
    """A memory store whose every call takes :data:`STORE_LATENCY` and notes its thread, with
    a refresh lock that another process (:meth:`held_elsewhere`) can hold."""

    def __init__(self, *, wait_timeout: float = 5.0) -> None:
        super().__init__()
        self.wait_timeout = wait_timeout
        self.calls: list[tuple[str, int]] = []
        self.holder: str | None = None
        self.refused = 0  # try_lock answers "held by another"
        self._guard = threading.Lock()

    def _note(self, name: str) -> None:
        self.calls.append((name, threading.get_ident()))
        time.sleep(STORE_LATENCY)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def threads(self) -> set[int]:
        return {thread for _, thread in self.calls}

    def load(self, key: str) -> AccessToken | None:
        self._note("load")
        return super().load(key)

    def save(self, key: str, token: AccessToken) -> None:
        self._note("save")
        super().save(key, token)

    def discard(self, key: str, value: str) -> None:
        self._note("discard")
        super().discard(key, value)

    def try_lock(self, key: str) -> str | None:
        self._note("try_lock")
        with self._guard:
            if self.holder is not None:
                self.refused += 1
                return None
            self.holder = uuid.uuid4().hex
            return self.holder

    def unlock(self, key: str, receipt: str) -> None:
        self._note("unlock")
        with self._guard:
            if self.holder == receipt:
                self.holder = None

    def held_elsewhere(self, seconds: float, token: AccessToken) -> threading.Thread:
        """Another process takes the lock now and, ``seconds`` later, stores ``token`` and
        releases it. Returns the thread playing that process."""
        with self._guard:
            assert self.holder is None
            self.holder = "another-process"

        def refresh() -> None:
            time.sleep(seconds)
            MemoryTokenStore.save(self, CACHE_KEY, token)
            with self._guard:
                self.holder = None

        thread = threading.Thread(target=refresh)
        thread.start()
        return thread


class Server:
    """Hands out tokens ``tok1``, ``tok2``...; answers API calls with ``answers`` in turn (the
    last one repeats)."""

    def __init__(self, *answers: tuple[int, Any], token_delay: float = 0.0) -> None:
        self.answers = list(answers) or [(200, OK)]
        self.token_delay = token_delay
        self.token_requests = 0
        self.calls = 0
        self.token_asked = asyncio.Event()  # a token request arrived (async client)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            self.token_requests += 1
            return httpx.Response(200, json={"accessToken": f"tok{self.token_requests}"})
        self.calls += 1
        status, body = self.answers[min(self.calls, len(self.answers)) - 1]
        return httpx.Response(status, json=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            time.sleep(self.token_delay)
        return self._answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            self.token_asked.set()
            await asyncio.sleep(self.token_delay)
        return self._answer(request)


_SETTINGS: dict[str, Any] = {
    "oapi_base": "https://oapi.test",
    "api_base": "https://api.test",
    "qps": None,
    "retry": RetryPolicy(initial_delay=0.001, max_delay=0.001),
    "environ": {},
}


def async_client(server: Server, store: MemoryTokenStore) -> AsyncDingTalk:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.handle_async))
    return AsyncDingTalk(APP_KEY, "secret", http_client=http, token_store=store, **_SETTINGS)


def sync_client(server: Server, store: MemoryTokenStore) -> DingTalk:
    http = httpx.Client(transport=httpx.MockTransport(server))
    return DingTalk(APP_KEY, "secret", http_client=http, token_store=store, **_SETTINGS)


class Watchdog:
    """A task that sleeps 5 ms at a time and records how late it woke: a blocked loop shows."""

    PERIOD = 0.005

    def __init__(self) -> None:
        self.lateness = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = loop.time()
            await asyncio.sleep(self.PERIOD)
            self.lateness = max(self.lateness, loop.time() - started - self.PERIOD)

    async def __aenter__(self) -> Watchdog:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


def user_get(client: AsyncDingTalk) -> Any:
    return client.call("POST", USER_GET, json={"userid": "u1"})


@pytest.fixture
def sleepers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads that called ``time.sleep`` during the test (the loop's must not)."""
    threads: list[int] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        threads.append(threading.get_ident())
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return threads


@pytest.fixture
def store() -> Iterator[ThreadNotingStore]:
    store = ThreadNotingStore()
    yield store
    assert store.holder in (None, "another-process"), "the flow left its lock taken"


# -- off the loop ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_async_driver_never_calls_the_store_on_the_loop_thread(
    store: ThreadNotingStore,
) -> None:
    # The first answer rejects the token: the refresh's discard goes through the store too.
    server = Server((200, REJECTED), (200, OK))
    async with async_client(server, store) as client:
        await asyncio.gather(*(user_get(client) for _ in range(200)))
    assert set(store.names()) == {"load", "try_lock", "save", "unlock", "discard"}
    assert threading.get_ident() not in store.threads()
    assert server.token_requests == 2  # the first, and one refresh after the rejection


@pytest.mark.anyio
async def test_200_concurrent_calls_make_one_refresh(store: ThreadNotingStore) -> None:
    server = Server(token_delay=0.05)
    async with async_client(server, store) as client:
        await asyncio.gather(*(user_get(client) for _ in range(200)))
    assert server.token_requests == 1
    assert server.calls == 200
    assert store.names().count("try_lock") == 1


def test_the_sync_driver_calls_the_store_in_the_calling_thread(store: ThreadNotingStore) -> None:
    with sync_client(Server(), store) as client:
        user_get(client)  # type: ignore[arg-type]
    assert store.threads() == {threading.get_ident()}
    assert store.names() == ["load", "try_lock", "load", "save", "unlock"]


# -- a lock held by another process ----------------------------------------------------------


@pytest.mark.anyio
async def test_a_lock_held_by_another_process_is_awaited_without_blocking_the_loop(
    store: ThreadNotingStore, sleepers: list[int]
) -> None:
    theirs = AccessToken("their-token", time.time() + 7200)
    other = store.held_elsewhere(HOLD, theirs)
    server = Server()
    started = time.monotonic()
    async with async_client(server, store) as client, Watchdog() as watchdog:
        assert await client.access_token() == "their-token"
    waited = time.monotonic() - started
    other.join()
    assert waited >= HOLD
    assert store.refused >= 3  # it polled while the other held the lock
    assert threading.get_ident() not in sleepers  # no time.sleep on the loop
    assert watchdog.lateness < MAX_LATENESS
    assert server.token_requests == 0  # it read the other's token instead of fetching


def test_the_sync_client_waits_for_another_process_s_lock_too(store: ThreadNotingStore) -> None:
    other = store.held_elsewhere(0.2, AccessToken("their-token", time.time() + 7200))
    server = Server()
    with sync_client(server, store) as client:
        assert client.access_token() == "their-token"
    other.join()
    assert server.token_requests == 0


@pytest.mark.anyio
async def test_past_wait_timeout_the_flow_fetches_without_the_lock(sleepers: list[int]) -> None:
    stuck = ThreadNotingStore(wait_timeout=HOLD)
    stuck.holder = "a-refresher-that-never-finishes"
    server = Server()
    started = time.monotonic()
    async with async_client(server, stuck) as client, Watchdog() as watchdog:
        assert await client.access_token() == "tok1"
    assert HOLD <= time.monotonic() - started < 5
    assert threading.get_ident() not in sleepers
    assert watchdog.lateness < MAX_LATENESS
    assert "unlock" not in stuck.names()  # not ours to release
    assert stuck.holder == "a-refresher-that-never-finishes"


# -- the lock is released --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_failed_async_fetch_releases_the_lock(store: ThreadNotingStore) -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "invalidClientSecret", "message": "bad secret"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    async with AsyncDingTalk(
        APP_KEY, "secret", http_client=http, token_store=store, **_SETTINGS
    ) as client:
        with pytest.raises(APIError):
            await client.access_token()
    assert store.names()[-1] == "unlock"
    assert store.holder is None


def test_a_failed_sync_fetch_releases_the_lock(store: ThreadNotingStore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "invalidClientSecret", "message": "bad secret"})

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with (
        DingTalk(APP_KEY, "secret", http_client=http, token_store=store, **_SETTINGS) as client,
        pytest.raises(APIError),
    ):
        client.access_token()
    assert store.names()[-1] == "unlock"
    assert store.holder is None


@pytest.mark.anyio
async def test_a_cancelled_refresh_releases_the_lock(store: ThreadNotingStore) -> None:
    server = Server(token_delay=10)
    async with async_client(server, store) as client:
        refresh = asyncio.create_task(client.access_token())
        await server.token_asked.wait()  # the lock is taken, the token on its way
        refresh.cancel()
        with pytest.raises(asyncio.CancelledError):
            await refresh
    assert store.names()[-1] == "unlock"
    assert store.holder is None


class GatedTryLock(ThreadNotingStore):
    """``try_lock`` takes the lock, then waits for :attr:`gate` before answering."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    def try_lock(self, key: str) -> str | None:
        receipt = super().try_lock(key)
        self.entered.set()
        self.gate.wait(5)
        return receipt


@pytest.mark.anyio
async def test_a_refresh_cancelled_while_taking_the_lock_still_releases_it() -> None:
    store = GatedTryLock()
    server = Server()
    async with async_client(server, store) as client:
        refresh = asyncio.create_task(client.access_token())
        await asyncio.to_thread(store.entered.wait, 5)
        refresh.cancel()  # while the thread is taking the lock
        await asyncio.sleep(0.05)
        store.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await refresh
    assert store.names()[-1] == "unlock"
    assert store.holder is None
    assert server.token_requests == 0  # cancelled before the fetch


# -- the store key ---------------------------------------------------------------------------


def test_the_store_key_is_per_service_app_and_secret() -> None:
    key = token_cache_key("https://api.test/", APP_KEY, "secret")
    assert key == CACHE_KEY  # a trailing slash is the same service
    others = {
        token_cache_key("http://127.0.0.1:8000", APP_KEY, "secret"),  # the sandbox
        token_cache_key("https://api.test", "other-key", "secret"),
        token_cache_key("https://api.test", APP_KEY, "rotated"),
    }
    assert len(others | {key}) == 4
    assert "secret" not in key.split()[-1]  # a hash, never the secret


def test_a_token_fetched_with_another_secret_is_not_used() -> None:
    store = MemoryTokenStore()
    store.save(token_cache_key("https://api.test", APP_KEY, "old"), AccessToken("x", 9e9))
    server = Server()
    with sync_client(server, store) as client:
        assert client.access_token() == "tok1"
    assert server.token_requests == 1
