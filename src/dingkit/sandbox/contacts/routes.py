"""Contacts (通讯录), old API (§5), over the seeded organisation of :mod:`.org`: reading
departments and people, and creating a department (``department/create``, whose rule is
:func:`.admin.create_department`).

Parameter errors answer what each endpoint's declaration says (400002 on the §5 pages,
40035 on ``user/list``'s). An app with a visible range (``visible_depts``) sees only those
departments, their sub-departments and their people: others answer 50004 (departments) and
50002 (people) [I: where §5 lists them; the approval, calendar, attendance and notification
endpoints do not check the range].

Sandbox-only: ``GET /_sandbox/org`` summarises the organisation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...resources import contacts as api
from ..gateway import params
from ..gateway.answers import OapiError
from ..gateway.pipeline import Call, Gateway
from .admin import OrgChangeError, create_department
from .org import ORDER_FIELDS, ROOT_DEPT_ID, Department, User
from .views import brief_json, common_json, detail_json, full_json, listed_json

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

_LANGUAGES = ("zh_CN", "en_US")
# Accepted mobile formats [I]: 11 digits starting with 1, optionally behind +86 / 86-.
_MOBILE = re.compile(r"(?:\+?86-?)?(1\d{10})")


def _department(call: Call, body: dict[str, Any], *, default: int | None = None) -> Department:
    dept_id = params.integer(body, "dept_id", default=default, minimum=1)
    params.choice(body, "language", _LANGUAGES, default="zh_CN")
    dept = call.sandbox.org.department(dept_id)
    if dept is None:
        raise OapiError(60003, "未找到对应部门")
    _visible_department(call, dept.dept_id)
    return dept


def _visible_department(call: Call, dept_id: int) -> None:
    """The app's visible range (可见范围) holds the department, or 50004 (§5.4, §9.1)."""
    roots = call.app.visible_depts
    if roots is not None and dept_id not in call.sandbox.org.within(roots):
        raise OapiError(50004, "部门不在权限范围内")


def _visible_user(call: Call, user: User) -> None:
    """The app's visible range holds one of the person's departments, or 50002 (§9.1)."""
    roots = call.app.visible_depts
    if roots is not None and not call.sandbox.org.within(roots).intersection(user.dept_ids):
        raise OapiError(50002, "员工不在权限范围内")  # [I] the errmsg


def listsub(call: Call) -> dict[str, Any]:
    org = call.sandbox.org
    # [I, §11] without dept_id, the company department's children.
    dept = _department(call, params.obj(call.body), default=ROOT_DEPT_ID)
    return {"result": [brief_json(child) for child in org.children(dept)]}


def listsubid(call: Call) -> dict[str, Any]:
    dept = _department(call, params.obj(call.body))
    return {"result": {"dept_id_list": list(dept.children)}}


def department_get(call: Call) -> dict[str, Any]:
    return {"result": detail_json(_department(call, params.obj(call.body)))}


def user_list(call: Call) -> dict[str, Any]:
    org, body = call.sandbox.org, params.obj(call.body)
    params.integer(body, "dept_id", minimum=1)  # parameters first, then the look-up
    cursor = params.integer(body, "cursor", minimum=0)
    size = params.integer(body, "size", minimum=1, maximum=api.USER_LIST.page_size)
    order_field = params.choice(body, "order_field", ORDER_FIELDS, default="custom")
    params.boolean(body, "contain_access_limit", default=False)
    dept = _department(call, body)
    members = org.members(dept, order_field)
    page = members[cursor : cursor + size]
    result: dict[str, Any] = {
        "has_more": cursor + size < len(members),
        "list": [listed_json(user, dept) for user in page],
    }
    if result["has_more"]:
        result["next_cursor"] = cursor + size
    return {"result": result}


def user_get(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    userid = params.string(body, "userid", max_length=64)
    params.choice(body, "language", _LANGUAGES, default="zh_CN")
    user = call.sandbox.org.user(userid)
    if user is None:
        raise OapiError(33012, "无效的userId")
    _visible_user(call, user)
    return {"result": full_json(user, call.sandbox.org)}


def user_getbymobile(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    if isinstance(body.get("mobile"), int):
        body = {**body, "mobile": str(body["mobile"])}
    match = _MOBILE.fullmatch(params.string(body, "mobile", max_length=32).strip())
    if match is None:
        raise OapiError(40104, "企业中无效的手机号")
    user = call.sandbox.org.user_by_mobile(match[1])
    if user is None:
        raise OapiError(60121, "未找到该用户")
    _visible_user(call, user)
    return {"result": {"userid": user.userid}}


def user_listid(call: Call) -> dict[str, Any]:
    dept = _department(call, params.obj(call.body))
    return {"result": {"userid_list": [user.userid for user in dept.members]}}


def department_create(call: Call) -> dict[str, Any]:
    """``department/create``: ``name`` and ``parent_id`` required; the new ``dept_id``."""
    body = params.obj(call.body)
    params.string(body, "name", max_length=1024)  # present and a string; the rule checks it
    parent_id = params.integer(body, "parent_id")
    if call.sandbox.org.department(parent_id) is not None:
        _visible_department(call, parent_id)  # [I] creating under an invisible one: 50004
    try:
        dept = create_department(call.sandbox, name=body["name"], parent_id=parent_id)
    except OrgChangeError as exc:
        raise _oapi(exc) from None
    return {"result": {"dept_id": dept.dept_id}}


def _oapi(exc: OrgChangeError) -> Exception:
    """A refused change as ``department/create`` answers it."""
    if exc.reason == "no_parent":
        return OapiError(60004, "父亲部门不存在")
    if exc.reason == "name_taken":
        return OapiError(60008, "父部门下该部门名称已存在")
    return params.ParamError(exc.message)


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    async def org_summary(request: Request) -> Response:
        org = sandbox.org
        config = sandbox.config
        return JSONResponse(
            {
                "corp_id": org.corp_id,
                "seed": config.seed,
                "org_size": config.org_size,
                "org_depth": config.org_depth,
                "department_count": len(org.departments),
                "user_count": len(org.users),
                "root_dept_id": ROOT_DEPT_ID,
                "departments": [
                    {**brief_json(d), "member_count": d.member_count, "direct": len(d.members)}
                    for d in list(org.departments.values())[:20]
                ],
                "users": [common_json(user) for user in org.users[:5]],
            }
        )

    return [
        *gateway.routes(
            [
                (api.DEPARTMENT_LIST_SUB, listsub),
                (api.DEPARTMENT_LIST_SUB_IDS, listsubid),
                (api.DEPARTMENT_GET, department_get),
                (api.DEPARTMENT_CREATE, department_create),
                (api.USER_LIST, user_list),
                (api.USER_GET_BY_MOBILE, user_getbymobile),
                (api.USER_GET, user_get),
                (api.USER_LIST_IDS, user_listid),
            ]
        ),
        Route("/_sandbox/org", org_summary, methods=["GET"]),
    ]
