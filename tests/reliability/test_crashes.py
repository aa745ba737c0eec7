"""SIGKILL under load (issue 10, part 2): a `dingkit callback serve` receiver takes a stream
of pushes while its handlers run and is killed at seeded random points, then restarted on
the same inbox. Nothing acknowledged may be lost; an event may run twice only if it was in
flight when the receiver died (at most ``concurrency`` per kill, each started in the run
that was killed).

Likewise `dingkit sandbox`: robot messages and work notifications sent by several threads
while the sandbox is killed and restarted on the same --data-dir. Every acknowledged one is
in its history exactly once; one that got no answer is there at most once, and exactly once
after the client resends it with the same msgUuid.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from callback.conftest import REDIS_URL, redis_server, wait_for  # noqa: F401
from callback.test_serve_process import DINGKIT, RECEIVER_ID, TOKEN, Receiver, push, user_event
from dingkit.callback.crypto import new_aes_key
from dingkit.sandbox import Sandbox

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


# -- the sandbox's history ---------------------------------------------------------------

ROBOT_SENDERS = 4  # threads posting robot messages; one more sends work notifications
ROBOT = "crash-bot"
ROBOT_TOKEN = "crashbottoken123"
# A robot without a secret or keywords: every well-formed message is accepted.
SANDBOX_CONFIG = f"""
[[group]]
id = "ops"
name = "Ops room"

