"""What the callback receiver costs: encrypted pushes per second, and the crypto alone.

    .venv/bin/python bench/callback.py [--events N] [--concurrency C] [--rounds R]

(a) Pushes through the receiver on loopback: each one verified, decrypted, committed to the
    SQLite inbox and answered with the encrypted ``success`` (handlers off: this is the
    ingest path DingTalk waits on). The server runs under uvicorn in a child process, and
    beside it a bare Starlette route that answers a fixed JSON without reading anything: the
    floor of the same HTTP stack. The ratio says what share of that floor the receiver keeps.
    Every push is checked to have been stored exactly once.
(b) decrypt + verify per second of ``dingkit.callback.crypto`` on a typical event, against
    a hand-written minimum (hashlib SHA-1 and one AES-CBC decryption with ``cryptography``,
    no checks) in the same process.

Medians of R alternating rounds. This is a measurement, not a test: it exits 0 whatever it
prints.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from robot import child_server, print_table

TOKEN = "bench-callback-token"
RECEIVER_ID = "dingbenchcorp"
AES_KEY = new_aes_key()
LATENCY_PUSHES = 500
DEADLINE_MS = 1500  # DingTalk's reply deadline for the URL check (§7.3)

# The child: the receiver (SQLite inbox in a temporary dir, no handlers) mounted at /r, and
# the bare route at /bare, under one uvicorn; prints its URL, stops when stdin closes.
_SERVER = """
import socket, sys, threading
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from dingkit.callback.receiver import CallbackReceiver

token, aes_key, receiver_id, data_dir = sys.argv[1:]
receiver = CallbackReceiver(token, aes_key, receiver_id, data_dir=data_dir, dispatch=False)
FIXED = {"msg_signature": "0" * 40, "timeStamp": "1", "nonce": "n", "encrypt": "x" * 64}

async def bare(request):
    return JSONResponse(FIXED)

app = Starlette(routes=[Route("/bare", bare, methods=["POST"]), Mount("/r", app=receiver)])
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
listener.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
thread.start()
while not server.started:
    pass
