"""Attendance for any person on any date, generated from ``(seed, userid, date)`` (§6). Pure.

Everyone works Monday to Friday with two check points, OnDuty 09:00 and OffDuty 18:00 China
time (public holidays are not modelled). Each check point has one *result* (what
``/attendance/list`` returns, ``NotSigned`` included) and zero or more *punches* (what
``/attendance/listRecord`` returns: none when not signed, sometimes a repeat or an invalid one).

The mix, per check point: about 4 % not signed, 1 % signed by a correction approval
(``APPROVE``), and for OnDuty 7 % Late, 2 % SeriousLate and 1 % Absenteeism; for OffDuty 5 %
Early; the rest Normal. Thresholds [I: DingTalk lets each attendance group set them]: late
by up to 30 min is Late, up to 60 min SeriousLate, more is Absenteeism (旷工迟到).

The real service keeps about 180 days and has nothing for the future; the sandbox answers
for any date so that results never depend on the clock.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache

from ..._wire import CHINA

__all__ = [
    "POINTS_PER_DAY",
    "AttendanceDay",
    "CheckResult",
    "Punch",
    "attendance_day",
    "device_id",
    "group_ids",
    "is_workday",
    "midnight_ms",
]

_CHECK_POINTS = (("OnDuty", 9 * 3600), ("OffDuty", 18 * 3600))
#: Results per working day (one per check point); /attendance/list pages rely on it.
POINTS_PER_DAY = len(_CHECK_POINTS)
_MINUTE = 60


@dataclass(frozen=True, slots=True)
class Punch:
    """One clock-in as ``listRecord`` reports it (§6.2)."""

    id: int
    check_type: str
    base_check_time: int  # ms
    user_check_time: int  # ms
    time_result: str
    location_result: str
    source_type: str
    plan_id: int
    invalid_record_type: str | None = None
    invalid_record_msg: str | None = None
    proc_inst_id: str | None = None
    approve_id: int | None = None

    @property
    def is_legal(self) -> bool:
        return (
            self.invalid_record_type is None
            and self.time_result == "Normal"
            and self.location_result == "Normal"
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One scheduled check point as ``/attendance/list`` reports it (§6.1)."""

    id: int
    record_id: int | None  # the punch that decided it; None when not signed
    check_type: str
    base_check_time: int
    user_check_time: int
    time_result: str
    location_result: str
    source_type: str
    plan_id: int
    proc_inst_id: str | None = None
    approve_id: int | None = None

    @classmethod
    def of(cls, punch: Punch, result_id: int, *, record_id: int | None) -> CheckResult:
        """The result a punch decides (or, with ``record_id=None``, a missing punch)."""
        return cls(
            id=result_id,
            record_id=record_id,
            check_type=punch.check_type,
            base_check_time=punch.base_check_time,
            user_check_time=punch.user_check_time,
            time_result=punch.time_result,
            location_result=punch.location_result,
            source_type=punch.source_type,
            plan_id=punch.plan_id,
            proc_inst_id=punch.proc_inst_id,
            approve_id=punch.approve_id,
        )


@dataclass(frozen=True, slots=True)
class AttendanceDay:
    userid: str
    work_date: int  # ms, midnight China time
    results: tuple[CheckResult, ...]
    punches: tuple[Punch, ...]  # in time order


def is_workday(day: date) -> bool:
    return day.weekday() < 5


def midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp()) * 1000


