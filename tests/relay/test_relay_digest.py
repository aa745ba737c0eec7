"""Digests: every alert of a merged backlog keeps its own line (fingerprint included), the most
severe groups come first, each digest fits DingTalk's body limit, and no letter is split
between two digests."""

from __future__ import annotations

import json

from dingkit.relay.digest import DIGEST_BYTES, build_digests, summary
from dingkit.relay.notification import Alert, Notification
from dingkit.relay.outbox.base import Letter
from dingkit.robot.compose import MAX_BODY_BYTES, validate_message
from dingkit.robot.messages import Markdown


def alert_note(name: str, severity: str, fingerprints: list[str], **labels: str) -> Notification:
    return Notification(
        source="alertmanager",
        event="alert",
        title=f"[FIRING:{len(fingerprints)}] {name}",
        severity=severity,
        status="firing",
        alerts=tuple(
            Alert(
                name=name,
                status="firing",
                severity=severity,
                fingerprint=fp,
                labels={"alertname": name, "instance": f"web-{fp}", **labels},
                summary=f"{name} on web-{fp}",
            )
            for fp in fingerprints
        ),
    )


def letter(n: int, note: Notification, *, route: str = "prod") -> Letter:
    return Letter(
        id=f"{n:06d}",
        robot="ops",
        route=route,
        source=note.source,
        severity=note.severity,
        group=f"{route}/{note.alerts[0].name if note.alerts else note.title}",
        message={"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}},
        notification=json.loads(json.dumps(summary(note))),  # as stored: JSON
        created=1000.0 + n,
    )


def test_every_alert_of_a_large_backlog_is_in_some_digest_and_each_digest_fits() -> None:
    letters = [
        letter(
            n,
            alert_note(
                f"Alert{n % 7}",
                ("warning", "critical", "info")[n % 3],
                [f"fp{n:05d}x{k}" for k in range(4)],
            ),
        )
        for n in range(500)
    ]
    digests = build_digests(letters)
    assert 1 < len(digests) < 30  # 2,000 alerts in a handful of messages, not 500
    text = "\n".join(d.text for d in digests)
    for n in range(500):
        for k in range(4):
            assert f"fp{n:05d}x{k}" in text
    merged = [i for d in digests for i in d.ids]
    assert sorted(merged) == sorted(e.id for e in letters)  # each once, none split
    for digest in digests:
        body = validate_message(Markdown(title=digest.title, text=digest.text), msg_uuid="u" * 32)
        assert len(body) <= MAX_BODY_BYTES


def test_the_most_severe_groups_come_first_then_the_oldest() -> None:
    letters = [
        letter(1, alert_note("DiskSlow", "info", ["a"])),
        letter(2, alert_note("Latency", "warning", ["b"])),
        letter(3, alert_note("NodeDown", "critical", ["c"])),
        letter(4, alert_note("Latency", "warning", ["d"])),
    ]
    [digest] = build_digests(letters)
    text = digest.text
    assert text.index("NodeDown") < text.index("Latency") < text.index("DiskSlow")
    assert text.count("Latency (2)") == 1  # one heading per group, its count
    assert digest.severity == "critical"
    assert digest.title.startswith("🔴 4 notifications")


def test_an_letter_too_large_for_one_digest_is_a_digest_of_its_own() -> None:
    huge = letter(1, alert_note("Flood", "critical", [f"f{n:05d}" for n in range(600)]))
    small = [letter(n, alert_note("Other", "warning", [f"o{n}"])) for n in range(2, 5)]
    digests = build_digests([huge, *small], max_bytes=DIGEST_BYTES)
    assert digests[0].ids == ("000001",)  # alone, sent in parts (split) by the courier
    assert all("000001" not in d.ids for d in digests[1:])
    assert all(f"f{n:05d}" in digests[0].text for n in range(600))


def test_markup_in_alerts_stays_text_and_messages_without_a_notification_show_their_text() -> None:
    evil = letter(1, alert_note("**Bold** [x](javascript:alert(1)) @all", "critical", ["e"]))
    plain = Letter(
        id="000002",
        robot="ops",
        route="",
        source="send",
        severity="info",
        group="send",
        message={"msgtype": "text", "text": {"content": "deploy of api finished"}},
    )
    [digest] = build_digests([evil, plain])
    assert "**Bold**" not in digest.text
    assert "](javascript" not in digest.text
    assert "@all" not in digest.text
    assert "deploy of api finished" in digest.text
