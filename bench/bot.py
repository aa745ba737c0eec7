"""Echo bots against the sandbox: messages per second and latency, dingkit against the
official ``dingtalk-stream`` SDK.

    .venv/bin/python bench/bot.py [--messages N] [--concurrency C] [--rounds R]
                                  [--profile ROWS] [--diagnose]

Three bots answer the same echo (``echo:<text>``, the sender mentioned) to the same sandbox:

(a) dingkit over Stream: a :class:`~dingkit.bot.Bot` run by
    :class:`~dingkit.bot.stream.StreamClient` (what ``dingkit bot run`` runs); replies go
    through the session webhook (recorded as ``via=session``);
(b) dingkit over HTTP: the same Bot in :class:`~dingkit.bot.http.BotHTTPApp` under uvicorn
    (what ``dingkit bot serve`` runs); the reply goes back in the response body
    (``via=response``);
(c) the official SDK: ``DingTalkStreamClient`` with a ``ChatbotHandler`` calling
    ``self.reply_text(...)`` (a POST to the session webhook), its ticket URL pointed at the
    sandbox by ``DingTalkStreamClient.OPEN_CONNECTION_API`` as tests/stream/test_official_sdk.py
    does. The sandbox gives out session webhooks on DingTalk's host, as DingTalk does; dingkit
    sends them to its oapi base URL, the SDK to the URL as given, so its handler first puts the
    sandbox's URL in their place (a string replace).

The sandbox and each bot run in processes of their own; this process only drives (with a
hand-written HTTP/1.1 client, far cheaper than httpx, as it shares the CPUs): C workers,
each with its own 1:1 chat (a bot's conversation is handled in order, so one chat would
serialise everything), each writing a message through the composer API
(``POST /_sandbox/conversations/{id}/messages``) and waiting for the reply to be recorded
before writing the next. The sandbox's child process tells this one each message it records
(a line on its stdout per ``add_message``, the only thing the bench adds to it), so no one polls.
Latency is the reply's recorded time minus the person's message's, both taken in the sandbox
(``sent_ms``, here at microsecond precision from the same ``add_message`` calls); throughput is
the messages of a round over its wall time. After a warm-up the three bots run in rotating
order, R rounds each; medians are reported, with the CPU time each process spent per message.

``--profile ROWS`` cProfiles each bot's event loop and the sandbox's server thread during the
rounds of that bot (``BENCH_KEEP=DIR`` keeps the profiles there, for ``pstats``).
``--diagnose`` adds a fourth bot: dingkit's StreamClient without its
seen-set of message ids (no ``asyncio.to_thread`` SQLite write before each ACK).

This is a measurement, not a test: it exits 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dingkit.resources.stream import OPEN_CONNECTION
from dingkit.sandbox.config import AppConfig, BotConfig, SandboxConfig
from robot import KeepAlive, child_server, mark, print_table  # bench/: shared pieces

THROUGHPUT_TARGET = 2.0  # dingkit Stream msg/s over the official SDK's, at least
REPLY_TIMEOUT = 10.0  # seconds a reply may take before the message counts as lost

STREAM, HTTP, OFFICIAL = "dingkit-stream", "dingkit-http", "official-sdk"
UNSEEN = "dingkit-stream-unseen"  # --diagnose: StreamClient without its seen-set
LABELS = {
    STREAM: "dingkit, Stream",
    HTTP: "dingkit, HTTP",
    OFFICIAL: "official SDK, Stream",
    UNSEEN: "dingkit, Stream, no seen-set (diagnosis)",
}
APPS = {
    STREAM: AppConfig(name="bench-stream", app_key="dingbenchstream", app_secret="bench-secret-s"),
    HTTP: AppConfig(name="bench-http", app_key="dingbenchhttp", app_secret="bench-secret-h"),
    OFFICIAL: AppConfig(name="bench-sdk", app_key="dingbenchsdk", app_secret="bench-secret-o"),
    UNSEEN: AppConfig(name="bench-unseen", app_key="dingbenchunseen", app_secret="bench-secret-u"),
}

# ---- the child processes ----------------------------------------------------------------

# The sandbox (in memory) with SandboxServer. Its first line is its URL; then one line per
# message it records: "M <conversation id> <via> <perf_counter_ns> <sent_ms>". stdin takes
# "on NAME" / "off" (cProfile the server's event loop thread, one profile per NAME),
# "dump DIR" (write them as DIR/sandbox-NAME.prof, then say "dumped"); EOF stops it.
_SERVER_SCRIPT = r"""
import asyncio, cProfile, os, sys, time
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import SandboxConfig

