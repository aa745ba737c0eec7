"""What each store adds to the contract: SQLite's durability settings, schema version and
errors in words; Redis's consumer group, and Redis down; ``open_outbox``."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dingkit.relay.outbox import (
    DEDUP_WINDOW,
    OUTBOX_FILE,
    Hold,
    OutboxUnavailable,
    RedisOutbox,
    Reject,
    SQLiteOutbox,
    open_outbox,
)
from dingkit.relay.outbox.sqlite import _unavailable

from ._helpers import REDIS_URL, T0, every_method, letter
from .conftest import Clock, dead_port

# -- SQLite ---------------------------------------------------------------------------------


def test_sqlite_commits_through_a_write_ahead_log_fsynced_on_every_commit(
    tmp_path: Path,
) -> None:
    outbox = SQLiteOutbox(tmp_path / OUTBOX_FILE)
    try:
        db = outbox._db  # the outbox's own connection: synchronous is per connection
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    finally:
        outbox.close()


def test_sqlite_reopened_has_everything_it_had(tmp_path: Path) -> None:
    path = tmp_path / "data" / OUTBOX_FILE  # the directory is made
    outbox = SQLiteOutbox(path)
    outbox.put([letter(n) for n in range(4)], dedup_key="k")
    outbox.claim("ops", now=T0, lease=60, limit=1)
    outbox.dead("e000003", error="boom", now=T0)
    outbox.hold(Hold("ops", "errcode 310000", T0, None))
    outbox.reject(Reject(T0, "github", "ci", "bad signature", "{}"))
    outbox.close()

    reopened = SQLiteOutbox(path)
    try:
        assert reopened.backlog(T0) == {"ops": 3}
        assert reopened.due(T0) == {"ops": 2}  # the lease survived too
        assert not reopened.put([letter(9)], dedup_key="k")
        assert [e.id for e in reopened.dead_letters()] == ["e000003"]
        assert list(reopened.holds(T0)) == ["ops"]
        assert len(reopened.rejects()) == 1
        assert [d.outcome for d in reopened.recent()] == ["dead"]
    finally:
        reopened.close()


def test_sqlite_locked_past_its_busy_timeout_is_unavailable_then_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / OUTBOX_FILE
    outbox = SQLiteOutbox(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process, holding the write lock
        with pytest.raises(OutboxUnavailable, match="locked by another process") as raised:
            outbox.put([letter(1)])
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")
        assert outbox.put([letter(1)])
        assert outbox.backlog(T0) == {"ops": 1}
    finally:
        other.close()
        outbox.close()


def test_sqlite_full_is_unavailable_and_stores_nothing(tmp_path: Path) -> None:
    outbox = SQLiteOutbox(tmp_path / OUTBOX_FILE)
    try:
        outbox.put([letter(1)])
        # A full disk, as SQLite sees one: no page may be added to the file.
        (pages,) = outbox._db.execute("PRAGMA page_count").fetchone()
        outbox._db.execute(f"PRAGMA max_page_count = {pages}")
        huge = [letter(n, message={"text": "x" * 100_000}) for n in range(2, 5)]
        with pytest.raises(OutboxUnavailable, match=r"full.*free some space"):
            outbox.put(huge)
        assert outbox.backlog(T0) == {"ops": 1}  # the failed put left nothing behind
        assert [e.id for e in outbox.claim("ops", now=T0, lease=60, limit=10)] == ["e000001"]
    finally:
        outbox.close()


def test_sqlite_from_a_newer_dingkit_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / OUTBOX_FILE
    SQLiteOutbox(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxUnavailable, match=r"newer dingkit.*upgrade"):
        SQLiteOutbox(path)


def test_sqlite_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutboxUnavailable, match="cannot create the outbox"):
        SQLiteOutbox(tmp_path / "a-file" / OUTBOX_FILE)  # its directory is a file
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(OutboxUnavailable, match="cannot open the outbox"):
        SQLiteOutbox(tmp_path / "a-directory")


@pytest.mark.parametrize(
    ("message", "advice"),
    [
        ("database or disk is full", "free some space"),
        ("attempt to write a readonly database", "give the relay write access"),
        ("database is locked", "another program holding it open"),
        ("disk I/O error", "check the disk and the file"),
    ],
)
def test_sqlite_errors_are_told_with_what_to_do(message: str, advice: str) -> None:
    error = _unavailable(sqlite3.OperationalError(message), "/data/relay.sqlite3", 5.0)
    assert advice in str(error)
    assert "/data/relay.sqlite3" in str(error)
    assert "503" in str(error)


def test_sqlite_deletes_lapsed_dedup_keys_rather_than_keeping_them(tmp_path: Path) -> None:
    clock = Clock()
    outbox = SQLiteOutbox(tmp_path / OUTBOX_FILE, clock=clock)
    try:
        for n in range(5):
            outbox.put([letter(n)], dedup_key=f"old-{n}")
        clock.advance(DEDUP_WINDOW)
        outbox.put([letter(9)], dedup_key="new")
        keys = outbox._db.execute("SELECT key FROM dedup_keys").fetchall()
        assert keys == [("new",)]
    finally:
        outbox.close()


# -- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_outbox(redis_server: redis.Redis) -> Iterator[RedisOutbox]:
    prefix = f"dingkit-test:{uuid.uuid4().hex}:"
    outbox = RedisOutbox(REDIS_URL, prefix=prefix)
    yield outbox
    outbox.close()
    keys = list(redis_server.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis_server.delete(*keys)


def test_redis_down_is_unavailable_without_telling_the_password() -> None:
    outbox = RedisOutbox(f"redis://:hunter2@127.0.0.1:{dead_port()}/0", timeout=1)
    started = time.monotonic()
    try:
        # One of each way a call reaches Redis: a script, MULTI/EXEC, a plain command.
        calls = every_method(outbox)
        for call in (calls[0], calls[2], calls[3], calls[4], calls[6], calls[13], calls[15]):
            with pytest.raises(OutboxUnavailable, match=r"127\.0\.0\.1") as raised:
                call()
            assert "hunter2" not in str(raised.value)
            assert isinstance(raised.value.__cause__, redis.ConnectionError)
    finally:
        outbox.close()
    assert time.monotonic() - started < 30  # a sender is not kept waiting for long


def test_redis_errors_in_a_script_are_unavailable_not_raw(
    redis_outbox: RedisOutbox, redis_server: redis.Redis
) -> None:
    redis_server.set(f"{redis_outbox.prefix}q:ops", "not a stream")  # someone else's key
    with pytest.raises(OutboxUnavailable, match="WRONGTYPE"):
        redis_outbox.put([letter(1)])
    assert redis_outbox.backlog(T0) == {}  # the script stopped before storing anything


def test_redis_claims_live_in_the_consumer_group_and_are_taken_over_from_a_crashed_one(
    redis_outbox: RedisOutbox, redis_server: redis.Redis
) -> None:
    stream, group = f"{redis_outbox.prefix}q:ops", "relay"
    crashed = RedisOutbox(REDIS_URL, prefix=redis_outbox.prefix)
    crashed._consumer = "crashed-host:4242"
    try:
        crashed.put([letter(n) for n in range(3)])
        crashed.claim("ops", now=T0, lease=60, limit=2)
        owners = {e["consumer"] for e in redis_server.xpending_range(stream, group, "-", "+", 10)}
        assert owners == {b"crashed-host:4242"}
        taken = redis_outbox.claim("ops", now=T0 + 60, lease=60, limit=10)
        assert [e.id for e in taken] == ["e000000", "e000001", "e000002"]
        pending = redis_server.xpending_range(stream, group, "-", "+", 10)
        assert {e["consumer"] for e in pending} == {redis_outbox._consumer.encode()}
        assert [e["times_delivered"] for e in pending] == [2, 2, 1]
        redis_outbox.delivered([e.id for e in taken], answer="errcode 0", now=T0 + 61)
        # Settled entries are acknowledged and deleted: nothing stays behind in Redis.
        assert redis_server.xlen(stream) == 0
        assert redis_server.xpending(stream, group)["pending"] == 0
        assert not redis_server.exists(f"{redis_outbox.prefix}e:e000000")
    finally:
        crashed.close()


def test_redis_deletes_lapsed_dedup_keys_rather_than_keeping_them(
    redis_server: redis.Redis,
) -> None:
    clock = Clock()
    prefix = f"dingkit-test:{uuid.uuid4().hex}:"
    outbox = RedisOutbox(REDIS_URL, prefix=prefix, clock=clock)
    try:
        for n in range(5):
            outbox.put([letter(n)], dedup_key=f"old-{n}")
        clock.advance(DEDUP_WINDOW)
        outbox.put([letter(9)], dedup_key="new")
        assert redis_server.zrange(f"{prefix}dedup", 0, -1) == [b"new"]
    finally:
        outbox.clear()
        outbox.close()


def test_redis_forgets_consumers_of_instances_gone_for_good(
    redis_outbox: RedisOutbox, redis_server: redis.Redis
) -> None:
    stream, group = f"{redis_outbox.prefix}q:ops", "relay"
    gone = RedisOutbox(REDIS_URL, prefix=redis_outbox.prefix)
    gone._consumer = "restarted-host:1"
    try:
        gone.put([letter(1), letter(2)])
        gone.claim("ops", now=T0, lease=60, limit=1)
        redis_outbox.forget_ms = 0
        redis_outbox.claim("ops", now=T0, lease=60, limit=1)
        assert redis_outbox.claim("ops", now=T0, lease=60, limit=1) == []
        names = {c["name"] for c in redis_server.xinfo_consumers(stream, group)}
        assert b"restarted-host:1" in names  # it still holds letter 1: kept
        redis_outbox.claim("ops", now=T0 + 60, lease=60, limit=10)  # both taken over
        assert redis_outbox.claim("ops", now=T0 + 60, lease=60, limit=1) == []
        names = {c["name"] for c in redis_server.xinfo_consumers(stream, group)}
        assert b"restarted-host:1" not in names
        assert redis_outbox.backlog(T0) == {"ops": 2}  # nothing lost with it
    finally:
        gone.close()


def test_redis_that_saves_nothing_or_evicts_is_warned_about(
    redis_outbox: RedisOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"appendonly": b"no", "save": b"", "maxmemory-policy": b"noeviction"}
    monkeypatch.setattr(redis_outbox._redis, "config_get", lambda name: {name: settings[name]})
    assert "appendonly" in (redis_outbox.durability_warning() or "")
    settings["appendonly"] = b"yes"
    assert redis_outbox.durability_warning() is None
    settings["maxmemory-policy"] = b"volatile-lru"  # our keys have no TTL: never evicted
    assert redis_outbox.durability_warning() is None
    settings["maxmemory-policy"] = b"allkeys-lru"
    assert "noeviction" in (redis_outbox.durability_warning() or "")


# -- open_outbox ----------------------------------------------------------------------------


def test_open_outbox_is_sqlite_in_the_data_dir_unless_given_redis(tmp_path: Path) -> None:
    given = open_outbox(tmp_path / "relay", None)
    default = open_outbox(None, None)
    on_redis = open_outbox(tmp_path, f"redis://127.0.0.1:{dead_port()}/0")
    try:
        assert isinstance(given, SQLiteOutbox)
        assert given.path == str(tmp_path / "relay" / "relay-outbox.sqlite3")
        assert isinstance(default, SQLiteOutbox)
        data_home = Path(os.environ["XDG_DATA_HOME"])  # a temporary one (tests/conftest.py)
        assert default.path == str(data_home / "dingkit" / "relay-outbox.sqlite3")
        assert isinstance(on_redis, RedisOutbox)
        assert on_redis.prefix == "dingkit:relay:"
    finally:
        for outbox in (given, default, on_redis):
            outbox.close()
