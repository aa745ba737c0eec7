"""Running the sandbox under uvicorn: in the foreground (``dingkit sandbox``) or in a
background thread (``dingkit demo``, tests, benchmarks).
"""

from __future__ import annotations

import logging
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn
import uvicorn.logging

from .._admin_guard import ADMIN_TOKEN_HEADER, LOOPBACK_NAMES, is_loopback
from .._background_server import BackgroundServer
from .app import create_app
from .config import AppConfig
from .core import Sandbox
from .robot.records import StoredRobot
from .tokens.issuer import failure_mode

__all__ = ["SandboxServer", "describe_apps", "describe_grants", "describe_robots"]

_WS_MAX_SIZE = 1024 * 1024


class _QuietBadUtf8(logging.Filter):
    """uvicorn's websockets-sansio protocol logs a text frame that is not UTF-8 with a full
    traceback (``logger.exception``, marked "pragma: no cover" in uvicorn 0.55) before closing
    that connection with 1007, which is right. A client's bad bytes are not the server's
    fault: the record is kept as one warning line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid UTF-8 sequence received from client"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_QUIET_BAD_UTF8 = _QuietBadUtf8()


class SandboxServer:
    """A sandbox served by uvicorn on a background thread.

        >>> with SandboxServer(Sandbox.from_settings()) as server:
        ...     print(server.url)

    Args:
        sandbox: what to serve.
        host: interface to bind; loopback by default.
        port: 0 picks a free port.
        log_level: uvicorn's log level.
        forwarded_allow_ips: proxies whose ``X-Forwarded-For`` names the client (comma-
            separated addresses, uvicorn's syntax). ``None``, the default, trusts no header:
            the IP allow-lists judge the peer's own address, so a local client cannot claim
            an allowed one.
        admin_token: required of every ``/_sandbox`` call when the sandbox is bound beyond
            loopback; ``None`` (default) makes a fresh one for the run there. On loopback no
            token is asked for (the Host/Origin/content-type guard still applies).
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        forwarded_allow_ips: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.host = host
        # Bind here so that port 0 resolves before uvicorn starts and errors surface early.
        # IPPROTO_TCP, not 0: only then does asyncio set TCP_NODELAY on accepted connections,
        # without which every response waits ~40 ms for the client's delayed ACK.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        # Loopback: the admin surface answers only under loopback names (DNS rebinding). Bound
        # to another address: that address too; to every interface: any name. Beyond
        # loopback, anyone who can reach the port could drive it, so a token is required.
        every = host in ("0.0.0.0", "::", "")
        allowed = None if every else {*LOOPBACK_NAMES, host}
        self.loopback = is_loopback(host)
        self.admin_token: str | None = None
        if not self.loopback:
            self.admin_token = admin_token or secrets.token_urlsafe(24)
        config = uvicorn.Config(
            create_app(sandbox, allowed_hosts=allowed, admin_token=self.admin_token),
            log_level=log_level,
            lifespan="off",
            access_log=False,
            # h11 bounds the request head (16 KiB, then 400 and close); httptools, which
            # uvicorn would pick if installed, has no such bound (issue 10, defect 10).
            http="h11",
            # Stream mode's WebSocket (§8.2) through the `websockets` library, named rather than
            # left to "auto". uvicorn 0.55 deprecates its "websockets" (legacy) implementation
            # and says it will become this one; same library, sans-I/O, maintained.
            ws="websockets-sansio",
            # [I] DingTalk's frame limit is unknown; an ACK is a few hundred bytes. A larger
            # client frame closes that connection with 1009 (message too big).
            ws_max_size=_WS_MAX_SIZE,
            # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default (issue 10, defect 6).
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
        )
        self._background = BackgroundServer(config, self._socket, name="dingkit-sandbox")
        logging.getLogger("uvicorn.error").addFilter(_QUIET_BAD_UTF8)  # once: same object

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def page_url(self) -> str:
        """The chat page; beyond loopback with the admin token in the fragment (which the
        browser never sends), from where the page takes it for its own calls."""
        if self.admin_token is None:
            return f"{self.url}/"
        return f"{self.url}/#admin={self.admin_token}"

    @property
    def admin_headers(self) -> dict[str, str]:
        """What a script adds to its ``/_sandbox`` calls."""
        return {} if self.admin_token is None else {ADMIN_TOKEN_HEADER: self.admin_token}

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self.sandbox.callbacks.start()  # event pushes go out while the server runs
        try:
            self._background.start(timeout)
        except RuntimeError:
            raise RuntimeError(f"the sandbox did not start on {self.url}") from None
        return self

    def stop(self) -> None:
        self._background.stop()
        self.sandbox.callbacks.stop()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            self._background.wait()
        finally:
            self.sandbox.callbacks.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def describe_robots(robots: list[StoredRobot], base_url: str) -> list[str]:
    """Lines telling a user how to reach each robot (the sandbox's secrets are fake)."""
    lines = []
    for robot in robots:
        lines.append(f"robot {robot.name!r} → group {robot.group!r}")
        lines.append(f"  webhook: {base_url}/robot/send?access_token={robot.token}")
        if robot.secret:
            lines.append(f"  secret:  {robot.secret}")
        if robot.keywords:
            lines.append(f"  keywords: {', '.join(robot.keywords)}")
        if robot.ip_allowlist:
            lines.append(f"  IP allow-list: {', '.join(robot.ip_allowlist)}")
    return lines


def describe_apps(apps: list[AppConfig]) -> list[str]:
    """Lines giving each app's credentials (the sandbox's secrets are fake); apps whose key
    selects a failure mode and share a secret with a plain app get one line each."""
    lines = []
    plain = [app for app in apps if failure_mode(app.app_key) is None]
    secrets = {app.app_secret for app in plain}
    for app in plain:
        lines.append(f"app {app.name!r} (agent_id {app.agent_id})")
        lines.append(f"  app_key:    {app.app_key}")
        lines.append(f"  app_secret: {app.app_secret}")
        lines.extend(f"  {line}" for line in describe_grants(app))
    for app in apps:
        mode = failure_mode(app.app_key)
        if mode is None:
            continue
        if app.app_secret in secrets:
            lines.append(f"app {app.name!r} ({mode.value}): app_key {app.app_key}, same secret")
        else:
            lines.append(f"app {app.name!r} ({mode.value}) (agent_id {app.agent_id})")
            lines.append(f"  app_key:    {app.app_key}")
            lines.append(f"  app_secret: {app.app_secret}")
    return lines


def describe_grants(app: AppConfig) -> list[str]:
    """What an app may do: its permission points, visible range, callers and quota."""
    scopes = "every permission" if app.scopes is None else ", ".join(app.scopes) or "none"
    lines = [f"scopes:     {scopes}"]
    if app.visible_depts is not None:
        lines.append(f"visible:    departments {', '.join(map(str, app.visible_depts))}")
    if app.ip_allowlist:
        lines.append(f"callers:    {', '.join(app.ip_allowlist)}")
    if app.monthly_quota is not None:
        lines.append(f"quota:      {app.monthly_quota} calls a month")
    return lines


def describe_org(sandbox: Sandbox) -> str:
    org, config = sandbox.org, sandbox.config
    return (
        f"organisation {org.corp_id}: {len(org.users)} people in {len(org.departments)} "
        f"departments (seed {config.seed}); test user {org.users[0].userid} "
        f"(mobile {org.users[0].mobile})"
    )


def run_foreground(
    sandbox: Sandbox,
    *,
    host: str,
    port: int,
    announce: Callable[[str], None],
    data_dir: Path | None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve until Ctrl-C, after announcing the chat page, the organisation, the apps and the
    robots."""
    server = SandboxServer(
        sandbox, host=host, port=port, log_level="info", forwarded_allow_ips=forwarded_allow_ips
    )
    # The sandbox's own lines (a robot message or rejection each, a sandbox bug) in uvicorn's
    # style, on stderr beside its.
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(uvicorn.logging.DefaultFormatter("%(levelprefix)s %(message)s"))
    sandbox_logger = logging.getLogger("dingkit.sandbox")
    sandbox_logger.addHandler(console)
    sandbox_logger.setLevel(logging.INFO)
    server.start()
    # Ctrl-C may come while the banner is still being written (a script that waits for one
    # line of it interrupts at once): that is a clean stop too, not an abort.
    try:
        announce(f"DingTalk sandbox on {server.url}  (chat page: {server.page_url})")
        if server.admin_token is not None:
            announce(
                f"warning: listening on {host}, beyond loopback: anyone who can reach this port "
                "can send to its robots and call its APIs. Its admin routes (/_sandbox/*: secrets, "
                f"org changes, approvals) need {ADMIN_TOKEN_HEADER}: {server.admin_token} "
                "(the page link above carries it)."
            )
        announce(f"export DINGTALK_OAPI_BASE_URL={server.url}")
        announce(f"export DINGTALK_API_BASE_URL={server.url}")
        if data_dir is not None:
            announce(f"history kept in {data_dir}")
        announce(describe_org(sandbox))
        for line in describe_apps(sandbox.apps.all()):
            announce(line)
        for line in describe_robots(sandbox.robot.robots(), server.url):
            announce(line)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sandbox_logger.removeHandler(console)
