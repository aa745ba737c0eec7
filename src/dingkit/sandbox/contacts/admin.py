"""Changes to the organisation, as an admin makes them in DingTalk's console or through the
contacts API: people join, change and leave; departments are created, changed and removed.
Each rule checks the change, stores it (:mod:`.changes`, replayed over the generated
organisation on every start) and pushes the contacts event it causes (§7.6).

    dept = create_department(sandbox, name="平台二组", parent_id=1)   # pushes org_dept_create

A refused change raises :class:`OrgChangeError`; its ``reason`` says why, so that each caller
answers in its own terms (the sandbox's admin routes with 400/404/409, DingTalk's
``department/create`` with its errcodes).

Choices where the reference is silent [I]: the boss (the main admin) cannot leave; a
department must be empty (no members, no sub-departments) to be removed; names of sibling
departments are unique; ``diffInfo`` holds the changed fields in camelCase (``jobNumber``,
``workPlace``, ``deptIdList``) plus ``managerUserid`` when the change moved the person under
another manager.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import TYPE_CHECKING, Any, Literal

from .changes import USER_FIELDS
from .org import ROOT_DEPT_ID, Department, Organization, User

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = [
    "OrgChangeError",
    "add_user",
    "create_department",
    "modify_department",
    "modify_user",
    "remove_department",
    "remove_user",
]

Reason = Literal[
    "invalid",  # a field is missing or malformed
    "no_user",  # the person to change does not exist
    "no_department",  # the department to change does not exist
    "no_parent",  # the parent department named does not exist
    "name_taken",  # a sibling department has that name
    "taken",  # a userid or mobile belongs to someone else
    "refused",  # the organisation cannot take it (the boss leaving, a cycle...)
]

_MOBILE = re.compile(r"1\d{10}")
_USERID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEPT_ID_BASE = 900_000_000  # new departments get 9-digit ids like the generated ones
#: The longest department name [I: DingTalk's console takes 64 characters].
MAX_DEPT_NAME = 64
_CAMEL = {
    "name": "name",
    "mobile": "mobile",
    "title": "title",
    "email": "email",
    "telephone": "telephone",
    "job_number": "jobNumber",
    "work_place": "workPlace",
    "dept_id_list": "deptIdList",
}


class OrgChangeError(Exception):
    """A change the organisation does not take; ``reason`` is the kind of refusal."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


