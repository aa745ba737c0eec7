"""Approval (OA 审批 / workflow), §3 of the protocol reference. No I/O.

The new API (``/v1.0/workflow/...``, camelCase) creates, reads, lists, approves and withdraws;
the old one (``/topapi/...``, snake_case) lists a user's templates and reads an instance. Both
reads give one model, :class:`ApprovalInstance`.

    >>> create("PROC-LEAVE", "manager0001", {"Reason": "trip", ("Start", "End"): (d1, d2)})
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from .._pagination import Page, PageFlow
from .._request import APIRequest, Endpoint
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
    "TEMPLATES",
    "WINDOW",
    "ApprovalInstance",
    "ApprovalTask",
    "ApproverStep",
    "Attachment",
    "Form",
    "FormComponentValue",
    "OperationRecord",
    "ProcessTemplate",
    "create",
    "execute",
    "form_component_values",
    "get",
    "get_old",
    "instance_ids",
    "templates",
    "terminate",
]

MAX_INSTANCE_PAGE = 20  # maxResults (§3.3)
MAX_TEMPLATE_PAGE = 100  # listbyuserid `size` [I: not in the reference, named by the issue]
WINDOW = dt.timedelta(days=120)  # instanceIds/query: end - start ≤ 120 days (§3.3)
WINDOW_MS = int(WINDOW.total_seconds() * 1000)
MAX_INITIATORS = 10
MAX_VALUE_CHARS = 65535  # a form value (§3.1)
MAX_FORM_COMPONENTS = 150  # formComponentValues (§3.1)
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


# -- form values (§3.1: every value is a string, JSON-encoded when structured) --


def _scalar(value: Any, label: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"form field {label!r}: pass a string (the option's text), not a bool")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()  # yyyy-MM-dd
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _encode(value: Any, label: str) -> str:
    if isinstance(value, list | tuple):
        # Multi-select, contacts, images, related approvals, tables, attachments.
        items = [
            item if isinstance(item, dict | list | tuple) else _scalar(item, label)
            for item in value
        ]
        return json.dumps(items, ensure_ascii=False, default=lambda v: _scalar(v, label))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=lambda v: _scalar(v, label))
    scalar = _scalar(value, label)
    if not isinstance(scalar, str):
        raise ValueError(f"form field {label!r}: cannot encode {type(value).__name__}")
    return scalar


Form = Mapping[str | tuple[str, str], Any] | Iterable[Mapping[str, Any] | FormComponentValue]


def form_component_values(form: Form) -> list[dict[str, Any]]:
    """``formComponentValues`` from ``{label: value}``, encoded by §3.1's rules.

    - strings as they are; numbers as strings; dates as ``yyyy-MM-dd``;
    - lists (multi-select, contacts, images...) as a JSON array string, even for one item;
    - a date range under a pair of labels: ``{("Start", "End"): (d1, d2)}``;
    - ``None`` leaves the field out.

    A list of ready ``{"name", "value", ...}`` items is passed through as it is.
    """
    values: list[dict[str, Any]] = []
    if not isinstance(form, Mapping):
        for item in form:
            if isinstance(item, FormComponentValue):
                values.append(item.model_dump(by_alias=True, exclude_none=True))
            else:
                values.append(dict(item))
        return values
    for label, value in form.items():
        if value is None:
            continue
        if isinstance(label, tuple):
            name = json.dumps(list(label), ensure_ascii=False)
            encoded = _encode(list(value), name)
        else:
            name, encoded = label, _encode(value, label)
        if len(encoded) > MAX_VALUE_CHARS:
            raise ValueError(f"form field {name!r} is over {MAX_VALUE_CHARS} characters")
        values.append({"name": name, "value": encoded})
    if len(values) > MAX_FORM_COMPONENTS:
        raise ValueError(f"at most {MAX_FORM_COMPONENTS} form fields per instance")
    return values


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
