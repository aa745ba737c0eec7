from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit import AsyncDingTalk, DingTalk
from dingkit.resources.approval import ApproverStep
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox.approval.templates import EXPENSE_CODE, LEAVE_CODE, PURCHASE_CODE
from dingkit.sandbox.config import AppConfig, ProcessConfig, SandboxConfig, load_config
from dingkit.sandbox.contacts.org import BOSS_USERID, User

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
OpenApi = Any  # tests/sandbox/conftest.py's client (this folder is not a package)
Connect = Callable[..., OpenApi]
#: The credentials of the app open_sandbox adds (tests/sandbox/conftest.py).
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
INSTANCES = "/v1.0/workflow/processInstances"
QUERY = "/v1.0/workflow/processes/instanceIds/query"
EXECUTE = INSTANCES + "/execute"
TERMINATE = INSTANCES + "/terminate"
OLD = "/topapi/processinstance/"
TEMPLATES = "/topapi/process/listbyuserid"
DAY_MS = 86_400_000
RANGE = "请假时间"  # the default leave form's date range (one label)
LEAVE_FORM = [
    {"name": "请假类型", "value": "年假"},
    {"name": RANGE, "value": '["2024-05-01","2024-05-02"]'},
    {"name": "请假天数", "value": "2"},
    {"name": "请假事由", "value": "family trip"},
]
NEW_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ")
OLD_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
INSTANCE_FIELDS = {
    "title", "businessId", "createTime", "originatorUserId", "originatorDeptId",
    "originatorDeptName", "status", "result", "approverUserIds", "ccUserIds",
    "operationRecords", "tasks", "bizAction", "attachedProcessInstanceIds",
    "formComponentValues",
}  # fmt: skip
TASK_FIELDS = {
    "taskId", "userId", "status", "result", "createTime", "mobileUrl", "pcUrl",
    "processInstanceId", "activityId",
}  # fmt: skip


class Approvals:
    """Raw approval calls against one sandbox on the fake clock (QPS limit off)."""

    def __init__(self, sandbox: Sandbox, client: OpenApi) -> None:
        self.sandbox = sandbox
        self.client = client
        self.org = sandbox.org

    def now_ms(self) -> int:
        return int(self.sandbox.clock() * 1000)

    def people(self, count: int) -> list[User]:
        """``count`` ordinary people (not the boss)."""
        return self.org.users[5 : 5 + count]

    def body(self, **overrides: Any) -> dict[str, Any]:
        return {
            "processCode": LEAVE_CODE,
            "originatorUserId": self.org.users[20].userid,
            "deptId": -1,
            "formComponentValues": LEAVE_FORM,
            **overrides,
        }

    async def create(self, **overrides: Any) -> str:
        response = await self.client.api("POST", INSTANCES, self.body(**overrides))
        assert response.status_code == 200, response.text
        instance_id: str = response.json()["instanceId"]
        return instance_id

    async def refused(self, method: str, path: str, body: Any = None, **kwargs: Any) -> str:
        """The ``code`` of a refused call (HTTP 400)."""
        response = await self.client.api(method, path, body, **kwargs)
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"code", "message", "requestid"}
        code: str = response.json()["code"]
        return code

    async def get(self, instance_id: str) -> dict[str, Any]:
        response = await self.client.api(
            "GET", INSTANCES, params={"processInstanceId": instance_id}
        )
        assert response.status_code == 200, response.text
        assert response.json()["success"] == "true"  # a string here (§3.2)
        result: dict[str, Any] = response.json()["result"]
        return result

    async def execute(
        self, instance_id: str, task: dict[str, Any], result: str = "agree", **extra: Any
    ) -> httpx.Response:
        body = {
            "processInstanceId": instance_id,
            "taskId": task["taskId"],
            "actionerUserId": task["userId"],
            "result": result,
            **extra,
        }
        return await self.client.api("POST", EXECUTE, body)

    async def act(self, instance_id: str, task: dict[str, Any], result: str = "agree") -> None:
        response = await self.execute(instance_id, task, result)
        assert response.status_code == 200, response.text
        assert response.json() == {"result": True, "success": True}


@pytest.fixture
def approvals(open_sandbox: OpenSandbox, connect: Connect) -> Callable[..., Approvals]:
    def make(**settings: Any) -> Approvals:
        sandbox = open_sandbox(qps=0, **settings)
        return Approvals(sandbox, connect(sandbox))

    return make


