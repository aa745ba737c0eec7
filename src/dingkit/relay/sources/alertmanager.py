"""Prometheus Alertmanager's ``webhook_config`` body (``"version": "4"``; also ``"3"``).

Shape [I, fixtures alertmanager/*.json and SOURCES.md]: ``status`` (firing/resolved),
``alerts[]`` each with ``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt``,
``generatorURL`` and, from Alertmanager 0.19 on, ``fingerprint``; ``groupKey``,
``groupLabels``, ``commonLabels``, ``commonAnnotations``, ``externalURL``, ``receiver``,
``truncatedAlerts``. Version 3 (legacy-v3-group-2-firing.json) has no ``groupKey``, no
``truncatedAlerts`` and no fingerprints. Alertmanager sends no event, delivery or signature
header, so only the body is read. Grafana's body is a superset (see ``grafana.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import SourceError
from ..notification import Alert, Notification, normalise_severity, severity_rank
from ._read import Fields, digest, require_object

__all__ = ["parse_alertmanager", "read_alert_group"]

_ALERT_STATUSES = ("firing", "resolved")
# Label names that carry a severity, in order of preference [I: Prometheus rule convention
# is `severity` (every fixture); `priority` and `level` appear in community rule sets].
_SEVERITY_LABELS = ("severity", "priority", "level")
_TITLE_NAMES = 3


def _status(fields: Fields, key: str) -> str:
    status = fields.string(key).strip().lower()
    if status not in _ALERT_STATUSES:
        where = fields.where(key)
        raise SourceError(
            f"{where}: expected 'firing' or 'resolved', got {status[:20]!r}", field=where
        )
    return status


def _severity(labels: Mapping[str, str]) -> str:
    for name in _SEVERITY_LABELS:
        if labels.get(name, "").strip():
            return normalise_severity(labels[name])
    return "warning"  # [I] an alert without a severity label is still something to look at


def _link(fields: Fields, key: str) -> str:
    return fields.string(key, required=False).strip()


def read_alert(fields: Fields) -> Alert:
    """One alert; Grafana's extra per-alert links are read when present."""
    labels = fields.strings("labels")
    annotations = fields.strings("annotations")
    links = {
        "source": _link(fields, "generatorURL"),
        "runbook": annotations.get("runbook_url", "").strip(),
        "silence": _link(fields, "silenceURL"),
        "dashboard": _link(fields, "dashboardURL"),
        "panel": _link(fields, "panelURL"),
        "image": _link(fields, "imageURL"),
    }
    fingerprint = fields.string("fingerprint", required=False).strip()
    return Alert(
        name=labels.get("alertname", "").strip() or "(no alertname)",
        status=_status(fields, "status"),
        severity=_severity(labels),
        # Older senders have none (single-firing.json): the label set identifies an alert.
        fingerprint=fingerprint or digest(sorted(labels.items()))[:16],
        labels=labels,
        annotations=annotations,
        summary=annotations.get("summary", "").strip(),
        description=annotations.get("description", "").strip(),
        starts_at=fields.time("startsAt"),
        ends_at=fields.time("endsAt"),
        value=fields.string("valueString", required=False).strip(),
        links={name: url for name, url in links.items() if url},
    )


def _order(alert: Alert) -> tuple[int, int, str, float]:
    started = alert.starts_at.timestamp() if alert.starts_at else 0.0
    return (0 if alert.firing else 1, severity_rank(alert.severity), alert.name, started)


def _names(alerts: tuple[Alert, ...]) -> str:
    names = list(dict.fromkeys(alert.name for alert in alerts))
    shown = ", ".join(names[:_TITLE_NAMES])
    return shown if len(names) <= _TITLE_NAMES else f"{shown} +{len(names) - _TITLE_NAMES}"


def _counts(alerts: tuple[Alert, ...]) -> str:
    firing = sum(alert.firing for alert in alerts)
    parts = [f"FIRING:{firing}"] if firing else []
    if len(alerts) - firing:
        parts.append(f"RESOLVED:{len(alerts) - firing}")
    return ", ".join(parts)


