"""Contacts (通讯录), old API (§5), over the seeded organisation of :mod:`..org`.

Parameter errors answer 400002 无效的参数, the code every §5 page lists, except on
``user/list``, whose page names 40035 参数非法 for a bad dept_id, cursor, size or order_field.

Sandbox-only: ``GET /_sandbox/org`` summarises the organisation.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..org import ORDER_FIELDS, ROOT_DEPT_ID, Department, Organization, User
from . import params
from .gateway import Call, Gateway, OapiError

if TYPE_CHECKING:
    from ..app import Sandbox

__all__ = ["routes"]

#: ``size`` maximum of user/list: 100, from the sibling listsimple page [I, §5.4].
MAX_PAGE_SIZE = 100
_LANGUAGES = ("zh_CN", "en_US")
# Accepted mobile formats [I]: 11 digits starting with 1, optionally behind +86 / 86-.
_MOBILE = re.compile(r"(?:\+?86-?)?(1\d{10})")
# role_list entries [I: role ids are made up; the names are DingTalk's default roles].
_ROLE_BOSS = {"id": 1001, "name": "主管理员", "group_name": "默认"}
_ROLE_ADMIN = {"id": 1002, "name": "子管理员", "group_name": "默认"}
_ROLE_LEADER = {"id": 1003, "name": "负责人", "group_name": "默认"}


def _department(
    org: Organization, body: dict[str, Any], *, default: int | None = None
) -> Department:
    dept_id = params.integer(body, "dept_id", default=default, minimum=1)
    params.choice(body, "language", _LANGUAGES, default="zh_CN")
    dept = org.department(dept_id)
    if dept is None:
        raise OapiError(60003, "未找到对应部门")
    return dept


def _brief(dept: Department) -> dict[str, Any]:
    return {
        "dept_id": dept.dept_id,
        "name": dept.name,
        "parent_id": dept.parent_id,
        "create_dept_group": True,
        "auto_add_user": True,
    }


def _detail(dept: Department) -> dict[str, Any]:
    leader = [dept.leader.userid] if dept.leader is not None else []
    chat = hashlib.md5(str(dept.dept_id).encode(), usedforsecurity=False).hexdigest()
    detail: dict[str, Any] = {
        "dept_id": dept.dept_id,
        "name": dept.name,
        "parent_id": dept.parent_id,
        "source_identifier": "",
        "create_dept_group": True,
        "auto_add_user": True,
        "tags": "",
        "from_union_org": False,
        "order": dept.order,
        "dept_group_chat_id": f"chat{chat}",
        "group_contain_sub_dept": dept.dept_id == ROOT_DEPT_ID,
        "dept_manager_userid_list": leader,
        "outer_dept": False,
        "outer_permit_depts": [],
        "outer_permit_users": [],
        "hide_dept": False,
        "user_permits": [],
        "dept_permits": [],
        "auto_approve_apply": False,
        "code": "",
        "member_count": dept.member_count,
        # [I] the direct members, as opposed to member_count's whole subtree.
        "owning_member_count": len(dept.members),
        "union_dept_ext": {},  # [I] empty outside a union organisation
    }
    if leader:
        detail["org_dept_owner"] = leader[0]
    if dept.parent_id is None:
        del detail["parent_id"]  # the company department has no parent
    return detail


def _common(user: User) -> dict[str, Any]:
    return {
        "userid": user.userid,
        "unionid": user.unionid,
        "name": user.name,
        "state_code": "86",
        "mobile": user.mobile,
        "hide_mobile": False,
        "telephone": user.telephone,
        "job_number": user.job_number,
        "title": user.title,
        "email": user.email,
        "org_email": "",
        "work_place": user.work_place,
        "remark": "",
        "dept_id_list": list(user.dept_ids),
        "extension": user.extension,
        "hired_date": user.hired_date,
        "active": user.active,
        "admin": user.admin,
        "boss": user.boss,
        "exclusive_account": False,
    }


def _listed(user: User, dept: Department) -> dict[str, Any]:
    """A user as ``user/list`` shows them: with this department's order and leadership."""
    return {
        **_common(user),
        "avatar": "",
        "dept_order": user.dept_order[dept.dept_id],
        "leader": dept.leader is user,
    }


def _full(user: User, org: Organization) -> dict[str, Any]:
    """A user as ``user/get`` shows them (§5.6: lists instead of the dept_order/leader scalars;
    no avatar for the default one)."""
    leads = {d for d in user.dept_ids if org.departments[d].leader is user}
    roles = [_ROLE_BOSS] if user.boss else [_ROLE_ADMIN] if user.admin else []
    if leads:
        roles.append(_ROLE_LEADER)
    full = {
        **_common(user),
        "real_authed": user.active,
        "senior": user.senior,
        "dept_order_list": [{"dept_id": d, "order": user.dept_order[d]} for d in user.dept_ids],
        "leader_in_dept": [{"dept_id": d, "leader": d in leads} for d in user.dept_ids],
        "role_list": roles,
        "union_emp_ext": {},  # [I] empty outside a union organisation
    }
    if user.manager_userid is not None:
        full["manager_userid"] = user.manager_userid
    return full


def listsub(call: Call) -> dict[str, Any]:
    org = call.sandbox.org
    # [I, §11] without dept_id, the company department's children.
    dept = _department(org, params.obj(call.body), default=ROOT_DEPT_ID)
    return {"result": [_brief(child) for child in org.children(dept)]}


def listsubid(call: Call) -> dict[str, Any]:
    dept = _department(call.sandbox.org, params.obj(call.body))
    return {"result": {"dept_id_list": list(dept.children)}}


def department_get(call: Call) -> dict[str, Any]:
    return {"result": _detail(_department(call.sandbox.org, params.obj(call.body)))}


def user_list(call: Call) -> dict[str, Any]:
    org, body = call.sandbox.org, params.obj(call.body)
    params.integer(body, "dept_id", minimum=1)  # parameters first, then the look-up
    cursor = params.integer(body, "cursor", minimum=0)
    size = params.integer(body, "size", minimum=1, maximum=MAX_PAGE_SIZE)
    order_field = params.choice(body, "order_field", ORDER_FIELDS, default="custom")
    params.boolean(body, "contain_access_limit", default=False)
    dept = _department(org, body)
    members = org.members(dept, order_field)
    page = members[cursor : cursor + size]
    result: dict[str, Any] = {
        "has_more": cursor + size < len(members),
        "list": [_listed(user, dept) for user in page],
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
    return {"result": _full(user, call.sandbox.org)}


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
    return {"result": {"userid": user.userid}}


def user_listid(call: Call) -> dict[str, Any]:
    dept = _department(call.sandbox.org, params.obj(call.body))
    return {"result": {"userid_list": [user.userid for user in dept.members]}}


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
                    {**_brief(d), "member_count": d.member_count, "direct": len(d.members)}
                    for d in list(org.departments.values())[:20]
                ],
                "users": [_common(user) for user in org.users[:5]],
            }
        )

    return [
        gateway.oapi_route("/topapi/v2/department/listsub", listsub),
        gateway.oapi_route("/topapi/v2/department/listsubid", listsubid),
        gateway.oapi_route("/topapi/v2/department/get", department_get),
        gateway.oapi_route("/topapi/v2/user/list", user_list, param_error=40035),
        gateway.oapi_route("/topapi/v2/user/getbymobile", user_getbymobile),
        gateway.oapi_route("/topapi/v2/user/get", user_get),
        gateway.oapi_route("/topapi/user/listid", user_listid),
        Route("/_sandbox/org", org_summary, methods=["GET"]),
    ]
