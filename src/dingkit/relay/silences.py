"""Silences and maintenance windows: which notifications to hold, and until when. No I/O.

A ``[[silence]]`` holds the notifications its ``match`` selects while one of its windows is
open: ``start``..``end`` once (RFC 3339 with an offset; no ``start`` means "from now"), or
every week on ``days`` from ``from`` to ``to`` local time, in the silence's ``time_zone``,
else the route's, else the relay's. A weekly window with ``to`` at or before ``from`` ends
the next day: ``days = ["sat"]``, ``from = "23:00"``, ``to = "02:00"`` holds from Saturday
23:00 to Sunday 02:00. Windows are half-open: held from the start, free again at the end.

A notification is silenced when the matchers hold for its labels (see
:func:`~dingkit.relay.routing.label_view`), or, for an alert group, when they hold for every
one of its alerts (each alert's labels over the group's): a group is only held when all of
it is. The delivery worker holds what :func:`silenced` names, and at each tick asks
:func:`ended_between` which windows closed since the last one, to send one digest of what
each held.

    >>> silence = silenced(config, note, datetime.now(UTC))   # doctest: +SKIP
    >>> window(silence, now, time_zone=config.time_zone(route)).end   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from .config import WEEKDAYS, RelayConfig, RouteConfig, SilenceConfig
from .notification import Notification
from .routing import label_view, matches

__all__ = ["Window", "active", "ended_between", "silenced", "window", "windows_ending"]

# Looking further back than this finds nothing new: every weekly window lasts under a day
# and repeats within a week.
_HORIZON = timedelta(days=8)


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """One opening of a silence, in UTC; ``start`` is None for "from the load"."""

    start: datetime | None
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and moment < self.end


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, e.g. datetime.now(UTC)")
    return moment.astimezone(UTC)


def _weekly(silence: SilenceConfig, zone: ZoneInfo, first: date, last: date) -> Iterator[Window]:
    """The weekly windows starting on local days ``first`` to ``last``, in order."""
    assert silence.from_ is not None
    assert silence.to is not None
    overnight = silence.to <= silence.from_
    day = first
    while day <= last:
        if WEEKDAYS[day.weekday()] in silence.days:
            start = datetime.combine(day, silence.from_, tzinfo=zone)
            end_day = day + timedelta(days=1) if overnight else day
            end = datetime.combine(end_day, silence.to, tzinfo=zone)
            yield Window(start.astimezone(UTC), end.astimezone(UTC))
        day += timedelta(days=1)


def window(silence: SilenceConfig, now: datetime, *, time_zone: str) -> Window | None:
    """The window of ``silence`` open at ``now``, or None. ``time_zone`` is used for weekly
    windows without their own (give ``config.time_zone(route)``)."""
    now = _aware(now, "now")
    if not silence.weekly:
        assert silence.end is not None
        absolute = Window(
            silence.start and silence.start.astimezone(UTC), silence.end.astimezone(UTC)
        )
        return absolute if now in absolute else None
    zone = ZoneInfo(silence.time_zone or time_zone)
    local = now.astimezone(zone).date()
    # A window that began yesterday evening may still be open this morning.
    for candidate in _weekly(silence, zone, local - timedelta(days=1), local):
        if now in candidate:
            return candidate
    return None


def _selects(silence: SilenceConfig, notification: Notification) -> bool:
    labels = label_view(notification)
    if matches(silence.match, labels):
        return True
    alerts = notification.alerts
    return bool(alerts) and all(
        matches(silence.match, {**labels, **alert.labels}) for alert in alerts
    )


def active(
    config: RelayConfig, now: datetime, *, route: RouteConfig | None = None
) -> list[SilenceConfig]:
    """The silences with a window open at ``now``, whatever they match."""
    zone = config.time_zone(route)
    return [s for s in config.silences if window(s, now, time_zone=zone) is not None]


def silenced(
    config: RelayConfig,
    notification: Notification,
    now: datetime,
    *,
    route: RouteConfig | None = None,
) -> SilenceConfig | None:
    """The first silence holding ``notification`` at ``now`` (aware), or None.

    ``route`` gives weekly windows its time zone; without it, the relay's.
    """
    for silence in active(config, now, route=route):
        if _selects(silence, notification):
            return silence
    return None


def windows_ending(
    silence: SilenceConfig, after: datetime, until: datetime, *, time_zone: str
) -> list[Window]:
    """The windows of ``silence`` whose end is in ``(after, until]``, oldest first; of a
    weekly one, only those of the last eight days of the span."""
    after, until = _aware(after, "after"), _aware(until, "until")
    if until <= after:
        return []
    if not silence.weekly:
        assert silence.end is not None
        start = silence.start and silence.start.astimezone(UTC)
        end = silence.end.astimezone(UTC)
        return [Window(start, end)] if after < end <= until else []
    after = max(after, until - _HORIZON)
    zone = ZoneInfo(silence.time_zone or time_zone)
    first = after.astimezone(zone).date() - timedelta(days=1)
    last = until.astimezone(zone).date()
    return [w for w in _weekly(silence, zone, first, last) if after < w.end <= until]


def ended_between(
    config: RelayConfig,
    after: datetime,
    until: datetime,
    *,
    route: RouteConfig | None = None,
) -> list[SilenceConfig]:
    """The silences with a window that ended in ``(after, until]``: call it with the last
    tick and now, and release what each held as one digest. Ticks that share their bounds
    see each end exactly once."""
    zone = config.time_zone(route)
    return [s for s in config.silences if windows_ending(s, after, until, time_zone=zone)]
