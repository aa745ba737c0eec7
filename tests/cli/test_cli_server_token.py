"""``dingkit token`` and ``dingkit api`` against the sandbox, and the server-API commands'
failures: exit 2 for usage and configuration, 1 when DingTalk refuses, one ``error:`` line,
no traceback, and neither the app secret nor the token in any output."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from dingkit.sandbox.config import AppConfig
from reliability import secrets_scan


def _token(home: Path, app_key: str) -> str:
    """The token the CLI keeps in its data dir."""
    store = json.loads((home / "data" / "dingkit" / "tokens.json").read_text(encoding="utf-8"))
    [value] = [entry["value"] for key, entry in store.items() if key.split()[1] == app_key]
    return str(value)


@pytest.fixture
def token(home, openapi_sandbox):
    """The token the CLI keeps for the sandbox's app (once a command has fetched it)."""
    return lambda: _token(home, openapi_sandbox.app.app_key)


def _clean(result, token: str):
    result.assert_ok()
    result.assert_no_secrets(token)
    return result


def _fresh_app(openapi_sandbox, name: str) -> AppConfig:
    """An app of its own, so the sandbox's token counts are this test's alone."""
    return openapi_sandbox.sandbox.add_app(
        AppConfig(name=name, app_key=f"ding{name}0001", app_secret=f"{name}-secret-0123456789")
    )


# -- token -----------------------------------------------------------------------------------


def test_token_prints_the_expiry_not_the_token(openapi_sandbox, cli_with, home):
    app = _fresh_app(openapi_sandbox, "clitoken")
    cli = cli_with(openapi_sandbox.env(app))
    result = cli.run("token")
    result.assert_ok()
    assert re.fullmatch(
        rf"app {app.app_key}: token valid until \S+ \((119|120) min left\)\n", result.stdout
    ), result
    result.assert_no_secrets(_token(home, app.app_key), app.app_secret)
    data = cli.run("token", "--json").assert_ok().json()
    assert data["app_key"] == app.app_key
    assert 7100 < data["expires_in"] <= 7200
    assert "access_token" not in data
    assert openapi_sandbox.token_requests(app) == 1


