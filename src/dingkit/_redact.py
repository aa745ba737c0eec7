"""Keeping secrets out of logs, errors and CLI output."""

from __future__ import annotations

import logging
import re

__all__ = ["REDACTED", "redact_http_logs", "redact_url"]

REDACTED = "***"
_SECRET_PARAMS = re.compile(
    r"((?:^|[?&])(?:access_token|sign|appsecret|appSecret|secret|token|session|ticket)=)[^&#]*"
)


def redact_url(url: str) -> str:
    """``url`` with the values of ``access_token``, ``sign`` and other secret params hidden."""
    return _SECRET_PARAMS.sub(rf"\g<1>{REDACTED}", url)


class _RedactURLs(logging.Filter):
    # httpx logs every request at INFO with its full URL, and DingTalk's old API carries the
    # robot token and sign in the query string: hide them in the record's arguments.
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        return True


def _redact_arg(arg: object) -> object:
    if isinstance(arg, int | float) or arg is None:
        return arg  # keeps %d and friends working
    text = str(arg)
    redacted = redact_url(text)
    return arg if redacted == text else redacted


_FILTER = _RedactURLs()


def redact_http_logs() -> None:
    """Hide secret query values in the ``httpx`` logger's records (idempotent)."""
    logging.getLogger("httpx").addFilter(_FILTER)
