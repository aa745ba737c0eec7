"""``dingkit robot send-to-users|send-to-group`` against the sandbox: the app's robot sends
one-to-one and to a group it is in (§12.3), the body given like every other command's."""

from __future__ import annotations

import json

import pytest

from dingkit.sandbox.bots.conversations import open_group, single_conversation


@pytest.fixture(scope="module")
def people(openapi_sandbox):
    return [user.userid for user in openapi_sandbox.sandbox.org.users[10:12]]


@pytest.fixture(scope="module")
def group(openapi_sandbox, people):
    sandbox = openapi_sandbox.sandbox
    return open_group(
        sandbox, "CLI robot", members=people, robot_codes=[openapi_sandbox.app.app_key]
    ).id


def test_send_to_users_and_to_a_group(server_cli, openapi_sandbox, people, group, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("## 1.2 is out\n", encoding="utf-8")
    oto, as_json = server_cli.run_many(
        ["robot", "send-to-users", "-u", people[0], "-u", "ghost", "build 42 is green"],
        ["robot", "send-to-users", "--user", people[1], "hi", "--json"],
    )
    # One after the other: the group keeps them in order.
    markdown = server_cli.run(
        "robot", "send-to-group", "-c", group, "--file", str(notes), "-t", "Release"
    )
    piped = server_cli.run(
        "robot", "send-to-group", "--conversation", group, "--json", input="piped"
    )
    assert oto.assert_ok().stdout.startswith("sent: processQueryKey ")
    assert "not in the organisation: ghost" in oto.stdout
    answer = as_json.assert_ok().json()
    assert answer["processQueryKey"]
    assert answer["invalidStaffIdList"] == []
    assert markdown.assert_ok().stdout.startswith("sent: processQueryKey ")
    assert piped.assert_ok().json()["processQueryKey"]
    sandbox = openapi_sandbox.sandbox
    chat = single_conversation(sandbox, openapi_sandbox.app.app_key, people[0])
    assert [m.data["msgParam"] for m in sandbox.bots.messages(chat.id)] == [
        {"content": "build 42 is green"}
    ]
    sent = [m.data for m in sandbox.bots.messages(group)]
    assert sent[0] == {
        "msgKey": "sampleMarkdown",
        "msgParam": {"title": "Release", "text": "## 1.2 is out"},
    }
    assert sent[1] == {"msgKey": "sampleText", "msgParam": {"content": "piped"}}


def test_dry_run_shows_the_request_and_sends_nothing(server_cli, openapi_sandbox, group):
    before = len(openapi_sandbox.sandbox.bots.messages(group))
    shown = server_cli.run(
        "robot", "send-to-group", "-c", group, "hello", "--dry-run", "--json",
        "--robot-code", "dingcustomcode",
    ).assert_ok().json()  # fmt: skip
    assert shown["url"].endswith("/v1.0/robot/groupMessages/send")
    assert shown["headers"]["x-acs-dingtalk-access-token"] == "***"
    assert shown["body"]["robotCode"] == "dingcustomcode"
    assert json.loads(shown["body"]["msgParam"]) == {"content": "hello"}
    text = server_cli.run("robot", "send-to-users", "-u", "u1", "hi", "--dry-run").assert_ok()
    assert "POST " in text.stdout
    assert "oToMessages/batchSend" in text.stdout
    assert len(openapi_sandbox.sandbox.bots.messages(group)) == before


def test_refusals_name_the_fix(server_cli, group):
    unknown, too_many, no_body = (
        server_cli.run("robot", "send-to-group", "-c", "cidnope==", "hi"),
        server_cli.run(
            "robot", "send-to-users", *(a for i in range(21) for a in ("-u", f"u{i}")), "hi"
        ),
        server_cli.run("robot", "send-to-users", "-u", "u1"),
    )
    unknown.assert_failure(1, "invalid.openConversationId")
    too_many.assert_failure(2, "at most 20")
    no_body.assert_failure(2, "--file")
