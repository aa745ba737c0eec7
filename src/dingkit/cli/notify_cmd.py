"""``dingkit notify``: work notifications (工作通知) from the app (§12), over
``client.notifications``; ``notify progress|result|recall TASK`` follow one up.

The app's AgentId comes from ``--agent-id`` or ``DINGTALK_AGENT_ID``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exceptions import ConfigurationError
from ._output import fail, print_json
from ._params import read_json
from ._server import (
    CsvFlag,
    DryRunOpt,
    Format,
    FormatOpt,
    JsonFlag,
    JsonResult,
    YesOpt,
    choose_format,
    confirm,
    emit_one,
    open_client,
    print_dry_run,
    run,
)

if TYPE_CHECKING:
    from ..resources.notifications import WorkMessage

app = typer.Typer(
    help="Send a work notification (工作通知) to users, departments or everyone; follow it up "
    "with `notify progress|result|recall TASK`.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

AgentOpt = Annotated[
    int | None,
    typer.Option(
        "--agent-id", envvar="DINGTALK_AGENT_ID", show_envvar=True, help="The app's AgentId."
    ),
]
RESULT_FIELDS = (
    "read_user_id_list",
    "unread_user_id_list",
    "invalid_user_id_list",
    "forbidden_user_id_list",
    "failed_user_id_list",
    "invalid_dept_id_list",
    "forbidden_list",
)
TaskArg = Annotated[int, typer.Argument(help="The task_id `dingkit notify` printed.")]


def _read(value: str) -> str:
    """Text inline, or ``-`` for standard input (its final newline dropped)."""
    return sys.stdin.read().rstrip("\r\n") if value == "-" else value


def _read_file(path: Path, option: str) -> str:
    if str(path) == "-":
        return sys.stdin.read().rstrip("\r\n")
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{option}: cannot read {path}: {exc}") from None


def _message(
    text: str | None,
    markdown: str | None,
    markdown_file: Path | None,
    title: str | None,
    link: str | None,
    pic_url: str | None,
    msg_json: str | None,
) -> WorkMessage | dict[str, Any]:
    from ..resources.notifications import WorkLink, WorkMarkdown, WorkText

    kinds = [
        name
        for name, given in (
            ("--link", link is not None),
            ("--markdown/--markdown-file", markdown is not None or markdown_file is not None),
            ("--msg-json", msg_json is not None),
        )
        if given
    ]
    if len(kinds) > 1:
        raise typer.BadParameter(f"choose one kind of message: {' or '.join(kinds)}")
    if msg_json is not None:
        payload = read_json(msg_json, "--msg-json")
        if not isinstance(payload, dict):
            raise typer.BadParameter('--msg-json: expected an object {"msgtype": ..., ...}')
        return payload
    if link is not None:
        missing = [
            name
            for name, v in (("--title", title), ("--text", text), ("--pic-url", pic_url))
            if not v
        ]
        if missing:
            raise typer.BadParameter(
                f"a link card needs {', '.join(missing)} too (DingTalk requires all four)"
            )
        return WorkLink(
            message_url=link, pic_url=pic_url or "", title=title or "", text=_read(text or "")
        )
    if markdown is not None or markdown_file is not None:
        if markdown is not None and markdown_file is not None:
            raise typer.BadParameter("give --markdown or --markdown-file, not both")
        if text is not None:
            raise typer.BadParameter("--text is for text and link messages; use --markdown")
        if markdown is not None:
            body = _read(markdown)
        else:
            assert markdown_file is not None
            body = _read_file(markdown_file, "--markdown-file")
        return WorkMarkdown(title=title or "", text=body)
    if text is None:
        raise typer.BadParameter(
            "give the message: --text TEXT, --markdown-file FILE --title T, "
            "--link URL --title T --text T --pic-url P, or --msg-json FILE"
        )
    return WorkText(content=_read(text))


def _need_agent(agent_id: int | None, as_json: bool) -> int:
    if agent_id is None:
        fail(
            ConfigurationError(
                "no agent id: pass --agent-id or set DINGTALK_AGENT_ID (the app's AgentId, "
                "from the developer console)"
            ),
            as_json=as_json,
        )
    return agent_id


@app.callback(invoke_without_command=True)
def notify(
    ctx: typer.Context,
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="A receiver's userId (repeatable).")
    ] = None,
    dept: Annotated[
        list[int] | None,
        typer.Option("--dept", "-d", help="Everyone in a department and below (repeatable)."),
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="The whole organisation.")] = False,
    text: Annotated[
        str | None,
        typer.Option("--text", help="A text message ('-': standard input), or a link's text."),
    ] = None,
    markdown: Annotated[
        str | None, typer.Option("--markdown", help="A markdown message ('-': standard input).")
    ] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown-file", help="A markdown message from a file.")
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", "-t", help="Title of a markdown or link message.")
    ] = None,
    link: Annotated[
        str | None, typer.Option("--link", metavar="URL", help="A link card opening URL.")
    ] = None,
    pic_url: Annotated[
        str | None, typer.Option("--pic-url", help="The link card's picture (URL or media id).")
    ] = None,
    msg_json: Annotated[
        str | None,
        typer.Option(
            "--msg-json", metavar="FILE|-", help="A ready `msg` object (any msgtype, e.g. oa)."
        ),
    ] = None,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send a work notification; prints its task_id."""
    if ctx.invoked_subcommand is not None:
        return
    # The message classes check what DingTalk would refuse (a missing title...): exit 2.
    message = run(
        lambda: _message(text, markdown, markdown_file, title, link, pic_url, msg_json),
        as_json=as_json,
    )
    agent = _need_agent(agent_id, as_json)
    if dry_run:
        from ..resources import notifications

        try:
            request = notifications.send(
                message,
                agent_id=agent,
                userids=user or (),
                dept_ids=dept or (),
                to_all_user=everyone,
            )
        except ValueError as error:  # no receivers, too many: what DingTalk would refuse
            fail(ConfigurationError(str(error)), as_json=as_json)
        print_dry_run(request, as_json=as_json)
        return
    with open_client(as_json=as_json) as client:
        task_id = client.notifications.send(
            message,
            userids=user or (),
            dept_ids=dept or (),
            to_all_user=everyone,
            agent_id=agent_id,
        )
    if as_json:
        print_json({"task_id": task_id})
    else:
        typer.echo(f"sent: task_id {task_id}")


