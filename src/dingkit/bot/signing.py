"""The HTTP-mode request signature: the ``timestamp`` and ``sign`` headers (§8.1). No I/O.

DingTalk signs each push with ``base64(HMAC-SHA256(appSecret, timestamp + "\\n" + appSecret))``,
the custom robot's construction (§2.4) keyed with the app's Client Secret and sent in a header,
so not URL-encoded; :func:`dingkit.robot.signing.generate_signature` is that construction and
is used here as is. The sign does not cover the body, and a timestamp more than an hour from
the receiver's clock is refused.

    check = verify(request.headers.get("timestamp"), request.headers.get("sign"), app_secret,
                   now_ms=int(time.time() * 1000))
    if not check:
        return Response(status_code=403)   # check.reason says why; never echo the secret
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Literal

from ..robot.signing import SIGN_TOLERANCE_MS, generate_signature

__all__ = ["SIGN_TOLERANCE_MS", "HeaderSignatureCheck", "sign", "verify"]

Reason = Literal["missing_timestamp", "bad_timestamp", "stale", "missing_sign", "mismatch"]
# ASCII digits only: str.isdigit() also accepts "²" and "١", which int() then refuses or reads.
_MS = re.compile(r"[0-9]{1,16}")


@dataclass(frozen=True, slots=True)
class HeaderSignatureCheck:
    """The outcome of :func:`verify`; true when the request is DingTalk's.

    ``reason`` is ``None`` when it passed, else one of ``missing_timestamp``,
    ``bad_timestamp`` (not a number of milliseconds), ``stale`` (more than
    :data:`SIGN_TOLERANCE_MS` from now, either way), ``missing_sign``, ``mismatch``.
    """

    ok: bool
    reason: Reason | None = None
    detail: str = ""

    def __bool__(self) -> bool:
        return self.ok


def sign(timestamp_ms: int | str, app_secret: str) -> str:
    """The ``sign`` header DingTalk sends with ``timestamp_ms``: base64, not URL-encoded."""
    return generate_signature(app_secret, timestamp_ms)


def verify(
    timestamp: str | int | None,
    sign: str | None,
    app_secret: str,
    *,
    now_ms: int,
    tolerance_ms: int = SIGN_TOLERANCE_MS,
) -> HeaderSignatureCheck:
    """Check a push's ``timestamp`` and ``sign`` headers against the app secret at ``now_ms``.

    Both checks must pass (§8.1); the signatures are compared in constant time.
    """
    if timestamp is None or timestamp == "":
        return HeaderSignatureCheck(False, "missing_timestamp", "no timestamp header")
    text = str(timestamp).strip()
    if isinstance(timestamp, bool) or not _MS.fullmatch(text):
        return HeaderSignatureCheck(
            False, "bad_timestamp", f"timestamp {text[:32]!r} is not epoch milliseconds"
        )
    skew = now_ms - int(text)
    if abs(skew) > tolerance_ms:
        side = "old" if skew > 0 else "in the future"
        return HeaderSignatureCheck(
            False, "stale", f"timestamp is {abs(skew) // 1000} s {side}; allowed: an hour"
        )
    if not sign:
        return HeaderSignatureCheck(False, "missing_sign", "no sign header")
    expected = generate_signature(app_secret, text).encode()
    if not hmac.compare_digest(expected, sign.strip().encode("utf-8", "replace")):
        return HeaderSignatureCheck(False, "mismatch", "sign does not match the app secret")
    return HeaderSignatureCheck(True)
