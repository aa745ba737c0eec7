"""``dingkit contacts``: every subcommand, its JSON and CSV parsed and compared with the
organisation the sandbox generated."""

from __future__ import annotations

import csv
import io
import json

import pytest


def _csv(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def _header(table: str) -> list[str]:
    """The column names of a table printed by rich."""
    return table.splitlines()[1].replace("┃", " ").split()


@pytest.fixture
def org(openapi_sandbox):
    return openapi_sandbox.sandbox.org


def _below(org, dept_id):
    """Every department under ``dept_id``, breadth first (as ``walk`` visits them)."""
    found, queue = [], [dept_id]
    while queue:
        children = org.departments[queue.pop(0)].children
        found += children
        queue += children
    return found


def test_depts_one_level_and_the_tree(org, server_cli):
    division = org.departments[org.root.children[0]]
    level_json, level_csv, table, tree, sub_tree = server_cli.run_many(
        ["contacts", "depts", "--json"],
        ["contacts", "depts", "--csv"],
        ["contacts", "depts", "--dept", str(division.dept_id)],
        ["contacts", "depts", "--tree", "--json"],
        ["contacts", "depts", "--tree", "--dept", str(division.dept_id), "--format", "csv"],
    )
    expected = [(d, org.departments[d].name, 1) for d in org.root.children]
    rows = level_json.assert_ok().json()
    assert [(r["dept_id"], r["name"], r["parent_id"]) for r in rows] == expected
    rows = _csv(level_csv.assert_ok().stdout)
    assert [(int(r["dept_id"]), r["name"], int(r["parent_id"])) for r in rows] == expected
    assert rows[0]["create_dept_group"] == "true"  # booleans as in JSON
    table.assert_ok()
    assert _header(table.stdout) == ["dept_id", "name", "parent_id"]
    for child in division.children:
        assert f"│ {child} " in table.stdout
        assert org.departments[child].name in table.stdout
    walked = [row["dept_id"] for row in tree.assert_ok().json()]
    assert walked == _below(org, 1)
    assert len(walked) == len(org.departments) - 1
    assert [int(r["dept_id"]) for r in _csv(sub_tree.assert_ok().stdout)] == _below(
        org, division.dept_id
    )
    for result in (level_json, level_csv, table, tree, sub_tree):
        assert result.stderr == ""  # no progress bar off a terminal


def _drawn(org, dept_id: int, indent: str = "") -> list[str]:
    """The tree `contacts depts --tree` should draw below ``dept_id``."""
    lines = []
    children = org.departments[dept_id].children
    for n, child in enumerate(children):
        last = n == len(children) - 1
        name = org.departments[child].name
        lines.append(f"{indent}{'└── ' if last else '├── '}{name} ({child})")
        lines += _drawn(org, child, indent + ("    " if last else "│   "))
    return lines


def test_the_tree_is_drawn_with_every_name_and_id_whole(org, server_cli):
    division = org.departments[org.root.children[0]]
    whole, part = server_cli.run_many(
        ["contacts", "depts", "--tree"],
        ["contacts", "depts", "--tree", "-d", str(division.dept_id)],
    )
    assert whole.assert_ok().stdout.splitlines() == [
        f"{org.root.name} (1)",
        *_drawn(org, 1),
    ]
    assert len(whole.stdout.splitlines()) == len(org.departments)
    assert part.assert_ok().stdout.splitlines() == [
        f"{division.name} ({division.dept_id})",
        *_drawn(org, division.dept_id),
    ]


def test_users_recursive_lists_everyone_below_once(org, server_cli):
    division = org.departments[org.root.children[0]]
    direct, everyone = server_cli.run_many(
        ["contacts", "users", "-d", str(division.dept_id), "--json"],
        ["contacts", "users", "-d", str(division.dept_id), "--recursive", "--json"],
    )
    below = [division.dept_id, *_below(org, division.dept_id)]
    expected = {u.userid for d in below for u in org.departments[d].members}
    userids = [row["userid"] for row in everyone.assert_ok().json()]
    assert len(userids) == len(set(userids)) == len(expected) == division.member_count
    assert set(userids) == expected
    assert len(direct.assert_ok().json()) == len(division.members) < len(userids)


def test_dept_shows_one_department(org, server_cli):
    dept = org.departments[org.root.children[1]]
    as_json, as_csv = server_cli.run_many(
        ["contacts", "dept", str(dept.dept_id), "--json"],
        ["contacts", "dept", str(dept.dept_id), "--csv"],
    )
    data = as_json.assert_ok().json()
    assert (data["dept_id"], data["name"], data["parent_id"]) == (dept.dept_id, dept.name, 1)
    assert data["member_count"] == dept.member_count
    assert data["dept_manager_userid_list"] == [dept.leader.userid]
    [row] = _csv(as_csv.assert_ok().stdout)
    assert (int(row["dept_id"]), int(row["member_count"])) == (dept.dept_id, dept.member_count)
    assert json.loads(row["dept_manager_userid_list"]) == [dept.leader.userid]


def test_users_exports_a_department(org, server_cli):
    dept = max(org.departments.values(), key=lambda d: len(d.members))
    as_json, as_csv, table = server_cli.run_many(
        ["contacts", "users", "--dept", str(dept.dept_id), "--json"],
        ["contacts", "users", "-d", str(dept.dept_id), "--csv"],
        ["contacts", "users", "--dept", str(dept.dept_id)],
    )
    expected = [(u.userid, u.name, u.mobile, u.unionid) for u in dept.members]
    rows = as_json.assert_ok().json()
    assert [(r["userid"], r["name"], r["mobile"], r["unionid"]) for r in rows] == expected
    assert rows[0]["leader"] is True  # every field DingTalk sent, not only the table's
    rows = _csv(as_csv.assert_ok().stdout)
    assert [(r["userid"], r["name"], r["mobile"], r["unionid"]) for r in rows] == expected
    assert json.loads(rows[0]["dept_id_list"]) == dept.members[0].dept_ids
    assert _header(table.assert_ok().stdout) == [
        "userid", "name", "title", "mobile", "job_number", "dept_id_list"
    ]  # fmt: skip
    for user in dept.members:
        assert user.userid in table.stdout


def test_users_pages_through_a_large_department(flat_openapi_sandbox, cli_with):
    org = flat_openapi_sandbox.sandbox.org
    assert len(org.root.members) == 250  # three pages of 100
    cli = cli_with(flat_openapi_sandbox.env())
    as_json, as_csv = cli.run_many(
        ["contacts", "users", "--dept", "1", "--json"],
        ["contacts", "users", "--dept", "1", "--csv"],
    )
    userids = [user.userid for user in org.root.members]
    assert [row["userid"] for row in as_json.assert_ok().json()] == userids
    assert [row["userid"] for row in _csv(as_csv.assert_ok().stdout)] == userids


def test_user_and_find_by_mobile(org, server_cli):
    someone = org.users[17]
    by_id, by_id_csv, by_mobile, table = server_cli.run_many(
        ["contacts", "user", someone.userid, "--json"],
        ["contacts", "user", someone.userid, "-o", "csv"],
        ["contacts", "find", "--mobile", someone.mobile, "--json"],
        ["contacts", "user", "manager0001"],
    )
    data = by_id.assert_ok().json()
    assert (data["userid"], data["name"], data["unionid"]) == (
        someone.userid,
        someone.name,
        someone.unionid,
    )
    assert (data["title"], data["dept_id_list"]) == (someone.title, someone.dept_ids)
    [row] = _csv(by_id_csv.assert_ok().stdout)
    assert (row["userid"], row["mobile"], row["job_number"]) == (
        someone.userid,
        someone.mobile,
        someone.job_number,
    )
    assert by_mobile.assert_ok().json() == data
    boss = org.user("manager0001")
    assert f"│ {boss.name} " in table.assert_ok().stdout
    assert "│ boss " in table.stdout


def test_dept_create_makes_a_department(openapi_sandbox, server_cli):
    org = openapi_sandbox.sandbox.org
    # Under a team with no sub-departments, so the other tests' views of the tree stay true.
    parent = next(d.dept_id for d in org.departments.values() if d.level == 3 and d.members)

    before = len(org.departments)
    dry = server_cli.run("contacts", "dept-create", "值班组", "--parent", str(parent), "--dry-run")
    assert dry.assert_ok().stdout.splitlines()[0].startswith("POST http://")
    assert "/topapi/v2/department/create?access_token=***" in dry.stdout
    assert '"name": "值班组"' in dry.stdout
    assert "dry run: nothing was sent" in dry.stderr
    assert len(org.departments) == before
    created = server_cli.run("contacts", "dept-create", "值班组", "--parent", str(parent), "--json")

    data = created.assert_ok().json()
    assert (data["name"], data["parent_id"]) == ("值班组", parent)
    assert openapi_sandbox.sandbox.org.departments[data["dept_id"]].name == "值班组"
    again, no_parent, blank = server_cli.run_many(
        ["contacts", "dept-create", "值班组", "--parent", str(parent)],
        ["contacts", "dept-create", "别的组", "--parent", "999"],
        ["contacts", "dept-create", " "],
    )
    again.assert_failure(1, "60008")
    no_parent.assert_failure(1, "60004")
    blank.assert_failure(2, "name")