@app.command("progress")
def progress(
    task_id: TaskArg,
    agent_id: AgentOpt = None,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """How far a send has got (status 0 not started, 1 running, 2 done)."""
    fmt = choose_format(output, as_json, as_csv)
    _need_agent(agent_id, fmt is Format.json)
    with open_client(as_json=fmt is Format.json) as client:
        found = client.notifications.progress(task_id, agent_id=agent_id)
    emit_one(found, fmt, fields=("progress_in_percent", "status"))


@app.command("result")
def result(
    task_id: TaskArg,
    agent_id: AgentOpt = None,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Who got, read or missed the message (within 24 h of the send)."""
    fmt = choose_format(output, as_json, as_csv)
    _need_agent(agent_id, fmt is Format.json)
    with open_client(as_json=fmt is Format.json) as client:
        found = client.notifications.result(task_id, agent_id=agent_id)
    emit_one(found, fmt, fields=RESULT_FIELDS)


@app.command("recall")
def recall(
    task_id: TaskArg,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Take a message back (within 24 h of the send; asks first on a terminal)."""
    agent = _need_agent(agent_id, as_json)
    if dry_run:
        from ..resources import notifications

        print_dry_run(notifications.recall(task_id, agent_id=agent), as_json=as_json)
        return
    confirm(f"Recall task {task_id} from everyone who got it?", yes=yes)
    with open_client(as_json=as_json) as client:
        client.notifications.recall(task_id, agent_id=agent_id)
    if as_json:
        print_json({"ok": True, "task_id": task_id, "action": "recalled"})
    else:
        typer.echo(f"recalled task {task_id}")
