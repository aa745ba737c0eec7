"""``--dry-run`` prints the request with the token and the sign hidden, and sends nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse


def _sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _assert_sign_hidden(output: str, secret: str) -> None:
    """No sign for any timestamp the output shows (nor the next ones) appears, raw or encoded."""
    timestamps = re.findall(r"timestamp=(\d{13})", output)
    assert timestamps, output
    for timestamp in timestamps:
        for ms in range(int(timestamp) - 2, int(timestamp) + 3):
            sign = _sign(secret, str(ms))
            assert sign not in output
            assert urllib.parse.quote(sign, safe="") not in output


def test_dry_run_of_a_signed_robot_hides_token_and_sign(cli_sandbox, sandbox_cli):
    before = cli_sandbox.mark()
    result = sandbox_cli.run(
        "send",
        "text",
        "not sent",
        "--at-mobile",
        "13800000000",
        "--dry-run",
        env=cli_sandbox.env(cli_sandbox.signed),
    ).assert_ok()
    first, *body = result.stdout.splitlines()
    assert re.fullmatch(
        rf"POST {re.escape(cli_sandbox.url)}/robot/send"
        r"\?access_token=\*\*\*&timestamp=\d{13}&sign=\*\*\*",
        first,
    ), first
    payload = json.loads("\n".join(body))
    assert re.fullmatch(r"[0-9a-f]{32}", payload.pop("msgUuid"))
    assert payload == {
        "msgtype": "text",
        "text": {"content": "not sent @13800000000"},
        "at": {"atMobiles": ["13800000000"]},
    }
    _assert_sign_hidden(result.stdout + result.stderr, cli_sandbox.signed.secret)
    assert cli_sandbox.mark() == before  # nothing reached the sandbox, not even a rejection


def test_dry_run_json_is_the_whole_request(cli_sandbox, sandbox_cli):
    before = cli_sandbox.mark()
    result = sandbox_cli.run(
        "send",
        "action-card",
        "-t",
        "Card",
        "body",
        "-b",
        "A|https://example.com/a",
        "-b",
        "B|https://example.com/b",
        "--horizontal",
        "--dry-run",
        "--json",
        env=cli_sandbox.env(cli_sandbox.signed),
    ).assert_ok()
    request = result.json()
    assert set(request) == {"method", "url", "headers", "body"}
    assert request["method"] == "POST"
    url = urllib.parse.urlsplit(request["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{cli_sandbox.url}/robot/send"
    query = urllib.parse.parse_qs(url.query)
    assert query["access_token"] == ["***"]
    assert query["sign"] == ["***"]
    assert query["timestamp"][0].isdigit()
    assert request["headers"] == {"Content-Type": "application/json; charset=utf-8"}
    assert request["body"]["msgtype"] == "actionCard"
    assert request["body"]["actionCard"]["btns"] == [
        {"title": "A", "actionURL": "https://example.com/a"},
        {"title": "B", "actionURL": "https://example.com/b"},
    ]
    assert request["body"]["actionCard"]["btnOrientation"] == "1"
    _assert_sign_hidden(result.stdout, cli_sandbox.signed.secret)
    assert cli_sandbox.mark() == before


def test_dry_run_from_a_webhook_with_keyword_and_split(cli_sandbox, cli):
    before = cli_sandbox.mark()
    text = "".join(f"row {i:04d} " + "y" * 90 + "\n" for i in range(300))
    env = {"DINGTALK_ROBOT_WEBHOOK": cli_sandbox.webhook(cli_sandbox.kw)}
    result = cli.run(
        "send",
        "text",
        "-",
        "--split",
        "--keyword",
        "deploy",
        "--dry-run",
        "--json",
        input=text,
        env=env,
    ).assert_ok()
    requests = result.json()
    assert isinstance(requests, list)
    assert len(requests) == 2
    for request in requests:
        assert request["url"] == f"{cli_sandbox.url}/robot/send?access_token=***"
        assert request["body"]["text"]["content"].endswith("deploy")
    assert cli_sandbox.mark() == before


def test_dry_run_needs_no_reachable_server(cli, cli_sandbox):
    # A signed robot at a URL nobody listens on: a dry run never connects.
    env = {
        "DINGTALK_ROBOT_WEBHOOK": "http://127.0.0.1:9/robot/send?access_token="
        + cli_sandbox.signed.token,
        "DINGTALK_ROBOT_SECRET": cli_sandbox.signed.secret,
    }
    link = "A|https://example.com/a|https://example.com/a.png"
    result = cli.run("send", "feed-card", "--link", link, "--dry-run", env=env).assert_ok()
    assert result.stdout.startswith("POST http://127.0.0.1:9/robot/send?access_token=***&")
    assert "&sign=***" in result.stdout
    _assert_sign_hidden(result.stdout, cli_sandbox.signed.secret)


def test_a_webhook_on_dingtalk_s_host_goes_to_the_base_url(cli_sandbox, cli, home):
    """The URL copied from DingTalk works unchanged against the sandbox: with
    DINGTALK_OAPI_BASE_URL set, from the environment and from a profile alike."""
    copied = f"https://oapi.dingtalk.com/robot/send?access_token={cli_sandbox.plain.token}"
    env = {"DINGTALK_ROBOT_WEBHOOK": copied, "DINGTALK_OAPI_BASE_URL": cli_sandbox.url}
    dry = cli.run("send", "text", "where to?", "--dry-run", env=env).assert_ok()
    assert dry.stdout.startswith(f"POST {cli_sandbox.url}/robot/send?access_token=***")
    (home / "robots.toml").write_text(f'[robots.ops]\nwebhook = "{copied}"\n', encoding="utf-8")
    profile = ["--robot", "ops", "--config", str(home / "robots.toml")]
    before = cli_sandbox.mark()
    cli.run("send", "text", "from env", env=env).assert_ok()
    only_base = {"DINGTALK_OAPI_BASE_URL": cli_sandbox.url}
    cli.run("send", "text", "from a profile", *profile, env=only_base).assert_ok()
    sent = cli_sandbox.messages(robot=cli_sandbox.plain.name, after=before[0])
    assert [m["payload"]["text"]["content"] for m in sent] == ["from env", "from a profile"]
    # Without the base URL it is DingTalk's; a webhook on any other host is kept as it is.
    dry = cli.run("send", "text", "x", *profile, "--dry-run").assert_ok()
    assert dry.stdout.startswith("POST https://oapi.dingtalk.com/robot/send?access_token=***")
    elsewhere = {**env, "DINGTALK_ROBOT_WEBHOOK": copied.replace("oapi.dingtalk.com", "proxy")}
    dry = cli.run("send", "text", "x", "--dry-run", env=elsewhere).assert_ok()
    assert dry.stdout.startswith("POST https://proxy/robot/send?access_token=***")
