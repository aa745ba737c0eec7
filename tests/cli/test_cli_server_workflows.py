"""``dingkit approval``, ``dingkit calendar`` and ``dingkit notify`` against the sandbox: each
workflow end to end through the real entry point, checked with the CLI's own reads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dingkit.sandbox.config import SandboxConfig

TRIP = "PROC-CLI-TRIP"
RANGE_LABEL = '["开始时间","结束时间"]'
#: A template of the test's own, so that the form's labels are known here.
CONFIG = {
    "limits": False,
    "seed": 5,
    "approval_withdraw_delay": 0,  # withdraw at once (DingTalk waits 15 s, §3.4)
    "process": [
        {
            "code": TRIP,
            "name": "出差",
            "form": [
                {"label": "出差事由", "type": "TextareaField", "required": True},
                {"label": "交通工具", "type": "DDSelectField", "options": ["飞机", "火车"]},
                {"label": ["开始时间", "结束时间"], "type": "DDDateRangeField", "required": True},
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def workflow_sandbox(openapi_sandbox_for):
    return openapi_sandbox_for(SandboxConfig.model_validate(CONFIG))


@pytest.fixture
def wf(workflow_sandbox, cli_with):
    return cli_with(workflow_sandbox.env())


@pytest.fixture(scope="module")
def people(workflow_sandbox):
    """An originator, an approver and an attendee (userIds)."""
    org = workflow_sandbox.sandbox.org
    return [user.userid for user in org.users[3:6]]


# -- approval --------------------------------------------------------------------------------


def _create(wf, originator, approver, *extra):
    result = wf.run(
        "approval", "create", "--process", TRIP, "--user", originator,
        "--approver", approver, "--json", *extra,
    )  # fmt: skip
    return result.assert_ok().json()["instance_id"]


def test_approval_templates(wf, people):
    as_json, table = wf.run_many(
        ["approval", "templates", "--user", people[0], "--json"],
        ["approval", "templates", "--user", people[0]],
    )
    codes = {row["process_code"]: row["name"] for row in as_json.assert_ok().json()}
    assert codes[TRIP] == "出差"
    assert TRIP in table.assert_ok().stdout


def test_approval_create_get_and_approve(wf, people):
    originator, approver, _ = people
    instance_id = _create(
        wf, originator, approver,
        "--form", "出差事由=客户现场", "--form", "交通工具=火车",
        "--form", f'{RANGE_LABEL}=["2024-06-03","2024-06-05"]',
    )  # fmt: skip
    new, old, table, not_theirs = wf.run_many(
        ["approval", "get", instance_id, "--json"],
        ["approval", "get", instance_id, "--old", "--json"],
        ["approval", "get", instance_id],
        # Not the originator's task: the CLI cannot pick one, and says how to.
        ["approval", "approve", instance_id, "--user", originator],
    )
    data = new.assert_ok().json()
    assert (data["processInstanceId"], data["status"]) == (instance_id, "RUNNING")
    assert data["originatorUserId"] == originator
    form = {item["name"]: item["value"] for item in data["formComponentValues"]}
    assert (form["出差事由"], form["交通工具"]) == ("客户现场", "火车")
    [task] = [t for t in data["tasks"] if t["status"] == "RUNNING"]
    assert task["userId"] == approver
    old = old.assert_ok().json()
    assert (old["processInstanceId"], old["status"]) == (instance_id, "RUNNING")
    for text in (instance_id, "RUNNING", "客户现场", str(task["taskId"])):
        assert text in table.assert_ok().stdout
    not_theirs.assert_failure(2, "no running task", "--task")

    done = wf.run("approval", "approve", instance_id, "--user", approver, "--remark", "ok")
    expected = f"approved task {task['taskId']} of {instance_id} as {approver}\n"
    assert done.assert_ok().stdout == expected
    after, again = wf.run_many(
        ["approval", "get", instance_id, "--json"],
        ["approval", "approve", instance_id, "-u", approver, "--task", str(task["taskId"])],
    )
    assert (after.json()["status"], after.json()["result"]) == ("COMPLETED", "agree")
    again.assert_failure(1)


def test_approval_refuse_withdraw_and_list(wf, people):
    originator, approver, _ = people
    form = json.dumps({"出差事由": "展会", RANGE_LABEL: ["2024-07-01", "2024-07-02"]})
    create = (
        "approval", "create", "-p", TRIP, "-u", originator, "--approver", approver,
        "--form-json", "-", "--json",
    )  # fmt: skip
    first, second = wf.run_many(wf.call(*create, input=form), wf.call(*create, input=form))
    refused_id = first.assert_ok().json()["instance_id"]
    withdrawn_id = second.assert_ok().json()["instance_id"]
    got, withdrawn = wf.run_many(
        ["approval", "get", refused_id, "--json"],
        ["approval", "withdraw", withdrawn_id, "--user", originator],
    )
    [task] = got.assert_ok().json()["tasks"]
    assert withdrawn.assert_ok().stdout == f"withdrew {withdrawn_id}\n"
    result = wf.run(
        "approval", "refuse", refused_id, "--user", approver, "--task", str(task["taskId"]),
        "--json",
    )  # fmt: skip
    assert result.assert_ok().json()["action"] == "refused"

    since = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    refused, listing, completed, details = wf.run_many(
        ["approval", "get", refused_id, "--json"],
        ["approval", "list", "--process", TRIP, "--from", since, "--json"],
        ["approval", "list", "-p", TRIP, "--from", since, "--status", "completed", "--json"],
        ["approval", "list", "-p", TRIP, "--from", since, "-u", originator, "--details", "--csv"],
    )
    data = refused.assert_ok().json()
    assert (data["status"], data["result"]) == ("COMPLETED", "refuse")
    ids = {row["processInstanceId"] for row in listing.assert_ok().json()}
    assert {refused_id, withdrawn_id} <= ids
    completed_ids = {row["processInstanceId"] for row in completed.assert_ok().json()}
    assert refused_id in completed_ids
    assert withdrawn_id not in completed_ids
    lines = details.assert_ok().stdout.splitlines()
    assert "processInstanceId" in lines[0]
    assert any(withdrawn_id in line and "TERMINATED" in line for line in lines[1:])


def test_approval_form_refused_by_the_template(wf, people):
    originator, approver, _ = people
    unknown, missing, bad_option = wf.run_many(
        ["approval", "create", "-p", TRIP, "-u", originator, "--approver", approver,
         "--form", "没有这个=1", "--form", f'{RANGE_LABEL}=["2024-06-03","2024-06-05"]'],
        ["approval", "create", "-p", TRIP, "-u", originator, "--approver", approver,
         "--form", "出差事由=x"],
        ["approval", "create", "-p", TRIP, "-u", originator, "--approver", approver,
         "--form", "出差事由=x", "--form", "交通工具=马车",
         "--form", f'{RANGE_LABEL}=["2024-06-03","2024-06-05"]'],
    )  # fmt: skip
    unknown.assert_failure(1, "formConverterError")
    missing.assert_failure(1, "formConverterError")
    bad_option.assert_failure(1, "formConverterError")


# -- calendar --------------------------------------------------------------------------------


def test_calendar_event_lifecycle(wf, workflow_sandbox, people):
    owner, _, guest = people
    org = workflow_sandbox.sandbox.org
    created = wf.run(
        "calendar", "create", "--user", owner, "--summary", "Design review",
        "--start", "2024-06-03T10:00+08:00", "--end", "2024-06-03T11:00+08:00",
        "--attendee", guest, "--location", "Room 1", "--description", "agenda", "--json",
    ).assert_ok().json()  # fmt: skip
    event_id = created["id"]
    assert created["summary"] == "Design review"
    assert created["location"]["displayName"] == "Room 1"
    assert org.user(guest).unionid in {a["id"] for a in created["attendees"]}

    got, listed, table = wf.run_many(
        ["calendar", "get", "--user", owner, event_id, "--json"],
        ["calendar", "list", "--user", owner, "--from", "2024-06-01", "--to", "2024-06-30",
         "--json"],
        ["calendar", "list", "-u", owner, "--from", "2024-06-03", "--to", "2024-06-03"],
    )  # fmt: skip
    assert got.assert_ok().json()["description"] == "agenda"
    assert event_id in {event["id"] for event in listed.assert_ok().json()}
    assert "Design review" in table.assert_ok().stdout
    assert "2024-06-03T10:00:00+08:00" in table.stdout

    union = org.user(owner).unionid  # the path's own id, passed as it is
    updated = wf.run(
        "calendar", "update", "--user", union, "--union-id", event_id, "--summary", "Renamed",
        "--json",
    ).assert_ok().json()  # fmt: skip
    assert (updated["id"], updated["summary"]) == (event_id, "Renamed")

    deleted = wf.run("calendar", "delete", "--user", owner, event_id).assert_ok()
    assert deleted.stdout == f"deleted event {event_id}\n"
    wf.run("calendar", "get", "--user", owner, event_id).assert_failure(1)


def test_calendar_all_day_event_and_unknown_user(wf, people):
    owner = people[0]
    event = wf.run(
        "calendar", "create", "-u", owner, "--summary", "Offsite",
        "--start", "2024-06-05", "--end", "2024-06-06", "--json",
    ).assert_ok().json()  # fmt: skip
    assert event["isAllDay"] is True
    assert event["start"]["date"] == "2024-06-05"
    assert event["end"]["date"] == "2024-06-07"  # DingTalk's end is the day after (§4.1)
    unknown = wf.run("calendar", "list", "--user", "nobody0000")
    unknown.assert_failure(1, "errcode 33012")


# -- notify ----------------------------------------------------------------------------------


def test_notify_send_progress_result_recall(wf, people, tmp_path):
    first, second, _ = people
    sent = wf.run("notify", "text", "--user", first, "--user", second, "build 42 is green")
    assert sent.assert_ok().stdout.startswith("sent: task_id ")
    task_id = int(sent.stdout.split()[-1])
    notes = tmp_path / "notes.md"
    notes.write_text("# Release\n\n- item one\n", encoding="utf-8")
    progress, result, markdown, link = wf.run_many(
        ["notify", "progress", str(task_id), "--json"],
        ["notify", "result", str(task_id), "--json"],
        ["notify", "markdown", "--user", first, "--file", str(notes), "--title", "Release",
         "--json"],
        ["notify", "link", "--dept", "1", "--url", "https://example.com/r/1", "--title", "Report",
         "Monthly report", "--pic-url", "@lADPDgQ9rZ1", "--json"],
    )  # fmt: skip
    assert set(progress.assert_ok().json()) >= {"progress_in_percent", "status"}
    found = result.assert_ok().json()
    assert {first, second} <= set(found["read_user_id_list"]) | set(found["unread_user_id_list"])
    assert isinstance(markdown.assert_ok().json()["task_id"], int)
    assert isinstance(link.assert_ok().json()["task_id"], int)
    recalled = wf.run("notify", "recall", str(task_id))
    assert recalled.assert_ok().stdout == f"recalled task {task_id}\n"


def test_notify_needs_an_agent_id_and_receivers(workflow_sandbox, cli_with):
    env = {k: v for k, v in workflow_sandbox.env().items() if k != "DINGTALK_AGENT_ID"}
    cli = cli_with(env)
    no_agent, no_receivers = cli.run_many(
        ["notify", "text", "--user", "manager0001", "hi"],
        ["notify", "text", "hi", "--agent-id", "123"],
    )
    no_agent.assert_failure(2, "no agent id", "--agent-id", "DINGTALK_AGENT_ID")
    no_receivers.assert_failure(2, "no receivers")


def _on_a_terminal(cli, args: list[str], answer: str) -> tuple[int, str]:
    """Run ``dingkit ARGS`` with a terminal on stdin, stdout and stderr, typing ``answer``;
    its exit code and what the terminal showed."""
    import os
    import pty
    import subprocess

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*cli.command(), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=cli.environ(),
        cwd=cli.home,
    )
    os.close(follower)
    shown = b""
    while b"?" not in shown:  # the question, then the answer
        chunk = os.read(leader, 1024)
        if not chunk:
            break
        shown += chunk
    os.write(leader, answer.encode() + b"\n")
    while True:
        try:
            chunk = os.read(leader, 1024)
        except OSError:  # EIO once the process has gone
            break
        if not chunk:
            break
        shown += chunk
    code = process.wait(timeout=60)
    os.close(leader)
    return code, shown.decode(errors="replace")


def test_calendar_writes_have_a_dry_run_and_deletion_asks_on_a_terminal(
    wf, workflow_sandbox, people
):
    owner = people[0]
    window = ["--from", "2024-07-01", "--to", "2024-07-31", "--json"]
    times = ["--start", "2024-07-01T10:00+08:00", "--end", "2024-07-01T11:00+08:00"]
    dry = wf.run("calendar", "create", "-u", owner, "--summary", "Dry", *times, "--dry-run")
    dry.assert_ok()
    union = workflow_sandbox.sandbox.org.user(owner).unionid
    assert dry.stdout.startswith(
        f"POST {workflow_sandbox.url}/v1.0/calendar/users/{union}/calendars/primary/events"
    )
    assert "x-acs-dingtalk-access-token: ***" in dry.stdout
    assert '"summary": "Dry"' in dry.stdout
    assert wf.run("calendar", "list", "-u", owner, *window).assert_ok().json() == []

    event_id = wf.run("calendar", "create", "-u", owner, "--summary", "Kept", *times, "--json")
    event_id = event_id.assert_ok().json()["id"]
    dry = wf.run("calendar", "update", "-u", owner, event_id, "--summary", "New", "--dry-run")
    assert dry.assert_ok().stdout.startswith(f"PUT {workflow_sandbox.url}/v1.0/calendar/")
    assert '"summary": "New"' in dry.stdout
    dry = wf.run("calendar", "delete", "-u", owner, event_id, "--dry-run").assert_ok()
    assert dry.stdout.startswith(f"DELETE {workflow_sandbox.url}/v1.0/calendar/users/{union}/")
    code, shown = _on_a_terminal(wf, ["calendar", "delete", "-u", owner, event_id], "n")
    assert code == 1, shown
    assert f"Delete event {event_id}" in shown
    assert "cancelled: nothing was changed" in shown
    [kept] = wf.run("calendar", "list", "-u", owner, *window).assert_ok().json()
    assert kept["summary"] == "Kept"
    code, shown = _on_a_terminal(wf, ["calendar", "delete", "-u", owner, event_id], "y")
    assert code == 0, shown
    assert f"deleted event {event_id}" in shown
    assert wf.run("calendar", "list", "-u", owner, *window).assert_ok().json() == []


def test_notify_dry_runs_send_nothing_and_recall_asks_on_a_terminal(wf, workflow_sandbox, people):
    first = people[0]
    sent = workflow_sandbox.sandbox.notifications.recent(1000)
    dry = wf.run("notify", "text", "-u", first, "not sent", "--dry-run").assert_ok()
    assert dry.stdout.startswith(
        f"POST {workflow_sandbox.url}/topapi/message/corpconversation/asyncsend_v2?access_token=***"
    )
    assert '"content": "not sent"' in dry.stdout
    as_json = wf.run("notify", "text", "-u", first, "x", "--dry-run", "--json").assert_ok()
    assert as_json.json()["dry_run"] is True
    wf.run("notify", "text", "x", "--dry-run").assert_failure(2, "no receivers")
    oa = '{"msgtype": "oa", "oa": {"head": {"text": "H"}, "body": {"content": "raw"}}}'
    piped = wf.run("notify", "raw", "-u", first, "--dry-run", input=oa).assert_ok()
    assert '"msgtype": "oa"' in piped.stdout
    assert workflow_sandbox.sandbox.notifications.recent(1000) == sent

    task_id = int(wf.run("notify", "text", "-u", first, "hi").assert_ok().stdout.split()[-1])
    dry = wf.run("notify", "recall", str(task_id), "--dry-run").assert_ok()
    assert f'"msg_task_id": {task_id}' in dry.stdout
    code, shown = _on_a_terminal(wf, ["notify", "recall", str(task_id)], "n")
    assert (code, "cancelled" in shown) == (1, True), shown
    assert workflow_sandbox.sandbox.notifications.get(task_id)["recalled_ms"] is None
    wf.run("notify", "recall", str(task_id), "--yes").assert_ok()


def test_approval_writes_have_a_dry_run_and_withdraw_asks_on_a_terminal(
    wf, workflow_sandbox, people
):
    originator, approver, _ = people
    form = json.dumps({"出差事由": "展会", RANGE_LABEL: ["2024-07-01", "2024-07-02"]})
    create = ["approval", "create", "-p", TRIP, "-u", originator, "--approver", approver]
    dry = wf.run(*create, "--form-json", "-", "--dry-run", input=form).assert_ok()
    assert dry.stdout.startswith(f"POST {workflow_sandbox.url}/v1.0/workflow/processInstances")
    assert '"processCode": "' + TRIP in dry.stdout
    instance_id = wf.run(*create, "--form-json", "-", input=form).assert_ok().stdout.strip()
    dry = wf.run("approval", "approve", instance_id, "-u", approver, "--dry-run").assert_ok()
    assert "/v1.0/workflow/processInstances/execute" in dry.stdout
    assert '"result": "agree"' in dry.stdout
    dry = wf.run("approval", "withdraw", instance_id, "-u", originator, "--dry-run")
    assert "/v1.0/workflow/processInstances/terminate" in dry.assert_ok().stdout
    assert wf.run("approval", "get", instance_id, "--json").json()["status"] == "RUNNING"
    code, shown = _on_a_terminal(wf, ["approval", "withdraw", instance_id, "-u", originator], "n")
    assert (code, "cancelled" in shown) == (1, True), shown
    assert wf.run("approval", "get", instance_id, "--json").json()["status"] == "RUNNING"
    wf.run("approval", "withdraw", instance_id, "-u", originator, "--yes").assert_ok()
    assert wf.run("approval", "get", instance_id, "--json").json()["status"] == "TERMINATED"
