from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from dingkit.callback.crypto import new_aes_key
from dingkit.callback.events import (
    BpmsInstanceChange,
    BpmsTaskChange,
    UserAddOrg,
    event_from_failed_item,
    parse_event,
)
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.approval.templates import LEAVE_CODE
from dingkit.sandbox.config import DEFAULT_CORP_ID, AppConfig, CallbackConfig, SandboxConfig

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
ReceiverFor = Callable[..., Any]
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
INSTANCES = "/v1.0/workflow/processInstances"
LEAVE_FORM = [
    {"name": "请假类型", "value": "年假"},
    {"name": "请假时间", "value": '["2024-05-01","2024-05-02"]'},
    {"name": "请假天数", "value": "2"},
    {"name": "请假事由", "value": "family trip"},
]


class Flow:
    """A sandbox with one app-level subscription (receiver id: the app's key) on a fake clock."""

    def __init__(self, sandbox: Sandbox, client: Any, receiver: Any, clock: Any) -> None:
        self.sandbox, self.client, self.receiver, self.clock = sandbox, client, receiver, clock
        self.org = sandbox.org

    async def start(self, approvers: list[dict[str, Any]]) -> str:
        body = {
            "processCode": LEAVE_CODE,
            "originatorUserId": self.org.users[20].userid,
            "deptId": -1,
            "formComponentValues": LEAVE_FORM,
            "approvers": approvers,
        }
        response = await self.client.api("POST", INSTANCES, body)
        assert response.status_code == 200, response.text
        instance_id: str = response.json()["instanceId"]
        return instance_id

    async def tasks(self, instance_id: str) -> list[dict[str, Any]]:
        response = await self.client.api(
            "GET", INSTANCES, params={"processInstanceId": instance_id}
        )
        tasks: list[dict[str, Any]] = response.json()["result"]["tasks"]
        return tasks

    async def act(self, instance_id: str, task: dict[str, Any], result: str) -> None:
        body = {
            "processInstanceId": instance_id,
            "taskId": task["taskId"],
            "actionerUserId": task["userId"],
            "result": result,
            "remark": f"{result}!",
        }
        response = await self.client.api("POST", INSTANCES + "/execute", body)
        assert response.status_code == 200, response.text

    def delivered(self) -> list[Any]:
        """Send what is due and parse what the receiver got since the last call."""
        seen = len(self.receiver.events)
        self.sandbox.callbacks.deliver_due()
        return [parse_event(event) for event in self.receiver.events[seen:]]


@pytest.fixture
def flow(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor, fake_clock: Any
) -> Callable[..., Flow]:
    def make(mode: str = "ok", **callback: Any) -> Flow:
        receiver = receiver_for(receiver_id=APP.app_key)
        receiver.mode = mode
        subscription = CallbackConfig(
            url=receiver.url,
            token=receiver.token,
            aes_key=receiver.aes_key,
            app="tests",
            **callback,
        )
        sandbox = open_sandbox(
            qps=0,
            apps=(APP,),
            callbacks=(subscription,),
            callback_retry_delays=(0.05, 0.1),
            callback_timeout=0.5,
        )
        return Flow(sandbox, connect(sandbox), receiver, fake_clock)

    return make


async def failed_result(client: Any) -> dict[str, Any]:
    token = await client.token()
    response = await client.http.get(
        "/call_back/get_call_back_failed_result", params={"access_token": token}
    )
    answer: dict[str, Any] = response.json()
    assert (answer["errcode"], answer["errmsg"]) == (0, "ok"), answer
    return answer


def kinds(events: list[Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e.event_type, e.type, e.result) for e in events]


async def test_a_new_instance_pushes_instance_start_then_task_start(
    flow: Callable[..., Flow],
) -> None:
    f = flow()
    approver = f.org.users[6]
    instance_id = await f.start([{"actionType": "NONE", "userIds": [approver.userid]}])
    assert f.receiver.events == []  # queued, not sent by the API call

    events = f.delivered()

    assert kinds(events) == [
        ("bpms_instance_change", "start", None),
        ("bpms_task_change", "start", None),
    ]
    start, task = events
    assert isinstance(start, BpmsInstanceChange)
    assert isinstance(task, BpmsTaskChange)
    assert start.process_instance_id == task.process_instance_id == instance_id
    assert start.staff_id == f.org.users[20].userid
    assert task.staff_id == approver.userid
    assert start.process_code == LEAVE_CODE
    assert start.corp_id == DEFAULT_CORP_ID
    assert re.fullmatch(r"[0-9a-f]{32}", start.event_id or "")
    assert start.event_id != task.event_id
    assert start.event_time == int(f.clock() * 1000)
    # The new format's envelope names what the event is about (§7.6) and, for instance
    # events, the business type.
    instance_payload, task_payload = f.receiver.events[-2:]
    assert instance_payload["BizId"] == task_payload["BizId"] == instance_id
    assert instance_payload["businessType"] == ""
    assert "businessType" not in task_payload
    query = f.receiver.queries[0]
    assert query["timestamp"] == str(int(f.clock() * 1000))  # milliseconds (§7.3)
    assert f.sandbox.callbacks.deliver_due() == []  # nothing left


