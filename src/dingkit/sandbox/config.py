"""The sandbox's settings: a TOML file, command-line flags, or the built-in demo.

errcodes = "doc"            # or "observed": the codes the live service sent in 2026 (§10)
limits = true               # false switches off the robot limit, the server APIs' QPS limit
                            # and the calendar's 100 new events per user per day

corp_id = "ding5a7d1e2b3c4f6a8b"   # the organisation's id (a stable default)
org_size = 300              # users in the generated organisation
org_depth = 3               # department levels under the company (0: everyone in dept 1)
seed = 42                   # same seed and size: the same organisation and punches on every start
token_ttl = 7200            # access-token lifetime in seconds (§1.1); tests shorten it
qps = 20                    # calls per app per API per second (§9.3); 0 switches it off
slow_delay = 2.0            # seconds a `slow-` app waits for each answer
stream_ping_interval = 30   # seconds between Stream SYSTEM pings, 0: none (§8.2 [I])
stream_disconnect_grace = 10   # seconds from a Stream disconnect frame to the close (§8.2)
stream_event_timeout = 10   # seconds an EVENT frame waits for its ACK before a re-push [I]
approval_withdraw_delay = 15   # seconds after submission before the originator may withdraw
callback_timeout = 1.5      # seconds a callback receiver has to answer a push (§7.3)
body_timeout = 30           # seconds a request's body may take to arrive, then 408 [I]
callback_retry_delays = [10, 30]   # seconds before each retry of a failed push (§7.5)
session_webhook_ttl = 5400  # seconds an app robot's sessionWebhook lives (§8.1 [I])

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

[[app]]                     # an internal app for the server APIs (§1)
name = "hr-tool"
app_key = "dingabc123"
app_secret = "..."
agent_id = 123456789        # optional: derived from the key when missing
scopes = ["qyapi_get_member", "Workflow.Instance.Write"]   # optional: the permission points
                            # granted (every one when missing); others answer 60011 / 403
visible_depts = [1]         # optional: the contacts the app may see (the whole organisation
                            # when missing); others answer 50002 (users) / 50004 (departments)
ip_allowlist = ["127.0.0.1", "10.0.0.0/8"]   # optional: callers allowed (60020 / 403)
monthly_quota = 5000        # optional: calls a month to non-exempt APIs (90020 / 403, §9.3)

[[callback]]                # an app-level event subscription (HTTP 推送, §7.1)
url = "http://127.0.0.1:9000/callback"
token = "mytoken"
aes_key = "..."             # 43 letters and digits
app = "hr-tool"             # optional: the receiver id is that app's app_key, else corp_id
tags = ["bpms_task_change"] # optional: every event when missing
style = "new"               # or "classic": the plaintext format (§7.6)

[[process]]                 # an approval template (§3); without any, leave/expense/purchase
code = "PROC-TRIP-0001"
name = "出差"
form = [
  { label = "出差事由", type = "TextareaField", required = true },
  { label = "交通工具", type = "DDSelectField", options = ["飞机", "火车", "汽车"] },
  { label = ["开始时间", "结束时间"], type = "DDDateRangeField", required = true },
]

An app key's prefix selects a failure mode for every API call (token endpoints excepted):
``expired-`` (each token works for one call, then answers 40014 / 400 InvalidAuthentication),
``throttled-`` (90018 / 403 QpsLimitForAppkeyAndApi), ``busy-`` (-1 / HTTP 503), ``slow-``
(answers after ``slow_delay`` seconds) and ``flaky-`` (every other call fails as ``busy-``
does, starting with the first). Without ``[[app]]`` tables the sandbox creates a ``demo`` app
and one twin per failure mode (see :func:`demo_apps`).
"""

from __future__ import annotations

import secrets
import tomllib
import zlib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .._exceptions import ConfigurationError
from .allowlists import ipv4_networks
from .approval.template_config import COMPONENT_TYPES, FormComponentConfig, ProcessConfig

__all__ = [
    "CALLBACK_TAGS",
    "COMPONENT_TYPES",
    "DEFAULT_CORP_ID",
    "FAILURE_PREFIXES",
    "AppConfig",
    "BotConfig",
    "CallbackConfig",
    "FormComponentConfig",
    "GroupConfig",
    "ProcessConfig",
    "RobotConfig",
    "SandboxConfig",
    "demo_apps",
    "demo_config",
    "load_config",
]

ErrcodeEra = Literal["doc", "observed"]