def _text(body: dict[str, Any], name: str, *, required: bool = False, limit: int = 64) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise OrgChangeError("invalid", f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise OrgChangeError(
            "invalid", f"{name} must be a non-empty string of at most {limit} characters"
        )
    return value.strip()


def _dept_ids(org: Organization, value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise OrgChangeError("invalid", "dept_id_list must be a non-empty list of department ids")
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise OrgChangeError("invalid", f"dept_id_list holds {item!r}, not a department id")
        if org.department(item) is None:
            raise OrgChangeError("invalid", f"dept_id_list: no department {item}")
        if item not in ids:
            ids.append(item)
    return ids


def _user_fields(org: Organization, body: dict[str, Any], user: User | None) -> dict[str, Any]:
    """The person's fields in ``body``, checked; ``user`` is who is being changed."""
    allowed = {*USER_FIELDS, "dept_id_list"} | ({"userid", "hired_date"} if user is None else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise OrgChangeError("invalid", f"unknown fields {unknown}; allowed: {sorted(allowed)}")
    fields: dict[str, Any] = {}
    for name in USER_FIELDS:
        value = _text(body, name, limit=128)
        if value is not None:
            fields[name] = value
    if "mobile" in fields:
        if not _MOBILE.fullmatch(fields["mobile"]):
            raise OrgChangeError("invalid", "mobile must be 11 digits starting with 1")
        holder = org.user_by_mobile(fields["mobile"])
        if holder is not None and holder is not user:
            raise OrgChangeError("taken", f"mobile {fields['mobile']} belongs to {holder.userid}")
    if "dept_id_list" in body:
        fields["dept_id_list"] = _dept_ids(org, body["dept_id_list"])
    return fields


def _user(sandbox: Sandbox, userid: str) -> User:
    user = sandbox.org.user(userid)
    if user is None:
        raise OrgChangeError("no_user", f"no user {userid}")
    return user


def _department(sandbox: Sandbox, dept_id: int) -> Department:
    dept = sandbox.org.department(dept_id)
    if dept is None:
        raise OrgChangeError("no_department", f"no department {dept_id}")
    return dept


# -- people ------------------------------------------------------------------------------


def add_user(sandbox: Sandbox, body: dict[str, Any]) -> User:
    """A person joins (``name``, ``dept_id_list``, optional ``userid``, ``mobile``, ``title``,
    ``hired_date``...); pushes ``user_add_org``."""
    org, now = sandbox.org, sandbox.now_ms()
    _text(body, "name", required=True)
    if "dept_id_list" not in body:
        raise OrgChangeError("invalid", "dept_id_list is required")
    data = _user_fields(org, body, None)
    userid = body.get("userid")
    if userid is None:
        userid = f"0{secrets.randbelow(10**15):015d}"  # the generated people's style
    elif not isinstance(userid, str) or not _USERID.fullmatch(userid):
        raise OrgChangeError("invalid", "userid must be 1-64 letters, digits, '_' or '-'")
    if org.user(userid) is not None:
        raise OrgChangeError("taken", f"userid {userid} is taken")
    while "mobile" not in data or org.user_by_mobile(data["mobile"]) is not None:
        data["mobile"] = f"199{secrets.randbelow(10**8):08d}"
    hired = body.get("hired_date", now)
    if isinstance(hired, bool) or not isinstance(hired, int) or hired < 0:
        raise OrgChangeError("invalid", "hired_date must be a time in milliseconds")
    unionid = base64.b64encode(secrets.token_bytes(18)).decode()
    data.update(
        userid=userid,
        unionid=unionid.replace("+", "i").replace("/", "E") + "iEiE",
        hired_date=hired,
    )
    sandbox.change_org("user_add", data)
    sandbox.callbacks.emit("user_add_org", {"userId": [userid]})
    return _user(sandbox, userid)


def _diff(before: dict[str, Any], after: User, manager: str | None) -> dict[str, Any]:
    prev, curr = {}, {}
    for name, value in before.items():
        now = getattr(after, "dept_ids" if name == "dept_id_list" else name)
        if now != value:
            prev[_CAMEL[name]], curr[_CAMEL[name]] = value, now
    if after.manager_userid != manager:
        prev["managerUserid"], curr["managerUserid"] = manager, after.manager_userid
    return {"prev": prev, "curr": curr, "userid": after.userid}


def modify_user(sandbox: Sandbox, userid: str, body: dict[str, Any]) -> tuple[User, list[str]]:
    """Change a person's fields; the person and the names of the fields that changed. A
    change pushes ``user_modify_org`` with ``diffInfo``."""
    user = _user(sandbox, userid)
    fields = _user_fields(sandbox.org, body, user)
    before = {
        name: list(user.dept_ids) if name == "dept_id_list" else getattr(user, name)
        for name in fields
    }
    changed = {name: value for name, value in fields.items() if value != before[name]}
    if not changed:
        return user, []
    manager = user.manager_userid
    sandbox.change_org("user_modify", {"userid": user.userid, "fields": changed})
    after = _user(sandbox, user.userid)
    diff = _diff({k: before[k] for k in changed}, after, manager)
    sandbox.callbacks.emit("user_modify_org", {"userId": [after.userid], "diffInfo": diff})
    return after, sorted(changed)


def remove_user(sandbox: Sandbox, userid: str) -> None:
    """A person leaves; pushes ``user_leave_org``."""
    user = _user(sandbox, userid)
    if user.boss:
        raise OrgChangeError("refused", f"{user.userid} is the main admin (boss) and cannot leave")
    sandbox.change_org("user_remove", {"userid": user.userid})
    sandbox.callbacks.emit("user_leave_org", {"userId": [user.userid]})


# -- departments ---------------------------------------------------------------------------


def _check_name(sandbox: Sandbox, name: str, parent_id: int, dept_id: int | None = None) -> None:
    for sibling in sandbox.org.children(_department(sandbox, parent_id)):
        if sibling.name == name and sibling.dept_id != dept_id:
            raise OrgChangeError("name_taken", f"department {parent_id} already has a {name!r}")


def _parent(sandbox: Sandbox, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrgChangeError("invalid", "parent_id must be a department id")
    if sandbox.org.department(value) is None:
        raise OrgChangeError("no_parent", f"parent_id: no department {value}")
    return value


def create_department(sandbox: Sandbox, *, name: Any, parent_id: Any) -> Department:
    """A new department under ``parent_id``: its name unique among its siblings, a fresh
    9-digit id; pushes ``org_dept_create``."""
    name = _text({"name": name}, "name", required=True, limit=MAX_DEPT_NAME)
    parent = _parent(sandbox, parent_id)
    _check_name(sandbox, name, parent)
    dept_id = _DEPT_ID_BASE + sandbox.org_changes.next_values("dept_id")[0]
    while sandbox.org.department(dept_id) is not None:
        dept_id = _DEPT_ID_BASE + sandbox.org_changes.next_values("dept_id")[0]
    org = sandbox.change_org("dept_add", {"dept_id": dept_id, "name": name, "parent_id": parent})
    sandbox.callbacks.emit("org_dept_create", {"deptId": [dept_id]})
    return org.departments[dept_id]


def modify_department(
    sandbox: Sandbox, dept_id: int, *, name: Any = None, parent_id: Any = None
) -> tuple[Department, list[str]]:
    """Rename or move a department; the department and what changed. A change pushes
    ``org_dept_modify``."""
    dept = _department(sandbox, dept_id)
    new_name = _text({"name": name}, "name", limit=MAX_DEPT_NAME)
    parent = _parent(sandbox, parent_id) if parent_id is not None else None
    change: dict[str, Any] = {"dept_id": dept.dept_id}
    if parent is not None and parent != dept.parent_id:
        if dept.dept_id == ROOT_DEPT_ID:
            raise OrgChangeError("refused", "the company department cannot move")
        walk = sandbox.org.department(parent)
        while walk is not None:
            if walk.dept_id == dept.dept_id:
                raise OrgChangeError("refused", "a department cannot move under itself")
            walk = sandbox.org.department(walk.parent_id) if walk.parent_id else None
        change["parent_id"] = parent
    if new_name is not None and new_name != dept.name:
        change["name"] = new_name
    if len(change) == 1:
        return dept, []
    under = change.get("parent_id", dept.parent_id)
    if under is not None:  # the company department has no siblings
        _check_name(sandbox, change.get("name", dept.name), under, dept.dept_id)
    org = sandbox.change_org("dept_modify", change)
    sandbox.callbacks.emit("org_dept_modify", {"deptId": [dept.dept_id]})
    return org.departments[dept.dept_id], sorted(set(change) - {"dept_id"})


def remove_department(sandbox: Sandbox, dept_id: int) -> None:
    """Remove an empty department; pushes ``org_dept_remove``."""
    dept = _department(sandbox, dept_id)
    if dept.dept_id == ROOT_DEPT_ID:
        raise OrgChangeError("refused", "the company department cannot be removed")
    if dept.children or dept.members:
        raise OrgChangeError(
            "refused",
            f"department {dept.dept_id} still has {len(dept.children)} sub-departments "
            f"and {len(dept.members)} members: move or remove them first",
        )
    sandbox.change_org("dept_remove", {"dept_id": dept.dept_id})
    sandbox.callbacks.emit("org_dept_remove", {"deptId": [dept.dept_id]})
