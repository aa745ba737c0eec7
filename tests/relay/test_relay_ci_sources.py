"""GitHub, GitLab, Jenkins and generic bodies beyond the fixtures: headers, dedup, errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dingkit.relay import GITHUB_EVENTS, SourceError, parse, render
from dingkit.relay.samples import SAMPLES

from .payloads import load

PUSH = "github/push-new-branch-1-commit.json"


# -- GitHub ---------------------------------------------------------------------------------


def test_github_header_names_are_case_insensitive() -> None:
    body = load(PUSH)
    note = parse("github", {"x-github-event": "push", "X-GITHUB-DELIVERY": "abc-1"}, body)
    assert note.event == "push"
    assert note.dedup_key == "github:abc-1"


def test_github_redelivery_keeps_the_key_and_no_delivery_means_none() -> None:
    body = load(PUSH)
    first = parse("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "g-1"}, body)
    again = parse("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "g-1"}, body)
    assert first.dedup_key == again.dedup_key == "github:g-1"
    assert parse("github", {"X-GitHub-Event": "push"}, body).dedup_key is None


def test_an_odd_delivery_header_becomes_a_short_printable_key() -> None:
    body = load(PUSH)
    long = parse("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d" * 5000}, body)
    odd = parse("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "é\n"}, body)
    for note in (long, odd):
        assert note.dedup_key is not None
        assert note.dedup_key.startswith("github:sha256-")
        assert len(note.dedup_key) < 64


def test_github_without_event_header_is_refused() -> None:
    with pytest.raises(SourceError) as caught:
        parse("github", {}, load(PUSH))
    assert caught.value.field == "X-GitHub-Event"


def test_github_unknown_event_is_refused_naming_the_ones_read() -> None:
    with pytest.raises(SourceError) as caught:
        parse("github", {"X-GitHub-Event": "star"}, {"action": "created"})
    assert caught.value.field == "X-GitHub-Event"
    assert "'star'" in str(caught.value)
    for event in GITHUB_EVENTS:
        assert event in str(caught.value)


def test_github_release_event() -> None:
    headers, body = SAMPLES["github"]["release"]
    note = parse("github", headers, body)
    assert (note.status, note.labels["tag"]) == ("published", "v1.0.0")
    assert "release v1.0.0 published" in render(note).text


def test_github_merged_pull_request_is_merged_not_closed() -> None:
    body = copy.deepcopy(load("github/pull_request-opened.json"))
    body["action"] = "closed"
    body["pull_request"]["merged"] = True
    note = parse("github", {"X-GitHub-Event": "pull_request"}, body)
    assert note.status == "merged"
    assert render(note).title.startswith("✅")


def test_a_push_of_many_commits_lists_them_and_shortens() -> None:
    body = copy.deepcopy(load(PUSH))
    commit = body["commits"][0]
    body["created"] = False
    body["commits"] = [{**commit, "message": f"change {i}\n\nbody"} for i in range(2000)]
    note = parse("github", {"X-GitHub-Event": "push"}, body)
    assert note.title.endswith("2000 commits pushed to master")
    message = render(note, max_bytes=4000)
    assert "- [change 0](" in message.text
    assert "- … and " in message.text


@pytest.mark.parametrize(
    ("event", "change", "field"),
    [
        ("push", lambda b: b.pop("ref"), "ref"),
        ("push", lambda b: b.update(commits=None), "commits"),
        ("push", lambda b: b["commits"][0].update(message=7), "commits[0].message"),
        ("push", lambda b: b.update(deleted="yes"), "deleted"),
        ("push", lambda b: b.pop("repository"), "repository"),
        ("push", lambda b: b["repository"].update(full_name=None), "repository.full_name"),
        ("workflow_run", lambda b: b.pop("workflow_run"), "workflow_run"),
        ("workflow_run", lambda b: b["workflow_run"].update(html_url=[]), "workflow_run.html_url"),
        (
            "workflow_run",
            lambda b: b["workflow_run"].update(run_number=1.5),
            "workflow_run.run_number",
        ),
        ("workflow_job", lambda b: b["workflow_job"].update(steps="x"), "workflow_job.steps"),
        (
            "deployment_status",
            lambda b: b["deployment_status"].pop("state"),
            "deployment_status.state",
        ),
        ("pull_request", lambda b: b["pull_request"].update(head=None), "pull_request.head"),
        ("release", lambda b: b["release"].update(tag_name=1), "release.tag_name"),
    ],
)
def test_github_bad_bodies_name_the_field(event: str, change: Any, field: str) -> None:
    headers, body = copy.deepcopy(SAMPLES["github"][event])
    change(body)
    with pytest.raises(SourceError) as caught:
        parse("github", headers, body)
    assert caught.value.field == field


def test_github_ping_of_an_organisation_hook_has_no_repository() -> None:
    note = parse("github", {"X-GitHub-Event": "ping"}, {"zen": "Design for failure.", "hook_id": 3})
    assert note.title == "GitHub webhook ping"
    assert "Design for failure." in render(note).text


# -- GitLab ---------------------------------------------------------------------------------


def test_gitlab_idempotency_key_wins_over_the_event_uuid() -> None:
    body = load("gitlab/push-hook.json")
    both = {"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1", "X-Gitlab-Event-UUID": "u1"}
    assert parse("gitlab", both, body).dedup_key == "gitlab:k1"
    uuid_only = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u1"}
    assert parse("gitlab", uuid_only, body).dedup_key == "gitlab:u1"
    assert parse("gitlab", {}, body).dedup_key is None


def test_gitlab_kind_comes_from_object_kind_without_header_and_for_system_hooks() -> None:
    body = load("gitlab/pipeline-hook-success.json")
    assert parse("gitlab", {}, body).event == "pipeline"
    assert parse("gitlab", {"X-Gitlab-Event": "System Hook"}, body).event == "pipeline"


def test_gitlab_header_and_body_must_agree() -> None:
    with pytest.raises(SourceError) as caught:
        parse("gitlab", {"X-Gitlab-Event": "Push Hook"}, load("gitlab/pipeline-hook-success.json"))
    assert caught.value.field == "object_kind"


@pytest.mark.parametrize(
    ("headers", "body", "field"),
    [
        ({"X-Gitlab-Event": "Issue Hook"}, {"object_kind": "issue"}, "X-Gitlab-Event"),
        ({}, {"object_kind": "note"}, "object_kind"),
        ({}, {"project": {}}, "object_kind"),
        ({}, {"object_kind": 5}, "object_kind"),
    ],
)
def test_gitlab_unknown_or_missing_kinds_are_refused(
    headers: dict[str, str], body: Any, field: str
) -> None:
    with pytest.raises(SourceError) as caught:
        parse("gitlab", headers, body)
    assert caught.value.field == field


def test_gitlab_deleted_branch_push() -> None:
    body = copy.deepcopy(load("gitlab/push-hook.json"))
    body["after"] = "0" * 40
    body["commits"] = []
    body["total_commits_count"] = 0
    note = parse("gitlab", {}, body)
    assert (note.status, note.title) == ("deleted", "mike/diaspora: branch master deleted")


def test_gitlab_failed_pipeline_lists_failed_jobs() -> None:
    body = copy.deepcopy(load("gitlab/pipeline-hook-success.json"))
    body["object_attributes"]["status"] = "failed"
    body["builds"][1]["status"] = "failed"
    note = parse("gitlab", {}, body)
    assert (note.status, note.severity) == ("failure", "error")
    text = render(note).text
    assert "**Failed jobs**" in text
    assert "- test-image · test (failure)" in text


# -- Jenkins and generic --------------------------------------------------------------------


def test_jenkins_phases_and_results() -> None:
    body = copy.deepcopy(load("jenkins/notification-plugin-completed-success.doc-example.json"))
    completed = parse("jenkins", {}, body)
    body["build"]["phase"] = "FINALIZED"
    finalized = parse("jenkins", {}, body)
    assert completed.dedup_key != finalized.dedup_key
    body["build"]["status"] = "UNSTABLE"
    assert parse("jenkins", {}, body).severity == "warning"
    body["build"]["status"] = "ABORTED"
    assert parse("jenkins", {}, body).status == "cancelled"
    del body["build"]["status"]
    body["build"]["phase"] = "STARTED"
    assert parse("jenkins", {}, body).status == "started"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("build"), "build"),
        (lambda b: b["build"].update(number="18"), "build.number"),
        (lambda b: b["build"].pop("phase"), "build.phase"),
        (lambda b: b["build"].update(timestamp=10**30), "build.timestamp"),
        (lambda b: b.update(name=None), "name"),
    ],
)
def test_jenkins_bad_bodies(change: Any, field: str) -> None:
    body = copy.deepcopy(load("jenkins/notification-plugin-completed-success.doc-example.json"))
    change(body)
    with pytest.raises(SourceError) as caught:
        parse("jenkins", {}, body)
    assert caught.value.field == field


def test_generic_reads_conventional_fields_and_labels() -> None:
    note = parse(
        "generic",
        {"Idempotency-Key": "job-7"},
        {
            "title": "Nightly backup",
            "severity": "P1",
            "status": "FAILED",
            "host": "db-1",
            "size": 42,
            "ok": False,
            "labels": {"team": "dba"},
            "nested": {"x": 1},
        },
    )
    assert (note.severity, note.status, note.dedup_key) == ("critical", "failure", "generic:job-7")
    assert {k: note.labels[k] for k in ("host", "size", "ok", "team")} == {
        "host": "db-1",
        "size": "42",
        "ok": "false",
        "team": "dba",
    }
    assert "nested" not in note.labels
    text = render(note).text
    assert "- host: db-1" in text
    assert "Nightly backup" in text


def test_generic_refuses_what_is_not_an_object() -> None:
    for body in ([1], "text", 3, None):
        with pytest.raises(SourceError):
            parse("generic", {}, body)


def test_an_unknown_source_is_a_configuration_mistake() -> None:
    with pytest.raises(ValueError, match="unknown source"):
        parse("nagios", {}, {})