def statuses(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return [(task["status"], task["result"]) for task in instance["tasks"]]


# -- create and get ------------------------------------------------------------------------


async def test_create_then_get_has_the_documented_shape(
    approvals: Callable[..., Approvals],
) -> None:
    flow = approvals()
    instance_id = await flow.create()
    instance = await flow.get(instance_id)
    assert set(instance) == INSTANCE_FIELDS  # no finishTime while running
    originator = flow.org.users[20]
    assert instance["title"] == f"{originator.name}提交的请假"
    assert NEW_TIME.fullmatch(instance["createTime"])
    assert re.fullmatch(r"\d{18}", instance["businessId"])
    assert (instance["status"], instance["result"]) == ("RUNNING", "")
    assert instance["originatorUserId"] == originator.userid
    assert (instance["originatorDeptId"], instance["originatorDeptName"]) == (
        "-1",
        "沙箱科技有限公司",
    )
    values = {v["name"]: v for v in instance["formComponentValues"]}
    assert values["请假类型"]["value"] == "年假"
    assert values["请假类型"]["componentType"] == "DDSelectField"
    assert values[RANGE]["componentType"] == "DDDateRangeField"
    assert re.fullmatch(r"DDSelectField-[0-9A-F]{8}", values["请假类型"]["id"])
    [start] = instance["operationRecords"]
    assert (start["type"], start["result"], start["userId"]) == (
        "START_PROCESS_INSTANCE",
        "NONE",
        originator.userid,
    )
    first = instance["tasks"][0]
    assert set(first) == TASK_FIELDS
    assert isinstance(first["taskId"], int)
    assert first["processInstanceId"] == instance_id


async def test_default_flow_is_the_managers_then_an_office_approver(
    approvals: Callable[..., Approvals],
) -> None:
    flow = approvals()
    originator = next(u for u in flow.org.users if u.manager_userid not in (None, BOSS_USERID))
    instance = await flow.get(await flow.create(originatorUserId=originator.userid))
    assert instance["approverUserIds"] == [originator.manager_userid, BOSS_USERID]
    assert statuses(instance) == [("RUNNING", "NONE"), ("NEW", "NONE")]
    assert "createTime" not in instance["tasks"][1]  # not reached yet
    # The boss has nobody above: approves alone.
    boss = await flow.get(await flow.create(originatorUserId=BOSS_USERID))
    assert boss["approverUserIds"] == [BOSS_USERID]


async def test_sequential_nodes_activate_in_order(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    first, second = (u.userid for u in flow.people(2))
    instance_id = await flow.create(
        approvers=[
            {"actionType": "NONE", "userIds": [first]},
            {"actionType": "NONE", "userIds": [second]},
        ]
    )
    instance = await flow.get(instance_id)
    await flow.act(instance_id, instance["tasks"][0])
    instance = await flow.get(instance_id)
    assert instance["status"] == "RUNNING"
    assert statuses(instance) == [("COMPLETED", "AGREE"), ("RUNNING", "NONE")]
    await flow.act(instance_id, instance["tasks"][1])
    instance = await flow.get(instance_id)
    assert (instance["status"], instance["result"]) == ("COMPLETED", "agree")
    assert NEW_TIME.fullmatch(instance["finishTime"])
    assert [r["type"] for r in instance["operationRecords"]] == [
        "START_PROCESS_INSTANCE",
        "EXECUTE_TASK_NORMAL",
        "EXECUTE_TASK_NORMAL",
    ]
    assert [r["result"] for r in instance["operationRecords"]] == ["NONE", "AGREE", "AGREE"]


async def test_or_node_first_answer_decides_and_cancels_the_others(
    approvals: Callable[..., Approvals],
) -> None:
    flow = approvals()
    people = [u.userid for u in flow.people(3)]
    instance_id = await flow.create(approvers=[{"actionType": "OR", "userIds": people}])
    instance = await flow.get(instance_id)
    assert statuses(instance) == [("RUNNING", "NONE")] * 3
    await flow.act(instance_id, instance["tasks"][1])
    instance = await flow.get(instance_id)
    assert (instance["status"], instance["result"]) == ("COMPLETED", "agree")
    assert statuses(instance) == [
        ("CANCELED", "NONE"),
        ("COMPLETED", "AGREE"),
        ("CANCELED", "NONE"),
    ]


async def test_and_node_waits_for_everyone(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    people = [u.userid for u in flow.people(2)]
    instance_id = await flow.create(approvers=[{"actionType": "AND", "userIds": people}])
    instance = await flow.get(instance_id)
    await flow.act(instance_id, instance["tasks"][0])
    assert (await flow.get(instance_id))["status"] == "RUNNING"
    await flow.act(instance_id, instance["tasks"][1])
    assert (await flow.get(instance_id))["result"] == "agree"


async def test_a_refusal_ends_the_instance_and_cancels_open_tasks(
    approvals: Callable[..., Approvals],
) -> None:
    flow = approvals()
    a, b, c = (u.userid for u in flow.people(3))
    instance_id = await flow.create(
        approvers=[
            {"actionType": "AND", "userIds": [a, b]},
            {"actionType": "NONE", "userIds": [c]},
        ]
    )
    instance = await flow.get(instance_id)
    response = await flow.execute(instance_id, instance["tasks"][0], "refuse", remark="no budget")
    assert response.status_code == 200, response.text
    instance = await flow.get(instance_id)
    assert (instance["status"], instance["result"]) == ("COMPLETED", "refuse")
    assert statuses(instance) == [
        ("COMPLETED", "REFUSE"),
        ("CANCELED", "NONE"),
        ("CANCELED", "NONE"),
    ]
    record = instance["operationRecords"][-1]
    assert (record["result"], record["remark"]) == ("REFUSE", "no budget")


async def test_execute_errors(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    a, b = (u.userid for u in flow.people(2))
    instance_id = await flow.create(approvers=[{"userIds": [a]}, {"userIds": [b]}])
    first, second = (await flow.get(instance_id))["tasks"]
    body = {"processInstanceId": instance_id, "taskId": first["taskId"], "result": "agree"}
    assert await flow.refused("POST", EXECUTE, {**body, "actionerUserId": b}) == (
        "actionerUserIdNotMatch"
    )
    assert await flow.refused("POST", EXECUTE, {**body, "actionerUserId": a, "taskId": 1}) == (
        "taskNotExist"
    )
    assert await flow.refused("POST", EXECUTE, {**body, "actionerUserId": a, "result": "ok"}) == (
        "invalidParameter"
    )
    # The second node is not reached yet.
    assert (await flow.execute(instance_id, second)).json()["code"] == "taskStatusException"
    assert await flow.refused("POST", EXECUTE, {**body, "processInstanceId": "nope"}) == (
        "processInstanceNotExist"
    )
    await flow.act(instance_id, first)
    assert (await flow.execute(instance_id, first)).json()["code"] == "taskStatusException"
    await flow.act(instance_id, (await flow.get(instance_id))["tasks"][1])
    assert (await flow.execute(instance_id, second)).json()["code"] == (
        "aflowProcessInstStatusException"
    )


async def test_cc_is_recorded_at_the_chosen_position(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    approver, cc = (u.userid for u in flow.people(2))
    start = await flow.get(await flow.create(approvers=[{"userIds": [approver]}], ccList=[cc]))
    assert start["ccUserIds"] == [cc]
    assert start["operationRecords"][-1]["type"] == "PROCESS_CC"
    assert start["operationRecords"][-1]["ccUserIds"] == [cc]
    finish_id = await flow.create(
        approvers=[{"userIds": [approver]}], ccList=[cc], ccPosition="FINISH"
    )
    finish = await flow.get(finish_id)
    assert [r["type"] for r in finish["operationRecords"]] == ["START_PROCESS_INSTANCE"]
    await flow.act(finish_id, finish["tasks"][0])
    assert (await flow.get(finish_id))["operationRecords"][-1]["type"] == "PROCESS_CC"
    # Without approvers the template's flow (and its cc: none) applies (§3.1).
    assert (await flow.get(await flow.create(ccList=[cc])))["ccUserIds"] == []


# -- withdraw ------------------------------------------------------------------------------


async def test_withdraw_waits_15_seconds_then_terminates_the_tasks(
    approvals: Callable[..., Approvals], fake_clock: Any
) -> None:
    flow = approvals()
    originator = flow.org.users[20].userid
    instance_id = await flow.create()
    body = {"processInstanceId": instance_id, "operatingUserId": originator, "remark": "oops"}
    assert await flow.refused("POST", TERMINATE, body) == "aflowProcessInstStatusException"
    fake_clock.advance(15)
    assert await flow.refused("POST", TERMINATE, {**body, "operatingUserId": BOSS_USERID}) == (
        "processInstanceInvalidParameter"
    )
    response = await flow.client.api("POST", TERMINATE, body)
    assert response.json() == {"result": True, "success": True}
    instance = await flow.get(instance_id)
    assert (instance["status"], instance["result"]) == ("TERMINATED", "")
    assert {status for status, _ in statuses(instance)} == {"TERMINATED"}
    record = instance["operationRecords"][-1]
    assert (record["type"], record["remark"]) == ("TERMINATE_PROCESS_INSTANCE", "oops")
    assert await flow.refused("POST", TERMINATE, body) == "aflowProcessInstStatusException"
    assert await flow.refused("POST", TERMINATE, {**body, "processInstanceId": "x"}) == (
        "processInstanceNotExist"
    )


async def test_withdraw_delay_is_a_setting(approvals: Callable[..., Approvals]) -> None:
    flow = approvals(approval_withdraw_delay=0)
    instance_id = await flow.create()
    response = await flow.client.api(
        "POST", TERMINATE, {"processInstanceId": instance_id, "isSystem": True}
    )
    assert response.status_code == 200, response.text
    assert (await flow.get(instance_id))["status"] == "TERMINATED"
    missing_operator = {"processInstanceId": await flow.create(), "isSystem": False}
    assert await flow.refused("POST", TERMINATE, missing_operator) == "invalidParameter"


# -- create: parameters and form -------------------------------------------------------------


def step(kind: str, *userids: str) -> dict[str, Any]:
    return {"actionType": kind, "userIds": list(userids)}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"processCode": "PROC-NOPE"}, "processCodeError"),
        ({"originatorUserId": "nobody"}, "processInstanceInvalidParameter"),
        ({"deptId": 123}, "processInstanceInvalidParameter"),
        ({"deptId": None}, "invalidParameter"),  # required without approvers
        ({"approvers": [step("AND", "nobody")]}, "processInstanceInvalidParameter"),
        ({"approvers": [step("NONE", BOSS_USERID, "x")]}, "invalidParameter"),
        ({"approvers": [step("ALL", BOSS_USERID)]}, "invalidParameter"),
        ({"microappAgentId": 1}, "invalidAgentId"),
        ({"formComponentValues": "nope"}, "invalidParameter"),
    ],
)  # fmt: skip
async def test_create_parameter_errors(
    approvals: Callable[..., Approvals], overrides: dict[str, Any], code: str
) -> None:
    flow = approvals()
    body = {key: value for key, value in flow.body(**overrides).items() if value is not None}
    assert await flow.refused("POST", INSTANCES, body) == code


async def test_originator_must_be_in_the_department(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    user = flow.org.users[20]
    other = next(
        d for d in flow.org.departments.values() if d.level and d.dept_id not in user.dept_ids
    )
    assert await flow.refused("POST", INSTANCES, flow.body(deptId=other.dept_id)) == (
        "processInstanceInvalidParameter"
    )
    instance = await flow.get(await flow.create(deptId=user.dept_ids[0]))
    assert instance["originatorDeptId"] == str(user.dept_ids[0])
    assert instance["originatorDeptName"] == flow.org.departments[user.dept_ids[0]].name


def replaced(name: str, value: str) -> list[dict[str, str]]:
    return [{**item, "value": value} if item["name"] == name else item for item in LEAVE_FORM]


RANGE_FORMAT = '["YYYY-MM-DD","YYYY-MM-DD"], a JSON list of start and end'


@pytest.mark.parametrize(
    ("form", "label", "expected"),
    [
        (
            [*LEAVE_FORM, {"name": "备注", "value": "x"}],  # unknown label
            "备注",
            "one of the template's fields: 请假类型, 请假时间, 请假天数, 请假事由",
        ),
        (LEAVE_FORM[1:], "请假类型", "required, one of: 年假 | 事假 | 病假"),  # missing
        (replaced("请假事由", "  "), "请假事由", "required, text"),  # blank counts as missing
        (replaced("请假类型", "长假"), "请假类型", "one of: 年假 | 事假"),  # not an option
        (replaced("请假天数", "two"), "请假天数", "a number"),
        (replaced("请假天数", "1e3"), "请假天数", "a number"),
        (replaced(RANGE, '["2024-05-01"]'), RANGE, RANGE_FORMAT),
        (replaced(RANGE, '["2024-05-03","2024-05-01"]'), RANGE, "end not before start"),
        (replaced(RANGE, '["2024/05/01","2024-05-02"]'), RANGE, RANGE_FORMAT),
        (replaced(RANGE, "2024-05-01..2024-05-02"), RANGE, RANGE_FORMAT),  # the CLI's syntax
        ([*LEAVE_FORM, LEAVE_FORM[0]], "请假类型", "each field once"),  # twice
    ],
)
async def test_leave_form_errors_name_the_component_and_its_format(
    approvals: Callable[..., Approvals], form: list[dict[str, str]], label: str, expected: str
) -> None:
    flow = approvals()
    response = await flow.client.api("POST", INSTANCES, flow.body(formComponentValues=form))
    assert response.status_code == 400
    assert response.json()["code"] == "formConverterError"
    # DingTalk's text (§3.1), then what the component expects (the sandbox's addition).
    message = response.json()["message"]
    assert message.startswith(f"表单数据校验失败，失败控件：{label} (expected: "), message
    assert expected in message


EXPENSE_FORM = {"报销类型": "餐费", "报销金额（元）": "12.50", "费用日期": "2024-05-01"}


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("费用归属", '["研发","销售"]', True),
        ("费用归属", '["研发"]', True),
        ("费用归属", "研发", False),  # a multi-select is a JSON array string, even for one
        ("费用归属", '["后勤"]', False),
        ("费用归属", "[]", True),  # optional: empty is not filled
        ("费用日期", "2024-5-1", False),
        ("费用日期", "2024-02-30", False),
        ("费用日期", "2024-05-01 10:00", False),
        ("报销金额（元）", "12.5元", False),
        ("报销金额（元）", "-3", True),
        ("费用明细", "", True),
    ],
)
async def test_expense_form_values(
    approvals: Callable[..., Approvals], name: str, value: str, ok: bool
) -> None:
    flow = approvals()
    values = {**EXPENSE_FORM, name: value}
    form = [{"name": key, "value": text} for key, text in values.items()]
    response = await flow.client.api(
        "POST", INSTANCES, flow.body(processCode=EXPENSE_CODE, formComponentValues=form)
    )
    assert (response.status_code == 200) is ok, response.text
    if not ok:
        assert f"失败控件：{name} (expected: " in response.json()["message"]


