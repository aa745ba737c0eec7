"""Where a robot's messages go (robot/target.py): a webhook copied from DingTalk follows the
base URL the user set, so the same URL works against the sandbox and against DingTalk."""

from __future__ import annotations

import pytest

from dingkit import Robot
from dingkit.robot.target import RobotTarget

COPIED = "https://oapi.dingtalk.com/robot/send?access_token=abc123"


@pytest.mark.parametrize(
    ("webhook", "environ", "base_url", "expected"),
    [
        (COPIED, {}, None, "https://oapi.dingtalk.com/robot/send"),
        (
            COPIED,
            {"DINGTALK_OAPI_BASE_URL": "http://127.0.0.1:8000/"},
            None,
            "http://127.0.0.1:8000/robot/send",
        ),
        (COPIED, {"DINGTALK_OAPI_BASE_URL": "http://a:1"}, "http://b:2", "http://b:2/robot/send"),
        (
            COPIED.upper().replace("ACCESS_TOKEN", "access_token"),
            {},
            "http://b:2",
            "http://b:2/ROBOT/SEND",
        ),
        (
            "https://proxy.example/robot/send?access_token=abc123",
            {"DINGTALK_OAPI_BASE_URL": "http://a:1"},
            None,
            "https://proxy.example/robot/send",
        ),
    ],
    ids=["dingtalk", "env-base", "argument-wins", "host-case", "other-host-kept"],
)
def test_a_webhook_on_dingtalk_s_host_follows_the_base_url(webhook, environ, base_url, expected):
    target = RobotTarget.from_settings(webhook=webhook, base_url=base_url, environ=environ)
    assert target.send_url == expected
    assert target.token.lower() == "abc123"


def test_the_sdk_client_and_the_environment_webhook_do_the_same(monkeypatch):
    monkeypatch.setenv("DINGTALK_OAPI_BASE_URL", "http://127.0.0.1:8000")
    with Robot(COPIED, rate_limit=False) as robot:
        assert robot.target.send_url == "http://127.0.0.1:8000/robot/send"
    monkeypatch.setenv("DINGTALK_ROBOT_WEBHOOK", COPIED)
    with Robot(rate_limit=False) as robot:
        assert robot.target.send_url == "http://127.0.0.1:8000/robot/send"
