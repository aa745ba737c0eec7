"""A template's form as DingTalk's form-schema endpoint describes it:
``GET /v1.0/workflow/forms/schemas/processCodes?processCode=<code>`` (declared once as
:data:`dingkit.resources.approval.FORM_SCHEMA`), built from the sandbox's templates.

The answer's shape and codes follow ``D:obtain-the-form-schema`` [C]: ``{"result": {"formCode",
"formUuid", "name", "schemaContent": {"title", "icon", "items": [{"componentName", "props":
{"id", "label", "required", "options", "format", "unit", "placeholder"}}]}, "status", ...}}``;
an unknown code is HTTP 400 ``formNotExist`` "审批表单模板不存在". Choices [I]: a missing
``processCode`` is ``invalidParameter`` "processCode is mandatory" (the text a third party
saw from the live API [O]); ``formUuid`` is derived from the code; a two-label date range's
``label`` is the list of both (see :class:`dingkit.resources.approval.FormField`).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..gateway.params import ParamError
from ..gateway.pipeline import Call
from .service import bad
from .template_config import FormComponentConfig, ProcessConfig
from .templates import component_id, processes_of

__all__ = ["form_schema", "schema_json"]

#: What the form shows in an empty field [I: DingTalk's usual wording].
_CHOOSE = ("DDSelectField", "DDMultiSelectField", "DDDateField", "DDDateRangeField")


def _item(process: ProcessConfig, component: FormComponentConfig) -> dict[str, Any]:
    props: dict[str, Any] = {
        "id": component_id(process, component),
        "label": component.label if isinstance(component.label, str) else list(component.label),
        "required": component.required,
        "placeholder": "请选择" if component.type in _CHOOSE else "请输入",
    }
    if component.options:
        props["options"] = list(component.options)
    if component.date_format:
        props["format"] = component.date_format
    if component.unit:
        props["unit"] = component.unit
    return {"componentName": component.type, "props": props}


def schema_json(process: ProcessConfig, corp_id: str) -> dict[str, Any]:
    """The ``result`` of the form-schema answer for ``process``."""
    return {
        "formCode": process.code,
        "formUuid": "FORM-" + str(uuid.uuid5(uuid.NAMESPACE_URL, process.code)).upper(),
        "name": process.name,
        "memo": "",
        "appUuid": corp_id,
        "ownerIdType": "orgId",
        "schemaContent": {
            "title": process.name,
            "icon": "common",
            "items": [_item(process, component) for component in process.form],
        },
        "appType": 0,
        "engineType": 0,
        "status": "PUBLISHED",
        "procType": "inner",
    }


def form_schema(call: Call) -> dict[str, Any]:
    code = call.request.query_params.get("processCode", "")
    if not code.strip():
        raise ParamError("processCode is mandatory")
    process = processes_of(call.sandbox.config).get(code)
    if process is None:
        raise bad("formNotExist", "审批表单模板不存在")
    return {"result": schema_json(process, call.sandbox.config.corp_id)}
