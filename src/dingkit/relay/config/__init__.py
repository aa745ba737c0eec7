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

The package: the tables in ``robots.py``, ``routes.py`` (with its rules), ``auth_kinds.py``,
``silences.py`` and ``relay.py`` (the whole config); their building blocks (limits, names,
``env:`` secrets) in ``fields.py``; pydantic's errors put in the user's words in
``messages.py``; reading a file and the checks across tables here.
"""

from __future__ import annotations

import os
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..._exceptions import ConfigurationError
from .auth_kinds import (
    AUTH_KINDS,
    AuthConfig,
    BasicAuth,
    BearerAuth,
    GitHubAuth,
    GitLabAuth,
    GrafanaAuth,
    HmacAuth,
)
from .fields import MAX_CONFIG_BYTES, WEEKDAYS
from .messages import problem, raise_problems
from .relay import RelayConfig, RelaySettings
from .robots import RobotConfig
from .routes import RouteConfig, RuleConfig
from .silences import SilenceConfig

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
        raise_problems(
            where,
            [
                problem(raw, e)
                for e in errors
                if not (e["type"] == "too_short" and len(e["loc"]) == 1 and e["loc"][0] in failed)
            ],
        )
    except RecursionError:
        raise ConfigurationError(f"{where}the config is nested too deeply") from None
    problems = _cross_check(config)
    if problems:
        raise_problems(where, problems)
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
