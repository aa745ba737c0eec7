"""The sandbox: a local DingTalk with the same endpoints, tokens, errors, limits, signatures
and pushes as the real one, and a chat page.

    from dingkit.sandbox import Sandbox, SandboxServer

    with SandboxServer(Sandbox.from_settings()) as server:
        ...  # DINGTALK_OAPI_BASE_URL = DINGTALK_API_BASE_URL = server.url

Layout: one package per DingTalk concept, each holding that concept's model and rules (plain
functions of the :class:`Sandbox` raising the concept's error), its tables, its routes (thin:
read the request, call the rule, answer in the family's shape) and its page view; around
them the pieces every concept shares.

    core.py           Sandbox: the state (settings, store, clock, tokens, limits, pushes)
    app.py            create_app(): every concept's routes, the chat page, unknown paths
    server.py         SandboxServer (uvicorn in a thread) and the start-up banner
    config.py         the settings: TOML, flags, the demo
    store.py          one SQLite connection; each concept registers its own tables
    allowlists.py     IPv4 allow-lists (robots and apps)
    body_deadline.py  a body that does not arrive within body_timeout is answered 408
    path_ids.py       the {name:id} path parameter (at most 18 digits)
    bugs.py           the sandbox's own bugs: answered as 990001 / SandboxBug, listed at
                      /_sandbox/errors, the connection kept
    gateway/          what runs before a rule: method, token, grants, limits, failure modes,
                      the body (pipeline.py); each family's answers (answers.py); fields
                      (params.py)
    robot/            custom robots (§2): checks (rules.py), sending.py, groups and messages
                      (records.py), rendering (render.py, markdown.py), routes.py
    tokens/           apps and access tokens (§1): issuing and failure modes (issuer.py),
                      grants (grants.py: permission points, IP allow-list, monthly quota),
                      records.py, routes.py
    contacts/         the organisation (§5): generated people and departments (org.py,
                      names.py), changes (admin.py: the rules; changes.py: kept and
                      replayed), views.py, the API (routes.py) and admin routes
    approval/         approval (§3): templates.py (their config: template_config.py), the
                      state machine (instances.py), the events it causes
                      (callback_events.py), starting and changing (service.py), records.py,
                      both families (routes.py, routes_old.py), views.py
    calendar/         calendar events (§4): checks (model.py), rules.py, records.py, routes.py
    attendance/       attendance results and punches, generated (generator.py), routes.py
    notifications/    work notifications (§12): checks (model.py), sending.py, records.py,
                      routes.py
    callbacks/        event subscription (§7): what to push and the worker (hub.py; over
                      Stream for apps whose events go there), one HTTP push and the URL
                      check (exchange.py), records.py, routes.py
    stream/           Stream mode (§8.2): tickets.py, the WebSocket (session.py), frames.py,
                      delivery to connected apps (hub.py: push_callback, push_event),
                      routes.py
    bots/             app robots (§8.1, §12.3): conversations and session webhooks
                      (conversations.py), people writing to [[bot]]s and the delivery by
                      HTTP or Stream (talk.py), the OpenAPI sends (sending.py), records.py,
                      routes.py
    cards/            interactive and AI cards delivered into those conversations: the
                      rules (rules.py: create, deliver, update, streaming), the instances
                      (records.py; each delivered card is also a ``via: "card"`` message of
                      its conversation, rewritten as it changes), routes.py. A package of its
                      own, not part of bots/: cards are their own API family (Card.*
                      permissions, ``param.*`` codes) and outlive the robot reply that sent
                      them; they lean on bots/ only for conversations and their messages
    static/           the chat page

Adding an endpoint touches: its declaration and request builder in
``dingkit/resources/<concept>.py`` (an :class:`~dingkit._request.Endpoint`: method, path,
permission point, parameter error, limits), the facade line in
``dingkit/_api/_async/<concept>.py`` (``scripts/unasync.py`` writes the sync twin), the rule
in ``sandbox/<concept>/`` (a plain function raising the concept's error), one line in that
concept's ``routes.py`` (``gateway.routes([(ENDPOINT, handler)])``) and the tests. The
contract test (``tests/sandbox/test_contract.py``) fails while either side is missing, and
``tests/sandbox/test_codes_in_catalogue.py`` while a code it answers is not in the error
catalogue.
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