[[robot]]
name = "{ROBOT}"
token = "{ROBOT_TOKEN}"
group = "ops"
"""
NOTIFY = "/topapi/message/corpconversation/asyncsend_v2"


class SandboxProcess:
    """One `dingkit sandbox` process, its banner read through a pipe (it prints the demo app's
    secret: no log file may hold it) for its address and the demo app's credentials."""

    def __init__(self, data: Path, config: Path, stderr: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
        args = ["--data-dir", str(data), "--config", str(config), "--no-limits", "--org-size", "10"]
        with stderr.open("w") as err:
            self.process = subprocess.Popen(
                [*DINGKIT, "sandbox", "--port", "0", *args],
                env={**env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.lines: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        # The robot's webhook line ends the banner; the server answers before it is printed.
        deadline = time.monotonic() + 30
        while not any(line.startswith("  webhook: ") for line in self.lines):
            if not self._pump_thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the sandbox did not start: {stderr.read_text()}")
            time.sleep(0.02)
        text = "\n".join(self.lines)
        url = re.search(r"DingTalk sandbox on (http://127\.0\.0\.1:\d+) ", text)
        agent = re.search(r"app 'demo' \(agent_id (\d+)\)", text)
        assert url is not None
        assert agent is not None
        key, secret = re.findall(r"  app_(?:key|secret): +(\S+)", text)[:2]
        self.url = url[1]
        self.app = {"appkey": key, "appsecret": secret, "agent_id": agent[1]}

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # until the process dies
            self.lines.append(line.rstrip("\n"))

    def kill(self) -> None:
        self.process.kill()  # SIGKILL; the sandbox serves from threads, no child process
        self._reap()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def _reap(self) -> None:
        self.process.wait(timeout=10)
        self._pump_thread.join(timeout=10)  # it stops at the end of the output
        assert self.process.stdout is not None
        self.process.stdout.close()


class Load:
    """Threads sending to whichever sandbox is up: robot messages (content and msgUuid
    ``msg-<n>``) and work notifications (``note-<n>``). Answered errcode 0: acknowledged; no
    answer (the sandbox died meanwhile): unanswered; any other answer: refused."""

    def __init__(self) -> None:
        self.up = threading.Event()  # cleared before a kill, set once the next one answers
        self.done = threading.Event()
        self.sandbox: SandboxProcess | None = None
        self.numbers = itertools.count()
        self.acked: dict[str, list[str]] = {"robot": [], "notification": []}
        self.unanswered: dict[str, list[str]] = {"robot": [], "notification": []}
        self.refused: list[object] = []
        kinds = [self._robot] * ROBOT_SENDERS + [self._notifications]
        self.threads = [threading.Thread(target=kind, daemon=True) for kind in kinds]

    def acknowledged(self) -> int:
        return sum(len(contents) for contents in self.acked.values())

    def start(self, sandbox: SandboxProcess) -> None:
        self.sandbox = sandbox
        self.up.set()
        for thread in self.threads:
            if thread.ident is None:  # the first sandbox: the threads start
                thread.start()

    def stop(self) -> None:
        self.done.set()
        self.up.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=30)

    def _current(self) -> SandboxProcess | None:
        while not self.done.is_set():
            if self.up.wait(timeout=0.1):
                return self.sandbox
        return None

    def _post(
        self, client: httpx.Client, kind: str, content: str, url: str, **request: Any
    ) -> None:
        try:
            answer = client.post(url, **request).json()
        except (httpx.HTTPError, ValueError):  # died mid-request (or before it)
            self.unanswered[kind].append(content)
            return
        if answer.get("errcode") == 0:
            self.acked[kind].append(content)
        else:
            self.refused.append(answer)

    def _robot(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (sandbox := self._current()) is not None:
                content = f"msg-{next(self.numbers)}"
                body = {"msgtype": "text", "text": {"content": content}, "msgUuid": content}
                url, query = f"{sandbox.url}/robot/send", {"access_token": ROBOT_TOKEN}
                self._post(client, "robot", content, url, params=query, json=body)

    def _notifications(self) -> None:
        token: tuple[SandboxProcess, str] | None = None  # tokens do not outlive a process
        with httpx.Client(timeout=10) as client:
            while (sandbox := self._current()) is not None:
                if token is None or token[0] is not sandbox:
                    try:
                        answer = client.get(f"{sandbox.url}/gettoken", params=sandbox.app).json()
                        token = (sandbox, answer["access_token"])
                    except (httpx.HTTPError, ValueError, KeyError):
                        continue
                content = f"note-{next(self.numbers)}"
                body = {
                    "agent_id": sandbox.app["agent_id"],
                    "userid_list": "manager0001",
                    "msg": {"msgtype": "text", "text": {"content": content}},
                }
                url, query = f"{sandbox.url}{NOTIFY}", {"access_token": token[1]}
                self._post(client, "notification", content, url, params=query, json=body)


def test_sigkill_under_load_keeps_the_sandbox_history(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.toml"
    config.write_text(SANDBOX_CONFIG)
    data = tmp_path / "data"
    rng = random.Random(20261206)
    load = Load()
    sandbox: SandboxProcess | None = None
    try:
        for generation in range(KILLS + 1):
            sandbox = SandboxProcess(data, config, tmp_path / f"sandbox-{generation}.err")
            load.start(sandbox)
            target = load.acknowledged() + rng.randint(20, 80)
            wait_for(lambda n=target: load.acknowledged() >= n, seconds=60)
            if generation < KILLS:
                time.sleep(rng.random() * 0.01)  # somewhere within a request
                load.up.clear()
                sandbox.kill()
        load.stop()
        # The restarted sandbox's own view of the history: the chat page's group list, no
        # stored message it cannot show, no bug of its own met.
        groups = httpx.get(f"{sandbox.url}/_sandbox/groups", timeout=10)
        assert groups.status_code == 200, groups.text
        page = httpx.get(f"{sandbox.url}/_sandbox/messages", params={"limit": 5000}, timeout=10)
        assert page.status_code == 200, page.text
        shown = page.json()["messages"]
        assert not [m for m in shown if m.get("broken")]
        [ops] = [group for group in groups.json()["groups"] if group["id"] == "ops"]
        assert ops["message_count"] == len(shown)
        # Unanswered, yet stored: killed between the commit and the answer.
        kept = {m["payload"]["text"]["content"] for m in shown} & set(load.unanswered["robot"])
        # A client resends what got no answer, with the same msgUuid: shown once.
        with httpx.Client(timeout=10) as client:
            for content in load.unanswered["robot"]:
                body = {"msgtype": "text", "text": {"content": content}, "msgUuid": content}
                answer = client.post(
                    f"{sandbox.url}/robot/send", params={"access_token": ROBOT_TOKEN}, json=body
                ).json()
                assert answer["errcode"] == 0, answer
        bugs = httpx.get(f"{sandbox.url}/_sandbox/errors", timeout=10).json()["bugs"]
        assert bugs == [], bugs
    finally:
        load.stop()
        if sandbox is not None:
            sandbox.stop()

    history = Sandbox.from_settings(data_dir=data)
    try:
        rows = history.robot.messages(limit=10**6)
        notes = [n["msg"]["text"]["content"] for n in history.notifications.recent(10**6)]
    finally:
        history.close()
    messages = [row.payload["text"]["content"] for row in rows]
    stored = {"robot": Counter(messages), "notification": Counter(notes)}
    acked = {kind: set(contents) for kind, contents in load.acked.items()}
    unanswered = {kind: set(contents) for kind, contents in load.unanswered.items()}
    lost = {c for kind in stored for c in acked[kind] if c not in stored[kind]}
    dupes = {c for kind in stored for c, n in stored[kind].items() if n > 1}
    figures.record(
        "crash",
        "sandbox history",
        kills=KILLS,
        acknowledged=load.acknowledged(),
        lost=len(lost),
        duplicated=len(dupes),
        unanswered=sum(len(contents) for contents in unanswered.values()),
        unanswered_but_stored=len(kept),
    )
    assert load.refused == []
    assert not lost, f"{len(lost)} acknowledged but not in the history: {sorted(lost)[:20]}"
    assert not dupes, f"{len(dupes)} in the history more than once: {sorted(dupes)[:20]}"
    # Nothing invented: every stored one was sent; the robot ones all are there, resent or not.
    assert set(stored["robot"]) == acked["robot"] | unanswered["robot"]
    assert set(stored["notification"]) <= acked["notification"] | unanswered["notification"]
    assert [row.msg_uuid for row in rows] == messages  # each row whole: msgUuid = content
