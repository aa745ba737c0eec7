"""The relay's HTTP face (an ASGI app; ``dingkit relay serve`` runs it under uvicorn).

    POST /{source}/{route}      a webhook: 200 once stored, 4xx for bad input (kept in the
                                rejects), 503 when the outbox cannot store it
    POST /send/{robot}          a robot message body (``dingkit send --via-relay``)
    GET  /healthz               200 when the outbox answers, else 503
    GET  /metrics               Prometheus text
    GET  /                      the page: queues, budgets, holds, recent deliveries, dead letters
    GET  /api/state             the page's data
    POST /api/dead/{id}/replay  a dead letter back in the outbox
    POST /api/reload            the config file read again

Persist, then acknowledge: a webhook is answered 2xx only after its letters are committed,
and never 4xx because DingTalk is unhappy (delivery is the courier's business, later). The
page and ``/api`` are guarded as the sandbox's own surface is (:mod:`dingkit._admin_guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .._admin_guard import AdminGuard
from .._exceptions import ConfigurationError
from .._inbound import BODY_TIMEOUT, RefusalLog, Refused, read_body
from .._wire import parse_json_strict
from ..robot.messages import message_from_payload, to_payload
from . import auth
from .delivery import new_letter_id
from .errors import SourceError
from .intake import accept
from .metrics import render_metrics
from .outbox.base import Letter, OutboxUnavailable, Reject
from .service import Relay
from .sources import SOURCES

__all__ = ["MAX_BODY", "create_app"]

logger = logging.getLogger("dingkit.relay")

#: A webhook body, at most (GitHub caps its payloads at 25 MB; an Alertmanager group of
#: thousands of alerts is a few MB).
MAX_BODY = 8 * 1024 * 1024
_STATIC = Path(__file__).parent / "static"
#: The source and route label of a webhook to a path no route has.
_UNKNOWN = "(unknown)"


def create_app(
    relay: Relay,
    *,
    allowed_hosts: Collection[str] | None = None,
    admin_token: str | None = None,
    reload_on_sighup: bool = False,
) -> Starlette:
    """The ASGI app of ``relay``; its lifespan starts and stops the courier, and with
    ``reload_on_sighup`` a ``kill -HUP`` reads the config file again (a bad one is logged and
    the old one kept)."""
    refusals = RefusalLog(logger, "a webhook")

    async def webhook(request: Request) -> Response:
        source, name = request.path_params["source"], request.path_params["route"]
        try:
            return await _webhook(relay, request, source, name)
        except Refused as refused:
            refusals.log(refused, request.client.host if request.client else "?")
            if refused.reason in ("source", "route"):
                # Counted under one series: a scanner's guesses must not grow /metrics.
                source = source if refused.reason == "route" else _UNKNOWN
                name = _UNKNOWN
            relay.refused[(source, name, refused.reason)] += 1
            if refused.status in (400, 413, 415, 422):
                await _keep_reject(relay, source, name, refused.message, request)
            return refused.response()
        except OutboxUnavailable as error:
            logger.error("a webhook for %s/%s was not stored: %s", source, name, error)
            return JSONResponse(
                {"error": "unavailable", "message": f"not stored, send it again: {error}"},
                status_code=503,
                headers={"Retry-After": "10"},
            )

    async def send(request: Request) -> Response:
        robot = request.path_params["robot"]
        try:
            return await _send(relay, request, robot)
        except Refused as refused:
            refusals.log(refused, request.client.host if request.client else "?")
            return refused.response()
        except OutboxUnavailable as error:
            return JSONResponse(
                {"error": "unavailable", "message": f"not stored, send it again: {error}"},
                status_code=503,
            )

    async def healthz(request: Request) -> Response:
        try:
            backlog = await asyncio.to_thread(relay.outbox.backlog, relay.clock())
        except OutboxUnavailable as error:
            return JSONResponse({"ok": False, "outbox": str(error)}, status_code=503)
        return JSONResponse({"ok": True, "queued": sum(backlog.values())})

    async def metrics(request: Request) -> Response:
        try:
            text = await asyncio.to_thread(render_metrics, relay)
        except OutboxUnavailable as error:
            return PlainTextResponse(f"# outbox unavailable: {error}\n", status_code=503)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    async def page(request: Request) -> Response:
        return FileResponse(_STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def state(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(_state, relay))

    async def replay(request: Request) -> Response:
        letter_id = request.path_params["id"]
        found = await asyncio.to_thread(relay.outbox.replay, letter_id, now=relay.clock())
        if not found:
            return JSONResponse({"error": f"no dead letter {letter_id!r}"}, status_code=404)
        relay.courier.wake()
        return JSONResponse({"replayed": letter_id})

    async def reload(request: Request) -> Response:
        try:
            config = await relay.reload()
        except ConfigurationError as error:
            return JSONResponse({"error": "config", "message": str(error)}, status_code=400)
        except RuntimeError as error:
            return JSONResponse({"error": "config", "message": str(error)}, status_code=409)
        return JSONResponse({"robots": len(config.robots), "routes": len(config.routes)})

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Route("/static/relay.js", _static("relay.js", "text/javascript"), methods=["GET"]),
        Route("/api/state", state, methods=["GET"]),
        Route("/api/dead/{id}/replay", replay, methods=["POST"]),
        Route("/api/reload", reload, methods=["POST"]),
        Route("/send/{robot}", send, methods=["POST"]),
        Route("/{source}/{route}", webhook, methods=["POST"]),
    ]
    guard = Middleware(
        AdminGuard,
        allowed_hosts=allowed_hosts,
        admin_token=admin_token,
        admin="/api/",
        pages=("/static/",),
        server="relay",
    )

    async def reload_logged() -> None:
        try:
            await relay.reload()
        except (ConfigurationError, RuntimeError) as error:
            logger.error("config not reloaded, the old one kept: %s", error)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        hup = getattr(signal, "SIGHUP", None)
        if reload_on_sighup and hup is not None:
            loop.add_signal_handler(hup, lambda: loop.create_task(reload_logged()))
        await relay.start()
        try:
            yield
        finally:
            await relay.stop()
            if reload_on_sighup and hup is not None:
                loop.remove_signal_handler(hup)

    return Starlette(routes=routes, middleware=[guard], lifespan=lifespan)


def _static(name: str, media_type: str) -> Any:
    async def serve(request: Request) -> Response:
        return FileResponse(_STATIC / name, media_type=media_type)

    return serve


async def _webhook(relay: Relay, request: Request, source: str, name: str) -> Response:
    if source not in SOURCES:
        raise Refused(404, "source", f"no source {source!r}: one of {', '.join(SOURCES)}")
    route = relay.config.route(name, source)
    if route is None:
        raise Refused(404, "route", f"no {source} route named {name!r} in the relay's config")
    relay.received[(source, name)] += 1  # refused or not
    raw = await read_body(request, max_body=MAX_BODY, within=BODY_TIMEOUT)
    request.state.raw = raw  # for the rejects list, should it be refused
    auth.check(route, request.headers, raw, now=relay.clock())
    body = _parse_body(raw, request.headers.get("content-type", ""))
    try:
        accepted = await asyncio.to_thread(
            accept,
            relay.config,
            route,
            request.headers,
            body,
            relay.outbox,
            now=relay.clock(),
            lookup=relay.lookup,
        )
    except SourceError as error:
        raise Refused(422, "payload", str(error)) from None
    if accepted.duplicate:
        relay.duplicates[(source, name)] += 1
    elif accepted.robots:
        relay.courier.wake()
    if accepted.unresolved:
        logger.info("%s/%s: no userId for owners %s", source, name, ", ".join(accepted.unresolved))
    return JSONResponse(accepted.as_json())


def _parse_body(raw: bytes, content_type: str) -> Any:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        # GitHub's "application/x-www-form-urlencoded" content type: the JSON is in payload=.
        try:
            fields = parse_qs(raw.decode("utf-8"), strict_parsing=True, max_num_fields=100)
        except (UnicodeError, ValueError):
            raise Refused(400, "body", "the form body cannot be read") from None
        payloads = fields.get("payload")
        if not payloads:
            raise Refused(400, "body", "a form body must carry the JSON in payload=") from None
        raw = payloads[0].encode()
    if not raw.strip():
        raise Refused(400, "body", "the body is empty: send the webhook's JSON")
    try:
        return parse_json_strict(raw)
    except ValueError as error:
        raise Refused(400, "json", f"the body is not JSON: {error}") from None


async def _send(relay: Relay, request: Request, robot: str) -> Response:
    if robot not in {r.name for r in relay.config.robots}:
        raise Refused(404, "robot", f"no robot named {robot!r} in the relay's config")
    if relay.send_token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given:
            raise Refused(401, "auth", "send the relay's send token: Authorization: Bearer ...")
        if not hmac.compare_digest(given.encode(), relay.send_token.encode()):
            raise Refused(403, "auth", "the send token is not the relay's")
    raw = await read_body(request, max_body=1024 * 1024, within=BODY_TIMEOUT)
    try:
        data = parse_json_strict(raw)
        if not isinstance(data, dict):
            raise ValueError("the body must be a robot message object")
        message = message_from_payload(data)
    except ValueError as error:
        raise Refused(400, "message", f"not a robot message: {error}") from None
    now = relay.clock()
    letter = Letter(
        id=new_letter_id(now),
        robot=robot,
        route="",
        source="send",
        severity="info",
        group="send",
        message=to_payload(message),
        created=now,
    )
    await asyncio.to_thread(relay.outbox.put, [letter])
    relay.courier.wake()
    return JSONResponse({"accepted": True, "id": letter.id, "robot": robot})


async def _keep_reject(
    relay: Relay, source: str, route: str, reason: str, request: Request
) -> None:
    raw: bytes = getattr(request.state, "raw", b"")  # absent when the body never arrived
    excerpt = raw[:300].decode("utf-8", "replace")
    reject = Reject(at=relay.clock(), source=source, route=route, reason=reason, excerpt=excerpt)
    with contextlib.suppress(OutboxUnavailable):  # the 4xx still goes back, logged
        await asyncio.to_thread(relay.outbox.reject, reject)


def _state(relay: Relay) -> dict[str, Any]:
    now = relay.clock()
    backlog = relay.outbox.backlog(now)
    holds = relay.outbox.holds(now)
    robots = []
    for robot in relay.config.robots:
        hold = holds.get(robot.name)
        robots.append(
            {
                "name": robot.name,
                "pool": robot.pool,
                "queued": backlog.get(robot.name, 0),
                "sent_last_minute": relay.courier.sent_within(robot.name, 60.0),
                "delivered": relay.courier.counters.delivered.get(robot.name, 0),
                "held": None
                if hold is None
                else {"reason": hold.reason, "since": hold.since, "until": hold.until},
            }
        )
    return {
        "now": now,
        "robots": robots,
        "recent": [vars_of(d) for d in relay.outbox.recent(50)],
        "dead": [
            {
                "id": e.id,
                "robot": e.robot,
                "route": e.route,
                "attempts": e.attempts,
                "error": e.last_error,
                "created": e.created,
            }
            for e in relay.outbox.dead_letters(100)
        ],
        "rejects": [vars_of(r) for r in relay.outbox.rejects(50)],
    }


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}
