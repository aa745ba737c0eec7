"""Session-webhook replies on the bot's own kept-alive connections: a bot's hot path.

Every message a bot answers costs one POST to its ``sessionWebhook`` (§8.1 item 2). Through
httpx that POST cost about three quarters of the CPU a Stream bot spent on a message (request
building, the cookie jar, the connection pool re-checking each idle connection through anyio:
``bench/bot.py --profile``), more than reading the frame, routing and acking together. Here
the same request, built by the same :func:`~dingkit.robot.session.session_reply` (validation,
mention text) and read by the same :func:`~dingkit._request.parse_answer` (the error catalogue:
300001 is :class:`~dingkit.SessionExpiredError`, and so on), goes out as bytes written on an
asyncio connection kept for the next reply.

Only the plain case is handled here; everything else is the client's (``client.request``):
a proxy in the environment for the webhook's host (httpx's ``trust_env`` reading), a client
built on a caller's own ``httpx.AsyncClient`` (a mock transport, mounts), a connection that
cannot be opened (nothing was sent: the client tries again as it would), and an answer the
catalogue says to retry. TLS trusts what httpx trusts (:func:`httpx.create_ssl_context`:
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi). Once bytes have been written and no answer
came, the reply is not repeated (the session webhook is not idempotent, as the client decides
for it) and :class:`~dingkit.APIConnectionError` is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from .. import __version__
from .._exceptions import APIError
from .._request import parse_answer
from ..robot.session import session_reply

if TYPE_CHECKING:
    from .._async_client import AsyncDingTalk
    from ..robot.messages import RobotMessage

__all__ = ["SessionPoster"]

#: Idle connections kept per host; a bot's replies run at most ``Bot.concurrency`` at once.
MAX_IDLE = 32
#: An idle connection is not reused after this long: servers close theirs after a few seconds
#: (uvicorn after 5), and a POST written into a closing connection cannot be safely repeated.
IDLE_FOR = 4.0
#: The answer's head and body are a few dozen bytes (``{"errcode":0,"errmsg":"ok"}``).
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class _NotSent(Exception):
    """The connection could not be opened: nothing reached the server."""


class _NoAnswer(Exception):
    """Bytes were written but no whole answer came back."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < IDLE_FOR
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class SessionPoster:
    """Posts replies to session webhooks for one client; :meth:`aclose` when done.

    Args:
        client: the app's client: its oapi base (where replies go), timeout, clock, logging
            and retry policy; its ``request`` takes every case this class does not.
        environ: where proxies are read from (the process environment by default).
    """

    def __init__(self, client: AsyncDingTalk, *, environ: Mapping[str, str] | None = None):
        self.client = client
        self._proxies = _environment_proxies(environ)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def reply(self, url: str, message: RobotMessage | str) -> dict[str, Any]:
        """What ``client.robot.reply(url, message)`` does, cheaper; the same answers and
        errors."""
        client = self.client
        request = session_reply(url, message, oapi_base=client.oapi_base)
        call = client._call(request, None)
        target = urlsplit(call.url)
        if not client._owns_client or self._proxied(target.scheme, target.hostname or ""):
            return await client.request(request)
        started = time.monotonic()
        try:
            async with asyncio.timeout(client.timeout):
                status, content = await self._exchange(
                    target.scheme,
                    target.hostname or "",
                    target.port,
                    f"{target.path}?{urlencode(call.params)}" if call.params else target.path,
                    call.headers,
                    call.content or b"",
                )
        except _NotSent:
            return await client.request(request)  # it tries again, as for a refused connect
        except (_NoAnswer, OSError, TimeoutError, ssl.SSLError) as exc:
            cause: httpx.HTTPError = (
                httpx.ReadTimeout(str(exc))
                if isinstance(exc, TimeoutError)
                else httpx.ReadError(str(exc) or type(exc).__name__)
            )
            error = client._connection_error(cause, request)
            client._log_exchange(request, None, error, started)
            raise error from None
        try:
            result = parse_answer(request, status, content, clock=client.clock)
        except APIError as api_error:
            client._log_exchange(request, status, api_error, started)
            if client._may_retry(1, api_error, request, True):
                client._log_retry(request, 1, api_error, 0.0)
                return await client.request(request)
            raise
        client._log_exchange(request, status, None, started)
        return result

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    # -- the exchange ----------------------------------------------------------------------

    def _proxied(self, scheme: str, host: str) -> bool:
        if not (self._proxies.get(scheme) or self._proxies.get("all")):
            return False
        # In urllib since Python 2, not in typeshed.
        return not urllib.request.proxy_bypass_environment(host, self._proxies)  # type: ignore[attr-defined]

    async def _exchange(
        self,
        scheme: str,
        host: str,
        port: int | None,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, bytes]:
        port = port or (443 if scheme == "https" else 80)
        key = (scheme, host, port)
        connection = self._take(key)
        if connection is None:
            connection = await self._open(scheme, host, port)
        authority = host if port in (80, 443) else f"{host}:{port}"
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        connection.writer.write(
            f"POST {target} HTTP/1.1\r\nHost: {authority}\r\n{head}"
            f"User-Agent: dingkit/{__version__}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            await connection.writer.drain()
            status, content, keep = await _read_answer(connection.reader)
        except BaseException:
            connection.close()
            raise
        if keep:
            connection.idle_since = time.monotonic()
            pool = self._idle.setdefault(key, [])
            if len(pool) < MAX_IDLE:
                pool.append(connection)
                return status, content
        connection.close()
        return status, content

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            connection = pool.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _open(self, scheme: str, host: str, port: int) -> _Connection:
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            context = self._ssl
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        except (OSError, ssl.SSLError) as exc:
            raise _NotSent(str(exc)) from exc
        return _Connection(reader, writer, time.monotonic())


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """An HTTP/1.1 answer: its status, body, and whether the connection may be kept."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise _NoAnswer("the server closed the connection without answering") from exc
    except asyncio.LimitOverrunError as exc:
        raise _NoAnswer("the answer's head is too long") from exc
    if len(head) > MAX_HEAD:
        raise _NoAnswer("the answer's head is too long")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdecimal() or not code.isascii():
        raise _NoAnswer(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    keep = version != "HTTP/1.0" and "close" not in fields.get("connection", "").lower()
    try:
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif "content-length" in fields:
            length = fields["content-length"]
            if not length.isdecimal() or not length.isascii() or int(length) > MAX_BODY:
                raise _NoAnswer(f"a Content-Length of {length[:20]!r}")
            body = await reader.readexactly(int(length))
        else:
            body, keep = await reader.read(MAX_BODY), False  # to the end of the connection
    except asyncio.IncompleteReadError as exc:
        raise _NoAnswer("the connection closed in the middle of the answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise _NoAnswer("a chunk-size line is too long") from exc
    return int(code), body, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            length = int(line, 16)
        except ValueError:
            raise _NoAnswer(f"a chunk size of {line[:20]!r}") from None
        if length == 0:
            with contextlib.suppress(asyncio.IncompleteReadError):
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
            return b"".join(parts)
        size += length
        if size > MAX_BODY:
            raise _NoAnswer("the answer is too long")
        parts.append(await reader.readexactly(length))
        await reader.readexactly(2)


def _environment_proxies(environ: Mapping[str, str] | None) -> dict[str, str]:
    """Proxies as httpx's ``trust_env`` finds them (``HTTP(S)_PROXY``, ``ALL_PROXY``,
    ``NO_PROXY``, either case), keyed by lower-case scheme, ``all`` and ``no``."""
    found: dict[str, str] = {}
    for name, value in (os.environ if environ is None else environ).items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy"):
            found.setdefault(lowered[: -len("_proxy")], value)
    return found
