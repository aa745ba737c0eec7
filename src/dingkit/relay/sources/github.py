"""GitHub repository and organisation webhooks.

The event name is the ``X-GitHub-Event`` header, the sub-type the body's ``action``, and
``X-GitHub-Delivery`` a GUID that a redelivery keeps: the dedup key (SOURCES.md, from
GitHub's "delivery headers" docs). Payload shapes [I] are those of octokit/webhooks'
examples (fixtures github/*.json); ``release`` has no fixture and follows the same
repository's ``release/published.payload.json`` field names (``tag_name``, ``name``,
``html_url``, ``prerelease``, ``published_at``, ``author.login``). Signature checking
(``X-Hub-Signature-256``) needs the raw bytes and is the server's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SourceError
from ..notification import Entry, Notification, ci_severity, normalise_status
from ._common import commit_entry, duration, first_line, ref_name, short_sha
from ._read import Fields, delivery_key, header, lower_headers, require_object

__all__ = ["GITHUB_EVENTS", "parse_github"]

_FAILED_STEP = frozenset({"failure", "cancelled", "timed_out"})


def _login(f: Fields, key: str) -> str:
    user = f.opt_obj(key)
    return user.string("login", required=False) if user else ""


def _push(f: Fields, repo: str) -> dict[str, Any]:
    kind, name = ref_name(f.string("ref"))
    commits = f.objects("commits")
    head = f.opt_obj("head_commit")
    pusher = f.opt_obj("pusher")
    who = pusher.string("name", required=False) if pusher else ""
    if f.boolean("deleted"):
        status, what = "deleted", f"{kind} {name} deleted"
    elif f.boolean("created"):
        status, what = "created", f"{kind} {name} created"
    else:
        status = "forced" if f.boolean("forced") else "pushed"
        plural = "" if len(commits) == 1 else "s"
        what = f"{len(commits)} commit{plural} pushed to {name}"
        if status == "forced":
            what = f"{name} force-pushed"
    entries = [commit_entry(commit, commit.string("message")) for commit in commits]
    after = f.string("after", required=False)
    return {
        "title": f"{repo}: {what}",
        "status": status,
        "summary": first_line(head.string("message")) if head else "",
        "url": f.string("compare", required=False),
        "time": head.time("timestamp") if head else None,
        "actor": who,
        "facts": [(kind.capitalize(), name), ("Commit", short_sha(after))],
        "entries": entries,
        "labels": {kind: name},
    }


def _run_status(run: Fields) -> str:
    conclusion = run.string("conclusion", required=False)
    return normalise_status(conclusion or run.string("status"))


def _workflow_run(f: Fields, repo: str) -> dict[str, Any]:
    run = f.obj("workflow_run")
    workflow = f.opt_obj("workflow")
    # The fixture's run has "name": "" and its workflow the name "test".
    name = (
        run.string("name", required=False)
        or (workflow.string("name", required=False) if workflow else "")
        or run.string("path", required=False)
    )
    status = _run_status(run)
    number = run.text("run_number")
    branch = run.string("head_branch", required=False)
    head = run.opt_obj("head_commit")
    started, updated = run.time("run_started_at"), run.time("updated_at")
    took = duration(started, updated) if run.string("status") == "completed" else ""
    return {
        "title": f"{repo}: workflow {name} #{number} {status}",
        "status": status,
        "summary": run.string("display_title", required=False)
        or (first_line(head.string("message", required=False)) if head else ""),
        "url": run.string("html_url"),
        "time": updated or started,
        "actor": _login(run, "actor"),
        "facts": [
            ("Workflow", name),
            ("Branch", branch),
            ("Commit", short_sha(run.string("head_sha", required=False))),
            ("Trigger", run.string("event", required=False)),
            ("Duration", took),
        ],
        "labels": {"branch": branch, "workflow": name},
    }


def _workflow_job(f: Fields, repo: str) -> dict[str, Any]:
    job = f.obj("workflow_job")
    name = job.string("name")
    workflow = job.string("workflow_name", required=False)
    status = _run_status(job)
    branch = job.string("head_branch", required=False)
    started, completed = job.time("started_at"), job.time("completed_at")
    steps = [
        Entry(
            text=step.string("name"),
            status=normalise_status(step.string("conclusion", required=False)),
        )
        for step in job.objects("steps", required=False)
        if normalise_status(step.string("conclusion", required=False)) in _FAILED_STEP
    ]
    return {
        "title": f"{repo}: job {name}" + (f" ({workflow})" if workflow else "") + f" {status}",
        "status": status,
        "url": job.string("html_url"),
        "time": completed or started,
        "facts": [
            ("Workflow", workflow),
            ("Branch", branch),
            ("Commit", short_sha(job.string("head_sha", required=False))),
            ("Runner", job.string("runner_name", required=False)),
            ("Duration", duration(started, completed)),
        ],
        "entries": steps,
        "labels": {"branch": branch, "workflow": workflow, "job": name},
    }


def _deployment_status(f: Fields, repo: str) -> dict[str, Any]:
    state = f.obj("deployment_status")
    deployment = f.obj("deployment")
    status = normalise_status(state.string("state"))
    environment = state.string("environment", required=False) or deployment.string("environment")
    ref = deployment.string("ref", required=False)
    url = next(
        filter(None, (state.string(key, required=False) for key in ("log_url", "target_url"))),
        "",
    )
    return {
        "title": f"{repo}: deployment to {environment} {status}",
        "status": status,
        "summary": state.string("description", required=False),
        "url": url,
        "time": state.time("updated_at") or state.time("created_at"),
        "actor": _login(state, "creator"),
        "facts": [
            ("Environment", environment),
            ("Ref", ref),
            ("Commit", short_sha(deployment.string("sha", required=False))),
            ("Environment URL", state.string("environment_url", required=False)),
        ],
        "labels": {"environment": environment, "branch": ref},
    }


def _pull_request(f: Fields, repo: str) -> dict[str, Any]:
    pr = f.obj("pull_request")
    action = f.string("action")
    number = f.text("number") or pr.text("number")
    merged = pr.boolean("merged")
    status = "merged" if action == "closed" and merged else normalise_status(action)
    title = first_line(pr.string("title"))
    base, head = pr.obj("base").string("ref"), pr.obj("head").string("ref")
    changes = ""
    if pr.has("additions") and pr.has("deletions"):
        files = pr.integer("changed_files", required=False)
        changes = f"+{pr.integer('additions')} −{pr.integer('deletions')} in {files} file" + (
            "" if files == 1 else "s"
        )
    return {
        "title": f"{repo}: PR #{number} {status}: {title}",
        "status": status,
        "summary": title,
        "url": pr.string("html_url"),
        "time": pr.time("updated_at") or pr.time("created_at"),
        "actor": _login(pr, "user"),
        "facts": [
            ("Branches", f"{head} → {base}"),
            ("Draft", "yes" if pr.boolean("draft") else ""),
            ("Changes", changes),
        ],
        "labels": {"branch": base, "head_branch": head, "number": number},
    }


def _release(f: Fields, repo: str) -> dict[str, Any]:
    release = f.obj("release")
    action = normalise_status(f.string("action"))
    tag = release.string("tag_name")
    name = release.string("name", required=False) or tag
    kind = "pre-release" if release.boolean("prerelease") else "release"
    return {
        "title": f"{repo}: {kind} {name} {action}",
        "status": action,
        "summary": name,
        "url": release.string("html_url"),
        "time": release.time("published_at") or release.time("created_at"),
        "actor": _login(release, "author"),
        "facts": [("Tag", tag), ("Draft", "yes" if release.boolean("draft") else "")],
        "labels": {"tag": tag},
    }


def _ping(f: Fields, repo: str) -> dict[str, Any]:
    hook = f.opt_obj("hook")
    return {
        "title": f"{repo}: webhook ping" if repo else "GitHub webhook ping",
        "status": "ok",
        "summary": f.string("zen", required=False),
        "url": "",
        "facts": [
            ("Hook", f.text("hook_id")),
            ("Installed on", hook.string("type", required=False) if hook else ""),
        ],
    }


_Handler = Callable[[Fields, str], dict[str, Any]]
_HANDLERS: dict[str, _Handler] = {
    "push": _push,
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "deployment_status": _deployment_status,
    "pull_request": _pull_request,
    "release": _release,
    "ping": _ping,
}
#: The ``X-GitHub-Event`` values the relay reads.
GITHUB_EVENTS = tuple(_HANDLERS)


def parse_github(headers: Mapping[str, str], body: Any) -> Notification:
    """A GitHub webhook (event from ``X-GitHub-Event``) as a :class:`Notification`.

    Raises:
        SourceError: the event header is missing or names an event the relay does not read,
            the body is not an object, or a field is missing or mistyped.
    """
    h = lower_headers(headers)
    event = header(h, "X-GitHub-Event")
    if not event:
        raise SourceError(
            "the X-GitHub-Event header is missing: point a GitHub webhook at this route",
            field="X-GitHub-Event",
        )
    handler = _HANDLERS.get(event)
    if handler is None:
        raise SourceError(
            f"GitHub event {event[:40]!r} is not handled; the relay reads "
            f"{', '.join(GITHUB_EVENTS)}: untick the others in the webhook's settings",
            field="X-GitHub-Event",
        )
    f = require_object(body, "github")
    repository = f.opt_obj("repository") if event == "ping" else f.obj("repository")
    repo = repository.string("full_name") if repository else ""
    got = handler(f, repo)
    status = got["status"]
    action = f.string("action", required=False)
    labels = {
        "source": "github",
        "event": event,
        "action": action,
        "status": status,
        "severity": ci_severity(status),
        "repository": repo,
        "sender": _login(f, "sender"),
        **got.pop("labels", {}),
    }
    links = {"Repository": repository.string("html_url", required=False)} if repository else {}
    delivery = header(h, "X-GitHub-Delivery")
    return Notification(
        source="github",
        event=event,
        action=action,
        severity=labels["severity"],
        labels={name: value for name, value in labels.items() if value},
        facts=tuple((name, value) for name, value in got.pop("facts", []) if value),
        entries=tuple(got.pop("entries", [])),
        actor=got.pop("actor", "") or labels["sender"],
        links={name: url for name, url in links.items() if url},
        dedup_key=delivery_key("github", delivery),
        raw=f.data,
        **got,
    )
