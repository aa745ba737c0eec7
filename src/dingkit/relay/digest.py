"""Digests: a robot's backlog merged into a few messages, when the budget cannot carry it one
message at a time. No I/O.

A robot takes 20 messages a minute (§2.3); a storm of 2,000 alerts sent one by one would take
100 minutes and arrive long after anyone could act on it. So when a robot's backlog is larger
than its budget carries promptly, the delivery worker merges it: envelopes are grouped by
their ``group`` (route and alert name), groups are ordered most severe first, then oldest
first, and every alert keeps its own line (its fingerprint included, so that every alert can
be found in what arrived); the lines are packed into markdown messages of at most
:data:`DIGEST_BYTES` each. An envelope is never spread over two digests: one too large for
one digest is a digest of its own, sent in parts (``split``), as any long message is.

Each envelope carries :func:`summary` of its notification (set when it was accepted); an
envelope without one (a message sent through ``dingkit send --via-relay``) is shown by its
own message text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..robot.compose import MAX_BODY_BYTES
from .markdown import clip, md, safe_url
from .notification import Notification, severity_rank
from .outbox.base import Envelope

__all__ = ["DIGEST_BYTES", "HELD", "Digest", "build_digests", "summary"]

#: The ``group`` prefix of envelopes a silence held: what a window held goes out as one
#: digest when it ends, however small.
HELD = "held:"

#: A digest's body, at most: DingTalk's 20,000 bytes less room for the ``msgUuid``, the
#: robot's keyword and the ``at`` block.
DIGEST_BYTES = MAX_BODY_BYTES - 1_000
#: Labels shown on an alert's line besides its name, at most (the most telling first).
_SHOWN_LABELS = ("namespace", "instance", "job", "service", "pod", "cluster", "env")
_ICONS = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}


def summary(notification: Notification) -> dict[str, Any]:
    """What a digest needs of ``notification``, as JSON (kept in its envelopes)."""
    return {
        "title": notification.title,
        "severity": notification.severity,
        "status": notification.status,
        "url": notification.url,
        "alerts": [
            {
                "name": alert.name,
                "status": alert.status,
                "severity": alert.severity,
                "fingerprint": alert.fingerprint,
                "summary": clip(alert.summary, 160),
                "labels": {
                    key: clip(alert.labels[key], 80) for key in _SHOWN_LABELS if key in alert.labels
                },
            }
            for alert in notification.alerts
        ],
    }


@dataclass(frozen=True, slots=True)
class Digest:
    """One merged message: the envelopes it replaces, and its markdown."""

    ids: tuple[str, ...]
    severity: str
    title: str
    text: str


def build_digests(envelopes: Sequence[Envelope], *, max_bytes: int = DIGEST_BYTES) -> list[Digest]:
    """``envelopes`` merged: most severe groups first; each digest within ``max_bytes``
    (but one envelope alone may be larger: it is sent in parts)."""
    groups: dict[str, list[Envelope]] = {}
    for envelope in sorted(envelopes, key=lambda e: (e.created, e.id)):
        groups.setdefault(envelope.group, []).append(envelope)
    for members in groups.values():
        members.sort(key=lambda e: (severity_rank(e.severity), e.created, e.id))
    # Most severe group first (its first member is its most severe), then the oldest.
    ordered = sorted(
        groups.values(),
        key=lambda members: (
            severity_rank(members[0].severity),
            min(m.created for m in members),
        ),
    )
    digests: list[Digest] = []
    ids: list[str] = []
    lines: list[str] = []
    size = 0
    current_group: str | None = None
    worst = "info"

    def close() -> None:
        nonlocal ids, lines, size, current_group, worst
        if ids:
            digests.append(_digest(tuple(ids), worst, lines))
        ids, lines, size, current_group, worst = [], [], 0, None, "info"

    for members in ordered:
        for envelope in members:
            block = _lines(envelope)
            heading = [] if envelope.group == current_group else [_heading(envelope, members)]
            cost = _bytes(heading + block)
            if ids and size + cost > max_bytes:
                close()
                heading = [_heading(envelope, members)]
                cost = _bytes(heading + block)
            lines += heading + block
            size += cost
            ids.append(envelope.id)
            current_group = envelope.group
            if severity_rank(envelope.severity) < severity_rank(worst):
                worst = envelope.severity
    close()
    return digests


def _digest(ids: tuple[str, ...], worst: str, lines: Sequence[str]) -> Digest:
    title = f"{_ICONS.get(worst, '🟡')} {len(ids)} notifications merged"
    return Digest(ids, worst, title, "\n".join([f"### {title}", "", *lines]))


def _heading(envelope: Envelope, members: Sequence[Envelope]) -> str:
    route = f"{md(envelope.route)} · " if envelope.route else ""
    name = envelope.group.rpartition("/")[2] or envelope.source
    if envelope.group.startswith(HELD):
        name += " (held by a silence)"
    icon = _ICONS.get(members[0].severity, "🟡")  # the group's most severe
    return f"\n#### {icon} {route}{md(name)} ({len(members)})"


def _lines(envelope: Envelope) -> list[str]:
    note = envelope.notification
    alerts = note.get("alerts") if isinstance(note, Mapping) else None
    if isinstance(alerts, list) and alerts:
        return [_alert_line(alert) for alert in alerts if isinstance(alert, Mapping)]
    if isinstance(note, Mapping) and note.get("title"):
        link = safe_url(note.get("url", ""))
        text = md(clip(note["title"], 200))
        status = md(note.get("status", ""))
        return [f"- {f'[{text}]({link})' if link else text} · {status}"]
    return [f"- {md(clip(_message_text(envelope.message), 300))}"]


def _alert_line(alert: Mapping[str, Any]) -> str:
    status = str(alert.get("status", ""))
    mark = "✅" if status == "resolved" else _ICONS.get(str(alert.get("severity", "")), "🟡")
    labels = alert.get("labels")
    shown = (
        " ".join(f"{md(k)}={md(v)}" for k, v in labels.items())
        if isinstance(labels, Mapping)
        else ""
    )
    parts = [f"- {mark} **{md(alert.get('name', ''))}**"]
    if shown:
        parts.append(shown)
    if alert.get("summary"):
        parts.append(md(alert["summary"]))
    parts.append(f"fp {md(alert.get('fingerprint', ''))}")
    return " · ".join(parts)


def _message_text(message: Mapping[str, Any]) -> str:
    for key in ("markdown", "text", "link", "actionCard"):
        part = message.get(key)
        if isinstance(part, Mapping):
            for field in ("text", "content", "title"):
                if isinstance(part.get(field), str):
                    return str(part[field])
    return str(message.get("msgtype", "message"))


def _bytes(lines: Iterable[str]) -> int:
    # As the lines travel: JSON-escaped UTF-8, one newline each.
    return sum(len(json.dumps(line, ensure_ascii=False).encode()) - 1 for line in lines)
