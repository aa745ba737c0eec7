"""Contacts (通讯录), old API, §5 of the protocol reference. No I/O.

The root department is ``1``. User lists page with a cursor; ``walk`` visits the whole tree
one ``listsub`` call per department.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import Field, TypeAdapter

from .._pagination import Page, PageFlow
from .._request import APIRequest
from ._models import DingTalkModel

__all__ = [
    "ROOT_DEPT_ID",
    "Department",
    "DepartmentDetail",
    "User",
    "department",
    "sub_department_ids",
    "sub_departments",
    "user",
    "user_by_mobile",
    "user_ids",
    "users",
    "walk",
]

ROOT_DEPT_ID = 1
#: `user/list` does not state its maximum page size; its sibling's is 100 (§5.4).
MAX_USER_PAGE = 100


class Department(DingTalkModel):
    dept_id: int
    name: str
    parent_id: int | None = None
    create_dept_group: bool | None = None
    auto_add_user: bool | None = None


class DepartmentDetail(Department):
    member_count: int | None = None
    dept_manager_userid_list: list[str] = Field(default_factory=list)
    order: int | None = None


class User(DingTalkModel):
    userid: str
    name: str
    unionid: str | None = None
    mobile: str | None = None
    title: str | None = None
    email: str | None = None
    job_number: str | None = None
    dept_id_list: list[int] = Field(default_factory=list)
    hired_date: int | None = None
    active: bool | None = None
    admin: bool | None = None
    boss: bool | None = None
    leader: bool | None = None
    manager_userid: str | None = None


def _result(data: dict[str, Any]) -> Any:
    return data["result"]


def sub_departments(
    dept_id: int = ROOT_DEPT_ID, *, language: str | None = None
) -> APIRequest[list[Department]]:
    """The next level of departments under ``dept_id`` (§5.1)."""
    return APIRequest(
        "POST",
        "/topapi/v2/department/listsub",
        json={"dept_id": dept_id, "language": language} if language else {"dept_id": dept_id},
        parse=lambda d: [Department.model_validate(x) for x in _result(d)],
    )


def sub_department_ids(dept_id: int = ROOT_DEPT_ID) -> APIRequest[list[int]]:
    """The ids of the next level of departments (§5.2)."""
    return APIRequest(
        "POST",
        "/topapi/v2/department/listsubid",
        json={"dept_id": dept_id},
        parse=lambda d: [int(x) for x in _result(d)["dept_id_list"]],
    )


def department(dept_id: int) -> APIRequest[DepartmentDetail]:
    """One department's details (§5.3)."""
    return APIRequest(
        "POST",
        "/topapi/v2/department/get",
        json={"dept_id": dept_id},
        parse=lambda d: DepartmentDetail.model_validate(_result(d)),
    )


def user(userid: str) -> APIRequest[User]:
    """One user's details (§5.6)."""
    return APIRequest(
        "POST",
        "/topapi/v2/user/get",
        json={"userid": userid},
        parse=lambda d: User.model_validate(_result(d)),
    )


def user_by_mobile(mobile: str) -> APIRequest[str]:
    """The userid of the current employee with this mobile number (§5.5)."""
    return APIRequest(
        "POST",
        "/topapi/v2/user/getbymobile",
        json={"mobile": mobile},
        parse=lambda d: str(_result(d)["userid"]),
    )


def user_ids(dept_id: int) -> APIRequest[list[str]]:
    """The userids of a department's direct members (§5.7)."""
    return APIRequest(
        "POST",
        "/topapi/user/listid",
        json={"dept_id": dept_id},
        parse=lambda d: [str(x) for x in _result(d)["userid_list"]],
    )


# One validator call per page: faster than one per user, which a 10,000-person export feels.
_USERS = TypeAdapter(list[User])


def _user_page(data: dict[str, Any]) -> Page[User]:
    result = _result(data)
    has_more = bool(result.get("has_more"))
    return Page(
        _USERS.validate_python(result.get("list") or []),
        has_more=has_more,
        cursor=result.get("next_cursor") if has_more else None,
        raw=data,
    )


def users(dept_id: int, *, page_size: int = MAX_USER_PAGE) -> PageFlow[User]:
    """The direct members of a department, with full details, page by page (§5.4)."""
    if not 1 <= page_size <= MAX_USER_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_USER_PAGE}")
    cursor = 0
    while True:
        page = yield APIRequest(
            "POST",
            "/topapi/v2/user/list",
            json={"dept_id": dept_id, "cursor": cursor, "size": page_size},
            parse=_user_page,
        )
        if not page.has_more or page.cursor is None:
            return
        cursor = int(page.cursor)


def walk(root: int = ROOT_DEPT_ID) -> PageFlow[Department]:
    """Every department below ``root``, breadth first: one page per ``listsub`` call."""
    pending: deque[int] = deque([root])
    while pending:
        page = yield APIRequest(
            "POST",
            "/topapi/v2/department/listsub",
            json={"dept_id": pending.popleft()},
            parse=lambda d: Page([Department.model_validate(x) for x in _result(d)], raw=d),
        )
        pending.extend(child.dept_id for child in page.items)
