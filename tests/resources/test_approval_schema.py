"""client.approval.template (the form-schema endpoint) against a scripted DingTalk, both
clients: the request, DingTalk's documented answer read into fields, the shapes live forms
also use, and a success answer without what every form has is a ServerError naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dingkit import ServerError
from dingkit.resources.approval import FORM_SCHEMA, FormSchema, value_format

from .conftest import Driver, FakeDingTalk

PATH = "/v1.0/workflow/forms/schemas/processCodes"
#: The answer example of D:obtain-the-form-schema, cut to what the fields read, plus the
#: components a leave form has.
DOCUMENTED: dict[str, Any] = {
    "result": {
        "creatorUserId": "26652461xxxx5992",
        "formCode": "PROC-17428B8C-6C60-470E-xxxx-64F1037AE067",
        "formUuid": "FORM-28215C3E-00E3-4118-xxxx-4091F828AF2F",
        "name": "示例模板",
        "status": "PUBLISHED",
        "schemaContent": {
            "title": "示例模板",
            "icon": "common",
            "items": [
                {
                    "componentName": "TextField",
                    "props": {
                        "id": "TextField-K2AD4O5B",
                        "label": "单行输入框",
                        "bizAlias": "我的单行输入框",
                        "required": True,
                        "placeholder": "请输入文字",
                        "pushToCalendar": 1,
                    },
                    "children": [
                        {
                            "componentName": "TextField",
                            "props": {"id": "TextField-abcd", "label": "姓名", "required": True},
                        }
                    ],
                },
                {
                    "componentName": "DDSelectField",
                    "props": {
                        "id": "DDSelectField-1",
                        "label": "请假类型",
                        "required": True,
                        # Options as strings [C], objects and JSON-encoded objects [O].
                        "options": ["年假", {"key": "o1", "value": "事假"}, '{"value":"病假"}'],
                    },
                },
                {
                    "componentName": "DDDateRangeField",
                    "props": {
                        "id": "DDDateRangeField-1",
                        "label": ["开始时间", "结束时间"],
                        "format": "yyyy-MM-dd HH:mm",
                        "unit": "小时",
                    },
                },
                {"componentName": "DDDateField", "props": {"id": "DDDateField-1", "label": "日期"}},
            ],
        },
    }
}


def test_template_asks_the_form_schema_endpoint(fake: FakeDingTalk, dingtalk: Driver) -> None:
    fake.route("GET", PATH, DOCUMENTED)
    schema = dingtalk.run(lambda c: c.approval.template("PROC-17428B8C"))
    assert isinstance(schema, FormSchema)
    [call] = fake.calls
    assert (call.method, call.params, call.json) == ("GET", {"processCode": "PROC-17428B8C"}, None)
    assert "x-acs-dingtalk-access-token" in call.headers
    assert FORM_SCHEMA.scope == "Workflow.Form.Read"


def test_the_documented_answer_reads_into_fields(fake: FakeDingTalk, dingtalk: Driver) -> None:
    fake.route("GET", PATH, DOCUMENTED)
    schema: FormSchema = dingtalk.run(lambda c: c.approval.template("PROC-17428B8C"))
    assert schema.form_code == "PROC-17428B8C-6C60-470E-xxxx-64F1037AE067"
    text, select, span, day = schema.fields
    assert (text.id, text.label, text.type, text.required) == (
        "TextField-K2AD4O5B",
        "单行输入框",
        "TextField",
        True,
    )
    assert text.props.model_extra == {"pushToCalendar": 1}  # kept, not dropped
    assert [child.label for child in text.children] == ["姓名"]
    assert select.options == ("年假", "事假", "病假")
    assert (select.value_format, select.required) == ("one of the options", True)
    # A two-label range is named by both (§3.1), shown with both.
    assert span.name == '["开始时间","结束时间"]'
    assert span.label == "开始时间 ~ 结束时间"
    assert (span.required, span.format, span.props.unit) == (False, "yyyy-MM-dd HH:mm", "小时")
    assert span.value_format.startswith('["YYYY-MM-DD HH:mm","YYYY-MM-DD HH:mm"]')
    assert (day.format, day.value_format) == ("yyyy-MM-dd", "YYYY-MM-DD")  # the default
    assert schema.field("开始时间 ~ 结束时间") is span
    assert schema.field(span.name) is span
    assert schema.field("nope") is None
    # Dumped by alias, the keys are DingTalk's.
    dumped = schema.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped["schemaContent"]["items"][0]["props"]["bizAlias"] == "我的单行输入框"
    assert dumped["schemaContent"]["items"][2]["componentName"] == "DDDateRangeField"


def test_schema_content_may_come_as_a_json_string(fake: FakeDingTalk, dingtalk: Driver) -> None:
    content = DOCUMENTED["result"]["schemaContent"]
    answer = {"result": {"name": "x", "schemaContent": json.dumps(content)}}
    fake.route("GET", PATH, answer)
    schema = dingtalk.run(lambda c: c.approval.template("PROC-1"))
    assert len(schema.fields) == 4
    assert schema.form_code == "PROC-1"  # no formCode: the code asked for


ITEM = {"componentName": "TextField", "props": {"id": "TextField-1", "label": "x"}}


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({}, "result"),
        ({"result": None}, "result"),
        ({"result": {"name": "x"}}, "schemaContent"),
        ({"result": {"schemaContent": "not json"}}, "schemaContent"),
        ({"result": {"schemaContent": {"title": "x"}}}, "items"),
        ({"result": {"schemaContent": {"items": {"a": 1}}}}, "items"),
        ({"result": {"schemaContent": {"items": [{"props": {}}]}}}, "componentName"),
        ({"result": {"schemaContent": {"items": [{"componentName": "TextField"}]}}}, "props"),
        (
            {"result": {"schemaContent": {"items": [{**ITEM, "children": [{"props": {}}]}]}}},
            "componentName",
        ),
    ],
    ids=[
        "no result",
        "null result",
        "no schemaContent",
        "schemaContent not json",
        "no items",
        "items not a list",
        "item without componentName",
        "item without props",
        "child without componentName",
    ],
)
def test_a_form_without_its_guaranteed_fields_is_a_server_error(
    fake: FakeDingTalk, dingtalk: Driver, answer: dict[str, Any], field: str
) -> None:
    fake.route("GET", PATH, answer)
    with pytest.raises(ServerError, match=field) as caught:
        dingtalk.run(lambda c: c.approval.template("PROC-1"))
    assert PATH in str(caught.value)


def test_deeply_nested_option_text_is_text_not_a_crash(
    fake: FakeDingTalk, dingtalk: Driver
) -> None:
    hostile = "{" + "[" * 5000
    item = {"componentName": "DDSelectField", "props": {"id": "s", "options": [hostile]}}
    fake.route("GET", PATH, {"result": {"schemaContent": {"items": [item]}}})
    [field] = dingtalk.run(lambda c: c.approval.template("PROC-1")).fields
    assert field.options == (hostile,)


@pytest.mark.parametrize(
    ("component", "settings", "expected"),
    [
        ("DDDateField", {}, "YYYY-MM-DD"),
        ("DDDateField", {"date_format": "yyyy-MM-dd HH:mm"}, "YYYY-MM-DD HH:mm"),
        ("DDDateRangeField", {}, '["YYYY-MM-DD","YYYY-MM-DD"], a JSON list of start and end'),
        ("DDSelectField", {"options": ("A", "B")}, "one of: A | B"),
        ("DDMultiSelectField", {"options": ("A", "B")}, 'a JSON list of options, e.g. ["A"]'),
        ("NumberField", {}, "a number"),
        ("InnerContactField", {}, "a JSON list of userIds"),
        ("SomethingNew", {}, "a string"),
    ],
)
def test_value_formats(component: str, settings: dict[str, Any], expected: str) -> None:
    assert value_format(component, **settings).startswith(expected)
