"""The relay config's building blocks: limits, the checked types of names, headers, time zones
and ``env:`` secrets, and the strict base model every table extends. No I/O but the
environment read for ``env:NAME``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    ValidationInfo,
)

from ..render import DEFAULT_TIME_ZONE
from ..routing import Matchers, parse_matchers
from ..sources import GITHUB_EVENTS, GITLAB_EVENTS

#: A config file larger than this is refused before it is parsed.
MAX_CONFIG_BYTES = 1_000_000
MAX_TEMPLATE_BYTES = 256_000
MAX_TABLES = 1000
MAX_PROBLEMS = 10
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SOURCE_EVENTS: Mapping[str, tuple[str, ...]] = {
    "alertmanager": ("alert",),
    "grafana": ("alert",),
    "github": GITHUB_EVENTS,
    "gitlab": GITLAB_EVENTS,
    "jenkins": ("build",),
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")  # an HTTP token (RFC 9110)


def _name(value: Any) -> Any:
    if isinstance(value, str) and not NAME_RE.fullmatch(value):
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


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
