"""How much dingkit costs over doing it by hand: robot send throughput and CLI start-up.

    .venv/bin/python bench/robot.py [--messages N] [--concurrency C] [--rounds R]

(a) ``AsyncRobot`` (its rate limiter off, default retry policy) against a bare
    ``httpx.AsyncClient`` loop posting the same JSON bodies to the same URL, both with C tasks
    and the same connection limits, against one sandbox (limits off) running in a separate
    process so that client and server do not share a GIL. Both are warmed up, then measured
    in alternating order for R rounds; the medians are reported. A second variant does the
    same for a robot with a signing secret (the bare loop signs by hand).
    The same two loops then run with no network at all (``httpx.MockTransport``, one task),
    which leaves only the SDK's own work to compare (for information, no target).
(b) The median wall time of ``dingkit --help``, ``dingkit send text hello --dry-run`` and
    ``python -c pass``, run as subprocesses from this interpreter's environment.

This is a measurement, not a test: it exits 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import hashlib
import hmac
import importlib.util
import itertools
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

import httpx

from dingkit import AsyncRobot
from dingkit.sandbox.config import RobotConfig, SandboxConfig

RATIO_TARGET = 0.9  # AsyncRobot msg/s over bare httpx msg/s, at least
CLI_TARGET_S = 0.35  # seconds above `python -c pass`, at most

PLAIN = RobotConfig(name="bench", token="bench-plain-token", group="bench")
SIGNED = RobotConfig(
    name="bench-signed", token="bench-signed-token", secret="SECbench-secret", group="bench"
)

# Runs in the child process: serve the sandbox (in memory) with SandboxServer, print its URL,
# stop when stdin closes.
_SERVER_SCRIPT = """
import sys
from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import SandboxConfig
from dingkit.sandbox import SandboxServer

sandbox = Sandbox.from_settings(config=SandboxConfig.model_validate_json(sys.argv[1]))
with SandboxServer(sandbox) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""

Sender = Callable[[int], Awaitable[None]]


