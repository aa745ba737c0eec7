"""The sandbox's apps (企业内部应用): their credentials and grants, kept in the sandbox's
database so that a restarted sandbox hands out the same keys, and each app's calls per month
for the monthly quota (§9.3).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..config import AppConfig
from ..store import Store, Table

__all__ = ["AppRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    name TEXT PRIMARY KEY,
    app_key TEXT NOT NULL UNIQUE,
    app_secret TEXT NOT NULL,
    agent_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS app_monthly_calls (
    app_key TEXT NOT NULL,
    month TEXT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (app_key, month)
);
"""


class AppRecords(Table):
    """Apps by name; a key moved to another name replaces the app that had it.

    Lookups by name and key are remembered until the next :meth:`upsert`: every API call
    finds its app by key, every robot message its bot's by name (each a query and a
    validation, several times a message; ``bench/bot.py``). Apps change only through this
    object (config at start, ``Sandbox.add_app``), and ``AppConfig`` is frozen.
    """

    SCHEMA: ClassVar[str] = _SCHEMA

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._found: dict[tuple[str, str], AppConfig | None] = {}
        self._generation = 0  # bumped by upsert: a lookup begun before one is not remembered
        with self._lock:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(apps)")}
            if "grants" not in columns:
                # Stores written before apps had grants: every app keeps every permission.
                self._db.execute("ALTER TABLE apps ADD COLUMN grants TEXT NOT NULL DEFAULT '{}'")

    def has_any(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM apps LIMIT 1").fetchone() is not None

    def upsert(self, app: AppConfig) -> None:
        grants = app.model_dump(
            mode="json", include={"scopes", "visible_depts", "ip_allowlist", "monthly_quota"}
        )
        with self._lock:
            self._found.clear()
            self._generation += 1
            # A key moved to another name replaces the old app of that key.
            self._db.execute(
                "DELETE FROM apps WHERE app_key = ? AND name != ?", (app.app_key, app.name)
            )
            self._db.execute(
                "INSERT INTO apps (name, app_key, app_secret, agent_id, grants) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "app_key = excluded.app_key, app_secret = excluded.app_secret, "
                "agent_id = excluded.agent_id, grants = excluded.grants",
                (app.name, app.app_key, app.app_secret, app.agent_id, json.dumps(grants)),
            )

    def by_key(self, app_key: str) -> AppConfig | None:
        return self._one("app_key", app_key)

    def by_name(self, name: str) -> AppConfig | None:
        return self._one("name", name)

    def _one(self, column: str, value: str) -> AppConfig | None:
        key = (column, value)
        if key in self._found:
            return self._found[key]
        generation = self._generation
        apps = self._apps(f"WHERE {column} = ?", (value,))
        found = apps[0] if apps else None
        with self._lock:
            if generation == self._generation:
                self._found[key] = found
        return found

    def all(self) -> list[AppConfig]:
        return self._apps("ORDER BY name", ())

    def _apps(self, where: str, args: tuple[Any, ...]) -> list[AppConfig]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM apps " + where, args).fetchall()
        return [
            AppConfig.model_validate(
                {
                    "name": row["name"],
                    "app_key": row["app_key"],
                    "app_secret": row["app_secret"],
                    "agent_id": row["agent_id"],
                    **json.loads(row["grants"] or "{}"),
                }
            )
            for row in rows
        ]

    def count_call(self, app_key: str, month: str) -> int:
        """Count one call of ``app_key`` in ``month`` (``"2026-12"``); the count so far."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO app_monthly_calls (app_key, month, calls) VALUES (?, ?, 1) "
                "ON CONFLICT (app_key, month) DO UPDATE SET calls = calls + 1 RETURNING calls",
                (app_key, month),
            ).fetchone()
        return int(row[0])

    def calls(self, app_key: str, month: str) -> int:
        rows = self._rows(
            "SELECT calls FROM app_monthly_calls WHERE app_key = ? AND month = ?",
            (app_key, month),
        )
        return int(rows[0][0]) if rows else 0
