"""Where access tokens are kept between fetches: the token itself (:class:`AccessToken`), the
:class:`TokenStore` protocol the token flow (``_auth.py``) talks to, and the stores that need
nothing but this machine: memory (the default) and a file (the CLI). Redis is
``_redis_store.py``. No store's repr shows a token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = ["REFRESH_MARGIN", "AccessToken", "FileTokenStore", "MemoryTokenStore", "TokenStore"]

#: Refresh this long before expiry, as DingTalk's calling guide suggests (§1.2).
REFRESH_MARGIN = 600.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token and when it expires (seconds since the epoch)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(value='***', expires_at={self.expires_at!r})"

    def fresh(self, now: float, margin: float = REFRESH_MARGIN) -> bool:
        """Good for use now: not within ``margin`` seconds of expiry."""
        return now < self.expires_at - margin

    def to_json(self) -> str:
        return json.dumps({"value": self.value, "expires_at": self.expires_at})

    @classmethod
    def from_json(cls, text: str | bytes) -> AccessToken | None:
        try:
            data = json.loads(text)
            return cls(str(data["value"]), float(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is a missing one: fetch again


class TokenStore(Protocol):
    """Where tokens are kept between fetches, keyed by :func:`token_cache_key`."""

    def load(self, key: str) -> AccessToken | None: ...

    def save(self, key: str, token: AccessToken) -> None: ...

    def discard(self, key: str, value: str) -> None:
        """Forget ``key``'s token if it is still ``value`` (another process may have refreshed)."""
        ...

    def try_lock(self, key: str) -> str | None:
        """Take ``key``'s refresh lock if it is free, without waiting: a receipt for
        :meth:`unlock`, or ``None`` while another process or host holds it (the token flow
        then polls, through its driver, so an event loop is never put to sleep)."""
        ...

    def unlock(self, key: str, receipt: str) -> None:
        """Release the refresh lock taken with ``receipt``, if it is still ours."""
        ...

    @property
    def wait_timeout(self) -> float:
        """Seconds to wait for another refresher's lock before fetching anyway."""
        ...


class MemoryTokenStore:
    """Tokens in this process only (the default)."""

    wait_timeout = 0.0

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    def load(self, key: str) -> AccessToken | None:
        return self._tokens.get(key)

    def save(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def discard(self, key: str, value: str) -> None:
        if (token := self._tokens.get(key)) is not None and token.value == value:
            del self._tokens[key]

    # No lock across processes: the client's own lock covers its threads and tasks.
    def try_lock(self, key: str) -> str | None:
        return "local"

    def unlock(self, key: str, receipt: str) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._tokens)} tokens)"


class FileTokenStore:
    """Tokens in a JSON file (mode 0600), so consecutive CLI commands reuse one token.

    Writes go through a temporary file and a rename, so a reader never sees half a file.
    """

    wait_timeout = 0.0

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def load(self, key: str) -> AccessToken | None:
        entry = self._read().get(key)
        return AccessToken.from_json(json.dumps(entry)) if isinstance(entry, dict) else None

    def save(self, key: str, token: AccessToken) -> None:
        data = self._read()
        data[key] = {"value": token.value, "expires_at": token.expires_at}
        self._write(data)

    def discard(self, key: str, value: str) -> None:
        data = self._read()
        entry = data.get(key)
        if isinstance(entry, dict) and entry.get("value") == value:
            del data[key]
            self._write(data)

    # Unlocked: two CLI commands racing fetch a token each, and the last one written wins.
    def try_lock(self, key: str) -> str | None:
        return "local"

    def unlock(self, key: str, receipt: str) -> None:
        pass

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"
