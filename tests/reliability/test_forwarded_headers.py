"""The robot's IP allow-list judges the peer's address, not what a client claims in
``X-Forwarded-For`` (issue 10, defect 6): a proxy is trusted only when named."""

from __future__ import annotations

import json
import urllib.request

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import RobotConfig, SandboxConfig

GUARDED = RobotConfig(name="guarded", token="guardedtoken0001", ip_allowlist=("203.0.113.7",))


def _send(url: str, forwarded: str) -> int:
    request = urllib.request.Request(
        f"{url}/robot/send?access_token={GUARDED.token}",
        data=json.dumps({"msgtype": "text", "text": {"content": "hi"}}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        errcode: int = json.load(response)["errcode"]
    return errcode


def test_a_forwarded_for_header_does_not_pass_the_allowlist() -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(GUARDED,)))
    with SandboxServer(sandbox) as server:
        assert _send(server.url, "203.0.113.7") == 310000  # the peer is 127.0.0.1


def test_a_named_proxy_is_trusted() -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(GUARDED,)))
    with SandboxServer(sandbox, forwarded_allow_ips="127.0.0.1") as server:
        assert _send(server.url, "203.0.113.7") == 0
        assert _send(server.url, "198.51.100.1") == 310000
