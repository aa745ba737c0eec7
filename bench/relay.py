"""The relay under a storm of Alertmanager webhooks: alerts accepted per second with a durable
commit (SQLite and Redis outboxes), time to acknowledge, and the robot budget it uses while
backlogged, against a bare route on the same server.

    .venv/bin/python bench/relay.py [--posts N] [--concurrency C] [--rounds R]
                                    [--period S] [--budget-seconds S] [--relay-cpus N]
                                    [--redis URL] [--profile ROWS] [--diagnose]

Processes: a sandbox (limits on) and two relays, one per outbox, each in a child process of
its own, each relay built and served as ``dingkit relay serve`` does it (``Relay``,
``create_app``, ``bind``/``serve_forever``: uvicorn, h11, one event loop) from one config of
three robots and two Alertmanager routes, delivering to the sandbox. The SQLite relay keeps
its outbox and robot windows in files of a temporary folder (WAL, ``synchronous=FULL``: an
fsync per commit); the Redis relay keeps both in the Redis at ``--redis`` under a key prefix
of this run's own, deleted at the end (what a commit there is worth depends on that Redis's
``appendonly``/``appendfsync``, printed first). This process only drives, with a hand-written
keep-alive HTTP/1.1 client (httpx would take a millisecond of CPU a request from the
processes measured). With more CPUs than ``--relay-cpus`` (2), the relays are pinned to that
many and the sandbox and the driver to the others; on a 2-CPU machine all share both.

(a) Intake. C connections post real Alertmanager bodies (the fixtures of
    tests/relay/webhooks/alertmanager/ in turn, each post given a group key and fingerprints of
    its own, so nothing is deduplicated) to ``POST /alertmanager/storm``; each is answered 200
    only after its letter is committed. The floor is ``POST /floor`` added in front of the
    same relay's routes (behind the same middleware, on the same uvicorn): it reads the body
    and answers a fixed JSON, so the ratio is what parsing, routing, rendering and the commit
    cost. After a warm-up, floor and relay rounds alternate per server; medians of the rounds
    are reported: posts (Alertmanager notifications) and alerts (the fixtures' mean number to
    a post, printed) accepted per second, p50/p99 from the request's first byte written to the
    200 read, and the CPU per post of the relay process (from ``/proc``) and of the driver.
    The courier runs meanwhile, as in production: the storm robot is backlogged from the first
    round on, and each accepted post wakes a delivery pass. ``--diagnose`` adds two relays
    per store, each taking one more thing away: ``resolved = "repeat"`` (the default,
    ``"update"``, looks for queued messages of the same group to supersede after every post:
    ``Outbox.supersede``, a walk over the robot's whole queue), and then the courier too (it
    never starts), which leaves the intake alone. With ``--concurrency 1``, as Alertmanager
    sends a group at a time, the courier's pass per post is about half the relay's CPU.

(b) Budget while backlogged. A robot may send 20 messages in any minute; the relay keeps a
    window a little longer (``CLIENT_MARGIN``, 1 s), so a relay that uses its whole budget
    sends 20 per 61 s, 19.7 a minute. Watching that for minutes would make the benchmark slow,
    so the sandbox and the relays run with ``DINGKIT_TEST_ROBOT_PERIOD`` (``--period``, 6 s),
    which shortens the window on both sides at once: the sandbox refuses a 21st message in
    any 6 s, and a relay that uses its whole budget sends 20 per 7 s.

    What has to be measured is what the relay sends while it has more to send than the budget
    carries. The relay merges a backlog into digests of up to 19,000 bytes, so a storm of
    small alerts becomes only a few messages, and its backlog would run dry within seconds.
    So each relay's ``budget`` route (its own robot) is given Alertmanager groups of 110
    alerts (the fixture's alerts repeated, each with a fingerprint and a ``replica`` label of
    its own, as Alertmanager's alerts in one group differ by a label): each fills a
    digest of its own (about 17,000 bytes; two do not fit in one), so every group is exactly
    one message, and there are enough of them (20 x (cycles watched + 2)) for the backlog to
    outlast ``--budget-seconds`` (45 s, posting included; "still queued" is what is left).
    The sandbox records each message it takes with its arrival time (``received_at``,
    milliseconds; ``/_sandbox/messages?robot=``); from these:

    - *never more*: the most messages in any window of the period, over every sliding window
      (one starting at each message suffices) of every robot over the whole run (the storm
      included), and the sends the sandbox refused for rate: at most 20, and none;
    - *budget use*: the mean time from a message to the 20th after it. With a backlog, a
      slot of the relay's window frees ``period + 1`` s after it was taken and is used again
      at once, so this is that window plus what the relay loses per cycle (waking for the
      slot, posting); it gives the messages per window of the period (ideal: 20 x 6/7 =
      17.1) and, with DingTalk's real window, 20 x 60 / (61 + lost) a minute. Target
      20 +/- 1 a minute. The time lost per cycle is time, not a share of the window, so it is
      carried over as it is. ``--period 60 --budget-seconds 300`` watches the real minute.

On 2 CPUs the machine is shared: the sandbox, Redis and this driver take CPU from the relay,
whose one event loop (with ``to_thread`` workers for the stores and rendering) is the
bottleneck; rates move by a quarter between runs. Compare the ratios within a run.
``--profile ROWS`` cProfiles each relay's event loop and its worker threads during its intake
rounds (worker times include waiting for the GIL and the store's lock) and prints the top
functions by own time.

This is a measurement, not a test: it exits 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from dingkit.robot.limits import CLIENT_MARGIN, ROBOT_LIMIT, ROBOT_PERIOD, TEST_PERIOD_ENV
from dingkit.sandbox.config import GroupConfig, RobotConfig, SandboxConfig
from robot import KeepAlive, child_server, mark, print_table  # bench/: shared pieces

FIXTURES = Path(__file__).resolve().parent.parent / "tests/relay/webhooks/alertmanager"
STORES = ("sqlite", "redis")
# --diagnose, a ladder: resolved = "repeat" (no supersede walk), then no courier either
REPEAT, IDLE = "-repeat", "-repeat-no-courier"
DIAGNOSES = (REPEAT, IDLE)
LABELS = {
    "sqlite": "SQLite outbox",
    "redis": "Redis outbox",
    f"sqlite{REPEAT}": 'SQLite, resolved = "repeat" (diagnosis)',
    f"redis{REPEAT}": 'Redis, resolved = "repeat" (diagnosis)',
    f"sqlite{IDLE}": 'SQLite, "repeat", no courier (diagnosis)',
    f"redis{IDLE}": 'Redis, "repeat", no courier (diagnosis)',
}
BUDGET_ALERTS = 110  # alerts per group posted to the budget route: a digest each (~17 KB)
TOLERANCE = 1.0  # messages a minute either side of 20

# ---- the child processes ----------------------------------------------------------------

# The sandbox (in memory, limits on: it refuses a 21st message in a window), with
# SandboxServer; prints its URL, stops when stdin closes.
_SANDBOX_SCRIPT = """
import os, sys
if os.environ.get("BENCH_CPUS"):
    os.sched_setaffinity(0, {int(cpu) for cpu in os.environ["BENCH_CPUS"].split(",")})
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import SandboxConfig

