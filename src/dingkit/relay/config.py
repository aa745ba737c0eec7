"""The relay's configuration: robots, routes, inbound auth, silences. Reads files; no network.

    [relay]
    time_zone = "Asia/Shanghai"   # the default for routes and weekly silences
    resolved = "update"           # or "repeat": how a resolved alert follows its firing one
    mention_label = "owner"       # optional: the label naming whom to @ (see [owners])

    [owners]                      # owner (a label value) -> DingTalk userIds
    alice = "0123456789"
    db-team = ["u-ann", "u-bob"]

    [[robot]]
    name = "team"
    webhook = "env:TEAM_WEBHOOK"        # the URL from the group's robot settings, or token = ...

    [[robot]]
    name = "oncall"
    token = "env:ONCALL_TOKEN"          # the value after access_token= in the webhook
    secret = "env:ONCALL_SECRET"        # optional: the SEC... signing secret
    keyword = "告警"                     # optional: added to messages that lack it
    pool = "ops"                        # optional: robots of one group sharing the load

    [[route]]                           # reached at POST /alertmanager/prod
    name = "prod"
    source = "alertmanager"             # alertmanager grafana github gitlab jenkins generic
    robots = ["team"]
    rules = [{ match = { severity = "critical" }, robots = ["oncall"], at_all = true }]
    auth = { kind = "bearer", token = "env:AM_TOKEN" }

    [[silence]]
    comment = "database maintenance"
    match = { alertname = "~Postgres.*" }
    days = ["sat"]
    from = "23:00"
    to = "02:00"                        # the next morning

Route keys: ``name``, ``source``, ``robots``; optional ``events`` (only these are sent),
``match`` (only what matches is sent), ``rules`` (``match``, ``robots``, ``continue``, ``at``,
``at_all``; see :mod:`dingkit.relay.routing` for matchers and their order), ``template`` or
``template_file`` (checked on the source's samples at load), ``time_zone``, ``resolved``,
``mention_label``, ``at`` (userIds), ``at_all``, ``auth``. Auth kinds: ``bearer`` (``token``),
``basic`` (``username``, ``password``), ``hmac`` (``secret``, ``header``, ``algorithm``,
``encoding``, ``prefix``), ``github`` (``secret``), ``gitlab`` (``token``), ``grafana``
(``secret``, ``header``, ``timestamp_header``, ``max_age``); see :mod:`dingkit.relay.auth`.
Silence keys: ``name``, ``comment``, ``match``, then ``start``/``end`` (RFC 3339 with an
offset) or ``days``/``from``/``to`` with an optional ``time_zone``.

Any secret (``webhook``, ``token``, ``secret``, ``password``) may be ``"env:NAME"``: read from
the environment at load. Secrets are :class:`~pydantic.SecretStr` and never appear in a repr
or an error. Every mistake is a :class:`~dingkit.ConfigurationError` naming the table, its
name (or index from 0) and the key, e.g. ``route "prod": robots: unknown robot "opz" (known:
ops, dev)``.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._exceptions import ConfigurationError
from ..robot.target import RobotTarget
from .render import DEFAULT_TIME_ZONE, load_template
from .routing import Matchers, parse_matchers
from .sources import GITHUB_EVENTS, GITLAB_EVENTS, SOURCES

__all__ = [
    "AUTH_KINDS",
    "MAX_CONFIG_BYTES",
    "WEEKDAYS",
    "AuthConfig",
    "BasicAuth",
    "BearerAuth",
    "GitHubAuth",
    "GitLabAuth",
    "GrafanaAuth",
    "HmacAuth",
    "RelayConfig",
    "RelaySettings",
    "RobotConfig",
    "RouteConfig",
    "RuleConfig",
    "SilenceConfig",
    "load_config",
    "parse_config",
    "validate_config",
]

#: A config file larger than this is refused before it is parsed.
MAX_CONFIG_BYTES = 1_000_000
_MAX_TEMPLATE_BYTES = 256_000
_MAX_TABLES = 1000
_MAX_PROBLEMS = 10
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EVENTS: Mapping[str, tuple[str, ...]] = {
    "alertmanager": ("alert",),
    "grafana": ("alert",),
    "github": GITHUB_EVENTS,
    "gitlab": GITLAB_EVENTS,
    "jenkins": ("build",),
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")  # an HTTP token (RFC 9110)


def _name(value: Any) -> Any:
    if isinstance(value, str) and not _NAME_RE.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not a name: use 1 to 64 letters, digits, _ . or -")
    return value


def _header(value: Any) -> Any:
    if isinstance(value, str) and not _HEADER_RE.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not an HTTP header name")
    return value


def _zone(value: Any) -> Any:
    if isinstance(value, str):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"time zone {value[:64]!r} is unknown; use an IANA name such as "
                f"{DEFAULT_TIME_ZONE!r}"
            ) from None
    return value


def _from_env(value: Any, info: ValidationInfo) -> Any:
    """``"env:NAME"`` -> the variable's value; a missing one is an error naming it."""
    if not isinstance(value, str) or not value.startswith("env:"):
        return value
    name = value[4:]
    if not _ENV_NAME.fullmatch(name):
        raise ValueError('"env:" must be followed by a variable name, such as "env:ROBOT_SECRET"')
    environ: Mapping[str, str] = (info.context or {}).get("environ", os.environ)
    found = environ.get(name, "").strip()
    if not found:
        raise ValueError(
            f"the environment variable {name} is not set or empty; export it, or write the "
            "value here"
        )
    return found


