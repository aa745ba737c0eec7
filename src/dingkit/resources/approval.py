"""Approval (OA 审批 / workflow), §3 of the protocol reference. No I/O.

The new API (``/v1.0/workflow/...``, camelCase) creates, reads, lists, approves and withdraws,
and describes a template's form (:func:`template`); the old one (``/topapi/...``, snake_case)
lists a user's templates and reads an instance. Both reads give one model,
:class:`ApprovalInstance`.

    >>> create("PROC-LEAVE", "manager0001", {"Reason": "trip", ("Start", "End"): (d1, d2)})
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._pagination import Page, PageFlow
from .._request import APIRequest, Endpoint
from ._approval_forms import (
    DATE_FORMATS,
    DEFAULT_DATE_FORMAT,
    MAX_FORM_COMPONENTS,
    MAX_VALUE_CHARS,
    Form,
    FormField,
    FormSchema,
    form_component_values,
    form_schema,
    value_format,
)
from ._approval_models import (
    ApprovalInstance,
    ApprovalTask,
    Attachment,
    FormComponentValue,
    OperationRecord,
    ProcessTemplate,
    from_old,
)
from ._models import guaranteed

__all__ = [
    "DATE_FORMATS",
    "DEFAULT_DATE_FORMAT",
    "FORM_SCHEMA",
    "INSTANCE_CREATE",
    "INSTANCE_CREATE_OLD",
    "INSTANCE_EXECUTE",
    "INSTANCE_GET",
    "INSTANCE_GET_OLD",
    "INSTANCE_IDS",
    "INSTANCE_IDS_OLD",
    "INSTANCE_TERMINATE",
    "MAX_APPROVER_STEPS",
    "MAX_CC",
    "MAX_FORM_COMPONENTS",
    "MAX_IDS",
    "MAX_INSTANCE_PAGE",
    "MAX_REMARK",
    "MAX_TEMPLATE_PAGE",
    "MAX_VALUE_CHARS",
    "TEMPLATES",
    "WINDOW",
    "ApprovalInstance",
    "ApprovalTask",
    "ApproverStep",
    "Attachment",
    "Form",
    "FormComponentValue",
    "FormField",
    "FormSchema",
    "OperationRecord",
    "ProcessTemplate",
    "create",
    "execute",
    "form_component_values",
    "get",
    "get_old",
    "instance_ids",
    "template",
    "templates",
    "terminate",
    "value_format",
]

MAX_INSTANCE_PAGE = 20  # maxResults (§3.3)
MAX_TEMPLATE_PAGE = 100  # listbyuserid `size` [I: not in the reference, named by the issue]
WINDOW = dt.timedelta(days=120)  # instanceIds/query: end - start ≤ 120 days (§3.3)
WINDOW_MS = int(WINDOW.total_seconds() * 1000)
MAX_INITIATORS = 10
MAX_APPROVER_STEPS = 20  # approvers (§3.1)
MAX_CC = 50  # ccList (§3.1)
MAX_REMARK = 1024  # execute / terminate remark (§3.4)
MAX_IDS = 10_000  # instance ids reachable by paging, in all (§3.3)
_INSTANCES = "/v1.0/workflow/processInstances"
Status = Literal["RUNNING", "TERMINATED", "COMPLETED"]

# The endpoints (§3). Permission points: §3.1 names Workflow.Instance.Write; the read one and
# the old API's are [I] (DingTalk's console lists the old approval APIs under qyapi_aflow).
INSTANCE_CREATE = Endpoint(
    "POST",
    _INSTANCES,
    scope="Workflow.Instance.Write",
    idempotent=False,  # a resend after a lost answer starts a second approval
)
INSTANCE_GET = Endpoint("GET", _INSTANCES, scope="Workflow.Instance.Read")
INSTANCE_IDS = Endpoint(
    "POST",
    "/v1.0/workflow/processes/instanceIds/query",
    scope="Workflow.Instance.Read",
    page_size=MAX_INSTANCE_PAGE,
)
INSTANCE_EXECUTE = Endpoint(
    "POST", _INSTANCES + "/execute", scope="Workflow.Instance.Write", idempotent=False
)
INSTANCE_TERMINATE = Endpoint(
    "POST", _INSTANCES + "/terminate", scope="Workflow.Instance.Write", idempotent=False
)
TEMPLATES = Endpoint(
    "POST", "/topapi/process/listbyuserid", scope="qyapi_aflow", page_size=MAX_TEMPLATE_PAGE
)
# A template's form [C, D:obtain-the-form-schema; GOTEA:workflow_1_0/client.go
# QuerySchemaByProcessCode]: see ._approval_schema.
FORM_SCHEMA = Endpoint(
    "GET", "/v1.0/workflow/forms/schemas/processCodes", scope="Workflow.Form.Read"
)
INSTANCE_CREATE_OLD = Endpoint(
    "POST", "/topapi/processinstance/create", scope="qyapi_aflow", idempotent=False
)
INSTANCE_GET_OLD = Endpoint("POST", "/topapi/processinstance/get", scope="qyapi_aflow")
INSTANCE_IDS_OLD = Endpoint(
    "POST", "/topapi/processinstance/listids", scope="qyapi_aflow", page_size=MAX_INSTANCE_PAGE
)


@dataclass(frozen=True, slots=True)
class ApproverStep:
    """One step of a custom approval flow: ``AND`` (everyone), ``OR`` (anyone) or ``NONE``
    (a single approver)."""

    user_ids: Sequence[str]
    action_type: Literal["AND", "OR", "NONE"] = "NONE"


def create(
    process_code: str,
    originator_userid: str,
    form: Form,
    *,
    dept_id: int = -1,
    approvers: Sequence[str | ApproverStep] | None = None,
    cc_list: Sequence[str] | None = None,
    cc_position: Literal["START", "FINISH", "START_FINISH"] | None = None,
    agent_id: int | None = None,
) -> APIRequest[str]:
    """Start an approval (new API, §3.1); the answer is the new instance's id.

    ``approvers`` replaces the template's flow: each step is a userId (one approver) or an
    :class:`ApproverStep`. ``cc_list`` only counts together with ``approvers``.
    """
    body: dict[str, Any] = {
        "processCode": process_code,
        "originatorUserId": originator_userid,
        "deptId": dept_id,
        "formComponentValues": form_component_values(form),
    }
    if agent_id is not None:
        body["microappAgentId"] = agent_id
    if approvers:
        steps = [ApproverStep([a]) if isinstance(a, str) else a for a in approvers]
        if len(steps) > MAX_APPROVER_STEPS:
            raise ValueError(f"at most {MAX_APPROVER_STEPS} approver steps")
        body["approvers"] = [
            {"actionType": step.action_type, "userIds": list(step.user_ids)} for step in steps
        ]
    if cc_list:
        if len(cc_list) > MAX_CC:
            raise ValueError(f"at most {MAX_CC} cc userIds")
        body["ccList"] = list(cc_list)
    if cc_position is not None:
        body["ccPosition"] = cc_position
    return INSTANCE_CREATE.request(json=body, parse=lambda d: str(d["instanceId"]))


def get(instance_id: str) -> APIRequest[ApprovalInstance]:
    """One instance, new API (§3.2). ``success`` may be the string ``"true"``; not needed."""
    return INSTANCE_GET.request(
        params={"processInstanceId": instance_id},
        parse=lambda d: ApprovalInstance.model_validate(
            {"processInstanceId": instance_id, **_instance(d, "result")}
        ),
    )


def get_old(instance_id: str) -> APIRequest[ApprovalInstance]:
    """One instance, old API (§3.5 ``get``), read into the same model as :func:`get`."""
    return INSTANCE_GET_OLD.request(
        json={"process_instance_id": instance_id},
        parse=lambda d: ApprovalInstance.model_validate(
            {"processInstanceId": instance_id, **from_old(_instance(d, "process_instance"))}
        ),
    )


def _instance(data: Any, name: str) -> dict[str, Any]:
    """The instance object of a get answer, which always states its status (§3.2, §3.5)."""
    found: dict[str, Any] = guaranteed(data, name, dict)
    guaranteed(found, "status", str)
    return found


def templates(userid: str, *, page_size: int = MAX_TEMPLATE_PAGE) -> PageFlow[ProcessTemplate]:
    """The process templates ``userid`` can start (old ``/topapi/process/listbyuserid``).

    [I] The reference names this endpoint but does not detail it: ``offset``/``size`` in,
    ``result.process_list`` out, and ``result.next_cursor`` (the next offset) while there is
    more, like its sibling ``processinstance/listids``.
    """
    if not 1 <= page_size <= MAX_TEMPLATE_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_TEMPLATE_PAGE}")
    offset = 0
    while True:
        page = yield TEMPLATES.request(
            json={"userid": userid, "offset": offset, "size": page_size},
            parse=_template_page,
        )
        if page.cursor is None or int(page.cursor) <= offset:
            return
        offset = int(page.cursor)


def template(process_code: str) -> APIRequest[FormSchema]:
    """The form of a template: each field's label, type, required flag, options and format
    (``GET /v1.0/workflow/forms/schemas/processCodes``)."""
    return FORM_SCHEMA.request(
        params={"processCode": process_code}, parse=lambda d: form_schema(d, process_code)
    )


def _template_page(data: dict[str, Any]) -> Page[ProcessTemplate]:
    found = data.get("result") or {}
    cursor = found.get("next_cursor")
    return Page(
        [ProcessTemplate.model_validate(x) for x in found.get("process_list") or []],
        has_more=cursor is not None,
        cursor=cursor,
    )


def _ms(value: dt.datetime | dt.date | int | float) -> int:
    """Milliseconds since the epoch; naive datetimes and dates are local time."""
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return int(value.timestamp() * 1000)


def _windows(start: int, end: int, span: int) -> list[tuple[int, int]]:
    """``[start, end]`` (ms) cut into consecutive windows of at most ``span``, not overlapping."""
    if end < start:
        raise ValueError("end is before start")
    cuts = []
    while True:
        stop = min(start + span, end)
        cuts.append((start, stop))
        if stop >= end:
            return cuts
        start = stop + 1


def instance_ids(
    process_code: str,
    start: dt.datetime | dt.date | int,
    end: dt.datetime | dt.date | int | None = None,
    *,
    userids: Sequence[str] | None = None,
    statuses: Sequence[Status] | None = None,
    page_size: int = MAX_INSTANCE_PAGE,
) -> PageFlow[str]:
    """The ids of a template's instances started between ``start`` and ``end`` (default now),
    oldest window first; a range over 120 days is asked window by window (§3.3).

    Times are datetimes, dates (local midnight) or epoch milliseconds.
    """
    if not 1 <= page_size <= MAX_INSTANCE_PAGE:
        raise ValueError(f"page_size must be between 1 and {MAX_INSTANCE_PAGE}")
    if userids is not None and len(userids) > MAX_INITIATORS:
        raise ValueError(f"at most {MAX_INITIATORS} initiator userids per query")
    seen: set[str] = set()
    stop = _ms(end) if end is not None else int(time.time() * 1000)
    for window_start, window_end in _windows(_ms(start), stop, WINDOW_MS):
        token = 0
        while True:
            body: dict[str, Any] = {
                "processCode": process_code,
                "startTime": window_start,
                "endTime": window_end,
                "nextToken": token,
                "maxResults": page_size,
            }
            if userids:
                body["userIds"] = list(userids)
            if statuses:
                body["statuses"] = list(statuses)
            page = yield INSTANCE_IDS.request(json=body, parse=lambda d: _id_page(d, seen))
            if not page.has_more or int(page.cursor) == token:
                break  # (a token that does not move would loop for ever)
            token = int(page.cursor)


def _id_page(data: dict[str, Any], seen: set[str]) -> Page[str]:
    # `seen` is the flow's: an instance on a window's edge is yielded once.
    found = data["result"]
    ids = [str(x) for x in found.get("list") or [] if str(x) not in seen]
    seen.update(ids)
    token = found.get("nextToken")
    return Page(ids, has_more=bool(token), cursor=token or None)


def execute(
    instance_id: str,
    task_id: int,
    actioner_userid: str,
    result: Literal["agree", "refuse"],
    remark: str | None = None,
) -> APIRequest[bool]:
    """Approve or refuse a task (§3.4)."""
    body: dict[str, Any] = {
        "processInstanceId": instance_id,
        "result": result,
        "actionerUserId": actioner_userid,
        "taskId": int(task_id),
    }
    if remark is not None:
        body["remark"] = remark
    return INSTANCE_EXECUTE.request(json=body, parse=lambda d: bool(d.get("result", True)))


def terminate(
    instance_id: str, operating_userid: str, remark: str | None = None
) -> APIRequest[bool]:
    """Withdraw an instance as its initiator (§3.4; not within 15 s of starting it)."""
    body: dict[str, Any] = {
        "processInstanceId": instance_id,
        "isSystem": False,
        "operatingUserId": operating_userid,
    }
    if remark is not None:
        body["remark"] = remark
    return INSTANCE_TERMINATE.request(json=body, parse=lambda d: bool(d.get("result", True)))
