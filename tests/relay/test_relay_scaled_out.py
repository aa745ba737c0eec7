"""Two relay instances on one Redis (its outbox and its robot windows): they share the work
and the budget, and the sandbox, enforcing DingTalk's limit, never sees more than a window's
20 messages from the robot, nor refuses one."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from dingkit import RedisRateLimitStore
from dingkit.relay.config import validate_config
from dingkit.relay.delivery import Policy
from dingkit.relay.intake import accept
from dingkit.relay.outbox import RedisOutbox
from dingkit.relay.service import Relay
from dingkit.robot.limits import TEST_PERIOD_ENV
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

from .test_relay_delivery import alert_group

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"
# DingTalk's minute, shortened for the sandbox and both instances. Not shorter: the client's
# window is one second longer than DingTalk's, against the jitter between taking a slot and
# arriving, and a busy machine's jitter must stay under that.
PERIOD = 8.0
MESSAGES = 30


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("DINGKIT_REQUIRE_REDIS") == "1":
            pytest.fail(f"DINGKIT_REQUIRE_REDIS=1 but no Redis at {REDIS_URL}: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"dingkit-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


async def test_two_instances_share_the_work_and_never_exceed_the_budget(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_PERIOD_ENV, str(PERIOD))
    robot = RobotConfig(name="ops", token=secrets.token_hex(16), group="ops")
    sent_at: list[float] = []
    with SandboxServer(
        Sandbox.from_settings(config=SandboxConfig(robots=(robot,), limits=True))
    ) as server:
        record = server.sandbox.robot.add_message

        def stamped(*args: Any, **kwargs: Any) -> Any:
            sent_at.append(time.monotonic())
            return record(*args, **kwargs)

        server.sandbox.robot.add_message = stamped  # type: ignore[method-assign]
        config = validate_config(
            {
                "robot": [{"name": "ops", "token": robot.token}],
                "route": [{"name": "prod", "source": "alertmanager", "robots": ["ops"]}],
            },
            environ={},
        )
        instances = []
        for _ in range(2):
            outbox = RedisOutbox(REDIS_URL, prefix=redis_prefix)
            budget = RedisRateLimitStore(REDIS_URL, prefix=redis_prefix + "budget")
            # No merging: 30 messages one by one, so the budget is what paces them.
            relay = Relay(
                config,
                outbox,
                budget=budget,
                base_url=server.url,
                policy=Policy(merge_above=1_000_000, lease=10.0),
            )
            instances.append(relay)
        first = instances[0]
        for n in range(MESSAGES):
            accept(
                config,
                config.routes[0],
                {},
                alert_group(n, alerts=1),
                first.outbox,
                now=time.time(),
            )
        for relay in instances:
            await relay.start()
        try:
            deadline = time.monotonic() + 120
            while len(sent_at) < MESSAGES:
                assert time.monotonic() < deadline, f"{len(sent_at)} of {MESSAGES} delivered"
                await asyncio.sleep(0.1)
        finally:
            for relay in instances:
                await relay.stop()
                relay.outbox.close()
        assert server.sandbox.robot.rejections(robot="ops") == []
    shares = [sum(relay.courier.counters.delivered.values()) for relay in instances]
    assert sum(shares) == MESSAGES
    assert all(share > 0 for share in shares), shares  # both instances did some of it
    for start in sent_at:  # the window is the sandbox's: at most 20 in any PERIOD seconds
        assert sum(1 for t in sent_at if start <= t < start + PERIOD) <= 20