sandbox = Sandbox.from_settings(config=SandboxConfig.model_validate_json(sys.argv[1]))
with SandboxServer(sandbox) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""

# One relay, built as `dingkit relay serve` builds it (cli/relay_cmd.py), with its outbox and
# robot windows where the bench says, and a floor route added in front of its routes. argv:
# config, sandbox URL, data dir, Redis URL ("" for SQLite), Redis key prefix, profile file,
# "0" to keep the courier from starting (--diagnose: intake alone). Prints its URL, then
# serves until SIGTERM. SIGUSR1 starts profiling the event loop and the worker threads
# (asyncio.to_thread, where the stores work), SIGUSR2 stops and writes them.
_RELAY_SCRIPT = r"""
import asyncio, cProfile, os, signal, sys, threading
if os.environ.get("BENCH_CPUS"):  # before any thread starts: they inherit it
    os.sched_setaffinity(0, {int(cpu) for cpu in os.environ["BENCH_CPUS"].split(",")})
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dingkit._admin_guard import LOOPBACK_NAMES
from dingkit.cli._serving import bind, log_to_stderr, serve_forever
from dingkit.relay.app import create_app
from dingkit.relay.config import load_config
from dingkit.relay.outbox import OUTBOX_FILE, RedisOutbox, SQLiteOutbox
from dingkit.relay.service import Relay

config_path, sandbox_url, data_dir, redis_url, prefix, profile_path, courier = sys.argv[1:8]
if redis_url:
    from dingkit._redis_rate_store import RedisRateLimitStore

    outbox = RedisOutbox(redis_url, prefix=prefix + "relay:")
    budget = RedisRateLimitStore(redis_url, prefix=prefix + "rate")
else:
    from dingkit._file_rate_store import FileRateLimitStore

    outbox = SQLiteOutbox(Path(data_dir) / OUTBOX_FILE)
    budget = FileRateLimitStore(Path(data_dir) / "rate-limits.json")
relay = Relay(
    load_config(Path(config_path)),
    outbox,
    budget=budget,
    config_path=Path(config_path),
    base_url=sandbox_url,
)
if courier == "0":
    async def start():
        pass
    relay.start = start
web = create_app(relay, allowed_hosts=set(LOOPBACK_NAMES), reload_on_sighup=True)

async def floor(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"accepted": True, "floor": True})

web.router.routes.insert(0, Route("/floor", floor, methods=["POST"]))

profiles, active = {}, []
real_to_thread = asyncio.to_thread

async def to_thread(func, /, *args, **kwargs):
    def run():
        if not active:
            return func(*args, **kwargs)
        profile = profiles.setdefault(threading.get_ident(), cProfile.Profile())
        profile.enable()
        try:
            return func(*args, **kwargs)
        finally:
            profile.disable()
    return await real_to_thread(run)

def on(*_):
    active.append(True)
    profiles.setdefault("loop", cProfile.Profile()).enable()

def off(*_):
    active.clear()
    profiles["loop"].disable()
    profiles["loop"].dump_stats(profile_path + ".loop")
    workers = [p for name, p in profiles.items() if name != "loop"]
    if workers:
        import pstats
        stats = pstats.Stats(workers[0])
        for profile in workers[1:]:
            stats.add(profile)
        stats.dump_stats(profile_path + ".workers")
    open(profile_path + ".done", "w").close()

if profile_path:
    asyncio.to_thread = to_thread
    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, off)

listener = bind("127.0.0.1", 0)
log_to_stderr("dingkit.relay")
print(f"http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
serve_forever(web, listener)
"""


