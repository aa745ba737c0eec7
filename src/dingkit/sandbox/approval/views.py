"""An approval instance as each reader sees it: the new API (§3.2, camelCase, times like
``2022-08-31T11:52Z``), the old API (§3.5, snake_case, ``yyyy-MM-dd HH:mm:ss`` China time)
and the chat page (names resolved, form values readable).

Fields without a value are left out rather than sent as null [I]: ``finishTime`` while the
instance runs, a task's ``createTime`` until its node is reached. ``result`` is ``""`` while
running and after a withdrawal (§3.6). Task links point at the sandbox's approvals view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..._wire import CHINA, CHINA_TIME_FORMAT, parse_json_strict
from ..contacts.org import Organization
from .instances import Instance, Record, Task

__all__ = ["instance_json", "old_instance_json", "sandbox_json"]


def _minute(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _china(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, CHINA).strftime(CHINA_TIME_FORMAT)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _task_url(base: str, instance: Instance, task: Task) -> str:
    return f"{base}/#approvals?instance={instance.instance_id}&task={task.task_id}"


def _record_json(record: Record) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userId": record.userid,
        "date": _minute(record.date_ms),
        "type": record.type,
        "result": record.result,
        "showName": record.show_name,
    }
    if record.remark:
        data["remark"] = record.remark
    if record.activity_id:
        data["activityId"] = record.activity_id
    if record.cc_userids:
        data["ccUserIds"] = list(record.cc_userids)
    return data


def _task_json(base: str, instance: Instance, task: Task) -> dict[str, Any]:
    url = _task_url(base, instance, task)
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "userId": task.userid,
        "status": task.status,
        "result": task.result,
    }
    if task.create_ms is not None:
        data["createTime"] = _minute(task.create_ms)
    if task.finish_ms is not None:
        data["finishTime"] = _minute(task.finish_ms)
    data.update(
        mobileUrl=url,
        pcUrl=url,
        processInstanceId=instance.instance_id,
        activityId=task.activity_id,
    )
    return data


def instance_json(instance: Instance, base: str) -> dict[str, Any]:
    """``result`` of the new API's ``GET processInstances`` (§3.2)."""
    data: dict[str, Any] = {
        "title": instance.title,
        "businessId": instance.business_id,
        "createTime": _minute(instance.create_ms),
    }
    if instance.finish_ms is not None:
        data["finishTime"] = _minute(instance.finish_ms)
    data.update(
        originatorUserId=instance.originator_userid,
        originatorDeptId=str(instance.dept_id),
        originatorDeptName=instance.dept_name,
        status=instance.status,
        result=instance.result,
        approverUserIds=instance.approver_userids,
        ccUserIds=list(instance.cc_userids),
        operationRecords=[_record_json(record) for record in instance.records],
        tasks=[_task_json(base, instance, task) for task in instance.tasks],
        bizAction="NONE",
        attachedProcessInstanceIds=[],
        formComponentValues=[dict(value) for value in instance.form],
    )
    return data


def old_instance_json(instance: Instance, base: str) -> dict[str, Any]:
    """``process_instance`` of the old API's ``processinstance/get`` (§3.5)."""
    data: dict[str, Any] = {
        "title": instance.title,
        "create_time": _china(instance.create_ms),
    }
    if instance.finish_ms is not None:
        data["finish_time"] = _china(instance.finish_ms)
    data.update(
        originator_userid=instance.originator_userid,
        originator_dept_id=str(instance.dept_id),
        originator_dept_name=instance.dept_name,
        status=instance.status,
        result=instance.result,
        approver_userids=instance.approver_userids,
        cc_userids=list(instance.cc_userids),
        business_id=instance.business_id,
        biz_action="NONE",
        attached_process_instance_ids=[],
        form_component_values=[
            {
                "name": value["name"],
                "value": value["value"],
                **({"ext_value": value["extValue"]} if "extValue" in value else {}),
                "id": value["id"],
                "component_type": value["componentType"],
            }
            for value in instance.form
        ],
        operation_records=[
            {
                "userid": record.userid,
                "date": _china(record.date_ms),
                "operation_type": record.type,
                "operation_result": record.result,
                **({"remark": record.remark} if record.remark else {}),
                "attachments": [],
            }
            for record in instance.records
        ],
        tasks=[_old_task_json(base, instance, task) for task in instance.tasks],
    )
    return data


def _old_task_json(base: str, instance: Instance, task: Task) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userid": task.userid,
        "task_status": task.status,
        "task_result": task.result,
    }
    if task.create_ms is not None:
        data["create_time"] = _china(task.create_ms)
    if task.finish_ms is not None:
        data["finish_time"] = _china(task.finish_ms)
    data.update(
        taskid=str(task.task_id),  # a string in the old API
        url=_task_url(base, instance, task),
        activity_id=task.activity_id,
    )
    return data


def _name(org: Organization, userid: str) -> str:
    user = org.user(userid)
    return user.name if user is not None else userid


def _readable(component_type: str, text: str) -> str:
    """A structured form value as a person reads it."""
    if component_type in ("DDMultiSelectField", "DDDateRangeField"):
        try:
            items = parse_json_strict(text)
        except ValueError:
            return text
        if isinstance(items, list):
            joiner = " ~ " if component_type == "DDDateRangeField" else "、"
            return joiner.join(str(item) for item in items)
    return text


def _closing_remark(instance: Instance, task: Task) -> str | None:
    """The remark its approver gave when answering or handing over ``task``: DingTalk shows
    it under that approver in the instance's timeline."""
    for record in instance.records:
        if (
            record.userid == task.userid
            and record.activity_id == task.activity_id
            and record.date_ms == task.finish_ms
        ):
            return record.remark
    return None


def sandbox_json(instance: Instance, org: Organization) -> dict[str, Any]:
    """The chat page's view: names next to userIds, readable form values."""
    return {
        "instance_id": instance.instance_id,
        "title": instance.title,
        "business_id": instance.business_id,
        "process_code": instance.process_code,
        "process_name": instance.process_name,
        "originator": {
            "userid": instance.originator_userid,
            "name": _name(org, instance.originator_userid),
        },
        "dept_name": instance.dept_name,
        "status": instance.status,
        "result": instance.result,
        "create_time": _iso(instance.create_ms),
        "finish_time": _iso(instance.finish_ms),
        "form": [
            {
                "label": _readable("DDDateRangeField", value["name"])
                if value["componentType"] == "DDDateRangeField"
                else value["name"],
                "value": _readable(value["componentType"], value["value"]),
            }
            for value in instance.form
        ],
        "tasks": [
            {
                "task_id": task.task_id,
                "userid": task.userid,
                "name": _name(org, task.userid),
                "node": task.node + 1,
                "action_type": instance.nodes[task.node].action_type,
                "status": task.status,
                "result": task.result,
                "finish_time": _iso(task.finish_ms),
                "remark": _closing_remark(instance, task),
            }
            for task in instance.tasks
        ],
        "cc": [{"userid": u, "name": _name(org, u)} for u in instance.cc_userids],
        "records": [
            {
                "userid": record.userid,
                "name": _name(org, record.userid),
                "type": record.type,
                "result": record.result,
                "remark": record.remark,
                "date": _iso(record.date_ms),
            }
            for record in instance.records
        ],
    }
