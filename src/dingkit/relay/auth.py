"""Inbound authentication of a route's webhooks. No I/O.

:func:`check` refuses a request with :class:`~dingkit._inbound.Refused`: **401** when the
credential is missing (no header, another scheme), **403** when it is there but malformed or
wrong. The reason is one line naming the header, never its value nor the secret. Every
comparison is constant-time (:func:`hmac.compare_digest` on bytes: a ``str`` compare would
raise on a non-ASCII header value).

What each kind checks:

- ``bearer``: ``Authorization: Bearer <token>`` (RFC 6750; the scheme is case-insensitive).
- ``basic``: ``Authorization: Basic base64(user:password)`` (RFC 7617).
- ``hmac``: ``<header>: <prefix><digest>``, the digest of the raw body keyed with the secret,
  hex (either case) or base64.
- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` (GitHub's
  "Validating webhook deliveries"; it sends the header only when the hook has a secret).
- ``gitlab``: ``X-Gitlab-Token`` equal to the hook's secret token (GitLab's "Webhooks" docs).
- ``grafana``: Grafana's contact-point "HMAC Signature". From Grafana's webhook-notifier docs
  (grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/
  integrations/webhook-notifier/, "HMAC signature"): the signature is HMAC-SHA256 with the
  secret, hex-encoded, in the configured header, "Default is X-Grafana-Alerting-Signature";
  with a "Timestamp Header" configured (no default name) a Unix timestamp is sent in it and
  the signature covers ``timestamp + ":" + body``, else the body alone. grafana/alerting's
  ``http/hmac.go`` (``HMACRoundTripper.sign``) does exactly that, in seconds
  (``clk.Now().Unix()``), but its ``defaultHeaderName`` is ``X-Grafana-Alert-Signature``
  while its form's placeholder (``receivers/webhook/v1/config.go``) is the docs' name [I:
  they disagree; the UI fills the header in]. So when a route names no header, either is
  accepted (both must carry the right HMAC). Grafana signs each attempt afresh, so a
  retry carries a new timestamp [I, from the round tripper signing per request].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping

from .._inbound import Refused
from .config import (
    BasicAuth,
    BearerAuth,
    GitHubAuth,
    GitLabAuth,
    GrafanaAuth,
    HmacAuth,
    RouteConfig,
)

__all__ = [
    "GITHUB_HEADER",
    "GITLAB_HEADER",
    "GRAFANA_HEADERS",
    "check",
    "headers_for",
]

GITHUB_HEADER = "X-Hub-Signature-256"
GITLAB_HEADER = "X-Gitlab-Token"
#: The docs' default first, then grafana/alerting's code default (see the module docstring).
GRAFANA_HEADERS = ("X-Grafana-Alerting-Signature", "X-Grafana-Alert-Signature")
_MAX_TIMESTAMP_DIGITS = 12
_HEX = re.compile(r"[0-9a-fA-F]+")


def _raw(value: str) -> bytes:
    """The header's bytes: ASGI servers decode headers as latin-1, so this undoes it."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _same(given: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(given, expected)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _missing(what: str) -> Refused:
    return Refused(401, "auth_missing", what)


def _malformed(what: str) -> Refused:
    return Refused(403, "auth_malformed", what)


def _wrong(what: str) -> Refused:
    return Refused(403, "auth_mismatch", what)


def _authorization(h: Mapping[str, str], scheme: str) -> bytes:
    value = h.get("authorization", "").strip()
    if not value:
        raise _missing(f"no Authorization header: send Authorization: {scheme} ...")
    given, _, credentials = value.partition(" ")
    if given.lower() != scheme.lower() or not credentials.strip():
        raise _missing(f"the Authorization header is not {scheme} credentials")
    return _raw(credentials.strip())


def _check_bearer(auth: BearerAuth, h: Mapping[str, str]) -> None:
    token = _authorization(h, "Bearer")
    if not _same(token, auth.token.get_secret_value().encode()):
        raise _wrong("the bearer token is wrong")


def _check_basic(auth: BasicAuth, h: Mapping[str, str]) -> None:
    encoded = _authorization(h, "Basic")
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("the Basic credentials are not base64") from None
    user, colon, password = decoded.partition(b":")
    if not colon:
        raise _malformed("the Basic credentials are not user:password")
    user_ok = _same(user, auth.username.encode())
    password_ok = _same(password, auth.password.get_secret_value().encode())
    if not (user_ok & password_ok):  # both compared, whichever is wrong
        raise _wrong("the user name or password is wrong")


