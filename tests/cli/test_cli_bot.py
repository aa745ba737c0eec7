"""``dingkit bot serve module:bot``: the user's bot answering signed messages over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dingkit.bot.signing import sign

SECRET = "cli-bot-secret-0001"
BOT = """
from dingkit.bot import Bot

bot = Bot()


@bot.command("/ping")
def ping(args):
    return "pong " + " ".join(args)
"""


def _serving(process: subprocess.Popen[str], log: Path) -> str:
    deadline = time.monotonic() + 30
    while not (found := re.search(r"at (http://\S+) ", log.read_text())):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return found[1]


def test_bot_serve_answers_a_signed_message_and_refuses_a_forged_one(cli, tmp_path):
    (cli.home / "opsbot.py").write_text(BOT, encoding="utf-8")
    log = tmp_path / "bot.log"
    env = cli.environ({"DINGTALK_APP_KEY": "dingclibot0001", "DINGTALK_APP_SECRET": SECRET})
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*cli.command(), "bot", "serve", "opsbot:bot", "--port", "0", "--path", "/dingtalk"],
            cwd=cli.home,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
    try:
        url = _serving(process, log)
        assert url.endswith("/dingtalk")
        body = json.dumps(
            {
                "msgtype": "text",
                "text": {"content": " /ping db-1"},
                "msgId": "msg-1",
                "conversationType": "1",
                "conversationId": "cid-cli-bot",
                "senderStaffId": "manager0001",
            }
        )
        now = str(int(time.time() * 1000))
        answer = httpx.post(
            url, content=body, headers={"timestamp": now, "sign": sign(now, SECRET)}
        )
        assert answer.json() == {"msgtype": "text", "text": {"content": "pong db-1"}}
        forged = httpx.post(url, content=body, headers={"timestamp": now, "sign": "forged"})
        assert (forged.status_code, forged.json()["error"]) == (403, "mismatch")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()
    assert SECRET not in log.read_text()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("nosuchmodule:bot", "No module named"),
        ("json:dumps", "not a dingkit Bot"),
        ("bot", "module:attribute"),
    ],
)
def test_bot_serve_names_a_bad_target(cli, target, expected):
    env = {"DINGTALK_APP_SECRET": SECRET}
    cli.run("bot", "serve", target, env=env).assert_failure(2, expected)