Name = Annotated[str, BeforeValidator(_name)]
HeaderName = Annotated[str, BeforeValidator(_header)]
TimeZone = Annotated[str, BeforeValidator(_zone)]
Secret = Annotated[SecretStr, BeforeValidator(_from_env), Field(min_length=1, max_length=4096)]
UserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
Match = Annotated[Matchers, PlainValidator(parse_matchers)]
Resolved = Literal["update", "repeat"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RobotConfig(_Strict):
    """A custom robot: where it is (``webhook`` or ``token``), its ``secret`` and
    ``keyword``, and the ``pool`` of robots in the same group it shares the load with."""

    name: Name
    webhook: Secret | None = None
    token: Secret | None = None
    secret: Secret | None = None
    keyword: str | None = Field(default=None, min_length=1, max_length=64)
    pool: Name | None = None

    @model_validator(mode="after")
    def _one_address(self) -> RobotConfig:
        if (self.webhook is None) == (self.token is None):
            raise ValueError(
                "give webhook (the URL from the group's robot settings) or token (what "
                "follows access_token= in it), exactly one of them"
            )
        try:
            self.target()
        except ConfigurationError:
            # RobotTarget's own message may quote the URL: say it without the secret.
            field = "webhook" if self.webhook is not None else "token"
            raise ValueError(
                f"{field}: not a robot {field}; copy the webhook from the group's robot "
                "settings: https://oapi.dingtalk.com/robot/send?access_token=..."
                if field == "webhook"
                else "token: give only the value after access_token=, not a URL"
            ) from None
        return self

    def target(self, *, base_url: str | None = None) -> RobotTarget:
        """The :class:`RobotTarget` to send with (``base_url`` redirects a webhook on
        DingTalk's host, e.g. to the sandbox)."""
        secret = self.secret.get_secret_value() if self.secret else None
        if self.webhook is not None:
            return RobotTarget.from_webhook(
                self.webhook.get_secret_value(),
                secret=secret,
                keyword=self.keyword,
                name=self.name,
                base_url=base_url,
            )
        assert self.token is not None
        token = self.token.get_secret_value()
        if base_url:
            return RobotTarget(
                token,
                secret=secret,
                keyword=self.keyword,
                name=self.name,
                send_url=base_url.rstrip("/") + "/robot/send",
            )
        return RobotTarget(token, secret=secret, keyword=self.keyword, name=self.name)


# Inbound authentication, one model per kind (``auth = { kind = "...", ... }``).


class BearerAuth(_Strict):
    """``Authorization: Bearer <token>`` (Alertmanager ``http_config.authorization``,
    Grafana's "Authorization header", CI jobs)."""

    kind: Literal["bearer"]
    token: Secret


class BasicAuth(_Strict):
    """``Authorization: Basic ...`` (Alertmanager ``basic_auth``, Grafana, Jenkins)."""

    kind: Literal["basic"]
    username: str = Field(min_length=1, max_length=256, pattern=r"^[^:]+$")
    password: Secret


class HmacAuth(_Strict):
    """An HMAC of the raw body in ``header``: ``prefix`` + hex or base64 digest."""

    kind: Literal["hmac"]
    secret: Secret
    header: HeaderName
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=32)