async def test_templates_come_from_the_config(
    approvals: Callable[..., Approvals], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(
        """
[[process]]
code = "PROC-TRIP-0001"
name = "出差"
form = [
  { label = "出差事由", type = "TextareaField", required = true },
  { label = "交通工具", type = "DDSelectField", options = ["飞机", "火车"] },
  { label = ["开始时间", "结束时间"], type = "DDDateRangeField", required = true },
]
""",
        encoding="utf-8",
    )
    config = load_config(path)
    flow = approvals(processes=[p.model_dump() for p in config.processes])
    form = [
        {"name": "出差事由", "value": "客户拜访"},
        {"name": '["开始时间","结束时间"]', "value": '["2024-05-01","2024-05-03"]'},
    ]
    instance_id = await flow.create(processCode="PROC-TRIP-0001", formComponentValues=form)
    assert (await flow.get(instance_id))["title"].endswith("提交的出差")
    assert await flow.refused("POST", INSTANCES, flow.body()) == "processCodeError"  # no defaults


@pytest.mark.parametrize(
    "component",
    [
        {"label": "x", "type": "DDSelectField"},  # no options
        {"label": "x", "type": "TextField", "options": ["a"]},
        {"label": ["a", "b"], "type": "DDDateField"},  # only a date range has two labels
        {"label": "x", "type": "TextField", "format": "yyyy-MM-dd"},  # dates only
        {"label": "x", "type": "DDDateField", "format": "dd/MM/yyyy"},
        {"label": "x", "type": "TextField", "unit": "天"},  # numbers and date ranges only
        {"label": "x", "type": "PictureField"},
    ],
)
def test_bad_form_components_are_config_errors(component: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="form"):
        ProcessConfig.model_validate({"code": "PROC-X", "name": "x", "form": [component]})


# -- listing ids --------------------------------------------------------------------------


async def query(flow: Approvals, **body: Any) -> httpx.Response:
    full = {
        "processCode": LEAVE_CODE,
        "startTime": flow.now_ms() - DAY_MS,
        "nextToken": 0,
        "maxResults": 20,
        **body,
    }
    return await flow.client.api("POST", QUERY, full)


async def all_ids(flow: Approvals, size: int, **body: Any) -> tuple[list[str], int]:
    ids, token, pages = [], 0, 0
    while True:
        answer = (await query(flow, nextToken=token, maxResults=size, **body)).json()
        assert answer["success"] is True
        pages += 1
        ids += answer["result"]["list"]
        if "nextToken" not in answer["result"]:
            return ids, pages
        token = int(answer["result"]["nextToken"])
        assert isinstance(answer["result"]["nextToken"], str)


async def test_instance_ids_page_oldest_first(
    approvals: Callable[..., Approvals], fake_clock: Any
) -> None:
    flow = approvals()
    assert await all_ids(flow, 5) == ([], 1)  # empty
    created = []
    for _ in range(5):
        created.append(await flow.create())
        fake_clock.advance(60)
    assert await all_ids(flow, 5) == (created, 1)  # exactly one page
    for _ in range(7):
        created.append(await flow.create())
    assert await all_ids(flow, 5) == (created, 3)
    assert await all_ids(flow, 20) == (created, 1)


async def test_instance_ids_filters(approvals: Callable[..., Approvals], fake_clock: Any) -> None:
    flow = approvals(approval_withdraw_delay=0)
    boss = await flow.create(originatorUserId=BOSS_USERID)
    other = await flow.create()
    await flow.create(processCode=PURCHASE_CODE, formComponentValues=[
        {"name": "采购事由", "value": "laptops"},
        {"name": "物品类别", "value": '["电脑设备"]'},
        {"name": "数量", "value": "3"},
        {"name": "预计金额（元）", "value": "30000"},
        {"name": "期望交付日期", "value": "2024-06-01"},
    ])  # fmt: skip
    await flow.client.api("POST", TERMINATE, {"processInstanceId": other, "isSystem": True})
    assert await all_ids(flow, 20, userIds=[BOSS_USERID]) == ([boss], 1)
    assert await all_ids(flow, 20, statuses=["TERMINATED"]) == ([other], 1)
    assert await all_ids(flow, 20, statuses=["RUNNING", "COMPLETED"]) == ([boss], 1)
    # Outside the window: started before it.
    fake_clock.advance(2 * DAY_MS / 1000)
    assert await all_ids(flow, 20, startTime=flow.now_ms() - DAY_MS) == ([], 1)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"maxResults": 21}, "invalidMaxResults"),
        ({"maxResults": 0}, "invalidMaxResults"),
        ({"maxResults": None}, "invalidMaxResults"),
        ({"nextToken": None}, "invalidNextToken"),
        ({"nextToken": "abc"}, "invalidNextToken"),
        ({"nextToken": -1}, "invalidNextToken"),
        ({"userIds": [str(n) for n in range(11)]}, "invalidUserIds"),
        ({"processCode": "PROC-NOPE"}, "invalidProcessCode"),
        ({"startTime": None}, "invalidInstanceListIdsStartTime"),
        ({"statuses": ["DONE"]}, "invalidParameter"),
    ],
)
async def test_instance_ids_parameter_errors(
    approvals: Callable[..., Approvals], body: dict[str, Any], code: str
) -> None:
    flow = approvals()
    full = {
        "processCode": LEAVE_CODE,
        "startTime": flow.now_ms() - DAY_MS,
        "nextToken": 0,
        "maxResults": 20,
        **body,
    }
    full = {key: value for key, value in full.items() if value is not None}
    assert await flow.refused("POST", QUERY, full) == code


