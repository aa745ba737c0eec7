"""How much dingkit costs over doing it by hand: listing a department's users, page by page.

    .venv/bin/python bench/contacts.py [--users N] [--page-size S] [--rounds R] [--profile ROWS]

(a) ``AsyncDingTalk.contacts.users(1)`` iterated with ``async for`` against a bare
    ``httpx.AsyncClient`` loop that makes the same ``/topapi/v2/user/list`` requests (same
    token, same cursor logic, ``errcode`` checked, the user dicts collected), against one
    sandbox with limits off and everyone in department 1, running in a separate process so
    that client and server do not share a GIL. Both are warmed up, then measured in
    alternating order for R rounds; medians are reported, with the ratio of each round. Each
    run starts after a ``gc.collect()`` so that neither pays for the other's garbage; the
    collections a run's own objects cause stay in its time (unlike ``timeit``, the garbage
    collector stays on). Then the number of token requests the SDK made over the whole run
    (``/_sandbox/tokens``).

    Where the SDK's time goes: it builds a typed ``User`` for each of the 10,000 people, which
    costs more CPU than ``json.loads``. It wins it back by reading the successful answer in one
    pass from its bytes, and by asking for the next page before building the models of this
    one (``dingkit._pagination``), so that the sandbox's work and the client's overlap.
(b) The same two loops over the same pages replayed by ``httpx.MockTransport``: no network and
    no server, so only the client's own work remains (for information, no target).

When the ratio misses its target, or with ``--profile ROWS``, one more SDK round runs under
cProfile and the functions its time goes to are printed.

This is a measurement, not a test: it exits 0 whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from dingkit import AsyncDingTalk
from dingkit.sandbox.config import AppConfig, SandboxConfig

# The robot benchmark's child-process sandbox, HTTP client settings and table printer.
from robot import RATIO_TARGET, mark, new_http_client, print_table, sandbox_process

TOKEN_TARGET = 1  # token requests made by the SDK over the whole run
APP = AppConfig(name="bench", app_key="dingbench0001", app_secret="bench-secret-0001")
USER_LIST = "/topapi/v2/user/list"
DEPT = 1
REPLAY_URL = "http://replay.invalid"

Lister = Callable[[], Awaitable[list[Any]]]


def new_client(base_url: str, http: httpx.AsyncClient) -> AsyncDingTalk:
    return AsyncDingTalk(
        APP.app_key,
        APP.app_secret,
        oapi_base=base_url,
        api_base=base_url,
        qps=0,  # the client-side limiter off, as the sandbox's limits are
        http_client=http,
        environ={},
    )


def sdk_lister(client: AsyncDingTalk, page_size: int) -> Lister:
    async def list_users() -> list[Any]:
        return [user async for user in client.contacts.users(DEPT, page_size=page_size)]

    return list_users


def bare_lister(
    http: httpx.AsyncClient,
    base_url: str,
    token: str,
    page_size: int,
    keep: dict[int, bytes] | None = None,
) -> Lister:
    """What a hand-written client does: post, check ``errcode``, follow ``next_cursor``.
    ``keep`` collects each raw answer under the cursor that asked for it."""
    url = f"{base_url}{USER_LIST}"

    async def list_users() -> list[Any]:
        users: list[Any] = []
        cursor = 0
        while True:
            response = await http.post(
                url,
                params={"access_token": token},
                json={"dept_id": DEPT, "cursor": cursor, "size": page_size},
            )
            answer = response.json()
            if answer.get("errcode") != 0:
                raise RuntimeError(f"the sandbox refused a bare request: {answer}")
            if keep is not None:
                keep[cursor] = response.content
            result = answer["result"]
            users.extend(result["list"])
            if not result.get("has_more"):
                return users
            cursor = result["next_cursor"]

    return list_users


def replay(pages: dict[int, bytes]) -> httpx.MockTransport:
    """Answers ``user/list`` with the pages fetched before, by cursor; and hands out a token."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/oauth2/accessToken":
            return httpx.Response(200, json={"accessToken": "replayed", "expireIn": 7200})
        cursor = json.loads(request.content)["cursor"]
        headers = {"Content-Type": "application/json"}
        return httpx.Response(200, content=pages[cursor], headers=headers)

    return httpx.MockTransport(answer)


