"""What every source makes of a webhook: one immutable :class:`Notification`. No I/O.

A notification carries what routing and templates need, already checked: a normalised
``severity`` and ``status``, string ``labels`` to match routes on, per-alert :class:`Alert`
items for alerting sources, short :class:`Entry` lines (commits, failed jobs) and ``facts``
(branch, environment, duration...) for CI sources, links, times, a ``dedup_key`` when the
sender gives one, and the ``raw`` body for route templates.

    >>> from dingkit.relay import parse
    >>> note = parse("github", {"X-GitHub-Event": "ping"}, {"zen": "Keep it simple.", "hook_id": 1})
    >>> note.event, note.severity
    ('ping', 'info')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = [
    "SEVERITIES",
    "Alert",
    "Entry",
    "Notification",
    "ci_severity",
    "normalise_severity",
    "normalise_status",
    "severity_rank",
]

#: Normalised severities, most severe first. Unknown values are kept (lower-cased) and rank
#: with ``warning``, so a route can still match them by name.
SEVERITIES = ("critical", "error", "warning", "info")

# [I] The spellings met in Prometheus rules, Grafana OnCall, PagerDuty-style P levels and
# syslog; none of the fixtures uses anything but critical/warning/info.
_SEVERITY_ALIASES = {
    **dict.fromkeys(
        ("critical", "crit", "fatal", "emergency", "emerg", "alert", "page", "disaster"),
        "critical",
    ),
    **dict.fromkeys(("p0", "p1", "sev0", "sev1", "s0", "s1", "high"), "critical"),
    **dict.fromkeys(("error", "err", "major", "p2", "sev2", "s2"), "error"),
    **dict.fromkeys(("warning", "warn", "minor", "medium", "p3", "sev3", "s3"), "warning"),
    **dict.fromkeys(
        ("info", "informational", "information", "notice", "low", "debug", "none"), "info"
    ),
    **dict.fromkeys(("ok", "p4", "p5", "sev4", "s4"), "info"),
}

_STATUS_ALIASES = {
    "failed": "failure",
    "fail": "failure",
    "canceled": "cancelled",
    "aborted": "cancelled",  # Jenkins ABORTED
    "in_progress": "running",
    "not_built": "skipped",  # Jenkins NOT_BUILT
    "succeeded": "success",
    "passed": "success",
}

# What a CI outcome is worth as a severity, so that one route can send failures to on-call.
_CI_SEVERITY = {
    **dict.fromkeys(("failure", "error", "timed_out", "startup_failure"), "error"),
    **dict.fromkeys(("cancelled", "action_required", "unstable", "stale"), "warning"),
}


def normalise_severity(value: str | None, default: str = "warning") -> str:
    """``"P1"`` → ``"critical"``, ``"warn"`` → ``"warning"``; unknown kept lower-cased."""
    if value is None or not value.strip():
        return default
    key = value.strip().lower()
    return _SEVERITY_ALIASES.get(key, key[:32])


def severity_rank(severity: str) -> int:
    """0 for critical, 1 for error, 2 for warning and unknown values, 3 for info."""
    if severity in SEVERITIES:
        return SEVERITIES.index(severity)
    return SEVERITIES.index("warning")


def normalise_status(value: str) -> str:
    """``"FAILED"`` → ``"failure"``, ``"canceled"`` → ``"cancelled"``, ``"in progress"`` →
    ``"running"``; anything else lower-cased with spaces and dashes as underscores."""
    key = "_".join(value.strip().lower().replace("-", " ").split())
    return _STATUS_ALIASES.get(key, key)


def ci_severity(status: str) -> str:
    """The severity of a normalised CI outcome: failures ``error``, cancellations
    ``warning``, the rest ``info``."""
    return _CI_SEVERITY.get(status, "info")


def _none() -> Mapping[str, Any]:
    return MappingProxyType({})


def _mapping() -> Any:
    return dataclasses.field(default_factory=_none)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(mapping, MappingProxyType):
        return mapping
    return MappingProxyType(dict(mapping))


class _Frozen:
    """Turns the dict fields of a frozen dataclass into read-only views on construction."""

    __slots__ = ()
    _MAPPINGS: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self._MAPPINGS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Alert(_Frozen):
    """One alert of an Alertmanager or Grafana group.

    ``fingerprint`` is the sender's, or, when an older sender leaves it out, one derived from
    the alert's labels (as Alertmanager itself derives it, though not with the same hash).
    ``links`` may hold ``source`` (generatorURL), ``silence``, ``dashboard``, ``panel``,
    ``image`` and ``runbook``.
    """

    _MAPPINGS = ("labels", "annotations", "links")

    name: str
    status: str
    severity: str
    fingerprint: str
    labels: Mapping[str, str] = _mapping()
    annotations: Mapping[str, str] = _mapping()
    summary: str = ""
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    value: str = ""
    links: Mapping[str, str] = _mapping()

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def generator_url(self) -> str:
        """The sender's link to the rule or query that fired (``generatorURL``), or ``""``."""
        return self.links.get("source", "")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One line of a CI notification: a commit, a failed job or step, a build."""

    text: str
    url: str = ""
    status: str = ""
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Notification(_Frozen):
    """A webhook, read and checked, ready to route and render.

    Args:
        source: ``alertmanager``, ``grafana``, ``github``, ``gitlab``, ``jenkins`` or ``generic``.
        event: what happened, in the sender's naming: ``alert``, ``push``, ``workflow_run``,
            ``pipeline``, ``merge_request``, ``build``...
        title: a one-line plain-text title (not markdown; templates escape it).
        severity: one of :data:`SEVERITIES` or an unknown value lower-cased.
        status: ``firing``/``resolved`` for alerts; ``success``, ``failure``, ``cancelled``,
            ``running``... for CI; the action (``opened``, ``merged``, ``published``) otherwise.
        labels: strings to route on (``alertname``, ``severity``, ``repository``, ``branch``,
            ``event``, ``status``...).
        action: the sender's sub-type (GitHub's ``action``, GitLab's ``object_attributes.action``).
        summary: a short line of context: a commit title, an alert's summary.
        actor: who did it.
        url: the main link (the alert source, the run, the pull request).
        links: further links by name, in display order.
        facts: ``(name, value)`` pairs shown as a list (branch, environment, duration).
        time: when it happened, when the sender says.
        alerts: the alerts of a group, firing ones first, most severe first.
        entries: commits, failed jobs or steps.
        truncated: alerts the sender itself left out (Alertmanager's ``truncatedAlerts``).
        dedup_key: equal for two deliveries of the same event, when the sender makes that
            knowable (Alertmanager group, GitHub delivery, GitLab idempotency key); else None.
        raw: the body as parsed, for route templates.
    """

    _MAPPINGS = ("labels", "links", "raw")

    source: str
    event: str
    title: str
    severity: str
    status: str
    labels: Mapping[str, str] = _mapping()
    action: str = ""
    summary: str = ""
    actor: str = ""
    url: str = ""
    links: Mapping[str, str] = _mapping()
    facts: tuple[tuple[str, str], ...] = ()
    time: datetime | None = None
    alerts: tuple[Alert, ...] = ()
    entries: tuple[Entry, ...] = ()
    truncated: int = 0
    dedup_key: str | None = None
    raw: Mapping[str, Any] = _mapping()

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(alert for alert in self.alerts if alert.status == "firing")

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(alert for alert in self.alerts if alert.status == "resolved")
