"""A sandbox whose app robot is a dingkit Bot in HTTP mode, for tests that talk to bots through
the sandbox (its composer, the chat page): the bot served by its own BotHTTPApp, the sandbox's
``[[bot]]`` pointing at it, and the bot's replies pointed back at the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from callback.conftest import Served
from dingkit.bot import Bot
from dingkit.bot.http import BotHTTPApp
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import AppConfig, BotConfig, GroupConfig, SandboxConfig


@contextmanager
def sandbox_with_bot(
    bot: Bot,
    *,
    name: str,
    app: AppConfig,
    groups: tuple[GroupConfig, ...],
    more_bots: tuple[BotConfig, ...] = (),
    **settings: Any,
) -> Iterator[tuple[Sandbox, SandboxServer]]:
    """``bot`` as the HTTP-mode robot ``name`` of ``app``, in every one of ``groups``."""
    environ: dict[str, str] = {}  # the bot's replies go to the sandbox, known once it runs
    served = Served(BotHTTPApp(bot, app_secret=app.app_secret, environ=environ, reply_within=5))
    ids = tuple(group.id for group in groups)
    http_bot = BotConfig(name=name, app=app.name, mode="http", url=served.url + "/", groups=ids)
    config = SandboxConfig(
        limits=False, apps=(app,), groups=groups, bots=(http_bot, *more_bots), **settings
    )
    sandbox = Sandbox.from_settings(config=config)
    try:
        with SandboxServer(sandbox) as server:
            environ.update(
                DINGTALK_APP_KEY=app.app_key,
                DINGTALK_APP_SECRET=app.app_secret,
                DINGTALK_OAPI_BASE_URL=server.url,
                DINGTALK_API_BASE_URL=server.url,
            )
            yield sandbox, server
    finally:
        served.stop()
        sandbox.close()