#: Real corpIds are "ding" and 16 to 32 hex digits; this one is stable so tests can name it.
DEFAULT_CORP_ID = "ding5a7d1e2b3c4f6a8b"
#: App-key prefixes that select a failure mode (see the module docstring).
FAILURE_PREFIXES = ("expired-", "throttled-", "busy-", "slow-", "flaky-")
#: The event types (``call_back_tag`` values) the sandbox knows and pushes (§7.6). DingTalk has
#: more (roles, attendance...); the sandbox emits none of those, so it refuses them [I].
CALLBACK_TAGS = (
    "user_add_org",
    "user_modify_org",
    "user_leave_org",
    "org_dept_create",
    "org_dept_modify",
    "org_dept_remove",
    "bpms_instance_change",
    "bpms_task_change",
)


def known_scopes() -> frozenset[str]:
    """Every permission point an endpoint the sandbox serves needs (from their declarations)."""
    from ..resources import all_endpoints

    return frozenset(e.scope for e in all_endpoints() if e.scope is not None)


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
    #: The share of sends answered busy or 503 (robot/faults.py), for testing retries.
    faults: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not keyword.strip() for keyword in value):
            raise ValueError("keywords must not be blank")
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _ipv4_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return ipv4_networks(value)


class AppConfig(_Strict):
    """An internal app (企业内部应用) with its credentials and what DingTalk lets it do; the
    key's prefix may select a failure mode.

    ``scopes`` are the permission points (权限点) granted in the developer console: ``None``
    grants every one (the sandbox's default), a list only those. ``visible_depts`` is the
    app's visible range (可见范围) of the contacts, with their sub-departments: ``None`` is the
    whole organisation. ``ip_allowlist`` holds the addresses allowed to call (empty: any).
    ``monthly_quota`` caps the calls a month to APIs that are not exempt (§9.3): ``None`` is
    no cap.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    app_key: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    app_secret: str = Field(min_length=1, max_length=256, pattern=r"^\S+$")
    # Never left at 0: the validator below derives one when the config gives none.
    agent_id: int = Field(default=0, ge=1, le=2**63 - 1)
    scopes: tuple[str, ...] | None = None
    visible_depts: tuple[int, ...] | None = None
    ip_allowlist: tuple[str, ...] = ()
    monthly_quota: int | None = Field(default=None, ge=0)
    #: How the console pushes the app's event subscriptions (推送方式): to the HTTP
    #: callbacks registered for it, or over its Stream connection (§8.2).
    events: Literal["http", "stream"] = "http"

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        known = known_scopes()
        unknown = [scope for scope in value if scope not in known]
        if unknown:
            raise ValueError(
                f"unknown permission points {unknown}; the sandbox's endpoints need: "
                f"{', '.join(sorted(known))}"
            )
        return tuple(dict.fromkeys(value))

    @field_validator("visible_depts")
    @classmethod
    def _some_departments(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (not value or any(dept < 1 for dept in value)):
            raise ValueError("visible_depts lists department ids (1: the whole company)")
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _ipv4_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return ipv4_networks(value)

    def grants(self, scope: str | None) -> bool:
        """Whether the app may call an endpoint that needs ``scope``."""
        return scope is None or self.scopes is None or scope in self.scopes

    @model_validator(mode="before")
    @classmethod
    def _derive_agent_id(cls, data: Any) -> Any:
        # Real agent ids are 9- or 10-digit numbers; a stable one per key when none is given.
        if isinstance(data, dict) and data.get("agent_id") is None:
            key = data.get("app_key")
            if isinstance(key, str):
                data = {**data, "agent_id": 100_000_000 + zlib.crc32(key.encode()) % 900_000_000}
        return data


class CallbackConfig(_Strict):
    """An app-level event subscription made in the developer console (§7.1): pushes go to
    ``url``, encrypted for the receiver id (``app``'s app_key, or the corp_id without one)."""

    url: str = Field(pattern=r"^https?://[^/\s?#]+\S*$")
    # The console's rule is 3–32 characters (§7.1); the API's 6–63 applies to registrations.
    token: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    aes_key: str = Field(pattern=r"^[A-Za-z0-9]{43}$")
    app: str | None = None
    tags: tuple[str, ...] | None = None
    style: Literal["new", "classic"] = "new"

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [tag for tag in value or () if tag not in CALLBACK_TAGS]
        if unknown:
            raise ValueError(f"unknown tags {unknown}; known: {', '.join(CALLBACK_TAGS)}")
        return value


#: What a bot's ``app`` may name when no [[app]] is declared: the demo app made at start.
_NO_APPS = 'none, so "demo"'


class BotConfig(_Strict):
    """An app robot (§8): the ``app`` whose robot it is, its ``robot_code`` (default: the
    app's key [I, §8.1]), how DingTalk delivers its messages (``stream``: over the app's Stream
    connection; ``http``: POSTed to ``url``, signed with the app secret) and the ``groups`` it
    sits in (people also chat with it one to one)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    app: str = Field(min_length=1, max_length=64)
    robot_code: str | None = Field(default=None, min_length=1, max_length=64)
    mode: Literal["stream", "http"] = "stream"
    url: str | None = Field(default=None, pattern=r"^https?://[^/\s?#]+\S*$")
    groups: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _http_needs_a_url(self) -> BotConfig:
        if self.mode == "http" and self.url is None:
            raise ValueError(f"bot {self.name!r} is in HTTP mode: give it a url")
        return self


class SandboxConfig(_Strict):
    errcodes: ErrcodeEra = "doc"
    limits: bool = True
    corp_id: str = Field(default=DEFAULT_CORP_ID, min_length=1, max_length=64)
    org_size: int = Field(default=300, ge=1, le=1_000_000)
    org_depth: int = Field(default=3, ge=0, le=3)
    seed: int = 42
    token_ttl: int = Field(default=7200, ge=1)
    qps: int = Field(default=20, ge=0)
    slow_delay: float = Field(default=2.0, ge=0, le=600)
    stream_ping_interval: float = Field(default=30.0, ge=0, le=3600)
    stream_disconnect_grace: float = Field(default=10.0, ge=0, le=600)
    stream_event_timeout: float = Field(default=10.0, gt=0, le=3600)
    approval_withdraw_delay: float = Field(default=15.0, ge=0)
    callback_timeout: float = Field(default=1.5, gt=0, le=60)
    body_timeout: float = Field(default=30.0, gt=0, le=3600)
    callback_retry_delays: tuple[float, ...] = Field(default=(10.0, 30.0), max_length=10)
    session_webhook_ttl: int = Field(default=5400, ge=1)
    groups: tuple[GroupConfig, ...] = Field(default=(), alias="group")
    robots: tuple[RobotConfig, ...] = Field(default=(), alias="robot")
    apps: tuple[AppConfig, ...] = Field(default=(), alias="app")
    processes: tuple[ProcessConfig, ...] = Field(default=(), alias="process")
    callbacks: tuple[CallbackConfig, ...] = Field(default=(), alias="callback")
    bots: tuple[BotConfig, ...] = Field(default=(), alias="bot")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("callback_retry_delays")
    @classmethod
    def _delays_not_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be >= 0 seconds")
        return value

    @model_validator(mode="after")
    def _callback_apps_exist(self) -> SandboxConfig:
        names = {app.name for app in self.apps}
        for index, callback in enumerate(self.callbacks):
            if callback.app is not None and callback.app not in names:
                raise ValueError(
                    f"callback[{index}].app names {callback.app!r}, but no [[app]] has that "
                    f"name (declared: {', '.join(sorted(names)) or 'none'})"
                )
        return self

    @model_validator(mode="after")
    def _bots_are_whole(self) -> SandboxConfig:
        apps = {app.name for app in self.apps}
        groups = {group.id for group in self.all_groups()}
        for index, bot in enumerate(self.bots):
            # Without [[app]] tables the demo app is made at start: "demo" names it.
            if bot.app not in apps and (apps or bot.app != "demo"):
                raise ValueError(
                    f"bot[{index}].app names {bot.app!r}, but no [[app]] has that name "
                    f"(declared: {', '.join(sorted(apps)) or _NO_APPS})"
                )
            unknown = [group for group in bot.groups if group not in groups]
            if unknown:
                raise ValueError(f"bot[{index}].groups names unknown groups {unknown}")
        if len({bot.name for bot in self.bots}) != len(self.bots):
            raise ValueError("two [[bot]] tables have the same name")
        return self

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


def demo_apps() -> tuple[AppConfig, ...]:
    """A ``demo`` app with fresh random credentials, and its failure-mode twins.

    The twins share the demo's secret; their keys are the demo's key behind each prefix
    (``throttled-dingd3a...``), so one line of a test picks a failure mode.
    """
    key, secret = "ding" + secrets.token_hex(8), secrets.token_urlsafe(48)
    demo = AppConfig(name="demo", app_key=key, app_secret=secret)
    twins = tuple(
        AppConfig(name=f"demo-{prefix[:-1]}", app_key=prefix + key, app_secret=secret)
        for prefix in FAILURE_PREFIXES
    )
    return (demo, *twins)


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
    app_names = [app.name for app in config.apps]
    app_keys = [app.app_key for app in config.apps]
    if len(set(app_names)) != len(app_names) or len(set(app_keys)) != len(app_keys):
        raise ConfigurationError(f"{path}: app names and app_keys must be unique")
    codes = [process.code for process in config.processes]
    if len(set(codes)) != len(codes):
        raise ConfigurationError(f"{path}: process codes must be unique")
    return config
