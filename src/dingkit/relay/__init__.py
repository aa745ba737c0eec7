"""The relay's inbound side: webhooks from monitoring and CI read into notifications, and
notifications rendered as DingTalk markdown (issue 13). No I/O here; the server, the
durable queue and delivery build on it.

    >>> from dingkit.relay import parse, render
    >>> note = parse("alertmanager", {}, body)            # doctest: +SKIP
    >>> message = render(note, time_zone="Asia/Shanghai")  # doctest: +SKIP

- ``sources/``: one reader per sender (alertmanager, grafana, github, gitlab, jenkins,
  generic), each ``(headers, body) -> Notification`` or :class:`SourceError`;
- ``notification.py``: :class:`Notification`, :class:`Alert`, :class:`Entry`;
- ``render.py``, ``templating.py``, ``markdown.py``, ``templates/``: Jinja2 templates in a
  sandbox, for DingTalk's markdown subset, fitted to the robot body limit.
"""

from .errors import SourceError
from .notification import SEVERITIES, Alert, Entry, Notification
from .render import DEFAULT_TIME_ZONE, default_template, load_template, render
from .sources import GITHUB_EVENTS, GITLAB_EVENTS, SOURCES, parse

__all__ = [
    "DEFAULT_TIME_ZONE",
    "GITHUB_EVENTS",
    "GITLAB_EVENTS",
    "SEVERITIES",
    "SOURCES",
    "Alert",
    "Entry",
    "Notification",
    "SourceError",
    "default_template",
    "load_template",
    "parse",
    "render",
]
