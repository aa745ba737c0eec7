"""Approval instances and their state machine (§3.6). Pure: times are passed in (ms), ids
come from the caller, nothing is stored here.

    instance = new_instance(..., nodes=default_flow(org, originator), now=now, ...)
    execute(instance, task_id, "manager0001", "agree", remark=None, now=now)

Instance: ``RUNNING`` → ``COMPLETED`` with ``result`` ``agree`` (every node agreed) or
``refuse`` (any task refused), or → ``TERMINATED`` (withdrawn by the originator; ``result``
empty). Tasks: one per approver of each node, all created with the instance; the first
node's start ``RUNNING``, the others ``NEW`` until the node before them completes. A task
ends ``COMPLETED`` (``AGREE``/``REFUSE``), ``CANCELED`` (another approver of an OR node acted
first, or the instance was refused) or ``TERMINATED`` (the instance was withdrawn); a
redirected task ends ``COMPLETED`` with ``REDIRECTED`` and a new task takes its place.

Node kinds (``actionType``, §3.1): ``NONE`` one approver; ``AND`` every approver must agree
(any refusal refuses); ``OR`` the first answer decides.

Error codes where §3.4 names none are [I] and kept together in :data:`ERRORS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..contacts.org import Organization, User

__all__ = [
    "ERRORS",
    "ApprovalError",
    "Instance",
    "Node",
    "Record",
    "Task",
    "default_flow",
    "execute",
    "new_instance",
    "redirect",
    "terminate",
]

ActionType = Literal["AND", "OR", "NONE"]
#: Who approves after the originator's manager in a template's default flow: the leader of
#: the first of these departments the organisation has, else the boss [I].
_OFFICE_KINDS = ("finance", "admin", "hr")

#: code and message of each refusal; §3.1/§3.4 name the first three, the rest are [I].
ERRORS = {
    "not_found": ("processInstanceNotExist", "审批实例不存在"),
    "finished": ("aflowProcessInstStatusException", "审批实例已结束，不能再操作"),
    "too_soon": ("aflowProcessInstStatusException", "审批实例发起后{seconds}秒内不能撤销"),
    "not_originator": ("processInstanceInvalidParameter", "只有发起人可以撤销审批实例"),
    "no_task": ("taskNotExist", "审批任务不存在"),
    "not_running": ("taskStatusException", "审批任务不是待处理状态"),
    "not_actioner": ("actionerUserIdNotMatch", "actionerUserId 不是该审批任务的处理人"),
    "same_approver": ("taskRedirectInvalid", "不能转交给任务当前的处理人"),
}


class ApprovalError(Exception):
    """A refused operation: the new API answers HTTP 400 with ``code`` and ``message``."""

    def __init__(self, key: str, **details: Any) -> None:
        code, message = ERRORS[key]
        self.key = key
        self.code = code
        self.message = message.format(**details)
        super().__init__(f"{self.code}: {self.message}")


@dataclass(slots=True)
class Node:
    action_type: ActionType
    userids: list[str]
    activity_id: str


@dataclass(slots=True)
class Task:
    task_id: int
    userid: str
    node: int
    activity_id: str
    status: str = "NEW"  # NEW, RUNNING, COMPLETED, CANCELED, TERMINATED
    result: str = "NONE"  # NONE, AGREE, REFUSE, REDIRECTED
    create_ms: int | None = None
    finish_ms: int | None = None


@dataclass(slots=True)
class Record:
    """One line of ``operationRecords``."""

    userid: str
    date_ms: int
    type: str  # START_PROCESS_INSTANCE, EXECUTE_TASK_NORMAL, PROCESS_CC, ...
    result: str  # AGREE, REFUSE, NONE
    show_name: str
    remark: str | None = None
    activity_id: str | None = None
    cc_userids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Instance:
    instance_id: str
    process_code: str
    process_name: str
    title: str
    business_id: str
    originator_userid: str
    dept_id: int  # -1: the company (root) department
    dept_name: str
    create_ms: int
    form: list[dict[str, Any]]
    nodes: list[Node]
    tasks: list[Task]
    records: list[Record] = field(default_factory=list)
    cc_userids: list[str] = field(default_factory=list)
    cc_position: str = "START"
    agent_id: int | None = None
    status: str = "RUNNING"
    result: str = ""  # agree / refuse once COMPLETED
    finish_ms: int | None = None

    @property
    def approver_userids(self) -> list[str]:
        return list(dict.fromkeys(userid for node in self.nodes for userid in node.userids))

    def task(self, task_id: int) -> Task | None:
        return next((task for task in self.tasks if task.task_id == task_id), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Instance:
        return cls(
            **{
                **data,
                "nodes": [Node(**node) for node in data["nodes"]],
                "tasks": [Task(**task) for task in data["tasks"]],
                "records": [Record(**record) for record in data["records"]],
            }
        )


def activity_id(instance_id: str, index: int) -> str:
    """A node's id in DingTalk's short hex style (``"3f2a_9c1b"``) [I]."""
    digest = hashlib.sha1(f"{instance_id}:{index}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:4]}_{digest[4:8]}"


def default_flow(org: Organization, originator: User) -> list[tuple[ActionType, list[str]]]:
    """A template's own flow [I]: the originator's manager, then a fixed office approver (the
    leader of the finance, else admin, else HR department, else the boss). Nobody approves
    their own request when someone else can; the boss, with nobody above, approves alone."""
    office = next(
        (
            dept.leader
            for kind in _OFFICE_KINDS
            for dept in org.departments.values()
            if dept.level == 1 and dept.kind == kind and dept.leader is not None
        ),
        org.users[0],
    )
    chain = [originator.manager_userid, office.userid]
    steps = [u for u in dict.fromkeys(chain) if u is not None and u != originator.userid]
    return [("NONE", [userid]) for userid in steps or [org.users[0].userid]]


def new_instance(
    *,
    instance_id: str,
    process_code: str,
    process_name: str,
    title: str,
    business_id: str,
    originator: str,
    dept_id: int,
    dept_name: str,
    form: list[dict[str, Any]],
    steps: Sequence[tuple[ActionType, Sequence[str]]],
    task_ids: Sequence[int],
    now: int,
    cc_userids: Sequence[str] = (),
    cc_position: str = "START",
    agent_id: int | None = None,
) -> Instance:
    """A started instance: its tasks created (``task_ids``, one per approver in order), the
    first node running, the start (and a ``START`` cc) recorded."""
    ids = iter(task_ids)
    nodes = [
        Node(kind, list(userids), activity_id(instance_id, index))
        for index, (kind, userids) in enumerate(steps)
    ]
    tasks = [
        Task(next(ids), userid, index, node.activity_id)
        for index, node in enumerate(nodes)
        for userid in node.userids
    ]
    instance = Instance(
        instance_id=instance_id,
        process_code=process_code,
        process_name=process_name,
        title=title,
        business_id=business_id,
        originator_userid=originator,
        dept_id=dept_id,
        dept_name=dept_name,
        create_ms=now,
        form=form,
        nodes=nodes,
        tasks=tasks,
        cc_userids=list(cc_userids),
        cc_position=cc_position,
        agent_id=agent_id,
    )
    instance.records.append(Record(originator, now, "START_PROCESS_INSTANCE", "NONE", "发起审批"))
    if instance.cc_userids and cc_position in ("START", "START_FINISH"):
        _record_cc(instance, now)
    _activate(instance, 0, now)
    return instance


def _record_cc(instance: Instance, now: int) -> None:
    instance.records.append(
        Record(
            instance.originator_userid,
            now,
            "PROCESS_CC",
            "NONE",
            "抄送人",
            cc_userids=list(instance.cc_userids),
        )
    )


def _activate(instance: Instance, node: int, now: int) -> None:
    for task in instance.tasks:
        if task.node == node:
            task.status, task.create_ms = "RUNNING", now


def _close_open_tasks(instance: Instance, status: str, now: int) -> None:
    for task in instance.tasks:
        if task.status in ("NEW", "RUNNING"):
            task.status, task.finish_ms = status, now


def _finish(instance: Instance, result: str, now: int) -> None:
    _close_open_tasks(instance, "CANCELED", now)
    instance.status, instance.result, instance.finish_ms = "COMPLETED", result, now
    if instance.cc_userids and instance.cc_position in ("FINISH", "START_FINISH"):
        _record_cc(instance, now)


def execute(
    instance: Instance,
    task_id: int,
    actioner: str,
    result: Literal["agree", "refuse"],
    *,
    remark: str | None,
    now: int,
) -> None:
    """Agree to or refuse the running task ``task_id`` as ``actioner``.

    Raises:
        ApprovalError: no such task, someone else's, the instance is over, or the task is
            not running (done, canceled, or its node not reached yet).
    """
    task = instance.task(task_id)
    if task is None:
        raise ApprovalError("no_task")
    if task.userid != actioner:
        raise ApprovalError("not_actioner")
    if instance.status != "RUNNING":
        raise ApprovalError("finished")
    if task.status != "RUNNING":
        raise ApprovalError("not_running")
    task.status, task.result, task.finish_ms = "COMPLETED", result.upper(), now
    instance.records.append(
        Record(
            actioner,
            now,
            "EXECUTE_TASK_NORMAL",
            result.upper(),
            "审批人",
            remark=remark or None,
            activity_id=task.activity_id,
        )
    )
    if result == "refuse":
        _finish(instance, "refuse", now)
        return
    node = instance.nodes[task.node]
    siblings = [t for t in instance.tasks if t.node == task.node and t is not task]
    if node.action_type == "OR":
        for sibling in siblings:  # the first answer decides an OR node
            if sibling.status == "RUNNING":
                sibling.status, sibling.finish_ms = "CANCELED", now
    elif any(sibling.status == "RUNNING" for sibling in siblings):
        return  # an AND node waits for everyone
    if task.node + 1 < len(instance.nodes):
        _activate(instance, task.node + 1, now)
    else:
        _finish(instance, "agree", now)


def terminate(
    instance: Instance,
    operator: str | None,
    *,
    remark: str | None,
    now: int,
    min_age_ms: int,
) -> None:
    """Withdraw the instance: by its originator (``operator``), or by the system (``None``).

    Raises:
        ApprovalError: not the originator, the instance is over, or it was submitted less
            than ``min_age_ms`` ago (DingTalk's 15 s rule, §3.4).
    """
    if operator is not None and operator != instance.originator_userid:
        raise ApprovalError("not_originator")
    if instance.status != "RUNNING":
        raise ApprovalError("finished")
    if now - instance.create_ms < min_age_ms:
        raise ApprovalError("too_soon", seconds=f"{min_age_ms / 1000:g}")
    _close_open_tasks(instance, "TERMINATED", now)
    instance.records.append(
        Record(
            operator or instance.originator_userid,
            now,
            "TERMINATE_PROCESS_INSTANCE",
            "NONE",
            "撤销",
            remark=remark or None,
        )
    )
    instance.status, instance.result, instance.finish_ms = "TERMINATED", "", now


def redirect(
    instance: Instance,
    task_id: int,
    to_userid: str,
    *,
    remark: str | None,
    now: int,
    new_task_id: int,
) -> Task:
    """Hand the running task ``task_id`` over to ``to_userid`` (转交, §3.6); the new task.

    The reference documents no redirect API; the sandbox offers this as an action of its
    approvals view [I]. The old task ends ``COMPLETED``/``REDIRECTED``; a new running task for
    ``to_userid`` joins the same node, which keeps its rule (AND, OR, NONE).

    Raises:
        ApprovalError: no such task, the instance is over, the task is not running, or it
            already belongs to ``to_userid``.
    """
    task = instance.task(task_id)
    if task is None:
        raise ApprovalError("no_task")
    if instance.status != "RUNNING":
        raise ApprovalError("finished")
    if task.status != "RUNNING":
        raise ApprovalError("not_running")
    if task.userid == to_userid:
        raise ApprovalError("same_approver")
    task.status, task.result, task.finish_ms = "COMPLETED", "REDIRECTED", now
    successor = Task(new_task_id, to_userid, task.node, task.activity_id, "RUNNING", "NONE", now)
    instance.tasks.insert(instance.tasks.index(task) + 1, successor)
    node = instance.nodes[task.node]
    if to_userid not in node.userids:
        node.userids.append(to_userid)
    # [I] DingTalk's operation type for a hand-over; its result is NONE like a cc.
    instance.records.append(
        Record(
            task.userid,
            now,
            "REDIRECT_TASK",
            "NONE",
            "转交",
            remark=remark or None,
            activity_id=task.activity_id,
        )
    )
    return successor