print(f"http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
sys.stdin.read()
server.should_exit = True
thread.join()
"""


@contextmanager
def receiver_process(data_dir: str) -> Iterator[str]:
    args = [_SERVER, TOKEN, AES_KEY, RECEIVER_ID, data_dir]
    with child_server(args, "receiver") as (_, url):
        yield url


def event(n: int, round_: int) -> dict[str, Any]:
    """A realistic approval-task event, each with its own id."""
    return {
        "EventType": "bpms_task_change",
        "eventId": f"bench-{round_}-{n}",
        "EventTime": 1700000000000 + n,
        "CorpId": RECEIVER_ID,
        "processInstanceId": f"inst-{round_}-{n}",
        "processCode": "PROC-SANDBOX-EXPENSE",
        "bizCategoryId": "",
        "businessId": f"2026112600{n:06d}",
        "title": "唐伟提交的报销",
        "type": "finish",
        "result": "agree",
        "remark": "同意",
        "staffId": "manager0001",
        "taskId": 100000 + n,
        "createTime": 1700000000000,
        "finishTime": 1700000060000,
    }


def sealed_pushes(count: int, round_: int) -> list[tuple[dict[str, str], bytes]]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, RECEIVER_ID)
    pushes = []
    for n in range(count):
        envelope = crypto.seal(json.dumps(event(n, round_), ensure_ascii=False))
        query = {"signature": envelope.signature, "timestamp": envelope.timestamp}
        query["nonce"] = envelope.nonce
        pushes.append((query, json.dumps({"encrypt": envelope.encrypt}).encode()))
    return pushes


class Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: httpx tops out near 1,000
    requests a second on one core, below what the server can take, so it would measure
    itself. Each request is built once, ahead of the clock."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.removeprefix("http://").split("/")[0].split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def raw_request(url: str, query: dict[str, str], body: bytes) -> bytes:
    host = url.removeprefix("http://").split("/")[0]
    path = "/" + url.removeprefix("http://").split("/", 1)[1] if "/" in url[7:] else "/"
    target = f"{path}?{urlencode(query)}"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def post_all(url: str, pushes: list[tuple[dict[str, str], bytes]], workers: int) -> float:
    """Seconds to post every push over ``workers`` connections; every answer a 200."""
    requests = iter([raw_request(url, query, body) for query, body in pushes])
    connections = [await Connection.open(url) for _ in range(workers)]

    async def sender(connection: Connection) -> None:
        for request in requests:
            status, answer = await connection.exchange(request)
            if status != 200:
                raise SystemExit(f"{url} answered {status}: {answer[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(sender(connection) for connection in connections))
    seconds = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return seconds


async def measure_receiver(url: str, events: int, workers: int, rounds: int) -> dict[str, Any]:
    await post_all(f"{url}/bare", sealed_pushes(200, -1), workers)  # warm-up
    await post_all(f"{url}/r/", sealed_pushes(200, -2), workers)
    receiver, bare = [], []
    for round_ in range(rounds):
        pushes = sealed_pushes(events, round_)
        for which in ("bare", "receiver") if round_ % 2 == 0 else ("receiver", "bare"):
            target = f"{url}/bare" if which == "bare" else f"{url}/r/"
            seconds = await post_all(target, pushes, workers)
            (bare if which == "bare" else receiver).append(events / seconds)
    latencies = await one_at_a_time(f"{url}/r/", sealed_pushes(LATENCY_PUSHES, rounds))
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"{url}/r/healthz")).json()
    stored = sum(health["inbox"].values())
    expected = 200 + events * rounds + LATENCY_PUSHES  # the receiver's warm-up included
    if stored != expected:
        raise SystemExit(f"the inbox holds {stored} events, expected {expected}")
    return {"receiver": receiver, "bare": bare, "stored": stored, "latencies": latencies}


async def one_at_a_time(url: str, pushes: list[tuple[dict[str, str], bytes]]) -> list[float]:
    """Milliseconds from sending each push to its ``success``, one push at a time."""
    connection = await Connection.open(url)
    latencies = []
    for query, body in pushes:
        request = raw_request(url, query, body)
        started = time.perf_counter()
        status, _ = await connection.exchange(request)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"{url} answered {status}")
    connection.close()
    return latencies


def measure_crypto(operations: int, rounds: int) -> dict[str, list[float]]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, RECEIVER_ID)
    envelope = crypto.seal(json.dumps(event(1, 0), ensure_ascii=False))
    args = (envelope.signature, envelope.timestamp, envelope.nonce, envelope.encrypt)
    key = base64.b64decode(AES_KEY + "=")
    cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def minimum() -> bytes:
        # Sign and decrypt, nothing else: no comparisons, no padding or length checks.
        joined = "".join(sorted((TOKEN, envelope.timestamp, envelope.nonce, envelope.encrypt)))
        hashlib.sha1(joined.encode()).hexdigest()
        decryptor = cipher.decryptor()
        return decryptor.update(base64.b64decode(envelope.encrypt)) + decryptor.finalize()

    ours, bare = [], []
    for round_ in range(rounds):
        for which in ("bare", "ours") if round_ % 2 == 0 else ("ours", "bare"):
            started = time.perf_counter()
            if which == "ours":
                for _ in range(operations):
                    crypto.open(*args)
            else:
                for _ in range(operations):
                    minimum()
            rate = operations / (time.perf_counter() - started)
            (ours if which == "ours" else bare).append(rate)
    return {"ours": ours, "bare": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="pushes per round")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--operations", type=int, default=20000, help="crypto ops per round")
    args = parser.parse_args()
    if min(args.events, args.concurrency, args.rounds, args.operations) < 1:
        parser.error("every count must be at least 1")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.rounds} rounds; "
        f"receiver under uvicorn in a child process, SQLite inbox (WAL), handlers off"
    )
    with tempfile.TemporaryDirectory() as data_dir, receiver_process(data_dir) as url:
        result = asyncio.run(measure_receiver(url, args.events, args.concurrency, args.rounds))
    receiver, bare = statistics.median(result["receiver"]), statistics.median(result["bare"])
    print_table(
        f"(a) {args.events:,} encrypted pushes per round, {args.concurrency} concurrent senders "
        f"on loopback: events per second (medians); {result['stored']:,} stored, each once",
        ["", "events/s", "per round", "share of the floor"],
        [
            [
                "receiver: verify, decrypt, commit, ack",
                f"{receiver:,.0f}",
                " ".join(f"{r:,.0f}" for r in result["receiver"]),
                f"{receiver / bare:.2f}",
            ],
            [
                "bare route, fixed JSON (the floor)",
                f"{bare:,.0f}",
                " ".join(f"{r:,.0f}" for r in result["bare"]),
                "1.00",
            ],
        ],
    )
    latencies = sorted(result["latencies"])
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print_table(
        f"(a2) {LATENCY_PUSHES} pushes one at a time: milliseconds to the encrypted success",
        ["", "p50", "p99", "max", f"deadline {DEADLINE_MS} ms"],
        [
            [
                "receiver",
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{latencies[-1]:.2f}",
                "PASS" if latencies[-1] < DEADLINE_MS else "MISS",
            ]
        ],
    )
    crypto = measure_crypto(args.operations, args.rounds)
    ours, minimum = statistics.median(crypto["ours"]), statistics.median(crypto["bare"])
    print_table(
        f"(b) decrypt + verify of one {len(json.dumps(event(1, 0)))}-byte event, "
        f"{args.operations:,} per round: operations per second (medians)",
        ["", "ops/s", "ratio"],
        [
            ["CallbackCrypto.open (all checks)", f"{ours:,.0f}", f"{ours / minimum:.2f}"],
            ["hand-written minimum (no checks)", f"{minimum:,.0f}", "1.00"],
        ],
    )


if __name__ == "__main__":
    main()
