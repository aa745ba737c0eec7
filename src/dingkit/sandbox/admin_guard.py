"""The guard in front of the sandbox's own surface (``/_sandbox/*`` and the chat page), so
that a web page the user happens to open cannot drive it (issue 10, defect 5):

- a foreign ``Host`` is refused (DNS rebinding: a hostile name resolving to 127.0.0.1);
- an ``Origin`` other than the sandbox's own is refused (a cross-site request);
- a ``POST`` must say ``Content-Type: application/json``, which a page on another origin
  cannot send without a CORS preflight the sandbox never grants ("simple" form posts are
  refused).

DingTalk's own paths are not guarded: clients reach them under whatever name they use.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_NAMES", "AdminGuard"]

#: The names a loopback-bound sandbox answers its own surface under.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def _hostname(host: str) -> str:
    if host.startswith("["):  # [::1]:8765
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class AdminGuard:
    """ASGI middleware; ``allowed_hosts`` ``None`` checks no ``Host`` (an app embedded in a
    process, or a sandbox bound to every interface)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Collection[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                status, message = refusal
                await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        path: str = scope.get("path", "")
        own = path.startswith(("/_sandbox/", "/static/")) or path == "/"
        if not own:
            return None
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            return 403, (
                f"Host {host!r} is not this sandbox's: open it as "
                f"{' or '.join(sorted(self.allowed_hosts))}"
            )
        if not path.startswith("/_sandbox/"):
            return None
        origin = headers.get("origin")
        if origin is not None and origin != f"{scope.get('scheme', 'http')}://{host}":
            return 403, f"requests from {origin} may not use the sandbox's admin routes"
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and kind != "application/json":
            return 415, "send the sandbox's admin actions with Content-Type: application/json"
        return None