def test_token_show_prints_the_token_the_sandbox_accepts(openapi_sandbox, server_cli, token):
    shown, as_json = server_cli.run_many(["token", "--show"], ["token", "--show", "--json"])
    value = shown.assert_ok().stdout.splitlines()[-1]
    assert value == token()
    assert as_json.assert_ok().json()["access_token"] == value
    # A plain HTTP client, not dingkit: the printed token is the one the sandbox issued.
    request = urllib.request.Request(
        f"{openapi_sandbox.url}/topapi/v2/user/get?access_token={value}",
        data=b'{"userid": "manager0001"}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["errcode"] == 0


def test_consecutive_commands_share_one_token_in_a_private_file(openapi_sandbox, cli_with, home):
    app = _fresh_app(openapi_sandbox, "clishare")
    cli = cli_with(openapi_sandbox.env(app))
    listsubid = ("api", "POST", "/topapi/v2/department/listsubid", "--data", '{"dept_id":1}')
    for args in (("token",), ("contacts", "user", "manager0001", "--json"), listsubid):
        _clean(cli.run(*args), _token(home, app.app_key))
    assert openapi_sandbox.token_requests(app) == 1
    path = home / "data" / "dingkit" / "tokens.json"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_wrong_secret_is_caught_at_once_and_tokens_of_two_services_never_mix(
    openapi_sandbox, cli_with, home
):
    """The cache is keyed by base URL, app key and a hash of the secret (README says so)."""
    app = _fresh_app(openapi_sandbox, "clikeyed")
    cli_with(openapi_sandbox.env(app)).run("token").assert_ok()
    wrong = cli_with({**openapi_sandbox.env(app), "DINGTALK_APP_SECRET": "not-the-secret"})
    refused = wrong.run("contacts", "user", "manager0001")
    assert refused.returncode == 1, refused
    assert "invalidClientIdOrSecret" in refused.stderr
    # The same app through another base URL (a proxy in front of the sandbox, say) is
    # another service: its token is fetched, not borrowed.
    proxy = openapi_sandbox.url.replace("127.0.0.1", "localhost")
    elsewhere = {**openapi_sandbox.env(app), "DINGTALK_API_BASE_URL": proxy}
    cli_with(elsewhere).run("token").assert_ok()
    assert openapi_sandbox.token_requests(app) == 3  # the first, the wrong secret's, the proxy's
    store = json.loads((home / "data" / "dingkit" / "tokens.json").read_text(encoding="utf-8"))
    assert sorted(key.split()[0] for key in store if key.split()[1] == app.app_key) == sorted(
        [openapi_sandbox.url, proxy]
    )


# -- api -------------------------------------------------------------------------------------


def test_api_calls_the_old_family_with_the_token(openapi_sandbox, server_cli, token, home):
    (home / "body.json").write_text('{"dept_id": 1}', encoding="utf-8")
    inline, from_file, from_stdin = server_cli.run_many(
        ["api", "POST", "/topapi/v2/user/get", "--data", '{"userid": "manager0001"}'],
        [
            "api",
            "post",
            "/topapi/v2/department/listsub",
            "--param",
            "unused=1",
            "--data",
            "@body.json",
        ],
        server_cli.call(
            "api", "POST", "/topapi/user/listid", "--data", "-", input='{"dept_id": 1}'
        ),
    )
    org = openapi_sandbox.sandbox.org
    answer = _clean(inline, token()).json()
    assert (answer["errcode"], answer["result"]["unionid"]) == (
        0,
        org.user("manager0001").unionid,
    )
    children = _clean(from_file, token()).json()["result"]
    assert [d["dept_id"] for d in children] == org.root.children
    userids = _clean(from_stdin, token()).json()["result"]["userid_list"]
    assert userids == [user.userid for user in org.root.members]


def test_api_calls_the_new_family(openapi_sandbox, server_cli):
    # The token endpoint is the new family's own (no auth needed; the header is sent anyway).
    app = openapi_sandbox.app
    good = json.dumps({"appKey": app.app_key, "appSecret": app.app_secret})
    bad = json.dumps({"appKey": "dingnosuchapp", "appSecret": "nope"})
    answer, refused, unknown = server_cli.run_many(
        ["api", "POST", "/v1.0/oauth2/accessToken", "--data", good],
        ["api", "POST", "/v1.0/oauth2/accessToken", "--data", bad],
        ["api", "GET", "/v1.0/contact/nothing/here"],
    )
    assert answer.returncode == 0, answer  # (it prints the token: the caller asked for it)
    assert answer.json()["expireIn"] == 7200
    refused.assert_failure(1, "invalidClientIdOrSecret")
    unknown.assert_failure(1, "InvalidAction.NotFound")


# -- exit codes ------------------------------------------------------------------------------


def test_missing_credentials_exit_2(openapi_sandbox, cli):
    urls = {k: v for k, v in openapi_sandbox.env().items() if k.endswith("_BASE_URL")}
    commands = (
        ["token"],
        ["contacts", "user", "manager0001"],
        ["contacts", "users", "--dept", "1", "--json"],
        ["attendance", "results", "--from", "2024-05-06", "--to", "2024-05-06", "-u", "x"],
        ["api", "GET", "/topapi/v2/user/get"],
    )
    key = openapi_sandbox.app.app_key
    results = cli.run_many(*commands, env={**urls, "DINGTALK_APP_KEY": key})
    for result in results:
        line = result.assert_failure(2, "no app credentials", "set DINGTALK_APP_SECRET")
        assert result.stderr.strip() == line
    assert results[2].json()["error"] == "ConfigurationError"  # --json: stdout says it too


def test_refusals_exit_1_naming_the_errcode(server_cli, token, home):
    wrong = "not-the-secret-000111222"
    # A data dir of its own: a token cached by the other commands would be used as it is.
    env = {"DINGTALK_APP_SECRET": wrong, "XDG_DATA_HOME": str(home / "elsewhere")}
    wrong_secret = server_cli.call("contacts", "user", "manager0001", env=env)
    unknown_user, unknown_dept, as_json, no_mobile, refused = server_cli.run_many(
        ["contacts", "user", "nobody0000"],
        ["contacts", "users", "--dept", "424242"],
        ["contacts", "dept", "424242", "--json"],
        ["contacts", "find", "--mobile", "13999999999"],
        wrong_secret,
    )
    line = unknown_user.assert_failure(1, "errcode 33012", "userId")
    assert unknown_user.stderr.strip() == line
    assert unknown_user.stdout == ""
    unknown_dept.assert_failure(1, "errcode 60003")
    as_json.assert_failure(1, "errcode 60003")
    assert as_json.json()["errcode"] == 60003
    no_mobile.assert_failure(1, "errcode 60121")
    refused.assert_failure(1, "invalidClientIdOrSecret")
    refused.assert_no_secrets(wrong)
    for result in (unknown_user, unknown_dept, as_json, no_mobile):
        result.assert_no_secrets(token())


def test_usage_errors_exit_2(server_cli):
    cases = [
        (["api", "POST", "/topapi/v2/user/get", "--data", "{nope"], "--data is not valid JSON"),
        (["api", "GET", "topapi/v2/user/get"], "PATH must start with /"),
        (["api", "GET", "/x", "--param", "novalue"], "expected KEY=VALUE"),
        (["api", "POST", "/x", "--data", "@missing.json"], "--data: cannot read missing.json"),
        (["attendance", "results", "--from", "2024-02-30", "--to", "2024-03-01", "-u", "x"],
         "'2024-02-30' is not a date"),
        (["attendance", "records", "--from", "2024/03/01", "--to", "2024-03-01", "-u", "x"],
         "YYYY-MM-DD"),
        (["attendance", "results", "--from", "2024-03-05", "--to", "2024-03-01", "-u", "x"],
         "--to 2024-03-01 is before --from 2024-03-05"),
        (["attendance", "results", "--from", "2024-03-01", "--to", "2024-03-01"],
         "--user USERID"),
        (["contacts", "users"], "Missing option '--dept'"),
        (["contacts", "depts", "--json", "--csv"], "choose one of --json and --csv"),
        (["approval", "create", "--process", "P", "--user", "u", "--form", "NoEquals"],
         "--form 'NoEquals': expected KEY=VALUE"),
        (["approval", "create", "--process", "P", "--user", "u", "--form-json", "-"],
         "not valid JSON"),
        (["approval", "list", "--process", "P", "--from", "yesterday"], "is not a date"),
        (["calendar", "create", "-u", "u", "--summary", "S", "--start", "2024-05-01T10:00",
          "--end", "2024-05-01"], "as times, or both as dates"),
        (["calendar", "create", "-u", "u", "--summary", "S", "--start", "2024-05-01T10:00",
          "--end", "2024-05-01T11:00", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["notify", "text", "--user", "u"], "give the text as an argument, with --file"),
        (["notify", "markdown", "--user", "u", "--title", " ", "# hi"],
         "markdown.title is required"),
        (["notify", "link", "--user", "u", "--url", "https://example.com", "x"],
         "Missing option '--title'"),
        (["notify", "raw", "--user", "u", "[1]"], '{"msgtype": ..., ...}'),
    ]  # fmt: skip
    results = server_cli.run_many(
        *(server_cli.call(*args, input="{not json" if "-" in args else None) for args, _ in cases)
    )
    for result, (_, expected) in zip(results, cases, strict=True):
        result.assert_failure(2, expected)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_network_failure_exits_1_naming_the_family_s_base_url(openapi_sandbox, cli):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {**openapi_sandbox.env(), "DINGTALK_OAPI_BASE_URL": url, "DINGTALK_API_BASE_URL": url}
    # The token comes from /v1.0/oauth2/accessToken: the new family's base URL is to blame.
    result = cli.run("contacts", "user", "manager0001", env=env)
    result.assert_failure(1, "check the network", f"could not reach {url}", "DINGTALK_API_BASE_URL")
    assert "DINGTALK_OAPI_BASE_URL" not in result.stderr
    # The token comes, the old-family call does not get through: its own variable.
    env["DINGTALK_API_BASE_URL"] = openapi_sandbox.url
    old = cli.run("api", "POST", "/topapi/v2/user/get", "--data", '{"userid": "x"}', env=env)
    old.assert_failure(1, f"could not reach {url}", "DINGTALK_OAPI_BASE_URL")
    assert "DINGTALK_API_BASE_URL" not in old.stderr


# -- the progress bar ------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal_only(openapi_sandbox, server_cli, home):
    dept = max(openapi_sandbox.sandbox.org.departments.values(), key=lambda d: len(d.members))
    args = ["contacts", "users", "--dept", str(dept.dept_id), "--json"]
    piped = server_cli.run(*args).assert_ok()
    assert piped.stderr == ""  # not a terminal: no bar

    import pty  # POSIX only

    leader, follower = pty.openpty()
    env = server_cli.environ({"TERM": "xterm-256color"})
    process = subprocess.Popen(
        [*server_cli.command(), *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=home,
    )
    os.close(follower)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO once the process has gone
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=30)
    reader.join(timeout=5)
    os.close(leader)
    assert process.returncode == 0
    terminal = b"".join(chunks).decode("utf-8", errors="replace")
    secrets_scan.collect(args, stdout.decode(), terminal)
    assert "users" in terminal, terminal
    assert "rows" in terminal, terminal
    assert json.loads(stdout) == piped.json()  # the bar stays off stdout


# -- start-up --------------------------------------------------------------------------------


def test_help_lists_the_commands_and_imports_no_http_stack(cli):
    top, contacts = cli.run_many(["--help"], ["contacts", "--help"])
    for command in ("token", "api", "contacts", "approval", "calendar", "attendance", "notify"):
        assert command in top.assert_ok().stdout
    for command in ("depts", "dept", "users", "user", "find"):
        assert command in contacts.assert_ok().stdout
    result = cli.run("attendance", "results", "--help", python_flags=["-X", "importtime"])
    assert result.returncode == 0, result
    assert "--recursive" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "dingkit.cli.attendance_cmd" in imported
    for package in ("httpx", "dingkit.sandbox", "dingkit._client", "dingkit.resources"):
        assert not [n for n in imported if n == package or n.startswith(package + ".")], package


# -- -v ------------------------------------------------------------------------------------


def test_verbose_logs_one_redacted_line_per_request_and_answer(openapi_sandbox, cli_with):
    app = _fresh_app(openapi_sandbox, "cliverbose")
    cli = cli_with(openapi_sandbox.env(app))
    ok = cli.run("-v", "contacts", "user", "manager0001", "--json").assert_ok()
    lines = [line for line in ok.stderr.splitlines() if " -> " in line]
    assert [re.sub(r"\(\d+ ms\)$", "(N ms)", line) for line in lines] == [
        "dingkit: POST /v1.0/oauth2/accessToken -> 200 ok (N ms)",
        "dingkit: POST /topapi/v2/user/get -> 200 ok (N ms)",
    ]
    refused = cli.run("-v", "contacts", "user", "nobody-at-all")
    assert "dingkit: POST /topapi/v2/user/get -> 200 errcode 33012 (" in refused.stderr
    quiet = cli.run("contacts", "user", "manager0001", "--json").assert_ok()
    assert " -> " not in quiet.stderr
    for result in (ok, refused):
        assert app.app_secret not in result.stderr
        assert "access_token=" not in result.stderr
