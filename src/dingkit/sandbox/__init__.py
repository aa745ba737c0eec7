"""The sandbox: a local DingTalk with the same endpoints, tokens, errors, limits, signatures
and pushes as the real one, and a chat page.

    from dingkit.sandbox import Sandbox, SandboxServer

    with SandboxServer(Sandbox.from_settings()) as server:
        ...  # DINGTALK_OAPI_BASE_URL = DINGTALK_API_BASE_URL = server.url

Layout: one package per DingTalk concept, each holding that concept's model and rules, its
tables, its routes and its page view; around them the pieces every concept shares.

    core.py           Sandbox: the state (settings, store, clock, tokens, limits, pushes)
    app.py            create_app(): every concept's routes, the chat page, unknown paths
    server.py         SandboxServer (uvicorn in a thread) and the start-up banner
    config.py         the settings: TOML, flags, the demo
    store.py          one SQLite connection; each concept registers its own tables
    gateway/          before a rule runs: token, method, limits, failure modes, the body;
                      each family's answers (answers.py) and typed fields (params.py)
    robot/            custom robots (§2): the webhook's checks, sending, groups, rendering
    tokens/           apps and access tokens (§1): issuing, failure modes, per-app limits
    contacts/         the organisation (§5): generated people and departments, changes to
                      them (admin.py: the rules), the contacts API and the admin routes
    approval/         approval (§3): templates, instances and their state machine, the
                      events they cause, both API families, the approvals view
    calendar/         calendar events (§4)
    attendance/       attendance results and punches, generated (§6)
    notifications/    work notifications (§12)
    callbacks/        event subscription (§7): registrations, encrypted pushes, failed list
    static/           the chat page

Adding an endpoint touches: its declaration and request builder in
``dingkit/resources/<concept>.py`` (an :class:`~dingkit._request.Endpoint`), the facade line in
``dingkit/_api/_async/<concept>.py`` (``scripts/unasync.py`` writes the sync twin), the rule
in ``sandbox/<concept>/`` (a plain function raising the concept's error), one line in that
concept's ``routes.py`` (``gateway.routes([(ENDPOINT, handler)])``) and the tests. The
contract test (``tests/sandbox/test_contract.py``) fails while either side is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Sandbox", "SandboxConfig", "SandboxServer", "create_app", "load_config"]

_EXPORTS = {
    "Sandbox": "dingkit.sandbox.core",
    "SandboxConfig": "dingkit.sandbox.config",
    "SandboxServer": "dingkit.sandbox.server",
    "create_app": "dingkit.sandbox.app",
    "load_config": "dingkit.sandbox.config",
}

if TYPE_CHECKING:
    from .app import create_app
    from .config import SandboxConfig, load_config
    from .core import Sandbox
    from .server import SandboxServer


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one of the sandbox's modules does not load the server.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dingkit.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
