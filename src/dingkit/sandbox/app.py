"""The sandbox as an ASGI app: every concept's routes on one address, the chat page and its
static files.

    app = create_app(Sandbox.from_settings(data_dir="./.sandbox"))

DingTalk's paths answer in their family's shape whatever a client sends (an unknown path or
a wrong method included); the sandbox's own ``/_sandbox/*`` paths answer JSON.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .._admin_guard import AdminGuard
from .approval import routes as approval_routes
from .approval import routes_old as approval_old_routes
from .attendance import routes as attendance_routes
from .body_deadline import BodyDeadline
from .bots import routes as bots_routes
from .bugs import BugCatcher, recorded_bugs
from .calendar import routes as calendar_routes
from .callbacks import routes as callbacks_routes
from .cards import routes as cards_routes
from .contacts import admin_routes as contacts_admin_routes
from .contacts import routes as contacts_routes
from .core import Sandbox
from .gateway.pipeline import Gateway, method_not_allowed, not_found
from .notifications import routes as notifications_routes
from .robot import routes as robot_routes
from .stream import routes as stream_routes
from .tokens import routes as tokens_routes

__all__ = ["create_app", "sandbox_routes"]

_STATIC = Path(__file__).parent / "static"


def sandbox_routes(sandbox: Sandbox) -> list[BaseRoute]:
    """Every concept's routes: DingTalk's endpoints and the sandbox's own views."""
    gateway = Gateway(sandbox)
    return [
        *robot_routes.routes(sandbox),
        *tokens_routes.routes(gateway),
        *contacts_routes.routes(gateway),
        *contacts_admin_routes.routes(sandbox),
        *attendance_routes.routes(gateway),
        *approval_routes.routes(gateway),
        *approval_old_routes.routes(gateway),
        *calendar_routes.routes(gateway),
        *notifications_routes.routes(gateway),
        *callbacks_routes.routes(gateway),
        *stream_routes.routes(gateway),
        *bots_routes.routes(gateway),
        *cards_routes.routes(gateway),
    ]


def create_app(
    sandbox: Sandbox,
    *,
    allowed_hosts: Collection[str] | None = None,
    admin_token: str | None = None,
) -> Starlette:
    """The ASGI app serving ``sandbox``; ``allowed_hosts`` are the names its own surface
    (``/_sandbox/*``, the page) answers under (``None``: any, for an app embedded in-process;
    :class:`~.server.SandboxServer` passes the loopback names); ``admin_token``, when given,
    is required of every ``/_sandbox`` call (see :mod:`dingkit._admin_guard`)."""

    async def chat_page(request: Request) -> Response:
        return FileResponse(_STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def errors(request: Request) -> Response:
        return JSONResponse({"bugs": recorded_bugs()})

    routes = [
        *sandbox_routes(sandbox),
        Route("/_sandbox/health", health),
        Route("/_sandbox/errors", errors, methods=["GET"]),
        Route("/", chat_page),
        Mount("/static", app=StaticFiles(directory=_STATIC), name="static"),
    ]
    handlers = {404: not_found, 405: method_not_allowed}
    guard = Middleware(AdminGuard, allowed_hosts=allowed_hosts, admin_token=admin_token)
    deadline = Middleware(BodyDeadline, seconds=sandbox.config.body_timeout)
    app = Starlette(
        routes=routes,
        exception_handlers=handlers,
        middleware=[guard, Middleware(BugCatcher), deadline],
    )
    app.state.sandbox = sandbox
    return app
