"""``dingkit bot serve module:bot``: an app robot answering messages in HTTP mode (§8.1);
``dingkit bot run module:bot``: the same bot, and event handlers, over Stream mode (§8.2).

The bot is the user's :class:`~dingkit.bot.Bot` (or a ready
:class:`~dingkit.bot.http.BotHTTPApp`), named as ``module:attribute`` like uvicorn's apps; the
app's credentials come from ``DINGTALK_APP_KEY`` / ``DINGTALK_APP_SECRET`` (the secret checks
DingTalk's signature, the key sends replies), and the base-URL variables point replies at the
sandbox or at DingTalk.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from .._exceptions import ConfigurationError, DingTalkError
from ._output import fail
from ._serving import bind, import_target, log_to_stderr, serve_forever

__all__ = ["app"]

app = typer.Typer(
    help="App robots that answer team messages (HTTP mode: `bot serve`; Stream mode: `bot run`).",
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


@app.command("run")
def run(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:BOT",
            help="A Bot, event Handlers, a CallbackReceiver or a StreamClient, e.g. app:bot.",
        ),
    ],
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            metavar="MODULE:HANDLERS",
            help="Event handlers (Handlers or a CallbackReceiver) to run beside the bot.",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the event inbox and the messages seen are kept (default: the platform's).",
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds an event being handled stays claimed: after a crash, the restarted "
            "process takes it up again this long after.",
            min=0.1,
        ),
    ] = 30.0,
) -> None:
    """Receive the robot's messages and the app's events over a WebSocket to DingTalk (no
    public URL needed): DINGTALK_APP_KEY / DINGTALK_APP_SECRET, DINGTALK_API_BASE_URL."""
    try:
        client = _stream_client(target, events, data_dir, lease)
    except DingTalkError as error:
        fail(error)
    log_to_stderr("dingkit.bot", "dingkit.callback")
    wants = " and ".join(
        what
        for what, given in (("messages", client.bot), ("events", client.events))
        if given is not None
    )
    typer.echo(f"bot {client.app_key} receiving {wants} over Stream (Ctrl-C stops it)", err=True)
    try:
        asyncio.run(_run_until_signal(client))
    except DingTalkError as error:
        fail(error)


def _stream_client(target: str, events: str | None, data_dir: Path | None, lease: float) -> Any:
    from ..bot import Bot
    from ..bot.stream import StreamClient
    from ..callback.dispatcher import Handlers
    from ..callback.receiver import CallbackReceiver

    found = import_target(target, "MODULE:BOT")
    handlers = import_target(events, "--events") if events else None
    if handlers is not None and not isinstance(handlers, Handlers | CallbackReceiver):
        raise ConfigurationError(
            f"--events {events!r} is a {type(handlers).__name__}, not Handlers or a "
            "CallbackReceiver (from dingkit.callback.dispatcher import Handlers)"
        )
    if isinstance(found, StreamClient):
        return found
    if isinstance(found, Bot):
        return StreamClient(found, events=handlers, data_dir=data_dir, lease=lease)
    if isinstance(found, Handlers | CallbackReceiver) and handlers is None:
        return StreamClient(events=found, data_dir=data_dir, lease=lease)
    raise ConfigurationError(
        f"{target!r} is a {type(found).__name__}, not a dingkit Bot, Handlers, "
        "CallbackReceiver or StreamClient (from dingkit.bot import Bot; bot = Bot())"
    )


async def _run_until_signal(client: Any) -> None:
    """The first SIGINT/SIGTERM stops the client; a plain-function handler still running
    holds the exit until it returns, so a second signal ends the process at once (its event
    waits in the inbox and runs after the next start)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    stopping: list[asyncio.Task[None]] = []

    def stop() -> None:
        for sig in signals:
            # The next one takes the OS's default action, for SIGINT too (not Python's
            # KeyboardInterrupt, which would wait for the blocked thread all the same).
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL)
        stopping.append(loop.create_task(client.stop()))

    for sig in signals:
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C interrupts instead
            loop.add_signal_handler(sig, stop)
    await client.run()