@dataclass
class Sample:
    seconds: float
    cpu: float  # this (client) process's CPU seconds


async def timed(run: Lister, expected: int) -> Sample:
    # Each run starts with no garbage left by the one before (which may be the other loop's);
    # the collections a run's own objects cause are part of its cost and stay measured.
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    users = await run()
    sample = Sample(time.perf_counter() - started, time.process_time() - cpu_started)
    if len(users) != expected:
        raise SystemExit(f"listed {len(users)} users, expected {expected}")
    return sample


@dataclass
class Comparison:
    label: str
    sdk: list[Sample] = field(default_factory=list)
    bare: list[Sample] = field(default_factory=list)

    def median(self, which: str, attribute: str = "seconds") -> float:
        samples = self.sdk if which == "sdk" else self.bare
        return statistics.median(getattr(sample, attribute) for sample in samples)

    @property
    def ratio(self) -> float:
        """The SDK's speed over the bare loop's (the bare time over the SDK time)."""
        return self.median("bare") / self.median("sdk")

    @property
    def round_ratios(self) -> list[float]:
        return [b.seconds / s.seconds for s, b in zip(self.sdk, self.bare, strict=True)]


async def alternate(label: str, sdk: Lister, bare: Lister, users: int, rounds: int) -> Comparison:
    await timed(sdk, users)  # warm-up
    await timed(bare, users)
    comparison = Comparison(label)
    for round_ in range(rounds):
        # Alternate which goes first so that drift in the server favours neither.
        for which in ("bare", "sdk") if round_ % 2 == 0 else ("sdk", "bare"):
            if which == "sdk":
                comparison.sdk.append(await timed(sdk, users))
            else:
                comparison.bare.append(await timed(bare, users))
    return comparison


@dataclass
class Result:
    network: Comparison
    replayed: Comparison
    pages: int
    token_requests: int


async def measure(url: str, users: int, page_size: int, rounds: int) -> Result:
    async with new_http_client(1) as sdk_http, new_http_client(1) as bare_http:
        client = new_client(url, sdk_http)
        pages: dict[int, bytes] = {}
        # The first list fetches the token (and makes the sandbox build its organisation).
        listed = await sdk_lister(client, page_size)()
        token = await client.access_token()  # the same token for the bare loop
        by_hand = await bare_lister(bare_http, url, token, page_size, keep=pages)()
        if [user.userid for user in listed] != [user["userid"] for user in by_hand]:
            raise SystemExit("the SDK and the bare loop listed different users")
        del listed, by_hand  # 30,000 objects the rounds' garbage collections would walk
        network = await alternate(
            "sandbox, child process",
            sdk_lister(client, page_size),
            bare_lister(bare_http, url, token, page_size),
            users,
            rounds,
        )
        counts = (await bare_http.get(f"{url}/_sandbox/tokens")).json()
    token_requests = int(counts["requests"].get(APP.name, 0))

    transport = replay(pages)
    sdk_replay, bare_replay = (
        httpx.AsyncClient(transport=transport),
        httpx.AsyncClient(transport=transport),
    )
    async with sdk_replay, bare_replay:
        replayed = await alternate(
            "no network (replayed)",
            sdk_lister(new_client(REPLAY_URL, sdk_replay), page_size),
            bare_lister(bare_replay, REPLAY_URL, "replayed", page_size),
            users,
            rounds,
        )
    return Result(network, replayed, len(pages), token_requests)


def profile_sdk(url: str, users: int, page_size: int) -> cProfile.Profile:
    """One SDK round (after a warm-up one) under cProfile."""
    profile = cProfile.Profile()

    async def run() -> None:
        async with new_http_client(1) as http:
            lister = sdk_lister(new_client(url, http), page_size)
            await timed(lister, users)
            profile.enable()
            await timed(lister, users)
            profile.disable()

    asyncio.run(run())
    return profile


# ---- report ---------------------------------------------------------------------------