class GitHubAuth(_Strict):
    """GitHub's webhook secret: ``X-Hub-Signature-256: sha256=<hex HMAC of the body>``."""

    kind: Literal["github"]
    secret: Secret


class GitLabAuth(_Strict):
    """GitLab's secret token, sent as is in ``X-Gitlab-Token``."""

    kind: Literal["gitlab"]
    token: Secret


class GrafanaAuth(_Strict):
    """Grafana's webhook "HMAC Signature" (Grafana 12): hex HMAC-SHA256 in ``header`` (by
    default Grafana's own, see :mod:`dingkit.relay.auth`), over
    ``timestamp + ":" + body`` when a ``timestamp_header`` is set (then at most ``max_age``
    seconds old), else over the body. See :mod:`dingkit.relay.auth` for the sources."""

    kind: Literal["grafana"]
    secret: Secret
    header: HeaderName | None = None
    timestamp_header: HeaderName | None = None
    max_age: StrictInt = Field(default=300, ge=1, le=86_400)


AuthConfig = Annotated[
    BearerAuth | BasicAuth | HmacAuth | GitHubAuth | GitLabAuth | GrafanaAuth,
    Field(discriminator="kind"),
]
AUTH_KINDS: Mapping[str, type[BaseModel]] = {
    "bearer": BearerAuth,
    "basic": BasicAuth,
    "hmac": HmacAuth,
    "github": GitHubAuth,
    "gitlab": GitLabAuth,
    "grafana": GrafanaAuth,
}
# Kinds only one sender produces.
_AUTH_SOURCE = {"github": "github", "gitlab": "gitlab", "grafana": "grafana"}


class RuleConfig(_Strict):
    """A routing rule: when ``match`` holds, send to ``robots`` (the route's when omitted,
    nowhere when ``[]``) with these mentions; ``continue`` tries the next rules too."""

    match: Match
    robots: tuple[Name, ...] | None = Field(default=None, max_length=50)
    continue_: StrictBool = Field(default=False, alias="continue")
    at: tuple[UserId, ...] = Field(default=(), max_length=50)
    at_all: StrictBool = False


class RouteConfig(_Strict):
    """A webhook endpoint, ``POST /{source}/{name}``: what it accepts and where it sends."""

    name: Name
    source: str
    robots: tuple[Name, ...] = Field(min_length=1, max_length=50)
    events: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=50)
    match: Match = ()
    rules: tuple[RuleConfig, ...] = Field(default=(), max_length=100)
    template: str | None = Field(default=None, min_length=1, max_length=_MAX_TEMPLATE_BYTES)
    template_file: str | None = Field(default=None, min_length=1, max_length=4096)
    time_zone: TimeZone | None = None
    resolved: Resolved | None = None
    mention_label: str | None = Field(default=None, min_length=1, max_length=128)
    at: tuple[UserId, ...] = Field(default=(), max_length=50)
    at_all: StrictBool = False
    auth: AuthConfig | None = None

    _compiled: jinja2.Template | None = PrivateAttr(default=None)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f'unknown source "{value[:40]}" (known: {", ".join(SOURCES)})')
        return value

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> RouteConfig:
        known = _EVENTS.get(self.source)
        if known is not None and self.events is not None:
            unknown = [event for event in self.events if event not in known]
            if unknown:
                raise ValueError(
                    f"events: {self.source} sends no {', '.join(repr(e[:40]) for e in unknown)}"
                    f" (known: {', '.join(known)})"
                )
        if self.auth is not None:
            only = _AUTH_SOURCE.get(self.auth.kind)
            if only is not None and only != self.source:
                raise ValueError(
                    f'auth: kind "{self.auth.kind}" is for {only} routes; this route\'s source '
                    f'is {self.source}: use "hmac" or "bearer"'
                )
        if self.template is not None and self.template_file is not None:
            raise ValueError("give template or template_file, not both")
        text = self.template
        if self.template_file is not None:
            text = _read_template(self.template_file, (info.context or {}).get("base_dir"))
        if text is not None:
            try:
                compiled = load_template(
                    text, source=self.source, events=self.events, name="template"
                )
            except ConfigurationError as error:
                raise ValueError(str(error)) from None
            self._compiled = compiled
        return self

    @property
    def compiled_template(self) -> jinja2.Template | None:
        """The route's template, compiled and checked at load; None for the default."""
        return self._compiled


