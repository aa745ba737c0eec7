"""Fixtures for driving the real ``dingkit`` command against a sandbox served by uvicorn.

Every command runs as a subprocess with an explicit environment: the test process's
environment minus ``DINGTALK_*``/``DINGKIT_*``, with ``HOME`` and the XDG directories under
``tmp_path`` so that no real config or data leaks in, plus what the test sets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from _forkserver import ForkServer
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, RobotConfig, SandboxConfig
from reliability import secrets_scan

#: Generous for a loaded 2-core machine; a command normally takes well under a second.
COMMAND_TIMEOUT = 30.0
#: Commands run at once by ``CLI.run_many``.
PARALLEL = max(2, min(4, os.cpu_count() or 2))

SIGNED = RobotConfig(
    name="signed",
    token="signedtoken0123456789",
    secret="SECsignedsecret0123456789abcdef",
    group="cli",
)
KEYWORD = RobotConfig(name="kw", token="keywordtoken0123456789", keywords=("deploy",), group="cli")
PLAIN = RobotConfig(name="plain", token="plaintoken0123456789", group="cli")
#: Only for the ``--split`` tests, so their many messages do not mix with the others.
BULK = RobotConfig(name="bulk", token="bulktoken0123456789", group="cli")
ROBOTS = (SIGNED, KEYWORD, PLAIN, BULK)

#: The internal app of the server-API commands (``test_cli_server_*.py``).
APP = AppConfig(
    name="cli", app_key="dingclitests0001", app_secret="cli-app-secret-0123456789abcdef"
)

#: Strings that must never show in any output of the CLI.
SECRETS = (
    tuple(robot.token for robot in ROBOTS)
    + tuple(robot.secret for robot in ROBOTS if robot.secret)
    + (APP.app_secret,)
)


#: A token or sign in a URL that is not hidden (``...`` is how help texts show the shape).
_UNREDACTED = re.compile(r"(?:access_token|sign|secret)=(?!\*\*\*|\.\.\.)[^\s&'\"]")
#: A base64 HMAC-SHA256, as a sign value is, raw or URL-encoded.
_SIGN_VALUE = re.compile(r"[A-Za-z0-9+/]{43}=|[A-Za-z0-9%]{43,}%3D")


def dingkit_script() -> Path:
    """The installed console script, next to the interpreter running the tests."""
    directory = Path(sys.executable).parent
    for name in ("dingkit", "dingkit.exe"):
        if (directory / name).exists():
            return directory / name
    raise AssertionError(f"no dingkit console script in {directory}")


def clean_environ(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DINGTALK_", "DINGKIT_"))
    }
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        APPDATA=str(home / "config"),
        LOCALAPPDATA=str(home / "data"),
        PYTHONUTF8="1",
        PYTHONIOENCODING="utf-8",
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.pop("PYTHONWARNINGS", None)
    if extra:
        env.update(extra)
    return env


@dataclass
class Result:
    """What one command did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:
        return (
            f"dingkit {' '.join(self.args)} -> {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )

    def json(self) -> Any:
        return json.loads(self.stdout)

    def assert_no_secrets(self, *extra: str) -> None:
        """No robot token or secret, and nothing that looks like a token or sign value."""
        output = self.stdout + self.stderr
        for secret in (*SECRETS, *extra):
            assert secret not in output, self
            assert urllib.parse.quote(secret, safe="") not in output, self
        assert not _UNREDACTED.search(output), self
        assert not _SIGN_VALUE.search(output), self

    def assert_ok(self, *, prints_credentials: bool = False) -> Result:
        """Exit 0, no traceback, no secret (unless the command's job is to print the
        sandbox's credentials, as ``dingkit demo`` does)."""
        assert self.returncode == 0, self
        assert "Traceback" not in self.stderr, self
        if not prints_credentials:
            self.assert_no_secrets()
        return self

    def assert_failure(self, code: int, *expected: str) -> str:
        """Failed with ``code``: one ``error:`` line holding ``expected``, no traceback, no
        secret. Returns that line."""
        assert self.returncode == code, self
        assert "Traceback" not in self.stderr + self.stdout, self
        lines = [line for line in self.stderr.splitlines() if line.lower().startswith("error:")]
        assert len(lines) == 1, self
        for text in expected:
            assert text in lines[0], self
        self.assert_no_secrets()
        return lines[0]


@dataclass(frozen=True)
class Call:
    """One command for ``CLI.run_many``."""

    args: tuple[str, ...]
    input: str | None = None
    env: Mapping[str, str] | None = None
    script: bool = False


@dataclass
class CLI:
    """Runs ``python -m dingkit ...`` (or the console script) in a clean environment."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return clean_environ(self.home, {**self.env, **(extra or {})})

    @staticmethod
    def call(
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        script: bool = False,
    ) -> Call:
        """A command for ``run_many`` with its own input and environment."""
        return Call(args, input, env, script)

    def command(self, *, script: bool = False, python_flags: Sequence[str] = ()) -> list[str]:
        if script:
            return [str(dingkit_script())]
        return [sys.executable, *python_flags, "-m", "dingkit"]

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        script: bool = False,
        python_flags: Sequence[str] = (),
    ) -> Result:
        forks = None if script or python_flags else ForkServer.get(clean_environ(self.home))
        if forks is not None:
            code, out, err = forks.run(
                args, self.environ(env), self.home, input or "", COMMAND_TIMEOUT
            )
            secrets_scan.collect(args, out, err)
            return Result(args, code, out, err)
        completed = subprocess.run(
            [*self.command(script=script, python_flags=python_flags), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.environ(env),
            cwd=self.home,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        secrets_scan.collect(args, completed.stdout, completed.stderr)
        return Result(args, completed.returncode, completed.stdout, completed.stderr)

    def run_many(
        self, *commands: Sequence[str] | Call, env: Mapping[str, str] | None = None
    ) -> list[Result]:
        """Run independent commands side by side: each is mostly interpreter start-up."""

        def run(command: Sequence[str] | Call) -> Result:
            call = command if isinstance(command, Call) else Call(tuple(command))
            return self.run(
                *call.args,
                input=call.input,
                env={**(env or {}), **(call.env or {})},
                script=call.script,
            )

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            return list(pool.map(run, commands))


@dataclass
class SandboxClient:
    """The sandbox under test, its robots, and what it recorded."""

    server: SandboxServer
    signed: RobotConfig = SIGNED
    kw: RobotConfig = KEYWORD
    plain: RobotConfig = PLAIN
    bulk: RobotConfig = BULK

    @property
    def url(self) -> str:
        return self.server.url

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read().decode("utf-8"))

    def messages(self, robot: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        return self.get("/_sandbox/messages", robot=robot, after=after, limit=5000)["messages"]

    def rejections(self, robot: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        found = self.get("/_sandbox/rejections", robot=robot, after=after, limit=5000)
        return found["rejections"]

    def mark(self) -> tuple[int, int]:
        """The newest message and rejection ids, to ask only for what comes after."""
        messages = self.messages()
        rejections = self.rejections()
        return (
            max((m["id"] for m in messages), default=0),
            max((r["id"] for r in rejections), default=0),
        )

    def webhook(self, robot: RobotConfig) -> str:
        return f"{self.url}/robot/send?access_token={robot.token}"

    @staticmethod
    def env(robot: RobotConfig) -> dict[str, str]:
        """``DINGTALK_ROBOT_TOKEN`` (and ``_SECRET``) for ``robot``."""
        env = {"DINGTALK_ROBOT_TOKEN": robot.token}
        if robot.secret:
            env["DINGTALK_ROBOT_SECRET"] = robot.secret
        return env


@dataclass
class OpenApiSandbox:
    """A sandbox serving the server APIs for the CLI, its app, and what it recorded."""

    server: SandboxServer
    app: AppConfig = APP

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read().decode("utf-8"))

    def token_requests(self, app: AppConfig | None = None) -> int:
        """Token requests the sandbox has counted for ``app`` (both endpoints)."""
        counts: dict[str, int] = self.get("/_sandbox/tokens")["requests"]
        return counts.get((app or self.app).name, 0)

    def env(self, app: AppConfig | None = None) -> dict[str, str]:
        """Both base URLs, and ``app``'s credentials and agent id."""
        app = app or self.app
        return {
            "DINGTALK_OAPI_BASE_URL": self.url,
            "DINGTALK_API_BASE_URL": self.url,
            "DINGTALK_APP_KEY": app.app_key,
            "DINGTALK_APP_SECRET": app.app_secret,
            "DINGTALK_AGENT_ID": str(app.agent_id),
        }


def serve_openapi(config: SandboxConfig) -> SandboxServer:
    """A sandbox for the server-API commands: ``config`` with :data:`APP` added."""
    config = config.model_copy(update={"apps": (APP, *config.apps)})
    return SandboxServer(Sandbox.from_settings(config=config))


@pytest.fixture(scope="session")
def openapi_sandbox() -> Iterator[OpenApiSandbox]:
    """One sandbox for the server-API commands: the default 300-person organisation (seed 7),
    limits off so that parallel commands cannot trip the QPS limit."""
    with serve_openapi(SandboxConfig(limits=False, seed=7)) as server:
        yield OpenApiSandbox(server)


@pytest.fixture(scope="session")
def openapi_sandbox_for() -> Iterator[Callable[[SandboxConfig], OpenApiSandbox]]:
    """Start a sandbox for a config of the test module's own (stopped at the session's end)."""
    with ExitStack() as stack:
        yield lambda config: OpenApiSandbox(stack.enter_context(serve_openapi(config)))


@pytest.fixture(scope="session")
def flat_openapi_sandbox() -> Iterator[OpenApiSandbox]:
    """Everyone directly in department 1 (250 people): a user export of three pages."""
    with serve_openapi(SandboxConfig(limits=False, seed=11, org_size=250, org_depth=0)) as server:
        yield OpenApiSandbox(server)


@pytest.fixture
def server_cli(home: Path, openapi_sandbox: OpenApiSandbox) -> CLI:
    """The CLI with the app's credentials and both base URLs pointing at the sandbox."""
    return CLI(home, openapi_sandbox.env())


@pytest.fixture
def cli_with(home: Path) -> Callable[[Mapping[str, str]], CLI]:
    """The CLI (sharing ``home``) with an environment of the test's choosing."""
    return lambda env: CLI(home, dict(env))


@pytest.fixture(scope="session")
def cli_sandbox() -> Iterator[SandboxClient]:
    """One sandbox under uvicorn for the whole session, with the robots above.

    The rate limit is off so that the many CLI tests cannot trip it; tests tell their
    messages apart by robot and by id (``after=``).
    """
    config = SandboxConfig(errcodes="doc", limits=False, robots=ROBOTS)
    with SandboxServer(Sandbox.from_settings(config=config)) as server:
        yield SandboxClient(server)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


@pytest.fixture
def cli(home: Path) -> CLI:
    """The CLI with no robot configured."""
    return CLI(home)


@pytest.fixture
def sandbox_cli(home: Path, cli_sandbox: SandboxClient) -> CLI:
    """The CLI pointed at the sandbox (``DINGTALK_OAPI_BASE_URL``), no robot chosen yet."""
    return CLI(home, {"DINGTALK_OAPI_BASE_URL": cli_sandbox.url})


@pytest.fixture(scope="module")
def module_cli(tmp_path_factory: pytest.TempPathFactory, cli_sandbox: SandboxClient) -> CLI:
    """Like ``sandbox_cli``, shared by a module's tests (for commands run as one batch)."""
    return CLI(tmp_path_factory.mktemp("home"), {"DINGTALK_OAPI_BASE_URL": cli_sandbox.url})
