"""The secrets scan (issue 10, part 2): every log record the suite's processes emit in this
interpreter, every output pytest captures for a test, the stdout and stderr of every
``dingkit`` command the suite runs (:func:`collect`), and every log a server process writes
under the session's temporary directory (:func:`collect_files`) are searched for credentials
in the clear: a token, secret, aes_key, sign or ticket given as a value, or one of the
literal secrets the suite's own configurations use. tests/conftest.py wires it in; a leak
fails the run and is counted in the report."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

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


#: What the suite's commands and server processes printed: ``(where, text)``.
OUTPUTS: list[tuple[str, str]] = []

#: Files a test's server process writes its output to (stderr redirected, --log-file).
LOG_SUFFIXES = (".log", ".stderr", ".stdout", ".out", ".err")


#: The lines of the sandbox's banner and the demo's exports that give the sandbox's own (fake)
#: robots' and apps' credentials: printing them is what ``dingkit sandbox`` and ``demo`` are for.
_BANNER_CREDENTIALS = re.compile(r"(?m)^(  (webhook|secret|app_secret): |export DINGTALK_).*$")


def _asked_for(args: Sequence[str]) -> bool:
    """Whether the user asked this command to print a credential: ``dingkit token``, a raw
    call of a token endpoint, ``callback keygen``, anything with ``--show-secrets``. Only its
    stdout is exempt."""
    if "--show-secrets" in args or args[:1] == ["token"]:
        return True
    if args[:2] == ["callback", "keygen"]:  # a fresh token and aes_key are all it prints
        return True
    return args[:1] == ["api"] and any("gettoken" in a or "accessToken" in a for a in args)


def collect(args: Sequence[str], stdout: str, stderr: str = "") -> None:
    """Keep what ``dingkit ARGS`` printed for the scan (the label names the command only, in
    plain words: its arguments may hold the very secrets a test hands it). Stderr is never
    exempt."""
    args = list(args)
    label = " ".join(["dingkit", *(a for a in args[:2] if re.fullmatch(r"[a-z][a-z-]*", a))])
    if _asked_for(args):
        stdout = ""
    elif args[:1] in (["sandbox"], ["demo"]):
        stdout = _BANNER_CREDENTIALS.sub("", stdout)
    OUTPUTS.extend(
        (f"{label} {name}", text) for name, text in [("stdout", stdout), ("stderr", stderr)] if text
    )


def collect_files(folder: Path) -> None:
    """Keep every server log under ``folder`` (the session's temporary directory)."""
    for path in sorted(folder.rglob("*")):
        if path.suffix in LOG_SUFFIXES and path.is_file():
            OUTPUTS.append((f"file {path.relative_to(folder)}", path.read_text(errors="replace")))


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
