"""``dingkit send ...`` through the real entry point, against the sandbox under uvicorn: every
message type and option ends up in the sandbox exactly as DingTalk expects it.

The one-message commands run side by side as one batch (each is mostly interpreter start-up);
each test then checks its own command's output and the message the sandbox recorded for it,
found by the ``msgUuid`` the command printed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MOBILE = "13800000000"
MOBILE2 = "13900000001"
USER = "user0042"
MARKDOWN = "# Deploy finished\n**api** is live.\n\n- one\n- two\n"
CARD = "### Roll back api-gateway?"
STDIN_TEXT = "first line\n第二行 with 中文\n"
STDIN_MARKDOWN = "## From stdin\n> quoted"


def _payload(message: dict[str, Any]) -> dict[str, Any]:
    """The recorded body without its random ``msgUuid`` (checked to be there)."""
    payload = dict(message["payload"])
    msg_uuid = payload.pop("msgUuid")
    assert re.fullmatch(r"[0-9a-f]{32}", msg_uuid)
    assert message["msg_uuid"] == msg_uuid
    return payload


def _commands(cli_sandbox, home) -> dict[str, dict[str, Any]]:
    """name -> keyword arguments of ``Call``: one command per feature."""
    (home / "notes.md").write_text(MARKDOWN, encoding="utf-8")
    (home / "card.md").write_text(CARD, encoding="utf-8")
    plain, signed, kw = (
        cli_sandbox.env(r) for r in (cli_sandbox.plain, cli_sandbox.signed, cli_sandbox.kw)
    )
    webhook = {
        "DINGTALK_ROBOT_WEBHOOK": cli_sandbox.webhook(cli_sandbox.signed),
        "DINGTALK_ROBOT_SECRET": cli_sandbox.signed.secret,
        # The webhook alone says where the robot is.
        "DINGTALK_OAPI_BASE_URL": "http://127.0.0.1:9",
    }
    mentions = ["--at-mobile", MOBILE, "--at-mobile", MOBILE2, "--at-user", USER, "--at-all"]
    return {
        "text": {"args": ["text", "disk full on db-1", *mentions], "env": plain},
        "text-stdin": {"args": ["text", "-"], "input": STDIN_TEXT, "env": plain, "script": True},
        "markdown-file": {
            "args": ["markdown", "-t", "Deploy", "-f", str(home / "notes.md"), "--at-user", USER],
            "env": plain,
        },
        "markdown-stdin": {
            "args": ["markdown", "-t", "Piped", "--file", "-", "--at-all"],
            "input": STDIN_MARKDOWN,
            "env": plain,
        },
        "link": {
            "args": [
                "link", "--title", "Incident 17", "Latency was 3x normal",
                "--url", "https://example.com/i/17", "--pic-url", "https://example.com/p.png",
            ],
            "env": plain,
        },
        "action-card-single": {
            "args": [
                "action-card", "--title", "Release 2.4.1", "### Ready to ship",
                "--single-title", "Open the release", "--single-url", "https://example.com/r/241",
            ],
            "env": plain,
        },
        "action-card-buttons": {
            "args": [
                "action-card", "-t", "Rollback", "--file", str(home / "card.md"),
                "--button", "Approve|https://example.com/yes",
                "-b", "Refuse | https://example.com/no",
                "--button", "Later|dingtalk://dingtalkclient/page/link?url=x",
                "--horizontal", "--hide-avatar",
            ],
            "env": plain,
        },
        "feed-card": {
            "args": [
                "feed-card",
                "--link", "Weekly report|https://example.com/w/48|https://example.com/w.png",
                "-l", "Three incidents closed|https://example.com/w/48#incidents",
                "--link", "Maintenance|https://example.com/w/48#next|@lADPmediaid",
            ],
            "env": plain,
        },
        "signed": {"args": ["text", "signed hello"], "env": signed},
        "webhook": {"args": ["text", "via webhook"], "env": webhook, "script": True},
        "keyword-added": {"args": ["text", "release done", "--keyword", "deploy"], "env": kw},
        "keyword-markdown": {
            "args": ["markdown", "-t", "Nightly", "build ok", "--keyword", "deploy"],
            "env": kw,
        },
        "json": {"args": ["text", "as json", "--json", "--no-wait"], "env": plain},
    }  # fmt: skip


@dataclass
class Sent:
    """One command of the batch and the messages the sandbox recorded for it."""

    result: Any
    messages: list[dict[str, Any]]

    @property
    def message(self) -> dict[str, Any]:
        assert len(self.messages) == 1, self
        return self.messages[0]


@dataclass
class Batch:
    sent: dict[str, Sent]
    rejections: list[dict[str, Any]]


#: The batch per module CLI (keyed by its home directory), run by the first test needing it.
_BATCHES: dict[Path, Batch] = {}


def _batch(module_cli, cli_sandbox) -> Batch:
    if module_cli.home not in _BATCHES:
        commands = _commands(cli_sandbox, module_cli.home)
        after, rejected = cli_sandbox.mark()
        results = module_cli.run_many(
            *(module_cli.call("send", *c.pop("args"), **c) for c in commands.values())
        )
        by_uuid = {m["msg_uuid"]: m for m in cli_sandbox.messages(after=after)}
        sent = {}
        for name, result in zip(commands, results, strict=True):
            # Plain output ends "(msgUuid ...)"; --json lists msg_uuids.
            uuids = re.findall(r"[0-9a-f]{32}", result.stdout)
            sent[name] = Sent(result, [by_uuid[u] for u in uuids if u in by_uuid])
        _BATCHES[module_cli.home] = Batch(sent, cli_sandbox.rejections(after=rejected))
    return _BATCHES[module_cli.home]


def _sent(module_cli, cli_sandbox, name: str) -> Sent:
    """What command ``name`` printed (it succeeded) and what the sandbox recorded for it."""
    sent = _batch(module_cli, cli_sandbox).sent[name]
    sent.result.assert_ok()
    return sent


def test_the_batch_was_not_refused(module_cli, cli_sandbox):
    assert _batch(module_cli, cli_sandbox).rejections == []


def test_text_with_every_mention_option(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "text")
    assert sent.result.stdout.startswith("sent text message via robot 'robot' (msgUuid ")
    assert sent.message["robot"] == "plain"
    assert sent.message["msgtype"] == "text"
    assert _payload(sent.message) == {
        "msgtype": "text",
        "text": {"content": f"disk full on db-1 @{MOBILE} @{MOBILE2} @{USER}"},
        "at": {"atMobiles": [MOBILE, MOBILE2], "atUserIds": [USER], "isAtAll": True},
    }


def test_text_from_stdin_through_the_installed_script(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "text-stdin")
    # The newline that ends piped input is not part of the message.
    content = STDIN_TEXT.rstrip("\n")
    assert _payload(sent.message) == {"msgtype": "text", "text": {"content": content}}


def test_markdown_from_a_file_with_mentions(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "markdown-file")
    assert _payload(sent.message) == {
        "msgtype": "markdown",
        "markdown": {"title": "Deploy", "text": f"{MARKDOWN.rstrip()}\n\n@{USER}"},
        "at": {"atUserIds": [USER]},
    }


def test_markdown_from_stdin_with_at_all(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "markdown-stdin")
    assert _payload(sent.message) == {
        "msgtype": "markdown",
        "markdown": {"title": "Piped", "text": STDIN_MARKDOWN},
        "at": {"isAtAll": True},
    }


def test_link(module_cli, cli_sandbox):
    link = {
        "title": "Incident 17",
        "text": "Latency was 3x normal",
        "messageUrl": "https://example.com/i/17",
    }
    sent = _sent(module_cli, cli_sandbox, "link")
    assert _payload(sent.message) == {
        "msgtype": "link",
        "link": {**link, "picUrl": "https://example.com/p.png"},
    }


def test_action_card_with_a_single_button(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "action-card-single")
    assert _payload(sent.message) == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "Release 2.4.1",
            "text": "### Ready to ship",
            "singleTitle": "Open the release",
            "singleURL": "https://example.com/r/241",
            "btnOrientation": "0",
            "hideAvatar": "0",
        },
    }


def test_action_card_with_buttons_horizontal_without_avatar(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "action-card-buttons")
    assert _payload(sent.message) == {
        "msgtype": "actionCard",
        "actionCard": {
            "title": "Rollback",
            "text": CARD,
            "btns": [
                {"title": "Approve", "actionURL": "https://example.com/yes"},
                {"title": "Refuse", "actionURL": "https://example.com/no"},
                {"title": "Later", "actionURL": "dingtalk://dingtalkclient/page/link?url=x"},
            ],
            "btnOrientation": "1",
            "hideAvatar": "1",
        },
    }


def test_feed_card(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "feed-card")
    assert _payload(sent.message) == {
        "msgtype": "feedCard",
        "feedCard": {
            "links": [
                {
                    "title": "Weekly report",
                    "messageURL": "https://example.com/w/48",
                    "picURL": "https://example.com/w.png",
                },
                {
                    "title": "Three incidents closed",
                    "messageURL": "https://example.com/w/48#incidents",
                },
                {
                    "title": "Maintenance",
                    "messageURL": "https://example.com/w/48#next",
                    "picURL": "@lADPmediaid",
                },
            ]
        },
    }


def test_signed_robot_from_token_and_secret(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "signed")
    assert sent.message["robot"] == "signed"
    assert _payload(sent.message) == {"msgtype": "text", "text": {"content": "signed hello"}}


def test_signed_robot_from_the_webhook_url(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "webhook")
    assert sent.message["robot"] == "signed"
    assert sent.message["payload"]["text"] == {"content": "via webhook"}


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("keyword-added", "text", {"content": "release done\ndeploy"}),
        ("keyword-markdown", "markdown", {"title": "Nightly", "text": "build ok\n\ndeploy"}),
    ],
)
def test_keyword_option_makes_the_keyword_robot_accept(
    module_cli, cli_sandbox, name, field, expected
):
    sent = _sent(module_cli, cli_sandbox, name)
    assert sent.message["robot"] == "kw"
    assert sent.message["payload"][field] == expected


def test_json_prints_the_raw_result_and_no_wait_sends_at_once(module_cli, cli_sandbox):
    sent = _sent(module_cli, cli_sandbox, "json")
    assert sent.result.json() == {
        "ok": True,
        "msg_uuids": [sent.message["msg_uuid"]],
        "responses": [{"errcode": 0, "errmsg": "ok"}],
    }


def _long_text(lines: int) -> tuple[str, list[str]]:
    rows = [f"line {i:05d} " + "x" * 88 for i in range(lines)]
    return "\n".join(rows) + "\n", rows


def _lines_of(messages: list[dict[str, Any]]) -> list[str]:
    return [
        line
        for message in messages
        for line in message["payload"]["text"]["content"].splitlines()
        if line
    ]


def test_split_sends_an_over_long_text_as_several_messages(cli_sandbox, sandbox_cli):
    text, rows = _long_text(450)  # about 45 kB: three parts
    assert len(text.encode()) > 2 * 20000
    after, _ = cli_sandbox.mark()
    result = sandbox_cli.run(
        "send", "text", "-", "--split", "--json", input=text, env=cli_sandbox.env(cli_sandbox.bulk)
    ).assert_ok()
    data = result.json()
    messages = cli_sandbox.messages("bulk", after)
    assert len(messages) == len(data["msg_uuids"]) == 3
    assert [m["msg_uuid"] for m in messages] == data["msg_uuids"]
    assert data["responses"] == [{"errcode": 0, "errmsg": "ok"}] * 3
    for message in messages:
        body = json.dumps(message["payload"], ensure_ascii=False, separators=(",", ":"))
        assert len(body.encode()) <= 20000
    assert _lines_of(messages) == rows  # every line once, in order


def test_split_plain_output_names_the_parts(cli_sandbox, sandbox_cli):
    text, _ = _long_text(250)
    after, _ = cli_sandbox.mark()
    result = sandbox_cli.run(
        "send", "text", text, "--split", env=cli_sandbox.env(cli_sandbox.bulk)
    ).assert_ok()
    assert "sent text message in 2 parts via robot 'robot'" in result.stdout
    assert len(cli_sandbox.messages("bulk", after)) == 2


def test_no_wait_fails_instead_of_waiting_for_a_send_slot(cli_sandbox, sandbox_cli):
    # 21 parts but 20 messages a minute: the 21st would wait a minute; --no-wait refuses it.
    text, rows = _long_text(21 * 200)
    after, _ = cli_sandbox.mark()
    result = sandbox_cli.run(
        "send",
        "text",
        "-",
        "--split",
        "--no-wait",
        input=text,
        env=cli_sandbox.env(cli_sandbox.bulk),
    )
    line = result.assert_failure(1, "20 messages", "Retry in")
    assert "None" not in line
    messages = cli_sandbox.messages("bulk", after)
    assert len(messages) == 20
    assert _lines_of(messages) == rows[: len(_lines_of(messages))]


def test_every_body_arrives_the_same_ways(cli_sandbox, sandbox_cli, home):
    """An argument, --file, '-' or a pipe, for text, markdown, link and action-card alike."""
    env = cli_sandbox.env(cli_sandbox.plain)
    (home / "body.md").write_text("from a file\n", encoding="utf-8")
    card = ["--title", "T", "--single-title", "Open", "--single-url", "https://example.com/a"]
    link = ["--title", "T", "--url", "https://example.com/l"]
    calls = [
        sandbox_cli.call("send", "text", "as an argument", env=env),
        sandbox_cli.call("send", "markdown", "-t", "T", "--file", str(home / "body.md"), env=env),
        sandbox_cli.call("send", "markdown", "-t", "T", "-", input="with a dash\n", env=env),
        sandbox_cli.call("send", "action-card", *card, input="piped in\n", env=env),
        sandbox_cli.call("send", "link", *link, "-f", "-", input="link text\n", env=env),
    ]
    before = cli_sandbox.mark()
    for call in calls:  # in order: the messages are compared in order
        sandbox_cli.run(*call.args, input=call.input, env=call.env).assert_ok()
    sent = cli_sandbox.messages(robot=cli_sandbox.plain.name, after=before[0])
    bodies = [
        m["payload"].get("text", {}).get("content")
        or m["payload"].get("markdown", {}).get("text")
        or m["payload"].get("actionCard", {}).get("text")
        or m["payload"]["link"]["text"]
        for m in sent
    ]
    assert bodies == ["as an argument", "from a file", "with a dash", "piped in", "link text"]


def test_a_one_off_webhook_needs_no_profile_or_environment(cli_sandbox, sandbox_cli):
    signed = cli_sandbox.signed
    webhook = cli_sandbox.webhook(signed)
    before = cli_sandbox.mark()
    sandbox_cli.run(
        "send", "text", "one-off", "--webhook", webhook, "--secret", signed.secret
    ).assert_ok()
    [sent] = cli_sandbox.messages(robot=signed.name, after=before[0])
    assert sent["payload"]["text"]["content"] == "one-off"
    unsigned = sandbox_cli.run("send", "text", "x", "--webhook", webhook)
    unsigned.assert_failure(1, "310000")  # the robot signs: DingTalk refuses it unsigned
    both = sandbox_cli.run("send", "text", "x", "--webhook", webhook, "--robot", "alerts")
    both.assert_failure(2, "--webhook or --robot")
