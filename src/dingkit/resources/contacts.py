"""Contacts (通讯录), old API, §5 of the protocol reference. No I/O.

The root department is ``1``. User lists page with a cursor; ``walk`` visits the whole tree
one ``listsub`` call per department.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from .._pagination import Page, PageFlow
from .._request import APIRequest, Endpoint
from ._models import DingTalkModel

__all__ = [
    "DEPARTMENT_CREATE",
    "DEPARTMENT_GET",
    "DEPARTMENT_LIST_SUB",
    "DEPARTMENT_LIST_SUB_IDS",
    "MAX_USER_PAGE",
    "ROOT_DEPT_ID",
    "USER_GET",
    "USER_GET_BY_MOBILE",
    "USER_LIST",
    "USER_LIST_IDS",
    "Department",
    "DepartmentDetail",
    "User",
    "create_department",
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

# The endpoints (§5). Every §5 page lists 400002 for a bad parameter, except user/list's,
# which names 40035. The contacts APIs are exempt from the monthly quota (§9.3). Permission
# points [I: the names DingTalk's console shows for the contacts read permissions; the
# reference names none for §5].
DEPARTMENT_LIST_SUB = Endpoint(
    "POST", "/topapi/v2/department/listsub", scope="qyapi_get_department_list", quota_exempt=True
)
DEPARTMENT_LIST_SUB_IDS = Endpoint(
    "POST", "/topapi/v2/department/listsubid", scope="qyapi_get_department_list", quota_exempt=True
)
DEPARTMENT_GET = Endpoint(
    "POST", "/topapi/v2/department/get", scope="qyapi_get_department_list", quota_exempt=True
)
#: Create a department (``/topapi/v2/department/create``): ``name`` and ``parent_id`` in,
#: ``result.dept_id`` out. Not exempt from the monthly quota [I]; permission point [I].
DEPARTMENT_CREATE = Endpoint(
    "POST", "/topapi/v2/department/create", scope="qyapi_manage_department", idempotent=False
)
USER_LIST = Endpoint(
    "POST",
    "/topapi/v2/user/list",
    scope="qyapi_get_department_member",
    param_error=40035,
    page_size=MAX_USER_PAGE,
    quota_exempt=True,
)
USER_GET = Endpoint("POST", "/topapi/v2/user/get", scope="qyapi_get_member", quota_exempt=True)
USER_GET_BY_MOBILE = Endpoint(
    "POST", "/topapi/v2/user/getbymobile", scope="qyapi_get_member_by_mobile", quota_exempt=True
)
USER_LIST_IDS = Endpoint(
    "POST", "/topapi/user/listid", scope="qyapi_get_department_member", quota_exempt=True
)


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
    """A person: the fields of ``user/list`` (§5.4); ``user/get`` adds a few (§5.6), kept as
    extra fields. Contact fields come only with the matching permission."""

    userid: str
    name: str
    unionid: str | None = None
    avatar: str | None = None
    state_code: str | None = None
    mobile: str | None = None
    hide_mobile: bool | None = None
    telephone: str | None = None
    job_number: str | None = None
    title: str | None = None
    email: str | None = None
    org_email: str | None = None
    work_place: str | None = None
    remark: str | None = None
    dept_id_list: list[int] = Field(default_factory=list)
    dept_order: int | None = None
    extension: str | None = None  # a JSON object, as a string
    hired_date: int | None = None  # ms
    active: bool | None = None
    admin: bool | None = None
    boss: bool | None = None
    leader: bool | None = None
    exclusive_account: bool | None = None
    manager_userid: str | None = None


def _result(data: dict[str, Any]) -> Any:
    return data["result"]


def sub_departments(
    dept_id: int = ROOT_DEPT_ID, *, language: str | None = None
) -> APIRequest[list[Department]]:
    """The next level of departments under ``dept_id`` (§5.1)."""
    return DEPARTMENT_LIST_SUB.request(
        json={"dept_id": dept_id, "language": language} if language else {"dept_id": dept_id},
        parse=lambda d: [Department.model_validate(x) for x in _result(d)],
    )


def sub_department_ids(dept_id: int = ROOT_DEPT_ID) -> APIRequest[list[int]]:
    """The ids of the next level of departments (§5.2)."""
    return DEPARTMENT_LIST_SUB_IDS.request(
        json={"dept_id": dept_id},
        parse=lambda d: [int(x) for x in _result(d)["dept_id_list"]],
    )


def department(dept_id: int) -> APIRequest[DepartmentDetail]:
    """One department's details (§5.3)."""
    return DEPARTMENT_GET.request(
        json={"dept_id": dept_id},
        parse=lambda d: DepartmentDetail.model_validate(_result(d)),
    )


