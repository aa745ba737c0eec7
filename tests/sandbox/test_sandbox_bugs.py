"""A bug of the sandbox's own is answered as one, in the family's shape, listed at
``/_sandbox/errors``, and the connection lives on (issue 10, defect 4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dingkit._request import Endpoint
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.bugs import BUG_CODE, BUG_ERRCODE
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.gateway.pipeline import Call, Gateway

pytestmark = pytest.mark.provokes_sandbox_bug

APP = AppConfig(name="bugs", app_key="dingbugs0001", app_secret="bugs-secret-0001")
OLD, NEW = "/topapi/test/bug", "/v1.0/test/bug"


def _broken(call: Call) -> Any:
    raise KeyError("a field nobody checked")


def test_a_bug_is_answered_as_one_listed_and_the_connection_kept() -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(APP,)))
    server = SandboxServer(sandbox)
    # Two endpoints whose rule has a bug, on the served app itself.
    served = server._background.server.config.app  # the Starlette app SandboxServer made
    served.router.routes[:0] = Gateway(sandbox).routes(
        [(Endpoint("POST", OLD, scope=None), _broken), (Endpoint("POST", NEW), _broken)]
    )
    with server, httpx.Client(base_url=server.url) as http:
        token = http.get(
            "/gettoken", params={"appkey": APP.app_key, "appsecret": APP.app_secret}
        ).json()["access_token"]
        old = http.post(OLD, params={"access_token": token}, json={})
        new = http.post(NEW, headers={"x-acs-dingtalk-access-token": token}, json={})
        # The same pooled connection still answers (uvicorn used to drop it after a bug).
        healthy = http.get("/_sandbox/health")
        listed = http.get("/_sandbox/errors").json()["bugs"]
    assert (old.status_code, old.json()["errcode"]) == (200, BUG_ERRCODE)
    assert "sandbox bug: KeyError" in old.json()["errmsg"]
    assert (new.status_code, new.json()["code"]) == (500, BUG_CODE)
    assert healthy.status_code == 200
    assert [bug["path"] for bug in listed[-2:]] == [OLD, NEW]
    assert "a field nobody checked" in listed[-1]["traceback"]
