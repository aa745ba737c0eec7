"""The sandbox's apps (企业内部应用) and their credentials, kept in the sandbox's database so
that a restarted sandbox keeps handing out the same keys.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..config import AppConfig
from ..store import Table

__all__ = ["AppRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    name TEXT PRIMARY KEY,
    app_key TEXT NOT NULL UNIQUE,
    app_secret TEXT NOT NULL,
    agent_id INTEGER NOT NULL
);
"""


class AppRecords(Table):
    """Apps by name; a key moved to another name replaces the app that had it."""

    SCHEMA: ClassVar[str] = _SCHEMA

    def has_any(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM apps LIMIT 1").fetchone() is not None

    def upsert(self, app: AppConfig) -> None:
        with self._lock:
            # A key moved to another name replaces the old app of that key.
            self._db.execute(
                "DELETE FROM apps WHERE app_key = ? AND name != ?", (app.app_key, app.name)
            )
            self._db.execute(
                "INSERT INTO apps (name, app_key, app_secret, agent_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET app_key = excluded.app_key, "
                "app_secret = excluded.app_secret, agent_id = excluded.agent_id",
                (app.name, app.app_key, app.app_secret, app.agent_id),
            )

    def by_key(self, app_key: str) -> AppConfig | None:
        apps = self._apps("WHERE app_key = ?", (app_key,))
        return apps[0] if apps else None

    def all(self) -> list[AppConfig]:
        return self._apps("ORDER BY name", ())

    def _apps(self, where: str, args: tuple[Any, ...]) -> list[AppConfig]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM apps " + where, args).fetchall()
        return [
            AppConfig(
                name=row["name"],
                app_key=row["app_key"],
                app_secret=row["app_secret"],
                agent_id=row["agent_id"],
            )
            for row in rows
        ]
