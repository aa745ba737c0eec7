"""``RedisTokenStore`` against a real Redis server on 127.0.0.1:6379 and a sandbox under uvicorn.

Without a reachable Redis the tests are skipped, unless ``DINGKIT_REQUIRE_REDIS=1`` (set in
CI, whose ``.ci/run`` starts one), where that is a failure. Every test uses its own key prefix
and deletes its keys afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

from dingkit import AccessToken, RedisTokenStore
from dingkit.sandbox.contacts.org import BOSS_USERID

if TYPE_CHECKING:
    from conftest import E2E

OpenE2E = Callable[..., "E2E"]
StoreFor = Callable[..., RedisTokenStore]

REDIS_URL = "redis://127.0.0.1:6379/0"
APP_KEY = "dinge2e0001"  # conftest's plain app
#: Long enough for a second client to look for the token while the first is fetching it.
TOKEN_DELAY = 0.3

# One process of the two-process test: a DingTalk client sharing the Redis store, which
# says "ready", waits for "go" on stdin, then makes one call.
_CHILD = r"""
import sys, time
import httpx
from dingkit import DingTalk, RedisTokenStore

url, prefix, app_key, app_secret, userid, delay = sys.argv[1:]


class SlowTokens(httpx.HTTPTransport):
    def handle_request(self, request):
        if request.url.path == "/v1.0/oauth2/accessToken":
            time.sleep(float(delay))
        return super().handle_request(request)


store = RedisTokenStore("redis://127.0.0.1:6379/0", prefix=prefix)
http = httpx.Client(transport=SlowTokens())
client = DingTalk(app_key, app_secret, oapi_base=url, api_base=url, qps=None,
                  token_store=store, http_client=http, environ={})
print("ready", flush=True)
sys.stdin.readline()
print(client.contacts.user(userid).userid, flush=True)
http.close()
store.redis.close()
"""


# One process of the async two-process test: an AsyncDingTalk sharing the Redis store, which
# says "ready", waits for "go", then makes `calls` concurrent calls while a watchdog task
# (sleeping 5 ms at a time) records how late the loop woke it, and prints what it saw as JSON.
# The watchdog keeps two maxima: until this process has its token (the calls wait for it
# together: store calls, the refresh lock, the fetch) and after (the HTTP calls themselves,
# where the store plays no part and a busy machine's scheduling shows).
_ASYNC_CHILD = r"""
import asyncio, json, sys, threading, time
import httpx
from dingkit import AsyncDingTalk, RedisTokenStore

url, prefix, app_key, app_secret, userid, delay, calls = sys.argv[1:]
PERIOD = 0.005


class SlowTokens(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request):
        if request.url.path == "/v1.0/oauth2/accessToken":
            await asyncio.sleep(float(delay))
        return await super().handle_async_request(request)


class CountingStore(RedisTokenStore):
    refused = 0

    def try_lock(self, key):
        receipt = super().try_lock(key)
        self.refused += receipt is None
        return receipt


async def watchdog(client, stop, lateness, phase):
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        phase[0] = "calls" if client.tokens.cached() else "token"
        started = loop.time()
        await asyncio.sleep(PERIOD)
        lateness[phase[0]] = max(lateness[phase[0]], loop.time() - started - PERIOD)


def control(stop, lateness, phase):
    # A plain thread ticking like the watchdog: how late the machine itself made every thread
    # of this process (a busy CI box), as opposed to the loop being blocked.
    while not stop.is_set():
        current, started = phase[0], time.monotonic()
        time.sleep(PERIOD)
        lateness[current] = max(lateness[current], time.monotonic() - started - PERIOD)


async def main():
    store = CountingStore("redis://127.0.0.1:6379/0", prefix=prefix)
    http = httpx.AsyncClient(transport=SlowTokens())
    client = AsyncDingTalk(app_key, app_secret, oapi_base=url, api_base=url, qps=None,
                           token_store=store, http_client=http, environ={})
    # Warm up (imports on first use, a connection), so that the watchdog sees the calls only.
    client.contacts
    (await http.get(url + "/_sandbox/tokens")).raise_for_status()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    stop, lateness, phase = asyncio.Event(), {"token": 0.0, "calls": 0.0}, ["token"]
    stop_control, control_lateness = threading.Event(), {"token": 0.0, "calls": 0.0}
    ticker = threading.Thread(target=control, args=(stop_control, control_lateness, phase))
    ticker.start()
    dog = asyncio.create_task(watchdog(client, stop, lateness, phase))
    await asyncio.sleep(0)
    users = await asyncio.gather(*(client.contacts.user(userid) for _ in range(int(calls))))
    stop.set()
    await dog
    stop_control.set()
    ticker.join()
    print(json.dumps({
        "userids": sorted({user.userid for user in users}),
        "calls": len(users),
        "fetches": client.tokens.fetches,
        "refused": store.refused,
        "lateness": lateness,
        "control": control_lateness,
    }), flush=True)
    await http.aclose()
    store.redis.close()


