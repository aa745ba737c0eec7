"""Departments and people as the contacts API shows them (§5.1–§5.6), and as the sandbox's
own views show them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .org import ROOT_DEPT_ID, Department, Organization, User

__all__ = ["brief_json", "common_json", "detail_json", "full_json", "listed_json"]

# role_list entries [I: role ids are made up; the names are DingTalk's default roles].
_ROLE_BOSS = {"id": 1001, "name": "主管理员", "group_name": "默认"}
_ROLE_ADMIN = {"id": 1002, "name": "子管理员", "group_name": "默认"}
_ROLE_LEADER = {"id": 1003, "name": "负责人", "group_name": "默认"}


def brief_json(dept: Department) -> dict[str, Any]:
    return {
        "dept_id": dept.dept_id,
        "name": dept.name,
        "parent_id": dept.parent_id,
        "create_dept_group": True,
        "auto_add_user": True,
    }


def detail_json(dept: Department) -> dict[str, Any]:
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


def common_json(user: User) -> dict[str, Any]:
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


def listed_json(user: User, dept: Department) -> dict[str, Any]:
    """A user as ``user/list`` shows them: with this department's order and leadership."""
    return {
        **common_json(user),
        "avatar": "",
        "dept_order": user.dept_order[dept.dept_id],
        "leader": dept.leader is user,
    }


def full_json(user: User, org: Organization) -> dict[str, Any]:
    """A user as ``user/get`` shows them (§5.6: lists instead of the dept_order/leader scalars;
    no avatar for the default one)."""
    leads = {d for d in user.dept_ids if org.departments[d].leader is user}
    roles = [_ROLE_BOSS] if user.boss else [_ROLE_ADMIN] if user.admin else []
    if leads:
        roles.append(_ROLE_LEADER)
    full = {
        **common_json(user),
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
