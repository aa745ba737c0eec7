"""Every shared webhook fixture is read and rendered, with its real content checked."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from dingkit.relay import Notification, parse, render
from dingkit.robot.compose import MAX_BODY_BYTES, validate_message

from .payloads import COPY, SHARED, fixture_paths, headers_for, load


def read(name: str) -> Notification:
    body = load(name)
    return parse(name.split("/")[0], headers_for(name, body), body)


def test_the_copy_is_the_shared_fixtures_byte_for_byte() -> None:
    copied = {p.relative_to(COPY): p.read_bytes() for p in COPY.rglob("*") if p.is_file()}
    assert len(copied) >= 24  # 23 bodies and SOURCES.md
    if SHARED.is_dir():  # absent on CI's clean clone, where the copy is what is read
        shared = {p.relative_to(SHARED): p.read_bytes() for p in SHARED.rglob("*") if p.is_file()}
        assert sorted(shared) == sorted(copied), "copy the new fixtures into tests/relay/webhooks"
        assert shared == copied


@pytest.mark.parametrize("name", fixture_paths())
def test_every_fixture_parses_and_renders_a_message_dingtalk_accepts(name: str) -> None:
    note = read(name)
    assert note.source == name.split("/")[0]
    assert note.title
    assert note.status
    assert note.severity
    message = render(note, mentions=["manager001"])
    body = validate_message(message, msg_uuid="0" * 32)  # what the robot client would send
    assert len(body) <= MAX_BODY_BYTES
    assert message.title.strip()
    assert message.text.strip()
    assert "@manager001" in message.text
    assert message.at.at_user_ids == ("manager001",)
    assert "{{" not in message.text
    assert "{%" not in message.text


@pytest.mark.parametrize("name", fixture_paths())
def test_notifications_are_immutable(name: str) -> None:
    note = read(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        note.title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        note.labels["severity"] = "info"  # type: ignore[index]


# (fixture, expected Notification fields, labels it must have, text it must show, text it
# must not show)
CASES: list[tuple[str, dict[str, Any], dict[str, str], list[str], list[str]]] = [
    (
        "alertmanager/single-firing.json",
        {"status": "firing", "severity": "warning", "event": "alert"},
        {"alertname": "Test", "job": "prometheus24", "status": "firing"},
        [
            "FIRING: Test",
            "> some description",
            # 09:52:26+02:00 is 15:52:26 in Shanghai.
            "Since: 2018-08-03 15:52:26 (UTC+08:00)",
            "[Source](http://example.com:9090/graph?g0.expr=go_memstats_alloc_bytes+%3E+0&g0.tab=1)",
            "[Alertmanager](http://example.com:9093)",
        ],
        ["RESOLVED"],
    ),
    (
        "alertmanager/group-3-firing.json",
        {"status": "firing"},
        {"alertname": "Test"},
        ["**3 firing**</font>, 0 resolved"],
        ["RESOLVED"],
    ),
    (
        "alertmanager/group-3-firing-with-fingerprints.json",
        {"status": "firing", "severity": "info"},
        # commonLabels says name_space (sic), unlike its alerts' namespace: copied as sent.
        {"alertname": "JustATestAlert_1", "name_space": "wh_ate_ver/promstack"},
        ["INFO · FIRING: JustATestAlert_1", "name=grafana", "name=nginx", "‹ 40 %"],
        ["< 40"],
    ),
    (
        "alertmanager/mixed-firing-resolved.json",
        # One firing alert is critical although commonLabels says warning.
        {"status": "firing", "severity": "critical"},
        {"alertname": "CPUHigh", "severity": "critical", "receiver": "devops_team"},
        [
            "### 🔴 CRITICAL · FIRING: CPUHigh",
            "**3 firing**</font>, 1 resolved",
            "#### 🔴 CRITICAL · CPUHigh1",
            "#### ✅ RESOLVED · CPUHigh (was warning)",
            "Resolved: 2021-03-30 21:17:50 (UTC+08:00) after 1h 0m",
        ],
        [],
    ),
    (
        "alertmanager/all-resolved.json",
        {"status": "resolved", "title": "[RESOLVED:2] CPUHigh"},
        {"alertname": "CPUHigh", "status": "resolved"},
        ["### ✅ RESOLVED: CPUHigh", "2 resolved"],
        ["FIRING", "Since:"],
    ),
    (
        "alertmanager/legacy-v3-group-2-firing.json",
        {
            "status": "firing",
            "summary": "runit service prometheus_bot restarted, server01.int:9100",
        },
        {"alertname": "something_happened", "receiver": "admins"},
        ["env=prod", "env=staging", "2016-04-28 04:46:37 (UTC+08:00)"],
        [],
    ),
    (
        "grafana/single-firing-grafana9.json",
        {"status": "firing", "source": "grafana"},
        {"alertname": "CPU Usage High", "grafana_folder": "alert", "state": "alerting"},
        [
            "FIRING: CPU Usage High",
            "[Silence](http://localhost/grafana/alerting/silence/new?alertmanager=grafana&",
            "[Panel](http://localhost/grafana/d/200ac8fdbfbb74b39aff88118e4d1c2c?orgId=1&viewPanel=1)",
            "Value: ［ var='D' labels={} value=1 ］",
        ],
        [],
    ),
    (
        "grafana/single-firing-values-grafana11.json",
        {"status": "firing"},
        {"alertname": "Memory (copy)", "org_id": "1"},
        ["> High memory usage", "[Image](https://grafana.com/assets/img/blog/mixed_styles.png)"],
        [],
    ),
    (
        "grafana/resolved-grafana9.json",
        {"status": "resolved"},
        {"state": "ok"},
        ["### ✅ RESOLVED: Test alert", "failure on ‹no value›"],
        ["FIRING", "<no value>"],
    ),
    (
        "grafana/mixed-firing-resolved-grafana9.json",
        {"status": "firing"},
        {"test": "true"},
        # The sender's own "**another**" shows as text, not bold.
        [
            "**1 firing**</font>, 2 resolved",
            "Testing ∗∗another∗∗ failing alert",
            "Second webhook test",
        ],
        ["**another**"],
    ),
    (
        "github/push-new-branch-1-commit.json",
        {"status": "created", "event": "push", "actor": "Codertocat"},
        {"repository": "Codertocat/Hello-World", "branch": "master", "event": "push"},
        [
            "Codertocat/Hello-World: branch master created",
            "[Initial commit](https://github.com/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246)",
        ],
        [],
    ),
    (
        "github/push-tag-deleted.json",
        {"status": "deleted", "entries": ()},
        {"tag": "simple-tag"},
        ["tag simple-tag deleted", "Tag: simple-tag"],
        ["Commits"],
    ),
    (
        "github/workflow_run-completed-success.json",
        {"status": "success", "severity": "info", "action": "completed"},
        {"repository": "octo-org/octo-repo", "branch": "master", "workflow": "test"},
        [
            "### ✅ octo-org/octo-repo: workflow test #163 success",
            "> ci(action): update actions/setup-node digest to 8c91899",
            "[Open](https://github.com/octo-org/octo-repo/actions/runs/289782451)",
        ],
        ["❌"],
    ),
    (
        "github/workflow_job-completed-failure.json",
        {"status": "failure", "severity": "error"},
        {"branch": "main", "job": "linters", "workflow": "CodeQL", "severity": "error"},
        ["❌", "**FAILURE**", "**Failed steps**", "- Run yarn run format-check (failure)"],
        ["Run yarn install"],
    ),
    (
        "github/deployment_status.json",
        {"status": "success"},
        {"environment": "production", "branch": "master"},
        ["deployment to production success", "Commit: f95f852b"],
        [],
    ),
    (
        "github/pull_request-opened.json",
        {"status": "opened", "url": "https://github.com/Codertocat/Hello-World/pull/2"},
        {"branch": "master", "head_branch": "changes", "number": "2", "action": "opened"},
        ["PR #2 opened: Update the README with new information.", "Branches: changes → master"],
        [],
    ),
    (
        "github/ping.json",
        {"status": "ok", "event": "ping"},
        {"repository": "Octocoders/Hello-World"},
        ["Anything added dilutes everything else.", "Hook: 109948940"],
        [],
    ),
    (
        "gitlab/pipeline-hook-success.json",
        {"status": "success", "event": "pipeline"},
        {"repository": "gitlab-org/gitlab-test", "branch": "master", "namespace": "gitlab-org"},
        [
            "pipeline #31 success",
            # [I] No object_attributes.url in this older payload: the path is built.
            "[Open](http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31)",
            "Merge request: !1 Test",
            "Duration: 1m 3s",
        ],
        ["Failed jobs"],
    ),
    (
        "gitlab/push-hook.json",
        {"status": "pushed", "actor": "jsmith"},
        {"repository": "mike/diaspora", "branch": "master", "user": "jsmith"},
        ["4 commits pushed to master", "[fixed readme](http://example.com/mike/diaspora/commit/"],
        [],
    ),
    (
        "gitlab/deployment-hook-success.json",
        {"status": "success"},
        {"environment": "staging"},
        ["deployment to staging success", "Environment URL: https://staging.example.com"],
        [],
    ),
    (
        "gitlab/deployment-hook-failed.json",
        {"status": "failure", "severity": "error"},
        {"environment": "production", "repository": "vedant8600317/test"},
        ["❌", "**FAILURE**", "[Open](https://gitlab.com/vedant8600317/test/-/jobs/9905759933)"],
        ["[REDACTED]"],
    ),
    (
        "gitlab/merge-request-hook.json",
        {"status": "opened", "action": "open"},
        {"branch": "master", "head_branch": "ms-viewport", "number": "1"},
        ["MR !1 opened: MS-Viewport", "Branches: ms-viewport → master"],
        [],
    ),
    (
        "jenkins/notification-plugin-completed-success.doc-example.json",
        {"status": "success", "event": "build", "url": "http://localhost:8080/job/asgard/18/"},
        {"job": "asgard", "branch": "master", "phase": "completed"},
        [
            "asgard: build #18 success",
            "Commit: c6d86dc6",
            "[Console](http://localhost:8080/job/asgard/18/console)",
        ],
        [],
    ),
]


def test_every_fixture_has_a_content_case() -> None:
    assert sorted(case[0] for case in CASES) == fixture_paths()


@pytest.mark.parametrize(
    ("name", "fields", "labels", "shown", "hidden"), CASES, ids=[case[0] for case in CASES]
)
def test_fixture_content(
    name: str,
    fields: dict[str, Any],
    labels: dict[str, str],
    shown: list[str],
    hidden: list[str],
) -> None:
    note = read(name)
    for field, value in fields.items():
        assert getattr(note, field) == value, field
    assert {key: note.labels.get(key) for key in labels} == labels
    text = render(note).text
    for piece in shown:
        assert piece in text
    for piece in hidden:
        assert piece not in text


def test_firing_and_resolved_are_marked_in_the_title_too() -> None:
    assert render(read("alertmanager/mixed-firing-resolved.json")).title.startswith(
        "🔴 CRITICAL [FIRING:3, RESOLVED:1] CPUHigh"
    )
    assert render(read("alertmanager/all-resolved.json")).title == "✅ [RESOLVED:2] CPUHigh"
    assert render(read("github/workflow_job-completed-failure.json")).title.startswith("❌")


def test_alerts_are_ordered_firing_first_most_severe_first() -> None:
    note = read("alertmanager/mixed-firing-resolved.json")
    assert [(a.name, a.status, a.severity) for a in note.alerts] == [
        ("CPUHigh1", "firing", "critical"),
        ("CPUHigh", "firing", "warning"),
        ("CPUHigh2", "firing", "info"),
        ("CPUHigh", "resolved", "warning"),
    ]


# -- dedup keys ----------------------------------------------------------------------------


def test_dedup_keys_are_distinct_across_fixtures() -> None:
    keys = [read(name).dedup_key for name in fixture_paths()]
    assert all(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", fixture_paths())
def test_dedup_key_is_stable_across_re_encoding(name: str) -> None:
    body = load(name)
    # Another sender instance may order keys differently: an HA peer's copy of the group.
    shuffled = json.loads(json.dumps(body, sort_keys=True))
    source = name.split("/")[0]
    again = parse(source, headers_for(name, body), shuffled)
    assert again.dedup_key == read(name).dedup_key


def test_workflow_run_failure_derived_from_the_success_fixture() -> None:
    # SOURCES.md: no real workflow_run failure exists; this one is the success fixture
    # with workflow_run.conclusion set to "failure".
    body = load("github/workflow_run-completed-success.json")
    body["workflow_run"]["conclusion"] = "failure"
    note = parse("github", {"X-GitHub-Event": "workflow_run"}, body)
    assert (note.status, note.severity) == ("failure", "error")
    text = render(note).text
    assert "❌" in text
    assert "**FAILURE**</font> · ERROR" in text
