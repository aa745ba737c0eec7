"""The form-schema endpoint (``GET /v1.0/workflow/forms/schemas/processCodes``) of the sandbox:
DingTalk's answer shape for the default templates and for configured ones, its refusals, and
that values are held to the formats it states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dingkit.sandbox import Sandbox
from dingkit.sandbox.approval.templates import EXPENSE_CODE, LEAVE_CODE, PURCHASE_CODE
from dingkit.sandbox.config import AppConfig

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
SCHEMA = "/v1.0/workflow/forms/schemas/processCodes"
INSTANCES = "/v1.0/workflow/processInstances"
SHIFT = "PROC-SHIFT"
#: A template with what the defaults lack: a two-label range and minute-precision dates.
PROCESSES = [
    {
        "code": SHIFT,
        "name": "调班",
        "form": [
            {"label": "原因", "type": "TextField", "required": True},
            {
                "label": ["开始时间", "结束时间"],
                "type": "DDDateRangeField",
                "format": "yyyy-MM-dd HH:mm",
                "unit": "小时",
                "required": True,
            },
            {"label": "交接时间", "type": "DDDateField", "format": "yyyy-MM-dd HH:mm"},
        ],
    }
]


async def schema(client: Any, code: str | None, **kwargs: Any) -> Any:
    params = {} if code is None else {"processCode": code}
    return await client.api("GET", SCHEMA, params=params, **kwargs)


@pytest.mark.parametrize(
    ("code", "name", "labels"),
    [
        (LEAVE_CODE, "请假", ["请假类型", "请假时间", "请假天数", "请假事由"]),
        (EXPENSE_CODE, "报销", ["报销类型", "报销金额（元）", "费用日期", "费用明细", "费用归属"]),
        (
            PURCHASE_CODE,
            "采购",
            ["采购事由", "物品类别", "数量", "预计金额（元）", "期望交付日期", "备注"],
        ),
    ],
)
async def test_the_default_templates_answer_in_dingtalks_shape(
    open_sandbox: OpenSandbox, connect: Connect, code: str, name: str, labels: list[str]
) -> None:
    client = connect(open_sandbox())
    response = await schema(client, code)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert (result["formCode"], result["name"], result["status"]) == (code, name, "PUBLISHED")
    assert result["formUuid"].startswith("FORM-")
    content = result["schemaContent"]
    assert content["title"] == name
    items = content["items"]
    assert [item["props"]["label"] for item in items] == labels
    for item in items:
        props, kind = item["props"], item["componentName"]
        assert props["id"].startswith(kind + "-")
        assert isinstance(props["required"], bool)
        assert ("options" in props) == (kind in ("DDSelectField", "DDMultiSelectField"))
        assert ("format" in props) == (kind in ("DDDateField", "DDDateRangeField"))


async def test_the_leave_form_has_a_one_label_date_range(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    items = (await schema(connect(open_sandbox()), LEAVE_CODE)).json()["result"]["schemaContent"]
    span = items["items"][1]
    assert span["componentName"] == "DDDateRangeField"
    assert {key: span["props"][key] for key in ("label", "required", "format", "unit")} == {
        "label": "请假时间",
        "required": True,
        "format": "yyyy-MM-dd",
        "unit": "天",
    }


async def test_a_configured_template_states_labels_formats_and_units(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox(processes=PROCESSES))
    items = (await schema(client, SHIFT)).json()["result"]["schemaContent"]["items"]
    reason, span, handover = (item["props"] for item in items)
    assert (reason["label"], reason["required"]) == ("原因", True)
    assert span["label"] == ["开始时间", "结束时间"]
    assert (span["format"], span["unit"]) == ("yyyy-MM-dd HH:mm", "小时")
    assert (handover["format"], handover["required"]) == ("yyyy-MM-dd HH:mm", False)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ('["2026-12-10 09:00","2026-12-10 18:00"]', True),
        ('["2026-12-10","2026-12-11"]', False),  # the template asks for minutes
        ('["2026-12-10 18:00","2026-12-10 09:00"]', False),  # ends before it starts
        ('["2026-12-10 25:00","2026-12-11 09:00"]', False),
    ],
)
async def test_values_are_held_to_the_stated_format(
    open_sandbox: OpenSandbox, connect: Connect, value: str, ok: bool
) -> None:
    sandbox = open_sandbox(processes=PROCESSES)
    body = {
        "processCode": SHIFT,
        "originatorUserId": sandbox.org.users[20].userid,
        "deptId": -1,
        "formComponentValues": [
            {"name": "原因", "value": "值班"},
            {"name": '["开始时间","结束时间"]', "value": value},
            {"name": "交接时间", "value": "2026-12-10 08:30"},
        ],
    }
    response = await connect(sandbox).api("POST", INSTANCES, body)
    assert (response.status_code == 200) is ok, response.text
    if not ok:
        assert response.json()["code"] == "formConverterError"
        assert response.json()["message"] == (
            '表单数据校验失败，失败控件：["开始时间","结束时间"] (expected: '
            '["YYYY-MM-DD HH:mm","YYYY-MM-DD HH:mm"], a JSON list of start and end, '
            "end not before start)"
        )


async def test_an_unknown_code_is_form_not_exist(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    response = await schema(connect(open_sandbox()), "PROC-NOPE")
    assert response.status_code == 400
    assert response.json()["code"] == "formNotExist"
    assert response.json()["message"] == "审批表单模板不存在"


@pytest.mark.parametrize("code", [None, "", "   "])
async def test_a_missing_code_is_a_parameter_error(
    open_sandbox: OpenSandbox, connect: Connect, code: str | None
) -> None:
    response = await schema(connect(open_sandbox()), code)
    assert response.status_code == 400
    assert response.json()["code"] == "invalidParameter"
    assert "processCode" in response.json()["message"]


async def test_reading_forms_needs_its_permission(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    starter = AppConfig(
        name="starter",
        app_key="dingstarter0001",
        app_secret="starter-secret-0001",
        scopes=("Workflow.Instance.Write",),
    )
    sandbox = open_sandbox()
    sandbox.add_app(starter)
    response = await schema(connect(sandbox), LEAVE_CODE, app=starter)
    assert response.status_code == 403
    assert response.json()["code"] == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    assert "Workflow.Form.Read" in response.json()["message"]


async def test_the_schema_ids_are_the_ids_instances_carry(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox)
    items = (await schema(client, LEAVE_CODE)).json()["result"]["schemaContent"]["items"]
    body = {
        "processCode": LEAVE_CODE,
        "originatorUserId": sandbox.org.users[20].userid,
        "deptId": -1,
        "formComponentValues": [
            {"name": "请假类型", "value": "年假"},
            {"name": "请假时间", "value": '["2026-12-10","2026-12-11"]'},
            {"name": "请假天数", "value": "2"},
            {"name": "请假事由", "value": "探亲"},
        ],
    }
    created = await client.api("POST", INSTANCES, body)
    assert created.status_code == 200, created.text
    instance = await client.api(
        "GET", INSTANCES, params={"processInstanceId": created.json()["instanceId"]}
    )
    values = instance.json()["result"]["formComponentValues"]
    assert [v["id"] for v in values] == [item["props"]["id"] for item in items]
    assert [v["componentType"] for v in values] == [item["componentName"] for item in items]