async def test_agree_and_refuse_finish_tasks_and_the_instance(flow: Callable[..., Flow]) -> None:
    f = flow()
    first, second = f.org.users[6], f.org.users[7]
    steps = [{"actionType": "NONE", "userIds": [first.userid]}]
    steps.append({"actionType": "NONE", "userIds": [second.userid]})
    instance_id = await f.start(steps)
    f.delivered()

    tasks = await f.tasks(instance_id)
    await f.act(instance_id, tasks[0], "agree")
    agreed = f.delivered()
    await f.act(instance_id, tasks[1], "refuse")
    refused = f.delivered()

    assert kinds(agreed) == [
        ("bpms_task_change", "finish", "agree"),
        ("bpms_task_change", "start", None),
    ]
    assert agreed[0].remark == "agree!"
    assert agreed[1].staff_id == second.userid
    assert kinds(refused) == [
        ("bpms_task_change", "finish", "refuse"),
        ("bpms_instance_change", "finish", "refuse"),
    ]
    assert refused[1].finish_time == int(f.clock() * 1000)


async def test_an_or_node_cancels_the_other_approvers(flow: Callable[..., Flow]) -> None:
    f = flow()
    people = [f.org.users[6].userid, f.org.users[7].userid]
    instance_id = await f.start([{"actionType": "OR", "userIds": people}])
    assert kinds(f.delivered())[1:] == [("bpms_task_change", "start", None)] * 2

    tasks = await f.tasks(instance_id)
    await f.act(instance_id, tasks[1], "agree")
    events = f.delivered()

    assert kinds(events) == [
        ("bpms_task_change", "cancel", None),
        ("bpms_task_change", "finish", "agree"),
        ("bpms_instance_change", "finish", "agree"),
    ]
    assert events[0].staff_id == people[0]
    assert events[1].staff_id == people[1]


async def test_withdrawing_pushes_terminate_without_a_result(flow: Callable[..., Flow]) -> None:
    f = flow()
    instance_id = await f.start([{"actionType": "NONE", "userIds": [f.org.users[6].userid]}])
    f.delivered()
    f.clock.advance(60)

    body = {"processInstanceId": instance_id, "isSystem": True}
    response = await f.client.api("POST", INSTANCES + "/terminate", body)
    assert response.status_code == 200, response.text
    events = f.delivered()

    assert kinds(events) == [("bpms_instance_change", "terminate", None)]
    assert "result" not in events[0].raw


async def test_a_redirect_finishes_with_redirect_and_starts_the_new_approvers_task(
    flow: Callable[..., Flow],
) -> None:
    f = flow()
    first, other = f.org.users[6], f.org.users[9]
    instance_id = await f.start([{"actionType": "NONE", "userIds": [first.userid]}])
    f.delivered()
    (task,) = await f.tasks(instance_id)

    path = f"/_sandbox/approvals/{instance_id}/tasks/{task['taskId']}/redirect"
    response = await f.client.http.post(path, json={"to": other.userid, "remark": "on leave"})
    assert response.status_code == 200, response.text
    events = f.delivered()

    assert kinds(events) == [
        ("bpms_task_change", "finish", "redirect"),
        ("bpms_task_change", "start", None),
    ]
    assert (events[0].staff_id, events[0].remark) == (first.userid, "on leave")
    assert events[1].staff_id == other.userid
    assert events[1].task_id != task["taskId"]
    tasks = await f.tasks(instance_id)
    assert [(t["userId"], t["status"], t["result"]) for t in tasks] == [
        (first.userid, "COMPLETED", "REDIRECTED"),
        (other.userid, "RUNNING", "NONE"),
    ]
    again = await f.client.http.post(path, json={"to": other.userid})
    assert again.status_code == 409
    unknown = await f.client.http.post(path, json={"to": "nobody"})
    assert unknown.status_code == 400


