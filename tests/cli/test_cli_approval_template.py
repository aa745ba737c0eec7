"""``dingkit approval template CODE`` and date ranges given as ``START..END`` in ``approval
create --form``, through the real entry point against the sandbox."""

from __future__ import annotations

import json

import pytest

from dingkit.sandbox.config import AppConfig, SandboxConfig

LEAVE = ("--form", "请假类型=年假", "--form", "请假天数=2", "--form", "请假事由=探亲")
SHIFT = "PROC-CLI-SHIFT"
SPAN = '["开始时间","结束时间"]'
#: An app that may start approvals but not read forms (no Workflow.Form.Read).
STARTER = AppConfig(
    name="starter",
    app_key="dingclistarter0001",
    app_secret="cli-starter-secret-0001",
    scopes=("Workflow.Instance.Write", "Workflow.Instance.Read"),
)
CONFIG = {
    "limits": False,
    "seed": 5,
    "apps": [STARTER.model_dump()],
    "process": [
        {
            "code": SHIFT,
            "name": "调班",
            "form": [
                {"label": "原因", "type": "TextField", "required": True},
                {
                    "label": ["开始时间", "结束时间"],
                    "type": "DDDateRangeField",
                    "format": "yyyy-MM-dd HH:mm",
                    "required": True,
                },
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def shift_sandbox(openapi_sandbox_for):
    return openapi_sandbox_for(SandboxConfig.model_validate(CONFIG))


def _stored(cli, instance_id):
    got = cli.run("approval", "get", instance_id, "--json").assert_ok().json()
    return {item["name"]: item["value"] for item in got["formComponentValues"]}


def test_template_lists_each_field_and_json_keeps_dingtalks_keys(server_cli):
    human, as_json, narrow = server_cli.run_many(
        ["approval", "template", "PROC-LEAVE"],
        ["approval", "template", "PROC-LEAVE", "--json"],
        server_cli.call("approval", "template", "PROC-LEAVE", env={"COLUMNS": "20"}),
    )
    data = as_json.assert_ok().json()
    assert data["formCode"] == "PROC-LEAVE"
    items = data["schemaContent"]["items"]
    assert [item["componentName"] for item in items] == [
        "DDSelectField",
        "DDDateRangeField",
        "NumberField",
        "TextareaField",
    ]
    assert items[1]["props"]["label"] == "请假时间"
    assert items[1]["props"]["format"] == "yyyy-MM-dd"

    lines = human.assert_ok().stdout.splitlines()
    assert lines[0] == "PROC-LEAVE  请假  (4 fields)"
    for expected in (
        "请假类型  required",
        "  options:  年假 | 事假 | 病假 | 调休 | 婚假 | 产假 | 陪产假 | 丧假",
        "请假时间  required",
        "  type:     DDDateRangeField",
        "  format:   yyyy-MM-dd",
        '  value:    ["YYYY-MM-DD","YYYY-MM-DD"], a JSON list of start and end, '
        "end not before start",
        "  --form:   '请假时间=YYYY-MM-DD..YYYY-MM-DD'",
        "  type:     NumberField",
        "  value:    a number, e.g. 2 or 1.5",
    ):
        assert expected in lines, human
    # Every id whole on its own line, however narrow the terminal.
    for item in items:
        line = f"  id:       {item['props']['id']}"
        assert line in lines
        assert line in narrow.assert_ok().stdout.splitlines()


def test_a_date_range_given_as_start_dot_dot_end_is_sent_as_a_json_list(server_cli):
    created = server_cli.run(
        "approval", "create", "--process", "PROC-LEAVE", "--user", "manager0001",
        *LEAVE, "--form", "请假时间=2026-12-10..2026-12-11", "--json",
    )  # fmt: skip
    instance_id = created.assert_ok().json()["instance_id"]
    stored = _stored(server_cli, instance_id)["请假时间"]
    assert stored == '["2026-12-10", "2026-12-11"]'
    assert json.loads(stored) == ["2026-12-10", "2026-12-11"]


@pytest.mark.parametrize(
    "value",
    ["2026-12-11..2026-12-10", "2026-12-10", "2026/12/10..2026/12/11", "next week"],
    ids=["ends first", "one date", "slashes", "words"],
)
def test_a_bad_date_range_names_the_field_and_its_format(server_cli, value):
    result = server_cli.run(
        "approval", "create", "-p", "PROC-LEAVE", "-u", "manager0001",
        *LEAVE, "--form", f"请假时间={value}",
    )  # fmt: skip
    result.assert_failure(
        1, "formConverterError", "失败控件：请假时间", '["YYYY-MM-DD","YYYY-MM-DD"]'
    )


def test_an_unknown_template_is_one_error_line(server_cli):
    server_cli.run("approval", "template", "PROC-NOPE").assert_failure(1, "formNotExist")


def test_a_two_label_minute_range_takes_a_tilde_too(shift_sandbox, cli_with):
    cli = cli_with(shift_sandbox.env())
    shown = cli.run("approval", "template", SHIFT).assert_ok().stdout.splitlines()
    assert "开始时间 ~ 结束时间  required" in shown
    assert f"  name:     {SPAN}" in shown
    assert f"  --form:   '{SPAN}=YYYY-MM-DD HH:mm..YYYY-MM-DD HH:mm'" in shown
    created = cli.run(
        "approval", "create", "-p", SHIFT, "-u", "manager0001", "--form", "原因=值班",
        "--form", f"{SPAN}=2026-12-10 09:00 ~ 2026-12-10 18:00", "--json",
    )  # fmt: skip
    stored = _stored(cli, created.assert_ok().json()["instance_id"])[SPAN]
    assert json.loads(stored) == ["2026-12-10 09:00", "2026-12-10 18:00"]


def test_an_app_that_may_not_read_forms_still_gets_dated_ranges_converted(shift_sandbox, cli_with):
    cli = cli_with(shift_sandbox.env(STARTER))
    cli.run("approval", "template", SHIFT).assert_failure(1, "Workflow.Form.Read")
    created = cli.run(
        "approval", "create", "-p", SHIFT, "-u", "manager0001", "--form", "原因=值班",
        "--form", f"{SPAN}=2026-12-10 09:00..2026-12-11 09:00", "--json",
    )  # fmt: skip
    stored = _stored(cli, created.assert_ok().json()["instance_id"])[SPAN]
    assert json.loads(stored) == ["2026-12-10 09:00", "2026-12-11 09:00"]
    # Not dates at both ends: left as typed (the sandbox then names the field).
    cli.run(
        "approval", "create", "-p", SHIFT, "-u", "manager0001", "--form", "原因=a..b",
        "--form", f"{SPAN}=soon..later",
    ).assert_failure(1, "formConverterError", f"失败控件：{SPAN}")  # fmt: skip
