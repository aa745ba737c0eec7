"""``client.approval``: approval templates and instances (§3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..._pagination import AsyncPager
from ...resources import approval
from ...resources.approval import (
    ApprovalInstance,
    ApproverStep,
    Form,
    FormSchema,
    ProcessTemplate,
    Status,
)

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncApprovalAPI:
    """Discover templates' forms; start, read, list, approve, refuse and withdraw approvals."""

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    def templates(
        self, userid: str, *, page_size: int = approval.MAX_TEMPLATE_PAGE
    ) -> AsyncPager[ProcessTemplate]:
        """The process templates ``userid`` can start, paged for you."""
        return self._client.paginate(lambda: approval.templates(userid, page_size=page_size))

    async def template(self, process_code: str) -> FormSchema:
        """The form of a template: each field's label, type, required flag, options and how
        its value is written (``.fields``, ``.field(label)``)."""
        return await self._client.request(approval.template(process_code))

    async def create(
        self,
        process_code: str,
        originator_userid: str,
        form: Form,
        *,
        dept_id: int = -1,
        approvers: Sequence[str | ApproverStep] | None = None,
        cc_list: Sequence[str] | None = None,
        cc_position: Literal["START", "FINISH", "START_FINISH"] | None = None,
    ) -> str:
        """Start an approval with ``form`` (label → value); returns the instance id."""
        return await self._client.request(
            approval.create(
                process_code,
                originator_userid,
                form,
                dept_id=dept_id,
                approvers=approvers,
                cc_list=cc_list,
                cc_position=cc_position,
            )
        )

    async def get(self, instance_id: str) -> ApprovalInstance:
        """One instance, through the new API."""
        return await self._client.request(approval.get(instance_id))

    async def get_old(self, instance_id: str) -> ApprovalInstance:
        """One instance, through the old API (the same model as :meth:`get`)."""
        return await self._client.request(approval.get_old(instance_id))

    def instance_ids(
        self,
        process_code: str,
        start: dt.datetime | dt.date | int,
        end: dt.datetime | dt.date | int | None = None,
        *,
        userids: Sequence[str] | None = None,
        statuses: Sequence[Status] | None = None,
    ) -> AsyncPager[str]:
        """Ids of ``process_code``'s instances started in ``start``..``end`` (default now),
        any span: 120-day windows, paged for you."""
        return self._client.paginate(
            lambda: approval.instance_ids(
                process_code, start, end, userids=userids, statuses=statuses
            )
        )

    async def approve(
        self, instance_id: str, task_id: int, actioner_userid: str, remark: str | None = None
    ) -> bool:
        """Approve the task ``task_id`` as ``actioner_userid``."""
        return await self._client.request(
            approval.execute(instance_id, task_id, actioner_userid, "agree", remark)
        )

    async def refuse(
        self, instance_id: str, task_id: int, actioner_userid: str, remark: str | None = None
    ) -> bool:
        """Refuse the task ``task_id`` as ``actioner_userid``."""
        return await self._client.request(
            approval.execute(instance_id, task_id, actioner_userid, "refuse", remark)
        )

    async def withdraw(
        self, instance_id: str, operating_userid: str, remark: str | None = None
    ) -> bool:
        """Withdraw the instance as its initiator ``operating_userid``."""
        return await self._client.request(approval.terminate(instance_id, operating_userid, remark))