asyncio.run(main())
"""
#: Long enough that the second process surely finds the first holding the refresh lock.
ASYNC_TOKEN_DELAY = 1.0
ASYNC_CALLS = 200
#: The watchdog sleeps 5 ms at a time. A loop put to sleep while another process refreshes
#: (``time.sleep`` polling the lock, Redis calls on the loop) wakes it a whole fetch late
#: (1.14 s measured with the blocking store calls put back), while a plain thread of the same
#: process ticks on time: the loop's lateness beyond that thread's is time it was blocked.
MAX_LATENESS = 0.050


class SlowTokens(httpx.BaseTransport):
    """Delays token requests by :data:`TOKEN_DELAY`; everything else goes straight through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/oauth2/accessToken":
            time.sleep(TOKEN_DELAY)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# Module scope: set up before the autouse fixture that clears DINGKIT_* from the environment.
@pytest.fixture(scope="module")
def redis_server() -> Iterator[redis.Redis]:
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        server.ping()
    except redis.RedisError as exc:
        server.close()
        message = (
            f"no Redis server answers on 127.0.0.1:6379 ({exc}); start one with "
            "`redis-server --bind 127.0.0.1 --port 6379` (CI's .ci/run does)"
        )
        if os.environ.get("DINGKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_REDIS=1 but {message}", pytrace=False)
        pytest.skip(message)
    yield server
    server.close()