sandbox = Sandbox.from_settings(config=SandboxConfig.model_validate_json(sys.argv[1]))
records = sandbox.bots
add_message = records.add_message
loops = []

def recorded(conversation_id, *, via, sent_ms, **rest):
    stamp = time.perf_counter_ns()
    if not loops:
        loops.append(asyncio.get_running_loop())
    os.write(1, f"M {conversation_id} {via} {stamp} {sent_ms}\n".encode())
    return add_message(conversation_id, via=via, sent_ms=sent_ms, **rest)

records.add_message = recorded
profiles, current = {}, []

def switch(name):
    if current:
        current.pop().disable()
    if name:
        profile = profiles.setdefault(name, cProfile.Profile())
        profile.enable()
        current.append(profile)

with SandboxServer(sandbox) as server:
    print(server.url, flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command in ("on", "off") and loops:
            done = __import__("threading").Event()
            def run(name=argument if command == "on" else ""):
                switch(name)
                done.set()
            loops[0].call_soon_threadsafe(run)
            done.wait(5)
        elif command == "dump":
            for name, profile in profiles.items():
                profile.dump_stats(os.path.join(argument, f"sandbox-{name}.prof"))
            print("dumped", flush=True)
"""

# One bot: argv[1] is its kind, argv[2] the sandbox URL, argv[3] a port (HTTP) and argv[4] a
# file for its profile: SIGUSR1 starts profiling the main thread (the event loop), SIGUSR2
# stops and writes what was gathered so far.
_BOT_SCRIPT = r"""
import asyncio, cProfile, logging, os, signal, sys
kind, base_url, port, profile_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
profile = cProfile.Profile()

def on(*_):
    profile.enable()

def off(*_):
    profile.disable()
    profile.dump_stats(profile_path + ".part")
    os.replace(profile_path + ".part", profile_path)

signal.signal(signal.SIGUSR1, on)
signal.signal(signal.SIGUSR2, off)

if kind == "official-sdk":
    import dingtalk_stream
    from dingtalk_stream import AckMessage, ChatbotMessage, DingTalkStreamClient
    from dingkit._config import DEFAULT_OAPI_BASE_URL
    from dingkit.resources.stream import OPEN_CONNECTION

    DingTalkStreamClient.OPEN_CONNECTION_API = base_url + OPEN_CONNECTION.path

    class Echo(dingtalk_stream.ChatbotHandler):
        async def process(self, callback):
            message = ChatbotMessage.from_dict(callback.data)
            # The sandbox hands out webhooks on DingTalk's host, as DingTalk does; dingkit
            # sends them to its oapi base, the SDK posts to the URL as given: point it here.
            message.session_webhook = message.session_webhook.replace(
                DEFAULT_OAPI_BASE_URL, base_url, 1
            )
            self.reply_text(f"echo:{message.text.content.strip()}", message)
            return AckMessage.STATUS_OK, "OK"

    quiet = logging.getLogger("bench.official_sdk")
    quiet.setLevel(logging.WARNING)
    credential = dingtalk_stream.Credential(os.environ["DINGTALK_APP_KEY"],
                                            os.environ["DINGTALK_APP_SECRET"])
    client = DingTalkStreamClient(credential, logger=quiet)
    client.register_callback_handler(ChatbotMessage.TOPIC, Echo())
    asyncio.run(client.start())
else:
    from dingkit.bot import Bot

    bot = Bot()

    @bot.fallback()
    async def echo(message, reply):
        await reply.text(f"echo:{message.text.strip()}", at_sender=True)

    if kind == "dingkit-http":
        from dingkit.bot.http import BotHTTPApp
        from dingkit.cli._serving import bind, serve_forever

        serve_forever(BotHTTPApp(bot), bind("127.0.0.1", port))
    else:
        from dingkit.bot.stream import StreamClient
        from dingkit.bot.stream_intake import Intake

        class Unseen(StreamClient):
            # Diagnosis only: no msgId set, so no thread hop (to_thread) and SQLite write
            # before each message's ACK.
            def _make_intake(self):
                return Intake(self, seen=None)

        kinds = {"dingkit-stream": StreamClient, "dingkit-stream-unseen": Unseen}
        asyncio.run(kinds[kind](bot, data_dir=os.environ["BENCH_DATA_DIR"]).run())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sandbox:
    """The sandbox's child process: its URL, and the recorded messages as they come."""

    process: subprocess.Popen[str]
    url: str
    replies: list[str] = field(default_factory=list)  # answers to stdin commands

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()


@contextmanager
def sandbox_process(config: SandboxConfig, on_line: object) -> Iterator[Sandbox]:
    """The sandbox in a child process; each line it prints after its URL goes to
    ``on_line`` (from a reader thread)."""
    with child_server([_SERVER_SCRIPT, config.model_dump_json()], "sandbox") as (child, url):
        sandbox = Sandbox(child, url)
        stdout = child.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                if line.startswith("M "):
                    on_line(line)  # type: ignore[operator]
                else:
                    sandbox.replies.append(line.strip())

        threading.Thread(target=read, daemon=True).start()
        yield sandbox


@contextmanager
def bot_process(kind: str, base_url: str, port: int, folder: Path) -> Iterator[subprocess.Popen]:
    app = APPS[kind]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env |= {
        "DINGTALK_APP_KEY": app.app_key,
        "DINGTALK_APP_SECRET": app.app_secret,
        "DINGTALK_API_BASE_URL": base_url,
        "DINGTALK_OAPI_BASE_URL": base_url,
        "BENCH_DATA_DIR": str(folder / kind),
    }
    log = (folder / f"{kind}.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", _BOT_SCRIPT, kind, base_url, str(port), profile_file(folder, kind)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log.close()


def profile_file(folder: Path, kind: str) -> str:
    return str(folder / f"bot-{kind}.prof")


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- driving ----------------------------------------------------------------------------


@dataclass
class Reply:
    latency_ms: float  # from the add_message stamps, microsecond precision
    sent_ms_latency: int  # the same from the stored sent_ms (millisecond precision)


class Conversations:
    """Matches the sandbox's recorded messages to the workers waiting for them: one message
    in flight per conversation."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiting: dict[str, asyncio.Future[Reply]] = {}
        self.person: dict[str, tuple[int, int]] = {}

    def on_line(self, line: str) -> None:  # the reader thread
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._recorded, line)

    def _recorded(self, line: str) -> None:
        _, conversation_id, via, stamp, sent_ms = line.split()
        if via == "person":
            self.person[conversation_id] = (int(stamp), int(sent_ms))
            return
        waiter = self.waiting.pop(conversation_id, None)
        if waiter is None or waiter.done():
            return
        if via == "undelivered":
            waiter.set_exception(RuntimeError("undelivered"))
            return
        person_stamp, person_ms = self.person.pop(conversation_id, (int(stamp), int(sent_ms)))
        waiter.set_result(
            Reply((int(stamp) - person_stamp) / 1e6, int(sent_ms) - person_ms),
        )

    def expect(self, conversation_id: str) -> asyncio.Future[Reply]:
        assert self.loop is not None
        waiter = self.loop.create_future()
        self.waiting[conversation_id] = waiter
        return waiter


@dataclass
class Chat:
    id: str
    user: str


@dataclass
class Sample:
    rate: float
    latencies: list[float]
    ms_latencies: list[int]
    lost: int
    bot_cpu_us: float
    sandbox_cpu_us: float
    driver_cpu_us: float

    def percentile(self, p: float, *, ms: bool = False) -> float:
        values = sorted(self.ms_latencies if ms else self.latencies)
        if not values:
            return float("nan")
        return float(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))])


class Composer(KeepAlive):
    """One keep-alive HTTP/1.1 connection writing people's messages through the composer API.

    Hand-written rather than httpx: the driver shares the machine's CPUs with the sandbox and
    the bot, and httpx costs over a millisecond of CPU a request, which would be taken from
    them (the driver's CPU per message is printed)."""

    async def say(self, chat: Chat, text: str) -> None:
        assert self.reader is not None
        assert self.writer is not None
        body = json.dumps({"sender": chat.user, "text": text}).encode()
        self.writer.write(
            f"POST /_sandbox/conversations/{chat.id}/messages HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = head.split(b" ", 2)[1], 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        if status != b"200" or b'"delivered_to":[]' in answer:
            raise RuntimeError(f"the composer refused a message: {status!r} {answer[:300]!r}")


async def run_round(
    conversations: Conversations,
    url: str,
    chats: list[Chat],
    messages: int,
    pids: tuple[int, int],
) -> Sample:
    counter = itertools.count()
    latencies: list[float] = []
    ms_latencies: list[int] = []
    lost = 0

    async def worker(chat: Chat, composer: Composer) -> None:
        nonlocal lost
        while (index := next(counter)) < messages:
            waiter = conversations.expect(chat.id)
            await composer.say(chat, f"bench {index}")
            try:
                reply = await asyncio.wait_for(waiter, REPLY_TIMEOUT)
            except (TimeoutError, RuntimeError):
                conversations.waiting.pop(chat.id, None)
                lost += 1
                continue
            latencies.append(reply.latency_ms)
            ms_latencies.append(reply.sent_ms_latency)

    async with contextlib.AsyncExitStack() as stack:
        # Fresh connections each round: the server closes idle ones after 5 s.
        composers = [await stack.enter_async_context(Composer(url)) for _ in chats]
        bot_cpu, sandbox_cpu = cpu_seconds(pids[0]), cpu_seconds(pids[1])
        started, driver_cpu = time.perf_counter(), time.process_time()
        async with asyncio.TaskGroup() as group:
            for chat, composer in zip(chats, composers, strict=True):
                group.create_task(worker(chat, composer))
        elapsed, driver_cpu = time.perf_counter() - started, time.process_time() - driver_cpu
        bot_cpu, sandbox_cpu = cpu_seconds(pids[0]) - bot_cpu, cpu_seconds(pids[1]) - sandbox_cpu
    return Sample(
        messages / elapsed,
        latencies,
        ms_latencies,
        lost,
        bot_cpu / messages * 1e6,
        sandbox_cpu / messages * 1e6,
        driver_cpu / messages * 1e6,
    )


async def wait_until_answering(
    conversations: Conversations, url: str, chat: Chat, kind: str
) -> None:
    """Write to the bot until it answers (a Stream bot may not be connected yet)."""
    deadline = time.monotonic() + 30
    async with Composer(url) as composer:
        while True:
            waiter = conversations.expect(chat.id)
            with contextlib.suppress(RuntimeError):  # "undelivered": not connected yet
                await composer.say(chat, "hello")
            try:
                await asyncio.wait_for(waiter, 2.0)
                return
            except (TimeoutError, RuntimeError):
                conversations.waiting.pop(chat.id, None)
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} did not answer within 30 s: see its log")
            await asyncio.sleep(0.2)


@dataclass
class Result:
    kind: str
    samples: list[Sample] = field(default_factory=list)

    def median(self, what: str) -> float:
        values = {
            "rate": [s.rate for s in self.samples],
            "p50": [s.percentile(50) for s in self.samples],
            "p99": [s.percentile(99) for s in self.samples],
            "p50ms": [s.percentile(50, ms=True) for s in self.samples],
            "p99ms": [s.percentile(99, ms=True) for s in self.samples],
            "bot_cpu": [s.bot_cpu_us for s in self.samples],
            "sandbox_cpu": [s.sandbox_cpu_us for s in self.samples],
            "driver_cpu": [s.driver_cpu_us for s in self.samples],
        }[what]
        return statistics.median(values)

    @property
    def lost(self) -> int:
        return sum(s.lost for s in self.samples)


async def drive(
    sandbox: Sandbox,
    conversations: Conversations,
    bots: dict[str, subprocess.Popen],
    *,
    messages: int,
    concurrency: int,
    rounds: int,
    profile: bool,
) -> dict[str, Result]:
    conversations.loop = asyncio.get_running_loop()
    url = sandbox.url
    async with httpx.AsyncClient(timeout=30.0) as http:
        people = (await http.get(f"{url}/_sandbox/people", params={"limit": concurrency})).json()
        users = [person["userid"] for person in people["people"]]
        if len(users) < concurrency:
            raise SystemExit(f"the sandbox has {len(users)} people, fewer than --concurrency")
        chats: dict[str, list[Chat]] = {}
        for kind in bots:
            chats[kind] = []
            for user in users:
                answer = await http.post(
                    f"{url}/_sandbox/conversations", json={"bot": kind, "user": user}
                )
                answer.raise_for_status()
                chats[kind].append(Chat(answer.json()["id"], user))
        pids = {kind: (child.pid, sandbox.process.pid) for kind, child in bots.items()}
    for kind in bots:
        await wait_until_answering(conversations, url, chats[kind][0], kind)
    warm_up = max(concurrency * 10, min(messages, 300))
    for kind in bots:
        await run_round(conversations, url, chats[kind], warm_up, pids[kind])
    results = {kind: Result(kind) for kind in bots}
    kinds = list(bots)
    for round_ in range(rounds):
        # Rotate the order so that drift in the machine's load favours no one.
        shift = round_ % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            if profile:
                bots[kind].send_signal(signal.SIGUSR1)
                sandbox.command(f"on {kind}")
            sample = await run_round(conversations, url, chats[kind], messages, pids[kind])
            if profile:
                sandbox.command("off")
                bots[kind].send_signal(signal.SIGUSR2)
            results[kind].samples.append(sample)
    return results


# ---- report -----------------------------------------------------------------------------


def report(results: dict[str, Result]) -> None:
    base = results[OFFICIAL]
    rows = []
    for kind, result in results.items():
        rates = [s.rate for s in result.samples]
        rate_ratio = result.median("rate") / base.median("rate")
        p99_ratio = result.median("p99") / base.median("p99")
        rows.append(
            [
                LABELS[kind],
                f"{result.median('rate'):,.0f}",
                f"{min(rates):,.0f}-{max(rates):,.0f}",
                f"{rate_ratio:.2f}",
                f"{result.median('p50'):.1f}",
                f"{result.median('p99'):.1f}",
                f"{p99_ratio:.2f}",
                f"{result.median('p50ms'):.0f} / {result.median('p99ms'):.0f}",
                f"{result.median('bot_cpu'):,.0f} / {result.median('sandbox_cpu'):,.0f} / "
                f"{result.median('driver_cpu'):,.0f}",
                str(result.lost),
            ]
        )
    header = [
        "bot",
        "msg/s",
        "rounds",
        "x SDK",
        "p50 ms",
        "p99 ms",
        "p99 x SDK",
        "sent_ms p50/p99",
        "CPU us/msg: bot / sandbox / driver",
        "lost",
    ]
    print_table(
        "messages per second and latency, composer -> reply recorded (medians of rounds)",
        header,
        rows,
    )
    stream = results[STREAM]
    rate_ratio = stream.median("rate") / base.median("rate")
    print("\ntargets (dingkit over Stream against the official SDK):")
    print(
        f"  throughput  {rate_ratio:.2f}x  (>= {THROUGHPUT_TARGET}x)  "
        f"{mark(rate_ratio >= THROUGHPUT_TARGET)}"
    )
    print(
        f"  p99         {stream.median('p99'):.1f} ms vs {base.median('p99'):.1f} ms  (lower)  "
        f"{mark(stream.median('p99') < base.median('p99'))}"
    )


def print_profiles(folder: Path, kinds: list[str], limit: int) -> None:
    for kind in kinds:
        for name, path in (
            (f"{LABELS[kind]}: its bot process's event loop", Path(profile_file(folder, kind))),
            (f"{LABELS[kind]}: the sandbox's server thread", folder / f"sandbox-{kind}.prof"),
        ):
            if not path.exists():
                print(f"\n(no profile for {name})")
                continue
            print(f"\nprofile, {name} (top {limit} by own time):")
            stats = pstats.Stats(str(path), stream=sys.stdout)
            stats.strip_dirs().sort_stats("tottime").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per round")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="messages in flight (one per 1:1 chat)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per bot")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="ROWS",
        default=0,
        help="cProfile each bot's event loop and the sandbox's during the rounds",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="add a row: dingkit over Stream without its seen-set (what its thread hop costs)",
    )
    args = parser.parse_args()
    if args.messages < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--messages, --concurrency and --rounds must be at least 1")

    http_port = free_port()
    kinds = [STREAM, HTTP, OFFICIAL] + ([UNSEEN] if args.diagnose else [])
    config = SandboxConfig(
        limits=False,
        apps=tuple(APPS[kind] for kind in kinds),
        bots=tuple(
            BotConfig(
                name=kind, app=APPS[kind].name, mode="http", url=f"http://127.0.0.1:{http_port}/"
            )
            if kind == HTTP
            else BotConfig(name=kind, app=APPS[kind].name, mode="stream")
            for kind in kinds
        ),
    )
    import dingtalk_stream.version
    import websockets

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, websockets "
        f"{websockets.__version__}, dingtalk-stream {dingtalk_stream.version.VERSION_STRING}; "
        f"{args.messages} messages x {args.rounds} rounds per bot, {args.concurrency} in "
        "flight (one per 1:1 chat); the sandbox and each bot in a process of its own"
    )
    print(
        f"official SDK's ticket URL: DingTalkStreamClient.OPEN_CONNECTION_API = <sandbox>"
        f"{OPEN_CONNECTION.path}"
    )
    conversations = Conversations()
    with tempfile.TemporaryDirectory(prefix="dingkit-bench-bot-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        sandbox = stack.enter_context(sandbox_process(config, conversations.on_line))
        bots = {
            kind: stack.enter_context(bot_process(kind, sandbox.url, http_port, folder))
            for kind in kinds
        }
        try:
            results = asyncio.run(
                drive(
                    sandbox,
                    conversations,
                    bots,
                    messages=args.messages,
                    concurrency=args.concurrency,
                    rounds=args.rounds,
                    profile=bool(args.profile),
                )
            )
        except BaseException:
            for kind in bots:
                log = folder / f"{kind}.log"
                if log.exists() and log.read_text().strip():
                    print(f"--- {kind}.log\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
        report(results)
        if args.profile:
            sandbox.command(f"dump {folder}")
            deadline = time.monotonic() + 20
            while "dumped" not in sandbox.replies and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # the bots write theirs on SIGUSR2
            print_profiles(folder, list(bots), args.profile)
            if os.environ.get("BENCH_KEEP"):
                import shutil

                shutil.copytree(folder, os.environ["BENCH_KEEP"], dirs_exist_ok=True)


if __name__ == "__main__":
    main()
