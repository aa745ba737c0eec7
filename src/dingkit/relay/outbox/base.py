"""The relay's durable outbox: what every store (SQLite, Redis Streams) answers. No I/O.

The relay acknowledges a webhook only once what it means is here (persist, then acknowledge),
and a message leaves here only once DingTalk has taken it. One :class:`Letter` is one robot
message for one robot; a webhook routed to three robots puts three letters, in one
commit.

Delivery workers *claim* a robot's due letters for a lease; a claimed letter is settled
by exactly one of :meth:`Outbox.delivered`, :meth:`Outbox.retry`, :meth:`Outbox.dead`,
:meth:`Outbox.release`, :meth:`Outbox.reassign` or :meth:`Outbox.merge`. A letter whose
lease runs out unsettled (its worker was killed) is due again and claimed by whoever asks
next: nothing claimed is ever lost, and because a letter's ``id`` is the ``msgUuid`` of
its send, a resend after such a crash is not doubled by DingTalk (§2.1).

Several letters merged into a digest are replaced by the digest in the same commit
(:meth:`Outbox.merge`), so a crash between merging and sending resends the same digest with
the same ``msgUuid`` rather than a different mix.

Settling is not checked against the lease: a worker whose lease ran out may still settle
what another worker has taken over meanwhile (the ``msgUuid`` keeps DingTalk from showing a
resend twice). Ids no longer in the outbox (settled already) are skipped by every settling
method, so settling twice is harmless.

Times are the relay clock's epoch seconds (a test passes a fake clock). The methods without
a ``now`` (:meth:`Outbox.put`'s deduplication window, :meth:`Outbox.reassign`'s record)
read the store's own clock, which its constructor takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "DEDUP_WINDOW",
    "KEPT",
    "Delivery",
    "Hold",
    "Letter",
    "Outbox",
    "OutboxUnavailable",
    "Outcome",
    "Reject",
]


#: Seconds a ``put``'s deduplication key is remembered (GitHub and GitLab redeliver within
#: hours; an Alertmanager HA peer within a ``group_interval``).
DEDUP_WINDOW = 86_400.0
#: Recent deliveries and rejects kept for the page (older ones are pruned as new ones come).
KEPT = 1_000


class OutboxUnavailable(Exception):
    """The store cannot be reached or written (a full disk, Redis down): the relay answers
    503 so that the sender retries, and acknowledges nothing."""


@dataclass(frozen=True, slots=True)
class Letter:
    """One robot message waiting for one robot.

    Attributes:
        id: unique, time-ordered (sortable as text); the ``msgUuid`` of every send of it.
        robot: the configured robot's name.
        route: the route that made it (``""`` for ``dingkit send --via-relay``).
        source: ``alertmanager``, ``github``, ... (``send`` for the CLI).
        severity: normalised severity (``critical`` first when merging).
        group: what merges with what in a digest (route + alert name, for example).
        message: the robot message as DingTalk's JSON body (``to_payload``), sent as is.
        notification: the notification it came from, as JSON (``{}`` when none), so that a
            digest can be rendered from several.
        created: when it was accepted.
        attempts: sends tried so far.
        not_before: not due before this time (a retry's backoff).
        last_error: what the last failed attempt got, for the page and the dead letters.
        thread: the sender's thread of updates it belongs to (an Alertmanager group key):
            a later notification of the thread may supersede it (:meth:`Outbox.supersede`).
        lapsed: set by :meth:`Outbox.claim` when the letter was claimed before and that
            claim ran out unsettled (its worker was killed, say): it may have been posted
            already, so it is sent again on its own, under its own ``msgUuid`` (which
            DingTalk posts once), and never merged into a digest. Not stored.
    """

    id: str
    robot: str
    route: str
    source: str
    severity: str
    group: str
    message: Mapping[str, Any]
    notification: Mapping[str, Any] = field(default_factory=dict)
    created: float = 0.0
    attempts: int = 0
    not_before: float = 0.0
    last_error: str | None = None
    thread: str = ""
    lapsed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "message": dict(self.message),
            "notification": dict(self.notification),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Letter:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


Outcome = Literal["delivered", "retry", "dead", "merged", "reassigned", "superseded"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A settled letter, for the page's recent deliveries: what DingTalk answered."""

    id: str
    robot: str
    route: str
    outcome: Outcome
    answer: str  # DingTalk's errcode and errmsg, or the error
    at: float
    merged: int = 1  # letters this send carried (a digest carries several)


@dataclass(frozen=True, slots=True)
class Hold:
    """A robot that must not be sent to: paused until a time (rate-limit codes: 10 minutes),
    or held until an operator fixes its config (``until`` is ``None``: security or token
    errors)."""

    robot: str
    reason: str
    since: float
    until: float | None


@dataclass(frozen=True, slots=True)
class Reject:
    """A webhook refused as bad input (4xx), kept for the operator to see."""

    at: float
    source: str
    route: str
    reason: str
    excerpt: str  # the body's first bytes, as text


class Outbox(Protocol):
    """A durable outbox. Every method that changes something has committed durably when it
    returns (a ``SIGKILL`` right after loses nothing), and raises
    :class:`OutboxUnavailable` when it cannot."""

    # -- accepting ------------------------------------------------------------------------

    def put(
        self,
        letters: Sequence[Letter],
        *,
        dedup_key: str | None = None,
        dedup_for: float = DEDUP_WINDOW,
    ) -> bool:
        """Store ``letters`` in one commit. With ``dedup_key`` (a GitHub delivery id, an
        Alertmanager group key + status + fingerprints), only if no earlier ``put`` had that
        key within that put's ``dedup_for`` seconds (24 hours by default, on the store's
        clock): ``False`` then, and nothing is stored. A letter whose ``id`` is stored
        already is kept once (a ``put`` retried after an answer that got lost)."""
        ...

    def reject(self, reject: Reject) -> None:
        """Keep a refused webhook (the newest 1,000 are kept)."""
        ...

    def rejects(self, limit: int = 100) -> list[Reject]:
        """Refused webhooks, newest first."""
        ...

    # -- delivering -----------------------------------------------------------------------

    def backlog(self, now: float) -> dict[str, int]:
        """Letters not yet delivered nor dead, per robot (claimed ones included)."""
        ...

    def due(self, now: float) -> dict[str, int]:
        """Letters that could be claimed now, per robot (unclaimed or lease run out, and
        ``not_before`` reached); robots with none are left out."""
        ...

    def claim(self, robot: str, *, now: float, lease: float, limit: int) -> list[Letter]:
        """Up to ``limit`` of ``robot``'s due letters, oldest first, leased to the caller
        until ``now + lease`` (no one else gets them meanwhile; at ``now + lease`` they are
        due again). Claiming counts no attempt: :meth:`retry` and :meth:`dead` do."""
        ...

    def delivered(self, ids: Sequence[str], *, answer: str, now: float) -> None:
        """DingTalk took them: gone from the outbox, one :class:`Delivery` recorded (the
        first id's; ``merged`` counts every letter they carried, a digest's originals
        included)."""
        ...

    def retry(self, letter_id: str, *, not_before: float, error: str, now: float) -> None:
        """A failed attempt: ``attempts`` + 1, ``last_error`` set, due again at
        ``not_before`` (its lease ends); recorded as a ``retry``."""
        ...

    def dead(self, letter_id: str, *, error: str, now: float) -> None:
        """Out of retries (the last attempt counted): moved to the dead letters, never
        sent again unless replayed; recorded as ``dead``."""
        ...

    def release(self, ids: Sequence[str]) -> None:
        """Give back claimed letters untouched (no attempt counted, nothing recorded):
        due again at once."""
        ...

    def reassign(self, ids: Sequence[str], robot: str) -> None:
        """Move claimed letters to another robot (a pool sibling), due at once there
        with their attempts kept; one ``reassigned`` record, timed by the store's clock."""
        ...

    def merge(self, ids: Sequence[str], digest: Letter, *, now: float, lease: float) -> None:
        """Replace the claimed letters ``ids`` by ``digest`` in one commit; the digest is
        stored claimed by the caller (leased until ``now + lease``). Ids no longer in the
        outbox are skipped; the digest carries the rest (see :meth:`delivered`); one
        ``merged`` record."""
        ...

    def supersede(
        self,
        robot: str,
        thread: str,
        *,
        covered: Collection[str],
        keep: Collection[str],
        now: float,
    ) -> int:
        """Drop ``robot``'s letters of ``thread`` that no one is sending (not claimed under
        a live lease) and whose alerts a later notification carries again: every fingerprint
        of theirs is in ``covered`` (a letter without alerts is never dropped). ``keep``:
        the later notification's letters; only letters older than all of them (a smaller
        id) are dropped. One ``superseded`` :class:`Delivery` per dropped letter; how many
        were dropped."""
        ...

    # -- robots held or paused ------------------------------------------------------------

    def hold(self, hold: Hold) -> None:
        """Hold or pause a robot (shared by every relay instance on the store)."""
        ...

    def unhold(self, robot: str) -> None: ...

    def holds(self, now: float) -> dict[str, Hold]:
        """Robots held, and paused ones whose pause has not ended."""
        ...

    # -- operating ------------------------------------------------------------------------

    def recent(self, limit: int = 50) -> list[Delivery]:
        """Settled letters, newest first (the newest 1,000 are kept)."""
        ...

    def dead_letters(self, limit: int = 100) -> list[Letter]:
        """Dead letters, newest first."""
        ...

    def dead_count(self) -> int:
        """How many dead letters there are (``/metrics``), without reading them."""
        ...

    def replay(self, letter_id: str, *, now: float) -> bool:
        """A dead letter back in the outbox, due at once with its attempts reset (its
        ``last_error`` kept); ``False`` when there is no such dead letter."""
        ...

    def close(self) -> None:
        """Let go of the store; every later call raises :class:`OutboxUnavailable`."""
        ...
