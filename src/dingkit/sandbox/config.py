"""The sandbox's settings: a TOML file, command-line flags, or the built-in demo.

errcodes = "doc"            # or "observed": the codes the live service sent in 2026 (§10)
limits = true               # false switches off the 20-a-minute robot limit (benchmarks)

[[group]]                   # optional: groups are also created from robots' `group`
id = "ops"
name = "Ops room"

[[robot]]
name = "alerts"
token = "a1b2..."
secret = "SEC..."           # optional: the robot signs
keywords = ["告警"]          # optional: at least one must appear in each message
ip_allowlist = ["127.0.0.1", "10.0.0.0/8"]   # optional: IPv4 addresses and CIDR ranges
group = "ops"
"""

from __future__ import annotations

import ipaddress
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._exceptions import ConfigurationError

__all__ = ["GroupConfig", "RobotConfig", "SandboxConfig", "demo_config", "load_config"]

ErrcodeEra = Literal["doc", "observed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupConfig(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""


class RobotConfig(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    token: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    secret: str | None = Field(default=None, min_length=8)
    keywords: tuple[str, ...] = Field(default=(), max_length=10)
    ip_allowlist: tuple[str, ...] = ()
    group: str = Field(default="demo", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not keyword.strip() for keyword in value):
            raise ValueError("keywords must not be blank")
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _ipv4_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IPv4 address or CIDR range") from None
            if network.version != 4:
                raise ValueError(f"{entry!r}: DingTalk's allow-list takes IPv4 only")
        return value


class SandboxConfig(_Strict):
    errcodes: ErrcodeEra = "doc"
    limits: bool = True
    groups: tuple[GroupConfig, ...] = Field(default=(), alias="group")
    robots: tuple[RobotConfig, ...] = Field(default=(), alias="robot")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def all_groups(self) -> list[GroupConfig]:
        """Declared groups plus one for every group a robot names but nobody declared."""
        groups = {group.id: group for group in self.groups}
        for robot in self.robots:
            groups.setdefault(robot.group, GroupConfig(id=robot.group, name=robot.group))
        return list(groups.values())


def demo_config(*, errcodes: ErrcodeEra = "doc", limits: bool = True) -> SandboxConfig:
    """A demo group with a signed robot and a keyword robot, with fresh random credentials."""
    return SandboxConfig(
        errcodes=errcodes,
        limits=limits,
        groups=(GroupConfig(id="demo", name="Demo group"),),
        robots=(
            RobotConfig(
                name="alerts",
                token=secrets.token_hex(32),
                secret="SEC" + secrets.token_hex(32),
                group="demo",
            ),
            RobotConfig(
                name="deploys", token=secrets.token_hex(32), keywords=("deploy",), group="demo"
            ),
        ),
    )


def load_config(path: str | Path) -> SandboxConfig:
    """Read and check a TOML config; every problem names the file, the key and the fix."""
    path = Path(path)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
    try:
        config = SandboxConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"{path}: {problems}") from None
    names = [robot.name for robot in config.robots]
    tokens = [robot.token for robot in config.robots]
    if len(set(names)) != len(names) or len(set(tokens)) != len(tokens):
        raise ConfigurationError(f"{path}: robot names and tokens must be unique")
    return config
