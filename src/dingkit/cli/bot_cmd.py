"""``dingkit bot serve module:bot``: an app robot answering messages in HTTP mode (§8.1).

The bot is the user's :class:`~dingkit.bot.Bot` (or a ready
:class:`~dingkit.bot.http.BotHTTPApp`), named as ``module:attribute`` like uvicorn's apps; the
app's credentials come from ``DINGTALK_APP_KEY`` / ``DINGTALK_APP_SECRET`` (the secret checks
DingTalk's signature, the key sends replies), and the base-URL variables point replies at the
sandbox or at DingTalk.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .._exceptions import ConfigurationError, DingTalkError
from ._output import fail
from ._serving import bind, import_target, serve_forever

__all__ = ["app"]

app = typer.Typer(
    help="App robots that answer team messages (HTTP mode: `bot serve`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("serve")
def serve(
    target: Annotated[str, typer.Argument(metavar="MODULE:BOT", help="The bot, e.g. app:bot.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8000,
    path: Annotated[str, typer.Option(help="The path DingTalk posts messages to.")] = "/",
    reply_within: Annotated[
        float,
        typer.Option(
            help="Seconds a reply may take to go back in the HTTP response; later replies "
            "go through the session webhook.",
            min=0.01,
            max=60,
        ),
    ] = 3.0,
) -> None:
    """Answer the robot's messages DingTalk posts to http://HOST:PORT/PATH."""
    from ..bot import Bot
    from ..bot.http import BotHTTPApp

    try:
        found = import_target(target, "MODULE:BOT")
        if isinstance(found, BotHTTPApp):
            bot_app = found
        elif isinstance(found, Bot):
            bot_app = BotHTTPApp(found, path=path, reply_within=reply_within)
        else:
            raise ConfigurationError(
                f"{target!r} is a {type(found).__name__}, not a dingkit Bot (from dingkit.bot "
                "import Bot; bot = Bot())"
            )
        listener = bind(host, port)
    except DingTalkError as error:
        fail(error)
    where = f"http://{host}:{listener.getsockname()[1]}{bot_app.path}"
    typer.echo(f"bot answering messages at {where} (Ctrl-C stops it)", err=True)
    serve_forever(bot_app, listener)