def create_department(
    name: str, parent_id: int = ROOT_DEPT_ID, *, order: int | None = None
) -> APIRequest[int]:
    """Create a department named ``name`` under ``parent_id``; the new department's id.

    DingTalk refuses a name a sibling already has (60008) and an unknown parent (60004).
    Not retried after a lost answer: the department may exist already (read the parent's
    sub-departments to find out).
    """
    if not name or not name.strip():
        raise ValueError("a department needs a name")
    body: dict[str, Any] = {"name": name, "parent_id": parent_id}
    if order is not None:
        body["order"] = order
    return DEPARTMENT_CREATE.request(json=body, parse=lambda d: int(_result(d)["dept_id"]))


def user(userid: str) -> APIRequest[User]:
    """One user's details (§5.6)."""
    return USER_GET.request(
        json={"userid": userid},
        parse=lambda d: User.model_validate(_result(d)),
    )


def user_by_mobile(mobile: str) -> APIRequest[str]:
    """The userid of the current employee with this mobile number (§5.5)."""
    return USER_GET_BY_MOBILE.request(
        json={"mobile": mobile},
        parse=lambda d: str(_result(d)["userid"]),
    )


def user_ids(dept_id: int) -> APIRequest[list[str]]:
    """The userids of a department's direct members (§5.7)."""
    return USER_LIST_IDS.request(
        json={"dept_id": dept_id},
        parse=lambda d: [str(x) for x in _result(d)["userid_list"]],
    )


class _UserListResult(DingTalkModel):
    has_more: bool = False
    next_cursor: int | None = None
    # The page's people are always there (§5.4): a missing ``list`` is a malformed answer,
    # not an empty page; ``null`` (seen on last pages) is read as empty [I].
    users: list[User] | None = Field(alias="list")


class _UserListAnswer(DingTalkModel):
    """A successful ``user/list`` answer, validated from its bytes in one pass."""

    errcode: Literal[0]
    result: _UserListResult


class _Cursor(BaseModel):
    has_more: bool = False
    next_cursor: int | None = None


class _UserListCursor(BaseModel):
    """Only what the next request needs: reading it skips the users (a tenth of the cost)."""

    errcode: Literal[0]
    result: _Cursor


def _user_page(data: dict[str, Any]) -> Page[User]:
    result = _UserListResult.model_validate(_result(data))
    return _page(result.users or [], result.has_more, result.next_cursor)


def _user_page_from_json(content: bytes) -> Page[User]:
    # An export of 10,000 people spends as long building User models as waiting for DingTalk
    # (bench/contacts.py): read the cursor now and build them while the next page is asked.
    cursor = _UserListCursor.model_validate_json(content).result
    return _page(
        lambda: _UserListAnswer.model_validate_json(content).result.users or [],
        cursor.has_more,
        cursor.next_cursor,
    )


def _page(
    users: list[User] | Callable[[], list[User]], has_more: bool, next_cursor: int | None
) -> Page[User]:
    more = has_more and next_cursor is not None
    cursor = next_cursor if more else None
    if callable(users):
        return Page.deferred(users, has_more=more, cursor=cursor)
    return Page(users, has_more=more, cursor=cursor)


def users(dept_id: int, *, page_size: int = MAX_USER_PAGE) -> PageFlow[User]:
    """The direct members of a department, with full details, page by page (§5.4)."""
    if not 1 <= page_size <= MAX_USER_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_USER_PAGE}")
    cursor = 0
    while True:
        page = yield USER_LIST.request(
            json={"dept_id": dept_id, "cursor": cursor, "size": page_size},
            parse=_user_page,
            parse_json=_user_page_from_json,
        )
        if not page.has_more or page.cursor is None:
            return
        cursor = int(page.cursor)


def walk(root: int = ROOT_DEPT_ID) -> PageFlow[Department]:
    """Every department below ``root``, breadth first: one page per ``listsub`` call."""
    pending: deque[int] = deque([root])
    while pending:
        page = yield DEPARTMENT_LIST_SUB.request(
            json={"dept_id": pending.popleft()},
            parse=lambda d: Page([Department.model_validate(x) for x in _result(d)]),
        )
        pending.extend(child.dept_id for child in page.items)