def report(result: Result, users: int, page_size: int, rounds: int) -> None:
    rows = []
    for comparison in (result.network, result.replayed):
        ratios = comparison.round_ratios
        informative = comparison is result.replayed
        sdk_cpu, bare_cpu = comparison.median("sdk", "cpu"), comparison.median("bare", "cpu")
        rows.append(
            [
                comparison.label,
                f"{comparison.median('sdk') * 1000:,.0f}",
                f"{comparison.median('bare') * 1000:,.0f}",
                f"{comparison.ratio:.3f}",
                f"{min(ratios):.2f}-{max(ratios):.2f}",
                f"{sdk_cpu * 1000:,.0f} / {bare_cpu * 1000:,.0f}",
                f"{(sdk_cpu - bare_cpu) / users * 1e6:+,.1f}",
                "info" if informative else f">= {RATIO_TARGET}",
                "" if informative else mark(comparison.ratio >= RATIO_TARGET),
            ]
        )
    header = [
        "",
        "SDK ms",
        "bare ms",
        "ratio",
        "per round",
        "client CPU ms",
        "SDK extra us/user",
        "target",
        "",
    ]
    print_table(
        f"(a) list {users:,} users of department {DEPT} in {result.pages} pages of "
        f"{page_size}: medians of {rounds} rounds (ratio = bare time / SDK time)",
        header,
        rows,
    )
    print_table(
        "(b) token requests made by the SDK over the whole run (/_sandbox/tokens)",
        ["", "requests", "target", ""],
        [
            [
                "AsyncDingTalk",
                str(result.token_requests),
                str(TOKEN_TARGET),
                mark(result.token_requests == TOKEN_TARGET),
            ]
        ],
    )


def _where(filename: str) -> str:
    """A short file name: from the package directory down."""
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("dingkit", "site-packages", "lib"):
        if anchor in parts[:-1]:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[index + (anchor != "dingkit") :])
    return "/".join(parts[-2:])  # this script: bench/contacts.py


def print_profile(profile: cProfile.Profile, rows: int) -> None:
    stats: dict[Any, Any] = pstats.Stats(profile).stats
    total = sum(tt for _, _, tt, _, _ in stats.values())
    entries = [
        (tt, ct, nc, f"{_where(filename)}:{name}")
        for (filename, _, name), (_, nc, tt, ct, _) in stats.items()
    ]
    print(f"\nprofile of one SDK round: {total * 1000:,.0f} ms of CPU under the profiler")
    print(f"  top {rows} by own time (file:function):")
    for tt, ct, nc, where in sorted(entries, reverse=True)[:rows]:
        print(f"    {tt * 1000:8.1f} ms own {ct * 1000:8.1f} ms cumulative {nc:8,} calls  {where}")
    print(f"  dingkit's own functions, top {rows} by cumulative time:")
    ours = [entry for entry in entries if entry[3].startswith("dingkit/")]
    for tt, ct, nc, where in sorted(ours, key=lambda entry: entry[1], reverse=True)[:rows]:
        print(f"    {ct * 1000:8.1f} ms cumulative {tt * 1000:8.1f} ms own {nc:8,} calls  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000, help="people in department 1")
    parser.add_argument("--page-size", type=int, default=100, help="users per page (<= 100)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument(
        "--profile", type=int, metavar="ROWS", default=0, help="always profile an SDK round"
    )
    args = parser.parse_args()
    if args.users < 1 or args.rounds < 1 or not 1 <= args.page_size <= 100:
        parser.error("--users and --rounds must be at least 1, --page-size 1 to 100")

    config = SandboxConfig(limits=False, qps=0, org_size=args.users, org_depth=0, apps=(APP,))
    print(
        f"python {sys.version.split()[0]}, httpx {httpx.__version__}, {os.cpu_count()} CPUs; "
        f"{args.rounds} rounds; sandbox (SandboxServer) in a child process, limits off, "
        f"{args.users:,} people in department {DEPT}"
    )
    with sandbox_process(config) as url:
        result = asyncio.run(measure(url, args.users, args.page_size, args.rounds))
        report(result, args.users, args.page_size, args.rounds)
        if args.profile or result.network.ratio < RATIO_TARGET:
            print_profile(profile_sdk(url, args.users, args.page_size), args.profile or 12)


if __name__ == "__main__":
    main()
