"""One reader per webhook sender: ``(headers, parsed JSON body) -> Notification``. No I/O.

Each raises :class:`~dingkit.relay.errors.SourceError` for input it cannot read, never a
``KeyError`` or ``TypeError``. The body must already be parsed (the server bounds nesting
and refuses ``NaN`` while parsing); readers only look at the fields they know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SourceError
from ..notification import Notification
from .alertmanager import parse_alertmanager
from .generic import parse_generic
from .github import GITHUB_EVENTS, parse_github
from .gitlab import GITLAB_EVENTS, parse_gitlab
from .grafana import parse_grafana
from .jenkins import parse_jenkins

__all__ = [
    "GITHUB_EVENTS",
    "GITLAB_EVENTS",
    "SOURCES",
    "parse",
    "parse_alertmanager",
    "parse_generic",
    "parse_github",
    "parse_gitlab",
    "parse_grafana",
    "parse_jenkins",
]

Reader = Callable[[Mapping[str, str], Any], Notification]

#: Every source by the name a route's ``source`` gives.
SOURCES: Mapping[str, Reader] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "github": parse_github,
    "gitlab": parse_gitlab,
    "jenkins": parse_jenkins,
    "generic": parse_generic,
}


def parse(source: str, headers: Mapping[str, str], body: Any) -> Notification:
    """Read a webhook of ``source`` (a key of :data:`SOURCES`).

    Raises:
        SourceError: the input cannot be read (a 4xx for the sender).
        ValueError: ``source`` is not a known source (a configuration mistake, not input).
    """
    reader = SOURCES.get(source)
    if reader is None:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    try:
        return reader(headers, body)
    except SourceError:
        raise
    except RecursionError:
        # Only reachable through a body nested deeper than the server should allow.
        raise SourceError("the body is nested too deeply", field="body") from None
