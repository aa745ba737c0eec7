"""The guard in front of a local server's own surface (the sandbox's ``/_sandbox/*`` and chat
page, the relay's ``/api/*`` and page), so that a web page the user happens to open cannot
drive it (issue 10, defect 5):

- a foreign ``Host`` is refused (DNS rebinding: a hostile name resolving to 127.0.0.1);
- an ``Origin`` other than the sandbox's own is refused (a cross-site request);
- a ``POST`` must say ``Content-Type: application/json``, which a page on another origin
  cannot send without a CORS preflight the sandbox never grants ("simple" form posts are
  refused).

When the server is bound beyond loopback, every admin call must also carry the run's admin
token (printed in the banner; the page takes it from its URL's fragment) in
``X-Dingkit-Admin-Token``: without it nothing is served, robot and app secrets included.

The paths other programs post to (DingTalk's in the sandbox, the webhooks of the relay) are
not guarded: clients reach them under whatever name they use.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ADMIN_TOKEN_HEADER", "LOOPBACK_NAMES", "AdminGuard", "is_loopback"]

#: The header an admin call carries the run's token in (when there is one).
ADMIN_TOKEN_HEADER = "X-Dingkit-Admin-Token"

#: The names a loopback-bound server answers its own surface under.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str:
    if host.startswith("["):  # [::1]:8765
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class AdminGuard:
    """ASGI middleware; ``allowed_hosts`` ``None`` checks no ``Host`` (an app embedded in a
    process, or a server bound to every interface); ``admin_token`` ``None`` asks for none
    (loopback). ``admin`` is the prefix of the admin routes, ``pages`` the paths of the page
    and its files (checked for ``Host`` only), ``server`` how messages name the server."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Collection[str] | None = None,
        admin_token: str | None = None,
        admin: str = "/_sandbox/",
        pages: tuple[str, ...] = ("/static/",),
        server: str = "sandbox",
    ) -> None:
        self.app = app
        self.admin, self.pages, self.server = admin, pages, server
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)
        self.admin_token = None if admin_token is None else admin_token.encode()

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
        own = path.startswith((self.admin, *self.pages)) or path == "/"
        if not own:
            return None
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            return 403, (
                f"Host {host!r} is not this {self.server}'s: open it as "
                f"{' or '.join(sorted(self.allowed_hosts))}"
            )
        if not path.startswith(self.admin):
            return None
        if self.admin_token is not None:
            given = headers.get(ADMIN_TOKEN_HEADER.lower(), "").encode()
            if not hmac.compare_digest(given, self.admin_token):
                return 401, (
                    f"this {self.server} listens beyond loopback: send the admin token its banner "
                    f"printed in the {ADMIN_TOKEN_HEADER} header (or open the page link it printed)"
                )
        origin = headers.get("origin")
        if origin is not None and origin != f"{scope.get('scheme', 'http')}://{host}":
            return 403, f"requests from {origin} may not use the {self.server}'s admin routes"
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and kind != "application/json":
            return 415, (
                f"send the {self.server}'s admin actions with Content-Type: application/json"
            )
        return None
