"""Small pieces the CI sources share: refs, commit lines, durations. No I/O."""

from __future__ import annotations

from datetime import datetime

from ..notification import Entry
from ._read import Fields

__all__ = [
    "commit_entry",
    "duration",
    "first_line",
    "is_zero_sha",
    "ref_name",
    "seconds_text",
    "short_sha",
]

_ZERO_SHA = "0" * 40


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of a commit message or description, at most ``limit`` long."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def short_sha(sha: str) -> str:
    return "" if sha == _ZERO_SHA else sha[:8]


def is_zero_sha(sha: str) -> bool:
    return sha.strip("0") == "" and len(sha) >= 7


def ref_name(ref: str) -> tuple[str, str]:
    """``("branch", "main")`` for ``refs/heads/main``, ``("tag", "v1")`` for ``refs/tags/v1``;
    a bare name (GitLab pipelines, deployments) is taken as a branch."""
    if ref.startswith("refs/heads/"):
        return "branch", ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return "tag", ref.removeprefix("refs/tags/")
    return "branch", ref


def duration(start: datetime | None, end: datetime | None) -> str:
    """``"3m 18s"`` between two times, or ``""`` when either is unknown or they are reversed."""
    if start is None or end is None or end < start:
        return ""
    return seconds_text((end - start).total_seconds())


def seconds_text(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def commit_entry(commit: Fields, text: str) -> Entry:
    """A commit of a push (GitHub's or GitLab's: ``id``, ``url``, ``author.name``)."""
    author = commit.opt_obj("author")
    name = author.string("name", required=False) if author else ""
    detail = " ".join(part for part in (short_sha(commit.string("id")), name) if part)
    return Entry(text=first_line(text), url=commit.string("url", required=False), detail=detail)
