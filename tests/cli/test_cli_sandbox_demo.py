"""``dingkit sandbox`` and ``dingkit demo`` as real processes."""

from __future__ import annotations

import json
import queue
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dingkit.robot.client import Robot
from dingkit.sandbox import Sandbox
from reliability import secrets_scan

STARTUP_TIMEOUT = 30.0


class Served:
    """A ``dingkit sandbox`` process, its stdout read line by line on a thread."""

    def __init__(self, process: subprocess.Popen[str], stderr: Path) -> None:
        self.process = process
        self.stderr_path = stderr
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def read_until(self, done: Callable[[list[str]], bool]) -> list[str]:
        """Lines so far, once ``done(lines)`` holds; fails on timeout or exit."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not done(self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out; stdout so far: {self.seen}\nstderr: {self.stderr()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the sandbox exited: {self.seen}\nstderr: {self.stderr()}")
            self.seen.append(line)
        return self.seen

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STARTUP_TIMEOUT)
        self._pump_thread.join(timeout=STARTUP_TIMEOUT)  # it stops at end of output
        assert self.process.stdout is not None
        self.process.stdout.close()
        while (line := self._lines.get_nowait() if not self._lines.empty() else None) is not None:
            self.seen.append(line)
        secrets_scan.collect(["sandbox"], "\n".join(self.seen))

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STARTUP_TIMEOUT)


@pytest.fixture
def start_sandbox(cli, tmp_path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str) -> Served:
        stderr = tmp_path / f"sandbox-{len(started)}.stderr"
        with stderr.open("w", encoding="utf-8") as sink:
            process = subprocess.Popen(
                [*cli.command(), "sandbox", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=sink,
                text=True,
                encoding="utf-8",
                env=cli.environ({"PYTHONUNBUFFERED": "1"}),
                cwd=cli.home,
            )
        served = Served(process, stderr)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


def _robots(lines: list[str]) -> dict[str, dict[str, str]]:
    """The robots a sandbox announced: name -> {"webhook", "secret", "keywords", "group"}."""
    robots: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in lines:
        if match := re.fullmatch(r"robot '([^']+)' → group '([^']+)'", line):
            current = robots.setdefault(match[1], {"group": match[2]})
        elif current is not None and (match := re.fullmatch(r"  (\w+):\s+(.+)", line)):
            current[match[1]] = match[2]
    return robots


def _url(lines: list[str]) -> str | None:
    for line in lines:
        if match := re.match(r"DingTalk sandbox on (http://127\.0\.0\.1:\d+)  \(chat page: ", line):
            return match[1]
    return None


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def _post_raw(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def test_sandbox_serves_the_demo_robots_until_interrupted(start_sandbox, tmp_path):
    served = start_sandbox("--port", "0", "--data-dir", str(tmp_path / "data"))
    lines = served.read_until(
        lambda seen: (
            {"alerts", "deploys"} <= set(_robots(seen))
            and "secret" in _robots(seen)["alerts"]
            and "keywords" in _robots(seen)["deploys"]
        )
    )
    url = _url(lines)
    assert url is not None, lines
    assert f"export DINGTALK_OAPI_BASE_URL={url}" in lines
    assert f"history kept in {tmp_path / 'data'}" in lines
    robots = _robots(lines)
    alerts, deploys = robots["alerts"], robots["deploys"]
    assert alerts["webhook"].startswith(f"{url}/robot/send?access_token=")
    assert alerts["secret"].startswith("SEC")
    assert deploys["keywords"] == "deploy"

    with Robot(alerts["webhook"], secret=alerts["secret"], name="alerts") as robot:
        result = robot.send_text("hello from the test")
    [message] = _get(f"{url}/_sandbox/messages?robot=alerts")["messages"]
    assert message["payload"] == {
        "msgtype": "text",
        "text": {"content": "hello from the test"},
        "msgUuid": result.msg_uuid,
    }
    assert message["group"] == "demo"
    # The default errcodes are the documented ones.
    assert _post_raw(f"{url}/robot/send?access_token=unknowntoken123", {})["errcode"] == 400101

    assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()
    # The history outlives the process.
    reopened = Sandbox.from_settings(data_dir=tmp_path / "data")
    try:
        assert [m.payload["text"]["content"] for m in reopened.robot.messages(robot="alerts")] == [
            "hello from the test"
        ]
    finally:
        reopened.close()


@pytest.mark.parametrize("with_config", [False, True], ids=["demo-robots", "config-file"])
def test_observed_errcodes(start_sandbox, cli, tmp_path, with_config):
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--errcodes", "observed"]
    if with_config:
        config = tmp_path / "sandbox.toml"
        config.write_text(
            'errcodes = "doc"\n\n[[group]]\nid = "ops"\nname = "Ops room"\n\n'
            '[[robot]]\nname = "ops-bot"\ntoken = "opsbottoken123"\ngroup = "ops"\n',
            encoding="utf-8",
        )
        args += ["--config", str(config), "--no-limits"]
    served = start_sandbox(*args)
    expected = "ops-bot" if with_config else "deploys"
    lines = served.read_until(lambda seen: expected in _robots(seen))
    url = _url(lines)
    assert url is not None, lines
    if with_config:
        assert _robots(lines)["ops-bot"]["group"] == "ops"

    result = cli.run(
        "send",
        "text",
        "hello",
        env={"DINGTALK_OAPI_BASE_URL": url, "DINGTALK_ROBOT_TOKEN": "notarobottoken42"},
    )
    result.assert_failure(1, "errcode 300005")
    result.assert_no_secrets("notarobottoken42")
    [rejection] = _get(f"{url}/_sandbox/rejections")["rejections"]
    assert (rejection["errcode"], rejection["reason"]) == (300005, "unknown_token")
    assert served.interrupt() == 0


def test_sandbox_serves_the_server_apis_over_a_seeded_organisation(start_sandbox, tmp_path):
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--org-size", "50"]
    served = start_sandbox(*args, "--seed", "7", "--org-depth", "0", "--no-limits")
    lines = served.read_until(lambda seen: "deploys" in _robots(seen))
    url = _url(lines)
    assert url is not None, lines
    assert f"export DINGTALK_API_BASE_URL={url}" in lines
    assert any(line.startswith("organisation ding5a7d1e2b3c4f6a8b: 50 people") for line in lines)
    # The demo app's credentials come first in the banner.
    credentials = dict(
        match.groups() for line in lines if (match := re.fullmatch(r"  (app_\w+):\s+(\S+)", line))
    )
    token = _get(
        f"{url}/gettoken?appkey={credentials['app_key']}&appsecret={credentials['app_secret']}"
    )["access_token"]
    summary = _get(f"{url}/_sandbox/org")
    assert (summary["user_count"], summary["seed"], summary["department_count"]) == (50, 7, 1)
    answer = _post_raw(f"{url}/topapi/v2/user/get?access_token={token}", {"userid": "manager0001"})
    assert (answer["errcode"], answer["result"]["mobile"]) == (0, "13800000000")
    assert served.interrupt() == 0
    assert "Traceback" not in served.stderr()


def test_sandbox_refuses_bad_configs_and_taken_ports(cli, home):
    (home / "bad.toml").write_text("[[robot]\nname = 1\n", encoding="utf-8")
    (home / "invalid.toml").write_text(
        '[[robot]]\nname = "x"\ntoken = "short"\n\n[limits]\n', encoding="utf-8"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        bad, invalid, missing, busy = cli.run_many(
            ["sandbox", "--config", str(home / "bad.toml"), "--port", "0"],
            ["sandbox", "--config", str(home / "invalid.toml"), "--port", "0"],
            ["sandbox", "--config", str(home / "missing.toml"), "--port", "0"],
            ["sandbox", "--port", port, "--data-dir", str(home / "data")],
        )
    bad.assert_failure(2, "bad.toml", "not valid TOML")
    invalid.assert_failure(2, "invalid.toml", "robot.0.token", "limits")
    missing.assert_failure(2, "missing.toml", "no such config file")
    busy.assert_failure(2, f"cannot serve on 127.0.0.1:{port}", "--port")


def _exports(stdout: str) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines a demo printed, as a shell would read them."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            name, _, value = shlex.split(line)[1].partition("=")
            found[name] = value
    return found


def test_demo_sends_every_message_type(cli, tmp_path):
    data = tmp_path / "demo-data"
    result = cli.run(
        "demo", "--exit", "--port", "0", "--relay-port", "0", "--data-dir", str(data)
    ).assert_ok(prints_credentials=True)
    match = re.search(
        r"See them in the chat page: (http://127\.0\.0\.1:\d+)/#group=demo", result.stdout
    )
    assert match, result
    assert "The sandbox keeps running" not in result.stdout
    assert f"its history is kept in {data}" in result.stdout
    assert f"dingkit sandbox --data-dir {data} --port {match[1].rsplit(':', 1)[1]}" in result.stdout
    assert "try: dingkit send text hello" in result.stdout
    assert set(_exports(result.stdout)) == {
        "DINGTALK_OAPI_BASE_URL",
        "DINGTALK_API_BASE_URL",
        "DINGTALK_ROBOT_WEBHOOK",
        "DINGTALK_ROBOT_SECRET",
        "DINGTALK_APP_KEY",
        "DINGTALK_APP_SECRET",
        "DINGTALK_AGENT_ID",
        "DINGTALK_CORP_ID",
    }

    reopened = Sandbox.from_settings(data_dir=data)
    try:
        messages = reopened.robot.messages()
        robots = {robot.name for robot in reopened.robot.robots()}
    finally:
        reopened.close()
    assert len(messages) >= 7
    assert {m.msgtype for m in messages} >= {"text", "markdown", "link", "actionCard", "feedCard"}
    assert {m.robot for m in messages} == {"alerts", "deploys"} == robots
    assert all(m.group == "demo" for m in messages)
    assert all(m.msg_uuid for m in messages)
    # The alert that went through the relay started beside the sandbox (issue 13).
    assert re.search(
        r"An Alertmanager alert went through the relay at http://127\.0\.0\.1:\d+ ", result.stdout
    )
    [alert] = [m for m in messages if "HighLatency" in str(m.payload)]
    assert alert.msgtype == "markdown"
    assert "FIRING" in alert.payload["markdown"]["title"]


def test_sandbox_beyond_loopback_warns_and_prints_its_admin_token(start_sandbox, tmp_path):
    served = start_sandbox("--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d"))
    lines = served.read_until(lambda seen: any(line.startswith("warning:") for line in seen))
    banner = next(line for line in lines if line.startswith("DingTalk sandbox on "))
    page = re.search(r"chat page: (http://0\.0\.0\.0:(\d+)/#admin=([\w-]+))\)", banner)
    assert page is not None, banner
    port, token = page[2], page[3]
    [warning] = [line for line in lines if line.startswith("warning:")]
    assert "beyond loopback" in warning
    assert f"X-Dingkit-Admin-Token: {token}" in warning
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(f"{base}/_sandbox/robots")
    refused.value.close()
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{base}/_sandbox/robots", headers={"X-Dingkit-Admin-Token": token}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert {robot["name"] for robot in json.loads(response.read())["robots"]} >= {"alerts"}
    assert served.interrupt() == 0


def test_the_demo_s_exports_work_once_its_history_is_served_again(cli, cli_with, start_sandbox):
    """`--exit` says how to view the history again; with that sandbox running, the exports
    the demo printed drive the CLI as they are (the robot and the app alike)."""
    first = cli.run("demo", "--exit", "--port", "0").assert_ok(prints_credentials=True)
    again = re.search(
        r"View it again \(the lines above then work too\): dingkit (.+)$", first.stdout, re.M
    )
    assert again is not None, first.stdout
    served = start_sandbox(*shlex.split(again[1])[1:])
    served.read_until(lambda seen: any(line.startswith("robot 'alerts'") for line in seen))
    exports = _exports(first.stdout)
    shell = cli_with(exports)
    shell.run("send", "text", "hello").assert_ok()
    user = shell.run("contacts", "user", "manager0001", "--json").assert_ok().json()
    assert user["userid"] == "manager0001"
    seen = _get(f"{exports['DINGTALK_OAPI_BASE_URL']}/_sandbox/messages?robot=alerts")["messages"]
    assert seen[-1]["payload"]["text"]["content"] == "hello"
    assert served.interrupt() == 0


def test_the_demo_starts_clean_in_its_own_directory(cli):
    """Without --data-dir each run starts with an empty history (the earlier run's is gone);
    with it, what is there is kept."""
    counts = []
    for _ in range(2):
        result = cli.run("demo", "--exit", "--port", "0", "--relay-port", "0").assert_ok(
            prints_credentials=True
        )
        kept = re.search(r"its history is kept in (.+)\.$", result.stdout, re.M)
        assert kept is not None, result.stdout
        reopened = Sandbox.from_settings(data_dir=kept[1])
        try:
            counts.append(len(reopened.robot.messages()))
        finally:
            reopened.close()
    assert counts[0] == counts[1] >= 8  # with the relay's alert


def test_the_demo_reports_a_taken_port(cli):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli.run("demo", "--exit", "--port", str(port))
        relay = cli.run("demo", "--exit", "--port", "0", "--relay-port", str(port))
    result.assert_failure(2, f"cannot serve on 127.0.0.1:{port}", "--port 0")
    relay.assert_failure(2, f"cannot serve the relay on 127.0.0.1:{port}", "--relay-port")


def test_the_sandbox_logs_one_line_per_robot_message_and_rejection(start_sandbox, tmp_path):
    served = start_sandbox("--port", "0", "--data-dir", str(tmp_path / "data"))
    lines = served.read_until(lambda seen: "keywords" in _robots(seen).get("deploys", {}))
    deploys = _robots(lines)["deploys"]
    webhook = deploys["webhook"]
    _post_raw(webhook, {"msgtype": "text", "text": {"content": "no keyword here"}})
    _post_raw(webhook, {"msgtype": "text", "text": {"content": "deploy done"}})
    unknown = webhook.split("access_token=")[0] + "access_token=nobody0001"
    _post_raw(unknown, {"msgtype": "text", "text": {"content": "deploy done"}})
    assert served.interrupt() == 0
    logged = [line for line in served.stderr().splitlines() if "/robot/send" in line]
    assert logged == [
        "INFO:     POST /robot/send deploys -> 310000 keyword",
        "INFO:     POST /robot/send deploys -> 0 text",
        "INFO:     POST /robot/send (unknown token) -> 400101 unknown_token",
    ]
    token = webhook.split("access_token=")[1]
    assert token not in served.stderr()
