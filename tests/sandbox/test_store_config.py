from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dingkit import AsyncRobot, ConfigurationError, SecurityCheckError
from dingkit.robot.messages import Text
from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import (
    GroupConfig,
    RobotConfig,
    SandboxConfig,
    demo_config,
    load_config,
)
from dingkit.sandbox.robot.records import RobotRecords
from dingkit.sandbox.store import Store

GOOD_TOML = """
errcodes = "observed"
limits = false

[[group]]
id = "ops"
name = "Ops room"

[[robot]]
name = "alerts"
token = "alerts-token-0001"
secret = "SECalerts-secret-0001"
keywords = ["告警", "alert"]
ip_allowlist = ["127.0.0.1", "10.0.0.0/8"]
group = "ops"

[[robot]]
name = "builds"
token = "builds-token-0001"
group = "ci"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sandbox.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- persistence ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_file_backed_sandbox_keeps_its_state_across_restarts(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], robot_for: Callable[..., AsyncRobot]
) -> None:
    first = make_sandbox(data_dir=tmp_path)
    before = {r.name: (r.token, r.secret, r.keywords) for r in first.robot.robots()}
    assert set(before) == {"alerts", "deploys"}
    result = await robot_for(first, "alerts").send_text("kept")
    with pytest.raises(SecurityCheckError):
        await robot_for(first, "deploys").send_text("no keyword here")
    first.store.close()

    second = make_sandbox(data_dir=tmp_path)
    after = {r.name: (r.token, r.secret, r.keywords) for r in second.robot.robots()}
    assert after == before
    [message] = second.robot.messages()
    assert (message.msg_uuid, message.payload["text"]["content"]) == (result.msg_uuid, "kept")
    [rejection] = second.robot.rejections()
    assert (rejection.errcode, rejection.reason, rejection.robot) == (310000, "keyword", "deploys")
    # The old webhook still works after the restart.
    await robot_for(second, "alerts").send_text("still here")
    assert len(second.robot.messages()) == 2


def test_in_memory_sandboxes_get_fresh_demo_credentials(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    one, two = make_sandbox(), make_sandbox()
    tokens_one = {r.token for r in one.robot.robots()}
    tokens_two = {r.token for r in two.robot.robots()}
    assert tokens_one.isdisjoint(tokens_two)


def test_demo_robots() -> None:
    config = demo_config()
    alerts, deploys = config.robots
    assert (alerts.name, alerts.group, alerts.keywords) == ("alerts", "demo", ())
    assert alerts.secret is not None
    assert alerts.secret.startswith("SEC")
    assert (deploys.name, deploys.secret, deploys.keywords) == ("deploys", None, ("deploy",))
    assert [g.id for g in config.all_groups()] == ["demo"]


def test_store_keeps_one_message_per_msg_uuid() -> None:
    db = Store()
    store = RobotRecords(db)
    try:
        store.upsert_group(GroupConfig(id="g"))
        store.upsert_robot(RobotConfig(name="r", token="r-token-0001", group="g"))
        robot = store.robot_by_name("r")
        assert robot is not None
        payload = {"msgtype": "text", "text": {"content": "中文"}, "msgUuid": "u1"}
        assert store.add_message(robot, "text", "u1", payload) is not None
        assert store.add_message(robot, "text", "u1", payload) is None
        assert store.add_message(robot, "text", None, payload) is not None
        assert store.add_message(robot, "text", None, payload) is not None
        assert [m.payload for m in store.messages()] == [payload] * 3
        store.add_rejection(robot=None, errcode=40035, errmsg="x", reason="r", body=b"z" * 10_000)
        [rejection] = store.rejections()
        assert len(rejection.body) == 2000
        store.clear_history()
        assert store.messages() == []
        assert store.rejections() == []
    finally:
        db.close()


def test_a_token_moved_to_another_name_replaces_the_old_robot() -> None:
    db = Store()
    store = RobotRecords(db)
    try:
        store.upsert_group(GroupConfig(id="demo"))
        store.upsert_robot(RobotConfig(name="old", token="same-token-0001"))
        store.upsert_robot(RobotConfig(name="new", token="same-token-0001"))
        assert [r.name for r in store.robots()] == ["new"]
    finally:
        db.close()


# -- config files -----------------------------------------------------------------------


def test_load_config_reads_robot_and_group_tables(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD_TOML))
    assert (config.errcodes, config.limits) == ("observed", False)
    alerts, builds = config.robots
    assert alerts == RobotConfig(
        name="alerts",
        token="alerts-token-0001",
        secret="SECalerts-secret-0001",
        keywords=("告警", "alert"),
        ip_allowlist=("127.0.0.1", "10.0.0.0/8"),
        group="ops",
    )
    assert (builds.name, builds.group, builds.secret) == ("builds", "ci", None)
    # "ci" is named by a robot only: it is created too.
    assert {g.id: g.name for g in config.all_groups()} == {"ops": "Ops room", "ci": "ci"}


@pytest.mark.anyio
async def test_a_configured_sandbox_enforces_its_robots(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], robot_for: Callable[..., AsyncRobot]
) -> None:
    sandbox = make_sandbox(config=load_config(write(tmp_path, GOOD_TOML)))
    assert {r.name for r in sandbox.robot.robots()} == {"alerts", "builds"}
    alerts = robot_for(sandbox, "alerts", client_ip="10.1.2.3")
    await alerts.send(Text(content="磁盘告警"))
    with pytest.raises(SecurityCheckError) as info:
        await alerts.send(Text(content="no keyword"))
    assert info.value.reason == "keyword"
    with pytest.raises(SecurityCheckError) as info:
        await robot_for(sandbox, "alerts", client_ip="192.168.1.1").send_text("alert")
    assert info.value.reason == "ip"
    await robot_for(sandbox, "builds").send_text("anything")
    assert [m.group for m in sandbox.robot.messages()] == ["ops", "ci"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[robot]\nname = 1", "not valid TOML"),
        ('errcodes = "doc"\ncolour = "blue"', "colour"),
        ('[[robot]]\nname = "a"\ntoken = "a-token-0001"\nkeyword = ["x"]', "keyword"),
        (
            '[[robot]]\nname = "a"\ntoken = "a-token-0001"\nip_allowlist = ["10.0.0.0/33"]',
            "10.0.0.0/33",
        ),
        (
            '[[robot]]\nname = "a"\ntoken = "a-token-0001"\nip_allowlist = ["not-an-ip"]',
            "not-an-ip",
        ),
        (
            '[[robot]]\nname = "a"\ntoken = "a-token-0001"\nip_allowlist = ["2001:db8::/32"]',
            "IPv4",
        ),
        ('errcodes = "2019"', "errcodes"),
        ('[[robot]]\nname = "a"', "token"),
        ('[[robot]]\nname = "a b"\ntoken = "a-token-0001"', "name"),
        (
            '[[robot]]\nname = "a"\ntoken = "a-token-0001"\n'
            '[[robot]]\nname = "a"\ntoken = "b-token-0001"',
            "unique",
        ),
        ('[[robot]]\nname = "a"\ntoken = "a-token-0001"\nkeywords = [" "]', "blank"),
    ],
    ids=[
        "bad-toml",
        "unknown-top-level-key",
        "unknown-robot-key",
        "bad-cidr",
        "bad-ip",
        "ipv6",
        "bad-era",
        "missing-token",
        "bad-name",
        "duplicate-name",
        "blank-keyword",
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_config_in_code_uses_the_python_names() -> None:
    config = SandboxConfig(
        robots=(RobotConfig(name="r", token="r-token-0001", group="g"),), errcodes="observed"
    )
    assert config.robots[0].name == "r"
    assert config.limits is True
