"""The Jenkins Notification plugin's JSON body (jenkinsci/notification-plugin).

Shape [I, fixture jenkins/notification-plugin-completed-success.doc-example.json, a doc
example, and SOURCES.md's reading of the plugin's ``JobState``/``BuildState``]: ``name``,
``url``, ``display_name``; ``build`` with ``number``, ``phase`` (QUEUED, STARTED,
COMPLETED, FINALIZED), ``status`` (SUCCESS, FAILURE, UNSTABLE, ABORTED, NOT_BUILT; absent
before the build ends), ``full_url``, ``scm`` (``url``, ``branch``, ``commit``),
``timestamp`` (ms), ``duration`` (ms), ``parameters``, ``log``. Null fields are left out.
No event, delivery or signature header: the event is the build's phase.

The dedup key is the job, build number and phase [I]: the plugin retries a failed POST with
the same body, and one build passes each phase once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import SourceError
from ..notification import Notification, ci_severity, normalise_status
from ._common import seconds_text, short_sha
from ._read import Fields, digest, require_object

__all__ = ["parse_jenkins"]

_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z


def _timestamp(build: Fields) -> datetime | None:
    millis = build.number("timestamp")
    if millis is None:
        return None
    if not 0 <= millis <= _MAX_MS:
        raise SourceError(
            "build.timestamp: expected milliseconds since 1970, got an out-of-range number",
            field="build.timestamp",
        )
    return datetime.fromtimestamp(millis / 1000, UTC)


def parse_jenkins(headers: Mapping[str, str], body: Any) -> Notification:
    """A Jenkins Notification plugin body as a :class:`Notification`.

    Raises:
        SourceError: the body is not an object, or ``name``/``build``/``build.number``/
            ``build.phase`` is missing, or a field is mistyped.
    """
    del headers
    f = require_object(body, "jenkins")
    job = f.string("name")
    build = f.obj("build")
    number = build.integer("number")
    phase = build.string("phase").strip().upper()
    result = build.string("status", required=False)
    status = normalise_status(result) if result else normalise_status(phase)
    scm = build.opt_obj("scm")
    branch = scm.string("branch", required=False) if scm else ""
    commit = scm.string("commit", required=False) if scm else ""
    millis = build.number("duration")
    display = f.string("display_name", required=False) or job
    # [I] the git plugin reports the remote-tracking name ("origin/master" in the fixture).
    plain_branch = branch.removeprefix("origin/")
    labels = {
        "source": "jenkins",
        "event": "build",
        "job": job,
        "phase": phase.lower(),
        "status": status,
        "severity": ci_severity(status),
        "branch": plain_branch,
    }
    build_url = build.string("full_url", required=False)
    return Notification(
        source="jenkins",
        event="build",
        action=phase.lower(),
        title=f"{display}: build #{number} {status}",
        severity=labels["severity"],
        status=status,
        labels={name: value for name, value in labels.items() if value},
        url=build_url,
        links={"Console": f"{build_url}console"} if build_url.endswith("/") else {},
        facts=tuple(
            (name, value)
            for name, value in (
                ("Phase", phase),
                ("Branch", branch),
                ("Commit", short_sha(commit)),
                ("Duration", seconds_text(millis / 1000) if millis else ""),
            )
            if value
        ),
        time=_timestamp(build),
        dedup_key=f"jenkins:{digest(f.string('url', required=False) or job, number, phase)}",
        raw=f.data,
    )
