"""``dingkit contacts``: departments and users (§5), over ``client.contacts``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from ._server import (
    CsvFlag,
    DryRunOpt,
    Format,
    FormatOpt,
    JsonFlag,
    choose_format,
    emit,
    emit_one,
    open_client,
    print_dry_run,
    progress,
)

if TYPE_CHECKING:
    from .._client import DingTalk
    from ..resources.contacts import Department, User

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
        bool,
        typer.Option(
            "--tree",
            help="Every department below --dept, drawn as a tree (--json/--csv: every one, flat).",
        ),
    ] = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List the departments under a department (one level, or the whole tree)."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        if not tree:
            emit(client.contacts.sub_departments(dept), fmt, columns=DEPT_COLUMNS)
        elif fmt is not Format.table:
            emit(progress(client.contacts.walk(dept), "departments"), fmt, columns=DEPT_COLUMNS)
        else:
            top = client.contacts.department(dept)
            below = list(progress(client.contacts.walk(dept), "departments"))
            for line in draw_tree(top, below):
                print(line)


def draw_tree(top: Department, below: list[Department]) -> list[str]:
    """``top`` and everything ``below`` it as an indented tree, each line ``name (id)``."""
    children: dict[int, list[Department]] = {}
    for department in below:
        children.setdefault(department.parent_id or 0, []).append(department)
    lines = [f"{top.name} ({top.dept_id})"]

    def branch(parent: int, indent: str) -> None:
        kids = children.get(parent, [])
        for n, child in enumerate(kids):
            last = n == len(kids) - 1
            lines.append(f"{indent}{'└── ' if last else '├── '}{child.name} ({child.dept_id})")
            branch(child.dept_id, indent + ("    " if last else "│   "))

    branch(top.dept_id, "")
    return lines


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
        int, typer.Option("--parent", help="Parent department (1: the company).", min=1)
    ] = 1,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Create a department under --parent, and show it."""
    fmt = choose_format(output, as_json, as_csv)
    if not name.strip():
        raise typer.BadParameter("the name must not be blank", param_hint="NAME")
    if dry_run:
        from ..resources import contacts

        print_dry_run(contacts.create_department(name, parent), as_json=fmt is Format.json)
        return
    with open_client(as_json=fmt is Format.json) as client:
        dept_id = client.contacts.create_department(name, parent)
        emit_one(client.contacts.department(dept_id), fmt, fields=DEPT_FIELDS)


@app.command("users")
def users(
    dept: Annotated[int, typer.Option("--dept", "-d", help="Department id.", min=1)],
    recursive: Annotated[
        bool,
        typer.Option("--recursive", "-r", help="Sub-departments' members too (each once)."),
    ] = False,
    output: FormatOpt = Format.table,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Export a department's members with their details (paged for you)."""
    fmt = choose_format(output, as_json, as_csv)
    with open_client(as_json=fmt is Format.json) as client:
        found = _members(client, dept) if recursive else client.contacts.users(dept)
        emit(progress(found, "users"), fmt, columns=USER_COLUMNS)


def _members(client: DingTalk, dept: int) -> Iterator[User]:
    """Everyone in ``dept`` and below, each once (a person may belong to several)."""
    seen: set[str] = set()
    for dept_id in [dept, *(child.dept_id for child in client.contacts.walk(dept))]:
        for person in client.contacts.users(dept_id):
            if person.userid not in seen:
                seen.add(person.userid)
                yield person


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
