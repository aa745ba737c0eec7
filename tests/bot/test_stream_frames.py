"""The Stream client's frames, ACKs, reconnect policy and seen-message store (§8.2)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dingkit.bot.stream_frames import Backoff, BadFrameError, ack, event_ack, read_frame
from dingkit.bot.stream_seen import SeenMessages


def test_a_frame_and_its_ack() -> None:
    frame = read_frame(
        json.dumps({"specVersion": "1.0", "type": "SYSTEM",
                    "headers": {"topic": "ping", "messageId": "m1"}, "data": '{"opaque": "o"}'})
    )  # fmt: skip
    assert (frame.type, frame.topic, frame.message_id) == ("SYSTEM", "ping", "m1")
    sent = json.loads(ack("m1", frame.data_object()))
    assert sent == {
        "code": 200,
        "headers": {"messageId": "m1", "contentType": "application/json"},
        "message": "OK",
        "data": '{"opaque": "o"}',
    }


def test_the_header_typo_of_the_official_example_is_read() -> None:
    assert read_frame('{"type": "EVENT", "header": {"messageId": "m"}}').message_id == "m"


def test_event_acks_say_success_or_later() -> None:
    done = json.loads(event_ack("m", committed=True))
    later = json.loads(event_ack("m", committed=False, reason="inbox unavailable"))
    assert (done["code"], json.loads(done["data"])["status"]) == (200, "SUCCESS")
    assert (later["code"], json.loads(later["data"])["status"]) == (500, "LATER")


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("nope", None),
        ("[1]", None),
        ('{"headers": []}', None),
        ('{"headers": {"messageId": "m"}}', "m"),
        ('{"type": "EVENT", "headers": {"messageId": "m"}, "data": 3}', "m"),
        ('{"type": "EVENT", "data": "x", "n": 1e999}', None),
    ],
)
def test_what_is_not_a_frame_is_refused_naming_its_message_id(
    text: str, message_id: str | None
) -> None:
    with pytest.raises(BadFrameError) as caught:
        read_frame(text)
    assert caught.value.message_id == message_id


def test_backoff_doubles_to_its_cap_with_jitter_and_resets_when_healthy() -> None:
    backoff = Backoff(initial=1.0, cap=60.0, healthy_after=60.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(9)]
    tops = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(top / 2 <= d <= top for d, top in zip(delays, tops, strict=True))
    backoff.connected_for(5.0)
    assert backoff.next_delay() > 30  # a short connection is no reset
    backoff.connected_for(61.0)
    assert backoff.next_delay() <= 1.0


def test_seen_messages_survive_a_reopen_and_lapse(tmp_path: Path) -> None:
    now = [1000.0]
    seen = SeenMessages(tmp_path / "seen.sqlite3", retention=60, clock=lambda: now[0])
    assert seen.mark("msg:a") is True
    assert seen.mark("msg:a") is False
    seen.close()
    again = SeenMessages(tmp_path / "seen.sqlite3", retention=60, clock=lambda: now[0])
    assert again.mark("msg:a") is False
    now[0] += 61
    assert again.prune() == 1
    assert again.mark("msg:a") is True
    again.close()


def test_marking_many_commits_once_and_a_key_twice_in_a_batch_is_new_once(tmp_path: Path) -> None:
    seen = SeenMessages(tmp_path / "seen.sqlite3")
    assert seen.mark("msg:a") is True
    assert seen.mark_many(["msg:b", "msg:a", "msg:c", "msg:b"]) == [True, False, True, False]
    seen.close()
    again = SeenMessages(tmp_path / "seen.sqlite3")  # committed: a restart remembers them
    assert again.mark_many(["msg:c", "msg:d"]) == [False, True]
    again.close()
