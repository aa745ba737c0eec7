"""Making untrusted text safe inside DingTalk markdown (§2.2). No I/O.

DingTalk renders links, images, headings, quotes, bold/italic and ``<font>`` tags, and a
body that says ``@13800000000`` helps a mention through. A webhook's text (an alert's
description, a commit message, a PR title) must show as text, not as any of those. Whether
DingTalk honours backslash escapes is not documented [I], so :func:`md` replaces the few
characters that start markup with look-alikes that show the same on every client: ``*`` →
``∗``, ``[``/``]`` → ``［``/``］``, ``<``/``>`` → ``‹``/``›``, ``@`` → ``＠``, a leading
``#``, ``-``, ``+`` or ``1.`` → ``＃``, ``－``, ``＋``, ``1．``; and it folds line breaks
and runs of spaces, which would start a new block (heading, quote, list) on a line of the
sender's choosing. Underscores are left alone: they are all over alert and label names,
and in DingTalk's subset only ``*`` italicises.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["clip", "format_time", "md", "safe_url"]

_LOOKALIKES = str.maketrans({"*": "∗", "[": "［", "]": "］", "<": "‹", ">": "›", "@": "＠"})
_SPACE = re.compile(r"\s+")
_MARKER_LOOKALIKES = str.maketrans({"-": "－", "+": "＋", ".": "．", ")": "）"})
_LIST_MARKER = re.compile(r"(?:[-+]|\d{1,9}[.)])(?: |$)")
# Link targets: the characters that would end a markdown link or open a tag are
# percent-encoded; everything else a URL may hold is kept as the sender wrote it.
_URL_SAFE = "/:?#&=+%~.,;!$'*@-_"


def _printable(text: str) -> str:
    # Control and format characters (bidi overrides, zero-width joiners) can reorder or hide
    # what a reader sees; they never belong in a one-line field.
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n")


def md(value: Any) -> str:
    """``value`` as inert inline markdown text: one line, no markup, no mentions."""
    text = _SPACE.sub(" ", _printable(str(value))).strip().translate(_LOOKALIKES)
    # A value that starts a line of the template (a list item's text) must not open a
    # heading, a nested list or an ordered list of its own.
    if text.startswith("#"):
        return "＃" + text[1:]
    marker = _LIST_MARKER.match(text)
    if marker is not None:
        end = marker.end() - 1 if marker.group().endswith(" ") else marker.end()
        return text[:end].translate(_MARKER_LOOKALIKES) + text[end:]
    return text


def clip(value: Any, limit: int = 300) -> str:
    """At most ``limit`` characters, ending in ``…`` when cut."""
    text = str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def safe_url(value: Any) -> str:
    """An ``http(s)://`` URL fit for ``[text](url)``, or ``""`` for anything else
    (``javascript:``, relative paths, text with spaces or brackets that would break out)."""
    text = str(value).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return quote(text, safe=_URL_SAFE)


def format_time(value: datetime | None, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``2021-03-30 20:17:50 (UTC+08:00)`` in ``zone``, or ``""`` for no time.

    The offset is printed rather than the zone's abbreviation: Asia/Shanghai's is ``CST``,
    which also names US Central time.
    """
    if value is None:
        return ""
    try:
        local = value.astimezone(zone)
    except OverflowError:  # 9999-12-31T23:00:00-12:00 is in year 10000 anywhere east
        return value.isoformat()
    offset = local.strftime("%z")
    shown = f"UTC{offset[:3]}:{offset[3:]}" if offset not in ("+0000", "") else "UTC"
    return f"{local.strftime(fmt)} ({shown})"
