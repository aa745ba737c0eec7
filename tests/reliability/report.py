"""The reliability suite's figures, from its last run:

    .venv/bin/python -m pytest tests/reliability && .venv/bin/python -m tests.reliability.report

Prints the hostile cases run per component (with 5xx answers, which include sandbox bugs),
the SIGKILL runs (kills, events acknowledged, lost, duplicated), the forged pushes, the chat
page's script payloads (items shown, scripts run, disallowed markup) and the secrets scan
(texts scanned, credentials found in the clear). ``--json`` for scripts.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from typing import Any

from . import figures


def summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    hostile: dict[str, Counter[str]] = defaultdict(Counter)
    routes: Counter[str] = Counter()
    crashes = []
    secrets = {"scanned": 0, "leaks": 0}
    forgery: Counter[str] = Counter()
    xss = []
    for line in lines:
        if line["kind"] == "forgery":
            forgery.update(line["statuses"])
        elif line["kind"] == "secrets":
            secrets = {
                key: line.get(key, 0)
                for key in ("scanned", "log_records", "captured", "command_outputs", "leaks")
            }
        elif line["kind"] in ("sandbox", "receiver", "bot"):
            routes[line["kind"]] += 1
            hostile[line["kind"]].update(line["statuses"])
        elif line["kind"] == "crash":
            crashes.append(line)
        elif line["kind"] == "xss":
            xss.append(line)
    return {
        "hostile": {
            kind: {
                "routes": routes[kind],
                "cases": sum(statuses.values()),
                "5xx": sum(n for code, n in statuses.items() if code.startswith("5")),
                "statuses": dict(sorted(statuses.items())),
            }
            for kind, statuses in sorted(hostile.items())
        },
        "crashes": [
            {key: line[key] for key in ("subject", "kills", "acknowledged", "lost", "duplicated")}
            for line in crashes
        ],
        "secrets": secrets,
        "forgery": dict(sorted(forgery.items())),
        "xss": [
            {
                key: line[key]
                for key in ("subject", "payloads", "shown", "scripts_run", "disallowed")
            }
            for line in xss
        ],
    }


def main(argv: list[str]) -> int:
    lines = figures.load()
    if not lines:
        print(f"no figures at {figures.path()}: run `python -m pytest tests/reliability` first")
        return 1
    result = summary(lines)
    if "--json" in argv:
        print(json.dumps(result, indent=2))
        return 0
    print("hostile requests (every inbound route, fixed seeds):")
    for kind, row in result["hostile"].items():
        common = ", ".join(f"{code}×{n}" for code, n in Counter(row["statuses"]).most_common(6))
        print(
            f"  {kind:<9} {row['routes']:>3} routes  {row['cases']:>6} cases  "
            f"{row['5xx']} answered 5xx (sandbox bugs included)  [{common}]"
        )
    print("SIGKILL under load (a receiver may run twice only what a kill cut short):")
    for row in result["crashes"]:
        print(
            f"  {row['subject']:<30} {row['kills']} kills  {row['acknowledged']} acknowledged  "
            f"{row['lost']} lost  {row['duplicated']} handled or stored twice"
        )
    forged = result["forgery"]
    print(
        f"forged, misaddressed, cross-body and replayed pushes: {sum(forged.values())} requests "
        f"[{', '.join(f'{code}×{n}' for code, n in forged.items())}]"
    )
    print("script and markup payloads in the chat page (headless Chromium):")
    for row in result["xss"]:
        print(
            f"  {row['subject']:<30} {row['payloads']} payloads  {row['shown']} items shown  "
            f"{row['scripts_run']} scripts ran  {row['disallowed']} disallowed tags or URLs"
        )
    row = result["secrets"]
    print(
        f"secrets scan: {row['scanned']} texts ({row['log_records']} log records, "
        f"{row['captured']} captured test outputs, {row['command_outputs']} command outputs "
        f"and server logs), {row['leaks']} credentials in the clear"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
