"""A letter as both stores keep it: its fixed fields as one JSON text written once, and
the fields that change while it waits (:data:`MUTABLE`) kept beside it, so that a retry or
a reassignment updates a column or a hash field and never rewrites the JSON."""

from __future__ import annotations

import json
from typing import Any

from .base import Letter

MUTABLE = ("robot", "attempts", "not_before", "last_error")


def fixed_body(letter: Letter) -> str:
    """The letter's fields but :data:`MUTABLE`, as compact JSON (exact: Python's json
    writes floats and big integers as they are)."""
    fixed = {k: v for k, v in letter.to_json().items() if k not in MUTABLE and k != "lapsed"}
    return json.dumps(fixed, ensure_ascii=False, separators=(",", ":"))


def stored_letter(
    body: str,
    robot: str,
    attempts: Any,
    not_before: Any,
    last_error: str | None,
    *,
    lapsed: bool = False,
) -> Letter:
    """The letter back from its fixed JSON and its current :data:`MUTABLE` fields
    (``lapsed``: as the claim found it)."""
    return Letter.from_json(
        {
            **json.loads(body),
            "robot": robot,
            "attempts": int(attempts),
            "not_before": float(not_before),
            "last_error": last_error,
            "lapsed": lapsed,
        }
    )


def carried_again(body: str, covered: set[str]) -> bool:
    """Whether every alert of the letter whose fixed JSON is ``body`` has its fingerprint
    in ``covered`` (a letter without alerts never is: nothing proves it repeated)."""
    alerts = json.loads(body).get("notification", {}).get("alerts")
    if not isinstance(alerts, list) or not alerts:
        return False
    return all(isinstance(a, dict) and a.get("fingerprint") in covered for a in alerts)
