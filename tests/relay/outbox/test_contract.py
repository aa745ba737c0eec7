"""The outbox contract (``dingkit.relay.outbox.base``), for SQLite and Redis alike: every
method, on a fake clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from dingkit.relay.outbox import DEDUP_WINDOW, KEPT, Hold, Letter, OutboxUnavailable, Reject

from ._helpers import T0, every_method, letter
from .conftest import Clock, OutboxFactory

LEASE = 30.0


def ids(letters: Sequence[Letter]) -> list[str]:
    return [e.id for e in letters]


def test_an_letter_comes_back_from_a_claim_exactly_as_it_was_put(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    original = letter(
        1,
        message={"msgtype": "markdown", "markdown": {"title": "磁盘", "text": "## 🔥 ok"}},
        notification={"alerts": [{"fingerprint": "abc", "value": 12345678901234567890}]},
        created=T0 + 0.123456789,
        attempts=2,
        last_error="errcode 410100: send too fast",
    )
    assert outbox.put([original])
    assert outbox.claim("ops", now=T0, lease=LEASE, limit=10) == [original]


def test_a_claim_takes_one_robots_due_letters_oldest_first_up_to_the_limit(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put([letter(3), letter(1, robot="dev"), letter(2)])
    outbox.put([letter(4)])
    assert ids(outbox.claim("ops", now=T0, lease=LEASE, limit=2)) == ["e000002", "e000003"]
    assert ids(outbox.claim("ops", now=T0, lease=LEASE, limit=2)) == ["e000004"]
    assert outbox.claim("ops", now=T0, lease=LEASE, limit=2) == []
    assert outbox.claim("nobody", now=T0, lease=LEASE, limit=2) == []
    assert ids(outbox.claim("dev", now=T0, lease=LEASE, limit=5)) == ["e000001"]


def test_a_lease_that_runs_out_lets_another_claimer_take_the_letter(
    make_outbox: OutboxFactory,
) -> None:
    crashed, other = make_outbox(), make_outbox()
    crashed.put([letter(1), letter(2)])
    assert len(crashed.claim("ops", now=T0, lease=LEASE, limit=10)) == 2
    assert other.claim("ops", now=T0 + LEASE - 0.001, lease=LEASE, limit=10) == []
    assert other.due(T0 + LEASE - 0.001) == {}
    assert other.due(T0 + LEASE) == {"ops": 2}
    taken = other.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10)
    assert ids(taken) == ["e000001", "e000002"]
    assert crashed.claim("ops", now=T0 + LEASE + 1, lease=LEASE, limit=10) == []  # leased anew


def test_an_letter_whose_claim_ran_out_comes_back_lapsed_and_only_then(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put([letter(n) for n in range(1, 6)])
    first = outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    assert [e.lapsed for e in first] == [False] * 5  # never claimed before
    outbox.release(["e000001"])
    outbox.retry("e000002", not_before=T0 + 1, error="busy", now=T0)
    outbox.reassign(["e000003"], "dev")
    # e000004 and e000005: their worker died; the lease runs out.
    later = {e.id: e.lapsed for e in outbox.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10)}
    assert later == {"e000001": False, "e000002": False, "e000004": True, "e000005": True}
    assert [e.lapsed for e in outbox.claim("dev", now=T0 + LEASE, lease=LEASE, limit=10)] == [False]
    outbox.release(["e000004"])  # released after its lapse: a fresh start
    again = outbox.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10)
    assert [(e.id, e.lapsed) for e in again] == [("e000004", False)]


def test_backlog_counts_everything_waiting_and_due_only_what_a_claim_would_get(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    assert (outbox.backlog(T0), outbox.due(T0)) == ({}, {})
    outbox.put([letter(n) for n in range(1, 6)] + [letter(9, robot="dev")])
    outbox.claim("ops", now=T0, lease=LEASE, limit=2)  # claimed: backlog, not due
    outbox.retry("e000001", not_before=T0 + 60, error="busy", now=T0)  # waiting: the same
    assert outbox.backlog(T0) == {"ops": 5, "dev": 1}
    assert outbox.due(T0) == {"ops": 3, "dev": 1}
    assert outbox.due(T0 + 60) == {"ops": 5, "dev": 1}
    outbox.claim("dev", now=T0, lease=LEASE, limit=1)
    assert outbox.due(T0) == {"ops": 3}  # robots with none due are left out
    outbox.delivered(["e000009"], answer="errcode 0", now=T0)
    assert outbox.backlog(T0) == {"ops": 5}


def test_delivered_removes_letters_and_records_one_delivery(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put([letter(1), letter(2), letter(3)])
    outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    outbox.delivered(["e000001", "e000002"], answer="errcode 0: ok", now=T0 + 1)
    assert outbox.backlog(T0 + 1) == {"ops": 1}
    assert [(d.id, d.outcome, d.answer, d.at, d.merged) for d in outbox.recent()] == [
        ("e000001", "delivered", "errcode 0: ok", T0 + 1, 2)
    ]
    outbox.delivered(["e000001"], answer="again", now=T0 + 2)  # settled already: no-op
    assert len(outbox.recent()) == 1
    assert ids(outbox.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10)) == ["e000003"]


def test_a_retry_counts_the_attempt_and_waits_for_not_before(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put([letter(1)])
    outbox.claim("ops", now=T0, lease=LEASE, limit=1)
    outbox.retry("e000001", not_before=T0 + 10, error="errcode -1: system busy", now=T0)
    assert outbox.claim("ops", now=T0 + 9.999, lease=LEASE, limit=1) == []
    [again] = outbox.claim("ops", now=T0 + 10, lease=LEASE, limit=1)
    assert (again.attempts, again.not_before, again.last_error) == (
        1,
        T0 + 10,
        "errcode -1: system busy",
    )
    [record] = outbox.recent()
    assert (record.outcome, record.answer, record.at) == ("retry", "errcode -1: system busy", T0)


def test_a_retried_letter_keeps_its_place_ahead_of_newer_ones(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put([letter(1)])
    outbox.claim("ops", now=T0, lease=LEASE, limit=1)
    outbox.retry("e000001", not_before=T0 + 5, error="busy", now=T0)
    outbox.put([letter(2), letter(3)])
    assert ids(outbox.claim("ops", now=T0 + 5, lease=LEASE, limit=2)) == ["e000001", "e000002"]


def test_dead_letters_wait_for_a_replay_with_attempts_reset(make_outbox: OutboxFactory) -> None:
    outbox = make_outbox()
    outbox.put([letter(1), letter(2), letter(3)])
    outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    outbox.dead("e000002", error="errcode 300001: token is not exist", now=T0 + 1)
    outbox.dead("e000001", error="errcode 300005: token is not exist", now=T0 + 2)
    assert outbox.backlog(T0 + 2) == {"ops": 1}
    dead = outbox.dead_letters()
    assert [(e.id, e.attempts, e.last_error) for e in dead] == [
        ("e000001", 1, "errcode 300005: token is not exist"),
        ("e000002", 1, "errcode 300001: token is not exist"),
    ]
    assert ids(outbox.dead_letters(limit=1)) == ["e000001"]
    assert outbox.dead_count() == 2
    assert [d.outcome for d in outbox.recent()] == ["dead", "dead"]
    outbox.dead("e000001", error="twice", now=T0 + 3)  # dead already: no-op
    assert outbox.dead_letters()[0].last_error == "errcode 300005: token is not exist"

    assert outbox.replay("e000001", now=T0 + 10)
    assert not outbox.replay("e000001", now=T0 + 10)  # not dead any more
    assert not outbox.replay("e000003", now=T0 + 10)  # never dead
    assert not outbox.replay("no-such-id", now=T0 + 10)
    assert ids(outbox.dead_letters()) == ["e000002"]
    assert outbox.dead_count() == 1
    assert outbox.due(T0 + 10) == {"ops": 1}
    [replayed] = outbox.claim("ops", now=T0 + 10, lease=LEASE, limit=10)
    assert (replayed.id, replayed.attempts, replayed.not_before) == ("e000001", 0, 0.0)


def test_released_letters_are_due_at_once_and_untouched(make_outbox: OutboxFactory) -> None:
    outbox = make_outbox()
    outbox.put([letter(1), letter(2), letter(3)])
    claimed = outbox.claim("ops", now=T0, lease=LEASE, limit=2)
    outbox.release(["e000001", "e000002", "e000003", "no-such-id"])
    assert outbox.due(T0) == {"ops": 3}
    assert outbox.claim("ops", now=T0, lease=LEASE, limit=10) == [*claimed, letter(3)]
    assert outbox.recent() == []  # nothing was settled


def test_reassigned_letters_are_due_at_once_for_the_other_robot(
    make_outbox: OutboxFactory,
) -> None:
    clock = Clock()
    outbox = make_outbox(clock=clock)
    outbox.put([letter(1), letter(2), letter(3)])
    outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    outbox.retry("e000002", not_before=T0 + 600, error="busy", now=T0)
    outbox.reassign(["e000001", "e000002"], "ops-sibling")
    assert outbox.backlog(T0) == {"ops": 1, "ops-sibling": 2}
    assert outbox.due(T0) == {"ops-sibling": 2}
    moved = outbox.claim("ops-sibling", now=T0, lease=LEASE, limit=10)
    assert [(e.id, e.robot, e.attempts, e.not_before) for e in moved] == [
        ("e000001", "ops-sibling", 0, 0.0),
        ("e000002", "ops-sibling", 1, 0.0),
    ]
    # Letter 3's claim ran out unsettled: it comes back lapsed.
    lapsed = dataclasses.replace(letter(3), lapsed=True)
    assert outbox.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10) == [lapsed]
    record = outbox.recent()[0]
    assert (record.outcome, record.robot, record.merged, record.at) == ("reassigned", "ops", 2, T0)


def test_a_merge_replaces_the_originals_by_a_digest_claimed_by_the_merger(
    make_outbox: OutboxFactory,
) -> None:
    merger, other = make_outbox(), make_outbox()
    merger.put([letter(n) for n in range(1, 5)])
    merger.put([letter(5)])  # arrives after the claim: not merged, still queued
    originals = merger.claim("ops", now=T0, lease=LEASE, limit=4)
    digest = letter(100, group="digest", message={"msgtype": "markdown", "n": 4})
    merger.merge(ids(originals), digest, now=T0 + 1, lease=LEASE)

    assert merger.backlog(T0 + 1) == {"ops": 2}
    assert other.due(T0 + 1) == {"ops": 1}
    assert other.claim("ops", now=T0 + 1, lease=100 * LEASE, limit=10) == [letter(5)]
    assert other.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10) == []  # digest leased
    # The merger's lease on its digest ran out: lapsed (it may have been posted).
    taken = other.claim("ops", now=T0 + 1 + LEASE, lease=LEASE, limit=10)
    assert taken == [dataclasses.replace(digest, lapsed=True)]
    record = other.recent()[0]
    assert (record.id, record.outcome, record.merged) == ("e000100", "merged", 4)
    other.delivered([digest.id], answer="errcode 0", now=T0 + 2 + LEASE)
    assert other.recent()[0].merged == 4  # the send carried all four
    assert other.backlog(T0 + 2 + LEASE) == {"ops": 1}  # letter 5, claimed
    for original in originals:  # gone for good: settling them again does nothing
        other.release([original.id])
        assert not other.replay(original.id, now=T0)
    assert other.due(T0 + 10 * LEASE) == {}


def test_a_digest_of_digests_carries_every_original(make_outbox: OutboxFactory) -> None:
    outbox = make_outbox()
    outbox.put([letter(n) for n in range(1, 6)])
    first = outbox.claim("ops", now=T0, lease=LEASE, limit=3)
    outbox.merge(ids(first), letter(100), now=T0, lease=LEASE)
    rest = outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    outbox.merge(["e000100", *ids(rest)], letter(101), now=T0, lease=LEASE)
    outbox.release(["e000101"])
    [digest] = outbox.claim("ops", now=T0, lease=LEASE, limit=10)
    outbox.delivered([digest.id], answer="errcode 0", now=T0)
    assert outbox.recent()[0].merged == 5


def alerts(*fingerprints: str) -> dict[str, object]:
    return {"alerts": [{"fingerprint": f, "name": "Disk"} for f in fingerprints]}


def test_a_later_notification_supersedes_queued_ones_of_its_thread_it_carries_again(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.put(
        [
            letter(1, thread="g1", notification=alerts("a", "b")),
            letter(2, thread="g1", notification=alerts("a")),
            letter(3, thread="g1", notification=alerts("a", "c")),  # c is not carried again
            letter(4, thread="g2", notification=alerts("a")),  # another thread
            letter(5, thread="g1"),  # no alerts: nothing proves it repeated
            letter(6, thread="g1", notification=alerts("b")),
            letter(7, thread="g1", notification=alerts("a", "b")),  # the newer one
            letter(8, robot="dev", thread="g1", notification=alerts("a")),  # another robot
            letter(9, thread="g1", notification=alerts("a")),  # newer than the kept one
        ]
    )
    claimed = outbox.claim("ops", now=T0, lease=LEASE, limit=1)
    assert ids(claimed) == ["e000001"]  # being sent: left alone
    outbox.release(["e000001"])
    outbox.claim("ops", now=T0, lease=LEASE, limit=1)  # e000001 again, leased
    dropped = outbox.supersede("ops", "g1", covered={"a", "b"}, keep={"e000007"}, now=T0 + 1)
    assert dropped == 2  # e000002 and e000006
    left = outbox.claim("ops", now=T0 + LEASE, lease=LEASE, limit=10)
    assert ids(left) == ["e000001", "e000003", "e000004", "e000005", "e000007", "e000009"]
    assert outbox.backlog(T0 + LEASE) == {"ops": 6, "dev": 1}
    assert [(r.id, r.outcome) for r in outbox.recent()[:2]] == [
        ("e000006", "superseded"),
        ("e000002", "superseded"),
    ]
    assert outbox.supersede("ops", "", covered={"a"}, keep=(), now=T0) == 0


def test_holds_pause_until_a_time_or_hold_until_unheld_for_every_handle(
    make_outbox: OutboxFactory,
) -> None:
    one, other = make_outbox(), make_outbox()
    paused = Hold("ops", "errcode 410100: send too fast", since=T0, until=T0 + 600)
    held = Hold("dev", "errcode 310000: sign not match", since=T0, until=None)
    one.hold(paused)
    one.hold(held)
    assert other.holds(T0) == {"ops": paused, "dev": held}
    assert other.holds(T0 + 600) == {"dev": held}  # the pause is over
    assert other.holds(T0 + 10**9) == {"dev": held}  # a hold is not
    longer = Hold("ops", "again", since=T0 + 700, until=T0 + 1300)
    other.hold(longer)
    assert one.holds(T0 + 700) == {"ops": longer, "dev": held}
    one.unhold("dev")
    one.unhold("never-held")
    assert other.holds(T0 + 700) == {"ops": longer}


def test_a_dedup_key_refuses_a_second_put_for_24_hours(make_outbox: OutboxFactory) -> None:
    clock = Clock()
    outbox = make_outbox(clock=clock)
    key = "alertmanager:{}:{alertname=HighLatency}:firing:3f2a"
    assert outbox.put([letter(1), letter(2, robot="dev")], dedup_key=key)
    clock.advance(DEDUP_WINDOW - 1)
    assert not outbox.put([letter(3), letter(4, robot="dev")], dedup_key=key)
    assert outbox.backlog(clock()) == {"ops": 1, "dev": 1}  # nothing of the duplicate
    assert outbox.put([letter(5)], dedup_key="another key")
    assert outbox.put([letter(6)])  # no key: never a duplicate
    clock.advance(1)
    assert outbox.put([letter(7)], dedup_key=key)  # 24 hours on: a new notification
    assert not outbox.put([letter(8)], dedup_key=key)
    every = outbox.claim("ops", now=clock(), lease=LEASE, limit=10)
    assert ids(every) == ["e000001", "e000005", "e000006", "e000007"]


def test_a_dedup_key_may_count_for_less_than_a_day(make_outbox: OutboxFactory) -> None:
    clock = Clock()
    outbox = make_outbox(clock=clock)
    assert outbox.put([letter(1)], dedup_key="k", dedup_for=600)
    clock.advance(599)
    assert not outbox.put([letter(2)], dedup_key="k", dedup_for=600)  # an HA peer's copy
    clock.advance(1)
    assert outbox.put([letter(3)], dedup_key="k", dedup_for=600)  # a reminder, later
    assert ids(outbox.claim("ops", now=clock(), lease=LEASE, limit=10)) == ["e000001", "e000003"]


def test_a_letter_put_twice_is_kept_once(make_outbox: OutboxFactory) -> None:
    # A caller retrying a put whose answer it lost (a timeout) must not double a message.
    outbox = make_outbox()
    outbox.put([letter(1)])
    outbox.put([letter(1), letter(2)])
    assert outbox.backlog(T0) == {"ops": 2}


def test_recent_deliveries_and_rejects_are_newest_first_and_capped(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    extra = 5
    for n in range(KEPT + extra):
        outbox.reject(Reject(T0 + n, "github", "ci", f"bad signature {n}", '{"zen":'))
    for n in range(KEPT + extra):
        outbox.put([letter(n)])
        outbox.delivered([letter(n).id], answer="errcode 0", now=T0 + n)
    newest = KEPT + extra - 1
    rejects = outbox.rejects(limit=2 * KEPT)
    assert len(rejects) == KEPT  # more were asked for: the older ones are gone
    assert rejects[0] == Reject(T0 + newest, "github", "ci", f"bad signature {newest}", '{"zen":')
    assert rejects[-1].reason == f"bad signature {extra}"
    assert [r.reason for r in outbox.rejects(limit=2)] == [
        f"bad signature {newest}",
        f"bad signature {newest - 1}",
    ]
    recent = outbox.recent(limit=2 * KEPT)
    assert len(recent) == KEPT
    assert [d.id for d in recent[:2]] == [letter(newest).id, letter(newest - 1).id]
    assert recent[-1].id == letter(extra).id
    assert len(outbox.recent()) == 50
    assert outbox.rejects(limit=0) == []


def test_a_store_that_cannot_be_used_raises_outbox_unavailable_for_every_method(
    make_outbox: OutboxFactory,
) -> None:
    outbox = make_outbox()
    outbox.close()
    for call in every_method(outbox):
        with pytest.raises(OutboxUnavailable, match="closed"):
            call()