@pytest.fixture
def prefix(redis_server: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    unique = f"dingkit-test:{uuid.uuid4().hex}"
    yield unique
    keys = list(redis_server.scan_iter(match=f"{unique}:*"))
    if keys:
        redis_server.delete(*keys)


@pytest.fixture
def store_for(prefix: str) -> Iterator[StoreFor]:
    """``store_for(**options)``: a store on its own connection (as another process would have),
    sharing this test's prefix."""
    made: list[RedisTokenStore] = []

    def make(**options: Any) -> RedisTokenStore:
        store = RedisTokenStore(REDIS_URL, prefix=prefix, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.redis.close()


def connect_shared(e2e: E2E, store: RedisTokenStore, **settings: Any) -> Any:
    # The store's TTLs count from the wall clock, so these clients use it too.
    return e2e.connect(token_store=store, clock=time.time, **settings)


# -- one token for everyone ----------------------------------------------------------------


def test_two_clients_sharing_the_store_make_one_token_request(
    open_e2e: OpenE2E, store_for: StoreFor
) -> None:
    e2e = open_e2e("sync")
    clients = [connect_shared(e2e, store_for(), wrap=SlowTokens) for _ in range(2)]
    start = threading.Barrier(len(clients))
    found: list[str] = []

    def work(client: Any) -> None:
        start.wait()
        found.append(client.contacts.user(BOSS_USERID).userid)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert found == [BOSS_USERID, BOSS_USERID]
    # The second waited for the first's refresh lock, then read the token it stored.
    assert e2e.token_counts()["requests"] == {"e2e": 1}
    assert len(e2e.token_requests()) == 1


def test_two_processes_sharing_the_store_make_one_token_request(
    open_e2e: OpenE2E, prefix: str
) -> None:
    e2e = open_e2e("sync")
    app = e2e.apps["plain"]
    argv = [sys.executable, "-c", _CHILD, e2e.url, prefix, app.app_key, app.app_secret]
    children = [
        subprocess.Popen(
            [*argv, BOSS_USERID, str(TOKEN_DELAY)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", child.communicate()[1]
        for child in children:  # both go at once
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=30)
            assert (child.returncode, out.strip()) == (0, BOSS_USERID), err
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert e2e.token_counts()["requests"] == {"e2e": 1}


def test_async_clients_in_two_processes_fetch_one_token_and_never_block_their_loops(
    open_e2e: OpenE2E, prefix: str
) -> None:
    e2e = open_e2e("sync")
    app = e2e.apps["plain"]
    argv = [sys.executable, "-c", _ASYNC_CHILD, e2e.url, prefix, app.app_key, app.app_secret]
    children = [
        subprocess.Popen(
            [*argv, BOSS_USERID, str(ASYNC_TOKEN_DELAY), str(ASYNC_CALLS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", child.communicate()[1]
        for child in children:  # both go at once
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        seen = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            seen.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    for report in seen:
        assert (report["userids"], report["calls"]) == ([BOSS_USERID], ASYNC_CALLS)
    assert e2e.token_counts()["requests"] == {"e2e": 1}
    # One process fetched; the other waited for its lock (polling) and read the token.
    assert sorted(report["fetches"] for report in seen) == [0, 1]
    waiter = next(report for report in seen if report["fetches"] == 0)
    assert waiter["refused"] > 0
    # Blocked: how much later the loop woke than a plain thread of the same process, so that
    # a machine busy with other work (every thread late alike) does not count as blocking.
    blocked = [report["lateness"]["token"] - report["control"]["token"] for report in seen]
    assert max(blocked) < MAX_LATENESS, seen


# -- the refresh lock ----------------------------------------------------------------------


def _lock_key(store: RedisTokenStore) -> str:
    return f"{store.prefix}:lock:{APP_KEY}"


def test_the_refresh_lock_has_one_holder_at_a_time(store_for: StoreFor) -> None:
    first, second = store_for(), store_for(wait_timeout=10)
    acquired = threading.Event()

    def take_second() -> None:
        with second.refresh_lock(APP_KEY):
            acquired.set()

    with first.refresh_lock(APP_KEY):
        waiter = threading.Thread(target=take_second)
        waiter.start()
        assert not acquired.wait(0.3)  # the first still holds it
    assert acquired.wait(5)  # released: the second gets it at its next try
    waiter.join(timeout=5)
    assert first.redis.exists(_lock_key(first)) == 0  # and released it in turn


def test_the_lock_is_released_by_its_owner_only(store_for: StoreFor) -> None:
    slow, fast = store_for(lock_timeout=0.2), store_for(lock_timeout=10)
    stale = slow.refresh_lock(APP_KEY)
    stale.__enter__()
    time.sleep(0.3)  # the slow holder's lock expired while it was still working
    with fast.refresh_lock(APP_KEY):
        owner = fast.redis.get(_lock_key(fast))
        assert owner is not None
        stale.__exit__(None, None, None)  # the slow one finishes: it must not free fast's lock
        assert fast.redis.get(_lock_key(fast)) == owner
    assert fast.redis.exists(_lock_key(fast)) == 0


def test_a_crashed_holder_s_lock_expires_after_lock_timeout(store_for: StoreFor) -> None:
    crashed, waiting = store_for(lock_timeout=0.5), store_for(wait_timeout=10)
    held = crashed.refresh_lock(APP_KEY)
    held.__enter__()  # and never leaves: the process died holding it
    assert 0 < crashed.redis.pttl(_lock_key(crashed)) <= 500
    started = time.monotonic()
    with waiting.refresh_lock(APP_KEY):
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0
    held.__exit__(None, None, None)


def test_a_waiter_gives_up_after_wait_timeout_without_freeing_the_lock(
    store_for: StoreFor,
) -> None:
    holder, impatient = store_for(lock_timeout=10), store_for(wait_timeout=0.3)
    with holder.refresh_lock(APP_KEY):
        owner = holder.redis.get(_lock_key(holder))
        started = time.monotonic()
        with impatient.refresh_lock(APP_KEY):  # a stuck refresher must not block everyone
            assert 0.3 <= time.monotonic() - started < 2.0
        assert holder.redis.get(_lock_key(holder)) == owner


# -- what is stored --------------------------------------------------------------------------


def test_discard_removes_only_the_rejected_token(store_for: StoreFor) -> None:
    store = store_for()
    newer = AccessToken("token-refreshed-by-another-process", time.time() + 7200)
    store.save(APP_KEY, newer)
    store.discard(APP_KEY, "token-this-process-saw-rejected")
    assert store.load(APP_KEY) == newer
    store.discard(APP_KEY, newer.value)
    assert store.load(APP_KEY) is None


def test_a_rejected_token_is_replaced_in_the_store(open_e2e: OpenE2E, store_for: StoreFor) -> None:
    e2e = open_e2e("sync")
    store = store_for()
    key = connect_shared(e2e, store).tokens.cache_key
    e2e.run(lambda c: c.contacts.user(BOSS_USERID))
    first = store.load(key)
    e2e.expire_tokens()
    e2e.run(lambda c: c.contacts.user(BOSS_USERID))
    second = store.load(key)
    assert first is not None
    assert second is not None
    assert second.value != first.value
    assert e2e.token_counts()["requests"] == {"e2e": 2}


@pytest.mark.parametrize("lifetime", [7200, 90])
def test_the_stored_key_lives_as_long_as_the_token(store_for: StoreFor, lifetime: int) -> None:
    store = store_for()
    store.save(APP_KEY, AccessToken("t", time.time() + lifetime))
    ttl_ms = store.redis.pttl(f"{store.prefix}:token:{APP_KEY}")
    assert (lifetime - 2) * 1000 <= ttl_ms <= lifetime * 1000


def test_a_fetched_token_is_stored_for_its_remaining_life(
    open_e2e: OpenE2E, store_for: StoreFor
) -> None:
    e2e = open_e2e("sync", token_ttl=3600)
    store = store_for()
    key = connect_shared(e2e, store).tokens.cache_key
    e2e.run(lambda c: c.contacts.user(BOSS_USERID))
    ttl_ms = store.redis.pttl(f"{store.prefix}:token:{key}")
    assert 3598_000 <= ttl_ms <= 3600_000


def test_the_token_stays_out_of_reprs(open_e2e: OpenE2E, store_for: StoreFor) -> None:
    e2e = open_e2e("sync")
    store = store_for()
    client = connect_shared(e2e, store)
    e2e.run(lambda c: c.contacts.user(BOSS_USERID))
    token = store.load(client.tokens.cache_key)
    assert token is not None
    for text in (repr(store), repr(client), repr(client.tokens), repr(token), str(token)):
        assert token.value not in text
        assert e2e.apps["plain"].app_secret not in text
