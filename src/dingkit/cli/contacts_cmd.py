"""``dingkit contacts``: departments and users (§5), over ``client.contacts``."""

from __future__ import annotations

from typing import Annotated

import typer

from ._server import (
    CsvFlag,
    Format,
    FormatOpt,
    JsonFlag,
    choose_format,
    emit,
    emit_one,
    open_client,
    progress,
)

app = typer.Typer(
    help="Departments and users of the organisation (DINGTALK_APP_KEY / DINGTALK_APP_SECRET).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DEPT_COLUMNS = ("dept_id", "name", "parent_id")
USER_COLUMNS = ("userid", "name", "title", "mobile", "job_number", "dept_id_list")
USER_FIELDS = (
    "userid",
    "name",
    "unionid",
    "title",
    "mobile",
    "email",
    "job_number",
    "dept_id_list",
    "manager_userid",
    "hired_date",
    "active",
    "admin",
    "boss",
)
DEPT_FIELDS = (
    "dept_id",
    "name",
    "parent_id",
    "member_count",
    "dept_manager_userid_list",
    "order",
)


@app.command("depts")
def depts(
    dept: Annotated[
        int, typer.Option("--dept", "-d", help="Parent department (1: the company).", min=1)
    ] = 1,
    tree: Annotated[
        bool, typer.Option("--tree", help="Every department below --dept, not one level.")
    ] = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List the departments under a department (one level, or the whole tree)."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        if tree:
            rows = progress(client.contacts.walk(dept), "departments")
            emit(rows, fmt, columns=DEPT_COLUMNS)
        else:
            emit(client.contacts.sub_departments(dept), fmt, columns=DEPT_COLUMNS)


@app.command("dept")
def dept(
    dept_id: Annotated[int, typer.Argument(help="Department id (1: the company).", min=1)],
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Show one department."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        emit_one(client.contacts.department(dept_id), fmt, fields=DEPT_FIELDS)


@app.command("dept-create")
def dept_create(
    name: Annotated[str, typer.Argument(help="The new department's name.")],
    parent: Annotated[
        int, typer.Option("--parent", "-p", help="Parent department (1: the company).", min=1)
    ] = 1,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Create a department under --parent, and show it."""
    fmt = choose_format(output, as_json, as_csv)
    if not name.strip():
        raise typer.BadParameter("the name must not be blank", param_hint="NAME")
    with open_client(as_json=fmt is Format.json) as client:
        dept_id = client.contacts.create_department(name, parent)
        emit_one(client.contacts.department(dept_id), fmt, fields=DEPT_FIELDS)


@app.command("users")
def users(
    dept: Annotated[int, typer.Option("--dept", "-d", help="Department id.", min=1)],
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Export a department's direct members with their details (paged for you)."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        emit(progress(client.contacts.users(dept), "users"), fmt, columns=USER_COLUMNS)


@app.command("user")
def user(
    userid: Annotated[str, typer.Argument(help="The user's userId.")],
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Show one user."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        emit_one(client.contacts.user(userid), fmt, fields=USER_FIELDS)


@app.command("find")
def find(
    mobile: Annotated[str, typer.Option("--mobile", "-m", help="Mobile number.")],
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Find the current employee with a mobile number, and show them."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        userid = client.contacts.user_by_mobile(mobile)
        emit_one(client.contacts.user(userid), fmt, fields=USER_FIELDS)
