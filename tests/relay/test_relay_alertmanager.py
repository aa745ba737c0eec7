from __future__ import annotations

import copy
from typing import Any

import pytest

from dingkit.relay import SourceError, parse
from dingkit.relay.sources import parse_alertmanager, parse_grafana

from .payloads import load

MIXED = "alertmanager/mixed-firing-resolved.json"
FINGERPRINTS = "alertmanager/group-3-firing-with-fingerprints.json"


def key(body: Any) -> str | None:
    return parse_alertmanager({}, body).dedup_key


# -- dedup -----------------------------------------------------------------------------------


def test_an_ha_peer_s_copy_of_the_group_has_the_same_key() -> None:
    body = load(FINGERPRINTS)
    peer = copy.deepcopy(body)
    peer["alerts"].reverse()  # peers need not list alerts in the same order
    peer["receiver"] = body["receiver"]
    assert key(peer) == key(body)


def test_an_alert_resolving_inside_a_still_firing_group_changes_the_key() -> None:
    body = load(FINGERPRINTS)
    later = copy.deepcopy(body)
    later["alerts"][1]["status"] = "resolved"
    later["alerts"][1]["endsAt"] = "2020-10-11T15:00:00Z"
    assert later["status"] == "firing"
    assert key(later) != key(body)


def test_an_alert_firing_again_after_resolving_is_not_a_duplicate() -> None:
    body = load(FINGERPRINTS)
    again = copy.deepcopy(body)
    again["alerts"][0]["startsAt"] = "2020-10-12T09:00:00Z"
    assert key(again) != key(body)


def test_peers_stamping_their_own_receive_time_give_one_key() -> None:
    # An alert posted without startsAt gets each Alertmanager's own receive time.
    body = load(FINGERPRINTS)
    first, second = copy.deepcopy(body), copy.deepcopy(body)
    first["alerts"][0]["startsAt"] = "2024-05-01T08:00:01.004Z"
    second["alerts"][0]["startsAt"] = "2024-05-01T08:00:01.031Z"
    assert key(first) == key(second)
    refired = copy.deepcopy(body)
    refired["alerts"][0]["startsAt"] = "2024-05-01T08:05:01.004Z"  # a group_interval later
    assert key(refired) != key(first)


def test_group_status_and_group_key_are_part_of_the_key() -> None:
    body = load(FINGERPRINTS)
    other_group = {**body, "groupKey": body["groupKey"] + "x"}
    assert key(other_group) != key(body)


def test_without_fingerprints_alerts_are_told_apart_by_their_labels() -> None:
    body = load("alertmanager/legacy-v3-group-2-firing.json")
    note = parse_alertmanager({}, body)
    first, second = (alert.fingerprint for alert in note.alerts)
    assert first != second
    assert len(first) == 16
    # Label order does not matter, and the derived fingerprint does not move between runs.
    shuffled = copy.deepcopy(body)
    for alert in shuffled["alerts"]:
        alert["labels"] = dict(reversed(list(alert["labels"].items())))
    assert key(shuffled) == note.dedup_key
    assert note.dedup_key == "alertmanager:" + note.dedup_key.split(":")[1]
    changed = copy.deepcopy(body)
    changed["alerts"][0]["labels"]["env"] = "dev"
    assert key(changed) != note.dedup_key


def test_grafana_and_alertmanager_keys_never_collide() -> None:
    body = load("grafana/single-firing-grafana9.json")
    assert parse_alertmanager({}, body).dedup_key != parse_grafana({}, body).dedup_key


def test_truncated_alerts_are_counted_and_said() -> None:
    body = {**load(FINGERPRINTS), "truncatedAlerts": 7}
    note = parse_alertmanager({}, body)
    assert note.truncated == 7


def test_a_group_without_severity_labels_counts_as_warning() -> None:
    note = parse_alertmanager({}, load("alertmanager/single-firing.json"))
    assert note.severity == "warning"


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("P1", "critical"),
        ("crit", "critical"),
        ("error", "error"),
        ("warn", "warning"),
        ("INFO", "info"),
        ("page-me", "page-me"),
    ],
)
def test_severity_labels_are_normalised(label: str, severity: str) -> None:
    body = copy.deepcopy(load("alertmanager/single-firing.json"))
    body["alerts"][0]["labels"]["severity"] = label
    note = parse_alertmanager({}, body)
    assert note.severity == severity
    assert note.labels["severity"] == severity


# -- bad input ------------------------------------------------------------------------------


def broken(change: Any) -> dict[str, Any]:
    body = copy.deepcopy(load(MIXED))
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([], "body", "JSON object"),
        ("firing", "body", "JSON object"),
        (broken(lambda b: b.pop("status")), "status", "is missing"),
        (broken(lambda b: b.update(status="burning")), "status", "'firing' or 'resolved'"),
        (broken(lambda b: b.update(alerts={})), "alerts", "a list of objects"),
        (broken(lambda b: b.update(alerts=[])), "alerts", "at least one alert"),
        (broken(lambda b: b["alerts"].append("x")), "alerts[4]", "an object"),
        (broken(lambda b: b["alerts"][2].pop("status")), "alerts[2].status", "is missing"),
        (
            broken(lambda b: b["alerts"][1]["labels"].update(severity=["critical"])),
            "alerts[1].labels.severity",
            "a string, got a list",
        ),
        (broken(lambda b: b["alerts"][0].update(labels="x")), "alerts[0].labels", "object"),
        (
            broken(lambda b: b["alerts"][0].update(startsAt="yesterday")),
            "alerts[0].startsAt",
            "timestamp",
        ),
        (broken(lambda b: b["alerts"][0].update(startsAt=5)), "alerts[0].startsAt", "timestamp"),
        (
            broken(lambda b: b["alerts"][0].update(endsAt="2021-02-30T00:00:00Z")),
            "alerts[0].endsAt",
            "not a valid time",
        ),
        (broken(lambda b: b.update(groupKey=1)), "groupKey", "a string"),
        (broken(lambda b: b.update(truncatedAlerts="3")), "truncatedAlerts", "an integer"),
        (broken(lambda b: b.update(truncatedAlerts=True)), "truncatedAlerts", "an integer"),
        (broken(lambda b: b.update(truncatedAlerts=-1)), "truncatedAlerts", "negative"),
        (broken(lambda b: b.update(commonLabels=[])), "commonLabels", "an object of strings"),
    ],
)
def test_bad_bodies_raise_source_error_naming_the_field(body: Any, field: str, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse("alertmanager", {}, body)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_fields_are_ignored() -> None:
    body = {**load(MIXED), "futureField": {"nested": [1, 2]}}
    body["alerts"][0]["somethingNew"] = None
    assert parse("alertmanager", {}, body).status == "firing"


def test_grafana_legacy_alerting_is_refused_with_a_way_out() -> None:
    with pytest.raises(SourceError, match="legacy alerting"):
        parse("grafana", {}, {"ruleName": "x", "state": "alerting", "evalMatches": []})
