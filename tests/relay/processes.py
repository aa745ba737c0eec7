"""Real processes for the relay's end-to-end tests: ``dingkit relay serve`` and Debian's
``prometheus-alertmanager``, each on loopback with its own directory and log file.

Every process runs in its own session and is stopped by :meth:`Process.stop` (SIGTERM, then
SIGKILL after a timeout); the fixtures that start them call it in their finalizers. The logs
are under the test's temporary directory, where the secrets scan reads them. Waits are
on conditions with generous deadlines, and fail early, with the log's tail, when a process
they depend on has exited.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
#: How long a process may take to become ready; far beyond what it needs on a busy CI host.
START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_POLL = 0.05


def free_ports(count: int, *, udp: bool = False) -> list[int]:
    """``count`` distinct loopback ports free now for TCP (and, with ``udp``, for UDP too:
    an Alertmanager's cluster port is both, memberlist gossips over UDP and syncs state over
    TCP). All are held until all are found, so no two are the same."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count and len(held) < 100 * count:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            if udp:
                datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(datagram)
                try:
                    datagram.bind(("127.0.0.1", port))
                except OSError:
                    continue
            ports.append(port)
        assert len(ports) == count, f"no {count} free loopback ports found"
        return ports
    finally:
        for sock in held:
            sock.close()


class Process:
    """A child process in its own session, its stdout and stderr in ``log``."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log = log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def check_alive(self) -> None:
        assert self.alive, (
            f"{self.name} exited with {self.popen.returncode}; its log ends:\n{self.tail()}"
        )

    def stop(self) -> None:
        """SIGTERM to its session, SIGKILL if it has not exited within ten seconds."""
        if self.alive:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=_STOP_TIMEOUT)
            except ProcessLookupError:  # exited between the check and the signal
                self.popen.wait(timeout=_STOP_TIMEOUT)


def wait_for(
    condition: Callable[[], T],
    what: str,
    *,
    seconds: float = START_TIMEOUT,
    processes: Iterable[Process] = (),
) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``seconds``, or as soon as one of ``processes`` has exited."""
    watched = list(processes)
    deadline = time.monotonic() + seconds
    while True:
        for process in watched:
            process.check_alive()
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {p.name}:\n{p.tail()}" for p in watched)
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}{logs}")
        time.sleep(_POLL)


def wait_quiet(
    probe: Callable[[], T],
    what: str,
    *,
    quiet: float,
    seconds: float = START_TIMEOUT,
    processes: Iterable[Process] = (),
) -> T:
    """Wait until ``probe()`` has returned the same value for ``quiet`` seconds in a row
    (a counter that a busy process moves at least that often has stopped), and return it."""
    last = probe()
    since = time.monotonic()

    def settled() -> bool:
        nonlocal last, since
        now = probe()
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= quiet

    wait_for(settled, what, seconds=seconds, processes=processes)
    return last


def http(method: str, url: str, body: Any = None, *, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request; the status and the body, also for a 4xx or 5xx answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers(url: str) -> bool:
    """``GET url`` answers 200 (a refused connection or another status is "not yet")."""
    try:
        status, _ = http("GET", url, timeout=2.0)
    except OSError:
        return False
    return status == 200


def get_json(url: str) -> Any:
    status, body = http("GET", url)
    assert status == 200, f"GET {url} -> {status}: {body[:300]!r}"
    return json.loads(body)


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in Prometheus text whose labels include ``labels``
    (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        found = _SAMPLE.match(line.strip())
        if found is None or found.group(1) != name:
            continue
        have = dict(_LABEL.findall(found.group(2) or ""))
        if all(have.get(key) == value for key, value in labels.items()):
            total += float(found.group(3))
    return total


def scrape(url: str) -> str:
    status, body = http("GET", f"{url}/metrics")
    assert status == 200, f"GET {url}/metrics -> {status}"
    return body.decode()


# -- dingkit relay serve ----------------------------------------------------------------------

_BANNER = re.compile(r"relay taking webhooks at (http://127\.0\.0\.1:\d+)/")


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This interpreter's environment without DingTalk or dingkit settings, its data under
    ``home``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONUTF8="1",
    )
    return env | dict(extra or {})


class RelayProcess(Process):
    """``dingkit relay serve`` on a free loopback port (``--port 0``; the port is read from
    its banner) with its own config and data directory."""

    def __init__(self, folder: Path, config: str, *, env: Mapping[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "relay.toml"
        self.config.write_text(config, encoding="utf-8")
        args = [sys.executable, "-m", "dingkit", "relay", "serve", "--config", str(self.config)]
        args += ["--host", "127.0.0.1", "--port", "0", "--data-dir", str(folder / "data")]
        super().__init__("dingkit relay serve", args, log=folder / "relay.log", env=env)
        self.url = ""

    def wait_ready(self) -> RelayProcess:
        found = wait_for(
            lambda: _BANNER.search(self.output()), "the relay's banner", processes=[self]
        )
        self.url = found.group(1)
        wait_for(lambda: answers(f"{self.url}/healthz"), "the relay's /healthz", processes=[self])
        return self

    def metrics(self) -> str:
        return scrape(self.url)


# -- prometheus-alertmanager ------------------------------------------------------------------


class Alertmanager(Process):
    """One Alertmanager on loopback: its web port, its cluster port (TCP and UDP), its own
    storage; ``peers`` are the cluster addresses of the others in its HA cluster."""

    def __init__(
        self,
        folder: Path,
        config: str,
        *,
        web_port: int,
        cluster_port: int,
        peers: Sequence[str],
        flags: Sequence[str] = (),
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "alertmanager.yml"
        config_file.write_text(config, encoding="utf-8")
        self.url = f"http://127.0.0.1:{web_port}"
        self.cluster_address = f"127.0.0.1:{cluster_port}"
        args = [
            str(ALERTMANAGER),
            f"--config.file={config_file}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            f"--web.external-url={self.url}",
            f"--cluster.listen-address={self.cluster_address}",
            *(f"--cluster.peer={peer}" for peer in peers),
            *flags,
        ]
        name = f"alertmanager :{web_port}"
        super().__init__(name, args, log=folder / "alertmanager.log", env={}, cwd=folder)

    def status(self) -> Any:
        return get_json(f"{self.url}/api/v2/status")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``, as Prometheus sends to every Alertmanager it knows."""
        status, body = http("POST", f"{self.url}/api/v2/alerts", alerts)
        assert status == 200, f"{self.name} refused the alerts: {status} {body[:300]!r}"

    def metrics(self) -> str:
        return scrape(self.url)
