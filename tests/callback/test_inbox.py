"""The inbox contract, for SQLite and Redis alike: dedup, claims and leases, settling, replay."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dingkit.callback.inbox import Pruned

from .conftest import Clock, InboxFactory


def test_an_event_is_stored_once_under_any_of_its_keys(make_inbox: InboxFactory) -> None:
    inbox = make_inbox()
    first = inbox.add("user_add_org", b'{"a":1}', ["id:e1", "content:x"])
    assert first is not None
    assert inbox.add("user_add_org", b'{"a":1}', ["id:e1", "content:x"]) is None  # re-push
    assert inbox.add("user_add_org", b"{}", ["content:x"]) is None  # from the failed list
    assert inbox.add("user_add_org", b"{}", ["id:e2", "content:y"]) is not None
    assert inbox.counts()["pending"] == 2
    entry = inbox.get(first)
    assert entry is not None
    assert (entry.event_type, entry.payload, entry.state, entry.source) == (
        "user_add_org",
        b'{"a":1}',
        "pending",
        "push",
    )


def test_two_events_with_different_ids_are_two_events_whatever_their_content(
    make_inbox: InboxFactory,
) -> None:
    # Issue 10, defect 1: an admin added, removed and added again; an approval finishing
    # under a new event id. Same fields, different eventIds: both must be handled.
    inbox = make_inbox()
    first = inbox.add("user_add_org", b"{}", ["id:e1", "content:same"])
    again = inbox.add("user_add_org", b"{}", ["id:e2", "content:same"])
    assert first is not None
    assert again is not None
    assert inbox.add("user_add_org", b"{}", ["id:e2", "content:same"]) is None  # its re-push
    assert inbox.add("user_add_org", b"{}", ["content:same"]) is None  # a failed-list copy
    assert inbox.counts()["pending"] == 2


def test_a_content_key_stands_in_for_an_id_only_within_its_window(
    make_inbox: InboxFactory,
) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock, content_window=3600)
    assert inbox.add("user_add_org", b"{}", ["content:c"]) is not None  # classic: no eventId
    assert inbox.add("user_add_org", b"{}", ["content:c"]) is None  # DingTalk's re-push
    clock.advance(3601)
    # The same fields an hour later: a new event (a person added again), not a duplicate.
    assert inbox.add("user_add_org", b"{}", ["content:c"]) is not None
    assert inbox.counts()["pending"] == 2


def test_a_claim_takes_the_earliest_due_event_for_one_owner_only(
    make_inbox: InboxFactory,
) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    first = inbox.add("a", b"1", ["k1"])
    clock.advance(1)
    inbox.add("b", b"2", ["k2"])
    claimed = inbox.claim("worker-1", lease=30)
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.attempts) == (first, "running", 1)
    other = inbox.claim("worker-2", lease=30)
    assert other is not None
    assert other.id != first
    assert inbox.claim("worker-3", lease=30) is None
    assert inbox.counts()["running"] == 2


def test_a_lapsed_lease_is_taken_over_and_the_old_owner_cannot_settle(
    make_inbox: InboxFactory,
) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    entry_id = inbox.add("a", b"1", ["k"])
    assert inbox.claim("dead", lease=5) is not None
    clock.advance(4)
    assert inbox.claim("alive", lease=5) is None  # still leased
    clock.advance(2)
    taken = inbox.claim("alive", lease=5)
    assert taken is not None
    assert (taken.id, taken.attempts) == (entry_id, 2)
    inbox.complete(taken.id, "dead")  # the old owner wakes up: ignored
    assert inbox.counts()["running"] == 1
    inbox.complete(taken.id, "alive")
    assert inbox.counts()["done"] == 1


def test_renewing_keeps_a_lease(make_inbox: InboxFactory) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    entry_id = inbox.add("a", b"1", ["k"])
    assert entry_id is not None
    inbox.claim("w", lease=5)
    clock.advance(4)
    inbox.renew("w", [entry_id], lease=5)
    inbox.renew("someone-else", [entry_id], lease=500)  # not theirs: no effect
    clock.advance(4)
    assert inbox.claim("other", lease=5) is None
    clock.advance(2)
    assert inbox.claim("other", lease=5) is not None


def test_retry_makes_it_due_later_and_fail_moves_it_to_the_dead_letters(
    make_inbox: InboxFactory,
) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    entry_id = inbox.add("a", b"1", ["k"])
    assert entry_id is not None
    inbox.claim("w", lease=30)
    inbox.retry(entry_id, "w", "boom", delay=10)
    assert inbox.claim("w", lease=30) is None
    assert inbox.next_due() == clock() + 10
    clock.advance(10)
    again = inbox.claim("w", lease=30)
    assert again is not None
    assert (again.attempts, again.last_error) == (2, "boom")
    inbox.fail(entry_id, "w", "still boom")
    failed = inbox.entries("failed")
    assert [(e.id, e.last_error) for e in failed] == [(entry_id, "still boom")]
    assert inbox.next_due() is None


def test_replay_makes_a_failed_event_pending_with_attempts_reset(
    make_inbox: InboxFactory,
) -> None:
    inbox = make_inbox()
    entry_id = inbox.add("a", b"1", ["k"])
    assert entry_id is not None
    assert not inbox.replay(entry_id)  # pending: nothing to replay
    inbox.claim("w", lease=30)
    inbox.fail(entry_id, "w", "boom")
    assert inbox.replay(entry_id)
    entry = inbox.get(entry_id)
    assert entry is not None
    assert (entry.state, entry.attempts) == ("pending", 0)
    assert not inbox.replay("no-such-id")


def test_entries_list_newest_first_and_filter_by_state(make_inbox: InboxFactory) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    ids = []
    for n in range(3):
        ids.append(inbox.add("t", str(n).encode(), [f"k{n}"]))
        clock.advance(1)
    assert [e.id for e in inbox.entries()] == ids[::-1]
    assert [e.id for e in inbox.entries(limit=2)] == ids[:0:-1]
    assert inbox.entries("failed") == []


def test_two_handles_on_one_inbox_never_claim_the_same_event(make_inbox: InboxFactory) -> None:
    first, second = make_inbox(), make_inbox()
    for n in range(40):
        first.add("t", b"x", [f"k{n}"])
    taken: list[str] = []
    lock = threading.Lock()

    def work(inbox: object, owner: str) -> None:
        while (entry := inbox.claim(owner, lease=60)) is not None:  # type: ignore[attr-defined]
            with lock:
                taken.append(entry.id)

    threads = [
        threading.Thread(target=work, args=(i, f"w{n}")) for n, i in enumerate([first, second] * 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 40
    assert len(set(taken)) == 40


def test_prune_removes_done_events_and_their_keys_past_retention_alike(
    make_inbox: InboxFactory,
) -> None:
    # Issue 10, defect 7: both inboxes grew for ever and forgot differently (SQLite never,
    # Redis after 7 days of keys but never its events). One rule for both now.
    clock = Clock()
    inbox = make_inbox(clock=clock)
    old = inbox.add("a", b"old", ["id:old", "content:old"])
    stuck = inbox.add("a", b"stuck", ["id:stuck"])
    assert old is not None
    assert stuck is not None
    for _ in range(2):
        entry = inbox.claim("w", lease=30)
        assert entry is not None
        if entry.id == old:
            inbox.complete(entry.id, "w")
        else:
            inbox.fail(entry.id, "w", "boom")
    clock.advance(3600)
    recent = inbox.add("a", b"recent", ["id:recent"])
    claimed = inbox.claim("w", lease=30)
    assert claimed is not None
    assert claimed.id == recent
    inbox.complete(claimed.id, "w")
    clock.advance(1800)

    # Nothing is past a two-hour retention yet.
    assert inbox.prune(clock() - 7200) == Pruned(0, 0)
    # Past one hour: the old done event and both its keys; the recent one and the failed
    # one (waiting for a person, and guarded against a re-push) stay.
    assert inbox.prune(clock() - 3600) == Pruned(1, 2)
    assert inbox.get(str(old)) is None
    assert inbox.get(str(recent)) is not None
    assert inbox.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 1}
    assert inbox.add("a", b"stuck", ["id:stuck"]) is None  # still a duplicate
    assert inbox.add("a", b"again", ["id:recent"]) is None
    # A re-push of the pruned event, past retention, is a new event (documented).
    assert inbox.add("a", b"old", ["id:old"]) is not None
    assert inbox.prune(clock() - 3600) == Pruned(0, 0)  # pruning again finds nothing


def test_prune_works_through_more_than_one_batch(make_inbox: InboxFactory) -> None:
    clock = Clock()
    inbox = make_inbox(clock=clock)
    for n in range(1200):
        inbox.add("a", b"{}", [f"id:{n}"])
    while (entry := inbox.claim("w", lease=30)) is not None:
        inbox.complete(entry.id, "w")
    clock.advance(10)
    assert inbox.prune(clock()) == Pruned(1200, 1200)
    assert inbox.counts()["done"] == 0


def test_the_sqlite_inbox_survives_reopening(tmp_path: object) -> None:
    from pathlib import Path

    from dingkit.callback.inbox import SQLiteInbox

    path = Path(str(tmp_path)) / "inbox.sqlite3"
    inbox = SQLiteInbox(path)
    entry_id = inbox.add("a", "事件".encode(), ["k"])
    inbox.close()
    reopened = SQLiteInbox(path)
    entry = reopened.get(str(entry_id))
    assert entry is not None
    assert entry.payload.decode() == "事件"
    assert reopened.add("a", b"", ["k"]) is None
    reopened.close()


class _Configured:
    """A Redis client's CONFIG GET, answering what a test says."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def config_get(self, name: str) -> dict[str, Any]:
        if "error" in self.settings:
            raise RuntimeError("unknown command CONFIG")
        return {name: self.settings[name]}

    def register_script(self, script: str) -> Any:
        return None


@pytest.mark.parametrize(
    ("settings", "warns"),
    [
        ({"appendonly": b"no", "save": b""}, True),
        ({"appendonly": b"yes", "save": b""}, False),
        ({"appendonly": b"no", "save": b"3600 1 300 100"}, False),
        ({"error": True}, False),
    ],
    ids=["nothing saved", "aof", "rdb", "config refused"],
)
def test_a_redis_that_saves_nothing_is_warned_about(settings: dict[str, Any], warns: bool) -> None:
    # Issue 10, defect 11: `callback serve` prints this at start.
    from dingkit.callback.redis_inbox import RedisInbox

    warning = RedisInbox(_Configured(**settings)).durability_warning()
    assert (warning is not None) == warns
    if warns:
        assert "appendonly" in (warning or "")
