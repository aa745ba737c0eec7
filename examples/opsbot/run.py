"""Run opsbot against a sandbox, in HTTP or Stream mode, with one command:

    python examples/opsbot/run.py [--mode http|stream] [--port 8790]

It starts a sandbox whose group 运维群 has the robot ``opsbot`` in it, and the bot itself:
in HTTP mode on a port of its own (the sandbox POSTs each message to it, signed), in Stream
mode over a Stream connection to the sandbox. Then open the chat page it prints, go to the
Bots tab, write ``/oncall`` in 运维群 as anyone and mention @opsbot.

``--check`` writes ``/oncall`` itself through the sandbox's composer API, prints the reply
and exits: what the test of this example runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from dingkit import AsyncDingTalk
from dingkit.bot.http import BotHTTPApp
from dingkit.bot.stream import StreamClient
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.bots.talk import group_conversation_id
from dingkit.sandbox.config import AppConfig, BotConfig, GroupConfig, SandboxConfig

sys.path.insert(0, str(Path(__file__).parent))
from opsbot import bot

#: The sandbox's app for the robot (its credentials are fake: nothing real is reachable).
APP = AppConfig(name="opsbot", app_key="dingopsbotdemo01", app_secret="opsbot-demo-secret-01")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(mode: str, bot_url: str | None) -> SandboxConfig:
    return SandboxConfig(
        limits=False,
        apps=(APP,),
        groups=(GroupConfig(id="ops", name="运维群"),),
        bots=(BotConfig(name="opsbot", app=APP.name, mode=mode, url=bot_url, groups=("ops",)),),
    )


async def _check(base: str) -> str:
    """Write /oncall in 运维群 mentioning the bot; the bot's reply, once it is there."""
    ops = group_conversation_id("ops")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        sent = await http.post(
            f"/_sandbox/conversations/{ops}/messages",
            json={"sender": "manager0001", "text": "/oncall", "at": ["opsbot"]},
        )
        sent.raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            said = (await http.get(f"/_sandbox/conversations/{ops}/messages")).json()["messages"]
            replies = [m for m in said if m["via"] not in ("person", "undelivered")]
            if replies:
                return str(replies[-1]["payload"]["text"]["content"])
            if any(m["via"] == "undelivered" for m in said):
                raise SystemExit(f"not delivered: {said[-1]['reason']}")
            await asyncio.sleep(0.2)
    raise SystemExit("no reply from the bot within a minute")


async def _ready(mode: str, running: Any, sandbox: Sandbox) -> None:
    """Until the bot can take a message: its HTTP server started, or its Stream connected."""
    deadline = time.monotonic() + 60
    while not (running.started if mode == "http" else sandbox.stream.connections(APP.app_key)):
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not start within a minute")
        await asyncio.sleep(0.05)


async def main(mode: str, port: int, check: bool) -> None:
    bot_port = _free_port()
    bot_url = f"http://127.0.0.1:{bot_port}/" if mode == "http" else None
    sandbox = Sandbox.from_settings(config=_config(mode, bot_url))
    server = SandboxServer(sandbox, port=port).start()
    environ = {
        "DINGTALK_APP_KEY": APP.app_key,
        "DINGTALK_APP_SECRET": APP.app_secret,
        "DINGTALK_OAPI_BASE_URL": server.url,
        "DINGTALK_API_BASE_URL": server.url,
    }
    client = AsyncDingTalk(environ=environ)
    running: Any
    if mode == "http":
        app = BotHTTPApp(bot, app_secret=APP.app_secret, client=client)
        config = uvicorn.Config(app, port=bot_port, log_level="warning", http="h11")
        running = uvicorn.Server(config)
        task = asyncio.create_task(running.serve())
    else:
        running = StreamClient(bot, client=client, data_dir=Path(".opsbot"), environ=environ)
        task = asyncio.create_task(running.run())
    print(f"sandbox: {server.url}/#bots  (write /oncall in 运维群, mentioning @opsbot)")
    print(f"opsbot runs in {mode} mode; Ctrl-C stops both")
    try:
        await _ready(mode, running, sandbox)
        if check:
            print(await _check(server.url))
        else:
            await task
    finally:
        if mode == "http":
            running.should_exit = True
        else:
            await running.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        await client.aclose()
        server.stop()
        sandbox.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["http", "stream"], default="http")
    parser.add_argument("--port", type=int, default=8790, help="the sandbox's port (0: any)")
    parser.add_argument("--check", action="store_true", help="ask /oncall once and exit")
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments.mode, arguments.port, arguments.check))
