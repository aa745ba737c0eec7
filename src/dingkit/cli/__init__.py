"""The ``dingkit`` command line: thin over the SDK.

Heavy stacks (the HTTP client, the sandbox's server) are imported inside the commands that
need them, so ``dingkit --help`` and ``dingkit send ... --dry-run`` start fast.
"""

from __future__ import annotations

import logging
import sys

import typer

from .. import __version__
from . import (
    approval_cmd,
    attendance_cmd,
    bot_cmd,
    calendar_cmd,
    callback_cmd,
    contacts_cmd,
    notify_cmd,
    relay_cmd,
    robot_cmd,
    send,
)
from .api_cmd import api
from .demo import demo
from .errors_cmd import errors
from .sandbox_cmd import sandbox
from .token_cmd import token

__all__ = ["app", "main"]

app = typer.Typer(
    name="dingkit",
    help="The DingTalk toolkit: send robot messages, call the server APIs (contacts, approval, "
    "calendar, attendance, work notifications), explain error codes, run a local sandbox.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(send.app, name="send")
# Negative errcodes such as -1 are codes, not options.
app.command("errors", context_settings={"ignore_unknown_options": True})(errors)
app.command("sandbox")(sandbox)
app.command("demo")(demo)
app.command("token")(token)
app.command("api")(api)
app.add_typer(contacts_cmd.app, name="contacts")
app.add_typer(approval_cmd.app, name="approval")
app.add_typer(calendar_cmd.app, name="calendar")
app.add_typer(attendance_cmd.app, name="attendance")
app.add_typer(notify_cmd.app, name="notify")
app.add_typer(callback_cmd.app, name="callback")
app.add_typer(robot_cmd.app, name="robot")
app.add_typer(bot_cmd.app, name="bot")
app.add_typer(relay_cmd.app, name="relay")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dingkit {__version__}")
        raise typer.Exit()


def _configure_logging(verbose: bool) -> None:
    """Waits for a rate-limit slot are always shown (a send may pause for up to a minute);
    everything else, retries included, only with ``--verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dingkit: %(message)s"))
    logger = logging.getLogger("dingkit" if verbose else "dingkit.robot.ratelimit")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log retries and requests (secrets stay redacted)."
    ),
) -> None:
    """The DingTalk toolkit."""
    _configure_logging(verbose)


def main() -> None:
    app()
