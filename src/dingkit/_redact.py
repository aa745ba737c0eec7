"""Keeping secrets out of logs, errors and CLI output."""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact_url"]

REDACTED = "***"
_SECRET_PARAMS = re.compile(
    r"((?:^|[?&])(?:access_token|sign|appsecret|appSecret|secret|token)=)[^&#]*"
)


def redact_url(url: str) -> str:
    """``url`` with the values of ``access_token``, ``sign`` and other secret params hidden."""
    return _SECRET_PARAMS.sub(rf"\g<1>{REDACTED}", url)
