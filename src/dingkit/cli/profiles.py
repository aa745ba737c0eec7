"""Robot profiles from the config file, for ``--robot NAME``. No network I/O.

# ~/.config/dingkit/config.toml  (or --config FILE, or DINGKIT_CONFIG)
default_robot = "alerts"

[robots.alerts]
webhook = "https://oapi.dingtalk.com/robot/send?access_token=..."
secret = "SEC..."          # optional
keyword = "告警"            # optional

[robots.deploys]
token = "..."              # the access_token alone; base URL from DINGTALK_OAPI_BASE_URL
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._config import config_file
from .._exceptions import ConfigurationError
from ..robot.target import RobotTarget

__all__ = ["resolve_robot"]

_PROFILE_KEYS = {"webhook", "token", "secret", "keyword", "base_url"}


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc}); fix the file") from None


def _profile(config: Mapping[str, Any], name: str, path: Path) -> RobotTarget:
    robots = config.get("robots", {})
    if not isinstance(robots, dict) or name not in robots:
        known = ", ".join(sorted(robots)) if isinstance(robots, dict) and robots else "none"
        raise ConfigurationError(
            f"no robot profile {name!r} in {path} (profiles: {known}); add a "
            f'[robots.{name}] table with webhook = "..." and, if it signs, secret = "SEC..."'
        )
    profile = robots[name]
    if not isinstance(profile, dict):
        raise ConfigurationError(f"{path}: robots.{name} must be a table")
    unknown = set(profile) - _PROFILE_KEYS
    if unknown:
        raise ConfigurationError(
            f"{path}: robots.{name} has unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(_PROFILE_KEYS)}"
        )
    for key, value in profile.items():
        if not isinstance(value, str):
            raise ConfigurationError(f"{path}: robots.{name}.{key} must be a string")
    if not profile.get("webhook") and not profile.get("token"):
        raise ConfigurationError(f'{path}: robots.{name} needs webhook = "..." or token = "..."')
    try:
        return RobotTarget.from_settings(
            webhook=profile.get("webhook"),
            token=profile.get("token"),
            secret=profile.get("secret") or "",
            keyword=profile.get("keyword") or "",
            name=name,
            base_url=profile.get("base_url"),
            environ=os.environ,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: robots.{name}: {exc}") from None


def resolve_robot(
    robot: str | None,
    config: str | None,
    keyword: str | None = None,
    *,
    webhook: str | None = None,
    secret: str | None = None,
) -> RobotTarget:
    """The robot to send with: ``--webhook`` (with ``--secret``), else the ``--robot``
    profile, else the environment, else the config's ``default_robot`` (or its only robot).

    Raises:
        ConfigurationError: saying where dingkit looked and what to set.
    """
    if secret is not None and webhook is None:
        raise ConfigurationError("--secret goes with --webhook (a profile has its own secret)")
    if webhook is not None:
        if robot:
            raise ConfigurationError("give --webhook or --robot, not both")
        # A one-off robot: only what the flags say (another robot's DINGTALK_ROBOT_SECRET in
        # the environment would sign for the wrong robot).
        return RobotTarget.from_settings(
            webhook=webhook,
            secret=secret or "",
            keyword=keyword or "",
            environ=os.environ,
        )
    path = config_file(config)
    explicit_file = bool(config or os.environ.get("DINGKIT_CONFIG", "").strip())
    if explicit_file and not path.exists():
        raise ConfigurationError(f"{path}: no such config file")
    settings = _read_config(path)
    if robot:
        target = _profile(settings, robot, path)
    elif (
        os.environ.get("DINGTALK_ROBOT_WEBHOOK", "").strip()
        or os.environ.get("DINGTALK_ROBOT_TOKEN", "").strip()
    ):
        target = RobotTarget.from_settings(environ=os.environ)
    else:
        robots = settings.get("robots") if isinstance(settings.get("robots"), dict) else {}
        default = settings.get("default_robot")
        if isinstance(default, str) and default:
            target = _profile(settings, default, path)
        elif robots and len(robots) == 1:
            target = _profile(settings, next(iter(robots)), path)
        else:
            raise ConfigurationError(
                "no robot configured: set DINGTALK_ROBOT_WEBHOOK (or DINGTALK_ROBOT_TOKEN) "
                f"and DINGTALK_ROBOT_SECRET, or pass --robot NAME with a profile in {path}"
            )
    if keyword:
        target = RobotTarget(
            target.token,
            secret=target.secret,
            keyword=keyword,
            name=target.name,
            send_url=target.send_url,
        )
    return target
