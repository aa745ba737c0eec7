"""``dingkit approval``: templates and their forms, and instances started, read, listed,
approved, refused and withdrawn (§3), over ``client.approval``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from ._approval_form import encode_ranges, merge_form, print_schema, read_form
from ._output import print_json
from ._params import parse_date
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
    emit,
    emit_one,
    open_client,
    print_dry_run,
    progress,
)

if TYPE_CHECKING:
    from .._client import DingTalk
    from ..resources import approval
    from ..resources.approval import ApprovalInstance

app = typer.Typer(
    help="Approval (OA 审批): templates and their forms, and instances started, read, listed "
    "and acted on.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Status(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


InstanceArg = Annotated[str, typer.Argument(help="The approval instance id.")]
RemarkOpt = Annotated[str | None, typer.Option("--remark", help="A comment (≤ 1024 chars).")]

SUMMARY_FIELDS = (
    "processInstanceId",
    "title",
    "businessId",
    "status",
    "result",
    "originatorUserId",
    "originatorDeptId",
    "createTime",
    "finishTime",
)
LIST_COLUMNS = ("processInstanceId", "title", "status", "result", "originatorUserId", "createTime")
TASK_COLUMNS = ("taskId", "userId", "status", "result", "createTime", "finishTime")


@app.command("templates")
def templates(
    user: Annotated[str, typer.Option("--user", "-u", help="The userId who would start them.")],
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List the process templates a user can start."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        emit(client.approval.templates(user), fmt, columns=("process_code", "name"))


@app.command("template")
def template(
    process: Annotated[str, typer.Argument(help="Template code (PROC-...).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="DingTalk's answer, with its own key names.")
    ] = False,
) -> None:
    """Show a template's form: each field's label, type, required flag, options and how its
    value is written (a date range: --form 'Label=START..END')."""
    with open_client(as_json=as_json) as client:
        schema = client.approval.template(process)
    if as_json:
        print_json(schema.model_dump(mode="json", by_alias=True, exclude_unset=True))
    else:
        print_schema(schema)


@app.command("create")
def create(
    process: Annotated[str, typer.Option("--process", "-p", help="Template code (PROC-...).")],
    user: Annotated[str, typer.Option("--user", "-u", help="The initiator's userId.")],
    form: Annotated[
        list[str] | None,
        typer.Option(
            "--form",
            help="A form field as 'Label=value' (repeatable). A date range takes "
            "'Label=2026-12-10..2026-12-11'; multi-selects and contacts a JSON array: "
            '\'Colours=["red","blue"]\'. `dingkit approval template CODE` lists the fields.',
        ),
    ] = None,
    form_json: Annotated[
        str | None,
        typer.Option(
            "--form-json",
            metavar="FILE|-",
            help='The form as JSON ({"Label": value} or [{"name", "value"}]); --form adds to it.',
        ),
    ] = None,
    dept: Annotated[
        int, typer.Option("--dept", "-d", help="The initiator's department (-1: the root).")
    ] = -1,
    approver: Annotated[
        list[str] | None,
        typer.Option("--approver", help="Replace the template's flow: approvers in order."),
    ] = None,
    cc: Annotated[
        list[str] | None, typer.Option("--cc", help="Cc userId (with --approver).")
    ] = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Start an approval; prints the new instance id."""
    base, given = read_form(form, form_json)
    if not base and not given:
        raise typer.BadParameter("give the form with --form 'Label=value' or --form-json FILE")
    with open_client(as_json=as_json) as client:
        values = merge_form(base, encode_ranges(client, process, given))
        if dry_run:  # the template was read (for date ranges); nothing is started
            from ..resources import approval

            request = approval.create(
                process, user, values, dept_id=dept, approvers=approver, cc_list=cc
            )
            print_dry_run(request, as_json=as_json)
            return
        instance_id = client.approval.create(
            process, user, values, dept_id=dept, approvers=approver, cc_list=cc
        )
    if as_json:
        print_json({"instance_id": instance_id})
    else:
        typer.echo(instance_id)


def _show(instance: ApprovalInstance, fmt: Format) -> None:
    if fmt is not Format.table:
        emit_one(instance, fmt)
        return
    emit_one(instance, fmt, fields=SUMMARY_FIELDS)
    if instance.form_component_values:
        emit(instance.form_component_values, fmt, columns=("name", "value"))
    if instance.tasks:
        emit(instance.tasks, fmt, columns=TASK_COLUMNS)


