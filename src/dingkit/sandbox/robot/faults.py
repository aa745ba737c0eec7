"""Faults a test can ask of a robot: a share of its sends answered as a busy or failing
DingTalk would, so that a client's retries (the relay's, say) are tried against the sandbox.

DingTalk itself sometimes answers ``{"errcode":-1,"errmsg":"系统繁忙"}`` (§2.5, "busy, retry")
or a gateway's HTTP 503. A robot given ``faults = 0.3`` (config, or
``POST /_sandbox/robots/{name}/faults {"rate": 0.3, "seed": 7}``) answers that share of its
otherwise acceptable sends with one of the two, alternating, drawn from a seeded generator so
that a test run is reproducible. A faulted send stores nothing and takes no slot of the
robot's minute [I: whether DingTalk counts a request it failed is not documented].
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["BUSY", "UNAVAILABLE", "Fault", "RobotFaults"]

Fault = Literal["busy", "unavailable"]
#: The busy answer (§2.5: errcode -1, HTTP 200) and a gateway's 503 (its body is not JSON).
BUSY = (-1, "系统繁忙")
UNAVAILABLE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


@dataclass
class _Plan:
    rate: float
    rng: random.Random
    next_kind: int = 0
    drawn: dict[str, int] = field(default_factory=lambda: {"busy": 0, "unavailable": 0})


class RobotFaults:
    """The fault plans of the sandbox's robots, by robot name (in memory)."""

    def __init__(self) -> None:
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def set(self, robot: str, rate: float, *, seed: int = 0) -> None:
        """Answer ``rate`` (0 to 1) of ``robot``'s sends with a fault; 0 turns them off."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"a fault rate is between 0 and 1, not {rate}")
        with self._lock:
            if rate == 0.0:
                self._plans.pop(robot, None)
            else:
                self._plans[robot] = _Plan(rate, random.Random(seed))

    def draw(self, robot: str) -> Fault | None:
        """The fault this send of ``robot`` gets, if any."""
        with self._lock:
            plan = self._plans.get(robot)
            if plan is None or plan.rng.random() >= plan.rate:
                return None
            kind: Fault = ("busy", "unavailable")[plan.next_kind % 2]
            plan.next_kind += 1
            plan.drawn[kind] += 1
            return kind

    def drawn(self, robot: str) -> dict[str, int]:
        """How many faults of each kind ``robot`` has answered."""
        with self._lock:
            plan = self._plans.get(robot)
            return dict(plan.drawn) if plan else {"busy": 0, "unavailable": 0}
