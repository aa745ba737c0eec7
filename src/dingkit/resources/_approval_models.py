"""The models of approval instances and templates (§3.2, §3.5). No I/O.

The new API's camelCase and the old API's snake_case read into the same classes:
:func:`from_old` renames the old keys, and times parse from either format.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from .._wire import CHINA
from ._models import CamelModel, DingTalkModel

__all__ = [
    "ApprovalInstance",
    "ApprovalTask",
    "Attachment",
    "FormComponentValue",
    "OperationRecord",
    "ProcessTemplate",
    "from_old",
]

#: DingTalk's times without a zone (old API) are China Standard Time [I].


def _time(value: Any) -> Any:
    # New API: "2022-08-31T11:52Z"; old API: "2022-08-31 11:52:00" in China time.
    if isinstance(value, str) and value and "T" not in value:
        return dt.datetime.fromisoformat(value).replace(tzinfo=CHINA)
    return value or None


class _Timed(CamelModel):
    create_time: dt.datetime | None = None
    finish_time: dt.datetime | None = None

    _times = field_validator("create_time", "finish_time", mode="before")(_time)


class FormComponentValue(CamelModel):
    name: str | None = None
    value: str | None = None
    id: str | None = None
    ext_value: str | None = None
    component_type: str | None = None
    biz_alias: str | None = None


class Attachment(CamelModel):
    file_name: str | None = None
    file_size: str | None = None
    file_id: str | None = None
    file_type: str | None = None
    space_id: str | None = None


class OperationRecord(CamelModel):
    """``type``: ``EXECUTE_TASK_NORMAL``, ``START_PROCESS_INSTANCE``...; ``result``: ``AGREE``,
    ``REFUSE``, ``NONE`` (upper case, unlike the instance's)."""

    user_id: str | None = None
    date: dt.datetime | None = None
    type: str | None = None
    result: str | None = None
    remark: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    cc_user_ids: list[str] = Field(default_factory=list)
    activity_id: str | None = None
    show_name: str | None = None
    images: list[str] = Field(default_factory=list)

    _date = field_validator("date", mode="before")(_time)


class ApprovalTask(_Timed):
    """``status``: ``NEW``, ``RUNNING``, ``PAUSED``, ``CANCELED``, ``COMPLETED``,
    ``TERMINATED``; ``result``: ``AGREE``, ``REFUSE``, ``REDIRECTED``, ``NONE``."""

    task_id: int
    user_id: str | None = None
    status: str | None = None
    result: str | None = None
    mobile_url: str | None = None
    pc_url: str | None = None
    process_instance_id: str | None = None
    activity_id: str | None = None
    task_group_name: str | None = None


class ApprovalInstance(_Timed):
    """One approval instance (§3.2), from the new or the old API.

    ``status``: ``RUNNING``, ``COMPLETED``, ``TERMINATED`` (withdrawn; the old API adds ``NEW``
    and ``CANCELED``); ``result``: ``agree`` or ``refuse`` once completed.
    """

    process_instance_id: str | None = None
    title: str | None = None
    business_id: str | None = None
    originator_user_id: str | None = None
    originator_dept_id: str | None = None  # "-1" is the root department
    originator_dept_name: str | None = None
    status: str | None = None
    result: str | None = None
    approver_user_ids: list[str] = Field(default_factory=list)
    cc_user_ids: list[str] = Field(default_factory=list)
    operation_records: list[OperationRecord] = Field(default_factory=list)
    tasks: list[ApprovalTask] = Field(default_factory=list)
    biz_action: str | None = None
    biz_data: str | None = None
    attached_process_instance_ids: list[str] = Field(default_factory=list)
    main_process_instance_id: str | None = None
    form_component_values: list[FormComponentValue] = Field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.status == "COMPLETED" and self.result == "agree"

    @property
    def running_tasks(self) -> list[ApprovalTask]:
        """The tasks waiting for someone to approve or refuse."""
        return [task for task in self.tasks if task.status == "RUNNING"]

    def form(self) -> dict[str, str | None]:
        """The form as label → value (values as DingTalk sends them: strings)."""
        return {item.name or "": item.value for item in self.form_component_values}


class ProcessTemplate(DingTalkModel):
    process_code: str
    name: str | None = None
    icon_url: str | None = None
    url: str | None = None


_OLD_KEYS = {
    # instance
    "originator_userid": "originatorUserId",
    "approver_userids": "approverUserIds",
    "cc_userids": "ccUserIds",
    # operation records
    "userid": "userId",
    "operation_type": "type",
    "operation_result": "result",
    # tasks
    "taskid": "taskId",
    "task_status": "status",
    "task_result": "result",
}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def from_old(data: Any) -> Any:
    """The old API's snake_case object with the new API's names (times parse either way)."""
    if isinstance(data, list):
        return [from_old(item) for item in data]
    if not isinstance(data, dict):
        return data
    return {_OLD_KEYS.get(key) or _camel(key): from_old(value) for key, value in data.items()}