@app.command("get")
def get(
    instance_id: InstanceArg,
    old: Annotated[
        bool, typer.Option("--old", help="Read it through the old API (topapi).")
    ] = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Show an instance: its state, its form and its tasks."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        api = client.approval
        instance = api.get_old(instance_id) if old else api.get(instance_id)
    _show(instance, fmt)


def _details(client: DingTalk, ids: Iterator[str]) -> Iterator[ApprovalInstance]:
    for instance_id in ids:
        yield client.approval.get(instance_id)


@app.command("list")
def list_(
    process: Annotated[str, typer.Option("--process", "-p", help="Template code (PROC-...).")],
    date_from: Annotated[
        dt.date,
        typer.Option("--from", parser=parse_date, metavar="DATE", help="Started on or after."),
    ],
    date_to: Annotated[
        dt.date | None,
        typer.Option(
            "--to", parser=parse_date, metavar="DATE", help="Started on or before (default: now)."
        ),
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", "-u", help="Initiator userId (≤ 10).")
    ] = None,
    status: Annotated[
        list[Status] | None, typer.Option("--status", "-s", case_sensitive=False)
    ] = None,
    details: Annotated[
        bool, typer.Option("--details", help="Fetch each instance (one call per instance).")
    ] = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List a template's instances started in a date range (any span: split for you)."""
    if user and len(user) > 10:
        raise typer.BadParameter(f"{len(user)} --user values: DingTalk takes at most 10")
    # Whole days: --to includes its own day.
    end = dt.datetime.combine(date_to, dt.time.max) if date_to else None
    if end is not None and end.date() < date_from:
        raise typer.BadParameter(f"--to {date_to} is before --from {date_from}")
    fmt = choose_format(output, as_json, as_csv)
    # The enum's values are the SDK's status literals.
    statuses = cast("list[approval.Status]", [s.value for s in status]) if status else None
    with open_client(as_json=fmt is Format.json) as client:
        ids = iter(
            client.approval.instance_ids(
                process,
                date_from,
                end,
                userids=user,
                statuses=statuses,
            )
        )
        if details:
            emit(progress(_details(client, ids), "instances"), fmt, columns=LIST_COLUMNS)
        else:
            rows = ({"processInstanceId": i} for i in progress(ids, "instances"))
            emit(rows, fmt)


def _task(client: DingTalk, instance_id: str, user: str, task: int | None) -> int:
    """The task to act on: ``--task``, else the one running task of ``user``."""
    if task is not None:
        return task
    running = [t for t in client.approval.get(instance_id).running_tasks if t.user_id == user]
    if len(running) != 1:
        found = "no running task" if not running else f"{len(running)} running tasks"
        raise typer.BadParameter(
            f"{instance_id} has {found} for {user}: pass --task (see `dingkit approval get`)"
        )
    return running[0].task_id


def _act(
    action: Literal["approve", "refuse"],
    instance_id: str,
    task: int | None,
    user: str,
    remark: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    with open_client(as_json=as_json) as client:
        task_id = _task(client, instance_id, user, task)
        if dry_run:
            from ..resources import approval

            result: Literal["agree", "refuse"] = "agree" if action == "approve" else "refuse"
            print_dry_run(
                approval.execute(instance_id, task_id, user, result, remark), as_json=as_json
            )
            return
        do = client.approval.approve if action == "approve" else client.approval.refuse
        do(instance_id, task_id, user, remark)
    done = "approved" if action == "approve" else "refused"
    if as_json:
        print_json({"ok": True, "instance_id": instance_id, "task_id": task_id, "action": done})
    else:
        typer.echo(f"{done} task {task_id} of {instance_id} as {user}")


TaskOpt = Annotated[
    int | None,
    typer.Option("--task", help="Task id (default: the user's running task)."),
]
ActorOpt = Annotated[str, typer.Option("--user", "-u", help="The approver's userId.")]


@app.command("approve")
def approve(
    instance_id: InstanceArg,
    user: ActorOpt,
    task: TaskOpt = None,
    remark: RemarkOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Approve a task of an instance."""
    _act("approve", instance_id, task, user, remark, as_json, dry_run)


@app.command("refuse")
def refuse(
    instance_id: InstanceArg,
    user: ActorOpt,
    task: TaskOpt = None,
    remark: RemarkOpt = None,
    as_json: JsonResult = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Refuse a task of an instance."""
    _act("refuse", instance_id, task, user, remark, as_json, dry_run)


@app.command("withdraw")
def withdraw(
    instance_id: InstanceArg,
    user: Annotated[str, typer.Option("--user", "-u", help="The initiator's userId.")],
    remark: RemarkOpt = None,
    as_json: JsonResult = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Withdraw an instance (as its initiator; asks first on a terminal)."""
    if dry_run:
        from ..resources import approval

        print_dry_run(approval.terminate(instance_id, user, remark), as_json=as_json)
        return
    confirm(f"Withdraw approval {instance_id}? It cannot be resumed.", yes=yes)
    with open_client(as_json=as_json) as client:
        client.approval.withdraw(instance_id, user, remark)
    if as_json:
        print_json({"ok": True, "instance_id": instance_id, "action": "withdrawn"})
    else:
        typer.echo(f"withdrew {instance_id}")
