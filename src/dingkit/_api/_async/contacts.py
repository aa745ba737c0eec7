"""``client.contacts``: departments and users (§5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._pagination import AsyncPager
from ...resources import contacts
from ...resources.contacts import Department, DepartmentDetail, User

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncContactsAPI:
    """Departments and users of the organisation."""

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    async def sub_departments(self, dept_id: int = contacts.ROOT_DEPT_ID) -> list[Department]:
        """The next level of departments under ``dept_id`` (default: the root)."""
        return await self._client.request(contacts.sub_departments(dept_id))

    async def sub_department_ids(self, dept_id: int = contacts.ROOT_DEPT_ID) -> list[int]:
        """The ids of the next level of departments under ``dept_id``."""
        return await self._client.request(contacts.sub_department_ids(dept_id))

    async def create_department(
        self, name: str, parent_id: int = contacts.ROOT_DEPT_ID, *, order: int | None = None
    ) -> int:
        """Create a department under ``parent_id`` (default: the root); its new id."""
        return await self._client.request(contacts.create_department(name, parent_id, order=order))

    async def department(self, dept_id: int) -> DepartmentDetail:
        """One department's details."""
        return await self._client.request(contacts.department(dept_id))

    def walk(self, root: int = contacts.ROOT_DEPT_ID) -> AsyncPager[Department]:
        """Every department below ``root``, breadth first."""
        return self._client.paginate(lambda: contacts.walk(root))

    def users(self, dept_id: int, *, page_size: int = contacts.MAX_USER_PAGE) -> AsyncPager[User]:
        """A department's direct members with their details, paged for you."""
        return self._client.paginate(lambda: contacts.users(dept_id, page_size=page_size))

    async def user(self, userid: str) -> User:
        """One user's details."""
        return await self._client.request(contacts.user(userid))

    async def user_by_mobile(self, mobile: str) -> str:
        """The userid of the current employee with this mobile number."""
        return await self._client.request(contacts.user_by_mobile(mobile))

    async def user_ids(self, dept_id: int) -> list[str]:
        """The userids of a department's direct members."""
        return await self._client.request(contacts.user_ids(dept_id))
