"""``dingkit relay preview|dlq|serve`` from the command line: renders without sending, lists
and replays dead letters, and refuses a bad config or a taken port in one line (exit 2)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from cli.conftest import CLI
from dingkit.relay.outbox import SQLiteOutbox
from dingkit.relay.outbox.base import Letter

FIXTURES = Path(__file__).resolve().parents[1] / "relay" / "webhooks"
CONFIG = """
[relay]
mention_label = "owner"

[owners]
alice = "u-alice"

[[robot]]
name = "ops"
token = "opstoken0001"

[[route]]
name = "prod"
source = "alertmanager"
robots = ["ops"]
rules = [{ match = { severity = "info" }, at_all = true }]
"""


def test_preview_renders_a_webhook_as_the_route_would_send_it(home: Path) -> None:
    (home / "relay.toml").write_text(CONFIG, encoding="utf-8")
    payload = FIXTURES / "alertmanager" / "group-3-firing-with-fingerprints.json"
    cli = CLI(home)
    plain = cli.run("relay", "preview", "alertmanager", str(payload)).assert_ok()
    assert plain.stdout.startswith("title: ")
    assert "JustATestAlert" in plain.stdout
    routed = cli.run(
        "relay", "preview", "alertmanager", str(payload), "--route", "prod",
        "--config", "relay.toml", "--json",
    ).assert_ok()  # fmt: skip
    answer = json.loads(routed.stdout)
    assert answer["robots"] == ["ops"]
    assert answer["message"]["msgtype"] == "markdown"
    assert answer["message"]["at"]["isAtAll"] is True  # the rule for severity info


def test_preview_says_what_is_wrong_in_one_line(home: Path) -> None:
    cli = CLI(home)
    (home / "broken.json").write_text("{nope", encoding="utf-8")
    (home / "empty.json").write_text("{}", encoding="utf-8")
    cli.run("relay", "preview", "alertmanager", "missing.json").assert_failure(2, "cannot read")
    cli.run("relay", "preview", "alertmanager", "broken.json").assert_failure(2, "is not JSON")
    cli.run("relay", "preview", "nagios", "empty.json").assert_failure(2, "nagios")
    cli.run("relay", "preview", "alertmanager", "empty.json").assert_failure(1, "is missing")
    cli.run("relay", "preview", "alertmanager", "broken.json", "--route", "prod").assert_failure(
        2, "is not JSON"
    )
    (home / "good.json").write_text(
        (FIXTURES / "alertmanager" / "single-firing.json").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    cli.run("relay", "preview", "alertmanager", "good.json", "--route", "prod").assert_failure(
        2, "--route needs --config"
    )


def test_dead_letters_are_listed_and_replayed(home: Path) -> None:
    data = home / "relay-data"
    outbox = SQLiteOutbox(data / "relay-outbox.sqlite3")
    letter = Letter(
        id="0000000000001000000deadbeef",
        robot="ops",
        route="prod",
        source="alertmanager",
        severity="critical",
        group="prod/Disk",
        message={"msgtype": "text", "text": {"content": "disk full"}},
        created=time.time(),
    )
    outbox.put([letter])
    outbox.claim("ops", now=time.time(), lease=30, limit=1)
    outbox.dead(letter.id, error="errcode 400402: bad message", now=time.time())
    outbox.close()
    cli = CLI(home)
    listed = cli.run("relay", "dlq", "list", "--data-dir", str(data)).assert_ok()
    assert letter.id in listed.stdout  # whole: tables never break an id
    assert "400402" in listed.stdout
    as_json = json.loads(cli.run("relay", "dlq", "list", "--data-dir", str(data), "--json").stdout)
    assert [row["id"] for row in as_json] == [letter.id]
    cli.run("relay", "dlq", "replay", letter.id, "--data-dir", str(data)).assert_ok()
    again = cli.run("relay", "dlq", "list", "--data-dir", str(data)).assert_ok()
    assert "no dead letters" in again.stdout
    cli.run("relay", "dlq", "replay", letter.id, "--data-dir", str(data)).assert_failure(
        2, "no dead letter"
    )
    reopened = SQLiteOutbox(data / "relay-outbox.sqlite3")
    assert reopened.backlog(time.time()) == {"ops": 1}
    reopened.close()


def test_serve_refuses_a_bad_config_and_a_taken_port_in_one_line(home: Path) -> None:
    cli = CLI(home)
    (home / "bad.toml").write_text('[[robot]]\nname = "ops"\n', encoding="utf-8")
    cli.run("relay", "serve", "--config", "bad.toml").assert_failure(2, 'robot "ops"')
    cli.run("relay", "serve", "--config", "nowhere.toml").assert_failure(2, "nowhere.toml")
    (home / "relay.toml").write_text(CONFIG, encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli.run(
            "relay", "serve", "--config", "relay.toml", "--port", str(port),
            "--data-dir", str(home / "d"),
        )  # fmt: skip
    result.assert_failure(2, f"127.0.0.1:{port}")
