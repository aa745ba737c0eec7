"""The approval events (§7.6) a change to an instance causes, found by comparing the instance
before and after the change. Pure.

    before = copy.deepcopy(instance)
    execute(instance, ...)
    events = approval_events(before, instance, url=...)   # [(event_type, fields), ...]

- Started: ``bpms_instance_change`` ``start``, then ``bpms_task_change`` ``start`` for each
  task of the first node.
- A task agreed or refused: ``bpms_task_change`` ``finish`` with ``agree`` / ``refuse``;
  redirected: ``finish`` with ``redirect``, then ``start`` for the new approver's task.
- A running task canceled: ``bpms_task_change`` ``cancel`` (§7.6: the other approvers of an OR
  node once one acted). [I] The same goes to running tasks of an AND node that a refusal
  ended, as their approvers must learn the task is gone.
- A task of the next node reached: ``bpms_task_change`` ``start``.
- The instance finished: ``bpms_instance_change`` ``finish`` with its result; withdrawn:
  ``terminate``, without ``result``. [I] Withdrawing sends no task events: the reference
  documents none for it.

Task events come before the instance event of the same change, as the instance finishes
because its last task did. [I] ``bizCategoryId`` and ``businessType`` (instance events only,
as §7.6 shows it) are empty: the sandbox's templates have no business category or type.
"""

from __future__ import annotations

from typing import Any

from .instances import Instance, Task

__all__ = ["approval_events"]

#: One event to push: its type and its fields (new-format names).
EventPush = tuple[str, dict[str, Any]]
_OPEN = ("NEW", "RUNNING")
_RESULTS = {"AGREE": "agree", "REFUSE": "refuse", "REDIRECTED": "redirect"}


def _common(instance: Instance) -> dict[str, Any]:
    return {
        "processInstanceId": instance.instance_id,
        "processCode": instance.process_code,
        "bizCategoryId": "",
        "businessId": instance.business_id,
        "title": instance.title,
    }


def _instance_event(instance: Instance, kind: str, url: str) -> EventPush:
    # businessType is in §7.6's instance table only; the sandbox's templates have none [I].
    fields = {**_common(instance), "businessType": "", "type": kind}
    if kind == "finish":
        fields["result"] = instance.result
    fields.update(staffId=instance.originator_userid, createTime=instance.create_ms)
    if instance.finish_ms is not None and kind != "start":
        fields["finishTime"] = instance.finish_ms
    fields["url"] = url
    return "bpms_instance_change", fields


def _remark(instance: Instance, task: Task) -> str | None:
    for record in reversed(instance.records):
        if record.userid == task.userid and record.activity_id == task.activity_id:
            return record.remark
    return None


def _task_event(instance: Instance, task: Task, kind: str) -> EventPush:
    fields = {**_common(instance), "type": kind}
    if kind == "finish":
        fields["result"] = _RESULTS.get(task.result, task.result.lower())
        remark = _remark(instance, task)
        if remark:
            fields["remark"] = remark
    fields.update(staffId=task.userid, taskId=task.task_id)
    if task.create_ms is not None:
        fields["createTime"] = task.create_ms
    if task.finish_ms is not None and kind != "start":
        fields["finishTime"] = task.finish_ms
    return "bpms_task_change", fields


def approval_events(before: Instance | None, after: Instance, *, url: str) -> list[EventPush]:
    """What subscribers hear about the change from ``before`` (``None``: a new instance) to
    ``after``; ``url`` is the instance's page."""
    events: list[EventPush] = []
    if before is None:
        events.append(_instance_event(after, "start", url))
    old = {task.task_id: task for task in before.tasks} if before else {}
    starts: list[EventPush] = []
    for task in after.tasks:
        prior = old.get(task.task_id)
        was = prior.status if prior is not None else None
        if task.status == "RUNNING" and was != "RUNNING":
            starts.append(_task_event(after, task, "start"))
        elif was in (None, *_OPEN) and task.status == "COMPLETED":
            events.append(_task_event(after, task, "finish"))
        elif was == "RUNNING" and task.status == "CANCELED":
            events.append(_task_event(after, task, "cancel"))
    events.extend(starts)
    if before is None:
        return events
    if before.status == "RUNNING" and after.status == "COMPLETED":
        events.append(_instance_event(after, "finish", url))
    elif before.status == "RUNNING" and after.status == "TERMINATED":
        events.append(_instance_event(after, "terminate", url))
    return events
