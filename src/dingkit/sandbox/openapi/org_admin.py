"""Sandbox actions that change the organisation, as an admin would in DingTalk's console, and
push the contacts events (§7.6) they cause. JSON in and out; bad input answers 400, an
unknown id 404, a change the organisation cannot take 409.

    POST   /_sandbox/org/users               {name, dept_id_list, mobile?, userid?, title?...}
    PATCH  /_sandbox/org/users/{userid}      {name?, mobile?, dept_id_list?, title?...}
    DELETE /_sandbox/org/users/{userid}
    POST   /_sandbox/org/departments         {name, parent_id?}   (parent 1 by default)
    PATCH  /_sandbox/org/departments/{id}    {name?, parent_id?}
    DELETE /_sandbox/org/departments/{id}

Changes are stored and replayed over the generated organisation (:mod:`..org_changes`), so the
contacts endpoints show them and they survive a restart. Choices where the reference is
silent [I]: the boss (the main admin) cannot leave; a department must be empty (no members,
no sub-departments) to be removed; names of sibling departments are unique; ``diffInfo``
holds the changed fields in camelCase (``jobNumber``, ``workPlace``, ``deptIdList``) plus
``managerUserid`` when the change moved the person under another manager.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..org import ROOT_DEPT_ID, Department, Organization, User
from ..org_changes import USER_FIELDS
from .contacts import _detail, _full
from .gateway import Gateway

if TYPE_CHECKING:
    from ..app import Sandbox

__all__ = ["routes"]

_MOBILE = re.compile(r"1\d{10}")
_USERID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEPT_ID_BASE = 900_000_000  # new departments get 9-digit ids like the generated ones
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


#: An action: the JSON body and the path parameters in, the status and the answer out.
_Action = Callable[[dict[str, Any], dict[str, Any]], tuple[int, dict[str, Any]]]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _text(body: dict[str, Any], name: str, *, required: bool = False, limit: int = 64) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise _Refused(400, f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _Refused(400, f"{name} must be a non-empty string of at most {limit} characters")
    return value.strip()


def _dept_ids(org: Organization, value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _Refused(400, "dept_id_list must be a non-empty list of department ids")
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise _Refused(400, f"dept_id_list holds {item!r}, not a department id")
        if org.department(item) is None:
            raise _Refused(400, f"dept_id_list: no department {item}")
        if item not in ids:
            ids.append(item)
    return ids


def _user_fields(org: Organization, body: dict[str, Any], user: User | None) -> dict[str, Any]:
    """The person's fields in ``body``, checked; ``user`` is who is being changed."""
    allowed = {*USER_FIELDS, "dept_id_list"} | ({"userid", "hired_date"} if user is None else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _Refused(400, f"unknown fields {unknown}; allowed: {sorted(allowed)}")
    fields: dict[str, Any] = {}
    for name in USER_FIELDS:
        value = _text(body, name, limit=128)
        if value is not None:
            fields[name] = value
    if "mobile" in fields:
        if not _MOBILE.fullmatch(fields["mobile"]):
            raise _Refused(400, "mobile must be 11 digits starting with 1")
        holder = org.user_by_mobile(fields["mobile"])
        if holder is not None and holder is not user:
            raise _Refused(409, f"mobile {fields['mobile']} belongs to {holder.userid}")
    if "dept_id_list" in body:
        fields["dept_id_list"] = _dept_ids(org, body["dept_id_list"])
    return fields


def _new_user(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    org, now = sandbox.org, int(sandbox.clock() * 1000)
    _text(body, "name", required=True)
    if "dept_id_list" not in body:
        raise _Refused(400, "dept_id_list is required")
    data = _user_fields(org, body, None)
    userid = body.get("userid")
    if userid is None:
        userid = f"0{secrets.randbelow(10**15):015d}"  # the generated people's style
    elif not isinstance(userid, str) or not _USERID.fullmatch(userid):
        raise _Refused(400, "userid must be 1-64 letters, digits, '_' or '-'")
    if org.user(userid) is not None:
        raise _Refused(409, f"userid {userid} is taken")
    while "mobile" not in data or org.user_by_mobile(data["mobile"]) is not None:
        data["mobile"] = f"199{secrets.randbelow(10**8):08d}"
    hired = body.get("hired_date", now)
    if isinstance(hired, bool) or not isinstance(hired, int) or hired < 0:
        raise _Refused(400, "hired_date must be a time in milliseconds")
    unionid = base64.b64encode(secrets.token_bytes(18)).decode()
    return {
        **data,
        "userid": userid,
        "unionid": unionid.replace("+", "i").replace("/", "E") + "iEiE",
        "hired_date": hired,
    }


def _diff(before: dict[str, Any], after: User, manager: str | None) -> dict[str, Any]:
    prev, curr = {}, {}
    for name, value in before.items():
        now = getattr(after, "dept_ids" if name == "dept_id_list" else name)
        if now != value:
            prev[_CAMEL[name]], curr[_CAMEL[name]] = value, now
    if after.manager_userid != manager:
        prev["managerUserid"], curr["managerUserid"] = manager, after.manager_userid
    return {"prev": prev, "curr": curr, "userid": after.userid}


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "the body must be a JSON object")
    return body


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    def user_of(userid: str) -> User:
        user = sandbox.org.user(userid)
        if user is None:
            raise _Refused(404, f"no user {userid}")
        return user

    def add_user(body: dict[str, Any], _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = _new_user(sandbox, body)
        org = sandbox.change_org("user_add", data)
        sandbox.callbacks.emit("user_add_org", {"userId": [data["userid"]]})
        return 201, {"user": _full(user_of(data["userid"]), org)}

    def modify_user(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user = user_of(path["userid"])
        fields = _user_fields(sandbox.org, body, user)
        before = {
            name: list(user.dept_ids) if name == "dept_id_list" else getattr(user, name)
            for name in fields
        }
        changed = {name: value for name, value in fields.items() if value != before[name]}
        if not changed:
            return 200, {"user": _full(user, sandbox.org), "changed": []}
        manager = user.manager_userid
        org = sandbox.change_org("user_modify", {"userid": user.userid, "fields": changed})
        after = user_of(user.userid)
        diff = _diff({k: before[k] for k in changed}, after, manager)
        sandbox.callbacks.emit("user_modify_org", {"userId": [after.userid], "diffInfo": diff})
        return 200, {"user": _full(after, org), "changed": sorted(changed)}

    def remove_user(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user = user_of(path["userid"])
        if user.boss:
            raise _Refused(409, f"{user.userid} is the main admin (boss) and cannot leave")
        sandbox.change_org("user_remove", {"userid": user.userid})
        sandbox.callbacks.emit("user_leave_org", {"userId": [user.userid]})
        return 200, {"removed": user.userid}

    def dept_of(dept_id: int) -> Department:
        dept = sandbox.org.department(dept_id)
        if dept is None:
            raise _Refused(404, f"no department {dept_id}")
        return dept

    def check_name(name: str, parent_id: int, dept_id: int | None = None) -> None:
        for sibling in sandbox.org.children(dept_of(parent_id)):
            if sibling.name == name and sibling.dept_id != dept_id:
                raise _Refused(409, f"department {parent_id} already has a {name!r}")

    def parent_of(body: dict[str, Any], default: int | None) -> int | None:
        parent_id = body.get("parent_id", default)
        if parent_id is None:
            return None
        if isinstance(parent_id, bool) or not isinstance(parent_id, int):
            raise _Refused(400, "parent_id must be a department id")
        if sandbox.org.department(parent_id) is None:
            raise _Refused(400, f"parent_id: no department {parent_id}")
        return parent_id

    def add_dept(body: dict[str, Any], _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if set(body) - {"name", "parent_id"}:
            raise _Refused(400, "a department takes name and parent_id only")
        name = _text(body, "name", required=True)
        parent_id = parent_of(body, ROOT_DEPT_ID)
        assert parent_id is not None
        check_name(name, parent_id)
        dept_id = _DEPT_ID_BASE + sandbox.store.org_changes.next_values("dept_id")[0]
        while sandbox.org.department(dept_id) is not None:
            dept_id = _DEPT_ID_BASE + sandbox.store.org_changes.next_values("dept_id")[0]
        org = sandbox.change_org(
            "dept_add", {"dept_id": dept_id, "name": name, "parent_id": parent_id}
        )
        sandbox.callbacks.emit("org_dept_create", {"deptId": [dept_id]})
        return 201, {"department": _detail(org.departments[dept_id])}

    def modify_dept(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        dept = dept_of(path["dept_id"])
        if set(body) - {"name", "parent_id"}:
            raise _Refused(400, "a department takes name and parent_id only")
        name = _text(body, "name")
        parent_id = parent_of(body, None)
        change: dict[str, Any] = {"dept_id": dept.dept_id}
        if parent_id is not None and parent_id != dept.parent_id:
            if dept.dept_id == ROOT_DEPT_ID:
                raise _Refused(409, "the company department cannot move")
            walk = sandbox.org.department(parent_id)
            while walk is not None:
                if walk.dept_id == dept.dept_id:
                    raise _Refused(409, "a department cannot move under itself")
                walk = sandbox.org.department(walk.parent_id) if walk.parent_id else None
            change["parent_id"] = parent_id
        if name is not None and name != dept.name:
            change["name"] = name
        if len(change) == 1:
            return 200, {"department": _detail(dept), "changed": []}
        parent = change.get("parent_id", dept.parent_id)
        if parent is not None:  # the company department has no siblings
            check_name(change.get("name", dept.name), parent, dept.dept_id)
        org = sandbox.change_org("dept_modify", change)
        sandbox.callbacks.emit("org_dept_modify", {"deptId": [dept.dept_id]})
        return 200, {
            "department": _detail(org.departments[dept.dept_id]),
            "changed": sorted(set(change) - {"dept_id"}),
        }

    def remove_dept(body: dict[str, Any], path: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        dept = dept_of(path["dept_id"])
        if dept.dept_id == ROOT_DEPT_ID:
            raise _Refused(409, "the company department cannot be removed")
        if dept.children or dept.members:
            raise _Refused(
                409,
                f"department {dept.dept_id} still has {len(dept.children)} sub-departments "
                f"and {len(dept.members)} members: move or remove them first",
            )
        sandbox.change_org("dept_remove", {"dept_id": dept.dept_id})
        sandbox.callbacks.emit("org_dept_remove", {"deptId": [dept.dept_id]})
        return 200, {"removed": dept.dept_id}

    def action(handler: _Action) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = _json_body(await request.body()) if request.method != "DELETE" else {}
                status, answer = handler(body, dict(request.path_params))
            except _Refused as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            return JSONResponse(answer, status_code=status)

        return endpoint

    users, depts = "/_sandbox/org/users", "/_sandbox/org/departments"
    return [
        Route(users, action(add_user), methods=["POST"]),
        Route(users + "/{userid}", action(modify_user), methods=["PATCH"]),
        Route(users + "/{userid}", action(remove_user), methods=["DELETE"]),
        Route(depts, action(add_dept), methods=["POST"]),
        Route(depts + "/{dept_id:int}", action(modify_dept), methods=["PATCH"]),
        Route(depts + "/{dept_id:int}", action(remove_dept), methods=["DELETE"]),
    ]
