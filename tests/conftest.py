"""Shared fixtures: a clean environment, an in-memory sandbox, and two ways to reach it.

- ``asgi_client``: an ``httpx.AsyncClient`` wired to the sandbox's ASGI app (no sockets).
- ``robot_for``: an ``AsyncRobot`` for one of a sandbox's robots, over ASGI.
- ``live_sandbox``: the same sandbox served by uvicorn on 127.0.0.1 in a thread, for the sync
  client, the CLI and the browser.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit import NO_RETRY, AsyncRobot
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox.config import SandboxConfig

FIXTURES = Path(__file__).parent / "fixtures"
#: The client address the ASGI transport reports to the sandbox.
ASGI_CLIENT_IP = "127.0.0.1"
ASGI_BASE_URL = "http://sandbox"


class FakeClock:
    """Wall-clock seconds that only move when told to; ``sleep``/``asleep`` move it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.advance(seconds)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """Test vectors copied from the protocol reference (``tests/fixtures/vectors.json``)."""
    data: dict[str, Any] = json.loads((FIXTURES / "vectors.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock frozen at 2023-11-14 22:13:20 UTC until a test moves it."""
    return FakeClock()


@pytest.fixture(autouse=True)
def _clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A developer's real DingTalk credentials or config must never leak into a test.
    for name in list(os.environ):
        if name.startswith(("DINGTALK_", "DINGKIT_")):
            monkeypatch.delenv(name)
    # Nor their data: robots' rate-limit windows live in a file there by default, which
    # other test runs on this host would share.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data", numbered=True)))


@pytest.fixture(autouse=True)
def _no_sandbox_bugs(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that makes any in-process sandbox meet a bug of its own fails (issue 10): the
    sandbox answers it as errcode 990001 / SandboxBug, which no test should ever see."""
    from dingkit.sandbox import bugs

    before = bugs.bug_count()
    yield
    if request.node.get_closest_marker("provokes_sandbox_bug"):
        return
    met = bugs.RECORDED[-(bugs.bug_count() - before) :] if bugs.bug_count() > before else []
    assert not met, "the sandbox met bugs of its own:\n" + "\n".join(
        f"{bug.method} {bug.path}: {bug.error}\n{bug.traceback}" for bug in met
    )


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """``make_sandbox(config=None, data_dir=None, clock=time.time)``; stores closed afterwards."""
    made: list[Sandbox] = []

    def make(
        config: SandboxConfig | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Sandbox:
        instance = Sandbox.from_settings(
            config=config, data_dir=None if data_dir is None else Path(data_dir), clock=clock
        )
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.store.close()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """An in-memory sandbox with the demo group ``demo`` and robots ``alerts`` and ``deploys``."""
    return make_sandbox()


@pytest.fixture
async def asgi_client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An async client talking to ``sandbox`` in-process, as ``http://sandbox``."""
    transport = httpx.ASGITransport(app=create_app(sandbox), client=(ASGI_CLIENT_IP, 1234))
    async with httpx.AsyncClient(transport=transport, base_url=ASGI_BASE_URL) as client:
        yield client


@pytest.fixture
def live_sandbox(sandbox: Sandbox) -> Iterator[SandboxServer]:
    """``sandbox`` served over HTTP on 127.0.0.1; ``.url`` is its base URL."""
    with SandboxServer(sandbox) as server:
        yield server


@pytest.fixture
async def robot_for() -> AsyncIterator[Callable[..., AsyncRobot]]:
    """``robot_for(sandbox, name, *, client_ip=..., wrap=None, **settings)``: an AsyncRobot.

    It posts to ``sandbox`` in-process with the stored robot's token and secret, no rate
    limit and no retries unless ``settings`` say otherwise; ``wrap`` wraps the transport.
    """
    async with AsyncExitStack() as stack:

        def make(
            target: Sandbox,
            name: str,
            *,
            client_ip: str = ASGI_CLIENT_IP,
            wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
            **settings: Any,
        ) -> AsyncRobot:
            stored = target.robot.robot_by_name(name)
            assert stored is not None, f"the sandbox has no robot {name!r}"
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(
                app=create_app(target), client=(client_ip, 1234)
            )
            if wrap is not None:
                transport = wrap(transport)
            http = httpx.AsyncClient(transport=transport)
            stack.push_async_callback(http.aclose)
            options: dict[str, Any] = {
                "token": stored.token,
                "secret": stored.secret,
                "name": name,
                "base_url": ASGI_BASE_URL,
                "rate_limit": False,
                "retry": NO_RETRY,
                **settings,
            }
            return AsyncRobot(http_client=http, **options)

        yield make


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="the reliability suite's long run: 2,000 hostile cases per route, not 200",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--slow"):
        os.environ["DINGKIT_FUZZ_EXAMPLES"] = "2000"


_SCANNED: list[tuple[str, str]] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    """The reliability figures start afresh with each run (tests/reliability/figures.py), and
    the secrets scan starts collecting (tests/reliability/secrets_scan.py)."""
    from reliability import figures, secrets_scan

    figures.path().unlink(missing_ok=True)
    collector = secrets_scan.Collector()
    logging.getLogger().addHandler(collector)
    session.config.stash[_COLLECTOR] = collector


_COLLECTOR = pytest.StashKey["logging.Handler"]()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, text in report.sections:  # what pytest captured: stdout, stderr, log
        _SCANNED.append((f"{report.nodeid} {name}", text))


@pytest.fixture(scope="session", autouse=True)
def _scan_server_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Once every test is done, the logs server processes wrote under the session's temporary
    directory join the secrets scan."""
    from reliability import secrets_scan

    yield
    secrets_scan.collect_files(tmp_path_factory.getbasetemp())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from reliability import figures, secrets_scan

    collector = session.config.stash.get(_COLLECTOR, None)
    if not isinstance(collector, secrets_scan.Collector):
        return
    logging.getLogger().removeHandler(collector)
    texts = [*collector.texts, *_SCANNED, *secrets_scan.OUTPUTS]
    found = secrets_scan.leaks(texts)
    figures.record(
        "secrets",
        "logs, captured output, command output and server logs",
        scanned=len(texts),
        log_records=len(collector.texts),
        captured=len(_SCANNED),
        command_outputs=len(secrets_scan.OUTPUTS),
        leaks=len(found),
    )
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["secrets in the clear:", *found[:50]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
