"""Grafana unified alerting's webhook contact point (body ``"version": "1"``, Grafana 9 to 11).

Shape [I, fixtures grafana/*.json]: Alertmanager's group (``status``, ``alerts[]``,
``groupKey``, ``groupLabels``...) plus ``orgId``, ``title`` (``[FIRING:1] ...``), ``state``
(``alerting``, ``ok``; [I] also ``no_data``, ``pending``) and ``message``; each alert adds
``silenceURL``, ``dashboardURL``, ``panelURL``, ``valueString``, from Grafana 9 ``values``
and from 11 ``imageURL``. No event or delivery header; an optional HMAC signature header is
the server's to check, not ours.

Grafana's legacy (pre-8) alerting sent ``ruleName``/``evalMatches`` instead; it is refused
with a message saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SourceError
from ..notification import Notification
from ._read import require_object
from .alertmanager import read_alert_group

__all__ = ["parse_grafana"]


def parse_grafana(headers: Mapping[str, str], body: Any) -> Notification:
    """A Grafana alerting webhook body as a :class:`Notification`.

    Raises:
        SourceError: the body is not an object, is legacy alerting, or a field is missing
            or mistyped.
    """
    del headers
    f = require_object(body, "grafana")
    if not f.has("alerts") and f.has("ruleName"):
        raise SourceError(
            "this is Grafana legacy alerting (ruleName, evalMatches); the relay reads unified "
            "alerting's webhook (Grafana 9 or later): switch the contact point over",
            field="alerts",
        )
    fields = read_alert_group(f, "grafana")
    # Grafana's own title is read (a type check) but not used: its default, e.g.
    # "[FIRING:1, RESOLVED:2] (true)" in mixed-firing-resolved-grafana9.json, can name no
    # alert at all. Templates still have it as raw.title.
    f.string("title", required=False)
    state = f.string("state", required=False).strip().lower()
    org = f.text("orgId")
    labels = dict(fields["labels"])
    if state:
        labels["state"] = state
    if org:
        labels["org_id"] = org
    url = fields["url"]
    return Notification(
        **{**fields, "labels": labels},
        links={"Grafana": url} if url else {},
    )
