"""The figures the reliability tests record, for ``python -m tests.reliability.report``.

Each test appends one JSON line to ``$DINGKIT_RELIABILITY_FIGURES`` (default
``tests/reliability/.figures/figures.jsonl``, ignored by git); a session starts it afresh
(tests/reliability/conftest.py).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).parent / ".figures" / "figures.jsonl"


_chosen: list[Path] = []


def path() -> Path:
    """The figures file, as the environment named it when the session started (the suite's
    autouse fixtures clear DINGKIT_* variables around each test)."""
    if not _chosen:
        _chosen.append(Path(os.environ.get("DINGKIT_RELIABILITY_FIGURES", DEFAULT)))
    return _chosen[0]


def record(kind: str, subject: str, answers: Iterable[int] = (), **counts: Any) -> None:
    """One line: what was tested, how many cases, the status codes seen, and any counts."""
    statuses = Counter(str(code) for code in answers)
    line = {"kind": kind, "subject": subject, "cases": sum(statuses.values()), **counts}
    line["statuses"] = dict(statuses)
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(line, ensure_ascii=False) + "\n")


def load() -> list[dict[str, Any]]:
    target = path()
    if not target.exists():
        return []
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line]
