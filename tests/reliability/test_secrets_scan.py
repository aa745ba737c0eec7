"""The secrets scan sees what it looks for and leaves redactions alone (secrets_scan.py)."""

from __future__ import annotations

import pytest

from . import secrets_scan
from .secrets_scan import leaks


@pytest.mark.parametrize(
    "text",
    [
        "GET /gettoken?appkey=dingx&appsecret=a1b2c3d4e5f6g7h8",
        '{"access_token": "0123456789abcdef0123"}',
        "aes_key=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "signed with sign=Zm9vYmFyYmF6cXV4cXV1eA== at 1700000000000",
        "the app's events-secret-0001 was wrong",
    ],
)
def test_a_credential_in_the_clear_is_found(text: str) -> None:
    assert leaks([("here", text)]) != []


@pytest.mark.parametrize(
    "text",
    [
        "appsecret=***",
        "access_token=<redacted>",
        '"secret": null',
        "the sign is wrong: check the secret (SEC…) and the clock",
        "DingTalk(app_key='dingx', app_secret=***)",
    ],
)
def test_redactions_and_prose_are_not_leaks(text: str) -> None:
    assert leaks([("here", text)]) == []


BANNER = """DingTalk sandbox on http://127.0.0.1:8000  (chat page: http://127.0.0.1:8000/)
app 'demo' (agent_id 1)
  app_key:    dingdemo0001
  app_secret: Q0KAohJdYktABwXCOcCGiwqtl9yxbQ7ffct
robot 'alerts' → group 'ops'
  webhook: http://127.0.0.1:8000/robot/send?access_token=ea27578f08c50af7ca8c6e05
  secret:  SECda8b82730f2ffbcb736b15d53fad006de1c846b6d3845cfd"""


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    collected: list[tuple[str, str]] = []
    monkeypatch.setattr(secrets_scan, "OUTPUTS", collected)
    return collected


def test_what_a_command_is_asked_to_print_is_exempt_on_stdout_only(outputs) -> None:
    secrets_scan.collect(["sandbox", "--port", "0"], BANNER)
    secrets_scan.collect(("token",), '{"access_token": "0123456789abcdef0123"}')
    secrets_scan.collect(["callback", "get", "--show-secrets"], "aes_key=abcdefghijklmnopqrstu")
    assert leaks(outputs) == []
    # The same lines anywhere else are leaks: on stderr, from another command, or a sandbox
    # printing a credential outside its banner's credential lines.
    secrets_scan.collect(["sandbox"], "", "  secret:  SECda8b82730f2ffbcb736b15d53fad006")
    secrets_scan.collect(["send", "--secret", "SEC0123456789abcdef"], BANNER)
    secrets_scan.collect(["sandbox"], "reloading with appsecret=a1b2c3d4e5f6g7h8")
    found = leaks(outputs)
    assert [line.split(":")[0] for line in found] == [
        "dingkit sandbox stderr",
        *["dingkit send stdout"] * 3,
        "dingkit sandbox stdout",
    ]


def test_server_logs_under_the_session_folder_are_scanned(outputs, tmp_path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "receiver.log").write_text("token=abcdefghijklmnop1234")
    (tmp_path / "run" / "inbox.sqlite3").write_text("secret=abcdefghijklmnop1234")
    secrets_scan.collect_files(tmp_path)
    assert [where for where, _ in outputs] == ["file run/receiver.log"]
