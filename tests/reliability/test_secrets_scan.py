"""The secrets scan sees what it looks for and leaves redactions alone (secrets_scan.py)."""

from __future__ import annotations

import pytest

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