@lru_cache(maxsize=8192)
def attendance_day(seed: int, userid: str, day: date) -> AttendanceDay:
    """The schedule results and punches of ``userid`` on ``day`` (none on weekends)."""
    work_date = midnight_ms(day)
    if not is_workday(day):
        return AttendanceDay(userid, work_date, (), ())
    rng = random.Random(f"{seed}/{userid}/{day.isoformat()}")
    rand = rng.random
    results: list[CheckResult] = []
    punches: list[Punch] = []

    def new_id() -> int:
        return 10_000_000_000 + rng.getrandbits(50)

    for check_type, base_seconds in _CHECK_POINTS:
        base = work_date + base_seconds * 1000
        plan_id = new_id()
        roll = rand()
        if roll < 0.04:
            # Scheduled but not signed: a result without a punch [I: the base time stands in
            # for the missing punch time, and the source is SYSTEM].
            not_signed = Punch(
                id=0,
                check_type=check_type,
                base_check_time=base,
                user_check_time=base,
                time_result="NotSigned",
                location_result="NotSigned",
                source_type="SYSTEM",
                plan_id=plan_id,
            )
            results.append(CheckResult.of(not_signed, new_id(), record_id=None))
            continue
        if roll < 0.05:
            # Signed afterwards by a correction request (补卡), linked to its approval.
            punch = Punch(
                id=new_id(),
                check_type=check_type,
                base_check_time=base,
                user_check_time=base,
                time_result="Normal",
                location_result="Normal",
                source_type="APPROVE",
                plan_id=plan_id,
                proc_inst_id=f"{rng.getrandbits(128):032x}",
                approve_id=new_id(),
            )
        else:
            offset = _punch_offset(check_type, rand)
            punch = Punch(
                id=new_id(),
                check_type=check_type,
                base_check_time=base,
                user_check_time=base + offset * 1000,
                time_result=_time_result(check_type, offset),
                source_type=_source(check_type, rand),
                location_result="Outside" if rand() < 0.06 else "Normal",
                plan_id=plan_id,
            )
        punches.append(punch)
        results.append(CheckResult.of(punch, new_id(), record_id=punch.id))
        if punch.source_type != "APPROVE" and rand() < 0.06:
            # A repeat punch: later than the first for OnDuty (the earliest counts), earlier
            # than the last for OffDuty (the latest counts).
            gap = (1 + int(rand() * 10)) * _MINUTE * (1 if check_type == "OnDuty" else -1)
            offset = (punch.user_check_time - base) // 1000 + gap
            punches.append(
                replace(
                    punch,
                    id=new_id(),
                    user_check_time=base + offset * 1000,
                    time_result=_time_result(check_type, offset),
                )
            )
    if rand() < 0.02:
        # An invalid punch (§6.2 invalidRecordType): a colleague's phone, before OnDuty.
        on_duty = results[0]
        offset = -(1 + int(rand() * 30)) * _MINUTE
        punches.append(
            Punch(
                id=new_id(),
                check_type=on_duty.check_type,
                base_check_time=on_duty.base_check_time,
                user_check_time=on_duty.base_check_time + offset * 1000,
                time_result="Normal",
                location_result="Normal",
                source_type="USER",
                plan_id=on_duty.plan_id,
                invalid_record_type="Security",
                invalid_record_msg="非本人常用设备打卡",
            )
        )
    punches.sort(key=lambda p: p.user_check_time)
    return AttendanceDay(userid, work_date, tuple(results), tuple(punches))


def _punch_offset(check_type: str, rand: Callable[[], float]) -> int:
    """Seconds between the scheduled time and the punch, drawn from the documented mix."""
    roll, seconds = rand(), int(rand() * _MINUTE)
    if check_type == "OnDuty":
        if roll < 0.01 / 0.95:  # Absenteeism: 1-3 hours late
            return (60 + int(rand() * 120)) * _MINUTE + seconds + 1
        if roll < 0.03 / 0.95:  # SeriousLate: 31-60 minutes late
            return (30 + int(rand() * 30)) * _MINUTE + seconds + 1
        if roll < 0.10 / 0.95:  # Late: 1-30 minutes late
            return int(rand() * 30) * _MINUTE + seconds + 1
        return -(1 + int(rand() * 70)) * _MINUTE + seconds  # on time: up to 70 minutes early
    if roll < 0.05 / 0.95:  # Early: left up to 90 minutes early
        return -(1 + int(rand() * 90)) * _MINUTE + seconds
    return int(rand() * 150) * _MINUTE + seconds  # stayed up to 2.5 hours


def _source(check_type: str, rand: Callable[[], float]) -> str:
    """How the punch was made (§6.1 sourceType) [I: the mix]."""
    roll = rand()
    if roll < 0.70:
        return "USER"  # the phone app
    if roll < 0.82:
        return "ATM"  # an attendance machine
    if roll < 0.88:
        return "DING_ATM"
    if roll < 0.93:
        return "BEACON"
    # 极速打卡 happens on arrival only.
    return "AUTO_CHECK" if check_type == "OnDuty" else "USER"


def _time_result(check_type: str, offset: int) -> str:
    """The result of a punch ``offset`` seconds after the scheduled time."""
    if check_type == "OffDuty":
        return "Normal" if offset >= 0 else "Early"
    if offset <= 0:
        return "Normal"
    if offset <= 30 * _MINUTE:
        return "Late"
    return "SeriousLate" if offset <= 60 * _MINUTE else "Absenteeism"


def _stable_number(text: str, digits: int) -> int:
    digest = hashlib.md5(text.encode(), usedforsecurity=False).digest()
    low: int = 10 ** (digits - 1)
    return low + int.from_bytes(digest[:8]) % (9 * low)


def device_id(seed: int, userid: str) -> str:
    """A phone id that stays the same for a person."""
    return hashlib.md5(f"{seed}/{userid}".encode(), usedforsecurity=False).hexdigest()


def group_ids(seed: int) -> tuple[int, int]:
    """The organisation's one attendance group and its one shift: ``(groupId, classId)``."""
    return _stable_number(f"group/{seed}", 9), _stable_number(f"class/{seed}", 9)
