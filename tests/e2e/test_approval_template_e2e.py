"""client.approval.template against the sandbox, sync and async: the default templates' forms
as DingTalk's form-schema endpoint describes them, a date range filled in from them and read
back, and the answers for an unknown template and a value that does not fit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dingkit import BadRequestError, NotFoundError
from dingkit.resources.approval import FormSchema

if TYPE_CHECKING:
    from conftest import E2E

LEAVE_FORM = {"请假类型": "年假", "请假天数": 2, "请假事由": "探亲"}


def test_the_leave_template_describes_every_field(e2e: E2E) -> None:
    schema: FormSchema = e2e.run(lambda c: c.approval.template("PROC-LEAVE"))
    assert (schema.form_code, schema.name) == ("PROC-LEAVE", "请假")
    fields = {field.label: field for field in schema.fields}
    assert list(fields) == ["请假类型", "请假时间", "请假天数", "请假事由"]
    assert all(field.required and field.id for field in schema.fields)
    kind = fields["请假类型"]
    assert kind.type == "DDSelectField"
    assert kind.options[:3] == ("年假", "事假", "病假")
    span = fields["请假时间"]
    assert (span.type, span.name, span.format, span.props.unit) == (
        "DDDateRangeField",
        "请假时间",
        "yyyy-MM-dd",
        "天",
    )
    assert span.value_format.startswith('["YYYY-MM-DD","YYYY-MM-DD"]')
    assert fields["请假天数"].type == "NumberField"
    [call] = e2e.calls("/v1.0/workflow/forms/schemas/processCodes")
    assert (call.method, call.status) == ("GET", 200)


def test_a_range_filled_in_from_the_schema_is_stored_as_a_json_list(e2e: E2E) -> None:
    schema: FormSchema = e2e.run(lambda c: c.approval.template("PROC-LEAVE"))
    span = schema.field("请假时间")
    assert span is not None
    assert span.type == "DDDateRangeField"
    form = {**LEAVE_FORM, span.name: ("2026-12-10", "2026-12-11")}
    instance_id = e2e.run(lambda c: c.approval.create("PROC-LEAVE", "manager0001", form))
    stored = e2e.run(lambda c: c.approval.get(instance_id)).form()["请假时间"]
    assert json.loads(stored) == ["2026-12-10", "2026-12-11"]
    # The component ids of the schema are the ones the instance's values carry.
    instance = e2e.run(lambda c: c.approval.get(instance_id))
    ids = {value.name: value.id for value in instance.form_component_values}
    assert ids["请假时间"] == span.id


def test_an_unknown_template_is_form_not_exist(e2e: E2E) -> None:
    with pytest.raises(NotFoundError) as caught:
        e2e.run(lambda c: c.approval.template("PROC-NOPE"))
    assert (caught.value.code, caught.value.http_status) == ("formNotExist", 400)


def test_a_range_that_ends_first_names_the_field_and_its_format(e2e: E2E) -> None:
    form = {**LEAVE_FORM, "请假时间": ("2026-12-11", "2026-12-10")}
    with pytest.raises(BadRequestError) as caught:
        e2e.run(lambda c: c.approval.create("PROC-LEAVE", "manager0001", form))
    assert caught.value.code == "formConverterError"
    assert "失败控件：请假时间 (expected: " in str(caught.value)
    assert '["YYYY-MM-DD","YYYY-MM-DD"]' in str(caught.value)
