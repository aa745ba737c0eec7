"""Webhook fixtures for the relay's tests, and the headers their senders would add.

The bodies are the project's shared fixtures (``../shared/fixtures/webhooks``, where
``SOURCES.md`` says where each came from). CI runs on a clean clone without ``../shared``,
so ``webhooks/`` here is a byte-for-byte copy, as ``tests/fixtures/vectors.json`` is of the
protocol note's vectors; ``test_relay_fixtures.py`` fails when the two differ. When the
shared folder is there, it is the one read, so a fixture added to it is picked up at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "webhooks"
COPY = Path(__file__).resolve().parent / "webhooks"
WEBHOOKS = SHARED if SHARED.is_dir() else COPY

# The X-Gitlab-Event header GitLab sends with each object_kind (SOURCES.md).
GITLAB_HEADERS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "deployment": "Deployment Hook",
}


def fixture_paths() -> list[str]:
    """``source/name.json`` for every fixture, for parametrising."""
    return sorted(str(path.relative_to(WEBHOOKS)) for path in WEBHOOKS.glob("*/*.json"))


def load(name: str) -> Any:
    return json.loads((WEBHOOKS / name).read_text(encoding="utf-8"))


def headers_for(name: str, body: Any) -> dict[str, str]:
    """The event and delivery headers the real sender would add to this fixture."""
    source, stem = name.split("/")[0], Path(name).stem
    if source == "github":
        # Fixture names start with the event: "workflow_run-completed-success.json".
        return {"X-GitHub-Event": stem.split("-")[0], "X-GitHub-Delivery": f"delivery-{stem}"}
    if source == "gitlab":
        return {
            "X-Gitlab-Event": GITLAB_HEADERS[body["object_kind"]],
            "X-Gitlab-Event-UUID": f"uuid-{stem}",
        }
    return {}
