"""Any JSON object, for senders without a source of their own; a route's template says how
it reads. A few conventional fields are picked up when present, all optional: ``title``,
``text``/``message``/``summary``, ``severity``/``level``, ``status``, ``event``, ``url``
and a ``labels`` object of strings. Top-level strings, numbers and booleans are also
labels, so routes can match on them. ``Idempotency-Key`` is the dedup key when sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..notification import Notification, normalise_severity, normalise_status
from ._read import Fields, delivery_key, header, lower_headers, require_object

__all__ = ["parse_generic"]

# Bounds on what becomes a label: a hostile body may have any number of fields.
_MAX_LABELS = 64
_MAX_LABEL = 256


def _first(f: Fields, *keys: str) -> str:
    for key in keys:
        value = f.data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _labels(f: Fields) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name, value in f.data.items():
        if len(labels) >= _MAX_LABELS:
            break
        if isinstance(value, bool):
            labels[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            labels[name] = str(value)[:_MAX_LABEL]
    labels.update(f.strings("labels"))
    return labels


def parse_generic(headers: Mapping[str, str], body: Any) -> Notification:
    """Any JSON object as a :class:`Notification` (``SourceError`` if it is not an object)."""
    f = require_object(body, "generic")
    labels = _labels(f)
    severity = normalise_severity(_first(f, "severity", "level", "priority"), default="info")
    status = normalise_status(_first(f, "status", "state"))
    event = _first(f, "event", "type", "kind") or "message"
    url = _first(f, "url", "link", "href")
    labels.update(source="generic", event=event, severity=severity)
    if status:
        labels["status"] = status
    key = header(lower_headers(headers), "Idempotency-Key")
    return Notification(
        source="generic",
        event=event,
        title=" ".join(_first(f, "title", "subject", "name").split()) or "Notification",
        severity=severity,
        status=status,
        labels=labels,
        summary=_first(f, "text", "message", "summary", "description"),
        url=url,
        dedup_key=delivery_key("generic", key),
        raw=f.data,
    )