def _read_template(name: str, base_dir: Path | None) -> str:
    path = Path(name)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        with path.open("rb") as file:
            data = file.read(_MAX_TEMPLATE_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"template_file: no such file {str(path)[:300]!r}") from None
    except OSError as error:
        raise ValueError(f"template_file: cannot read {str(path)[:300]!r} ({error})") from None
    if len(data) > _MAX_TEMPLATE_BYTES:
        raise ValueError(f"template_file: over {_MAX_TEMPLATE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("template_file: not UTF-8 text") from None


def _days(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    days = []
    for day in value:
        key = day.strip().lower()[:3] if isinstance(day, str) else ""
        if key not in WEEKDAYS or (isinstance(day, str) and len(day.strip()) > 9):
            raise ValueError(
                f"{str(day)[:20]!r} is not a day; use {', '.join(WEEKDAYS)} (or full names)"
            )
        days.append(key)
    return tuple(dict.fromkeys(days))


class SilenceConfig(_Strict):
    """Hold what matches ``match`` while a window is open: ``start``..``end`` once, or every
    week on ``days`` from ``from`` to ``to`` local time (``to`` <= ``from``: the next day).
    What is held is sent as one digest when the window ends."""

    name: Name | None = None
    comment: str = Field(default="", max_length=1000)
    match: Match
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    days: Annotated[tuple[str, ...], BeforeValidator(_days)] = Field(
        default=WEEKDAYS, min_length=1, max_length=7
    )
    from_: time | None = Field(default=None, alias="from")
    to: time | None = None
    time_zone: TimeZone | None = None

    @model_validator(mode="after")
    def _one_kind_of_window(self) -> SilenceConfig:
        weekly = self.from_ is not None or self.to is not None
        absolute = self.start is not None or self.end is not None
        if weekly and absolute:
            raise ValueError("give start/end (one window) or from/to (weekly), not both")
        if weekly:
            if self.from_ is None or self.to is None:
                raise ValueError('a weekly window needs both from and to, e.g. "23:00" and "02:00"')
            if self.from_.tzinfo is not None or self.to.tzinfo is not None:
                raise ValueError("from/to are local times: give the zone as time_zone")
            if self.from_ == self.to:
                raise ValueError("from and to are equal: the window would be empty")
        elif self.end is None:
            raise ValueError(
                "give end (RFC 3339 with an offset, e.g. 2026-12-06T02:00:00+08:00) or a "
                "weekly from/to"
            )
        elif self.start is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        if not weekly and self.time_zone is not None:
            raise ValueError("time_zone is for weekly windows; start/end carry their offset")
        return self

    @property
    def weekly(self) -> bool:
        return self.from_ is not None


class RelaySettings(_Strict):
    """The ``[relay]`` table: defaults for every route."""

    time_zone: TimeZone = DEFAULT_TIME_ZONE
    resolved: Resolved = "update"
    mention_label: str | None = Field(default=None, min_length=1, max_length=128)
    #: Owners the [owners] map leaves out are looked up in the organisation's contacts, with
    #: the app of DINGTALK_APP_KEY / DINGTALK_APP_SECRET (relay/owners.py).
    contacts: StrictBool = False


def _owners(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    owners = {}
    for name, ids in value.items():
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError(f'{str(name)[:40]}: give a userId or a list of them, e.g. ["0123"]')
        owners[name] = ids
    return owners


class RelayConfig(_Strict):
    """The whole relay config; build it with :func:`load_config` or :func:`parse_config`.

        config = load_config("relay.toml")
        route = config.route("prod", "alertmanager")     # POST /alertmanager/prod
        target = config.robot("oncall").target()         # a RobotTarget to send with
        zone = config.time_zone(route)                   # the route's, else the relay's

    Args:
        relay: the ``[relay]`` defaults.
        owners: ``[owners]``: owner name (a label value) to DingTalk userIds.
        robots: the ``[[robot]]`` tables, in file order (pools list siblings in this order).
        routes: the ``[[route]]`` tables.
        silences: the ``[[silence]]`` tables; the first that holds a notification wins.
    """

    relay: RelaySettings = RelaySettings()
    owners: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=128)], tuple[UserId, ...]],
        BeforeValidator(_owners),
        Field(max_length=10_000),
    ] = {}
    robots: tuple[RobotConfig, ...] = Field(alias="robot", min_length=1, max_length=_MAX_TABLES)
    # No route is a relay only `dingkit send --via-relay` posts to.
    routes: tuple[RouteConfig, ...] = Field(default=(), alias="route", max_length=_MAX_TABLES)
    silences: tuple[SilenceConfig, ...] = Field(default=(), alias="silence", max_length=_MAX_TABLES)

    def robot(self, name: str) -> RobotConfig:
        """The robot called ``name``; :class:`KeyError` when there is none."""
        for robot in self.robots:
            if robot.name == name:
                return robot
        raise KeyError(name)

    def route(self, name: str, source: str | None = None) -> RouteConfig | None:
        """The route called ``name`` (of ``source``, when given: ``POST /{source}/{name}``)."""
        for route in self.routes:
            if route.name == name and (source is None or route.source == source):
                return route
        return None

    def time_zone(self, route: RouteConfig | None = None) -> str:
        """The route's time zone, else the relay's."""
        return (route.time_zone if route else None) or self.relay.time_zone

    def resolved(self, route: RouteConfig | None = None) -> Resolved:
        """``update`` or ``repeat`` for ``route``, else the relay's setting."""
        return (route.resolved if route else None) or self.relay.resolved


