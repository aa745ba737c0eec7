"""The CI examples in examples/relay/ run as written: their notify step, with the values the CI
system would put in, queues a message at a live relay, which delivers it to the sandbox."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callback.conftest import Served
from dingkit.relay.app import create_app
from dingkit.relay.config import validate_config
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.service import Relay
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "relay"
TOKEN = "example-send-token"


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[str, SandboxServer]]:
    robot = RobotConfig(name="builds", token=secrets.token_hex(16), group="ci")
    with SandboxServer(Sandbox.from_settings(config=SandboxConfig(robots=(robot,)))) as server:
        config = validate_config({"robot": [{"name": "builds", "token": robot.token}]}, environ={})
        outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
        served = Served(create_app(Relay(config, outbox, base_url=server.url, send_token=TOKEN)))
        try:
            yield served.url, server
        finally:
            served.stop()
            outbox.close()


def github_step() -> str:
    """The "Tell the team" step's script, with GitHub's expressions filled in."""
    text = (EXAMPLES / "github-actions.yml").read_text(encoding="utf-8")
    found = re.search(r"\n( *)run: \|\n((?:\1  .*\n|\n)+)", text[text.index("Tell the team") :])
    assert found, "the notify step's run: | block"
    script = textwrap.dedent(found[2])
    assert script.startswith("pip install dingkit\n")
    return script.removeprefix("pip install dingkit\n")  # installed here already


def gitlab_step() -> str:
    """The notify job's folded `dingkit send` command (YAML's `>`: lines joined by spaces)."""
    text = (EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8")
    job = text[text.index("\nnotify:") :]
    assert "- pip install dingkit" in job
    found = re.search(r"\n( *)- >\n((?:\1  .*\n)+)", job)
    assert found, "the notify job's folded command"
    return " ".join(line.strip() for line in found[2].splitlines())


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "DINGKIT_"))}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={**base, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def delivered(server: SandboxServer, needle: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        texts = [str(m.payload) for m in server.sandbox.robot.messages(robot="builds")]
        if any(needle in t for t in texts):
            return
        assert time.monotonic() < deadline, texts
        time.sleep(0.1)


def test_the_github_actions_example_notifies_through_the_relay(
    relay: tuple[str, SandboxServer],
) -> None:
    url, server = relay
    values = {
        "secrets.RELAY_URL": url,
        "job.status": "success",
        "github.repository": "acme/api",
        "github.ref_name": "main",
        "github.sha": "0123abcd",
        "github.server_url": "https://github.com",
        "github.run_id": "4242",
    }
    script = re.sub(r"\$\{\{ ([\w.]+) \}\}", lambda m: values[m[1]], github_step())
    done = run(script, {"DINGKIT_RELAY_SEND_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert "queued markdown message at the relay" in done.stdout
    delivered(server, "acme/api: build success")


def test_the_gitlab_ci_example_notifies_through_the_relay(
    relay: tuple[str, SandboxServer],
) -> None:
    url, server = relay
    env = {
        "RELAY_URL": url,
        "DINGKIT_RELAY_SEND_TOKEN": TOKEN,
        "CI_PIPELINE_ID": "777",
        "CI_PROJECT_PATH": "group/project",
        "CI_COMMIT_REF_NAME": "main",
        "CI_PIPELINE_URL": "https://gitlab.example.com/group/project/-/pipelines/777",
    }
    done = run(gitlab_step(), env)
    assert done.returncode == 0, done.stderr
    delivered(server, "group/project: pipeline 777 on main")
