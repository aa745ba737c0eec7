"""Approval, new API (§3.1–§3.4), a template's form (:mod:`.form_schema`), the templates a user
can start (``/topapi/process/listbyuserid``), and the sandbox's own approvals view for the chat
page.

Templates and form checks are in :mod:`..processes`, the state machine in :mod:`..approvals`;
the old API's ``processinstance/*`` endpoints are in :mod:`.approval_old`; what both share
(starting an instance, the 120-day rules of §3.3) in :mod:`.approval_common`.

Choices where the reference is silent [I]:

- Without ``approvers`` the template's own flow applies: the originator's manager, then the
  leader of the finance (else admin, else HR) department, else the boss
  (:func:`..approvals.default_flow`). ``ccList`` counts only with ``approvers`` (§3.1).
- ``deptId`` ``-1`` (or ``1``) is the company, which everyone belongs to; any other must be
  one of the originator's departments. Without ``deptId`` (allowed with ``approvers``) the
  originator's main department is used.
- ``actionType`` ``NONE`` takes exactly one userId; an unknown approver or cc userId answers
  ``processInstanceInvalidParameter``; an unknown ``processCode`` ``processCodeError``.
- ``title`` is "<originator>提交的<template>" and ``businessId`` the China-time minute of
  submission plus a 6-digit sequence, as DingTalk's look. Task ids are 11-digit numbers.
- ``instanceIds/query``: pages of ``maxResults`` oldest first; ``nextToken`` is the next
  offset as a string and is left out on the last page; at most 10000 ids in all (§3.3).
- ``listbyuserid``: everyone may start every template; ``size`` defaults to 100.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._wire import parse_json_strict
from ...resources import approval as api
from .. import path_ids  # noqa: F401 (registers the {name:id} path parameter)
from ..gateway import params
from ..gateway.answers import OapiError
from ..gateway.params import ParamError
from ..gateway.pipeline import Call, Gateway
from .form_schema import form_schema
from .instances import ApprovalError, execute, redirect, terminate
from .service import (
    MAX_ID_PAGE,
    MAX_IDS,
    WindowError,
    bad,
    base_url,
    change,
    id_window,
    load,
    new_task_id,
    now_ms,
    page_ids,
    start,
)
from .templates import processes_of
from .views import instance_json, sandbox_json

if TYPE_CHECKING:
    from ..core import Sandbox

__all__ = ["routes"]

MAX_INITIATORS = api.MAX_INITIATORS
MAX_TEMPLATE_PAGE = api.MAX_TEMPLATE_PAGE
MAX_APPROVER_STEPS = api.MAX_APPROVER_STEPS
MAX_CC = api.MAX_CC
MAX_REMARK = api.MAX_REMARK
STATUSES = ("RUNNING", "TERMINATED", "COMPLETED")
_ACTION_TYPES = ("AND", "OR", "NONE")
_CC_POSITIONS = ("START", "FINISH", "START_FINISH")


def _long(body: dict[str, Any], name: str, code: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(code, f"{name} 必须是整数")
    return value


# -- new API ------------------------------------------------------------------------------


def _steps(body: dict[str, Any]) -> list[tuple[str, list[str]]] | None:
    approvers = body.get("approvers")
    if approvers is None or approvers == []:
        return None
    if not isinstance(approvers, list) or len(approvers) > MAX_APPROVER_STEPS:
        raise ParamError(f"approvers 必须是不超过{MAX_APPROVER_STEPS}项的数组")
    steps = []
    for index, step in enumerate(approvers):
        step = params.obj(step)
        kind = params.choice(step, "actionType", _ACTION_TYPES, default="NONE")
        userids = step.get("userIds")
        if not userids or not isinstance(userids, list):
            raise ParamError(f"approvers[{index}].userIds 不能为空")
        if not all(isinstance(userid, str) and userid for userid in userids):
            raise ParamError(f"approvers[{index}].userIds 必须是字符串数组")
        if kind == "NONE" and len(userids) > 1:
            raise ParamError(
                f"approvers[{index}]: actionType NONE 只能有一个审批人，多人用 AND 或 OR"
            )
        steps.append((kind, list(dict.fromkeys(userids))))
    return steps


def create(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    cc = body.get("ccList") or []
    if not isinstance(cc, list) or len(cc) > MAX_CC or not all(isinstance(u, str) for u in cc):
        raise ParamError(f"ccList 必须是不超过{MAX_CC}个userId的数组")
    if "formComponentValues" not in body:
        raise ParamError("缺少参数 formComponentValues")
    instance = start(
        call.sandbox,
        agent_id_of_app=call.app.agent_id,
        base=base_url(call.request),
        process_code=params.string(body, "processCode", max_length=128),
        originator_userid=params.string(body, "originatorUserId", max_length=64),
        dept_id=params.integer(body, "deptId") if body.get("deptId") is not None else None,
        steps=_steps(body),
        cc_userids=cc,
        cc_position=params.choice(body, "ccPosition", _CC_POSITIONS, default="START"),
        form=body["formComponentValues"],
        agent_id=_long(body, "microappAgentId", "invalidAgentId"),
    )
    return {"instanceId": instance.instance_id}


def get(call: Call) -> dict[str, Any]:
    instance_id = call.request.query_params.get("processInstanceId", "")
    if not instance_id.strip():
        raise bad("processInstanceIdError", "缺少参数 processInstanceId")
    instance = load(call.sandbox, instance_id)
    # `success` is the string "true" here, a boolean elsewhere (§3.2, GOTEA's type).
    return {"result": instance_json(instance, base_url(call.request)), "success": "true"}


def query(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    code = body.get("processCode")
    if not isinstance(code, str) or code not in processes_of(call.sandbox.config):
        raise bad("invalidProcessCode", f"processCode 无效：{code}")
    start_ms = _long(body, "startTime", "invalidInstanceListIdsStartTime")
    if start_ms is None:
        raise bad("invalidInstanceListIdsStartTime", "缺少参数 startTime")
    end_ms = _long(body, "endTime", "invalidEndTime")
    token = _long(body, "nextToken", "invalidNextToken")
    if token is None or not 0 <= token < MAX_IDS:
        raise bad("invalidNextToken", f"nextToken 无效：{body.get('nextToken')}")
    size = _long(body, "maxResults", "invalidMaxResults")
    if size is None or not 1 <= size <= MAX_ID_PAGE:
        raise bad("invalidMaxResults", f"maxResults 须在1到{MAX_ID_PAGE}之间")
    userids = body.get("userIds") or []
    if not isinstance(userids, list) or len(userids) > MAX_INITIATORS:
        raise bad("invalidUserIds", f"userIds 最多{MAX_INITIATORS}个")
    statuses = body.get("statuses") or []
    if not isinstance(statuses, list) or any(s not in STATUSES for s in statuses):
        raise ParamError(f"statuses 只能是 {'、'.join(STATUSES)}")
    try:
        window = id_window(start_ms, end_ms, now_ms(call.sandbox))
    except WindowError as exc:
        raise bad(exc.code, exc.message) from None
    ids, more = page_ids(call.sandbox, code, window, userids, statuses, token, size)
    result: dict[str, Any] = {"list": ids}
    if more:
        result["nextToken"] = str(token + size)
    return {"result": result, "success": True}


def _result(body: dict[str, Any]) -> Literal["agree", "refuse"]:
    result = body.get("result")
    if result == "agree":
        return "agree"
    if result == "refuse":
        return "refuse"
    raise ParamError("参数 result 必须是 agree 或 refuse")


def _remark(body: dict[str, Any]) -> str | None:
    remark = body.get("remark")
    if remark is not None and (not isinstance(remark, str) or len(remark) > MAX_REMARK):
        raise ParamError(f"remark 必须是不超过{MAX_REMARK}个字符的字符串")
    return remark


def execute_task(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    instance = load(call.sandbox, params.string(body, "processInstanceId", max_length=128))
    result = _result(body)
    actioner = params.string(body, "actionerUserId", max_length=64)
    task_id = params.integer(body, "taskId", minimum=1)
    remark = _remark(body)
    now = now_ms(call.sandbox)
    change(
        call.sandbox,
        instance,
        base_url(call.request),
        lambda: execute(instance, task_id, actioner, result, remark=remark, now=now),
    )
    return {"result": True, "success": True}


def terminate_instance(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    instance = load(call.sandbox, params.string(body, "processInstanceId", max_length=128))
    system = params.boolean(body, "isSystem", default=False)
    operator = body.get("operatingUserId")
    if not system and not (isinstance(operator, str) and operator):
        raise ParamError("缺少参数 operatingUserId（isSystem 为 false 时必填）")
    remark = _remark(body)
    delay = int(call.sandbox.config.approval_withdraw_delay * 1000)
    now = now_ms(call.sandbox)
    change(
        call.sandbox,
        instance,
        base_url(call.request),
        lambda: terminate(
            instance, None if system else str(operator), remark=remark, now=now, min_age_ms=delay
        ),
    )
    return {"result": True, "success": True}


def _new_api(handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
    """``handler`` with :class:`ApprovalError` answered as HTTP 400 and its code."""

    def run(call: Call) -> Any:
        try:
            return handler(call)
        except ApprovalError as exc:
            raise bad(exc.code, exc.message) from None

    return run


# -- templates (old API) --------------------------------------------------------------------


def templates(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    userid = params.string(body, "userid", max_length=64)
    offset = params.integer(body, "offset", default=0, minimum=0)
    size = params.integer(
        body, "size", default=MAX_TEMPLATE_PAGE, minimum=1, maximum=MAX_TEMPLATE_PAGE
    )
    if call.sandbox.org.user(userid) is None:
        raise OapiError(33012, "无效的userId")
    base = base_url(call.request)
    every = list(processes_of(call.sandbox.config).values())
    result: dict[str, Any] = {
        "process_list": [
            {
                "process_code": process.code,
                "name": process.name,
                "icon_url": f"{base}/static/demo-picture.svg",
                "url": f"{base}/#approvals",
            }
            for process in every[offset : offset + size]
        ]
    }
    if offset + size < len(every):
        result["next_cursor"] = offset + size
    return {"result": result}


# -- the chat page's view -------------------------------------------------------------------


def _refused(exc: ApprovalError) -> Response:
    status = 404 if exc.key in ("not_found", "no_task") else 409
    return JSONResponse({"error": exc.message, "code": exc.code}, status_code=status)


def routes(gateway: Gateway) -> list[Route]:
    sandbox: Sandbox = gateway.sandbox

    async def approvals_view(request: Request) -> Response:
        limit = request.query_params.get("limit", "200")
        if not limit.isdigit():
            return JSONResponse({"error": "limit must be a positive integer"}, status_code=400)
        found = sandbox.approvals.recent(min(max(int(limit), 1), 1000))
        return JSONResponse({"approvals": [sandbox_json(i, sandbox.org) for i in found]})

    async def act_on_task(request: Request) -> Response:
        """Approve or refuse a task as its approver (the chat page's buttons)."""
        try:
            body = params.obj(parse_json_strict(await request.body()))
            result = _result(body)
            remark = _remark(body)
            task_id = int(request.path_params["task_id"])
        except (ValueError, ParamError) as exc:
            return JSONResponse({"error": getattr(exc, "message", str(exc))}, status_code=400)
        try:
            instance = load(sandbox, request.path_params["instance_id"])
            task = instance.task(task_id)
            if task is None:
                raise ApprovalError("no_task")
            userid, now = task.userid, now_ms(sandbox)
            change(
                sandbox,
                instance,
                base_url(request),
                lambda: execute(instance, task_id, userid, result, remark=remark, now=now),
            )
        except ApprovalError as exc:
            return _refused(exc)
        return JSONResponse({"approval": sandbox_json(instance, sandbox.org)})

    async def redirect_task(request: Request) -> Response:
        """Hand a task over to another person (转交): the reference documents no API for it,
        so this sandbox action stands in for the approver doing it in DingTalk [I]."""
        try:
            body = params.obj(parse_json_strict(await request.body()))
            to = params.string(body, "to", max_length=64)
            remark = _remark(body)
        except (ValueError, ParamError) as exc:
            return JSONResponse({"error": getattr(exc, "message", str(exc))}, status_code=400)
        if sandbox.org.user(to) is None:
            return JSONResponse({"error": f"no user with userid {to!r}"}, status_code=400)
        task_id = request.path_params["task_id"]
        try:
            instance = load(sandbox, request.path_params["instance_id"])
            now, new_id = now_ms(sandbox), new_task_id(sandbox)
            change(
                sandbox,
                instance,
                base_url(request),
                lambda: redirect(instance, task_id, to, remark=remark, now=now, new_task_id=new_id),
            )
        except ApprovalError as exc:
            return _refused(exc)
        return JSONResponse({"approval": sandbox_json(instance, sandbox.org)})

    return [
        *gateway.routes(
            [
                (api.INSTANCE_CREATE, _new_api(create)),
                (api.INSTANCE_GET, _new_api(get)),
                (api.INSTANCE_IDS, query),
                (api.INSTANCE_EXECUTE, _new_api(execute_task)),
                (api.INSTANCE_TERMINATE, _new_api(terminate_instance)),
                (api.TEMPLATES, templates),
                (api.FORM_SCHEMA, form_schema),
            ]
        ),
        Route("/_sandbox/approvals", approvals_view, methods=["GET"]),
        Route(
            "/_sandbox/approvals/{instance_id}/tasks/{task_id:id}", act_on_task, methods=["POST"]
        ),
        Route(
            "/_sandbox/approvals/{instance_id}/tasks/{task_id:id}/redirect",
            redirect_task,
            methods=["POST"],
        ),
    ]