def _latest(times: list[datetime | None]) -> datetime | None:
    known = [time for time in times if time is not None]
    return max(known) if known else None


def read_alert_group(f: Fields, source: str) -> dict[str, Any]:
    """The :class:`Notification` fields an Alertmanager-style group gives (Grafana's too)."""
    status = _status(f, "status")
    items = f.objects("alerts")
    if not items:
        raise SourceError("alerts: expected at least one alert, got an empty list", field="alerts")
    alerts = tuple(sorted((read_alert(item) for item in items), key=_order))
    group_labels = f.strings("groupLabels")
    common_labels = f.strings("commonLabels")
    common_annotations = f.strings("commonAnnotations")
    receiver = f.string("receiver", required=False)
    group_key = f.string("groupKey", required=False)
    external_url = f.string("externalURL", required=False).strip()
    truncated = f.integer("truncatedAlerts", required=False)
    if truncated < 0:
        raise SourceError(
            "truncatedAlerts: expected a count, got a negative number", field="truncatedAlerts"
        )
    firing = tuple(alert for alert in alerts if alert.firing)
    severity = min((alert.severity for alert in firing or alerts), key=severity_rank)
    # Only a name the whole group shares is a label to route on; the title names them all.
    common_name = group_labels.get("alertname") or common_labels.get("alertname", "")
    name = common_name or _names(alerts)
    labels = {**common_labels, **group_labels}
    if common_name:
        labels["alertname"] = common_name
    # The relay's own keys win over alert labels of the same name: a route on severity
    # must see the normalised value of the group's worst firing alert.
    labels.update(source=source, event="alert", status=status, severity=severity)
    if receiver:
        labels["receiver"] = receiver
    summary = common_annotations.get("summary") or next(
        (alert.summary or alert.description for alert in firing or alerts), ""
    )
    # Two Alertmanagers of an HA pair send the same group with the same groupKey, status and
    # alerts; a repeat after repeat_interval does too (the store's dedup window decides).
    # Each alert's own status and startsAt are in the key as well: without them, a group
    # whose alert B resolved (or resolved and fired again) while A kept the group firing
    # would look like a duplicate of the earlier notification and be dropped. startsAt to
    # the 10 s below it: an alert posted without one (amtool, curl) gets each peer's own
    # receive time, a few milliseconds apart, while firing again comes a group_interval
    # later at least (tests/relay/test_relay_real_alertmanager.py found the gap).
    dedup = digest(
        group_key or [receiver, sorted(group_labels.items())],
        status,
        sorted(
            [
                alert.fingerprint,
                alert.status,
                _ten_seconds(alert.starts_at),
            ]
            for alert in alerts
        ),
    )
    when = _latest(
        [a.starts_at for a in firing] if status == "firing" else [a.ends_at for a in alerts]
    )
    return {
        "source": source,
        "event": "alert",
        "title": f"[{_counts(alerts)}] {name}",
        "severity": severity,
        "status": status,
        "labels": labels,
        "summary": summary.strip(),
        "url": external_url,
        "time": when,
        "alerts": alerts,
        "truncated": truncated,
        "dedup_key": f"{source}:{dedup}",
        "raw": f.data,
    }


def parse_alertmanager(headers: Mapping[str, str], body: Any) -> Notification:
    """An Alertmanager webhook body as a :class:`Notification`; headers are not needed.

    Raises:
        SourceError: the body is not an object, or a field is missing or mistyped.
    """
    del headers  # Alertmanager sends nothing but auth in its headers (SOURCES.md)
    f = require_object(body, "alertmanager")
    f.text("version")  # "4" now, "3" before; a number would be a mistake but is read
    fields = read_alert_group(f, "alertmanager")
    url = fields["url"]
    links = {"Alertmanager": url} if url else {}
    return Notification(**fields, links=links)


def _ten_seconds(moment: datetime | None) -> str:
    """``moment`` to the 10 s below it, as text (``""`` for none)."""
    if moment is None:
        return ""
    return str(int(moment.timestamp()) // 10 * 10)
