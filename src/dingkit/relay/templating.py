"""The Jinja2 environment the relay renders with, and route templates checked at load time.

One :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: a route template is operator
config, but it reads a webhook body written by whoever can reach the route, and the sandbox
keeps both from reaching Python internals or changing the shared notification. Autoescape is
off (the output is markdown, not HTML); untrusted text goes through the ``md`` filter
instead (see ``markdown.py``). Undefined names raise (:class:`~jinja2.StrictUndefined`),
so a typo in a template fails when the config is loaded, not at 3 a.m.

Route templates are compiled and checked by :func:`~dingkit.relay.render.load_template`.
Names a template sees: ``n`` (the :class:`~dingkit.relay.notification.Notification`),
``alerts`` and ``entries`` (those that fit in one message), ``more`` (how many were left
out), ``raw`` (the parsed body) and ``zone`` (the route's time zone). A template may
``{% set title = ... %}`` at top level for the message's title. Filters: ``md``, ``clip``,
``url``, ``time``, ``duration``; functions: ``link``, ``links``, ``icon``, ``color``,
``own_labels``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jinja2
from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .markdown import clip, format_time, md, safe_url
from .notification import Alert, Notification
from .sources._common import duration

__all__ = ["color", "environment", "icon", "link", "links", "own_labels"]

_ICONS = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}
_GOOD = frozenset({"resolved", "success", "merged", "ok"})
_BAD = frozenset({"failure", "error", "timed_out", "startup_failure"})
_COLORS = {"critical": "#D93026", "error": "#E8710A", "warning": "#F29900", "info": "#1A73E8"}
_GREEN, _RED = "#1E8E3E", "#D93026"


def icon(item: Notification | Alert) -> str:
    """✅ for a resolved alert or a success, ❌ for a failure, else the severity's dot."""
    if item.status in _GOOD:
        return "✅"
    if item.status in _BAD:
        return "❌"
    return _ICONS.get(item.severity, "🟡")


def color(item: Notification | Alert) -> str:
    """A 6-digit hex colour for ``<font color=...>`` (the form every client renders, §2.2)."""
    if item.status in _GOOD:
        return _GREEN
    if item.status in _BAD:
        return _RED
    return _COLORS.get(item.severity, _COLORS["warning"])


def link(text: Any, url: Any) -> str:
    """``[text](url)`` with both made safe, or the text alone when the URL is not http(s)."""
    target = safe_url(url) if url else ""
    label = md(text) or "link"
    return f"[{label}]({target})" if target else label


def links(item: Notification | Alert, main: str = "Open") -> str:
    """``[Open](url) · [Repository](url)``: the item's main link, then its others, those
    that are http(s) only."""
    pairs = [(main, item.url)] if isinstance(item, Notification) and item.url else []
    pairs += [(name[:1].upper() + name[1:], url) for name, url in item.links.items()]
    seen: set[str] = set()
    shown = []
    for name, url in pairs:
        target = safe_url(url)
        if target and target not in seen:  # externalURL is both the main link and a named one
            seen.add(target)
            shown.append(link(name, url))
    return " · ".join(shown)


def own_labels(alert: Alert, common: Mapping[str, str], limit: int = 6) -> str:
    """``instance=10.0.0.1, zone=x``: the labels that tell this alert from its group's."""
    skip = {"alertname", "severity"}
    pairs = [
        f"{name}={value}"
        for name, value in alert.labels.items()
        if name not in skip and common.get(name) != value
    ]
    shown = ", ".join(pairs[:limit])
    return shown + (f" (+{len(pairs) - limit})" if len(pairs) > limit else "")


@pass_context
def _time(context: Context, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return format_time(value, context["zone"], fmt)


def _url(value: Any) -> str:
    return safe_url(value)


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The shared environment: the default templates, filters and functions."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.PackageLoader("dingkit.relay", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(md=md, clip=clip, url=_url, time=_time, duration=duration)
    env.globals.update(link=link, links=links, icon=icon, color=color, own_labels=own_labels)
    return env
