"""examples/opsbot answers its four commands against the sandbox (HTTP mode, signed as
DingTalk signs; Stream mode runs the same bot)."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from dingkit import NO_RETRY, AsyncDingTalk
from dingkit.bot.http import BotHTTPApp
from dingkit.bot.signing import sign
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, SandboxConfig

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "opsbot" / "opsbot.py"
APP = AppConfig(name="opsbot", app_key="dingopsbot0001", app_secret="opsbot-secret-0001")
BOSS = "manager0001"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("opsbot_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def ask(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("ONCALL_DEPT", "1")
    sandbox = Sandbox.from_settings(config=SandboxConfig(limits=False, apps=(APP,), seed=7))
    server = SandboxServer(sandbox).start()
    client = AsyncDingTalk(APP.app_key, APP.app_secret, oapi_base=server.url, api_base=server.url,
                           retry=NO_RETRY, environ={})  # fmt: skip
    app = BotHTTPApp(_load().bot, app_secret=APP.app_secret, client=client, reply_within=30)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bot", timeout=60
        ) as http:

            async def send(text: str) -> dict[str, Any]:
                now = str(int(time.time() * 1000))
                body = {"msgtype": "text", "text": {"content": f" {text}"}, "msgId": text,
                        "conversationType": "2", "conversationId": "cid-ops",
                        "senderStaffId": BOSS, "robotCode": APP.app_key}  # fmt: skip
                headers = {"timestamp": now, "sign": sign(now, APP.app_secret)}
                answer = await http.post("/", content=json.dumps(body), headers=headers)
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            send.sandbox = sandbox  # type: ignore[attr-defined]
            send.client = client  # type: ignore[attr-defined]
            yield send
        await app.aclose()
    finally:
        server.stop()
        sandbox.close()


async def test_oncall_names_the_leaders(ask: Any) -> None:
    boss = ask.sandbox.org.user(BOSS)
    answer = await ask("/oncall")
    assert (
        answer["text"]["content"]
        == f"On call for {ask.sandbox.org.root.name}: {boss.name} ({boss.mobile})"
    )


async def test_leave_lists_a_person_s_requests(ask: Any) -> None:
    boss = ask.sandbox.org.user(BOSS)
    assert (await ask(f"/leave {boss.name}"))["text"]["content"].endswith(
        "no leave request in the last 30 days"
    )
    form = {
        "请假类型": "年假",
        "请假时间": ("2026-12-10", "2026-12-11"),
        "请假天数": 2,
        "请假事由": "探亲",
    }
    await ask.client.approval.create("PROC-LEAVE", BOSS, form)
    answer = (await ask(f"/leave {boss.name}"))["text"]["content"]
    assert answer.startswith(f"{boss.name}'s leave requests:")
    assert "审批中" in answer
    assert (await ask("/leave 没有这个人"))["text"][
        "content"
    ] == "nobody called 没有这个人 in the organisation"


async def test_attendance_me_reads_today(ask: Any) -> None:
    answer = (await ask("/attendance me"))["text"]["content"]
    assert answer.startswith(("Your attendance on ", "no attendance for you on "))
    assert (await ask("/attendance you"))["text"]["content"] == "usage: /attendance me"


async def test_deploy_asks_with_a_card_and_anything_else_gets_help(ask: Any) -> None:
    card = await ask("/deploy api-gateway")
    assert card["msgtype"] == "actionCard"
    assert [b["title"] for b in card["actionCard"]["btns"]] == ["Confirm", "Cancel"]
    assert card["actionCard"]["btnOrientation"] == "1"
    assert "api-gateway" in card["actionCard"]["text"]
    assert (await ask("hello?"))["text"]["content"].startswith("I answer /oncall")


@pytest.mark.parametrize("mode", ["http", "stream"])
def test_the_readme_s_one_command_runs_the_bot_in_either_mode(mode: str, tmp_path: Path) -> None:
    """examples/opsbot/README.md: `python examples/opsbot/run.py --mode MODE` (here with
    --check, which asks /oncall through the sandbox's composer and prints the answer)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(EXAMPLE.parent / "run.py"), "--mode", mode, "--port", "0", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "On call for " in done.stdout
    assert "Traceback" not in done.stderr
