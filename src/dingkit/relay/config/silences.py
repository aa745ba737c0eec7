"""``[[silence]]``: label matchers and a window, once or weekly; :mod:`dingkit.relay.silences`
tells which notifications they hold."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    model_validator,
)

from .fields import WEEKDAYS, Match, Name, StrictModel, TimeZone


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


class SilenceConfig(StrictModel):
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