@contextmanager
def child_server(
    args: list[str], what: str, *, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A server in a child process (``python -c SCRIPT ARGS...``) that prints its URL as its
    first line and stops when its stdin ends; yields the process and the URL. The benchmarks
    share it (their child scripts differ)."""
    child = subprocess.Popen(
        [sys.executable, "-c", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"the {what} did not start (exit code {child.poll()})")
        yield child, url
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def sandbox_process(config: SandboxConfig) -> Iterator[str]:
    """A sandbox (in memory) in a child process; yields its base URL."""
    with child_server([_SERVER_SCRIPT, config.model_dump_json()], "sandbox") as (_, url):
        yield url


class KeepAlive:
    """One keep-alive connection to ``http://host:port``, hand-written HTTP/1.1 on top: a
    driver sharing the CPUs with what it measures must cost far less than httpx."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


# ---- (a) throughput -------------------------------------------------------------------


def round_trip_ms(base_url: str, requests: int = 30) -> float:
    """Median time of one request on a kept-alive connection: the server's latency floor."""
    with httpx.Client() as client:
        client.get(f"{base_url}/_sandbox/health").raise_for_status()
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(f"{base_url}/_sandbox/health")
            samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def new_http_client(concurrency: int) -> httpx.AsyncClient:
    # Each client idles while the other one's round runs. uvicorn closes idle connections
    # after 5 s, httpx's default expiry is also 5 s: reusing one in that race gives a ReadError
    # (AsyncRobot retries it after 1 s, the bare loop fails). Expire them on our side first.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(limits=limits, timeout=10.0)


def signed_query(token: str, secret: str | None) -> str:
    """``access_token`` and, for a signing robot, DingTalk's ``timestamp``/``sign`` (§2.4)."""
    params = {"access_token": token}
    if secret:
        timestamp = str(round(time.time() * 1000))
        digest = hmac.new(
            secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256
        ).digest()
        params.update(timestamp=timestamp, sign=base64.b64encode(digest).decode())
    return urlencode(params)


def bare_sender(client: httpx.AsyncClient, base_url: str, robot: RobotConfig) -> Sender:
    """What a hand-written client does: build the JSON, post it, check ``errcode``."""
    send_url = f"{base_url}/robot/send"
    headers = {"Content-Type": "application/json; charset=utf-8"}

    async def send(index: int) -> None:
        body = {
            "msgtype": "text",
            "text": {"content": f"bench message {index}"},
            "msgUuid": uuid.uuid4().hex,
        }
        url = f"{send_url}?{signed_query(robot.token, robot.secret)}"
        response = await client.post(url, content=json.dumps(body).encode(), headers=headers)
        answer = response.json()
        if answer.get("errcode") != 0:
            raise RuntimeError(f"the sandbox refused a bare send: {answer}")

    return send


def _accept(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


def robot_sender(robot: AsyncRobot) -> Sender:
    async def send(index: int) -> None:
        await robot.send_text(f"bench message {index}")

    return send


@dataclass
class Sample:
    rate: float  # messages per second
    cpu_us: float  # this (client) process's CPU time per message, in microseconds


async def timed(send: Sender, messages: int, concurrency: int) -> Sample:
    """Run ``messages`` sends on ``concurrency`` tasks; the rate and the client's CPU cost."""
    counter = itertools.count()

    async def worker() -> None:
        while (index := next(counter)) < messages:
            await send(index)

    started, cpu_started = time.perf_counter(), time.process_time()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    cpu = time.process_time() - cpu_started
    return Sample(messages / (time.perf_counter() - started), cpu / messages * 1e6)


@dataclass
class Throughput:
    label: str
    robot_samples: list[Sample]
    bare_samples: list[Sample]

    @property
    def robot(self) -> float:
        return statistics.median(s.rate for s in self.robot_samples)

    @property
    def bare(self) -> float:
        return statistics.median(s.rate for s in self.bare_samples)

    @property
    def ratio(self) -> float:
        return self.robot / self.bare

    @property
    def round_ratios(self) -> list[float]:
        """AsyncRobot over bare within each round (the two ran back to back)."""
        return [r.rate / b.rate for r, b in zip(self.robot_samples, self.bare_samples, strict=True)]

    def cpu_us(self, which: str) -> float:
        samples = self.robot_samples if which == "robot" else self.bare_samples
        return statistics.median(s.cpu_us for s in samples)


async def measure_throughput(
    base_url: str,
    robot: RobotConfig,
    *,
    messages: int,
    concurrency: int,
    rounds: int,
    profile: cProfile.Profile | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Throughput:
    """Warm up, then alternate AsyncRobot and bare rounds; ``transport`` replaces the network."""
    if transport is None:
        bare_http, sdk_http = new_http_client(concurrency), new_http_client(concurrency)
    else:
        bare_http = httpx.AsyncClient(transport=transport)
        sdk_http = httpx.AsyncClient(transport=transport)
    async with bare_http, sdk_http:
        sdk = AsyncRobot(
            token=robot.token,
            secret=robot.secret,
            name=robot.name,
            base_url=base_url,
            rate_limit=False,
            http_client=sdk_http,
            environ={},
        )
        bare = bare_sender(bare_http, base_url, robot)
        sdk_send = robot_sender(sdk)
        warm_up = max(concurrency * 10, min(messages, 500))
        await timed(bare, warm_up, concurrency)
        await timed(sdk_send, warm_up, concurrency)
        label = "secret" if robot.secret else "no secret"
        result = Throughput(label if transport is None else f"{label}, no network", [], [])
        for round_ in range(rounds):
            # Alternate which goes first so that drift in the server favours neither.
            order = ["bare", "robot"] if round_ % 2 == 0 else ["robot", "bare"]
            for which in order:
                if which == "bare":
                    result.bare_samples.append(await timed(bare, messages, concurrency))
                    continue
                if profile is not None:
                    profile.enable()
                result.robot_samples.append(await timed(sdk_send, messages, concurrency))
                if profile is not None:
                    profile.disable()
        return result


# ---- (b) CLI start-up -----------------------------------------------------------------


def console_script(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"no {name!r} script beside {sys.executable}; run with the venv python")
    return found


def measure_startup(runs: int) -> dict[str, float]:
    dingkit = console_script("dingkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env["DINGTALK_ROBOT_TOKEN"] = "fake-bench-token"
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dingkit --help": [dingkit, "--help"],
        "dingkit send text hello --dry-run": [dingkit, "send", "text", "hello", "--dry-run"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    for run in range(runs + 1):  # the first pass warms the OS and bytecode caches
        for label, argv in commands.items():
            started = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, check=False)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr.decode()}")
            if run:
                times[label].append(elapsed)
    return {label: statistics.median(values) for label, values in times.items()}


# ---- report ---------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    print(f"\n{title}")
    print(line(header))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def report_throughput(results: list[Throughput]) -> None:
    rows = []
    for result in results:
        ratios = result.round_ratios
        robot_cpu, bare_cpu = result.cpu_us("robot"), result.cpu_us("bare")
        rows.append(
            [
                result.label,
                f"{result.robot:,.0f}",
                f"{result.bare:,.0f}",
                f"{result.ratio:.3f}",
                f"{min(ratios):.2f}-{max(ratios):.2f}",
                f"{robot_cpu:,.0f} / {bare_cpu:,.0f}",
                f"{robot_cpu - bare_cpu:+,.0f}",
                "info" if "no network" in result.label else f">= {RATIO_TARGET}",
                "" if "no network" in result.label else mark(result.ratio >= RATIO_TARGET),
            ]
        )
    header = [
        "robot",
        "AsyncRobot msg/s",
        "bare msg/s",
        "ratio",
        "per round",
        "client CPU us/msg",
        "SDK extra",
        "target",
        "",
    ]
    print_table("(a) throughput (medians; ratio = AsyncRobot / bare)", header, rows)


def report_startup(medians: dict[str, float]) -> None:
    baseline = medians["python -c pass"]
    rows = []
    for label, value in medians.items():
        if label == "python -c pass":
            rows.append([label, f"{value:.3f}", "", "", ""])
            continue
        extra = value - baseline
        rows.append(
            [
                label,
                f"{value:.3f}",
                f"{extra:+.3f}",
                f"<= {CLI_TARGET_S}",
                mark(extra <= CLI_TARGET_S),
            ]
        )
    print_table(
        "(b) start-up, median seconds", ["command", "wall s", "vs pass", "target", ""], rows
    )


def print_profile(profile: cProfile.Profile, limit: int) -> None:
    print(f"\nprofile of the AsyncRobot rounds (top {limit} by cumulative time):")
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.strip_dirs().sort_stats("cumulative").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per round")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent send tasks")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per variant")
    parser.add_argument("--cli-runs", type=int, default=15, help="runs of each command")
    parser.add_argument("--no-signed", action="store_true", help="skip the signing variant")
    parser.add_argument(
        "--profile", type=int, metavar="ROWS", default=0, help="cProfile the AsyncRobot rounds"
    )
    args = parser.parse_args()
    if args.messages < 1 or args.concurrency < 1 or args.rounds < 1 or args.cli_runs < 1:
        parser.error("--messages, --concurrency, --rounds and --cli-runs must be at least 1")

    robots = [PLAIN] if args.no_signed else [PLAIN, SIGNED]
    config = SandboxConfig(limits=False, robots=tuple(robots))
    profile = cProfile.Profile() if args.profile else None
    print(
        f"python {sys.version.split()[0]}, httpx {httpx.__version__}, {os.cpu_count()} CPUs; "
        f"{args.messages} messages x {args.rounds} rounds, concurrency {args.concurrency}; "
        "sandbox (SandboxServer) in a child process, limits off"
    )
    if importlib.util.find_spec("sniffio") is None:
        # Both clients pay this; it lowers both rates, and so hides part of the SDK's cost.
        print(
            "note: sniffio is not installed, so httpcore retries `import sniffio` (a sys.path "
            "scan) several times per request (encode/httpcore#1103)"
        )
    results = []
    with sandbox_process(config) as url:
        print(f"sandbox round trip, one connection: {round_trip_ms(url):.1f} ms (median)")
        for robot in robots:
            result = asyncio.run(
                measure_throughput(
                    url,
                    robot,
                    messages=args.messages,
                    concurrency=args.concurrency,
                    rounds=args.rounds,
                    profile=profile if robot is PLAIN else None,
                )
            )
            results.append(result)
    # The same two loops with no network at all: what remains is the SDK's own work.
    for robot in robots:
        result = asyncio.run(
            measure_throughput(
                "http://sandbox.invalid",
                robot,
                messages=args.messages,
                concurrency=1,
                rounds=args.rounds,
                transport=httpx.MockTransport(_accept),
            )
        )
        results.append(result)
    report_throughput(results)
    report_startup(measure_startup(args.cli_runs))
    if profile is not None:
        print_profile(profile, args.profile)


if __name__ == "__main__":
    main()
