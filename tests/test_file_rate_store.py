from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

import _rate_script
from dingkit import AsyncRobot, FileRateLimitStore, RateLimitError, Robot
from dingkit._config import rate_limit_file
from dingkit.robot.client import default_rate_limit_store, window_key
from test_ratelimit import max_in_any_window

if TYPE_CHECKING:
    from conftest import FakeClock

KEY = "robot:shared"

# One of several processes sharing a window file: says "ready", waits for "go" on stdin so
# that all start together, then takes COUNT slots and prints the delays it was given.
_WORKER = r"""
import sys
from dingkit import FileRateLimitStore

path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = FileRateLimitStore(path)
take = store.reserve if mode == "reserve" else store.try_acquire
print("ready", flush=True)
sys.stdin.readline()
print(" ".join(repr(take("robot:shared", 20, 60.0)) for _ in range(count)), flush=True)
"""


def run_processes(path: Path, mode: str, processes: int, count: int) -> list[float]:
    """``processes`` separate interpreters taking ``count`` slots each at once; all delays."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), mode, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        delays: list[float] = []
        for child in children:
            out, _ = child.communicate(timeout=60)
            assert child.returncode == 0
            delays += [float(word) for word in out.split()]
        return delays
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def slots_in(path: Path, key: str = KEY) -> list[float]:
    return list(json.loads(path.read_text())[key]["times"])


def test_the_arithmetic_is_the_sliding_windows(tmp_path: Path, fake_clock: FakeClock) -> None:
    store = FileRateLimitStore(tmp_path / "rate.json", clock=fake_clock)

    def take(operation: str) -> float:
        if operation == "reserve":
            return store.reserve(KEY, _rate_script.LIMIT, _rate_script.PERIOD)
        return store.try_acquire(KEY, _rate_script.LIMIT, _rate_script.PERIOD)

    assert _rate_script.run(take, fake_clock.advance) == _rate_script.expected()


def test_two_stores_on_one_file_share_reservations_in_the_future(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    # Two stores are what two processes hold: all they share is the file.
    one = FileRateLimitStore(tmp_path / "rate.json", clock=fake_clock)
    two = FileRateLimitStore(tmp_path / "rate.json", clock=fake_clock)
    assert [one.reserve(KEY, 20, 61) for _ in range(22)] == [0.0] * 20 + [61.0, 61.0]
    assert two.try_acquire(KEY, 20, 61) == 61.0  # the reservations hold the next slots
    assert two.reserve(KEY, 20, 61) == 61.0
    fake_clock.advance(61)
    # The first twenty have left the window; the three slots reserved for now are in it.
    assert [two.try_acquire(KEY, 20, 61) for _ in range(18)] == [0.0] * 17 + [61.0]
    fake_clock.advance(0.5)
    assert one.try_acquire(KEY, 20, 61) == 60.5
    assert two.try_acquire("robot:other", 20, 61) == 0.0  # another robot: its own window


def test_old_slots_are_pruned_from_the_file(tmp_path: Path, fake_clock: FakeClock) -> None:
    path = tmp_path / "rate.json"
    store = FileRateLimitStore(path, clock=fake_clock)
    for _ in range(5):
        store.try_acquire("robot:a", 20, 61)
    fake_clock.advance(30)
    store.try_acquire("robot:b", 20, 61)
    fake_clock.advance(31)
    store.try_acquire("robot:b", 20, 61)
    data = json.loads(path.read_text())
    assert set(data) == {"robot:b"}  # robot:a's minute is over: gone
    assert len(data["robot:b"]["times"]) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"robot:shared": 5}',
        b'{"robot:shared": {"period": "61", "times": [1]}}',
        b'{"robot:shared": {"period": 61, "times": ["x", null, NaN, 1e999]}}',
        b'{"robot:shared": {"period": -1, "times": []}}',
        b"x" * (2 << 20),
    ],
    ids=[
        "empty",
        "torn",
        "binary",
        "list",
        "number",
        "period-text",
        "bad-times",
        "bad-period",
        "huge",
    ],
)
def test_a_damaged_file_counts_as_empty_and_is_rewritten(
    tmp_path: Path, fake_clock: FakeClock, content: bytes
) -> None:
    path = tmp_path / "rate.json"
    path.write_bytes(content)
    store = FileRateLimitStore(path, clock=fake_clock)
    assert [store.try_acquire(KEY, 20, 61) for _ in range(21)][-2:] == [0.0, 61.0]
    assert len(slots_in(path)) == 20


def test_the_file_is_private_and_names_robots_only_by_a_hash(tmp_path: Path) -> None:
    token = "0123456789abcdef-secret-robot-token"
    path = tmp_path / "data" / "dingkit" / "rate-limits.json"
    assert rate_limit_file({"XDG_DATA_HOME": str(tmp_path / "data")}) == path

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        Robot(token=token, base_url="http://sandbox", http_client=http, environ=environ) as bot,
    ):
        bot.send_text("hello")
    assert isinstance(bot.limiter.store, FileRateLimitStore)  # type: ignore[union-attr]
    text = path.read_text()
    assert token not in text
    assert window_key(token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unusable_file_falls_back_to_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store = FileRateLimitStore(blocker / "rate.json")
    with caplog.at_level(logging.WARNING, logger="dingkit.robot.ratelimit"):
        delays = [store.try_acquire(KEY, 20, 61) for _ in range(21)]
    assert delays[:20] == [0.0] * 20
    assert delays[20] > 60
    warnings = [r for r in caplog.records if "cannot share robot rate limits" in r.message]
    assert len(warnings) == 1  # said once, not on every send


def test_threads_with_stores_of_their_own_never_grant_more_than_the_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rate.json"
    granted: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        store = FileRateLimitStore(path)
        barrier.wait()
        for _ in range(10):
            delay = store.try_acquire(KEY, 20, 60.0)
            with lock:
                granted.append(delay)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(granted) == 80
    assert granted.count(0.0) == 20
    assert len(slots_in(path)) == 20


def test_processes_hammering_try_acquire_are_granted_twenty_in_all(tmp_path: Path) -> None:
    path = tmp_path / "rate.json"
    delays = run_processes(path, "try", processes=6, count=10)
    assert len(delays) == 60
    assert delays.count(0.0) == 20
    assert all(0 < delay <= 60 for delay in delays if delay)
    assert len(slots_in(path)) == 20


def test_processes_reserving_queue_behind_each_other(tmp_path: Path) -> None:
    path = tmp_path / "rate.json"
    delays = run_processes(path, "reserve", processes=5, count=6)
    waits = sorted(delays)
    assert waits[:20] == [0.0] * 20
    # Everything ran within seconds, so the 21st to 30th wait most of a minute.
    assert all(50 < wait <= 60 for wait in waits[20:])
    slots = slots_in(path)
    assert len(slots) == 30
    assert max_in_any_window(slots) == 20


def test_the_sdk_default_is_the_file_beside_the_token_cache(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path)}
    store = default_rate_limit_store(environ)
    assert isinstance(store, FileRateLimitStore)
    assert store.path == tmp_path / "dingkit" / "rate-limits.json"
    assert default_rate_limit_store(environ) is store


def test_without_a_usable_file_the_processs_clients_still_share_a_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    environ = {"XDG_DATA_HOME": str(blocker)}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    settings = {"token": "tok", "base_url": "http://sandbox", "environ": environ}
    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as http,
        Robot(http_client=http, **settings) as one,  # type: ignore[arg-type]
        Robot(http_client=http, **settings) as two,  # type: ignore[arg-type]
    ):
        assert _sends(one, 10) == [None] * 10
        outcomes = _sends(two, 11)
    assert outcomes[:10] == [None] * 10
    assert isinstance(outcomes[10], RateLimitError)
    assert "cannot share robot rate limits" in caplog.text


def _sends(robot: Robot, count: int) -> Sequence[BaseException | None]:
    outcomes: list[BaseException | None] = []
    for _ in range(count):
        try:
            robot.send_text("x", wait=False)
            outcomes.append(None)
        except RateLimitError as error:
            outcomes.append(error)
    return outcomes


@pytest.mark.anyio
async def test_async_and_sync_robots_share_the_file(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    store = FileRateLimitStore(tmp_path / "rate.json")
    settings = {"token": "tok", "base_url": "http://sandbox", "rate_limit": store}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as ahttp:
        robot = AsyncRobot(http_client=ahttp, **settings)  # type: ignore[arg-type]
        for _ in range(15):
            await robot.send_text("x", wait=False)
        with (
            httpx.Client(transport=httpx.MockTransport(handler)) as http,
            Robot(http_client=http, **settings) as sync,  # type: ignore[arg-type]
        ):
            outcomes = _sends(sync, 6)
        assert outcomes[:5] == [None] * 5
        error = outcomes[5]
        assert isinstance(error, RateLimitError)
        assert error.retry_after is not None
        assert 55 < error.retry_after <= 61
        with pytest.raises(RateLimitError):
            await robot.send_text("x", wait=False)
    assert len(slots_in(tmp_path / "rate.json", window_key("tok"))) == 20
