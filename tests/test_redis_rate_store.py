"""``RedisRateLimitStore`` against a real Redis server on 127.0.0.1:6379.

Without a reachable Redis the tests are skipped, unless ``DINGKIT_REQUIRE_REDIS=1`` (CI), where
that is a failure. Every test uses its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

import _rate_script
from dingkit import APIConnectionError, RateLimitError, RedisRateLimitStore, Robot
from dingkit.robot.client import default_rate_limit_store, window_key

if TYPE_CHECKING:
    from conftest import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/0"
KEY = "robot:shared"
StoreFor = Callable[..., RedisRateLimitStore]


# Module scope: set up before the autouse fixture that clears DINGKIT_* from the environment.
@pytest.fixture(scope="module")
def redis_server() -> Iterator[redis.Redis]:
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        server.ping()
    except redis.RedisError as exc:
        server.close()
        message = f"no Redis server answers on 127.0.0.1:6379 ({exc})"
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
    """``store_for(**options)``: a store on its own connection, as another process or host
    would have, sharing this test's prefix."""
    made: list[RedisRateLimitStore] = []

    def make(**options: Any) -> RedisRateLimitStore:
        store = RedisRateLimitStore(REDIS_URL, prefix=prefix, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.redis.close()


def test_the_lua_script_does_the_sliding_windows_arithmetic(
    store_for: StoreFor, fake_clock: FakeClock
) -> None:
    store = store_for(clock=fake_clock)

    def take(operation: str) -> float:
        if operation == "reserve":
            return store.reserve(KEY, _rate_script.LIMIT, _rate_script.PERIOD)
        return store.try_acquire(KEY, _rate_script.LIMIT, _rate_script.PERIOD)

    assert _rate_script.run(take, fake_clock.advance) == _rate_script.expected()


def test_on_redis_time_the_21st_waits_about_a_minute(store_for: StoreFor) -> None:
    one, two = store_for(), store_for()
    assert [one.try_acquire(KEY, 20, 61.0) for _ in range(20)] == [0.0] * 20
    assert 55 < two.try_acquire(KEY, 20, 61.0) <= 61
    assert 55 < two.reserve(KEY, 20, 61.0) <= 61
    assert 55 < one.try_acquire(KEY, 20, 61.0) <= 61  # the reservation holds the next slot


def test_threads_on_connections_of_their_own_are_granted_twenty_in_all(
    store_for: StoreFor, redis_server: redis.Redis
) -> None:
    stores = [store_for() for _ in range(8)]
    granted: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores))

    def worker(store: RedisRateLimitStore) -> None:
        barrier.wait()
        for _ in range(10):
            delay = store.try_acquire(KEY, 20, 60.0)
            with lock:
                granted.append(delay)

    threads = [threading.Thread(target=worker, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(granted) == 80
    assert granted.count(0.0) == 20
    assert redis_server.zcard(stores[0].key(KEY)) == 20


def test_keys_hash_the_token_and_expire(
    store_for: StoreFor, prefix: str, redis_server: redis.Redis
) -> None:
    token = "0123456789abcdef-secret-robot-token"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    store = store_for()
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        Robot(token=token, base_url="http://sandbox", http_client=http, rate_limit=store) as bot,
    ):
        for _ in range(20):
            bot.send_text("hello", wait=False)
        with pytest.raises(RateLimitError):
            bot.send_text("hello", wait=False)
    keys = [key.decode() for key in redis_server.scan_iter(match=f"{prefix}:*")]
    assert keys == [f"{prefix}:ratelimit:{window_key(token)}"]
    assert token not in keys[0]
    # Kept while its slots are in the window (61 s), gone after.
    assert 55_000 < redis_server.pttl(keys[0]) <= 61_000


def test_dingkit_redis_url_makes_it_the_sdks_default(redis_server: redis.Redis) -> None:
    token = f"test-{uuid.uuid4().hex}"
    store = default_rate_limit_store({"DINGKIT_REDIS_URL": REDIS_URL})
    assert isinstance(store, RedisRateLimitStore)
    assert default_rate_limit_store({"DINGKIT_REDIS_URL": REDIS_URL}) is store  # one pool
    robot = Robot(token=token, environ={"DINGKIT_REDIS_URL": REDIS_URL})
    try:
        assert robot.limiter is not None
        assert robot.limiter.try_acquire() == 0.0
        assert redis_server.zcard(store.key(window_key(token))) == 1
    finally:
        robot.close()
        redis_server.delete(store.key(window_key(token)))


def test_an_unreachable_redis_is_one_clear_error_without_the_password() -> None:
    store = RedisRateLimitStore("redis://:hunter2secret@127.0.0.1:1/0")
    with pytest.raises(APIConnectionError) as info:
        store.try_acquire(KEY, 20, 61.0)
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "nothing was sent" in message
    assert "hunter2secret" not in message
    assert "\n" not in message
