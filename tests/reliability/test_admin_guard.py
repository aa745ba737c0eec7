"""The sandbox's own surface cannot be driven by another web page (issue 10, defect 5): a
foreign Host (DNS rebinding), a foreign Origin and a "simple" form POST are refused; the
page's own JSON requests and DingTalk's paths are not affected."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, RobotConfig, SandboxConfig

ROBOT = RobotConfig(name="plain", token="plaintoken0001")
APP = AppConfig(name="a", app_key="dingguard0001", app_secret="guard-secret-0001")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(ROBOT,), apps=(APP,)))
    with SandboxServer(sandbox) as running:
        yield running


def test_a_foreign_host_is_refused(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        rebound = http.get("/_sandbox/robots", headers={"Host": "evil.example:8765"})
        page = http.get("/", headers={"Host": "evil.example"})
        own = http.get("/_sandbox/robots", headers={"Host": f"localhost:{server.port}"})
    assert rebound.status_code == 403
    assert "not this sandbox's" in rebound.json()["error"]
    assert page.status_code == 403
    assert own.status_code == 200


def test_a_foreign_origin_is_refused(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        crossed = http.post(
            "/_sandbox/robots/plain/disable", json={}, headers={"Origin": "http://evil.example"}
        )
        same = http.post("/_sandbox/robots/plain/enable", json={}, headers={"Origin": server.url})
    assert crossed.status_code == 403
    assert same.status_code == 200
    assert server.sandbox.robot.robot_by_name("plain").disabled is False  # type: ignore[union-attr]


def test_a_simple_form_post_is_refused(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        form = http.post("/_sandbox/tokens/expire", data={"x": "1"})
        bare = http.post("/_sandbox/groups/default/dissolve")
    assert form.status_code == 415
    assert bare.status_code == 415
    assert "application/json" in form.json()["error"]


def test_dingtalk_paths_are_not_guarded(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        token = http.get(
            "/gettoken",
            params={"appkey": APP.app_key, "appsecret": APP.app_secret},
            headers={"Host": "oapi.dingtalk.com", "Origin": "http://anywhere.example"},
        )
    assert token.json()["errcode"] == 0
