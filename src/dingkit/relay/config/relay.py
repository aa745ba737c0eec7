"""The whole config (:class:`RelayConfig`): ``[relay]`` settings, ``[owners]``, and the tables."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
)

from ..render import DEFAULT_TIME_ZONE
from .fields import MAX_TABLES, Resolved, StrictModel, TimeZone, UserId
from .robots import RobotConfig
from .routes import RouteConfig
from .silences import SilenceConfig


class RelaySettings(StrictModel):
    """The ``[relay]`` table: defaults for every route."""

    time_zone: TimeZone = DEFAULT_TIME_ZONE
    resolved: Resolved = "update"
    mention_label: str | None = Field(default=None, min_length=1, max_length=128)
    #: Owners the [owners] map leaves out are looked up in the organisation's contacts, with
    #: the app of DINGTALK_APP_KEY / DINGTALK_APP_SECRET (relay/owners.py).
    contacts: StrictBool = False


def _owners(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    owners = {}
    for name, ids in value.items():
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError(f'{str(name)[:40]}: give a userId or a list of them, e.g. ["0123"]')
        owners[name] = ids
    return owners


class RelayConfig(StrictModel):
    """The whole relay config; build it with :func:`load_config` or :func:`parse_config`.

        config = load_config("relay.toml")
        route = config.route("prod", "alertmanager")     # POST /alertmanager/prod
        target = config.robot("oncall").target()         # a RobotTarget to send with
        zone = config.time_zone(route)                   # the route's, else the relay's

    Args:
        relay: the ``[relay]`` defaults.
        owners: ``[owners]``: owner name (a label value) to DingTalk userIds.
        robots: the ``[[robot]]`` tables, in file order (pools list siblings in this order).
        routes: the ``[[route]]`` tables.
        silences: the ``[[silence]]`` tables; the first that holds a notification wins.
    """

    relay: RelaySettings = RelaySettings()
    owners: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=128)], tuple[UserId, ...]],
        BeforeValidator(_owners),
        Field(default_factory=dict, max_length=10_000),
    ]
    robots: tuple[RobotConfig, ...] = Field(alias="robot", min_length=1, max_length=MAX_TABLES)
    # No route is a relay only `dingkit send --via-relay` posts to.
    routes: tuple[RouteConfig, ...] = Field(default=(), alias="route", max_length=MAX_TABLES)
    silences: tuple[SilenceConfig, ...] = Field(default=(), alias="silence", max_length=MAX_TABLES)

    def robot(self, name: str) -> RobotConfig:
        """The robot called ``name``; :class:`KeyError` when there is none."""
        for robot in self.robots:
            if robot.name == name:
                return robot
        raise KeyError(name)

    def route(self, name: str, source: str | None = None) -> RouteConfig | None:
        """The route called ``name`` (of ``source``, when given: ``POST /{source}/{name}``)."""
        for route in self.routes:
            if route.name == name and (source is None or route.source == source):
                return route
        return None

    def time_zone(self, route: RouteConfig | None = None) -> str:
        """The route's time zone, else the relay's."""
        return (route.time_zone if route else None) or self.relay.time_zone

    def resolved(self, route: RouteConfig | None = None) -> Resolved:
        """``update`` or ``repeat`` for ``route``, else the relay's setting."""
        return (route.resolved if route else None) or self.relay.resolved
