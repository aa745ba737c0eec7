"""The sandbox's state, independent of any server: the settings, one store with every
concept's tables, the clock, and the run-time state of tokens, limits and pushes.

    sandbox = Sandbox.from_settings(data_dir="./.sandbox")
    sandbox.org.user("manager0001")          # the organisation (contacts)
    sandbox.robot.messages(group="demo")     # what the robots accepted
    app = create_app(sandbox)                # the ASGI app (sandbox.app)

The concepts' rules are functions of this object (``robot.sending.send``,
``contacts.admin.create_department``...); the ASGI app in :mod:`.app` only routes to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from .approval.records import ApprovalRecords
from .bots.records import BotRecords
from .bots.talk import open_bot_groups
from .calendar.records import CalendarRecords
from .callbacks.hub import CallbackHub
from .cards.records import CardRecords
from .config import AppConfig, ErrcodeEra, RobotConfig, SandboxConfig, demo_apps, demo_config
from .contacts.changes import OrgChangeRecords, replay
from .contacts.org import Organization, generate_org
from .notifications.records import NotificationRecords
from .robot.records import RobotRecords
from .robot.rules import RobotJudge
from .store import Store
from .stream.hub import StreamHub
from .tokens.issuer import AppGuard, TokenIssuer
from .tokens.records import AppRecords

__all__ = ["Sandbox"]


class Sandbox:
    """The sandbox's state and rules, independent of any server.

    Args:
        config: groups, robots, apps and settings.
        store: where every concept keeps its tables.
        clock: wall-clock seconds; tests pass a fake to move time (robot rules, token expiry,
            the QPS windows, approval times, pushes).
    """

    def __init__(
        self,
        config: SandboxConfig,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        #: Custom robots (§2): groups, robots, accepted messages, refused requests.
        self.robot = RobotRecords(store)
        self.judge = RobotJudge(clock=clock, limits=config.limits)
        #: Apps (§1, §9.3): credentials, tokens, per-app limits.
        self.apps = AppRecords(store)
        self.tokens = TokenIssuer(clock=clock, ttl=config.token_ttl)
        self.guard = AppGuard(clock=clock, qps=config.qps if config.limits else 0)
        #: Contacts (§5): the changes made to the generated organisation.
        self.org_changes = OrgChangeRecords(store)
        #: Approval instances (§3), calendar events (§4), work notifications (§12).
        self.approvals = ApprovalRecords(store)
        self.calendar = CalendarRecords(store)
        self.notifications = NotificationRecords(store)
        #: App robots (§8.1, §12.3): conversations, what robots sent, session webhooks.
        self.bots = BotRecords(store)
        #: Interactive cards delivered into those conversations, by app and outTrackId.
        self.cards = CardRecords(store)
        for group in config.all_groups():
            self.robot.upsert_group(group)
        for robot in config.robots:
            self.robot.upsert_robot(robot)
            if robot.faults:
                self.judge.faults.set(robot.name, robot.faults, seed=config.seed)
        for app in config.apps:
            self.apps.upsert(app)
        #: Stream mode (§8.2): tickets, connections, CALLBACK and EVENT frames; in memory.
        self.stream = StreamHub(config=config, clock=clock)
        #: Event subscriptions and pushes (§7; over Stream for apps whose events go there);
        #: servers start its worker, tests call ``callbacks.deliver_due()``.
        self.callbacks = CallbackHub(config=config, store=store, clock=clock, stream=self.stream)
        #: The groups app robots sit in, as conversations people write in.
        open_bot_groups(self)

    @cached_property
    def org(self) -> Organization:
        """The organisation, generated on first use from the seed, with the stored changes
        (people and departments added, changed or removed) replayed over it."""
        generated = generate_org(
            seed=self.config.seed,
            size=self.config.org_size,
            depth=self.config.org_depth,
            corp_id=self.config.corp_id,
        )
        return replay(generated, self.org_changes.all())

    def change_org(self, kind: str, data: dict[str, Any]) -> Organization:
        """Store a checked change (:mod:`.contacts.changes`) and rebuild the organisation: a
        new object, so caches keyed by the organisation (calendar people) start afresh."""
        self.org_changes.add(kind, data, self.now_ms())
        self.__dict__.pop("org", None)
        return self.org

    def now_ms(self) -> int:
        """The sandbox clock in epoch milliseconds."""
        return int(self.clock() * 1000)

    @classmethod
    def from_settings(
        cls,
        *,
        config: SandboxConfig | None = None,
        data_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        errcodes: ErrcodeEra | None = None,
        limits: bool | None = None,
        org_size: int | None = None,
        org_depth: int | None = None,
        seed: int | None = None,
    ) -> Sandbox:
        """Open (or create) the store under ``data_dir`` (in memory when ``None``).

        Without a config, the robots already in the store are kept, so a restarted demo keeps
        its webhook URLs; an empty store gets the demo group and robots. Likewise, without
        ``[[app]]`` tables the stored apps are kept, and an empty store gets the demo apps.
        ``errcodes``, ``limits``, ``org_size``, ``org_depth`` and ``seed``, when given, override
        the config's (command-line flags).
        """
        store = Store(Path(data_dir) / "sandbox.sqlite3" if data_dir else ":memory:")
        if config is None:
            config = SandboxConfig() if RobotRecords(store).has_robots() else demo_config()
        overrides: dict[str, object] = {}
        if not config.apps and not AppRecords(store).has_any():
            overrides["apps"] = demo_apps()
        if errcodes is not None:
            overrides["errcodes"] = errcodes
        if limits is not None:
            overrides["limits"] = limits
        if org_size is not None:
            overrides["org_size"] = org_size
        if org_depth is not None:
            overrides["org_depth"] = org_depth
        if seed is not None:
            overrides["seed"] = seed
        return cls(config.model_copy(update=overrides), store, clock=clock)

    def close(self) -> None:
        self.store.close()

    def add_robot(self, robot: RobotConfig) -> None:
        self.robot.upsert_robot(robot)

    def add_app(self, app: AppConfig) -> AppConfig:
        """Add (or replace, by name) an app; a test's one line for a failure mode::

        sandbox.add_app(AppConfig(name="t", app_key="throttled-t", app_secret="s"))
        """
        self.apps.upsert(app)
        return app
