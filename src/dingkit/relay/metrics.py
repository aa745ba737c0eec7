"""The relay's ``/metrics``: Prometheus text exposition (format 0.0.4), written by hand (a
dozen families need no client library).

Counters are this instance's since it started; gauges (queued, held, dead letters) are read
from the outbox, shared by every instance on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .service import Relay

__all__ = ["render_metrics"]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        inner = ",".join(f'{key}="{_label(val)}"' for key, val in labels.items())
        lines.append(f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}")
    return lines


def render_metrics(relay: Relay) -> str:
    """The exposition text (reads the outbox: may raise ``OutboxUnavailable``)."""
    now = relay.clock()
    backlog = relay.outbox.backlog(now)
    holds = relay.outbox.holds(now)
    dead = relay.outbox.dead_count()
    robots = [robot.name for robot in relay.config.robots]
    counters = relay.courier.counters
    lines: list[str] = []
    lines += _family(
        "dingkit_relay_received_total",
        "counter",
        "Webhooks received, by source and route.",
        (({"source": s, "route": r}, n) for (s, r), n in sorted(relay.received.items())),
    )
    lines += _family(
        "dingkit_relay_refused_total",
        "counter",
        "Webhooks refused (4xx), by reason.",
        (
            ({"source": s, "route": r, "reason": why}, n)
            for (s, r, why), n in sorted(relay.refused.items())
        ),
    )
    lines += _family(
        "dingkit_relay_duplicates_total",
        "counter",
        "Webhooks that repeated an accepted event.",
        (({"source": s, "route": r}, n) for (s, r), n in sorted(relay.duplicates.items())),
    )
    lines += _family(
        "dingkit_relay_queued",
        "gauge",
        "Messages waiting in the outbox, per robot.",
        (({"robot": name}, backlog.get(name, 0)) for name in robots),
    )
    lines += _family(
        "dingkit_relay_delivered_total",
        "counter",
        "Messages DingTalk took, per robot.",
        (({"robot": name}, counters.delivered.get(name, 0)) for name in robots),
    )
    lines += _family(
        "dingkit_relay_budget_used",
        "gauge",
        "Sends in the last 60 s per robot by this instance (DingTalk allows 20).",
        (({"robot": name}, relay.courier.sent_within(name, 60.0)) for name in robots),
    )
    lines += _family(
        "dingkit_relay_held",
        "gauge",
        "1 while a robot is held (config to fix) or paused (rate limited).",
        (
            ({"robot": name, "why": "paused" if holds[name].until else "config"}, 1)
            for name in robots
            if name in holds
        ),
    )
    for name, help_text, value in (
        ("dingkit_relay_merged_total", "Messages merged into digests.", counters.merged),
        ("dingkit_relay_retried_total", "Sends retried after a failure.", counters.retried),
        ("dingkit_relay_dead_total", "Messages that became dead letters.", counters.dead),
        ("dingkit_relay_paused_total", "Rate-limit pauses.", counters.paused),
        ("dingkit_relay_moved_total", "Messages moved to a pool sibling.", counters.moved),
    ):
        lines += _family(name, "counter", help_text, [({}, value)])
    lines += _family("dingkit_relay_dead_letters", "gauge", "Dead letters kept.", [({}, dead)])
    return "\n".join(lines) + "\n"
