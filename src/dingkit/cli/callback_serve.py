"""``dingkit callback serve``: the receiver under uvicorn, and what it does with each event.

``--exec`` commands read, and the default printer writes, one JSON object per event, the same
whether it was pushed or fetched by ``pull-failed`` (see :func:`event_json`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exceptions import ConfigurationError, DingTalkError
from ._inbox import DataDirOpt, InboxNameOpt, RedisOpt, RetentionOpt, open_inbox
from ._output import fail
from ._serving import bind, import_target, log_to_stderr, serve_forever

if TYPE_CHECKING:
    from ..callback.dispatcher import Handlers
    from ..callback.events import CallbackEvent

__all__ = ["EXEC_TIMEOUT", "build_handlers", "event_json", "serve"]

#: A command given to --exec that runs longer than this has failed (and is retried).
EXEC_TIMEOUT = 300.0


def serve(
    token: Annotated[
        str | None,
        typer.Option(envvar="DINGTALK_CALLBACK_TOKEN", help="The subscription's token."),
    ] = None,
    aes_key: Annotated[
        str | None,
        typer.Option(
            "--aes-key", envvar="DINGTALK_CALLBACK_AES_KEY", help="Its 43-character aes_key."
        ),
    ] = None,
    receiver_id: Annotated[
        str | None,
        typer.Option(
            "--receiver-id",
            help="The appKey (console subscription) or corpId (API registration); default: "
            "DINGTALK_APP_KEY and DINGTALK_CORP_ID, whichever are set.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free one).", min=0, max=65535)] = 8766,
    path: Annotated[str, typer.Option(help="Where pushes are POSTed.")] = "/",
    data_dir: DataDirOpt = None,
    redis_url: RedisOpt = None,
    inbox_name: InboxNameOpt = "default",
    exec_command: Annotated[
        str | None,
        typer.Option(
            "--exec", help="Run COMMAND per event, the event's JSON on its standard input."
        ),
    ] = None,
    handler: Annotated[
        list[str] | None,
        typer.Option("--handler", help="module:function to call with each event (repeatable)."),
    ] = None,
    attempts: Annotated[
        int, typer.Option(help="Tries per event before the dead-letter list.", min=1, max=100)
    ] = 5,
    lease: Annotated[
        float,
        typer.Option(
            help="Seconds an event being handled stays claimed without renewal: after a "
            "crash, another receiver (or this one, restarted) takes it over this long after.",
            min=0.1,
        ),
    ] = 30.0,
    retention_days: RetentionOpt = 7.0,
) -> None:
    """Receive DingTalk's encrypted event pushes: verify, decrypt, commit to the inbox, reply
    `success`; then handle each event from the inbox, with retries."""
    try:
        from .._retry import RetryPolicy
        from ..callback.receiver import CallbackReceiver

        inbox = open_inbox(data_dir, redis_url, inbox_name)
        receiver = CallbackReceiver(
            token,
            aes_key,
            receiver_id,
            inbox=inbox,
            path=path,
            handler_retry=RetryPolicy(max_attempts=attempts, initial_delay=1.0, max_delay=300.0),
            lease=lease,
            retention=retention_days * 86400,
        )
        receiver.handlers = build_handlers(exec_command, handler)
        listener = bind(host, port)
    except DingTalkError as error:
        fail(error)
    _log_to_stderr()
    url = f"http://{host}:{listener.getsockname()[1]}{receiver.path}"
    where = redis_url or str(getattr(inbox, "path", "the inbox"))
    typer.echo(f"receiving DingTalk events at {url}  (inbox: {where})", err=True)
    warning = getattr(inbox, "durability_warning", lambda: None)()
    if warning is not None:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"metrics: http://{host}:{listener.getsockname()[1]}/metrics", err=True)
    try:
        serve_forever(receiver, listener)
    finally:
        stop_exec_handlers()


def build_handlers(exec_command: str | None, targets: list[str] | None) -> Handlers:
    """What --exec and --handler ask for; printing each event when neither is given."""
    from ..callback.dispatcher import Handlers

    handlers = Handlers()
    for target in targets or ():
        function = import_target(target, "--handler")
        if not callable(function):
            raise ConfigurationError(f"--handler {target!r} is not a function")
        handlers.add_every(function)
    if exec_command:
        handlers.add_every(_exec_handler(exec_command))
    if not targets and not exec_command:
        handlers.add_every(_print_event)
    return handlers


def _log_to_stderr() -> None:
    """Refused pushes and failing handlers are what an operator of a receiver must see (the
    messages carry no token, key or payload); ``--verbose`` already shows everything."""
    if not logging.getLogger("dingkit").handlers[1:]:
        log_to_stderr("dingkit.callback")


def event_json(event: CallbackEvent) -> dict[str, Any]:
    """What ``--exec`` commands get on standard input: the same keys for every event.

    ``event_type``, ``event_id`` (``null`` without one: classic pushes, failed-list items),
    ``event_time`` (ms) and ``corp_id``, whichever format the event came in; ``source``,
    ``"push"`` or ``"failed-list"``; ``event``, the plaintext as pushed (for a failed-list
    event, as its push would have carried it: see :attr:`.CallbackEvent.raw`); and
    ``failed_item``, the failed-list item as DingTalk listed it, ``null`` for a push.
    """
    failed = event.failed_item
    return {
        "event_type": event.event_type,
        "event_id": event.event_id,
        "event_time": event.event_time,
        "corp_id": event.corp_id,
        "source": "push" if failed is None else "failed-list",
        "event": event.raw,
        "failed_item": failed,
    }


def _print_event(event: CallbackEvent) -> None:
    sys.stdout.write(json.dumps(event_json(event), ensure_ascii=False) + "\n")
    sys.stdout.flush()


#: Process groups of --exec handlers still running (their leaders' pids).
_RUNNING: set[int] = set()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _die_with_the_receiver() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` that has the kernel SIGKILL the handler when the receiver
    dies, SIGKILL included (which no clean-up code of ours survives to handle); elsewhere
    ``None``. Only the handler itself is covered, not processes it starts."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - every Linux libc has prctl
        return None
    receiver = os.getpid()
    pr_set_pdeathsig = 1

    def arm() -> None:  # runs in the child between fork and exec: no locks, no logging
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != receiver:  # it died before the line above: go with it
            os._exit(1)

    return arm


def stop_exec_handlers() -> int:
    """Kill every --exec handler still running, with its children; how many there were.
    Called when the receiver stops: their events stay in the inbox and run again."""
    running = list(_RUNNING)
    for pid in running:
        _kill_group(pid)
    return len(running)


def _exec_handler(command: str) -> Callable[[CallbackEvent], Any]:
    argv = shlex.split(command)
    if not argv:
        raise ConfigurationError("--exec needs a command")
    arm = _die_with_the_receiver()

    async def run_command(event: CallbackEvent) -> None:
        import asyncio

        # The event is written whole before the process starts, so it never reads half of
        # one (a receiver killed while writing to a pipe left it an empty or cut stdin).
        with tempfile.TemporaryFile() as stdin:
            stdin.write(json.dumps(event_json(event), ensure_ascii=False).encode())
            stdin.flush()
            stdin.seek(0)
            # A process group of its own: stopping the receiver stops it and its children;
            # a receiver killed outright takes the handler with it (issue 10, defect 8).
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=None,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=arm,
            )
        _RUNNING.add(process.pid)
        try:
            _, err = await asyncio.wait_for(process.communicate(), EXEC_TIMEOUT)
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            raise RuntimeError(f"{argv[0]} ran longer than {EXEC_TIMEOUT:.0f} s") from None
        finally:
            _RUNNING.discard(process.pid)
        if process.returncode:
            detail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}: {detail[0]}")

    run_command.__name__ = f"exec:{argv[0]}"
    return run_command
