"""An app without a permission, against the sandbox: the SDK raises PermissionDeniedError
naming the missing permission point, in both families and both clients, and the CLI says so
in one line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dingkit import AsyncDingTalk, DingTalk, PermissionDeniedError
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig
from reliability import secrets_scan

LIMITED = AppConfig(
    name="limited",
    app_key="dinglimited0001",
    app_secret="limited-secret-0001",
    scopes=("qyapi_get_member",),
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    sandbox = Sandbox.from_settings(config=SandboxConfig(apps=(LIMITED,), limits=False))
    with SandboxServer(sandbox) as running:
        yield running


def _settings(server: SandboxServer) -> dict[str, str]:
    return {"oapi_base": server.url, "api_base": server.url}


def test_the_sync_client_names_the_missing_permission(server: SandboxServer) -> None:
    with DingTalk(LIMITED.app_key, LIMITED.app_secret, **_settings(server)) as client:
        assert client.contacts.user("manager0001").userid == "manager0001"
        with pytest.raises(PermissionDeniedError) as old:
            client.contacts.department(1)
        with pytest.raises(PermissionDeniedError) as new:
            client.approval.get("any-instance")
    assert (old.value.errcode, old.value.scope) == (60011, "qyapi_get_department_list")
    assert (new.value.http_status, new.value.scope) == (403, "Workflow.Instance.Read")
    assert "the app lacks permission Workflow.Instance.Read" in str(new.value)


@pytest.mark.anyio
async def test_the_async_client_names_the_missing_permission(server: SandboxServer) -> None:
    start = dt.datetime(2026, 12, 7, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    async with AsyncDingTalk(LIMITED.app_key, LIMITED.app_secret, **_settings(server)) as client:
        # The userId resolves to a unionId first (qyapi_get_member: granted), then the
        # create needs Calendar.Event.Write.
        with pytest.raises(PermissionDeniedError) as refused:
            await client.calendar.create(
                "manager0001", "Review", start, start + dt.timedelta(hours=1)
            )
    assert refused.value.scope == "Calendar.Event.Write"


def test_the_cli_says_which_permission_to_grant(server: SandboxServer, tmp_path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "DINGTALK_APP_KEY": LIMITED.app_key,
        "DINGTALK_APP_SECRET": LIMITED.app_secret,
        "DINGTALK_OAPI_BASE_URL": server.url,
        "DINGTALK_API_BASE_URL": server.url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "dingkit", "contacts", "dept", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    secrets_scan.collect(["contacts", "dept"], done.stdout, done.stderr)
    assert done.returncode == 1, done
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert "the app lacks permission qyapi_get_department_list" in lines[0]
    assert "developer console" in lines[0]
    assert "Traceback" not in done.stderr
    assert LIMITED.app_secret not in done.stderr + done.stdout
