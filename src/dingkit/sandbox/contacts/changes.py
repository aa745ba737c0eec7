"""Changes to the generated organisation: people added, changed or gone, departments created,
changed or removed. The organisation itself is regenerated from its seed (:mod:`.org`); the
changes are kept in SQLite (``store.org_changes``) and replayed over it, in order, on every
start and after every change.

    org = replay(generate_org(...), store.org_changes.all())

A change is stored fully resolved (ids, defaults, times), so replaying it needs no checks and
always gives the same organisation; the checks happen before a change is stored
(:mod:`.openapi.org_admin`). Kinds and their ``data``:

- ``user_add``: every field of the new person (:data:`USER_FIELDS`, ``userid``, ``unionid``,
  ``hired_date``); ``user_modify``: ``userid`` and the ``fields`` that change;
  ``user_remove``: ``userid``.
- ``dept_add``: ``dept_id``, ``name``, ``parent_id``; ``dept_modify``: ``dept_id`` and
  ``name`` and/or ``parent_id``; ``dept_remove``: ``dept_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..store import Table
from .org import Department, Organization, User, join, settle

__all__ = ["USER_FIELDS", "OrgChange", "OrgChangeRecords", "replay"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS org_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
"""

#: The person's fields a change may set, besides ``dept_id_list`` (contacts' snake_case names).
USER_FIELDS = ("name", "mobile", "title", "email", "telephone", "job_number", "work_place")


@dataclass(frozen=True, slots=True)
class OrgChange:
    id: int
    kind: str
    data: dict[str, Any]
    at_ms: int


class OrgChangeRecords(Table):
    SCHEMA: ClassVar[str] = _SCHEMA

    def add(self, kind: str, data: dict[str, Any], at_ms: int) -> None:
        self._run(
            "INSERT INTO org_changes (kind, data, at_ms) VALUES (?, ?, ?)",
            (kind, json.dumps(data, ensure_ascii=False), at_ms),
        )

    def all(self) -> list[OrgChange]:
        rows = self._rows("SELECT * FROM org_changes ORDER BY id")
        return [
            OrgChange(row["id"], row["kind"], json.loads(row["data"]), row["at_ms"]) for row in rows
        ]


def replay(org: Organization, changes: Iterable[OrgChange]) -> Organization:
    """``org`` (freshly generated, changed in place) with ``changes`` applied in order."""
    applied = False
    for change in changes:
        _APPLY[change.kind](org, change.data, change.at_ms)
        applied = True
    if applied:
        settle(org.departments, org.users)
        org.reindex()
    return org


def _leave(user: User, dept: Department) -> None:
    dept.members = [member for member in dept.members if member is not user]
    if dept.leader is user:
        dept.leader = None  # [I] a department whose leader left has none until one is named
    user.dept_order.pop(dept.dept_id, None)


def _user_add(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    user = User(
        index=max((u.index for u in org.users), default=-1) + 1,
        userid=data["userid"],
        unionid=data["unionid"],
        name=data["name"],
        mobile=data["mobile"],
        telephone=data.get("telephone", ""),
        title=data.get("title", ""),
        job_number=data.get("job_number", ""),
        email=data.get("email", ""),
        work_place=data.get("work_place", ""),
        extension="{}",
        hired_date=data["hired_date"],
        modified=at_ms,
        active=True,
        admin=False,
        boss=False,
        senior=False,
    )
    for dept_id in data["dept_id_list"]:
        join(user, org.departments[dept_id])
    org.users.append(user)
    org.reindex()


def _user_modify(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    user = org.user(data["userid"])
    assert user is not None, "changes are checked before they are stored"
    fields = data["fields"]
    for name in USER_FIELDS:
        if name in fields:
            setattr(user, name, fields[name])
    if "dept_id_list" in fields:
        wanted = list(fields["dept_id_list"])
        for dept_id in [d for d in user.dept_ids if d not in wanted]:
            _leave(user, org.departments[dept_id])
        kept = [d for d in user.dept_ids if d in wanted]
        user.dept_ids = kept
        for dept_id in wanted:
            if dept_id not in kept:
                join(user, org.departments[dept_id])
        user.dept_ids = wanted  # the first is the main department
    user.modified = at_ms
    org.reindex()


def _user_remove(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    user = org.user(data["userid"])
    assert user is not None, "changes are checked before they are stored"
    for dept_id in user.dept_ids:
        _leave(user, org.departments[dept_id])
    org.users.remove(user)
    org.reindex()


def _relevel(org: Organization, dept: Department, level: int) -> None:
    dept.level = level
    for child in org.children(dept):
        _relevel(org, child, level + 1)


def _dept_add(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    parent = org.departments[data["parent_id"]]
    dept = Department(
        data["dept_id"],
        data["name"],
        parent.dept_id,
        parent.level + 1,
        len(parent.children) + 1,
        parent.kind,
        parent.city,
    )
    parent.children.append(dept.dept_id)
    org.departments[dept.dept_id] = dept


def _dept_modify(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    dept = org.departments[data["dept_id"]]
    if "name" in data:
        dept.name = data["name"]
    parent_id = data.get("parent_id")
    if parent_id is not None and parent_id != dept.parent_id:
        if dept.parent_id is not None:
            old = org.departments[dept.parent_id]
            old.children.remove(dept.dept_id)
        parent = org.departments[parent_id]
        parent.children.append(dept.dept_id)
        dept.parent_id, dept.order = parent_id, len(parent.children)
        _relevel(org, dept, parent.level + 1)


def _dept_remove(org: Organization, data: dict[str, Any], at_ms: int) -> None:
    dept = org.departments.pop(data["dept_id"])
    if dept.parent_id is not None:
        org.departments[dept.parent_id].children.remove(dept.dept_id)


_APPLY = {
    "user_add": _user_add,
    "user_modify": _user_modify,
    "user_remove": _user_remove,
    "dept_add": _dept_add,
    "dept_modify": _dept_modify,
    "dept_remove": _dept_remove,
}
