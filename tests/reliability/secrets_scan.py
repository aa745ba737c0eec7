"""The secrets scan (issue 10, part 2): every log record the suite's processes emit in this
interpreter and every output pytest captures for a test are searched for credentials in the
clear: a token, secret, aes_key, sign or ticket given as a value, or one of the literal
secrets the suite's own configurations use. tests/conftest.py wires it in; a leak fails the
run and is counted in the report."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: ``name=value`` / ``"name": "value"`` where ``name`` carries a credential and ``value`` is not
#: a redaction, a placeholder or a name.
_PAIR = re.compile(
    r"""(?ix)
    (?<![\w-])(access_token|accessToken|appsecret|app_secret|appSecret|corpsecret|secret|
       aes_key|aesKey|encodingAESKey|sign|ticket|suiteTicket|jsapi_ticket)
    ["']?\s*[=:]\s*["']?
    (?!\*|<|\{|\.\.\.|redacted|none|null|true|false|\$)
    ([A-Za-z0-9+/_-]{12,})
    """
)
#: The suite's own secrets look like these (tests/**: "events-secret-0001", "SEC-test-…").
_LITERAL = re.compile(r"\b[a-z][a-z-]*-secret-\d{4}\b|\bSEC-test-secret-\d{4}\b")


def leaks(texts: Iterable[tuple[str, str]]) -> list[str]:
    """``(where, text)`` pairs in, one line per credential found in the clear out."""
    found = []
    for where, text in texts:
        for match in _PAIR.finditer(text):
            found.append(f"{where}: {match.group(0)[:60]}")
        for match in _LITERAL.finditer(text):
            found.append(f"{where}: {match.group(0)}")
    return found


class Collector(logging.Handler):
    """Keeps every record's text (message and traceback) for the scan."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format is still scanned
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append((f"log {record.name}", text))