def _digest(secret: str, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()


def _decode(value: str, *, header: str, prefix: str, encoding: str, size: int) -> bytes:
    """The digest a signature header carries, or 403 saying what shape was expected."""
    text = value.strip()
    if prefix:
        if text[: len(prefix)].lower() != prefix.lower():
            raise _malformed(f"{header} does not start with {prefix!r}")
        text = text[len(prefix) :]
    if encoding == "hex":
        # bytes.fromhex() would skip spaces: only the 0-9a-fA-F digits of a digest pass.
        if len(text) != 2 * size or not _HEX.fullmatch(text):
            raise _malformed(f"{header} is not a hex digest of {2 * size} characters")
        return bytes.fromhex(text)
    try:
        digest = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _malformed(f"{header} is not base64") from None
    if len(digest) != size:
        raise _malformed(f"{header} is not a {size}-byte digest")
    return digest


def _signature(
    h: Mapping[str, str],
    headers: tuple[str, ...],
    *,
    secret: str,
    message: bytes,
    algorithm: str = "sha256",
    encoding: str = "hex",
    prefix: str = "",
) -> None:
    present = [name for name in headers if h.get(name.lower(), "").strip()]
    if not present:
        raise _missing(f"no {headers[0]} header: the sender must sign with the route's secret")
    expected = _digest(secret, message, algorithm)
    for name in present:
        given = _decode(
            h[name.lower()], header=name, prefix=prefix, encoding=encoding, size=len(expected)
        )
        if _same(given, expected):
            return
    raise _wrong(f"the {present[0]} signature does not match the body and the route's secret")


def _check_grafana(auth: GrafanaAuth, h: Mapping[str, str], body: bytes, now: float) -> None:
    headers = (auth.header,) if auth.header else GRAFANA_HEADERS
    message = body
    if auth.timestamp_header:
        stamp = h.get(auth.timestamp_header.lower(), "").strip()
        if not stamp:
            raise _missing(f"no {auth.timestamp_header} header (the signature's timestamp)")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
            raise _malformed(f"{auth.timestamp_header} is not a Unix time in seconds")
        age = now - int(stamp)
        if abs(age) > auth.max_age:
            side = "old" if age > 0 else "in the future"
            raise Refused(
                403,
                "auth_stale",
                f"{auth.timestamp_header} is {int(abs(age))} s {side}; allowed: {auth.max_age} s",
            )
        message = stamp.encode() + b":" + body
    _signature(h, headers, secret=auth.secret.get_secret_value(), message=message)


def check(
    route: RouteConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Accept the request or raise :class:`~dingkit._inbound.Refused` (401 or 403).

    Args:
        route: the route the request came to; no ``auth`` accepts everything.
        headers: the request headers, in any case (a plain dict or Starlette's ``Headers``).
        body: the raw body, exactly as received (signatures cover its bytes).
        now: Unix seconds, for Grafana's timestamp; the current time by default.
    """
    auth = route.auth
    if auth is None:
        return
    h = _lower(headers)
    if isinstance(auth, BearerAuth):
        _check_bearer(auth, h)
    elif isinstance(auth, BasicAuth):
        _check_basic(auth, h)
    elif isinstance(auth, GitLabAuth):
        token = h.get(GITLAB_HEADER.lower(), "").strip()
        if not token:
            raise _missing(f"no {GITLAB_HEADER} header: set the webhook's secret token in GitLab")
        if not _same(_raw(token), auth.token.get_secret_value().encode()):
            raise _wrong(f"the {GITLAB_HEADER} is wrong")
    elif isinstance(auth, GitHubAuth):
        secret = auth.secret.get_secret_value()
        _signature(h, (GITHUB_HEADER,), secret=secret, message=body, prefix="sha256=")
    elif isinstance(auth, HmacAuth):
        _signature(
            h,
            (auth.header,),
            secret=auth.secret.get_secret_value(),
            message=body,
            algorithm=auth.algorithm,
            encoding=auth.encoding,
            prefix=auth.prefix,
        )
    else:
        _check_grafana(auth, h, body, time.time() if now is None else now)


def headers_for(route: RouteConfig, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers a sender puts on ``body`` to pass ``route``'s auth: for ``dingkit send
    --via-relay``, the demo and tests. ``{}`` for a route without auth."""
    auth = route.auth
    if auth is None:
        return {}
    if isinstance(auth, BearerAuth):
        return {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
    if isinstance(auth, BasicAuth):
        pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    if isinstance(auth, GitLabAuth):
        return {GITLAB_HEADER: auth.token.get_secret_value()}
    if isinstance(auth, GitHubAuth):
        digest = _digest(auth.secret.get_secret_value(), body, "sha256")
        return {GITHUB_HEADER: "sha256=" + digest.hex()}
    if isinstance(auth, HmacAuth):
        digest = _digest(auth.secret.get_secret_value(), body, auth.algorithm)
        text = digest.hex() if auth.encoding == "hex" else base64.b64encode(digest).decode()
        return {auth.header: auth.prefix + text}
    headers = {}
    message = body
    if auth.timestamp_header:
        stamp = str(int(time.time() if now is None else now))
        headers[auth.timestamp_header] = stamp
        message = stamp.encode() + b":" + body
    digest = _digest(auth.secret.get_secret_value(), message, "sha256")
    headers[auth.header or GRAFANA_HEADERS[0]] = digest.hex()
    return headers
