"""Reading a parsed JSON body strictly, with errors that name the field. No I/O.

Every source reads through :class:`Fields`, so a missing or mistyped field becomes a
:class:`~dingkit.relay.errors.SourceError` such as ``alerts[2].labels.severity: expected a
string, got a list`` and never a ``KeyError`` or ``TypeError``. Unknown fields are ignored:
senders add fields over the years (SOURCES.md: the Jenkins plugin sends more than its doc).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..errors import SourceError

__all__ = [
    "Fields",
    "delivery_key",
    "digest",
    "header",
    "lower_headers",
    "parse_time",
    "require_object",
]

_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def require_object(body: Any, source: str) -> Fields:
    """The body as :class:`Fields`, or a ``SourceError`` when it is not a JSON object."""
    if not isinstance(body, Mapping):
        raise SourceError(
            f"a {source} webhook body must be a JSON object, got {_kind(body)}", field="body"
        )
    return Fields(body, "")


class Fields:
    """A JSON object and its path in the body, read with checked getters.

    ``required=False`` getters return a default when the field is missing or null, and still
    raise when it is present with the wrong type: a sender that sends a number where a
    string belongs is not one the relay understands.
    """

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool, expected: str) -> Any:
        value = self.data.get(key)
        if value is None and required:
            state = "is null" if key in self.data else "is missing"
            raise SourceError(
                f"{self.where(key)} {state}: expected {expected}", field=self.where(key)
            )
        return value

    def _wrong(self, key: str, expected: str, value: Any) -> SourceError:
        return SourceError(
            f"{self.where(key)}: expected {expected}, got {_kind(value)}", field=self.where(key)
        )

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def string(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self._get(key, required, "a string")
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def text(self, key: str, default: str = "") -> str:
        """An optional string that some senders send as a number (ids, build numbers)."""
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self._wrong(key, "a string or an integer", value)

    def integer(self, key: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(key, required, "an integer")
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer", value)
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(key, "a number", value)
        try:
            number = float(value)  # an integer of 400 digits does not fit
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise SourceError(f"{self.where(key)}: expected a finite number", field=self.where(key))
        return number

    def boolean(self, key: str, *, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false", value)
        return value

    def obj(self, key: str) -> Fields:
        value = self._get(key, True, "an object")
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object", value)
        return Fields(value, self.where(key))

    def opt_obj(self, key: str) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object", value)
        return Fields(value, self.where(key))

    def objects(self, key: str, *, required: bool = True) -> list[Fields]:
        """A list of objects; each keeps its index in the path (``alerts[3]``)."""
        value = self._get(key, required, "a list of objects")
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "a list of objects", value)
        items = []
        for index, item in enumerate(value):
            where = f"{self.where(key)}[{index}]"
            if not isinstance(item, Mapping):
                raise SourceError(f"{where}: expected an object, got {_kind(item)}", field=where)
            items.append(Fields(item, where))
        return items

    def strings(self, key: str) -> dict[str, str]:
        """An optional object whose values are all strings (Prometheus labels, annotations)."""
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._wrong(key, "an object of strings", value)
        for name, item in value.items():
            if not isinstance(item, str):
                where = f"{self.where(key)}.{name}"
                raise SourceError(f"{where}: expected a string, got {_kind(item)}", field=where)
        return dict(value)

    def time(self, key: str) -> datetime | None:
        """An optional timestamp string (RFC 3339, or GitLab's ``2016-08-12 15:23:28 UTC``)."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "a timestamp string", value)
        return parse_time(value, self.where(key))


# Go's zero time.Time, which Alertmanager sends as the endsAt of a firing alert (fixtures:
# alertmanager/single-firing.json "0001-01-01T00:00:00Z").
_ZERO_YEAR = 1
_GITLAB_TIME = re.compile(
    r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?) ?(UTC|Z|[+-]\d\d:?\d\d)?"
)


def parse_time(value: str, where: str) -> datetime | None:
    """An aware datetime (UTC when the sender gives no offset), or None for Go's zero time.

    Accepts RFC 3339 with up to nanoseconds (Go senders), and GitLab's ``2016-08-12
    15:23:28 UTC`` / ``2021-04-28 21:50:00 +0200`` [I: gitlab/pipeline-hook-success.json,
    gitlab/deployment-hook-success.json].
    """
    match = _GITLAB_TIME.fullmatch(value.strip())
    if match is None:
        raise SourceError(f"{where}: expected a timestamp, got {value[:40]!r}", field=where)
    date, clock, offset = match.groups()
    if "." in clock:
        whole, fraction = clock.split(".")
        clock = f"{whole}.{fraction[:6].ljust(6, '0')}"  # Python keeps microseconds
    try:
        parsed = datetime.fromisoformat(f"{date}T{clock}")
        tz = _offset(offset)
    except ValueError:
        raise SourceError(f"{where}: {value[:40]!r} is not a valid time", field=where) from None
    if parsed.year == _ZERO_YEAR:
        return None
    return parsed.replace(tzinfo=tz)


def _offset(text: str | None) -> timezone:
    if text is None or text in ("UTC", "Z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased (HTTP names are case-insensitive); non-strings dropped."""
    return {str(name).lower(): value for name, value in headers.items() if isinstance(value, str)}


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, stripped, or ``""``."""
    return headers.get(name.lower(), "").strip()


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts, for dedup keys and derived fingerprints."""
    encoded = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()[:32]


_MAX_KEY = 128


def delivery_key(source: str, value: str) -> str | None:
    """``github:<delivery id>``; a value too long or not plain ASCII is hashed, so a key
    stays short and printable whatever a sender puts in its header. None when empty."""
    if not value:
        return None
    if len(value) > _MAX_KEY or not (value.isascii() and value.isprintable()):
        value = f"sha256-{digest(value)}"
    return f"{source}:{value}"