def relay_config(store: str, resolved: str = "update") -> str:
    """Three robots, two Alertmanager routes: ``storm`` (intake) and ``budget`` (a backlog).
    ``resolved = "update"`` is the default."""
    return f"""
[relay]
time_zone = "UTC"
resolved = "{resolved}"

[[robot]]
name = "storm"
token = "bench-{store}-storm"

[[robot]]
name = "budget"
token = "bench-{store}-budget"

[[robot]]
name = "oncall"
token = "bench-{store}-oncall"

[[route]]
name = "storm"
source = "alertmanager"
robots = ["storm"]
rules = [{{ match = {{ severity = "critical", team = "db" }}, robots = ["oncall"] }}]

[[route]]
name = "budget"
source = "alertmanager"
robots = ["budget"]
"""


def sandbox_config() -> SandboxConfig:
    robots = tuple(
        RobotConfig(name=f"{store}-{robot}", token=f"bench-{store}-{robot}", group=store)
        for store in STORES
        for robot in ("storm", "budget", "oncall")
    )
    groups = tuple(GroupConfig(id=store, name=f"bench {store}") for store in STORES)
    return SandboxConfig(limits=True, groups=groups, robots=robots)


def child_env(period: float, cpus: list[int] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env[TEST_PERIOD_ENV] = f"{period:g}"
    env.pop("BENCH_CPUS", None)
    if cpus:
        env["BENCH_CPUS"] = ",".join(map(str, cpus))
    return env


def split_cpus(relay_cpus: int) -> tuple[list[int], list[int]]:
    """CPUs for the relays and for the rest, or two empty lists when there are too few to
    split (all share all)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) <= relay_cpus:
        return [], []
    return cpus[:relay_cpus], cpus[relay_cpus:]


@contextmanager
def sandbox_process(config: SandboxConfig, env: dict[str, str]) -> Iterator[str]:
    args = [_SANDBOX_SCRIPT, config.model_dump_json()]
    with child_server(args, "sandbox", env=env) as (_, url):
        yield url


@dataclass
class Relay:
    name: str
    store: str
    process: subprocess.Popen[str]
    url: str
    log: Path
    profile: Path


@contextmanager
def relay_process(
    name: str, folder: Path, sandbox_url: str, redis_url: str, prefix: str, env: dict[str, str]
) -> Iterator[Relay]:
    store, _, diagnosis = name.partition("-")
    courier = not name.endswith(IDLE)
    data = folder / name
    data.mkdir()
    config = data / "relay.toml"
    config.write_text(relay_config(store, "repeat" if diagnosis else "update"))
    log_path, profile = data / "relay.log", data / "profile"
    log = log_path.open("w")
    argv = [
        str(config),
        sandbox_url,
        str(data),
        redis_url if store == "redis" else "",
        f"{prefix}{name}:" if diagnosis else prefix,
        str(profile),
        "1" if courier else "0",
    ]
    child = subprocess.Popen(
        [sys.executable, "-c", _RELAY_SCRIPT, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"the {name} relay did not start:\n{log_path.read_text()[-3000:]}")
        yield Relay(name, store, child, url, log_path, profile)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.close()


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the webhooks -----------------------------------------------------------------------


class Bodies:
    """Alertmanager bodies from the fixtures, each with a group key and fingerprints no other
    post of this run has (the relay deduplicates by group key, status and fingerprints)."""

    def __init__(self, names: list[str]) -> None:
        self.fixtures = [json.loads((FIXTURES / name).read_text()) for name in names]
        self.run = uuid.uuid4().hex[:8]
        self.counter = itertools.count()

    def one(self, fixture: dict[str, object], *, alerts: int | None = None) -> bytes:
        n = next(self.counter)
        body = dict(fixture)
        originals = list(fixture["alerts"])  # type: ignore[call-overload]
        count = alerts or len(originals)
        body["alerts"] = [
            {
                **originals[i % len(originals)],
                "fingerprint": f"{self.run}{n:07x}{i:03x}",
                "labels": {**originals[i % len(originals)]["labels"], "replica": str(i)},
            }
            for i in range(count)
        ]
        body["groupKey"] = f"{fixture.get('groupKey', '{}')}:bench-{self.run}-{n}"
        return json.dumps(body).encode()

    def batch(self, count: int) -> list[bytes]:
        cycle = itertools.cycle(self.fixtures)
        return [self.one(next(cycle)) for _ in range(count)]

    def alerts_per_post(self) -> float:
        return statistics.mean(len(f["alerts"]) for f in self.fixtures)  # type: ignore[arg-type]


class Poster(KeepAlive):
    """One keep-alive HTTP/1.1 connection posting JSON bodies; the answer's status and body."""

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = int(head.split(b" ", 2)[1]), 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)


