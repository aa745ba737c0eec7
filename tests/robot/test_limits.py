from __future__ import annotations

from collections.abc import Callable

import pytest

from dingkit import ConfigurationError
from dingkit.robot.limits import (
    TEST_PERIOD_ENV,
    RobotWindow,
    client_window,
    robot_window,
)
from dingkit.sandbox import Sandbox

SANDBOX = "http://127.0.0.1:8000/robot/send"
DINGTALK = "https://oapi.dingtalk.com/robot/send"


def test_dingtalks_window_and_the_clients_second_more() -> None:
    assert robot_window({}) == RobotWindow(20, 60.0)
    assert client_window(SANDBOX, {}) == RobotWindow(20, 61.0)
    assert client_window(DINGTALK, {}) == RobotWindow(20, 61.0)


def test_the_test_period_shortens_both_sides() -> None:
    environ = {TEST_PERIOD_ENV: "3"}
    assert robot_window(environ) == RobotWindow(20, 3.0)
    assert client_window(SANDBOX, environ) == RobotWindow(20, 4.0)


def test_the_test_period_never_applies_to_dingtalk_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert client_window(DINGTALK, {TEST_PERIOD_ENV: "3"}) == RobotWindow(20, 61.0)
    assert TEST_PERIOD_ENV in caplog.text


@pytest.mark.parametrize("value", ["abc", "0", "-1", "61", "nan", "inf"])
def test_a_bad_test_period_is_one_clear_error(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        robot_window({TEST_PERIOD_ENV: value})
    message = str(info.value)
    assert TEST_PERIOD_ENV in message
    assert repr(value) in message
    assert "\n" not in message


def test_the_sandbox_enforces_the_same_window(
    make_sandbox: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert make_sandbox().judge.window == RobotWindow(20, 60.0)
    monkeypatch.setenv(TEST_PERIOD_ENV, "3")
    assert make_sandbox().judge.window == RobotWindow(20, 3.0)
