from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from dingkit import BadRequestError
from dingkit.resources import approval
from dingkit.resources.approval import ApprovalInstance, ApproverStep

from .conftest import Driver, FakeDingTalk

INSTANCES = "/v1.0/workflow/processInstances"
QUERY = "/v1.0/workflow/processes/instanceIds/query"
TEMPLATES = "/topapi/process/listbyuserid"
UTC = dt.UTC
DAY_MS = 86_400_000

NEW_INSTANCE = {
    "title": "Li's leave",
    "businessId": "202405010001",
    "createTime": "2024-05-01T02:00Z",
    "finishTime": "2024-05-01T03:30Z",
    "originatorUserId": "u1",
    "originatorDeptId": "-1",
    "originatorDeptName": "Org",
    "status": "COMPLETED",
    "result": "agree",
    "approverUserIds": ["boss"],
    "ccUserIds": ["hr"],
    "bizAction": "NONE",
    "formComponentValues": [
        {"id": "c1", "name": "Days", "value": "2", "componentType": "NumberField"},
    ],
    "operationRecords": [
        {
            "userId": "u1",
            "date": "2024-05-01T02:00Z",
            "type": "START_PROCESS_INSTANCE",
            "result": "NONE",
        },
        {
            "userId": "boss",
            "date": "2024-05-01T03:30Z",
            "type": "EXECUTE_TASK_NORMAL",
            "result": "AGREE",
            "remark": "ok",
            "attachments": [{"fileName": "a.pdf", "fileSize": 10, "fileId": "f", "spaceId": 7}],
        },
    ],
    "tasks": [
        {
            "taskId": 61025,
            "userId": "boss",
            "status": "COMPLETED",
            "result": "AGREE",
            "createTime": "2024-05-01T02:00Z",
            "finishTime": "2024-05-01T03:30Z",
            "activityId": "act1",
        }
    ],
}

OLD_INSTANCE = {
    "title": "Li's leave",
    "business_id": "202405010001",
    "create_time": "2024-05-01 10:00:00",
    "finish_time": "2024-05-01 11:30:00",
    "originator_userid": "u1",
    "originator_dept_id": "-1",
    "originator_dept_name": "Org",
    "status": "COMPLETED",
    "result": "agree",
    "approver_userids": ["boss"],
    "cc_userids": ["hr"],
    "biz_action": "NONE",
    "form_component_values": [
        {"id": "c1", "name": "Days", "value": "2", "component_type": "NumberField"},
    ],
    "operation_records": [
        {
            "userid": "u1",
            "date": "2024-05-01 10:00:00",
            "operation_type": "START_PROCESS_INSTANCE",
            "operation_result": "NONE",
        },
        {
            "userid": "boss",
            "date": "2024-05-01 11:30:00",
            "operation_type": "EXECUTE_TASK_NORMAL",
            "operation_result": "AGREE",
            "remark": "ok",
            "attachments": [
                {"file_name": "a.pdf", "file_size": "10", "file_id": "f", "space_id": "7"}
            ],
        },
    ],
    "tasks": [
        {
            "taskid": "61025",
            "userid": "boss",
            "task_status": "COMPLETED",
            "task_result": "AGREE",
            "create_time": "2024-05-01 10:00:00",
            "finish_time": "2024-05-01 11:30:00",
            "activity_id": "act1",
        }
    ],
}


