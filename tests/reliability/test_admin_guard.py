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


# ---- beyond loopback: the run's admin token ------------------------------------------------


@pytest.fixture(scope="module")
def exposed() -> Iterator[SandboxServer]:
    """A sandbox on every interface, reached here through loopback."""
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(ROBOT,), apps=(APP,)))
    with SandboxServer(sandbox, host="0.0.0.0") as running:
        yield running


def test_beyond_loopback_every_admin_call_needs_the_runs_token(exposed: SandboxServer) -> None:
    assert exposed.admin_token is not None
    assert len(exposed.admin_token) >= 24
    base = f"http://127.0.0.1:{exposed.port}"
    with httpx.Client(base_url=base) as http:
        bare = http.get("/_sandbox/apps")
        wrong = http.get("/_sandbox/apps", headers={"X-Dingkit-Admin-Token": "guess"})
        robots = http.get("/_sandbox/robots")
        disable = http.post("/_sandbox/robots/plain/disable", json={})
        allowed = http.get("/_sandbox/apps", headers=exposed.admin_headers)
        # DingTalk's own paths need no admin token, only DingTalk's credentials.
        token = http.get("/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret})
    for refused in (bare, wrong, robots, disable):
        assert refused.status_code == 401, refused.text
        assert "X-Dingkit-Admin-Token" in refused.json()["error"]
        assert APP.app_secret not in refused.text
        assert "SEC" not in refused.text
    assert APP.app_secret in allowed.text  # the owner, with the token, sees the secrets
    assert token.json()["errcode"] == 0
    plain = exposed.sandbox.robot.robot_by_name("plain")
    assert plain is not None
    assert not plain.disabled


def test_each_run_has_its_own_token_and_loopback_needs_none() -> None:
    sandbox = Sandbox.from_settings()
    with (
        SandboxServer(sandbox, host="0.0.0.0") as first,
        SandboxServer(sandbox, host="0.0.0.0") as second,
    ):
        assert first.admin_token
        assert second.admin_token
        assert first.admin_token != second.admin_token
        assert first.page_url.endswith(f"/#admin={first.admin_token}")
    with SandboxServer(sandbox) as local:
        assert local.admin_token is None
        assert local.admin_headers == {}
        assert local.page_url == f"{local.url}/"
        assert httpx.get(f"{local.url}/_sandbox/apps").status_code == 200
