"""One small body per source and event, the shapes of the fixtures cut to what templates
read: route templates are tried on these when the config is loaded (``load_template``), and
``dingkit relay preview`` can show them. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .notification import Notification
from .sources import parse

__all__ = ["SAMPLES", "sample_body", "sample_notifications"]

_REPO = {"full_name": "octo-org/octo-repo", "html_url": "https://github.com/octo-org/octo-repo"}
_SENDER = {"login": "octocat"}
_PROJECT = {
    "path_with_namespace": "group/project",
    "web_url": "https://gitlab.example.com/group/project",
}
_ALERT = {
    "status": "firing",
    "labels": {"alertname": "HighLatency", "severity": "critical", "instance": "api-1:9100"},
    "annotations": {"summary": "p99 latency above 2s", "description": "for 10 minutes"},
    "startsAt": "2024-05-01T08:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "https://prometheus.example.com/graph?g0.expr=latency",
    "fingerprint": "1a2b3c4d5e6f7a8b",
}
_GROUP = {
    "receiver": "dingtalk",
    "status": "firing",
    "alerts": [_ALERT],
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": _ALERT["labels"],
    "commonAnnotations": _ALERT["annotations"],
    "externalURL": "https://alertmanager.example.com",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
}
_COMMIT = {
    "id": "3484a3fb816e0859fd6e1cea078d76385ff50625",
    "message": "Fix the build",
    "url": "https://github.com/octo-org/octo-repo/commit/3484a3fb",
    "timestamp": "2024-05-01T08:00:00Z",
    "author": {"name": "Octo Cat"},
}

#: ``{source: {event: (headers, body)}}``.
SAMPLES: dict[str, dict[str, tuple[dict[str, str], dict[str, Any]]]] = {
    "alertmanager": {"alert": ({}, {**_GROUP, "version": "4"})},
    "grafana": {
        "alert": ({}, {**_GROUP, "version": "1", "orgId": 1, "state": "alerting", "title": "x"})
    },
    "github": {
        "push": (
            {"X-GitHub-Event": "push"},
            {
                "ref": "refs/heads/main",
                "before": "1" * 40,
                "after": _COMMIT["id"],
                "created": False,
                "deleted": False,
                "forced": False,
                "compare": "https://github.com/octo-org/octo-repo/compare/1111111...3484a3f",
                "commits": [_COMMIT],
                "head_commit": _COMMIT,
                "pusher": {"name": "octocat"},
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "workflow_run": (
            {"X-GitHub-Event": "workflow_run"},
            {
                "action": "completed",
                "workflow_run": {
                    "name": "CI",
                    "status": "completed",
                    "conclusion": "failure",
                    "html_url": "https://github.com/octo-org/octo-repo/actions/runs/1",
                    "head_branch": "main",
                    "head_sha": _COMMIT["id"],
                    "run_number": 1,
                    "run_started_at": "2024-05-01T08:00:00Z",
                    "updated_at": "2024-05-01T08:03:00Z",
                },
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "workflow_job": (
            {"X-GitHub-Event": "workflow_job"},
            {
                "action": "completed",
                "workflow_job": {
                    "name": "test",
                    "workflow_name": "CI",
                    "status": "completed",
                    "conclusion": "failure",
                    "html_url": "https://github.com/octo-org/octo-repo/actions/runs/1/job/2",
                    "head_branch": "main",
                    "steps": [
                        {"name": "Run tests", "status": "completed", "conclusion": "failure"}
                    ],
                },
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "deployment_status": (
            {"X-GitHub-Event": "deployment_status"},
            {
                "action": "created",
                "deployment_status": {"state": "success", "environment": "production"},
                "deployment": {"ref": "main", "sha": _COMMIT["id"], "environment": "production"},
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "pull_request": (
            {"X-GitHub-Event": "pull_request"},
            {
                "action": "opened",
                "number": 2,
                "pull_request": {
                    "number": 2,
                    "title": "Update the README",
                    "html_url": "https://github.com/octo-org/octo-repo/pull/2",
                    "user": _SENDER,
                    "head": {"ref": "changes"},
                    "base": {"ref": "main"},
                    "merged": False,
                },
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "release": (
            {"X-GitHub-Event": "release"},
            {
                "action": "published",
                "release": {
                    "tag_name": "v1.0.0",
                    "name": "v1.0.0",
                    "html_url": "https://github.com/octo-org/octo-repo/releases/tag/v1.0.0",
                    "author": _SENDER,
                    "prerelease": False,
                    "draft": False,
                    "published_at": "2024-05-01T08:00:00Z",
                },
                "repository": _REPO,
                "sender": _SENDER,
            },
        ),
        "ping": ({"X-GitHub-Event": "ping"}, {"zen": "Keep it logically awesome.", "hook_id": 1}),
    },
    "gitlab": {
        "pipeline": (
            {"X-Gitlab-Event": "Pipeline Hook"},
            {
                "object_kind": "pipeline",
                "object_attributes": {"id": 31, "ref": "main", "status": "failed", "tag": False},
                "builds": [{"name": "test", "stage": "test", "status": "failed"}],
                "project": _PROJECT,
                "user": {"username": "jsmith"},
            },
        ),
        "push": (
            {"X-Gitlab-Event": "Push Hook"},
            {
                "object_kind": "push",
                "ref": "refs/heads/main",
                "before": "1" * 40,
                "after": "2" * 40,
                "user_username": "jsmith",
                "commits": [{**_COMMIT, "title": "Fix the build"}],
                "total_commits_count": 1,
                "project": _PROJECT,
            },
        ),
        "deployment": (
            {"X-Gitlab-Event": "Deployment Hook"},
            {
                "object_kind": "deployment",
                "status": "success",
                "environment": "production",
                "ref": "main",
                "project": _PROJECT,
                "user": {"username": "jsmith"},
            },
        ),
        "merge_request": (
            {"X-Gitlab-Event": "Merge Request Hook"},
            {
                "object_kind": "merge_request",
                "object_attributes": {
                    "iid": 1,
                    "title": "Speed up the build",
                    "url": "https://gitlab.example.com/group/project/-/merge_requests/1",
                    "action": "open",
                    "state": "opened",
                    "source_branch": "fast",
                    "target_branch": "main",
                },
                "project": _PROJECT,
                "user": {"username": "jsmith"},
            },
        ),
    },
    "jenkins": {
        "build": (
            {},
            {
                "name": "app",
                "url": "job/app/",
                "build": {
                    "full_url": "https://jenkins.example.com/job/app/7/",
                    "number": 7,
                    "phase": "FINALIZED",
                    "status": "FAILURE",
                    "scm": {"branch": "origin/main", "commit": _COMMIT["id"]},
                },
            },
        )
    },
    "generic": {
        "message": ({}, {"title": "Backup finished", "text": "42 GB in 3 minutes", "status": "ok"})
    },
}


def sample_body(source: str, event: str) -> tuple[dict[str, str], Any]:
    """The headers and body of one sample, as its sender would post them (``dingkit demo``
    posts the Alertmanager one to the relay)."""
    return SAMPLES[source][event]


def sample_notifications(source: str, events: Iterable[str] | None = None) -> list[Notification]:
    """The samples of ``source`` (only ``events`` when given) as notifications.

    Raises:
        ValueError: ``source`` is not one of the relay's sources.
    """
    by_event = SAMPLES.get(source)
    if by_event is None:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SAMPLES)}")
    wanted = None if events is None else set(events)
    return [
        parse(source, headers, body)
        for event, (headers, body) in by_event.items()
        if wanted is None or event in wanted
    ]