async def test_failed_pushes_retry_on_schedule_then_join_the_failed_list(
    flow: Callable[..., Flow],
) -> None:
    f = flow(mode="error", tags=["bpms_instance_change"])
    await f.start([{"actionType": "NONE", "userIds": [f.org.users[6].userid]}])

    f.sandbox.callbacks.deliver_due()
    f.clock.advance(0.04)
    assert f.sandbox.callbacks.deliver_due() == []  # the first retry is due after 0.05 s
    f.clock.advance(0.01)
    (retried,) = f.sandbox.callbacks.deliver_due()
    assert retried.state == "retrying"
    f.clock.advance(0.09)
    assert f.sandbox.callbacks.deliver_due() == []  # the second 0.1 s after that
    f.clock.advance(0.01)
    (failed,) = f.sandbox.callbacks.deliver_due()

    assert failed.state == "failed"
    assert len(failed.attempts) == 3
    assert [a.http_status for a in failed.attempts] == [500, 500, 500]
    assert len({event["eventId"] for event in f.receiver.events}) == 1  # the same event
    answer = await failed_result(f.client)
    (item,) = answer["failed_list"]
    assert item["call_back_tag"] == "bpms_instance_change"
    assert "processInstanceId" in item["bpms_instance_change"]["bpmsCallBackData"]
    assert (
        event_from_failed_item(item).dedup_keys[-1]
        == parse_event(f.receiver.events[0]).dedup_keys[-1]
    )
    pushes = (await f.client.http.get("/_sandbox/pushes")).json()["pushes"]
    assert [(p["state"], len(p["attempts"])) for p in pushes] == [("failed", 3)]
    assert pushes[0]["attempts"][0]["outcome"] == "failed"


async def test_the_failed_list_pages_at_200_and_each_call_clears_what_it_returned(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/gone"
    dead = CallbackConfig(url=url, token="token123", aes_key=new_aes_key())
    sandbox = open_sandbox(callbacks=(dead,), callback_retry_delays=())
    client = connect(sandbox)
    for index in range(201):
        sandbox.callbacks.emit("org_dept_create", {"deptId": [index]})
    sent = sandbox.callbacks.deliver_due()
    sent += sandbox.callbacks.deliver_due()  # the queue is read 100 at a time
    sent += sandbox.callbacks.deliver_due()
    assert len(sent) == 201
    assert {p.state for p in sent} == {"failed"}
    assert "cannot connect" in (sent[0].attempts[0].error or "")

    first = await failed_result(client)
    second = await failed_result(client)
    third = await failed_result(client)

    assert (len(first["failed_list"]), first["has_more"]) == (200, True)
    assert (len(second["failed_list"]), second["has_more"]) == (1, False)
    assert (third["failed_list"], third["has_more"]) == ([], False)
    ids = [item["org_dept_create"]["deptid"][0] for item in first["failed_list"]]
    assert ids == list(range(200))


async def test_classic_style_and_tags(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    classic, approvals_only = receiver_for(), receiver_for()
    sandbox = open_sandbox(
        callbacks=(
            CallbackConfig(
                url=classic.url, token=classic.token, aes_key=classic.aes_key, style="classic"
            ),
            CallbackConfig(
                url=approvals_only.url,
                token=approvals_only.token,
                aes_key=approvals_only.aes_key,
                tags=("bpms_task_change",),
            ),
        )
    )
    client = connect(sandbox)
    dept = sandbox.org.users[30].dept_ids[0]
    response = await client.http.post(
        "/_sandbox/org/users", json={"name": "新同事", "dept_id_list": [dept]}
    )
    assert response.status_code == 201, response.text

    sandbox.callbacks.deliver_due()

    (payload,) = classic.events
    userid = response.json()["user"]["userid"]
    assert payload["EventType"] == "user_add_org"
    assert payload["UserId"] == [userid]
    assert payload["CorpId"] == DEFAULT_CORP_ID
    assert "TimeStamp" in payload
    assert "EventTime" not in payload
    assert "BizId" not in payload  # the classic format has no envelope ids
    event = parse_event(payload)
    assert isinstance(event, UserAddOrg)
    assert event.user_ids == [userid]
    assert approvals_only.events == []


async def test_an_api_registration_receives_events_for_the_corp_id(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    sandbox = open_sandbox()
    client, receiver = connect(sandbox), receiver_for()
    body = {
        "call_back_tag": ["org_dept_create"],
        "token": receiver.token,
        "aes_key": receiver.aes_key,
        "url": receiver.url,
    }
    await client.ok("/call_back/register_call_back", body)
    response = await client.http.post("/_sandbox/org/departments", json={"name": "新部门"})
    assert response.status_code == 201

    sandbox.callbacks.deliver_due()

    assert receiver.types() == [("check_url", None), ("org_dept_create", None)]
    assert receiver.events[1]["deptId"] == [response.json()["department"]["dept_id"]]


def test_a_served_sandbox_delivers_by_itself(
    make_sandbox: Callable[..., Sandbox], receiver_for: ReceiverFor
) -> None:
    receiver = receiver_for()
    subscription = CallbackConfig(url=receiver.url, token=receiver.token, aes_key=receiver.aes_key)
    sandbox = make_sandbox(config=SandboxConfig(callbacks=(subscription,)))
    with SandboxServer(sandbox):
        sandbox.callbacks.emit("org_dept_remove", {"deptId": [7]})
        deadline = time.monotonic() + 5
        while not receiver.events and time.monotonic() < deadline:
            time.sleep(0.01)
    assert receiver.types() == [("org_dept_remove", None)]
