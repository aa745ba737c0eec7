"""Exit codes: 0 sent, 1 DingTalk refused or the network failed, 2 usage or configuration.

Every failure is one ``error:`` line on stderr that says what went wrong and what to do, with
no traceback and no secret in any output.
"""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- 1: DingTalk refused -------------------------------------------------------------------


def test_keyword_robot_without_the_keyword_is_refused(cli_sandbox, sandbox_cli):
    before, rejected = cli_sandbox.mark()
    result = sandbox_cli.run("send", "text", "no keyword here", env=cli_sandbox.env(cli_sandbox.kw))
    line = result.assert_failure(1, "errcode 310000", "(keyword)", "keywords")
    assert result.stderr.strip() == line  # the one line is all of stderr
    assert result.stdout == ""
    assert cli_sandbox.messages("kw", before) == []
    [rejection] = cli_sandbox.rejections("kw", rejected)
    assert (rejection["errcode"], rejection["reason"]) == (310000, "keyword")


def test_wrong_secret_is_refused(cli_sandbox, sandbox_cli):
    before, rejected = cli_sandbox.mark()
    wrong = "SECthisisnotthesecret000000000000"
    env = {"DINGTALK_ROBOT_TOKEN": cli_sandbox.signed.token, "DINGTALK_ROBOT_SECRET": wrong}
    result = sandbox_cli.run("send", "text", "hello", env=env)
    line = result.assert_failure(1, "errcode 310000", "(signature)", "secret")
    assert result.stderr.strip() == line
    result.assert_no_secrets(wrong)
    assert cli_sandbox.messages("signed", before) == []
    [rejection] = cli_sandbox.rejections("signed", rejected)
    assert (rejection["errcode"], rejection["reason"]) == (310000, "signature")


def test_unknown_token_is_refused_with_the_sandbox_code(cli_sandbox, sandbox_cli):
    _, rejected = cli_sandbox.mark()
    token = "nosuchrobottoken000111"
    result = sandbox_cli.run("send", "text", "hello", env={"DINGTALK_ROBOT_TOKEN": token})
    line = result.assert_failure(1, "errcode 400101", "access_token")
    assert result.stderr.strip() == line
    result.assert_no_secrets(token)
    [rejection] = cli_sandbox.rejections(after=rejected)
    assert (rejection["robot"], rejection["errcode"]) == (None, 400101)


def test_refusal_with_json_prints_the_error_as_json(cli_sandbox, sandbox_cli):
    result = sandbox_cli.run("send", "text", "nope", "--json", env=cli_sandbox.env(cli_sandbox.kw))
    result.assert_failure(1, "errcode 310000")
    data = result.json()
    assert data["ok"] is False
    assert data["error"] == "SecurityCheckError"
    assert data["errcode"] == 310000
    assert "关键词" in data["errmsg"]


def test_network_failure_exits_1(cli_sandbox, cli):
    # Connection errors are retried with a 1 s then 2 s backoff (no option shortens it).
    env = {
        "DINGTALK_OAPI_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
        **cli_sandbox.env(cli_sandbox.signed),
    }
    result = cli.run("send", "text", "hello", env=env)
    result.assert_failure(1, "could not reach", "check the network", "DINGTALK_OAPI_BASE_URL")


# -- 2: usage and configuration ------------------------------------------------------------


def test_no_robot_configured(cli):
    result = cli.run("send", "text", "hello")
    line = result.assert_failure(2, "no robot configured", "DINGTALK_ROBOT_WEBHOOK", "--robot")
    assert result.stderr.strip() == line


def test_webhook_that_is_not_a_webhook(cli):
    env = {"DINGTALK_ROBOT_WEBHOOK": "https://example.com/hook?token=abcdefgh1234"}
    result = cli.run("send", "text", "hello", env=env)
    result.assert_failure(2, "not a robot webhook URL")
    result.assert_no_secrets("abcdefgh1234")


CARD = ["send", "action-card", "-t", "T", "x"]
LINK = ["send", "link", "-t", "T", "x"]

#: Caught by the command line itself: (arguments, text of the error line).
USAGE_ERRORS = [
    (["send", "link", "--title", "T", "--url", "https://example.com"], "give the link's text"),
    (["send", "markdown", "--title", "T"], "give the markdown as an argument, with --file"),
    (["send", "text", "x", "--secret", "SEC1"], "--secret goes with --webhook"),
    (["send", "feed-card"], "Missing option '--link'"),
    (["send", "text"], "or on standard input"),
    (["send", "text", "hello", "--bogus"], "--bogus"),
    ([*CARD], "--single-title"),
    ([*CARD, "-b", "Approve"], "--button 'Approve': expected TITLE|URL"),
    ([*CARD, "-b", "A|"], "expected TITLE|URL"),
    ([*CARD, "-b", "A|https://example.com|extra"], "expected TITLE|URL"),
    (["send", "feed-card", "--link", "Title only"], "expected TITLE|URL[|PICTURE_URL]"),
]

#: Messages DingTalk would refuse, caught by validation before sending.
INVALID_MESSAGES = [
    ([*LINK, "--url", "not-a-url"], "link.messageUrl 'not-a-url' is not a well-formed URL"),
    ([*CARD, "-b", "A|ftp://example.com/a"], "actionCard.btns[0].actionURL"),
    (["send", "feed-card", "--link", "A|example.com/a"], "feedCard.links[0].messageURL"),
    (["send", "markdown", "-t", " ", "x"], "markdown.title is required"),
    (["send", "text", "x" * 25000], "20000"),
]


@pytest.mark.parametrize(
    "cases", [USAGE_ERRORS, INVALID_MESSAGES], ids=["usage", "invalid-message"]
)
def test_usage_errors_exit_2(cli_sandbox, sandbox_cli, cases):
    before = cli_sandbox.mark()
    results = sandbox_cli.run_many(
        *(args for args, _ in cases), env=cli_sandbox.env(cli_sandbox.plain)
    )
    for result, (_, expected) in zip(results, cases, strict=True):
        line = result.assert_failure(2, expected)
        if cases is INVALID_MESSAGES:
            assert result.stderr.strip() == line  # one line, no usage text
    assert cli_sandbox.mark() == before  # nothing was sent


def test_unreadable_file_exits_2(cli_sandbox, sandbox_cli, home):
    (home / "binary.md").write_bytes(b"\xff\xfe\x00not utf-8")
    paths = (home / "missing.md", home / "binary.md")
    results = sandbox_cli.run_many(
        *(["send", "markdown", "-t", "T", "--file", str(path)] for path in paths),
        env=cli_sandbox.env(cli_sandbox.plain),
    )
    for path, result in zip(paths, results, strict=True):
        result.assert_failure(2, f"cannot read {path}")
