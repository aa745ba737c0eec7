"""Faults a test asks of a robot: that share of its sends answered busy (errcode -1) or HTTP
503, alternating, reproducibly; nothing stored for them; a client's retries get through."""

from __future__ import annotations

import httpx
import pytest

from dingkit import AsyncRobot, ServerError
from dingkit._retry import NO_RETRY
from dingkit.robot.messages import Text
from dingkit.sandbox import Sandbox
from dingkit.sandbox.app import create_app
from dingkit.sandbox.config import RobotConfig, SandboxConfig

pytestmark = pytest.mark.anyio

ROBOT = RobotConfig(name="flaky", token="flakytoken01", group="demo")


def served(faults: float = 0.0) -> tuple[Sandbox, httpx.AsyncClient]:
    robot = ROBOT.model_copy(update={"faults": faults})
    sandbox = Sandbox.from_settings(config=SandboxConfig(robots=(robot,), limits=False))
    transport = httpx.ASGITransport(app=create_app(sandbox))
    return sandbox, httpx.AsyncClient(transport=transport, base_url="http://sandbox")


async def test_a_robot_with_faults_answers_that_share_busy_or_503_and_stores_nothing_for_them() -> (
    None
):
    sandbox, http = served(faults=0.3)
    answers = []
    async with http:
        for n in range(200):
            response = await http.post(
                "/robot/send",
                params={"access_token": ROBOT.token},
                json={"msgtype": "text", "text": {"content": f"m{n}"}},
            )
            answers.append(
                response.status_code if response.status_code != 200 else response.json()["errcode"]
            )
    busy, unavailable, ok = answers.count(-1), answers.count(503), answers.count(0)
    assert busy + unavailable + ok == 200
    assert 40 <= busy + unavailable <= 80  # about 30%
    assert abs(busy - unavailable) <= 1  # alternating
    assert len(sandbox.robot.messages(robot="flaky", limit=1000)) == ok
    assert sandbox.judge.faults.drawn("flaky") == {"busy": busy, "unavailable": unavailable}


async def test_faults_are_set_and_cleared_at_run_time_and_bad_settings_are_400() -> None:
    _, http = served()
    async with http:
        turned = await http.post("/_sandbox/robots/flaky/faults", json={"rate": 1, "seed": 3})
        assert turned.json() == {"robot": "flaky", "faults": 1.0, "seed": 3}
        first = await http.post(
            "/robot/send",
            params={"access_token": ROBOT.token},
            json={"msgtype": "text", "text": {"content": "x"}},
        )
        assert first.json() == {"errcode": -1, "errmsg": "系统繁忙"}
        for bad in (
            {"rate": 2},
            {"rate": "x"},
            {"seed": 1},
            {"rate": True},
            [],
            {"rate": 0.5, "seed": 1.5},
        ):
            refused = await http.post("/_sandbox/robots/flaky/faults", json=bad)
            assert refused.status_code == 400, bad
        assert (
            await http.post("/_sandbox/robots/nobody/faults", json={"rate": 0})
        ).status_code == 404
        await http.post("/_sandbox/robots/flaky/faults", json={"rate": 0})
        ok = await http.post(
            "/robot/send",
            params={"access_token": ROBOT.token},
            json={"msgtype": "text", "text": {"content": "y"}},
        )
        assert ok.json() == {"errcode": 0, "errmsg": "ok"}


async def test_the_client_reads_both_faults_as_server_errors_and_its_retries_get_through() -> None:
    sandbox, http = served(faults=0.5)
    async with http:
        robot = AsyncRobot(
            token=ROBOT.token,
            base_url="http://sandbox",
            http_client=http,
            rate_limit=False,
            retry=NO_RETRY,
        )
        kinds = set()
        for n in range(20):
            try:
                await robot.send(Text(content=f"n{n}"))
            except ServerError as error:
                kinds.add(error.http_status)
        assert kinds == {200, 503}  # busy (errcode -1 in a 200) and the gateway's 503
        patient = AsyncRobot(
            token=ROBOT.token,
            base_url="http://sandbox",
            http_client=http,
            rate_limit=False,
            sleep=_no_wait,
        )
        result = await patient.send(Text(content="gets through"))
    [stored] = [
        m for m in sandbox.robot.messages(robot="flaky", limit=100) if m.msg_uuid == result.msg_uuid
    ]
    assert stored.payload["text"]["content"] == "gets through"


async def _no_wait(_: float) -> None:
    return None


async def test_hostile_fault_settings_are_400_never_a_5xx() -> None:
    _, http = served()
    async with http:
        for body in (
            b"\xff\xfe not utf-8",
            b"[" * 5000 + b"]" * 5000,
            b'{"rate": 1e999}',
            b'{"rate": NaN}',
            b'{"rate": -0.1}',
            b"x" * 10_000,
            b"",
        ):
            answer = await http.post(
                "/_sandbox/robots/flaky/faults",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 400, (body[:40], answer.text)
            assert "rate" in answer.json()["error"]
