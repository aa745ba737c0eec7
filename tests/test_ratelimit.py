from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from dingkit import AsyncRobot, RateLimitError, Robot, SlidingWindow
from dingkit._ratelimit import LimiterRegistry
from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import RobotConfig, SandboxConfig

START = 1_700_000_000.0


def max_in_any_window(times: Sequence[float], period: float = 60.0) -> int:
    """The most events in any half-open window ``[t, t + period)``."""
    ordered = sorted(times)
    return max(
        (sum(1 for u in ordered if t <= u < t + period) for t in ordered),
        default=0,
    )


def test_max_in_any_window_helper() -> None:
    assert max_in_any_window([0.0] * 20 + [60.0] * 5) == 20
    assert max_in_any_window([0.0] * 20 + [59.9]) == 21


# -- SlidingWindow ----------------------------------------------------------------------


def test_twenty_free_slots_then_the_oldest_must_leave() -> None:
    now = [START]
    window = SlidingWindow(20, 60, clock=lambda: now[0])
    assert [window.reserve() for _ in range(20)] == [0.0] * 20
    assert window.reserve() == 60.0
    assert window.reserve() == 60.0
    assert window.in_window() == 22


def test_slots_free_up_as_the_window_slides() -> None:
    now = [START]
    window = SlidingWindow(3, 60, clock=lambda: now[0])
    for step in (0.0, 10.0, 20.0):
        now[0] = START + step
        assert window.try_acquire() == 0.0
    now[0] = START + 30
    assert window.try_acquire() == pytest.approx(30.0)
    now[0] = START + 60
    assert window.try_acquire() == 0.0
    assert window.try_acquire() == pytest.approx(10.0)


def test_try_acquire_takes_nothing_when_refused() -> None:
    now = [START]
    window = SlidingWindow(1, 60, clock=lambda: now[0])
    assert window.try_acquire() == 0.0
    for _ in range(5):
        assert window.try_acquire() == 60.0
    assert window.in_window() == 1


@pytest.mark.parametrize(("limit", "period"), [(0, 60), (20, 0), (20, -1)])
def test_nonsense_limits_are_refused(limit: int, period: float) -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingWindow(limit, period)


def test_registry_gives_one_window_per_key() -> None:
    registry = LimiterRegistry(20, 60)
    assert registry.window("a") is registry.window("a")
    assert registry.window("a") is not registry.window("b")


def test_threads_sharing_a_window_never_overshoot() -> None:
    now = START
    window = SlidingWindow(20, 60, clock=lambda: now)
    barrier = threading.Barrier(5)
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(5):
            delay = window.reserve()
            with lock:
                slots.append(now + delay)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slots) == 25
    assert max_in_any_window(slots) == 20
    assert sorted(slots) == [START] * 20 + [START + 60] * 5


def test_robots_on_five_threads_share_one_limit(fake_clock: Callable[[], float]) -> None:
    window = SlidingWindow(20, 60, clock=fake_clock)
    waits: list[float] = []
    posts: list[httpx.Request] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            posts.append(request)
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    def record_wait(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    def worker(robot: Robot) -> None:
        for i in range(5):
            robot.send_text(f"message {i}")

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        robots = [
            Robot(
                token="shared",
                base_url="https://oapi.example",
                http_client=http,
                rate_limit=window,
                sleep=record_wait,
            )
            for _ in range(5)
        ]
        threads = [threading.Thread(target=worker, args=(robot,)) for robot in robots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(posts) == 25
    # 20 went at once; the other 5 were told to wait for the window to slide.
    assert sorted(waits) == [60.0] * 5
    slots = [fake_clock()] * 20 + [fake_clock() + w for w in waits]
    assert max_in_any_window(slots) == 20


# -- the client's limiter against the sandbox's ------------------------------------------


class PostClock(httpx.AsyncBaseTransport):
    """Notes the fake time at which each request is posted."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: Callable[[], float]) -> None:
        self.inner = inner
        self.clock = clock
        self.times: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(self.clock())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def plain_robot_config() -> SandboxConfig:
    return SandboxConfig(
        robots=(RobotConfig(name="burst", token="burst-token-0001", group="ops"),), limits=True
    )


@pytest.mark.anyio
async def test_burst_of_25_is_paced_to_20_a_minute_and_all_accepted(
    make_sandbox: Callable[..., Sandbox], fake_clock: Any, robot_for: Callable[..., AsyncRobot]
) -> None:
    sandbox = make_sandbox(config=plain_robot_config(), clock=fake_clock)
    assert sandbox.judge.limits
    posts: list[PostClock] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> PostClock:
        posts.append(PostClock(inner, fake_clock))
        return posts[-1]

    robot = robot_for(
        sandbox,
        "burst",
        wrap=wrap,
        rate_limit=SlidingWindow(20, 60, clock=fake_clock),
        sleep=fake_clock.asleep,
    )
    for i in range(25):
        await robot.send_text(f"burst {i}")
    times = posts[0].times
    assert len(times) == 25
    assert max_in_any_window(times) <= 20
    assert times[-1] - times[0] >= 60
    assert len(sandbox.robot.messages(robot="burst")) == 25
    assert sandbox.robot.rejections() == []


@pytest.mark.anyio
async def test_the_same_burst_without_the_limiter_is_refused(
    make_sandbox: Callable[..., Sandbox], fake_clock: Any, robot_for: Callable[..., AsyncRobot]
) -> None:
    sandbox = make_sandbox(config=plain_robot_config(), clock=fake_clock)
    robot = robot_for(sandbox, "burst", rate_limit=False)
    for i in range(20):
        await robot.send_text(f"burst {i}")
    for i in range(20, 25):
        with pytest.raises(RateLimitError) as info:
            await robot.send_text(f"burst {i}")
        assert info.value.errcode == 410100
    assert len(sandbox.robot.messages(robot="burst")) == 20
