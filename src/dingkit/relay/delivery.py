"""The relay's delivery: letters out of the outbox, into DingTalk, each robot within its
budget, nothing lost and nothing sent twice.

One :meth:`Courier.deliver` pass, per robot with due letters and not held:

1. **Merge or not.** A backlog the budget carries within a minute (at most one window's
   worth, 20 messages, §2.3) goes out message by message. A larger one is merged into digests
   (:mod:`.digest`), replacing the originals in the outbox in the same commit, so a crash
   afterwards resends the same digest under the same ``msgUuid``.
2. **Budget.** A slot of the robot's window is taken before each part is posted: the same
   window (:func:`dingkit.robot.limits.client_window`, keyed by the robot's token as
   :class:`~dingkit.robot.Robot` keys it) that ``dingkit send`` and the SDK use, in the store
   the relay is given (a file on one host, Redis across instances). Without a slot the
   letter is released untouched and the pass moves on; the worker sleeps until a slot
   frees or new work arrives.
3. **Send** with the letter's id as ``msgUuid`` (§2.1: a resend is not doubled), a long
   message in parts (``<id>-<n>``).
4. **Settle by what DingTalk answered**, read through the error catalogue (the exception
   class it chose, :mod:`dingkit._errcodes`):

   - the rate-limit codes (:class:`~dingkit.RateLimitError`): DingTalk blocks the robot for
     10 minutes, so it is paused for that long and its queue moved to its pool siblings;
   - security, token and gone-robot errors (:class:`~dingkit.SecurityCheckError`,
     :class:`~dingkit.AuthenticationError`, :class:`~dingkit.RobotGoneError`,
     :class:`~dingkit.PermissionDeniedError`): the robot is held until an operator fixes its
     configuration and the relay is reloaded; nothing is dropped;
   - too long (:class:`~dingkit.PayloadTooLargeError`): sent again at once in smaller parts;
   - a message DingTalk will never take (:class:`~dingkit.BadRequestError`): a dead letter
     at once, with DingTalk's reason;
   - anything else (busy, 5xx, no answer): retried with backoff, a dead letter after
     :attr:`Policy.max_attempts`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from .._exceptions import (
    AuthenticationError,
    BadRequestError,
    DingTalkError,
    MessageValidationError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RobotGoneError,
    SecurityCheckError,
)
from .._ratelimit import RateLimitStore
from ..robot.client import AsyncRobot, window_key
from ..robot.compose import MAX_BODY_BYTES, split_message
from ..robot.limits import client_window
from ..robot.messages import Markdown, message_from_payload, to_payload
from ..robot.target import PreparedSend, RobotTarget
from .digest import HELD, build_digests
from .outbox.base import Hold, Letter, Outbox

__all__ = ["Courier", "Policy"]

logger = logging.getLogger("dingkit.relay")

_HELD = (SecurityCheckError, AuthenticationError, RobotGoneError, PermissionDeniedError)


@dataclass(frozen=True, slots=True)
class Policy:
    """How delivery paces, merges and retries.

    Attributes:
        lease: seconds a claimed letter stays with this worker before another may take it:
            more than one send takes (the robot's timeout, 10 s), since letters are claimed
            one at a time; after a crash, what the worker held waits this long.
        merge_above: a backlog larger than this is merged into digests (one window's worth).
        pause: seconds a robot rests after a rate-limit code (DingTalk's block, §2.3).
        max_attempts: sends tried before a letter becomes a dead letter.
        backoff: first retry delay, doubled per attempt up to ``backoff_cap``, jittered.
        claim_limit: letters claimed at once for a merge.
    """

    lease: float = 30.0
    merge_above: int = 20
    pause: float = 600.0
    max_attempts: int = 10
    backoff: float = 2.0
    backoff_cap: float = 300.0
    claim_limit: int = 5_000

    def retry_delay(self, attempts: int, rng: random.Random) -> float:
        ceiling = min(self.backoff_cap, self.backoff * 2 ** max(attempts - 1, 0))
        return float(ceiling / 2 + rng.random() * ceiling / 2)


@dataclass
class Counters:
    """What delivery did, for ``/metrics`` (totals since start)."""

    delivered: dict[str, int] = field(default_factory=dict)  # per robot, messages posted
    merged: int = 0  # letters folded into digests
    retried: int = 0
    dead: int = 0
    paused: int = 0
    held: int = 0
    moved: int = 0

    def count(self, robot: str) -> None:
        self.delivered[robot] = self.delivered.get(robot, 0) + 1


class Courier:
    """Delivers an outbox's letters to the robots of ``targets``.

    Args:
        outbox: where letters wait.
        targets: the configured robots by name.
        budget: where the robots' windows are counted (shared with every instance).
        pools: each robot's pool siblings (who may take its queue while it is paused).
        clock: epoch seconds; ``sleep`` waits (tests pass a fake pair).
        http_client: the HTTP client the robots post with (default: one per robot).
    """

    def __init__(
        self,
        outbox: Outbox,
        targets: Mapping[str, RobotTarget],
        *,
        budget: RateLimitStore,
        pools: Mapping[str, Sequence[str]] | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.outbox = outbox
        self.targets = dict(targets)
        self.budget = budget
        self.pools = {name: list(siblings) for name, siblings in (pools or {}).items()}
        self.policy = policy or Policy()
        self.clock = clock
        self._sleep = sleep
        self._environ = environ
        self._rng = rng or random.Random()
        self._http = http_client
        self.counters = Counters()
        self._robots: dict[str, AsyncRobot] = {}
        self._wake = asyncio.Event()
        self._paused: set[str] = set()
        self._slot_free_at: dict[str, float] = {}  # when each robot's window said to return
        self._sent: dict[str, collections.deque[float]] = {}  # posts in the last minutes

    # -- running -------------------------------------------------------------------------

    def wake(self) -> None:
        """New letters are in: deliver now rather than at the next timer."""
        self._wake.set()

    async def run(self, *, idle: float = 1.0) -> None:
        """Deliver until cancelled, sleeping between passes until woken, a slot frees or
        ``idle`` seconds pass."""
        while True:
            wait = await self.deliver()
            self._wake.clear()
            timeout = min(idle, wait) if wait is not None else idle
            waker = asyncio.ensure_future(self._wake.wait())
            sleeper = asyncio.ensure_future(self._sleep(timeout))
            try:
                await asyncio.wait({waker, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()
                sleeper.cancel()

    async def reload(
        self, targets: Mapping[str, RobotTarget], pools: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        """A new configuration: robots whose address or secret changed are posted to afresh,
        and every robot held for its configuration is tried again (held again at once if
        it is still wrong)."""
        for name in [n for n in self._robots if self.targets.get(n) != targets.get(n)]:
            await self._robots.pop(name).aclose()
        self.targets = dict(targets)
        self.pools = {name: list(siblings) for name, siblings in (pools or {}).items()}
        holds = await asyncio.to_thread(self.outbox.holds, self.clock())
        for robot, hold in holds.items():
            if hold.until is None:
                await asyncio.to_thread(self.outbox.unhold, robot)
        self.wake()

    async def aclose(self) -> None:
        for robot in self._robots.values():
            await robot.aclose()
        self._robots.clear()

    async def deliver(self) -> float | None:
        """One pass over every robot with due letters; seconds until a budget slot frees
        for a robot that still has work (``None``: no robot is waiting for a slot)."""
        now = self.clock()
        holds = await asyncio.to_thread(self.outbox.holds, now)
        due = await asyncio.to_thread(self.outbox.due, now)
        soonest: float | None = None
        for robot in sorted(due):
            if robot in holds:
                continue
            if robot not in self.targets:
                # Its robot left the config: held, so that the operator sees it and nothing
                # is dropped; putting it back in the config releases its queue.
                await self._hold(robot, "the robot is no longer in the relay's config", None)
                continue
            wait = await self._deliver_robot(robot, due[robot])
            if wait is not None:
                soonest = wait if soonest is None else min(soonest, wait)
        return soonest

    # -- one robot -----------------------------------------------------------------------

    async def _deliver_robot(self, robot: str, due: int) -> float | None:
        policy = self.policy
        while True:
            # Nothing to do before a slot is free again (as this worker last heard): no
            # packing for nothing, no claims; packing just before a send takes in everything
            # that arrived meanwhile. The slot itself is taken right before the post, so that
            # DingTalk sees the pace the window granted.
            free_in = self._slot_free_at.get(robot, 0.0) - self.clock()
            if free_in > 0:
                return free_in
            if due > policy.merge_above:
                await self._regroup(robot, lambda letter: True)
                due = 0  # packed: what comes in while these go out waits for the next slot
            # One at a time: a claim need only outlast one send (Policy.lease).
            claimed = await asyncio.to_thread(
                self.outbox.claim, robot, now=self.clock(), lease=policy.lease, limit=1
            )
            if not claimed:
                return None
            letter = claimed[0]
            if letter.group.startswith(HELD) and not letter.lapsed:
                # What a silence held goes out as one digest when its window ends.
                await asyncio.to_thread(self.outbox.release, [letter.id])
                await self._regroup(robot, lambda e: e.group.startswith(HELD))
                claimed = await asyncio.to_thread(
                    self.outbox.claim, robot, now=self.clock(), lease=policy.lease, limit=1
                )
                if not claimed:
                    return None
                letter = claimed[0]
            stopped = await self._send(robot, letter)
            if stopped is None:
                continue
            # No slot for a later part, or the robot was paused or held.
            if robot in self._paused:
                self._paused.discard(robot)
                await self._move_queue(robot, self.clock())
            return stopped if stopped > 0 else None

    async def _regroup(self, robot: str, mergeable: Callable[[Letter], bool]) -> None:
        """Claim ``robot``'s due letters, pack those ``mergeable`` into digests (earlier
        digests included: packed again with what arrived since), and give everything back,
        to be sent one at a time."""
        claimed = await asyncio.to_thread(
            self.outbox.claim,
            robot,
            now=self.clock(),
            lease=self.policy.lease,
            limit=self.policy.claim_limit,
        )
        # Lapsed ones are not packed: a letter whose worker died may have been posted,
        # and only its own msgUuid keeps DingTalk from showing it twice.
        chosen = [e for e in claimed if mergeable(e) and not e.lapsed]
        replaced: set[str] = set()
        packed: list[str] = []  # the digests, claimed by merge(): given back with the rest
        now = self.clock()
        for digest in build_digests(chosen):
            if len(digest.ids) < 2:
                continue  # alone in its bin: it goes as it is
            letter = Letter(
                id=new_letter_id(now),
                robot=robot,
                route="",
                source="digest",
                severity=digest.severity,
                group="",
                message=to_payload(Markdown(title=digest.title, text=digest.text)),
                notification=digest.notification(),
                created=now,
            )
            await asyncio.to_thread(
                self.outbox.merge, digest.ids, letter, now=now, lease=self.policy.lease
            )
            replaced.update(digest.ids)
            packed.append(letter.id)
            self.counters.merged += len(digest.items)
            logger.info("robot %s: %d notifications packed in one digest", robot, len(digest.items))
        back = [e.id for e in claimed if e.id not in replaced] + packed
        if back:
            await asyncio.to_thread(self.outbox.release, back)

    async def _send(self, robot: str, letter: Letter) -> float | None:
        """Send one letter and settle it. ``None`` when it was settled (the next may go);
        seconds to wait when no slot was free (0: the robot stopped, for now)."""
        target = self.targets[robot]
        try:
            message = message_from_payload(letter.message)
            parts = target.prepare(message, split=True, msg_uuid=letter.id)
        except MessageValidationError as error:
            await self._dead(letter, f"not a message DingTalk takes: {error}")
            return None
        answers: list[str] = []
        try:
            for part in parts:
                wait = await self._take_slot(target)
                if wait > 0:
                    self._slot_free_at[robot] = self.clock() + wait
                    await asyncio.to_thread(self.outbox.release, [letter.id])
                    return wait
                answer = await self._post(robot, part)
                answers.append(f"errcode {answer.get('errcode', 0)}: {answer.get('errmsg', 'ok')}")
        except PayloadTooLargeError as error:
            return await self._send_smaller(robot, letter, message, str(error))
        except DingTalkError as error:
            return await self._failed(robot, letter, error)
        now = self.clock()
        await asyncio.to_thread(
            self.outbox.delivered, [letter.id], answer="; ".join(answers), now=now
        )
        self.counters.count(robot)
        return None

    async def _send_smaller(
        self, robot: str, letter: Letter, message: object, reason: str
    ) -> float | None:
        """DingTalk found a part too long (it counts differently from §2.3 [I]): the same
        message in parts half as large, under ids of their own."""
        target = self.targets[robot]
        if not isinstance(message, Markdown):
            await self._dead(letter, f"too long for DingTalk and cannot be split: {reason}")
            return None
        pieces = split_message(message, reserve_bytes=MAX_BODY_BYTES // 2)
        if len(pieces) < 2:
            await self._dead(letter, f"too long for DingTalk and cannot be split: {reason}")
            return None
        try:
            for index, piece in enumerate(pieces, 1):
                for part in target.prepare(piece, msg_uuid=f"{letter.id}-h{index}"):
                    wait = await self._take_slot(target)
                    if wait > 0:
                        self._slot_free_at[robot] = self.clock() + wait
                        await asyncio.to_thread(self.outbox.release, [letter.id])
                        return wait
                    await self._post(robot, part)
        except DingTalkError as error:
            return await self._failed(robot, letter, error)
        await asyncio.to_thread(
            self.outbox.delivered, [letter.id], answer="sent in smaller parts", now=self.clock()
        )
        self.counters.count(robot)
        return None

    async def _failed(self, robot: str, letter: Letter, error: DingTalkError) -> float | None:
        now = self.clock()
        if isinstance(error, RateLimitError):
            await self._pause(robot, letter, error)
            return 0.0
        if isinstance(error, _HELD):
            await asyncio.to_thread(self.outbox.release, [letter.id])
            await self._hold(robot, f"{type(error).__name__}: {error}", None)
            return 0.0
        if isinstance(error, BadRequestError):
            await self._dead(letter, str(error))
            return None
        attempts = letter.attempts + 1
        if attempts >= self.policy.max_attempts:
            await self._dead(letter, f"{attempts} attempts; last: {error}")
            return None
        delay = self.policy.retry_delay(attempts, self._rng)
        await asyncio.to_thread(
            self.outbox.retry, letter.id, not_before=now + delay, error=str(error), now=now
        )
        self.counters.retried += 1
        logger.warning(
            "robot %s: attempt %d failed (%s); again in %.0f s", robot, attempts, error, delay
        )
        return None

    async def _pause(self, robot: str, letter: Letter, error: DingTalkError) -> None:
        now = self.clock()
        until = now + self.policy.pause
        await asyncio.to_thread(self.outbox.release, [letter.id])
        await asyncio.to_thread(
            self.outbox.hold, Hold(robot, f"rate limited by DingTalk: {error}", now, until)
        )
        self.counters.paused += 1
        self._paused.add(robot)  # its queue moves once what this pass claimed is back
        logger.warning("robot %s: rate limited by DingTalk; paused for %.0f s", robot, until - now)

    async def _move_queue(self, robot: str, now: float) -> None:
        """The paused robot's queue to its pool siblings that are not held, in turn."""
        holds = await asyncio.to_thread(self.outbox.holds, now)
        siblings = [s for s in self.pools.get(robot, ()) if s != robot and s not in holds]
        if not siblings:
            return
        claimed = await asyncio.to_thread(
            self.outbox.claim,
            robot,
            now=now,
            lease=self.policy.lease,
            limit=self.policy.claim_limit,
        )
        for index, sibling in enumerate(siblings):
            share = [e.id for e in claimed[index :: len(siblings)]]
            if share:
                await asyncio.to_thread(self.outbox.reassign, share, sibling)
        self.counters.moved += len(claimed)
        if claimed:
            logger.info("robot %s: %d queued messages moved to %s", robot, len(claimed), siblings)

    async def _hold(self, robot: str, reason: str, until: float | None) -> None:
        await asyncio.to_thread(self.outbox.hold, Hold(robot, reason, self.clock(), until))
        self.counters.held += 1
        logger.error(
            "robot %s is held, its messages kept until its config is fixed and the relay "
            "reloaded: %s",
            robot,
            reason,
        )

    async def _dead(self, letter: Letter, reason: str) -> None:
        await asyncio.to_thread(self.outbox.dead, letter.id, error=reason, now=self.clock())
        self.counters.dead += 1
        logger.error("message %s to robot %s is a dead letter: %s", letter.id, letter.robot, reason)

    # -- the wire ------------------------------------------------------------------------

    async def _take_slot(self, target: RobotTarget) -> float:
        window = client_window(target.send_url, self._environ)
        return await asyncio.to_thread(
            self.budget.try_acquire, window_key(target.token), window.limit, window.period
        )

    def sent_within(self, robot: str, seconds: float) -> int:
        """Parts this instance posted for ``robot`` in the last ``seconds`` (the page's and
        ``/metrics``' budget use; instances sharing a budget count their own)."""
        sent = self._sent.get(robot)
        if not sent:
            return 0
        since = self.clock() - seconds
        return sum(1 for at in sent if at > since)

    async def _post(self, robot: str, part: PreparedSend) -> dict[str, object]:
        client = self._robots.get(robot)
        if client is None:
            from .._retry import NO_RETRY

            client = self._robots[robot] = AsyncRobot(
                target=self.targets[robot],
                rate_limit=False,
                retry=NO_RETRY,
                http_client=self._http,
                clock=self.clock,
            )
        answer = await client.send_prepared(part, wait=False)
        sent = self._sent.setdefault(robot, collections.deque(maxlen=256))
        sent.append(self.clock())
        return answer


def new_letter_id(now: float) -> str:
    """Unique and sortable by time as text: milliseconds, then a counter (the ids one process
    makes in one millisecond keep their order: digests go out most severe first), then
    randomness (processes apart). The outbox's order, and the ``msgUuid`` of its sends."""
    return f"{int(now * 1000):013d}{next(_SEQUENCE) % 1_000_000:06d}{uuid.uuid4().hex[:13]}"


_SEQUENCE = itertools.count()
