"""SIGKILL under load (issue 10, part 2): a `dingkit callback serve` receiver takes a stream
of pushes while its handlers run and is killed at seeded random points, then restarted on
the same inbox. Nothing acknowledged may be lost; an event may run twice only if it was in
flight when the receiver died (at most ``concurrency`` per kill, each started in the run
that was killed).
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from callback.conftest import REDIS_URL, redis_server, wait_for  # noqa: F401
from callback.test_serve_process import RECEIVER_ID, TOKEN, Receiver, push, user_event
from dingkit.callback.crypto import new_aes_key

from . import figures

KILLS = 4
CONCURRENCY = 4  # dingkit callback serve's default

# The --exec handler: notes its start (with the receiver's generation), works a little, then
# notes that it is done.
HANDLER = r"""
import json, random, sys, time
from pathlib import Path
folder = Path(sys.argv[1])
event = json.load(sys.stdin)
generation = (folder / "generation").read_text()
with open(folder / "started.txt", "a") as started:
    started.write(f"{generation} {event['event_id']}\n")
time.sleep(random.random() * 0.05)
with open(folder / "handled.txt", "a") as handled:
    handled.write(event["event_id"] + "\n")
"""


@pytest.fixture
def env() -> dict[str, str]:
    """The receiver's environment: its keys, nothing else of DingTalk's."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DINGTALK_")}
    return {
        **clean,
        "DINGTALK_CALLBACK_TOKEN": TOKEN,
        "DINGTALK_CALLBACK_AES_KEY": new_aes_key(),
        "DINGTALK_CORP_ID": RECEIVER_ID,
    }


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("inbox", ["sqlite", "redis", "redis-pair"])
def test_sigkill_under_load_loses_nothing_acknowledged(
    inbox: str, tmp_path: Path, env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    script = tmp_path / "handler.py"
    script.write_text(HANDLER)
    name = uuid.uuid4().hex
    on_redis = inbox.startswith("redis")
    where = (
        ["--redis", REDIS_URL, "--inbox-name", name]
        if on_redis
        else ["--data-dir", str(tmp_path / "data")]
    )
    if on_redis:
        redis_server: Any = request.getfixturevalue("redis_server")
    args = [*where, "--exec", f"{sys.executable} {script} {tmp_path}", "--lease", "1"]
    rng = random.Random(20261206)
    acked: list[str] = []
    killed_generations: set[int] = set()
    # A pair shares one Redis inbox behind a "load balancer" (pushes alternate); each round
    # kills one of the two, whose leased events the other takes over, and restarts it.
    running: list[Receiver] = []
    try:
        if inbox == "redis-pair":
            running.append(Receiver(args, env, tmp_path / "receiver-peer.log"))
        for generation in range(KILLS + 1):
            staged = tmp_path / "generation.new"  # renamed: no handler reads it half-written
            staged.write_text(str(generation))
            staged.replace(tmp_path / "generation")
            receiver = Receiver(args, env, tmp_path / f"receiver-{generation}.log")
            running.append(receiver)
            for n in range(rng.randint(8, 20)):
                event_id = f"ev-{len(acked)}"
                try:
                    push(running[n % len(running)].url, env, user_event(event_id))
                except httpx.HTTPError:  # not acknowledged: DingTalk would push it again
                    continue
                acked.append(event_id)
            if generation < KILLS:
                # Mid-handling: wait until some handler of this run has started, then kill.
                wait_for(
                    lambda g=generation: any(
                        line.startswith(f"{g} ") for line in _lines(tmp_path / "started.txt")
                    ),
                    seconds=30,
                )
                time.sleep(rng.random() * 0.05)
                victim = running.pop(rng.randrange(len(running)))
                victim.kill()
                killed_generations.add(generation)
        wait_for(lambda: set(_lines(tmp_path / "handled.txt")) >= set(acked), seconds=60)
        time.sleep(1.5)  # longer than a lease: nothing runs again late
    finally:
        for still in running:
            still.stop()
        if on_redis:
            for key in redis_server.scan_iter(match=f"dingkit:callback-inbox:{name}:*"):
                redis_server.delete(key)

    handled = Counter(_lines(tmp_path / "handled.txt"))
    lost = set(acked) - set(handled)
    twice = {event_id for event_id, n in handled.items() if n > 1}
    started_in: dict[str, set[int]] = {}
    for line in _lines(tmp_path / "started.txt"):
        generation, event_id = line.split()
        started_in.setdefault(event_id, set()).add(int(generation))
    figures.record(
        "crash",
        f"callback serve on {inbox}",
        kills=KILLS,
        acknowledged=len(acked),
        lost=len(lost),
        duplicated=len(twice),
    )
    assert lost == set(), f"acknowledged but never handled: {sorted(lost)}"
    assert set(handled) <= set(acked)  # nothing invented
    assert len(twice) <= KILLS * CONCURRENCY, sorted(twice)  # what the victims had in flight
    for event_id in twice:  # each was in flight in a run that was killed
        assert started_in[event_id] & killed_generations, event_id
