"""Approval, old API (§3.5): ``/topapi/processinstance/create``, ``/get`` and ``/listids``,
snake_case, with the same templates, checks and state as the new API (:mod:`.approval_common`).

Every refusal answers errcode 400002 with the message the new API gives [I: §3.5 lists no
codes]; the message of a form error is the same "表单数据校验失败，失败控件：<label>".
``approvers`` (a comma-separated string) are sequential single approvers; ``approvers_v2``
wins over it; ``cc_list`` only counts with approvers, as in the new API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from ...resources import approval as api
from ..gateway import params
from ..gateway.answers import ApiError, OapiError
from ..gateway.params import ParamError
from ..gateway.pipeline import Call, Gateway
from .instances import ApprovalError
from .service import (
    MAX_ID_PAGE,
    MAX_IDS,
    WindowError,
    base_url,
    id_window,
    load,
    now_ms,
    page_ids,
    start,
)
from .templates import processes_of
from .views import old_instance_json

__all__ = ["routes"]

_ERRCODE = 400002
_MAX_APPROVERS = api.MAX_APPROVER_STEPS
_MAX_OLD_FORM = 200
_ACTION_TYPES = ("AND", "OR", "NONE")


def _comma_list(body: dict[str, Any], name: str, *, max_items: int) -> list[str]:
    value = body.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    else:
        raise ParamError(f"参数 {name} 必须是逗号分隔的字符串")
    if len(items) > max_items or not all(isinstance(item, str) for item in items):
        raise ParamError(f"参数 {name} 最多{max_items}个")
    return items


def _old_steps(body: dict[str, Any]) -> list[tuple[str, list[str]]] | None:
    v2 = body.get("approvers_v2")
    if v2:
        if not isinstance(v2, list) or len(v2) > _MAX_APPROVERS:
            raise ParamError(f"参数 approvers_v2 必须是不超过{_MAX_APPROVERS}项的数组")
        steps = []
        for index, step in enumerate(v2):
            step = params.obj(step)
            kind = params.choice(step, "task_action_type", _ACTION_TYPES, default="NONE")
            userids = step.get("user_ids")
            if not isinstance(userids, list) or not userids:
                raise ParamError(f"approvers_v2[{index}].user_ids 不能为空")
            if kind == "NONE" and len(userids) > 1:
                raise ParamError(f"approvers_v2[{index}]: NONE 只能有一个审批人")
            steps.append((kind, [str(userid) for userid in userids]))
        return steps
    approvers = _comma_list(body, "approvers", max_items=_MAX_APPROVERS)
    return [("NONE", [userid]) for userid in approvers] or None


def _form(body: dict[str, Any]) -> list[dict[str, Any]]:
    values = body.get("form_component_values")
    if not isinstance(values, list) or len(values) > _MAX_OLD_FORM:
        raise ParamError(f"参数 form_component_values 必须是不超过{_MAX_OLD_FORM}项的数组")
    renamed = []
    for item in values:
        if isinstance(item, dict):
            item = {("extValue" if key == "ext_value" else key): v for key, v in item.items()}
        renamed.append(item)
    return renamed


def create(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    instance = start(
        call.sandbox,
        agent_id_of_app=call.app.agent_id,
        base=base_url(call.request),
        process_code=params.string(body, "process_code", max_length=128),
        originator_userid=params.string(body, "originator_user_id", max_length=64),
        dept_id=params.integer(body, "dept_id"),
        steps=_old_steps(body),
        cc_userids=_comma_list(body, "cc_list", max_items=20),
        cc_position=params.choice(
            body, "cc_position", ("START", "FINISH", "START_FINISH"), default="START"
        ),
        form=_form(body),
        agent_id=params.integer(body, "agent_id") if body.get("agent_id") is not None else None,
    )
    return {"process_instance_id": instance.instance_id}


def get(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    instance = load(call.sandbox, params.string(body, "process_instance_id", max_length=128))
    return {"process_instance": old_instance_json(instance, base_url(call.request))}


def listids(call: Call) -> dict[str, Any]:
    body = params.obj(call.body)
    code = params.string(body, "process_code", max_length=128)
    start_ms = params.integer(body, "start_time", minimum=0)
    end_ms = params.integer(body, "end_time", minimum=0) if body.get("end_time") else None
    size = params.integer(body, "size", default=10, minimum=1, maximum=MAX_ID_PAGE)
    cursor = params.integer(body, "cursor", default=0, minimum=0, maximum=MAX_IDS - 1)
    userids = _comma_list(body, "userid_list", max_items=10)
    if code not in processes_of(call.sandbox.config):
        raise OapiError(_ERRCODE, f"process_code 无效：{code}")
    try:
        window = id_window(start_ms, end_ms, now_ms(call.sandbox))
    except WindowError as exc:
        raise OapiError(_ERRCODE, exc.message) from None
    ids, more = page_ids(call.sandbox, code, window, userids, (), cursor, size)
    result: dict[str, Any] = {"list": ids}
    if more:  # no next_cursor: no more data (§3.5)
        result["next_cursor"] = cursor + size
    return {"result": result}


def _old_api(handler: Callable[[Call], dict[str, Any]]) -> Callable[[Call], dict[str, Any]]:
    """``handler`` with the new API's refusals answered as errcode 400002."""

    def run(call: Call) -> dict[str, Any]:
        try:
            return handler(call)
        except (ApiError, ApprovalError) as exc:
            raise OapiError(_ERRCODE, exc.message) from None

    return run


def routes(gateway: Gateway) -> list[Route]:
    return gateway.routes(
        [
            (api.INSTANCE_CREATE_OLD, _old_api(create)),
            (api.INSTANCE_GET_OLD, _old_api(get)),
            (api.INSTANCE_IDS_OLD, _old_api(listids)),
        ]
    )
