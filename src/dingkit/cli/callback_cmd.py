"""``dingkit callback``: receive encrypted event pushes, look at the inbox, replay, and manage
the organisation's subscription.

    dingkit callback serve --token T --aes-key K --receiver-id dingxxx [--port 8766]
    dingkit callback events [--failed]
    dingkit callback replay ID
    dingkit callback pull-failed
    dingkit callback keygen [--json]      # a fresh token and aes_key

``serve``, ``events``, ``replay`` and ``pull-failed`` share the inbox: a SQLite file in
``--data-dir`` (default: the platform's data dir), or Redis with ``--redis URL``. What
``serve`` does with each event: ``--exec CMD`` runs a command with the event's JSON on its
standard input (a non-zero exit is a failure, retried), ``--handler module:function`` calls
a Python function; without either, each event is printed as one line.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from .._exceptions import ConfigurationError, DingTalkError
from ._inbox import DataDirOpt, InboxNameOpt, RedisOpt, RetentionOpt, open_inbox
from ._output import fail, print_json
from ._server import JsonResult
from .callback_serve import EXEC_TIMEOUT, build_handlers, serve
from .callback_subscription import delete, get, keygen, register, update

if TYPE_CHECKING:
    from ..callback.dispatcher import Handlers
    from ..callback.inbox import Inbox

__all__ = ["app"]

app = typer.Typer(
    help="Receive DingTalk's encrypted event pushes (HTTP callbacks) and manage them.",
    no_args_is_help=True,
)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@app.command("events")
def events(
    failed: Annotated[bool, typer.Option("--failed", help="Only the dead-letter list.")] = False,
    state: Annotated[
        str | None, typer.Option("--state", help="pending, running, done or failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    data_dir: DataDirOpt = None,
    redis_url: RedisOpt = None,
    inbox_name: InboxNameOpt = "default",
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Remove done events and deduplication keys older than --retention-days "
            "(what a running receiver does hourly), then list.",
        ),
    ] = False,
    retention_days: RetentionOpt = 7.0,
    as_json: JsonResult = False,
) -> None:
    """List the inbox, newest first (ids for `dingkit callback replay`)."""
    if failed and state not in (None, "failed"):
        raise typer.BadParameter("--failed lists failed events; drop --state")
    wanted = "failed" if failed else state
    if wanted not in (None, "pending", "running", "done", "failed"):
        raise typer.BadParameter(f"--state {wanted!r}: use pending, running, done or failed")
    try:
        inbox = open_inbox(data_dir, redis_url, inbox_name)
        if prune:
            pruned = inbox.prune(time.time() - retention_days * 86400)
            typer.echo(
                f"pruned {pruned.events} done events and {pruned.keys} deduplication keys "
                f"older than {retention_days:g} days",
                err=as_json,
            )
        entries = inbox.entries(wanted, limit)  # type: ignore[arg-type]
    except DingTalkError as error:
        fail(error, as_json=as_json)
    rows = [
        {
            "id": entry.id,
            "event_type": entry.event_type,
            "state": entry.state,
            "attempts": entry.attempts,
            "source": entry.source,
            "received_at": _when(entry.received_at),
            "last_error": entry.last_error,
        }
        for entry in entries
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no events" + (f" in state {wanted}" if wanted else ""))
        return
    from ._server import Format, emit

    emit(rows, Format.table)


@app.command("replay")
def replay(
    entry_id: Annotated[str, typer.Argument(help="The event's id (dingkit callback events).")],
    exec_command: Annotated[
        str | None,
        typer.Option("--exec", help="Handle it here and now with COMMAND (as serve --exec)."),
    ] = None,
    handler: Annotated[
        list[str] | None,
        typer.Option("--handler", help="Handle it here and now with module:function."),
    ] = None,
    data_dir: DataDirOpt = None,
    redis_url: RedisOpt = None,
    inbox_name: InboxNameOpt = "default",
    as_json: JsonResult = False,
) -> None:
    """Run an event's handlers again: a failed (or done) event becomes pending and the
    running `dingkit callback serve` handles it; with --exec or --handler it (and anything
    else pending) is handled here, once, before the command returns."""
    try:
        inbox = open_inbox(data_dir, redis_url, inbox_name)
        entry = inbox.get(entry_id)
        if entry is None:
            raise ConfigurationError(
                f"no event {entry_id!r} in the inbox: see `dingkit callback events`"
            )
        handlers = build_handlers(exec_command, handler) if exec_command or handler else None
        if not inbox.replay(entry_id):
            raise ConfigurationError(
                f"event {entry_id} is {entry.state}: only failed or done events are replayed"
            )
        state = "pending" if handlers is None else _handle_now(inbox, handlers, entry_id)
    except DingTalkError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({"id": entry_id, "state": state})
    elif handlers is None:
        typer.echo(f"event {entry_id} ({entry.event_type}) is pending again")
    else:
        typer.echo(f"event {entry_id} ({entry.event_type}) handled here: {state}")
    if state == "failed":
        raise typer.Exit(1)


def _handle_now(inbox: Inbox, handlers: Handlers, entry_id: str) -> str:
    import asyncio

    from .._retry import RetryPolicy
    from ..callback.dispatcher import Dispatcher

    once = RetryPolicy(max_attempts=1)
    dispatcher = Dispatcher(inbox, handlers, retry=once, concurrency=1)
    try:
        asyncio.run(dispatcher.drain(within=EXEC_TIMEOUT + 10))
    except TimeoutError:
        raise ConfigurationError("the handlers did not finish in time") from None
    entry = inbox.get(entry_id)
    return entry.state if entry is not None else "gone"


@app.command("pull-failed")
def pull_failed(
    data_dir: DataDirOpt = None,
    redis_url: RedisOpt = None,
    inbox_name: InboxNameOpt = "default",
    as_json: JsonResult = False,
) -> None:
    """Fetch the events DingTalk could not deliver (get_call_back_failed_result) into the
    inbox, skipping those that already arrived. DingTalk forgets each batch it hands out,
    so every batch is committed before the next is asked for."""
    import json

    from ._server import open_client

    try:
        inbox = open_inbox(data_dir, redis_url, inbox_name)
    except DingTalkError as error:
        fail(error, as_json=as_json)
    fetched = added = 0
    with open_client(as_json=as_json) as client:
        while True:
            batch = client.callbacks.failed_events()
            for event, item in zip(batch.events, batch.items, strict=True):
                fetched += 1
                payload = json.dumps(item, ensure_ascii=False).encode()
                source = "failed-list"
                if inbox.add(event.event_type, payload, event.dedup_keys, source=source):
                    added += 1
            if not batch.has_more or not batch.events:
                break
    result = {"fetched": fetched, "added": added, "duplicates": fetched - added}
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"fetched {fetched} failed events: {added} added to the inbox, "
            f"{fetched - added} had already arrived"
        )


app.command("serve")(serve)
app.command("keygen")(keygen)
app.command("register")(register)
app.command("update")(update)
app.command("get")(get)
app.command("delete")(delete)
