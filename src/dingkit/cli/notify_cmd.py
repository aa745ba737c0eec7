"""``dingkit notify text|markdown|link|raw``: work notifications (工作通知) from the app (§12), over
``client.notifications``; ``notify progress|result|recall TASK`` follow one up.

The app's AgentId comes from ``--agent-id`` or ``DINGTALK_AGENT_ID``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._exceptions import ConfigurationError
from ._output import fail, print_json
from ._params import BodyArg, FileOpt, read_body
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
    help="Send a work notification (工作通知) to users, departments or everyone (`notify "
    "text|markdown|link|raw`); follow it up with `notify progress|result|recall TASK`.",
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
TaskArg = Annotated[int, typer.Argument(help="The task_id `dingkit notify ...` printed.")]


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


UserOpt = Annotated[
    list[str] | None, typer.Option("--user", "-u", help="A receiver's userId (repeatable).")
]
DeptOpt = Annotated[
    list[int] | None,
    typer.Option("--dept", "-d", help="Everyone in a department and below (repeatable)."),
]
AllOpt = Annotated[bool, typer.Option("--all", help="The whole organisation.")]
TitleOpt = Annotated[str, typer.Option("--title", "-t", help="The title.")]


def _send(
    message: Callable[[], WorkMessage | dict[str, Any]],
    *,
    user: list[str] | None,
    dept: list[int] | None,
    everyone: bool,
    agent_id: int | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Send what ``message`` builds (its checks are usage errors, exit 2); print the task."""
    built = run(message, as_json=as_json)
    agent = _need_agent(agent_id, as_json)
    if dry_run:
        from ..resources import notifications

        try:
            request = notifications.send(
                built,
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
            built,
            userids=user or (),
            dept_ids=dept or (),
            to_all_user=everyone,
            agent_id=agent,
        )
    if as_json:
        print_json({"task_id": task_id})
    else:
        typer.echo(f"sent: task_id {task_id}")


@app.command("text")
def text(
    body: BodyArg = None,
    file: FileOpt = None,
    user: UserOpt = None,
    dept: DeptOpt = None,
    everyone: AllOpt = False,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send a text notification; prints its task_id."""
    from ..resources.notifications import WorkText

    content = read_body(body, file, "text")
    _send(
        lambda: WorkText(content=content),
        user=user,
        dept=dept,
        everyone=everyone,
        agent_id=agent_id,
        as_json=as_json,
        dry_run=dry_run,
    )


@app.command("markdown")
def markdown(
    title: TitleOpt,
    body: BodyArg = None,
    file: FileOpt = None,
    user: UserOpt = None,
    dept: DeptOpt = None,
    everyone: AllOpt = False,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send a markdown notification; prints its task_id."""
    from ..resources.notifications import WorkMarkdown

    content = read_body(body, file, "markdown")
    _send(
        lambda: WorkMarkdown(title=title, text=content),
        user=user,
        dept=dept,
        everyone=everyone,
        agent_id=agent_id,
        as_json=as_json,
        dry_run=dry_run,
    )


@app.command("link")
def link(
    title: TitleOpt,
    url: Annotated[str, typer.Option("--url", help="Opened when the card is tapped.")],
    pic_url: Annotated[
        str, typer.Option("--pic-url", help="The card's picture (URL or media id).")
    ],
    body: BodyArg = None,
    file: FileOpt = None,
    user: UserOpt = None,
    dept: DeptOpt = None,
    everyone: AllOpt = False,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send a link card (DingTalk requires all four: title, text, URL, picture)."""
    from ..resources.notifications import WorkLink

    content = read_body(body, file, "link's text")
    _send(
        lambda: WorkLink(message_url=url, pic_url=pic_url, title=title, text=content),
        user=user,
        dept=dept,
        everyone=everyone,
        agent_id=agent_id,
        as_json=as_json,
        dry_run=dry_run,
    )


@app.command("raw")
def raw(
    body: Annotated[
        str | None,
        typer.Argument(
            metavar="[JSON]",
            help='A ready `msg` object ({"msgtype": "oa", ...}: any msgtype); \'-\' or a pipe '
            "reads standard input.",
            show_default=False,
        ),
    ] = None,
    file: FileOpt = None,
    user: UserOpt = None,
    dept: DeptOpt = None,
    everyone: AllOpt = False,
    agent_id: AgentOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send any message DingTalk takes (oa, action_card, file...), given as its JSON."""
    content = read_body(body, file, "message's JSON")

    def message() -> dict[str, Any]:
        try:
            payload = json.loads(content)
        except ValueError as exc:
            raise typer.BadParameter(f"the message is not valid JSON ({exc})") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("msgtype"), str):
            raise typer.BadParameter('expected an object {"msgtype": ..., ...}')
        return payload

    _send(
        message,
        user=user,
        dept=dept,
        everyone=everyone,
        agent_id=agent_id,
        as_json=as_json,
        dry_run=dry_run,
    )


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