@pytest.mark.parametrize(
    ("start_days", "end_days", "code"),
    [
        (121, None, "invalidInstanceListIdsStartTime"),  # only startTime: within 120 days
        (119, None, None),
        (200, 79, "invalidEndTime"),  # span over 120 days
        (200, 80, None),  # exactly 120 days
        (10, 20, "invalidEndTime"),  # end before start
        (366, 300, "invalidInstanceListIdsStartTime"),  # start within 365 days
        (364, 300, None),
    ],
)
async def test_instance_ids_window_rules(
    approvals: Callable[..., Approvals], start_days: int, end_days: int | None, code: str | None
) -> None:
    flow = approvals()
    now = flow.now_ms()
    body: dict[str, Any] = {"startTime": now - start_days * DAY_MS}
    if end_days is not None:
        body["endTime"] = now - end_days * DAY_MS
    response = await query(flow, **body)
    if code is None:
        assert response.status_code == 200, response.text
    else:
        assert (response.status_code, response.json()["code"]) == (400, code)


# -- old API -------------------------------------------------------------------------------


async def test_old_create_get_and_listids(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    a, b = (u.userid for u in flow.people(2))
    body = {
        "process_code": LEAVE_CODE,
        "originator_user_id": flow.org.users[20].userid,
        "dept_id": -1,
        "approvers": f"{a},{b}",
        "form_component_values": [{**item, "ext_value": "x"} for item in LEAVE_FORM],
    }
    answer = await flow.client.ok(OLD + "create", body)
    instance_id = answer["process_instance_id"]
    assert len(answer["request_id"]) == 12
    old = (await flow.client.ok(OLD + "get", {"process_instance_id": instance_id}))[
        "process_instance"
    ]
    assert old["approver_userids"] == [a, b]
    assert OLD_TIME.fullmatch(old["create_time"])
    assert "finish_time" not in old
    first = old["tasks"][0]
    assert (first["userid"], first["task_status"], first["task_result"]) == (a, "RUNNING", "NONE")
    assert isinstance(first["taskid"], str)  # a string in the old API
    assert old["form_component_values"][0] == {
        "name": "请假类型",
        "value": "年假",
        "ext_value": "x",
        "id": old["form_component_values"][0]["id"],
        "component_type": "DDSelectField",
    }
    assert old["operation_records"][0]["operation_type"] == "START_PROCESS_INSTANCE"
    # approvers_v2 wins over approvers.
    v2 = {**body, "approvers_v2": [{"task_action_type": "OR", "user_ids": [b, a]}]}
    second = (await flow.client.ok(OLD + "create", v2))["process_instance_id"]
    assert (await flow.get(second))["approverUserIds"] == [b, a]
    listed = {"process_code": LEAVE_CODE, "start_time": flow.now_ms() - DAY_MS, "size": 1}
    page = (await flow.client.ok(OLD + "listids", listed))["result"]
    assert page == {"list": [instance_id], "next_cursor": 1}
    page = (await flow.client.ok(OLD + "listids", {**listed, "cursor": 1}))["result"]
    assert page == {"list": [second]}  # no next_cursor: done


@pytest.mark.parametrize(
    ("path", "body", "errmsg"),
    [
        (
            "create",
            {"form_component_values": LEAVE_FORM[1:]},
            "表单数据校验失败，失败控件：请假类型 (expected: required, one of: "
            "年假 | 事假 | 病假 | 调休 | 婚假 | 产假 | 陪产假 | 丧假)",
        ),
        ("create", {"process_code": "PROC-NOPE"}, "审批模板不存在：PROC-NOPE"),
        ("get", {"process_instance_id": "nope"}, "审批实例不存在"),
        ("listids", {"size": 21}, "参数 size 不能大于 20"),
        ("listids", {"start_time": 1}, "不传 endTime 时 startTime 须在最近120天内"),
    ],
)
async def test_old_api_errors(
    approvals: Callable[..., Approvals], path: str, body: dict[str, Any], errmsg: str
) -> None:
    flow = approvals()
    full = {
        "process_code": LEAVE_CODE,
        "originator_user_id": flow.org.users[20].userid,
        "dept_id": -1,
        "form_component_values": LEAVE_FORM,
        "start_time": flow.now_ms() - DAY_MS,
        **body,
    }
    answer = await flow.client.oapi(OLD + path, full)
    assert (answer["errcode"], answer["errmsg"]) == (400002, errmsg)


async def test_templates_a_user_can_start(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    first = (await flow.client.ok(TEMPLATES, {"userid": BOSS_USERID, "size": 2}))["result"]
    assert [t["process_code"] for t in first["process_list"]] == [LEAVE_CODE, EXPENSE_CODE]
    assert set(first["process_list"][0]) == {"process_code", "name", "icon_url", "url"}
    assert first["next_cursor"] == 2
    rest = await flow.client.ok(TEMPLATES, {"userid": BOSS_USERID, "offset": 2, "size": 2})
    assert [t["name"] for t in rest["result"]["process_list"]] == ["采购"]
    assert "next_cursor" not in rest["result"]
    everything = (await flow.client.ok(TEMPLATES, {"userid": BOSS_USERID}))["result"]
    assert len(everything["process_list"]) == 3
    assert "next_cursor" not in everything
    assert (await flow.client.oapi(TEMPLATES, {"userid": "nobody"}))["errcode"] == 33012
    assert (await flow.client.oapi(TEMPLATES, {"userid": BOSS_USERID, "size": 101}))[
        "errcode"
    ] == 400002


# -- the sandbox's own view ---------------------------------------------------------------


async def test_sandbox_view_and_task_buttons(approvals: Callable[..., Approvals]) -> None:
    flow = approvals()
    approver = flow.people(1)[0]
    instance_id = await flow.create(approvers=[{"userIds": [approver.userid]}])
    http = flow.client.http
    [view] = (await http.get("/_sandbox/approvals")).json()["approvals"]
    assert view["instance_id"] == instance_id
    assert view["originator"]["name"] == flow.org.users[20].name
    assert view["form"][1] == {"label": "请假时间", "value": "2024-05-01 ~ 2024-05-02"}
    [task] = view["tasks"]
    assert (task["name"], task["status"]) == (approver.name, "RUNNING")
    path = f"/_sandbox/approvals/{instance_id}/tasks/{task['task_id']}"
    assert (await http.post(path, json={"result": "maybe"})).status_code == 400
    assert (
        await http.post(
            f"/_sandbox/approvals/nope/tasks/{task['task_id']}", json={"result": "agree"}
        )
    ).status_code == 404
    assert (await http.post(path + "1", json={"result": "agree"})).status_code == 404
    answer = await http.post(path, json={"result": "agree", "remark": "fine"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["approval"]["status"], answer.json()["approval"]["result"]) == (
        "COMPLETED",
        "agree",
    )
    assert (await http.post(path, json={"result": "refuse"})).status_code == 409
    instance = await flow.get(instance_id)
    assert instance["operationRecords"][-1]["remark"] == "fine"


async def test_instances_outlive_a_restart(
    make_sandbox: Callable[..., Sandbox], connect: Connect, tmp_path: Path
) -> None:
    first = make_sandbox(config=SandboxConfig(qps=0), data_dir=tmp_path)
    first.add_app(APP)
    flow = Approvals(first, connect(first))
    instance_id = await flow.create()
    first.store.close()
    again = make_sandbox(config=SandboxConfig(qps=0), data_dir=tmp_path)
    again.add_app(APP)
    assert (await Approvals(again, connect(again)).get(instance_id))["status"] == "RUNNING"
    # Task ids go on from where they were.
    second = await Approvals(again, connect(again)).create()
    ids = [t.task_id for i in (instance_id, second) for t in again.approvals.get(i).tasks]  # type: ignore[union-attr]
    assert len(set(ids)) == len(ids)


# -- through the SDK ----------------------------------------------------------------------


@pytest.fixture
def served(make_sandbox: Callable[..., Sandbox]) -> Iterator[SandboxServer]:
    sandbox = make_sandbox(config=SandboxConfig(approval_withdraw_delay=0))
    sandbox.add_app(APP)
    with SandboxServer(sandbox) as server:
        yield server


def test_sdk_round_trip_sync(served: SandboxServer) -> None:
    org = served.sandbox.org
    originator, approver = org.users[20].userid, org.users[6].userid
    with httpx.Client() as http, DingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http,
    ) as client:  # fmt: skip
        codes = [t.process_code for t in client.approval.templates(originator, page_size=1)]
        assert codes == [LEAVE_CODE, EXPENSE_CODE, PURCHASE_CODE]
        form = {"请假类型": "病假", "请假时间": ("2024-05-01", "2024-05-02"),
                "请假天数": 2, "请假事由": "flu"}  # fmt: skip
        instance_id = client.approval.create(LEAVE_CODE, originator, form)
        assert client.approval.get(instance_id).status == "RUNNING"
        steps = 0
        while (instance := client.approval.get(instance_id)).running_tasks:
            task = instance.running_tasks[0]
            assert task.user_id is not None
            assert client.approval.approve(instance_id, task.task_id, task.user_id, remark="ok")
            steps += 1
        assert steps == 2  # the manager, then the office approver
        assert client.approval.get(instance_id).approved
        assert client.approval.get_old(instance_id).approved
        assert client.approval.get(instance_id).form()["请假类型"] == "病假"

        refused = client.approval.create(
            EXPENSE_CODE, originator, EXPENSE_FORM, approvers=[ApproverStep([approver], "OR")]
        )
        task = client.approval.get(refused).running_tasks[0]
        client.approval.refuse(refused, task.task_id, approver)
        assert client.approval.get(refused).result == "refuse"

        withdrawn = client.approval.create(LEAVE_CODE, originator, form)
        assert client.approval.withdraw(withdrawn, originator, remark="never mind")
        assert client.approval.get(withdrawn).status == "TERMINATED"
        ids = list(client.approval.instance_ids(LEAVE_CODE, served.sandbox.clock() * 1000 - DAY_MS))
        assert ids == [instance_id, withdrawn]


async def test_sdk_round_trip_async(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(config=SandboxConfig(approval_withdraw_delay=0))
    sandbox.add_app(APP)
    transport = httpx.ASGITransport(app=create_app(sandbox))
    page = httpx.AsyncClient(transport=transport, base_url="http://sandbox")
    async with page, AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base="http://sandbox", api_base="http://sandbox",
        qps=None, http_client=page,
    ) as client:  # fmt: skip
        originator = sandbox.org.users[20].userid
        templates = [t.name async for t in client.approval.templates(originator)]
        assert templates == ["请假", "报销", "采购"]
        instance_id = await client.approval.create(
            EXPENSE_CODE, originator, {**EXPENSE_FORM, "费用归属": ["研发"]}
        )
        # Approve through the chat page's endpoint, then read it back through the SDK.
        while (instance := await client.approval.get(instance_id)).running_tasks:
            task = instance.running_tasks[0]
            path = f"/_sandbox/approvals/{instance_id}/tasks/{task.task_id}"
            answer = await page.post(path, json={"result": "agree"})
            assert answer.status_code == 200, answer.text
        assert (instance.status, instance.result) == ("COMPLETED", "agree")
        assert json.loads(instance.form()["费用归属"] or "") == ["研发"]
        ids = [
            i
            async for i in client.approval.instance_ids(
                EXPENSE_CODE, sandbox.clock() * 1000 - DAY_MS
            )
        ]
        assert ids == [instance_id]