# ---- (a) intake -------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float  # posts answered 200 per second
    latencies: list[float]  # ms
    refused: int
    server_cpu_us: float  # the relay process's CPU per post
    driver_cpu_us: float

    def percentile(self, p: float) -> float:
        values = sorted(self.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run_round(relay: Relay, path: str, bodies: list[bytes], concurrency: int) -> Sample:
    feed = iter(bodies)
    latencies: list[float] = []
    refusals: list[str] = []

    async def worker(poster: Poster) -> None:
        for body in feed:
            started = time.perf_counter()
            status, answer = await poster.post(path, body)
            if status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                refusals.append(f"{status} {answer[:200]!r}")

    async with contextlib.AsyncExitStack() as stack:
        # Fresh connections each round: the server closes idle ones after 5 s.
        posters = [await stack.enter_async_context(Poster(relay.url)) for _ in range(concurrency)]
        server_cpu = cpu_seconds(relay.process.pid)
        started, driver_cpu = time.perf_counter(), time.process_time()
        async with asyncio.TaskGroup() as group:
            for poster in posters:
                group.create_task(worker(poster))
        elapsed, driver_cpu = time.perf_counter() - started, time.process_time() - driver_cpu
        server_cpu = cpu_seconds(relay.process.pid) - server_cpu
    if refusals:
        print(f"  {relay.name} {path}: {len(refusals)} refused, e.g. {refusals[0]}")
    return Sample(
        len(latencies) / elapsed,
        latencies,
        len(refusals),
        server_cpu / len(bodies) * 1e6,
        driver_cpu / len(bodies) * 1e6,
    )


@dataclass
class Result:
    label: str
    samples: list[Sample] = field(default_factory=list)

    def median(self, what: str) -> float:
        values = {
            "rate": [s.rate for s in self.samples],
            "p50": [s.percentile(50) for s in self.samples],
            "p99": [s.percentile(99) for s in self.samples],
            "server_cpu": [s.server_cpu_us for s in self.samples],
            "driver_cpu": [s.driver_cpu_us for s in self.samples],
        }[what]
        return statistics.median(values)

    @property
    def refused(self) -> int:
        return sum(s.refused for s in self.samples)


def usable_fixtures(relay: Relay, bodies_of: type[Bodies]) -> list[str]:
    """The fixtures the relay takes on its storm route (200), each posted once."""
    usable = []
    with httpx.Client(timeout=30.0) as http:
        for path in sorted(FIXTURES.glob("*.json")):
            body = bodies_of([path.name]).batch(1)[0]
            answer = http.post(
                f"{relay.url}/alertmanager/storm",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            if answer.status_code == 200 and answer.json().get("robots"):
                usable.append(path.name)
            else:
                print(f"  fixture {path.name} left out: {answer.status_code} {answer.text[:200]}")
    return usable


async def measure_intake(
    relays: dict[str, Relay],
    bodies: Bodies,
    *,
    posts: int,
    concurrency: int,
    rounds: int,
    profile: bool,
) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for name in relays:
        results[f"floor-{name}"] = Result(f"floor (bare route, {name} relay's server)")
        results[name] = Result(LABELS[name])
    warm_up = max(concurrency * 10, min(posts, 300))
    for relay in relays.values():
        await run_round(relay, "/floor", bodies.batch(warm_up), concurrency)
        await run_round(relay, "/alertmanager/storm", bodies.batch(warm_up), concurrency)
    for round_ in range(rounds):
        for name, relay in relays.items():
            # Alternate which goes first so that drift favours neither.
            order = ["floor", "relay"] if round_ % 2 == 0 else ["relay", "floor"]
            for which in order:
                batch = bodies.batch(posts)  # built before the clock starts
                if which == "floor":
                    sample = await run_round(relay, "/floor", batch, concurrency)
                    results[f"floor-{name}"].samples.append(sample)
                    continue
                if profile:
                    relay.process.send_signal(signal.SIGUSR1)
                sample = await run_round(relay, "/alertmanager/storm", batch, concurrency)
                if profile:
                    relay.process.send_signal(signal.SIGUSR2)
                results[name].samples.append(sample)
            await asyncio.sleep(0.3)  # the courier merges what just arrived
    return results


# ---- (b) budget -------------------------------------------------------------------------


@dataclass
class Budget:
    """A robot's messages as the sandbox recorded them, and what they say of its budget."""

    label: str
    sends: list[float]  # epoch seconds the sandbox recorded them, sorted
    period: float  # the sandbox's window
    backlog_left: int | None = None

    @property
    def most_in_window(self) -> int:
        """The most messages in any window of the period (every sliding window that starts
        at a message: no window holds more than the largest of those)."""
        most, first = 0, 0
        for last, at in enumerate(self.sends):
            while self.sends[first] <= at - self.period:
                first += 1
            most = max(most, last - first + 1)
        return most

    @property
    def cycle(self) -> float:
        """Mean seconds from a message to the 20th after it: a slot of the relay's window
        frees ``period + 1`` s after it was taken, so with a backlog this is that window plus
        what the relay loses per cycle (waking, posting)."""
        gaps = [later - at for at, later in zip(self.sends, self.sends[ROBOT_LIMIT:], strict=False)]
        return statistics.mean(gaps) if gaps else float("nan")

    @property
    def lost(self) -> float:
        return self.cycle - (self.period + CLIENT_MARGIN)

    @property
    def per_window(self) -> float:
        return ROBOT_LIMIT * self.period / self.cycle

    @property
    def per_minute(self) -> float:
        """Messages a minute with DingTalk's real window: 20 per 61 s plus the time lost."""
        return ROBOT_LIMIT * ROBOT_PERIOD / (ROBOT_PERIOD + CLIENT_MARGIN + self.lost)


def sandbox_sends(http: httpx.Client, sandbox_url: str, robot: str) -> list[float]:
    sends, after = [], 0
    while True:
        page = http.get(
            f"{sandbox_url}/_sandbox/messages",
            params={"robot": robot, "after": after, "limit": 500},
        ).json()["messages"]
        if not page:
            return sorted(sends)
        for message in page:
            sends.append(datetime.fromisoformat(message["received_at"]).timestamp())
        after = max(message["id"] for message in page)


def rate_refusals(http: httpx.Client, sandbox_url: str) -> list[str]:
    found = http.get(f"{sandbox_url}/_sandbox/rejections", params={"limit": 5000}).json()
    return [f"{r['robot']}: {r['reason']}" for r in found["rejections"]]


async def fill_backlog(relays: dict[str, Relay], bodies: Bodies, groups: int) -> None:
    """``groups`` Alertmanager groups of :data:`BUDGET_ALERTS` alerts to each budget route."""
    fixture = max(bodies.fixtures, key=lambda f: len(f["alerts"]))  # type: ignore[arg-type]
    batches = {
        store: [bodies.one(fixture, alerts=BUDGET_ALERTS) for _ in range(groups)]
        for store in relays
    }
    async with asyncio.TaskGroup() as group:
        for store, relay in relays.items():
            group.create_task(run_round(relay, "/alertmanager/budget", batches[store], 2))


# ---- report -----------------------------------------------------------------------------


def report_intake(results: dict[str, Result], alerts_per_post: float) -> None:
    rows = []
    for key, result in results.items():
        floor = results[f"floor-{key.removeprefix('floor-')}"]
        ratios = [s.rate / f.rate for s, f in zip(result.samples, floor.samples, strict=True)]
        rates = [s.rate for s in result.samples]
        rows.append(
            [
                result.label,
                f"{result.median('rate'):,.0f}",
                ""
                if key.startswith("floor")
                else f"{result.median('rate') * alerts_per_post:,.0f}",
                f"{min(rates):,.0f}-{max(rates):,.0f}",
                "" if key.startswith("floor") else f"{statistics.median(ratios):.3f}",
                f"{result.median('p50'):.1f}",
                f"{result.median('p99'):.1f}",
                f"{result.median('server_cpu'):,.0f} / {result.median('driver_cpu'):,.0f}",
                str(result.refused),
            ]
        )
    header = [
        "route",
        "posts/s",
        "alerts/s",
        "rounds",
        "x floor",
        "p50 ms",
        "p99 ms",
        "CPU us/post: relay / driver",
        "non-200",
    ]
    print_table("(a) intake: answered 200 per second and time to the 200 (medians)", header, rows)


def report_budget(budgets: list[Budget], refusals: list[str], run_most: int, period: float) -> None:
    window = period + CLIENT_MARGIN
    rows = [
        [
            b.label,
            str(len(b.sends)),
            f"{b.cycle:.2f}",
            f"{b.lost:+.2f}",
            f"{b.per_window:.2f}",
            str(b.most_in_window),
            f"{b.per_minute:.2f}",
            "" if b.backlog_left is None else str(b.backlog_left),
        ]
        for b in budgets
    ]
    header = [
        "budget robot",
        "messages",
        f"s per {ROBOT_LIMIT}",
        f"vs {window:g} s",
        f"per {period:g} s",
        f"most in {period:g} s",
        "-> per 60 s",
        "still queued",
    ]
    print_table(
        f"(b) budget while backlogged (the sandbox's window {period:g} s, the relay's "
        f"{window:g} s: {ROBOT_LIMIT} per {window:g} s is the whole budget)",
        header,
        rows,
    )
    print("\ntargets:")
    for b in budgets:
        ok = abs(b.per_minute - ROBOT_LIMIT) <= TOLERANCE and bool(b.backlog_left)
        print(
            f"  {b.label:<16} {b.per_minute:5.2f} a minute with a backlog throughout  "
            f"({ROBOT_LIMIT} +/- {TOLERANCE:g})  {mark(ok)}"
        )
    ok = run_most <= ROBOT_LIMIT and not refusals
    print(
        f"  never more: at most {run_most} in any {period:g} s of any robot over the run, "
        f"{len(refusals)} sends refused by the sandbox  (<= {ROBOT_LIMIT}, 0)  {mark(ok)}"
    )
    for refusal in refusals[:5]:
        print(f"    refused: {refusal}")


def print_profiles(relays: dict[str, Relay], limit: int) -> None:
    for relay in relays.values():
        for suffix, what in ((".loop", "event loop"), (".workers", "to_thread workers")):
            path = Path(str(relay.profile) + suffix)
            if not path.exists():
                print(f"\n(no profile of the {relay.name} relay's {what})")
                continue
            print(f"\nprofile, the {relay.name} relay's {what}, intake rounds (top {limit}):")
            stats = pstats.Stats(str(path), stream=sys.stdout)
            stats.strip_dirs().sort_stats("tottime").print_stats(limit)


# ---- main -------------------------------------------------------------------------------


def environment(redis_url: str) -> str:
    import h11
    import redis
    import starlette
    import uvicorn

    client = redis.Redis.from_url(redis_url)
    server = client.info("server")
    persistence = client.config_get("appendonly").get("appendonly")
    fsync = client.config_get("appendfsync").get("appendfsync")
    client.close()
    return (
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, uvicorn {uvicorn.__version__} "
        f"(h11 {h11.__version__}), starlette {starlette.__version__}, redis-py "
        f"{redis.__version__}, Redis {server['redis_version']} (appendonly {persistence}, "
        f"appendfsync {fsync}); load average {os.getloadavg()[0]:.1f} at the start"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1000, help="webhooks per round")
    parser.add_argument("--concurrency", type=int, default=16, help="connections posting")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per route")
    parser.add_argument(
        "--period", type=float, default=6.0, help=f"the robots' window, s ({TEST_PERIOD_ENV})"
    )
    parser.add_argument(
        "--budget-seconds", type=float, default=45.0, help="how long the backlog is watched"
    )
    parser.add_argument(
        "--relay-cpus", type=int, default=2, help="CPUs the relays are pinned to, if more exist"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument(
        "--profile", type=int, metavar="ROWS", default=0, help="cProfile the relays' intake"
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help='add relays per store: resolved = "repeat", and that without a courier',
    )
    args = parser.parse_args()
    if min(args.posts, args.concurrency, args.rounds, args.relay_cpus) < 1:
        parser.error("--posts, --concurrency, --rounds and --relay-cpus must be at least 1")
    if args.budget_seconds <= 0:
        parser.error("--budget-seconds must be above 0")
    if not 0 < args.period <= ROBOT_PERIOD:
        parser.error(f"--period must be above 0 and at most {ROBOT_PERIOD:g}")

    prefix = f"dingkit-bench-{uuid.uuid4().hex[:12]}:"
    print(environment(args.redis))
    print(
        f"{args.posts} posts x {args.rounds} rounds per route, {args.concurrency} connections; "
        f"robot window {args.period:g} s ({TEST_PERIOD_ENV}); the sandbox and each relay in a "
        f"process of its own; Redis keys under {prefix!r}"
    )
    relay_cpus, other_cpus = split_cpus(args.relay_cpus)
    if relay_cpus:
        os.sched_setaffinity(0, other_cpus)
        print(f"relays on CPUs {relay_cpus}; the sandbox and this driver on {other_cpus}")
    else:
        print(f"{os.cpu_count()} CPUs, not more than --relay-cpus: all processes share them")
    env, relay_env = child_env(args.period, other_cpus), child_env(args.period, relay_cpus)
    started = time.monotonic()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="dingkit-bench-relay-") as tmp,
            ExitStack() as stack,
        ):
            folder = Path(tmp)
            sandbox_url = stack.enter_context(sandbox_process(sandbox_config(), env))
            diagnoses = DIAGNOSES if args.diagnose else ()
            names = [*STORES, *(f"{store}{d}" for d in diagnoses for store in STORES)]
            relays = {
                name: stack.enter_context(
                    relay_process(name, folder, sandbox_url, args.redis, prefix, relay_env)
                )
                for name in names
            }
            try:
                run(args, relays, sandbox_url)
            except BaseException:
                for relay in relays.values():
                    print(f"--- {relay.name} relay log\n{relay.log.read_text()[-3000:]}")
                raise
    finally:
        cleanup_redis(args.redis, prefix)
    print(f"\n(whole run: {time.monotonic() - started:.0f} s)")


def run(args: argparse.Namespace, relays: dict[str, Relay], sandbox_url: str) -> None:
    names = usable_fixtures(relays["sqlite"], Bodies)
    bodies = Bodies(names)
    print(
        f"bodies: {', '.join(names)} in turn ({bodies.alerts_per_post():.1f} alerts a post, "
        "group key and fingerprints new in each)"
    )
    results = asyncio.run(
        measure_intake(
            relays,
            bodies,
            posts=args.posts,
            concurrency=args.concurrency,
            rounds=args.rounds,
            profile=bool(args.profile),
        )
    )
    report_intake(results, bodies.alerts_per_post())

    # (b): enough groups for the window watched, plus two windows' worth.
    cycles = math.ceil(args.budget_seconds / (args.period + CLIENT_MARGIN))
    groups = ROBOT_LIMIT * (cycles + 2)
    filling = time.monotonic()
    delivering = {name: relay for name, relay in relays.items() if name in STORES}
    asyncio.run(fill_backlog(delivering, bodies, groups))
    filled = time.monotonic() - filling
    time.sleep(max(args.budget_seconds - filled, 0.0))
    watched = time.time()
    budgets = []
    with httpx.Client(timeout=60.0) as http:
        every: list[list[float]] = []
        for store in delivering:
            sends = {
                robot: sandbox_sends(http, sandbox_url, f"{store}-{robot}")
                for robot in ("storm", "budget", "oncall")
            }
            every += sends.values()
            mine = [at for at in sends["budget"] if at <= watched]
            # Each group is one message (alone, or a digest of its own): what is left.
            budgets.append(Budget(LABELS[store], mine, args.period, groups - len(mine)))
        refusals = rate_refusals(http, sandbox_url)
    run_most = max(Budget("", sends, args.period).most_in_window for sends in every if sends)
    print(
        f"\n(b): {groups} groups of {BUDGET_ALERTS} alerts posted to each relay's budget route "
        f"in {filled:.1f} s, its messages watched for {args.budget_seconds:g} s from then"
    )
    report_budget(budgets, refusals, run_most, args.period)
    if args.profile:
        for relay in relays.values():
            done = Path(str(relay.profile) + ".done")
            deadline = time.monotonic() + 10
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        print_profiles(relays, args.profile)


def cleanup_redis(url: str, prefix: str) -> None:
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        client.close()


if __name__ == "__main__":
    main()
