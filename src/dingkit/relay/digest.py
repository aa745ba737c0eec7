"""Digests: a robot's backlog merged into a few messages, when the budget cannot carry it one
message at a time. No I/O.

A robot takes 20 messages a minute (§2.3); a storm of 2,000 alerts sent one by one would take
100 minutes and arrive long after anyone could act on it. So when a robot's backlog is larger
than its budget carries promptly, the delivery worker merges it: letters are grouped by
their ``group`` (route and alert name), groups are ordered most severe first, then oldest
first, and every alert keeps its own line (its fingerprint included, so that every alert can
be found in what arrived); the lines are packed into markdown messages of at most
:data:`DIGEST_BYTES` each. A letter is never spread over two digests: one too large for
one digest is a digest of its own, sent in parts (``split``), as any long message is.

Each letter carries :func:`summary` of its notification (set when it was accepted); an
letter without one (a message sent through ``dingkit send --via-relay``) is shown by its
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
from .outbox.base import Letter

__all__ = ["DIGEST_BYTES", "HELD", "Digest", "build_digests", "summary"]

#: The ``group`` prefix of letters a silence held: what a window held goes out as one
#: digest when it ends, however small.
HELD = "held:"

#: A digest's body, at most: DingTalk's 20,000 bytes less room for the ``msgUuid``, the
#: robot's keyword and the ``at`` block.
DIGEST_BYTES = MAX_BODY_BYTES - 1_000
#: Labels shown on an alert's line besides its name, at most (the most telling first).
_SHOWN_LABELS = ("namespace", "instance", "job", "service", "pod", "cluster", "env")
_ICONS = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}


def summary(notification: Notification) -> dict[str, Any]:
    """What a digest needs of ``notification``, as JSON (kept in its letters)."""
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
    """One merged message: the letters it replaces, its markdown, and its items (what each
    merged notification was, kept in the digest's letter so that a later merge can pack
    it again with what arrived since)."""

    ids: tuple[str, ...]
    severity: str
    title: str
    text: str
    items: tuple[dict[str, Any], ...] = ()

    def notification(self) -> dict[str, Any]:
        """What the digest's letter keeps as its ``notification``."""
        return {"items": list(self.items)}


def items_of(letter: Letter) -> list[dict[str, Any]]:
    """The notifications a letter stands for: a digest's items, or itself."""
    kept = letter.notification.get("items") if letter.source == "digest" else None
    if isinstance(kept, list):
        return [item for item in kept if isinstance(item, dict)]
    return [
        {
            "route": letter.route,
            "group": letter.group,
            "severity": letter.severity,
            "source": letter.source,
            "created": letter.created,
            "notification": dict(letter.notification),
            "text": "" if letter.notification else clip(_message_text(letter.message), 300),
        }
    ]


def build_digests(letters: Sequence[Letter], *, max_bytes: int = DIGEST_BYTES) -> list[Digest]:
    """``letters`` (digests among them) packed into digests of at most ``max_bytes``, the
    most severe first; a letter is never spread over two digests (one too large for a
    digest is a digest of its own, sent in parts). Inside a digest, groups are ordered most
    severe, then oldest, first, each alert on a line of its own."""
    units = sorted(
        ((letter, items_of(letter)) for letter in letters),
        key=lambda unit: (
            min((severity_rank(i["severity"]) for i in unit[1]), default=2),
            min((i["created"] for i in unit[1]), default=unit[0].created),
            unit[0].id,
        ),
    )
    bins: list[list[tuple[Letter, list[dict[str, Any]]]]] = []
    size = 0
    for unit in units:
        # An upper bound: a heading for each of its groups, shared or not.
        cost = _bytes(line for item in unit[1] for line in _item_lines(item))
        cost += 80 * len({item["group"] for item in unit[1]})
        if bins and size + cost <= max_bytes:
            bins[-1].append(unit)
            size += cost
        else:
            bins.append([unit])
            size = cost
    return [_digest(bin_) for bin_ in bins]


def _digest(units: Sequence[tuple[Letter, list[dict[str, Any]]]]) -> Digest:
    items = [item for _, unit_items in units for item in unit_items]
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in sorted(items, key=lambda i: (severity_rank(i["severity"]), i["created"])):
        groups.setdefault(item["group"], []).append(item)
    ordered = sorted(
        groups.values(),
        key=lambda members: (
            severity_rank(members[0]["severity"]),
            min(m["created"] for m in members),
        ),
    )
    lines: list[str] = []
    for members in ordered:
        lines.append(_heading(members))
        lines += [line for item in members for line in _item_lines(item)]
    worst = ordered[0][0]["severity"] if ordered else "info"
    title = f"{_ICONS.get(worst, '🟡')} {len(items)} notifications merged"
    return Digest(
        tuple(letter.id for letter, _ in units),
        worst,
        title,
        "\n".join([f"### {title}", "", *lines]),
        tuple(items),
    )


def _heading(members: Sequence[dict[str, Any]]) -> str:
    first = members[0]
    route = f"{md(first['route'])} · " if first["route"] else ""
    group = str(first["group"])
    name = group.rpartition("/")[2] or str(first["source"])
    if group.startswith(HELD):
        name += " (held by a silence)"
    icon = _ICONS.get(str(first["severity"]), "🟡")  # the group's most severe
    return f"\n#### {icon} {route}{md(name)} ({len(members)})"


def _item_lines(item: dict[str, Any]) -> list[str]:
    note = item.get("notification")
    alerts = note.get("alerts") if isinstance(note, Mapping) else None
    if isinstance(alerts, list) and alerts:
        return [_alert_line(alert) for alert in alerts if isinstance(alert, Mapping)]
    if isinstance(note, Mapping) and note.get("title"):
        link = safe_url(note.get("url", ""))
        text = md(clip(note["title"], 200))
        status = md(note.get("status", ""))
        return [f"- {f'[{text}]({link})' if link else text} · {status}"]
    return [f"- {md(item.get('text') or item.get('source') or 'message')}"]


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
