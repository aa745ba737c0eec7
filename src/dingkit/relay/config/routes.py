"""``[[route]]`` and its rules: where a source's webhooks go, in what words, to whom."""

from __future__ import annotations

from pathlib import Path

import jinja2
from pydantic import (
    Field,
    PrivateAttr,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..._exceptions import ConfigurationError
from ..render import load_template
from ..sources import SOURCES
from .auth_kinds import AUTH_SOURCE, AuthConfig
from .fields import (
    MAX_TEMPLATE_BYTES,
    SOURCE_EVENTS,
    Match,
    Name,
    Resolved,
    StrictModel,
    TimeZone,
    UserId,
)


class RuleConfig(StrictModel):
    """A routing rule: when ``match`` holds, send to ``robots`` (the route's when omitted,
    nowhere when ``[]``) with these mentions; ``continue`` tries the next rules too."""

    match: Match
    robots: tuple[Name, ...] | None = Field(default=None, max_length=50)
    continue_: StrictBool = Field(default=False, alias="continue")
    at: tuple[UserId, ...] = Field(default=(), max_length=50)
    at_all: StrictBool = False


class RouteConfig(StrictModel):
    """A webhook endpoint, ``POST /{source}/{name}``: what it accepts and where it sends."""

    name: Name
    source: str
    robots: tuple[Name, ...] = Field(min_length=1, max_length=50)
    events: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=50)
    match: Match = ()
    rules: tuple[RuleConfig, ...] = Field(default=(), max_length=100)
    template: str | None = Field(default=None, min_length=1, max_length=MAX_TEMPLATE_BYTES)
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
        known = SOURCE_EVENTS.get(self.source)
        if known is not None and self.events is not None:
            unknown = [event for event in self.events if event not in known]
            if unknown:
                raise ValueError(
                    f"events: {self.source} sends no {', '.join(repr(e[:40]) for e in unknown)}"
                    f" (known: {', '.join(known)})"
                )
        if self.auth is not None:
            only = AUTH_SOURCE.get(self.auth.kind)
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
            data = file.read(MAX_TEMPLATE_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"template_file: no such file {str(path)[:300]!r}") from None
    except OSError as error:
        raise ValueError(f"template_file: cannot read {str(path)[:300]!r} ({error})") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ValueError(f"template_file: over {MAX_TEMPLATE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("template_file: not UTF-8 text") from None
