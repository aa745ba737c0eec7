"""The sandbox as an ASGI app: DingTalk's robot endpoint, a JSON view of what it received, the
chat page, and the server APIs of both families (tokens, contacts, attendance: see
:mod:`.openapi`) over a generated organisation, all on one address.

    app = create_app(Sandbox.from_settings(data_dir="./.sandbox"))

Everything bad a client can send gets DingTalk's answer (HTTP 200 with an ``errcode``) or,
on the sandbox's own endpoints, a 4xx JSON error: never a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .apps import AppGuard, TokenIssuer
from .callbacks import CallbackHub
from .config import AppConfig, ErrcodeEra, RobotConfig, SandboxConfig, demo_apps, demo_config
from .openapi import not_found, openapi_routes
from .org import Organization, generate_org
from .org_changes import replay
from .render import message_preview, render_message
from .robot_rules import RobotJudge, robot_error
from .store import SandboxStore, StoredMessage, StoredRobot

__all__ = ["Sandbox", "create_app"]

logger = logging.getLogger("dingkit.sandbox")
_STATIC = Path(__file__).parent / "static"
# Bodies past this are refused without being read whole (the real limit is 20000 bytes).
_READ_LIMIT = 1_000_000


class Sandbox:
    """The sandbox's state and rules, independent of any server.

    Args:
        config: groups, robots, apps and settings.
        store: where history (and the apps' credentials) live.
        clock: wall-clock seconds; tests pass a fake to move time (robot rules, token expiry,
            the QPS windows).
    """

    def __init__(
        self,
        config: SandboxConfig,
        store: SandboxStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.judge = RobotJudge(clock=clock, limits=config.limits)
        self.tokens = TokenIssuer(clock=clock, ttl=config.token_ttl)
        self.guard = AppGuard(clock=clock, qps=config.qps if config.limits else 0)
        for group in config.all_groups():
            store.upsert_group(group)
        for robot in config.robots:
            store.upsert_robot(robot)
        for app in config.apps:
            store.upsert_app(app)
        #: Event subscriptions and pushes (§7); servers start its worker, tests call
        #: ``callbacks.deliver_due()``.
        self.callbacks = CallbackHub(self)

    @cached_property
    def org(self) -> Organization:
        """The organisation, generated on first use from the seed, with the stored changes
        (people and departments added, changed or removed) replayed over it."""
        generated = generate_org(
            seed=self.config.seed,
            size=self.config.org_size,
            depth=self.config.org_depth,
            corp_id=self.config.corp_id,
        )
        return replay(generated, self.store.org_changes.all())

    def change_org(self, kind: str, data: dict[str, Any]) -> Organization:
        """Store a checked change (:mod:`.org_changes`) and rebuild the organisation: a new
        object, so caches keyed by the organisation (calendar people) start afresh."""
        self.store.org_changes.add(kind, data, int(self.clock() * 1000))
        self.__dict__.pop("org", None)
        return self.org

    @classmethod
    def from_settings(
        cls,
        *,
        config: SandboxConfig | None = None,
        data_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        errcodes: ErrcodeEra | None = None,
        limits: bool | None = None,
        org_size: int | None = None,
        org_depth: int | None = None,
        seed: int | None = None,
    ) -> Sandbox:
        """Open (or create) the store under ``data_dir`` (in memory when ``None``).

        Without a config, the robots already in the store are kept, so a restarted demo keeps
        its webhook URLs; an empty store gets the demo group and robots. Likewise, without
        ``[[app]]`` tables the stored apps are kept, and an empty store gets the demo apps.
        ``errcodes``, ``limits``, ``org_size``, ``org_depth`` and ``seed``, when given, override
        the config's (command-line flags).
        """
        store = SandboxStore(Path(data_dir) / "sandbox.sqlite3" if data_dir else ":memory:")
        if config is None:
            config = SandboxConfig() if store.has_robots() else demo_config()
        overrides: dict[str, object] = {}
        if not config.apps and not store.has_apps():
            overrides["apps"] = demo_apps()
        if errcodes is not None:
            overrides["errcodes"] = errcodes
        if limits is not None:
            overrides["limits"] = limits
        if org_size is not None:
            overrides["org_size"] = org_size
        if org_depth is not None:
            overrides["org_depth"] = org_depth
        if seed is not None:
            overrides["seed"] = seed
        return cls(config.model_copy(update=overrides), store, clock=clock)

    def close(self) -> None:
        self.store.close()

    def add_robot(self, robot: RobotConfig) -> None:
        self.store.upsert_robot(robot)

    def add_app(self, app: AppConfig) -> AppConfig:
        """Add (or replace, by name) an app; a test's one line for a failure mode::

        sandbox.add_app(AppConfig(name="t", app_key="throttled-t", app_secret="s"))
        """
        self.store.upsert_app(app)
        return app


def _message_json(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "group": message.group,
        "robot": message.robot,
        "msgtype": message.msgtype,
        "msg_uuid": message.msg_uuid,
        "payload": message.payload,
        "html": render_message(message.payload),
        "preview": message_preview(message.payload),
        "received_at": message.received_at,
    }


def _robot_json(robot: StoredRobot, base_url: str) -> dict[str, Any]:
    return {
        "name": robot.name,
        "group": robot.group,
        "token": robot.token,
        "secret": robot.secret,
        "keywords": list(robot.keywords),
        "ip_allowlist": list(robot.ip_allowlist),
        "disabled": robot.disabled,
        "webhook": f"{base_url}/robot/send?access_token={robot.token}",
    }


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.lstrip("-").isdigit():
        raise ValueError(f"query parameter {name!r} must be an integer, got {value!r}")
    return int(value)


def create_app(sandbox: Sandbox) -> Starlette:
    """The ASGI app serving ``sandbox``."""
    era = sandbox.config.errcodes

    async def robot_send(request: Request) -> Response:
        token = request.query_params.get("access_token", "")
        body = await _read_body(request)
        robot = sandbox.store.robot_by_token(token) if token else None

        def reject(reason: str, details: dict[str, str] | None = None) -> Response:
            errcode, errmsg = robot_error(reason, era, **(details or {}))
            sandbox.store.add_rejection(
                robot=robot, errcode=errcode, errmsg=errmsg, reason=reason, body=body
            )
            logger.info(
                "robot %s: rejected (%s, errcode %d)", robot.name if robot else "?", reason, errcode
            )
            return JSONResponse({"errcode": errcode, "errmsg": errmsg})

        if robot is None:
            return reject("unknown_token")
        outcome = sandbox.judge.check_request(
            robot,
            content_type=request.headers.get("content-type", ""),
            client_ip=request.client.host if request.client else None,
            query=request.query_params,
            body=body,
        )
        if outcome.reason is not None:
            return reject(outcome.reason, dict(outcome.details or {}))
        assert outcome.payload is not None
        assert outcome.message is not None
        msg_uuid = outcome.payload.get("msgUuid")
        msg_uuid = msg_uuid if isinstance(msg_uuid, str) and msg_uuid else None
        if msg_uuid is not None and sandbox.store.has_message(robot.name, msg_uuid):
            # A resend after a timeout: DingTalk shows the message once (§2.1, msgUuid).
            return JSONResponse({"errcode": 0, "errmsg": "ok"})
        limited = sandbox.judge.take_rate_slot(robot)
        if limited is not None and limited.reason is not None:
            return reject(limited.reason)
        sandbox.store.add_message(robot, outcome.message.msgtype, msg_uuid, outcome.payload)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def groups(request: Request) -> Response:
        result = []
        for group in sandbox.store.groups():
            last_id = group.pop("last_id")
            last = (
                sandbox.store.messages(group=group["id"], after=last_id - 1, limit=1)
                if last_id
                else []
            )
            group["last_message"] = _message_json(last[0]) if last else None
            result.append(group)
        return JSONResponse({"groups": result})

    async def robots(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"robots": [_robot_json(r, base) for r in sandbox.store.robots()]})

    async def messages(request: Request) -> Response:
        try:
            after = _int_param(request, "after", 0)
            limit = min(max(_int_param(request, "limit", 500), 1), 5000)
        except ValueError as exc:
            return _bad_request(str(exc))
        found = sandbox.store.messages(
            group=request.query_params.get("group") or None,
            robot=request.query_params.get("robot") or None,
            after=after,
            limit=limit,
        )
        return JSONResponse({"messages": [_message_json(m) for m in found]})

    async def clear_messages(request: Request) -> Response:
        sandbox.store.clear_history()
        return JSONResponse({"cleared": True})

    async def rejections(request: Request) -> Response:
        try:
            after = _int_param(request, "after", 0)
            limit = min(max(_int_param(request, "limit", 500), 1), 5000)
        except ValueError as exc:
            return _bad_request(str(exc))
        found = sandbox.store.rejections(
            robot=request.query_params.get("robot") or None, after=after, limit=limit
        )
        return JSONResponse({"rejections": [asdict(r) for r in found]})

    async def robot_switch(request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("disable", "enable"):
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        if not sandbox.store.set_robot_disabled(name, action == "disable"):
            return JSONResponse({"error": f"no robot named {name!r}"}, status_code=404)
        return JSONResponse({"robot": name, "disabled": action == "disable"})

    async def group_switch(request: Request) -> Response:
        group_id, action = request.path_params["id"], request.path_params["action"]
        if action not in ("dissolve", "restore"):
            return JSONResponse({"error": f"unknown action {action!r}"}, status_code=404)
        if not sandbox.store.set_group_dissolved(group_id, action == "dissolve"):
            return JSONResponse({"error": f"no group {group_id!r}"}, status_code=404)
        return JSONResponse({"group": group_id, "dissolved": action == "dissolve"})

    async def chat_page(request: Request) -> Response:
        return FileResponse(_STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/robot/send", robot_send, methods=["POST"]),
        Route("/_sandbox/groups", groups),
        Route("/_sandbox/robots", robots),
        Route("/_sandbox/messages", messages, methods=["GET"]),
        Route("/_sandbox/messages", clear_messages, methods=["DELETE"]),
        Route("/_sandbox/rejections", rejections),
        Route("/_sandbox/robots/{name}/{action}", robot_switch, methods=["POST"]),
        Route("/_sandbox/groups/{id}/{action}", group_switch, methods=["POST"]),
        Route("/_sandbox/health", health),
        Route("/", chat_page),
        Mount("/static", app=StaticFiles(directory=_STATIC), name="static"),
        *openapi_routes(sandbox),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: _internal_error, 404: not_found})
    app.state.sandbox = sandbox
    return app


async def _read_body(request: Request) -> bytes:
    """The body, cut short once it is far over any limit (enough to refuse it as too large)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > _READ_LIMIT:
            break
    return b"".join(chunks)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("sandbox bug while serving %s", request.url.path)
    return JSONResponse({"errcode": -1, "errmsg": "系统繁忙"}, status_code=200)
