"""From a webhook to letters in the outbox: the relay's accepting side, without HTTP.

:func:`accept` reads the body through the route's source, decides where it goes
(:mod:`.routing`), renders it once (:mod:`.render`) and puts one letter per robot in the
outbox in one commit, deduplicated by what the sender says identifies the event (an
Alertmanager group key with its status and fingerprints, a GitHub delivery id, a GitLab
idempotency key): the server answers 2xx only once this returned.

A later notification of the same thread (an Alertmanager or Grafana group key) that resolves
alerts supersedes the queued, not yet sent messages of that thread whose every alert it carries
again, when the
route's ``resolved`` setting is ``update`` (the default): a robot does not post a group's
stale firing state just before its resolution, and a backlog shrinks to each group's latest
state; with ``repeat`` every notification is sent. DingTalk cannot edit a robot's message,
so a message already sent stays, and the later one follows it.

A notification a silence holds (:mod:`.silences`) is stored like any other, due when the
silence's window ends and marked as held (``group`` starts with :data:`~.digest.HELD`), so that the
delivery worker sends what a window held as one digest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..robot.messages import to_payload
from .config import RelayConfig, RouteConfig
from .delivery import new_letter_id
from .digest import HELD, summary
from .notification import Notification
from .outbox.base import DEDUP_WINDOW, Letter, Outbox
from .render import render
from .routing import decide
from .silences import silenced, window
from .sources import parse

__all__ = ["Accepted", "accept", "letters_for"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of one webhook."""

    notification: Notification
    robots: tuple[str, ...]  # where it goes ((): the route's rules left it out)
    duplicate: bool = False  # the same event was accepted before: nothing stored
    held_until: float | None = None  # a silence holds it until then
    unresolved: tuple[str, ...] = ()  # owners no userId was found for

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": True,
            "event": self.notification.event,
            "robots": list(self.robots),
            "duplicate": self.duplicate,
            "held_until": self.held_until,
        }


def letters_for(
    config: RelayConfig,
    route: RouteConfig,
    notification: Notification,
    *,
    now: float,
    robots: Iterable[str],
    mentions: Any,
) -> list[Letter]:
    """One letter per robot, the message rendered once."""
    message = render(
        notification,
        template=route.compiled_template,
        time_zone=config.time_zone(route),
        mentions=mentions,
    )
    payload = to_payload(message)
    about = notification.alerts[0].name if notification.alerts else notification.event
    thread = _thread(route, notification)
    return [
        Letter(
            id=new_letter_id(now),
            robot=robot,
            route=route.name,
            source=notification.source,
            severity=notification.severity,
            group=f"{route.name}/{about}",
            message=payload,
            notification=summary(notification),
            created=now,
            thread=thread,
        )
        for robot in robots
    ]


#: How long an alert group's state counts as already taken: long enough for an HA pair's
#: second copy (it follows within the peers' timeouts, seconds) and for Alertmanager's own
#: retries of a failed webhook, short of its repeat_interval (4 h by default; minutes at the
#: least), so that its reminders of a still-firing group are sent, not dropped as copies.
ALERT_DEDUP_FOR = 600.0


def _dedup_for(notification: Notification) -> float:
    if notification.source in ("alertmanager", "grafana"):
        return ALERT_DEDUP_FOR
    return DEDUP_WINDOW  # a delivery id: GitHub and GitLab redeliver for days


def _thread(route: RouteConfig, notification: Notification) -> str:
    """The sender's thread of updates: an alert group's key (Alertmanager, Grafana)."""
    key = notification.raw.get("groupKey")
    if notification.source in ("alertmanager", "grafana") and isinstance(key, str) and key:
        return f"{route.name}:{key}"
    return ""


def accept(
    config: RelayConfig,
    route: RouteConfig,
    headers: Mapping[str, str],
    body: Any,
    outbox: Outbox,
    *,
    now: float,
    lookup: Callable[[str], Iterable[str]] | None = None,
) -> Accepted:
    """Read, route, render and store one webhook (``body`` already parsed as JSON).

    Raises:
        SourceError: the body is not what the route's source sends (a 4xx).
        OutboxUnavailable: it could not be stored (a 503: the sender retries).
    """
    notification = parse(route.source, headers, body)
    decision = decide(config, route, notification, lookup=lookup)
    if not decision.robots:
        return Accepted(notification, (), unresolved=decision.unresolved)
    letters = letters_for(
        config, route, notification, now=now, robots=decision.robots, mentions=decision.at
    )
    held_until = _held_until(config, route, notification, now)
    if held_until is not None:
        letters = [_held(letter, held_until) for letter in letters]
    key = (
        f"{route.source}/{route.name}:{notification.dedup_key}" if notification.dedup_key else None
    )
    stored = outbox.put(letters, dedup_key=key, dedup_for=_dedup_for(notification))
    resolves = any(alert.status == "resolved" for alert in notification.alerts)
    if stored and resolves and letters[0].thread and config.resolved(route) == "update":
        # Only a notification that resolves something looks back (a walk over the robot's
        # queue): a storm of firing ones costs nothing more.
        covered = {alert.fingerprint for alert in notification.alerts}
        keep = {letter.id for letter in letters}
        for letter in letters:
            outbox.supersede(letter.robot, letter.thread, covered=covered, keep=keep, now=now)
    return Accepted(
        notification,
        decision.robots,
        duplicate=not stored,
        held_until=held_until,
        unresolved=decision.unresolved,
    )


def _held_until(
    config: RelayConfig, route: RouteConfig, notification: Notification, now: float
) -> float | None:
    moment = datetime.fromtimestamp(now, UTC)
    silence = silenced(config, notification, moment, route=route)
    if silence is None:
        return None
    open_window = window(silence, moment, time_zone=config.time_zone(route))
    if open_window is None:
        return None
    return open_window.end.timestamp()


def _held(letter: Letter, until: float) -> Letter:
    return dataclasses.replace(letter, group=HELD + letter.group, not_before=until)