def _duplicates(names: list[str]) -> list[str]:
    counts = Counter(names)
    return [name for name, count in counts.items() if count > 1]


def _quoted(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _cross_check(config: RelayConfig) -> list[str]:
    """What one table cannot see alone: names unique, robots known, one robot per pool."""
    problems = []
    for kind, names in (
        ("robot", [r.name for r in config.robots]),
        ("route", [r.name for r in config.routes]),
        ("silence", [s.name for s in config.silences if s.name is not None]),
    ):
        problems += [f'{kind} "{name}": the name is used twice' for name in _duplicates(names)]
    tokens = [r.target().token for r in config.robots]
    for index, token in enumerate(tokens):
        if token in tokens[:index]:
            twin = config.robots[tokens.index(token)].name
            problems.append(
                f'robot "{config.robots[index].name}": the same robot as "{twin}" (same '
                "token): a robot has one budget, declare it once"
            )
    pools = {robot.name: robot.pool for robot in config.robots}
    known = list(pools)
    for route in config.routes:
        lists: list[tuple[str, Sequence[str]]] = [("robots", route.robots)]
        lists += [(f"rules[{i}].robots", r.robots) for i, r in enumerate(route.rules) if r.robots]
        for field, chosen in lists:
            for name in dict.fromkeys(chosen):
                if name not in pools:
                    problems.append(
                        f'route "{route.name}": {field}: unknown robot "{name}" '
                        f"(known: {_quoted(known)})"
                    )
            by_pool: dict[str, list[str]] = {}
            for name in dict.fromkeys(chosen):
                pool = pools.get(name)
                if pool is not None:
                    by_pool.setdefault(pool, []).append(name)
            for pool, members in by_pool.items():
                if len(members) > 1:
                    problems.append(
                        f'route "{route.name}": {field}: {", ".join(members)} are all in pool '
                        f'"{pool}" (one group): name one, the relay spreads the load'
                    )
    return problems


# Error messages: pydantic's locations turned into `route "prod": rules[0].match`.


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _known_keys(loc: tuple[str | int, ...]) -> str | None:
    """The keys allowed next to the unknown key at ``loc``."""
    model: type[BaseModel] = RelayConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in AUTH_KINDS and issubclass(AUTH_KINDS[part], BaseModel):
            model = AUTH_KINDS[part]
            continue
        info = _field(model, part)
        models = _models_in(info.annotation) if info else []
        if len(models) == 1:
            model = models[0]
        elif not models:
            return None
    return ", ".join(info.alias or name for name, info in model.model_fields.items())


def _where(raw: Mapping[str, Any], loc: tuple[str | int, ...]) -> tuple[str, list[str | int]]:
    """``route "prod"`` (or ``route[2]``) for the table, and the path inside it."""
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        tables = raw.get(loc[0]) if isinstance(raw, Mapping) else None
        name = None
        if isinstance(tables, list) and loc[1] < len(tables) and isinstance(tables[loc[1]], dict):
            name = tables[loc[1]].get("name")
        if isinstance(name, str) and _NAME_RE.fullmatch(name):
            return f'{loc[0]} "{name}"', list(loc[2:])
        return f"{loc[0]}[{loc[1]}]", list(loc[2:])
    if loc and loc[0] == "relay":
        return "[relay]", list(loc[1:])
    if loc and loc[0] == "owners":
        return "[owners]", list(loc[1:])
    return "", list(loc)


def _path(parts: list[str | int]) -> str:
    text = ""
    previous: str | int | None = None
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif previous == "auth" and part in AUTH_KINDS:
            continue  # the union's tag, already said by `kind`
        elif "[" in part or part.startswith("function-"):
            continue  # pydantic's names for validator layers
        else:
            text += f".{part}" if text else part
        previous = part
    return text


# pydantic's wording names Python types ("a valid tuple", "instance of RouteConfig").
_PLAIN = {
    "tuple_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
}


def _problem(raw: Mapping[str, Any], error: Any) -> str:
    loc = tuple(error["loc"])
    table, inner = _where(raw, loc)
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _PLAIN:
        message = _PLAIN[kind]
    elif kind == "union_tag_not_found":
        message = f"give kind: one of {', '.join(AUTH_KINDS)}"
    elif kind == "union_tag_invalid":
        tag = str((error.get("ctx") or {}).get("tag", ""))[:40]
        message = f'unknown kind "{tag}" (known: {", ".join(AUTH_KINDS)})'
    elif kind == "extra_forbidden":
        known = _known_keys(loc)
        message = "unknown key" + (f" (known: {known})" if known else "")
    elif kind == "missing" and loc in (("robot",), ("route",)):
        return f"no [[{loc[0]}]] table: declare at least one"
    elif kind == "missing":
        message = "missing: this key is required"
    elif kind == "timezone_aware":
        message = "give an offset (RFC 3339), e.g. 2026-12-06T02:00:00+08:00"
    path = _path(inner)
    parts = [part for part in (table, path) if part]
    if not parts:
        return message
    return f"{': '.join(parts)}: {message}"


def _raise(where: str, problems: list[str]) -> typing.NoReturn:
    shown = problems[:_MAX_PROBLEMS]
    more = len(problems) - len(shown)
    text = "; ".join(shown) + (f"; and {more} more" if more else "")
    raise ConfigurationError(f"{where}{text}")


def parse_config(
    text: str,
    *,
    base_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    origin: str = "",
) -> RelayConfig:
    """Check a TOML config given as text.

    Args:
        base_dir: where a route's relative ``template_file`` is looked for (default: the
            working directory).
        environ: where ``"env:NAME"`` secrets are read (default: :data:`os.environ`).
        origin: a prefix for error messages, e.g. the file name.

    Raises:
        ConfigurationError: anything wrong, each problem naming its table and key.
    """
    where = f"{origin}: " if origin else ""
    if len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_CONFIG_BYTES
    ):
        raise ConfigurationError(f"{where}the config is over {MAX_CONFIG_BYTES} bytes")
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{where}not valid TOML ({error})") from None
    except (RecursionError, ValueError, MemoryError):
        raise ConfigurationError(f"{where}not valid TOML (nested too deeply or too big)") from None
    return validate_config(raw, base_dir=base_dir, environ=environ, origin=origin)


