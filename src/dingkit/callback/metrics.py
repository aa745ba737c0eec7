"""Counters and gauges in Prometheus' text format, without a client library.

A receiver needs five numbers (received, rejected by reason, handled, failed, inbox depth);
``prometheus_client`` would be one more dependency for that.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping

__all__ = ["ReceiverMetrics"]

_PREFIX = "dingkit_callback"


class ReceiverMetrics:
    """What a receiver counts; thread-safe, because sync handlers finish in threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter[str] = Counter()  # by event type
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()  # by reason
        self.handled: Counter[str] = Counter()
        self.retried: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def count(self, what: str, label: str = "") -> None:
        with self._lock:
            if what == "duplicates":
                self.duplicates += 1
            else:
                counter: Counter[str] = getattr(self, what)
                counter[label] += 1

    def render(self, depth: Callable[[], Mapping[str, int]]) -> str:
        """The exposition text; ``depth`` gives the inbox's events by state."""
        with self._lock:
            blocks = [
                _counter(
                    "events_received_total",
                    "Pushes accepted, by event type.",
                    "type",
                    self.received,
                ),
                _counter(
                    "events_rejected_total",
                    "Pushes refused with a 4xx, by reason.",
                    "reason",
                    self.rejected,
                ),
                _counter(
                    "events_handled_total", "Events whose handlers succeeded.", "type", self.handled
                ),
                _counter(
                    "handler_retries_total",
                    "Handler failures that will be retried.",
                    "type",
                    self.retried,
                ),
                _counter(
                    "events_failed_total",
                    "Events moved to the dead-letter list.",
                    "type",
                    self.failed,
                ),
                f"# HELP {_PREFIX}_events_duplicate_total Re-pushes recognised and not stored.\n"
                f"# TYPE {_PREFIX}_events_duplicate_total counter\n"
                f"{_PREFIX}_events_duplicate_total {self.duplicates}\n",
            ]
        gauge = f"{_PREFIX}_inbox_events"
        lines = [f"# HELP {gauge} Events in the inbox, by state.", f"# TYPE {gauge} gauge"]
        lines += [f'{gauge}{{state="{state}"}} {n}' for state, n in sorted(depth().items())]
        return "".join(blocks) + "\n".join(lines) + "\n"


def _counter(name: str, help_text: str, label: str, values: Mapping[str, int]) -> str:
    full = f"{_PREFIX}_{name}"
    lines = [f"# HELP {full} {help_text}", f"# TYPE {full} counter"]
    lines += [f'{full}{{{label}="{_escape(key)}"}} {n}' for key, n in sorted(values.items())]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