def test_get_reads_the_new_api_with_success_as_a_string(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    fake.route("GET", INSTANCES, {"result": NEW_INSTANCE, "success": "true"})
    found = dingtalk.run(lambda c: c.approval.get("pi-1"))
    assert fake.calls[0].params == {"processInstanceId": "pi-1"}
    assert fake.calls[0].headers["x-acs-dingtalk-access-token"] == "tok-secret-value"
    assert "access_token" not in fake.calls[0].params
    assert found.process_instance_id == "pi-1"
    assert found.approved
    assert found.create_time == dt.datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert found.tasks[0].task_id == 61025
    assert found.tasks[0].result == "AGREE"
    assert found.operation_records[1].attachments[0].file_size == "10"
    assert found.form() == {"Days": "2"}
    assert found.running_tasks == []


def test_get_old_gives_the_same_model(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route(
        "POST", "/topapi/processinstance/get", {"errcode": 0, "process_instance": OLD_INSTANCE}
    )
    old = dingtalk.run(lambda c: c.approval.get_old("pi-1"))
    assert fake.bodies() == [{"process_instance_id": "pi-1"}]
    new = ApprovalInstance.model_validate({"processInstanceId": "pi-1", **NEW_INSTANCE})
    # Old times have no zone: China time, the same instants as the new API's UTC ones.
    assert old.model_dump() == new.model_dump()


def test_create_encodes_the_form_by_the_rules(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("POST", INSTANCES, {"instanceId": "pi-new"})
    form = {
        "Reason": "trip",
        "Days": 2,
        "Amount": Decimal("12.50"),
        "Type": ["Annual"],
        "Day": dt.date(2024, 5, 1),
        ("Start", "End"): (dt.date(2024, 5, 1), dt.date(2024, 5, 3)),
        "Details": [[{"name": "Item", "value": "pen"}]],
        "Note": None,
    }
    instance = dingtalk.run(
        lambda c: c.approval.create(
            "PROC-1",
            "u1",
            form,
            approvers=["boss", ApproverStep(["a", "b"], "OR")],
            cc_list=["hr"],
        )
    )
    assert instance == "pi-new"
    assert fake.bodies() == [
        {
            "processCode": "PROC-1",
            "originatorUserId": "u1",
            "deptId": -1,
            "formComponentValues": [
                {"name": "Reason", "value": "trip"},
                {"name": "Days", "value": "2"},
                {"name": "Amount", "value": "12.50"},
                {"name": "Type", "value": '["Annual"]'},
                {"name": "Day", "value": "2024-05-01"},
                {"name": '["Start", "End"]', "value": '["2024-05-01", "2024-05-03"]'},
                {"name": "Details", "value": '[[{"name": "Item", "value": "pen"}]]'},
            ],
            "approvers": [
                {"actionType": "NONE", "userIds": ["boss"]},
                {"actionType": "OR", "userIds": ["a", "b"]},
            ],
            "ccList": ["hr"],
        }
    ]
    # Every structured value is a JSON string DingTalk can decode.
    values = fake.bodies()[0]["formComponentValues"]
    assert json.loads(values[5]["name"]) == ["Start", "End"]


def test_create_passes_ready_form_items_through() -> None:
    items = [{"name": "Reason", "value": "x", "extValue": "{}"}]
    assert approval.create("P", "u", items).json["formComponentValues"] == items
    assert approval.create("P", "u", items).idempotent is False


def test_form_refuses_bools_and_oversized_values() -> None:
    with pytest.raises(ValueError, match="not a bool"):
        approval.form_component_values({"Agree": True})
    with pytest.raises(ValueError, match="65535"):
        approval.form_component_values({"Text": "x" * 65536})


def test_template_pages(dingtalk: Driver, fake: FakeDingTalk) -> None:
    pages = {
        0: {"process_list": [{"process_code": "P1", "name": "Leave"}], "next_cursor": 100},
        100: {"process_list": [{"process_code": "P2", "name": "Expense"}], "next_cursor": 200},
        200: {"process_list": [{"process_code": "P3", "name": "Buy", "icon_url": "i"}]},
    }
    fake.route("POST", TEMPLATES, lambda call: {"errcode": 0, "result": pages[call.json["offset"]]})
    found = dingtalk.run(lambda c: c.approval.templates("u1"))
    assert [t.process_code for t in found] == ["P1", "P2", "P3"]
    assert fake.bodies() == [
        {"userid": "u1", "offset": 0, "size": 100},
        {"userid": "u1", "offset": 100, "size": 100},
        {"userid": "u1", "offset": 200, "size": 100},
    ]


@pytest.mark.parametrize(
    "result", [{}, {"process_list": []}, {"process_list": [{"process_code": "P"}]}]
)
def test_templates_empty_or_one_page_is_one_request(
    dingtalk: Driver, fake: FakeDingTalk, result: dict[str, Any]
) -> None:
    fake.route("POST", TEMPLATES, {"errcode": 0, "result": result})
    found = dingtalk.run(lambda c: c.approval.templates("u1"))
    assert len(found) == len(result.get("process_list", []))
    assert len(fake.calls) == 1


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_instance_ids_page_with_next_token(dingtalk: Driver, fake: FakeDingTalk) -> None:
    def answer(call: Any) -> dict[str, Any]:
        token = call.json["nextToken"]
        following = {0: "20", 20: "40", 40: ""}[token]
        ids = [f"pi-{token + i}" for i in range(20 if following else 3)]
        return {"result": {"list": ids, "nextToken": following}, "success": True}

    fake.route("POST", QUERY, answer)
    start, end = dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 2, 1, tzinfo=UTC)
    found = dingtalk.run(
        lambda c: c.approval.instance_ids(
            "PROC-1", start, end, userids=["u1"], statuses=["RUNNING"]
        )
    )
    assert found == [f"pi-{i}" for i in range(43)]
    assert fake.bodies() == [
        {
            "processCode": "PROC-1",
            "startTime": _ms(start),
            "endTime": _ms(end),
            "nextToken": token,
            "maxResults": 20,
            "userIds": ["u1"],
            "statuses": ["RUNNING"],
        }
        for token in (0, 20, 40)
    ]


@pytest.mark.parametrize("ids", [[], ["pi-1"]])
def test_instance_ids_empty_or_one_page(
    dingtalk: Driver, fake: FakeDingTalk, ids: list[str]
) -> None:
    fake.route("POST", QUERY, {"result": {"list": ids}, "success": True})
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert (
        dingtalk.run(lambda c: c.approval.instance_ids("P", start, start + dt.timedelta(1))) == ids
    )
    assert len(fake.calls) == 1


def test_a_long_range_is_split_into_120_day_windows_in_order(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    start = dt.datetime(2023, 1, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=300)

    s0 = _ms(start)
    created = [s0, s0 + 5, s0 + 120 * DAY_MS, s0 + 120 * DAY_MS + 1, s0 + 200 * DAY_MS, _ms(end)]

    def answer(call: Any) -> dict[str, Any]:
        # A sloppy server that also answers the millisecond before the window: the instance
        # on the first window's last millisecond comes back twice.
        low, high = call.json["startTime"] - 1, call.json["endTime"]
        ids = [f"pi-{t - s0}" for t in created if low <= t <= high]
        return {"result": {"list": ids}, "success": True}

    fake.route("POST", QUERY, answer)
    found = dingtalk.run(lambda c: c.approval.instance_ids("P", start, end))
    windows = [(b["startTime"], b["endTime"]) for b in fake.bodies()]
    assert windows == [
        (s0, s0 + 120 * DAY_MS),
        (s0 + 120 * DAY_MS + 1, s0 + 240 * DAY_MS + 1),
        (s0 + 240 * DAY_MS + 2, _ms(end)),
    ]
    assert all(stop - begin <= 120 * DAY_MS for begin, stop in windows)
    assert found == [f"pi-{t - s0}" for t in created]  # in order, each once


def test_exactly_120_days_is_one_window() -> None:
    start = dt.datetime(2023, 1, 1, tzinfo=UTC)
    flow = approval.instance_ids("P", start, start + dt.timedelta(days=120))
    first = next(flow)
    assert first.json["endTime"] - first.json["startTime"] == 120 * DAY_MS


def test_instance_ids_limits() -> None:
    with pytest.raises(ValueError, match="10 initiator"):
        next(approval.instance_ids("P", 0, 1, userids=[str(i) for i in range(11)]))
    with pytest.raises(ValueError, match="before start"):
        next(approval.instance_ids("P", 10, 1))


@pytest.mark.parametrize(("verb", "result"), [("approve", "agree"), ("refuse", "refuse")])
def test_approve_and_refuse(dingtalk: Driver, fake: FakeDingTalk, verb: str, result: str) -> None:
    fake.route("POST", INSTANCES + "/execute", {"result": True, "success": True})
    done = dingtalk.run(lambda c: getattr(c.approval, verb)("pi-1", 61025, "boss", "fine"))
    assert done is True
    assert fake.bodies() == [
        {
            "processInstanceId": "pi-1",
            "result": result,
            "actionerUserId": "boss",
            "taskId": 61025,
            "remark": "fine",
        }
    ]


def test_withdraw(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("POST", INSTANCES + "/terminate", {"result": True, "success": True})
    assert dingtalk.run(lambda c: c.approval.withdraw("pi-1", "u1")) is True
    assert fake.bodies() == [
        {"processInstanceId": "pi-1", "isSystem": False, "operatingUserId": "u1"}
    ]


def test_errors_are_raised_not_retried(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route(
        "POST",
        INSTANCES,
        (400, {"code": "processCodeError", "message": "模板不存在", "requestid": "r"}),
    )
    with pytest.raises(BadRequestError, match="processCodeError"):
        dingtalk.run(lambda c: c.approval.create("PROC-X", "u1", {"a": "b"}))
    assert len(fake.calls) == 1
