"""GitLab project (and system) webhooks: pipeline, push, tag push, deployment, merge request.

The kind is the ``X-Gitlab-Event`` header (``Pipeline Hook``...) and, repeated, the body's
``object_kind``; a system hook sends ``System Hook`` with the project event's body, so then
only ``object_kind`` tells. ``Idempotency-Key`` (GitLab 17.x) is the same on every retry of
a delivery, ``X-Gitlab-Event-UUID`` names the event: either is the dedup key (SOURCES.md).
Shapes [I] are those of fixtures gitlab/*.json (go-gitlab's test data, derived from GitLab's
docs, and a 2025 gitlab.com capture). The secret (``X-Gitlab-Token``) is the server's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SourceError
from ..notification import Entry, Notification, ci_severity, normalise_status
from ._common import commit_entry, first_line, is_zero_sha, ref_name, seconds_text, short_sha
from ._read import Fields, delivery_key, header, lower_headers, require_object

__all__ = ["GITLAB_EVENTS", "parse_gitlab"]

_HEADER_KINDS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Merge Request Hook": "merge_request",
    "Pipeline Hook": "pipeline",
    "Deployment Hook": "deployment",
}
# Merge request actions are verbs (open, merge); statuses read better as what happened.
# [I] The action list is GitLab's "Merge request events" doc; the fixture has "open".
_MR_ACTIONS = {
    "open": "opened",
    "close": "closed",
    "reopen": "reopened",
    "update": "updated",
    "merge": "merged",
    "approve": "approved",
    "unapprove": "unapproved",
}
_FAILED_BUILD = frozenset({"failure", "cancelled"})


def _project(f: Fields) -> tuple[str, str]:
    project = f.obj("project")
    return project.string("path_with_namespace"), project.string("web_url", required=False)


def _user(f: Fields) -> str:
    user = f.opt_obj("user")
    if user is None:
        return f.string("user_username", required=False) or f.string("user_name", required=False)
    return user.string("username", required=False) or user.string("name", required=False)


def _pipeline(f: Fields, repo: str, web_url: str) -> dict[str, Any]:
    attrs = f.obj("object_attributes")
    pipeline_id = attrs.text("id")
    status = normalise_status(attrs.string("status"))
    ref = attrs.string("ref")
    kind = "tag" if attrs.boolean("tag") else "branch"
    # [I] object_attributes.url is in newer GitLab only; the pipeline page is at this path.
    url = attrs.string("url", required=False) or (
        f"{web_url}/-/pipelines/{pipeline_id}" if web_url and pipeline_id else ""
    )
    seconds = attrs.number("duration")
    failed = [
        Entry(
            text=build.string("name"),
            status=normalise_status(build.string("status")),
            detail=build.string("stage", required=False),
        )
        for build in f.objects("builds", required=False)
        if normalise_status(build.string("status")) in _FAILED_BUILD
    ]
    commit = f.opt_obj("commit")
    mr = f.opt_obj("merge_request")
    return {
        "title": f"{repo}: pipeline #{pipeline_id} {status}",
        "status": status,
        "summary": first_line(commit.string("message", required=False)) if commit else "",
        "url": url,
        "time": attrs.time("finished_at") or attrs.time("created_at"),
        "facts": [
            (kind.capitalize(), ref),
            ("Commit", short_sha(attrs.string("sha", required=False))),
            ("Source", attrs.string("source", required=False)),
            (
                "Merge request",
                f"!{mr.text('iid')} {mr.string('title', required=False)}" if mr else "",
            ),
            ("Duration", seconds_text(seconds) if seconds is not None else ""),
        ],
        "entries": failed,
        "labels": {kind: ref},
    }


def _push(f: Fields, repo: str, web_url: str) -> dict[str, Any]:
    kind, name = ref_name(f.string("ref"))
    before, after = f.string("before", required=False), f.string("after", required=False)
    commits = f.objects("commits", required=False)
    total = f.integer("total_commits_count", required=False, default=len(commits))
    if is_zero_sha(after):
        status, what = "deleted", f"{kind} {name} deleted"
    elif is_zero_sha(before):
        status, what = "created", f"{kind} {name} created"
    else:
        status, what = "pushed", f"{total} commit{'' if total == 1 else 's'} pushed to {name}"
    entries = [
        commit_entry(commit, commit.string("title", required=False) or commit.string("message"))
        for commit in commits
    ]
    last = commits[-1] if commits else None
    return {
        "title": f"{repo}: {what}",
        "status": status,
        "summary": entries[-1].text if entries else "",
        "url": f"{web_url}/-/commits/{name}" if web_url and status != "deleted" else web_url,
        "time": last.time("timestamp") if last else None,
        "facts": [(kind.capitalize(), name), ("Commit", short_sha(after))],
        "entries": entries,
        "labels": {kind: name},
    }


def _deployment(f: Fields, repo: str, web_url: str) -> dict[str, Any]:
    status = normalise_status(f.string("status"))
    environment = f.string("environment")
    ref = f.string("ref", required=False)
    return {
        "title": f"{repo}: deployment to {environment} {status}",
        "status": status,
        "summary": f.string("commit_title", required=False),
        "url": f.string("deployable_url", required=False),
        "time": f.time("status_changed_at"),
        "facts": [
            ("Environment", environment),
            ("Ref", ref),
            ("Commit", f.string("short_sha", required=False)),
            ("Environment URL", f.string("environment_external_url", required=False)),
        ],
        "labels": {"environment": environment, "branch": ref},
        "links": {"Commit": f.string("commit_url", required=False)},
    }


def _merge_request(f: Fields, repo: str, web_url: str) -> dict[str, Any]:
    attrs = f.obj("object_attributes")
    action = attrs.string("action", required=False)
    state = attrs.string("state", required=False)
    status = _MR_ACTIONS.get(action, normalise_status(action or state))
    iid = attrs.text("iid")
    title = first_line(attrs.string("title"))
    source, target = attrs.string("source_branch"), attrs.string("target_branch")
    return {
        "title": f"{repo}: MR !{iid} {status}: {title}",
        "status": status,
        "action": action,
        "summary": title,
        "url": attrs.string("url", required=False),
        "time": attrs.time("updated_at") or attrs.time("created_at"),
        "facts": [("Branches", f"{source} → {target}"), ("State", state)],
        "labels": {"branch": target, "head_branch": source, "number": iid},
    }


_Handler = Callable[[Fields, str, str], dict[str, Any]]
_HANDLERS: dict[str, _Handler] = {
    "pipeline": _pipeline,
    "push": _push,
    "tag_push": _push,
    "deployment": _deployment,
    "merge_request": _merge_request,
}
#: The ``object_kind`` values the relay reads.
GITLAB_EVENTS = tuple(_HANDLERS)


def _kind(h: Mapping[str, str], f: Fields) -> str:
    named = header(h, "X-Gitlab-Event")
    kind = f.string("object_kind", required=False)
    if named and named != "System Hook":
        from_header = _HEADER_KINDS.get(named)
        if from_header is None:
            raise SourceError(
                f"GitLab event {named[:40]!r} is not handled; the relay reads "
                f"{', '.join(_HEADER_KINDS)}: untick the others in the webhook's settings",
                field="X-Gitlab-Event",
            )
        if kind and kind != from_header:
            raise SourceError(
                f"object_kind {kind[:40]!r} does not match the X-Gitlab-Event header {named!r}",
                field="object_kind",
            )
        return from_header
    if not kind:
        raise SourceError(
            "object_kind is missing and there is no X-Gitlab-Event header: expected a GitLab "
            "webhook body",
            field="object_kind",
        )
    if kind not in _HANDLERS:
        raise SourceError(
            f"GitLab object_kind {kind[:40]!r} is not handled; the relay reads "
            f"{', '.join(GITLAB_EVENTS)}",
            field="object_kind",
        )
    return kind


def parse_gitlab(headers: Mapping[str, str], body: Any) -> Notification:
    """A GitLab webhook as a :class:`Notification`.

    Raises:
        SourceError: the event is not one the relay reads, the body is not an object, or a
            field is missing or mistyped.
    """
    h = lower_headers(headers)
    f = require_object(body, "gitlab")
    kind = _kind(h, f)
    repo, web_url = _project(f)
    got = _HANDLERS[kind](f, repo, web_url)
    status = got["status"]
    actor = _user(f)
    labels = {
        "source": "gitlab",
        "event": kind,
        "action": got.get("action", ""),
        "status": status,
        "severity": ci_severity(status),
        "repository": repo,
        "namespace": repo.rpartition("/")[0],
        "user": actor,
        **got.pop("labels", {}),
    }
    links = {"Project": web_url, **got.pop("links", {})}
    key = header(h, "Idempotency-Key") or header(h, "X-Gitlab-Event-UUID")
    return Notification(
        source="gitlab",
        event=kind,
        severity=labels["severity"],
        labels={name: value for name, value in labels.items() if value},
        facts=tuple((name, value) for name, value in got.pop("facts", []) if value),
        entries=tuple(got.pop("entries", [])),
        actor=actor,
        links={name: url for name, url in links.items() if url},
        dedup_key=delivery_key("gitlab", key),
        raw=f.data,
        **got,
    )
