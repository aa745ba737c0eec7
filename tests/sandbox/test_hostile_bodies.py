"""Bodies DingTalk's JSON refuses (NaN, Infinity, 1e999, deep nesting, huge integers, lone
surrogates) are refused at the door with the family's error for a malformed body, never
stored and never answered as "system busy" (issue 10, defects 2 and 4); a bad row already
stored does not take a view down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import RobotConfig

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
PLAIN = RobotConfig(name="plain", token="plaintoken0001")
TEXT = '{"msgtype":"text","text":{"content":"hi"}'
HOSTILE = {
    "nan": TEXT + ',"x":NaN}',
    "infinity": TEXT + ',"x":-Infinity}',
    "overflow": TEXT + ',"x":1e999}',
    "nested": TEXT + ',"x":' + "[" * 5000 + "]" * 5000 + "}",
    "digits": TEXT + ',"x":' + "9" * 5000 + "}",
    "surrogate": '{"msgtype":"text","text":{"content":"\\ud800"}}',
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
async def test_the_webhook_refuses_what_json_does_not_allow(
    open_sandbox: OpenSandbox, connect: Connect, body: str
) -> None:
    sandbox = open_sandbox(robots=(PLAIN,))
    client = connect(sandbox)
    robot = PLAIN

    response = await client.http.post(
        "/robot/send",
        params={"access_token": robot.token},
        content=body.encode(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["errcode"] == 400402, response.json()
    assert sandbox.robot.messages() == []
    groups = await client.http.get("/_sandbox/groups")
    assert groups.status_code == 200


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
async def test_the_server_apis_answer_a_parameter_error(
    open_sandbox: OpenSandbox, connect: Connect, body: str
) -> None:
    client = connect(open_sandbox())
    old = await client.oapi("/topapi/v2/user/get", content=body.encode())
    assert old["errcode"] == 400002, old
    token = await client.token()
    new = await client.http.post(
        "/v1.0/workflow/processInstances",
        content=body.encode(),
        headers={"x-acs-dingtalk-access-token": token, "Content-Type": "application/json"},
    )
    assert new.status_code == 400, new.text
    assert new.json()["code"] == "invalidParameter"


async def test_a_bad_stored_message_does_not_take_the_views_down(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox(robots=(PLAIN,))
    client = connect(sandbox)
    robot = sandbox.robot.robots()[0]
    good = {"msgtype": "text", "text": {"content": "fine"}}
    # Rows written before the door was shut (or by hand) may hold what JSON cannot carry.
    sandbox.robot.add_message(robot, "text", None, {"msgtype": "text", "x": float("nan")})
    sandbox.robot.add_message(robot, "text", None, good)

    messages = await client.http.get("/_sandbox/messages")
    groups = await client.http.get("/_sandbox/groups")

    assert messages.status_code == 200, messages.text
    bad, fine = messages.json()["messages"]
    assert bad["broken"] is True
    assert fine["payload"] == good
    assert groups.status_code == 200, groups.text


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", "9" * 5000])
async def test_a_signed_robot_refuses_a_timestamp_that_is_not_digits(
    open_sandbox: OpenSandbox, connect: Connect, timestamp: str
) -> None:
    """DingTalk's timestamp error (310000), not the sandbox's bug errcode: int("²") raised."""
    signed = RobotConfig(name="signed", token="signedtoken0001", secret="SEC-signed-0001")
    sandbox = open_sandbox(robots=(signed,))
    client = connect(sandbox)
    response = await client.http.post(
        "/robot/send",
        params={"access_token": signed.token, "timestamp": timestamp, "sign": "x"},
        content=(TEXT + "}").encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.json()["errcode"] == 310000, response.json()
    assert sandbox.robot.messages() == []