def validate_config(
    raw: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    origin: str = "",
) -> RelayConfig:
    """Check a config already parsed into plain data (TOML's types), as :func:`parse_config`
    does after reading the TOML."""
    where = f"{origin}: " if origin else ""
    context = {
        "environ": os.environ if environ is None else environ,
        "base_dir": Path(base_dir) if base_dir is not None else None,
    }
    try:
        config = RelayConfig.model_validate(raw, context=context)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        # A table that failed also fails its list's "at least one": say only the first.
        failed = {e["loc"][0] for e in errors if len(e["loc"]) > 1}
        _raise(
            where,
            [
                _problem(raw, e)
                for e in errors
                if not (e["type"] == "too_short" and len(e["loc"]) == 1 and e["loc"][0] in failed)
            ],
        )
    except RecursionError:
        raise ConfigurationError(f"{where}the config is nested too deeply") from None
    problems = _cross_check(config)
    if problems:
        _raise(where, problems)
    return config


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> RelayConfig:
    """Read and check a relay config file; relative ``template_file`` paths are taken from
    the file's folder. Every problem names the file, the table and the key."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such config file") from None
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read it ({error.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigurationError(f"{path}: the config is over {MAX_CONFIG_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
    return parse_config(text, base_dir=path.parent, environ=environ, origin=str(path))
