"""Custom-robot request signing ("加签"), §2.4 of the protocol reference. No I/O.

The client and the sandbox both use this module: the client to sign, the sandbox to verify, so
the two can never disagree about the rule.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "SIGN_TOLERANCE_MS",
    "SignatureCheck",
    "generate_signature",
    "signature_params",
    "verify_signature",
]

#: DingTalk refuses a timestamp more than one hour away from its own clock.
SIGN_TOLERANCE_MS = 60 * 60 * 1000

Clock = Callable[[], float]


def generate_signature(secret: str, timestamp_ms: int | str) -> str:
    """``base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))``, *not* URL-encoded.

    URL-encoding is left to the HTTP library so that it happens exactly once: an encoded
    sign that is encoded again is the classic "sign not match".
    """
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_params(secret: str, *, clock: Clock = time.time) -> dict[str, str]:
    """The ``timestamp`` and ``sign`` query parameters for one request, freshly timed."""
    timestamp_ms = int(clock() * 1000)
    return {"timestamp": str(timestamp_ms), "sign": generate_signature(secret, timestamp_ms)}


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome of :func:`verify_signature`: ``ok``, or the reason it failed."""

    ok: bool
    reason: str | None = None  # "missing", "timestamp" or "signature"


def verify_signature(
    secret: str,
    timestamp: str | None,
    sign: str | None,
    *,
    now_ms: int,
    tolerance_ms: int = SIGN_TOLERANCE_MS,
) -> SignatureCheck:
    """Check a robot request's ``timestamp``/``sign`` query values, already URL-decoded once."""
    if not timestamp or not sign:
        return SignatureCheck(False, "missing")
    # ASCII digits only, and a sane length: str.isdigit() takes "²" and "١", which int()
    # refuses or reads as a number no client would send.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return SignatureCheck(False, "timestamp")
    if abs(now_ms - int(timestamp)) > tolerance_ms:
        return SignatureCheck(False, "timestamp")
    expected = generate_signature(secret, timestamp)
    if not hmac.compare_digest(expected.encode(), sign.encode()):
        return SignatureCheck(False, "signature")
    return SignatureCheck(True)
